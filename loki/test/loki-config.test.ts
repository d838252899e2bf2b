// loki/loki.yaml: the settings without which retention never deletes (logs kept forever), per-stream
// retention as definitions/logs.ts promises it, and the ruler wired to its rule files, to
// Alertmanager and to Prometheus. No Loki binary runs here: these are the checks that stand in for it.
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, test } from "node:test";
import YAML from "yaml";
import { logStreams, logs, type LogStream } from "../../definitions/logs.ts";
import { loadAlloy } from "../../alloy/test/alloy-config.ts";
import { loadPromtail } from "../../promtail/test/promtail-config.ts";
import { generatedDir, lokiRulePath, lokiRuleGroups, lokiTenant, outputs } from "../rules/src/index.ts";
import { composeService, loadCompose, mountsOf } from "./compose.ts";
import { attachedLabels, parseLogQL, selectorProblems } from "./logql.ts";

const root = new URL("../..", import.meta.url).pathname;
type Obj = Record<string, unknown>;
const config = YAML.parse(readFileSync(`${root}loki/loki.yaml`, "utf8")) as Obj;
const get = (path: string): unknown =>
  path.split(".").reduce<unknown>((o, k) => (o && typeof o === "object" ? (o as Obj)[k] : undefined), config);

/** Loki durations as hours (the config uses h only: retention must be whole days). */
function hours(v: unknown, what: string): number {
  const m = typeof v === "string" ? /^(\d+)h$/.exec(v) : null;
  assert.ok(m, `${what} must be a duration in hours, found ${JSON.stringify(v)}`);
  return Number(m[1]);
}

describe("loki.yaml: retention actually deletes", () => {
  test("the compactor applies retention, with its delete-request store and working directory", () => {
    assert.equal(
      get("compactor.retention_enabled"),
      true,
      "without retention_enabled the compactor only compacts",
    );
    // Loki refuses to start with retention on and no delete_request_store; it must be the chunks' store.
    const store = get("compactor.delete_request_store");
    assert.equal(typeof store, "string");
    const periods = get("schema_config.configs") as Obj[];
    assert.equal(store, periods.at(-1)!.object_store);
    const dir = get("compactor.working_directory");
    assert.equal(typeof dir, "string");
    // Marker files of chunks pending deletion must survive a restart: under the volume at /loki.
    assert.ok(
      (dir as string).startsWith(`${get("common.path_prefix") as string}/`),
      `${String(dir)} is not under /loki`,
    );
    assert.ok(hours(get("compactor.retention_delete_delay"), "retention_delete_delay") >= 1);
  });

  test("schema v13 on tsdb with a 24h index period (retention works per daily table only)", () => {
    const periods = get("schema_config.configs") as Obj[];
    assert.ok(periods.length >= 1);
    const current = periods.at(-1)!;
    assert.equal(current.schema, "v13");
    assert.equal(current.store, "tsdb");
    assert.equal(current.object_store, "filesystem");
    assert.equal((current.index as Obj).period, "24h");
  });

  test("a global retention period of at least 24h covers every stream no selector matches", () => {
    assert.ok(hours(get("limits_config.retention_period"), "retention_period") >= 24);
  });

  test("each application stream has the retention definitions/logs.ts gives it", () => {
    const rules = get("limits_config.retention_stream") as {
      selector: string;
      priority: number;
      period: string;
    }[];
    const byStream = new Map<string, number>();
    for (const r of rules) {
      const parsed = parseLogQL(r.selector);
      assert.equal(parsed.selectors.length, 1);
      const matchers = parsed.selectors[0]!;
      // Selectors are label matchers only; Loki rejects anything else here.
      assert.equal(r.selector.trim(), r.selector.trim().replace(/\}.*$/, "}"));
      const stream = matchers.find((m) => m.name === "stream" && m.op === "=");
      const job = matchers.find((m) => m.name === "job" && m.op === "=");
      assert.ok(
        stream && job?.value === logs.appJob,
        `${r.selector}: expected job="${logs.appJob}", stream="..."`,
      );
      assert.ok(!byStream.has(stream.value), `two retention rules for stream ${stream.value}`);
      byStream.set(stream.value, hours(r.period, r.selector));
      assert.ok(Number.isInteger(r.priority) && r.priority > 0);
    }
    assert.deepEqual(
      Object.fromEntries([...byStream].sort()),
      Object.fromEntries(
        (Object.keys(logStreams) as LogStream[]).sort().map((s) => [s, logStreams[s].retentionDays * 24]),
      ),
    );
  });

  test("if selectors ever overlapped, the longer retention would win", () => {
    const rules = get("limits_config.retention_stream") as { priority: number; period: string }[];
    const sorted = [...rules].sort((a, b) => hours(a.period, "") - hours(b.period, ""));
    for (let i = 1; i < sorted.length; i++) assert.ok(sorted[i]!.priority >= sorted[i - 1]!.priority);
  });

  test("retention selectors select on labels both agents attach, with values they give", () => {
    for (const [agent, model] of [
      ["promtail", loadPromtail()],
      ["alloy", loadAlloy()],
    ] as const) {
      const labels = attachedLabels(model);
      for (const r of get("limits_config.retention_stream") as { selector: string }[])
        assert.deepEqual(selectorProblems(parseLogQL(r.selector), labels), [], `${agent}: ${r.selector}`);
    }
  });

  test("everything Loki writes lives under /loki (the named volume)", () => {
    for (const p of [
      "common.path_prefix",
      "common.storage.filesystem.chunks_directory",
      "storage_config.tsdb_shipper.active_index_directory",
      "storage_config.tsdb_shipper.cache_location",
      "compactor.working_directory",
      "ruler.rule_path",
      "ruler.wal.dir",
    ]) {
      const v = get(p);
      assert.equal(typeof v, "string", `${p} is not set`);
      assert.ok(v === "/loki" || (v as string).startsWith("/loki/"), `${p}=${String(v)} is not under /loki`);
    }
  });

  test("a query may run its whole query_timeout: the HTTP write timeout is longer", () => {
    const seconds = (v: unknown) => {
      const m = typeof v === "string" ? /^(\d+)(s|m)$/.exec(v) : null;
      assert.ok(m, `expected a duration in s or m, found ${JSON.stringify(v)}`);
      return Number(m[1]) * (m[2] === "m" ? 60 : 1);
    };
    assert.ok(seconds(get("server.http_server_write_timeout")) > seconds(get("limits_config.query_timeout")));
  });

  test("query parallelism is set by the setting Loki reads for the schema in use", () => {
    // With every period on the TSDB store, Loki takes tsdb_max_query_parallelism and ignores
    // max_query_parallelism (which applies to the older index stores).
    const stores = (get("schema_config.configs") as { store: string }[]).map((c) => c.store);
    assert.ok(stores.length > 0);
    assert.ok(
      stores.every((s) => s === "tsdb"),
      `stores: ${stores.join(", ")}`,
    );
    assert.equal(typeof get("limits_config.tsdb_max_query_parallelism"), "number");
    assert.equal(get("limits_config.max_query_parallelism"), undefined, "ignored with a TSDB-only schema");
  });

  test("the agents' lines are never refused for size: Loki truncates long lines instead", () => {
    assert.equal(get("limits_config.max_line_size_truncate"), true);
    assert.deepEqual(get("limits_config.discover_service_name"), [], "Loki would add a service_name label");
  });
});

describe("loki.yaml: the ruler", () => {
  test("reads local rule files laid out as <directory>/<tenant>/, the layout the generator writes", () => {
    assert.equal(get("auth_enabled"), false);
    assert.equal(lokiTenant, "fake", "with auth disabled Loki's only tenant is fake");
    assert.equal(get("ruler.storage.type"), "local");
    const dir = get("ruler.storage.local.directory");
    assert.equal(dir, "/etc/loki/rules");
    assert.equal(get("common.storage.filesystem.rules_directory"), dir);
    const paths = Object.keys(outputs()).filter((p) => p.startsWith("loki/rules/generated/fake/"));
    assert.deepEqual(paths.sort(), lokiRuleGroups.map((g) => lokiRulePath(g.name)).sort());
    for (const p of paths) assert.match(p, /^loki\/rules\/generated\/fake\/[a-z0-9-]+\.yaml$/);
  });

  test("the mounted rule directory holds nothing but the tenant's LogQL rule files", () => {
    // Loki reads every subdirectory as a tenant: a Prometheus rule file in there would be parsed as LogQL.
    const dir = join(root, generatedDir);
    // Walked by hand: Dirent.parentPath only exists from Node 20.12.
    const walk = (d: string): string[] =>
      readdirSync(d, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? walk(join(d, e.name)) : [relative(root, join(d, e.name))],
      );
    const found = walk(dir).sort();
    assert.deepEqual(found, lokiRuleGroups.map((g) => lokiRulePath(g.name)).sort());
  });

  test("sends alerts to the compose Alertmanager through the v2 API, with the rules API on", () => {
    assert.equal(get("ruler.alertmanager_url"), "http://alertmanager:9093");
    assert.equal(get("ruler.enable_alertmanager_v2"), true);
    assert.equal(get("ruler.enable_api"), true);
  });

  test("writes recording rules to Prometheus' remote-write receiver", () => {
    assert.equal(get("ruler.remote_write.enabled"), true);
    const clients = get("ruler.remote_write.clients") as Record<string, { url: string }>;
    assert.deepEqual(
      Object.values(clients).map((c) => c.url),
      ["http://prometheus:9090/api/v1/write"],
    );
    assert.ok(
      lokiRuleGroups.some((g) => g.rules.some((r) => "record" in r)),
      "remote write is on, so there are recording rules",
    );
  });
});

describe("compose.yaml runs Loki with this config", () => {
  const compose = loadCompose();
  test("loki mounts loki.yaml, the generated rules at /etc/loki/rules and a named volume at /loki", () => {
    const loki = composeService(compose, "loki");
    const mounts = mountsOf(compose, loki);
    assert.ok(
      mounts.some((m) => m.target === "/loki" && m.type === "volume"),
      "loki needs a named volume at /loki (chunks, index, compactor markers, ruler WAL)",
    );
    assert.ok(
      mounts.some(
        (m) =>
          m.target === "/etc/loki/rules" &&
          m.type === "bind" &&
          /loki\/rules\/generated\/?$/.test(m.source ?? ""),
      ),
      "loki needs ./loki/rules/generated mounted at /etc/loki/rules",
    );
    assert.ok(
      mounts.some((m) => m.type === "bind" && /loki\/loki\.yaml$/.test(m.source ?? "")),
      "loki.yaml is not mounted",
    );
  });

  test("prometheus accepts the ruler's remote write", () => {
    const prom = composeService(compose, "prometheus");
    const command = JSON.stringify(prom.command ?? "");
    assert.match(
      command,
      /--web\.enable-remote-write-receiver/,
      "prometheus needs --web.enable-remote-write-receiver",
    );
  });
});
