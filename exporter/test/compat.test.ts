// The community dashboards work against this exporter (issue 14): every metric name they query has a
// verdict (definitions/compat.ts); every name marked as published is in a real scrape, with real
// PostgreSQL and Redis; and the sampled panels' queries, their template variables filled as Grafana
// fills them, return data from a real Prometheus scraping the exporter.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { compatDashboards, type CompatDashboard } from "../../definitions/generated/compat-dashboards.ts";
import {
  compatList,
  notApplicable,
  publishedWhen,
  verdict,
  type Condition,
} from "../../definitions/compat.ts";
import { catalogue } from "../../definitions/metrics/catalogue.ts";
import { family, sample } from "../../test/support/exposition.ts";
import {
  requireBinaries,
  startPostgres,
  startPrometheus,
  startRedis,
  tempDir,
  waitFor,
  type HttpServer,
  type PostgresServer,
  type RedisServer,
} from "../../test/support/servers.ts";
import {
  parseDiskstats,
  parseNetstat,
  parseSockstat,
  parseSoftnet,
  parseUdpQueues,
} from "../src/collectors/host-compat.ts";
import { normaliseSetting } from "../src/collectors/postgres-compat.ts";
import { databaseCount, parseCommandstats, parseInfo, redisCollector } from "../src/collectors/redis.ts";
import { deviceErrorLabel } from "../src/collectors/host.ts";
import { captureLog, collectOnce, startApp, type App } from "./collector-support.ts";
import { scansDdl } from "../../definitions/scans-ddl.ts";

describe("the list of dashboard metric names", () => {
  test("records each dashboard's source repository, path and commit, its names and sampled panels", () => {
    assert.ok(compatDashboards.length >= 4);
    for (const d of compatDashboards) {
      assert.match(d.repo, /^[\w.-]+\/[\w.-]+$/, d.id);
      assert.match(d.path, /\.json$/, d.id);
      assert.match(d.commit, /^[0-9a-f]{40}$/, d.id);
      assert.ok(d.metrics.length >= 10, `${d.id}: only ${d.metrics.length} names`);
      assert.ok(d.samples.length >= 3, `${d.id}: only ${d.samples.length} sampled panels`);
      for (const s of d.samples) assert.ok(s.exprs.length > 0, `${d.id} / ${s.title}: no query`);
    }
    // The Go exporters' headline names are there: the extraction read the queries, not a sample of them.
    const all = new Set(compatDashboards.flatMap((d) => d.metrics));
    for (const n of [
      "node_disk_read_bytes_total",
      "pg_stat_bgwriter_buffers_alloc_total",
      "redis_net_input_bytes_total",
    ])
      assert.ok(all.has(n), n);
  });

  test("every name has a verdict: published, or does not apply here with a reason", () => {
    const rows = compatList();
    assert.equal(rows.length, new Set(compatDashboards.flatMap((d) => d.metrics)).size);
    for (const r of rows)
      if (r.verdict.status === "not-applicable")
        assert.ok(r.verdict.reason.length > 40, `${r.name}: a reason`);
    // A name with no verdict fails, so a new dashboard name needs a decision.
    assert.throws(() => verdict("node_no_such_metric"), /no verdict/);
  });

  test("no verdict is left over for a name no dashboard queries, and conditions are on published names", () => {
    const all = new Set(compatDashboards.flatMap((d) => d.metrics));
    assert.deepEqual(
      Object.keys(notApplicable).filter((n) => !all.has(n)),
      [],
    );
    for (const n of Object.keys(publishedWhen))
      assert.ok(
        catalogue.some((m) => m.name === n && m.source === "exporter"),
        `${n}: a condition on an unpublished name`,
      );
  });

  test("query_result() variables: Grafana's series text, its regex's first group, duplicates once, misses dropped", () => {
    const text = queryResultText({
      metric: { __name__: "pg_up", instance: "db:9187", job: "pg", release: "r1" },
      value: [1700000000.5, "1"],
    });
    assert.equal(text, 'pg_up{instance="db:9187",job="pg",release="r1"} 1 1700000000500');
    const other = 'pg_up{instance="db2:9187",job="pg"} 0 1700000000500';
    assert.deepEqual(applyRegex([text, other, text], '/.*instance="([^"]+).*/'), ["db:9187", "db2:9187"]);
    // 9628's release variable on an exporter without the Helm chart's labels: no option, so "".
    assert.deepEqual(applyRegex([other], '/.*release="([^"]+)/'), []);
    assert.deepEqual(applyRegex(["a", "b"], undefined), ["a", "b"]);
    assert.throws(() => applyRegex(["a"], "instance"), /regex the test cannot read/);
  });

  test("every sampled panel queries only published names", () => {
    const bad: string[] = [];
    for (const d of compatDashboards)
      for (const s of d.samples)
        for (const e of s.exprs)
          for (const n of d.metrics.filter((m) => new RegExp(`\\b${m}\\b`).test(e)))
            if (verdict(n).status !== "published") bad.push(`${d.id} / ${s.title}: ${n}`);
    assert.deepEqual(bad, []);
  });
});

describe("reading the sources as the Go exporters do, from untidy input", () => {
  test("diskstats: partitions, loop and RAM devices left out; sectors and milliseconds in base units; old kernels' 14 columns", () => {
    const rows = parseDiskstats(
      [
        " 254       0 vda 65365 9670 3086682 25777 29211 218163 12295832 82310 0 15524 109687 8059 83 505656 1538 1144 61",
        " 254       1 vda1 10 0 80 1 0 0 0 0 0 1 1 0 0 0 0 0 0",
        "   7       0 loop0 1 0 2 0 0 0 0 0 0 0 0 0 0 0 0 0 0",
        " 253       0 zram0 1 0 2 0 0 0 0 0 0 0 0",
        " 259       0 nvme0n1 5 0 8 2 0 0 0 0 0 3 3",
        " 259       1 nvme0n1p1 5 0 8 2 0 0 0 0 0 3 3",
        "   8      16 sdb 1 2 3 4 5 6 7 8 9 10 11",
        "",
      ].join("\n"),
    );
    assert.deepEqual(
      rows.map((r) => r.device),
      ["vda", "nvme0n1", "sdb"],
    );
    const vda = rows[0]!.values;
    assert.equal(vda.length, 17);
    assert.equal(vda[2], 3086682 * 512, "read_bytes_total from sectors");
    assert.equal(vda[3], 25.777, "read_time_seconds_total from ms");
    assert.equal(vda[8], 0, "io_now as it is");
    assert.equal(vda[13], 505656, "discarded_sectors_total stays in sectors, as upstream");
    assert.equal(rows[2]!.values.length, 11, "a kernel without discard and flush columns: those left out");
  });

  test("netstat and snmp: header and value lines paired by protocol, a torn pair skipped", () => {
    const m = parseNetstat(
      [
        "Tcp: RtoAlgorithm MaxConn ActiveOpens CurrEstab",
        "Tcp: 1 -1 42 7",
        "Udp: InDatagrams NoPorts",
        "IpExt: InOctets OutOctets",
        "IpExt: 123456789012 98765",
        "",
      ].join("\n"),
    );
    assert.equal(m.get("Tcp_MaxConn"), -1);
    assert.equal(m.get("Tcp_CurrEstab"), 7);
    assert.equal(m.get("Udp_InDatagrams"), undefined);
    assert.equal(m.get("IpExt_InOctets"), 123456789012, "the pair after a torn one still lines up");
  });

  test("sockstat: mem in pages, mem_bytes by the page size; softnet in hexadecimal, with or without its cpu column", () => {
    const s = parseSockstat(
      "sockets: used 32\nTCP: inuse 1 orphan 0 tw 5 alloc 1 mem 71\nFRAG: inuse 0 memory 0\n",
      65536,
    );
    assert.equal(s.get("sockets_used"), 32);
    assert.equal(s.get("TCP_mem"), 71);
    assert.equal(s.get("TCP_mem_bytes"), 71 * 65536);
    assert.equal(s.get("FRAG_memory"), 0);
    const withCpu = parseSoftnet(
      "0000031a 00000001 00000002 00000000 00000000 00000000 00000000 00000000 00000000 0000000a 0000000b 00000000 00000003\n",
    );
    assert.deepEqual(withCpu, [{ cpu: "3", values: [0x31a, 1, 2, 10, 11] }]);
    const old = parseSoftnet(
      "00000010 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000\n00000020 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000\n",
    );
    assert.deepEqual(
      old.map((r) => [r.cpu, r.values[0]]),
      [
        ["0", 16],
        ["1", 32],
      ],
    );
    assert.deepEqual(
      parseUdpQueues(
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   1: 00000000:0044 00000000:0000 07 00000010:00000200 00:00000000 00000000     0        0 1 2\n   2: 00000000:0045 00000000:0000 07 00000001:00000000 00:00000000 00000000     0        0 1 2\n",
      ),
      { tx: 0x11, rx: 0x200 },
    );
  });

  test("pg_settings: postgres_exporter's unit conversions; -1 kept; an unknown unit is an error naming it", () => {
    const row = (setting: string, unit: string, vartype = "integer") => ({
      name: "x",
      setting,
      unit,
      vartype,
    });
    assert.deepEqual(normaliseSetting(row("4096", "8kB")), { unit: "bytes", value: 4096 * 8192 });
    assert.deepEqual(normaliseSetting(row("64", "MB")), { unit: "bytes", value: 64 * 2 ** 20 });
    assert.deepEqual(normaliseSetting(row("300", "s")), { unit: "seconds", value: 300 });
    assert.deepEqual(normaliseSetting(row("1500", "ms")), { unit: "seconds", value: 1.5 });
    assert.deepEqual(normaliseSetting(row("-1", "kB")), { unit: "bytes", value: -1 });
    assert.deepEqual(normaliseSetting(row("on", "", "bool")), { unit: "", value: 1 });
    assert.deepEqual(normaliseSetting(row("4", "", "real")), { unit: "", value: 4 });
    assert.equal(normaliseSetting(row("replica", "", "enum")), undefined);
    assert.throws(() => normaliseSetting(row("1", "parsecs")), /unknown unit "parsecs" of x/);
  });

  test("device_error: Go's errno text, or node_exporter's mountpoint timeout", () => {
    const err = (message: string, code?: string) => Object.assign(new Error(message), code ? { code } : {});
    assert.equal(
      deviceErrorLabel(err("EACCES: permission denied, statfs '/mnt/x'", "EACCES")),
      "permission denied",
    );
    assert.equal(
      deviceErrorLabel(err("ENOENT: no such file or directory, statfs '/gone'", "ENOENT")),
      "no such file or directory",
    );
    assert.equal(
      deviceErrorLabel(err("statfs timed out after 1000 ms", "ESTATFSTIMEOUT")),
      "mountpoint timeout",
    );
    assert.equal(deviceErrorLabel(err("something else")), "something else");
  });

  test("redis_db_keys lists CONFIG GET databases' count, 16 when CONFIG is refused, 1 in cluster mode", () => {
    assert.equal(databaseCount(["databases", "32"], "standalone"), 32);
    assert.equal(databaseCount(undefined, "standalone"), 16);
    assert.equal(databaseCount([], "standalone"), 16);
    assert.equal(databaseCount(["databases", "zero"], "standalone"), 16);
    assert.equal(databaseCount(["databases", "16"], "cluster"), 1);
  });

  test('commandstats: calls and microseconds per command, Redis 7\'s subcommands kept as cmd="config|get"', () => {
    const info = parseInfo(
      "# Commandstats\r\ncmdstat_get:calls=2,usec=15,usec_per_call=7.50,rejected_calls=0,failed_calls=0\r\ncmdstat_config|get:calls=1,usec=2000000,usec_per_call=2000000.00\r\n",
    );
    assert.deepEqual(parseCommandstats(info), [
      { cmd: "get", calls: 2, seconds: 0.000015 },
      { cmd: "config|get", calls: 1, seconds: 2 },
    ]);
  });
});

/** Whether a condition holds on this machine (the exporter reads the host root "/"). */
function conditionHolds(c: Condition, ctx: { postgresMajor: number; redisReplica: boolean }): boolean {
  if (c.redisReplica) return ctx.redisReplica;
  if (c.postgresMaxMajor !== undefined) return ctx.postgresMajor <= c.postgresMaxMajor;
  if (c.linkSpeed) {
    return readdirSync("/sys/class/net").some((dev) => {
      try {
        return Number.isFinite(Number(readFileSync(join("/sys/class/net", dev, "speed"), "utf8")));
      } catch {
        return false;
      }
    });
  }
  if (c.file) {
    if (!existsSync(c.file)) return false;
    return c.matches === undefined || new RegExp(c.matches, "m").test(readFileSync(c.file, "utf8"));
  }
  throw new Error(`a condition the test cannot check: ${c.when}`);
}

// ---------------------------------------------------------------- Grafana's variable interpolation

/** Grafana's Prometheus datasource: multi-value and "All" variables are regex-escaped, others are not. */
function formatValue(value: string, v: { multi: boolean; includeAll: boolean }): string {
  if (v.multi || v.includeAll)
    return value.replace(/\\/g, "\\\\\\\\").replace(/[$^*{}[\]'+?.()|]/g, "\\\\$&");
  return value.replace(/\\/g, "\\\\").replace(/'/g, "\\\\'");
}

/** A dashboard time range of the last minute, the datasource's scrape interval set to Prometheus'. */
const SCRAPE_SECONDS = 2;
const builtins: Record<string, string> = {
  // $__interval: the range over the panel's width, never below the scrape interval.
  __interval: `${SCRAPE_SECONDS}s`,
  __interval_ms: String(SCRAPE_SECONDS * 1000),
  // $__rate_interval: max($__interval + scrape interval, 4 x scrape interval).
  __rate_interval: `${4 * SCRAPE_SECONDS}s`,
  __range: "60s",
  __range_s: "60",
};

function interpolate(expr: string, values: Map<string, string>, vars: CompatDashboard["variables"]): string {
  const all: [string, string][] = [
    ...Object.entries(builtins),
    ...vars.map((v): [string, string] => [v.name, formatValue(values.get(v.name) ?? "", v)]),
  ];
  // Longest first, and never inside a longer name: $node must not replace the start of $nodename.
  all.sort((a, b) => b[0].length - a[0].length);
  let out = expr;
  for (const [name, value] of all) {
    const n = name.replace(/[$]/g, "\\$&");
    out = out.replace(
      new RegExp(`\\$\\{${n}(?::\\w+)?\\}|\\[\\[${n}\\]\\]|\\$${n}(?![A-Za-z0-9_])`, "g"),
      () => value,
    );
  }
  if (/\$\w|\[\[\w/.test(out)) throw new Error(`a variable is left in ${out}`);
  return out;
}

async function promApi<T>(prom: HttpServer, path: string, params: Record<string, string>): Promise<T> {
  const res = await fetch(`${prom.url}${path}?${new URLSearchParams(params).toString()}`);
  const body = (await res.json()) as { status: string; data: T; error?: string };
  if (body.status !== "success") throw new Error(`${path} ${JSON.stringify(params)}: ${body.error}`);
  return body.data;
}

/** Grafana's text for one series of a query_result() variable: `name{label="value",...} value timestamp_ms`. */
function queryResultText(r: { metric: Record<string, string>; value: [number, string] }): string {
  const { __name__: name = "", ...labels } = r.metric;
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  return `${name}{${pairs.join(",")}} ${r.value[1]} ${r.value[0] * 1000}`;
}

/** A variable's regex (`/…/flags`): the options it matches, each the first group's text when it has one. */
function applyRegex(options: string[], regex: string | undefined): string[] {
  if (!regex) return options;
  const m = /^\/(.*)\/([a-z]*)$/s.exec(regex);
  if (!m) throw new Error(`a variable regex the test cannot read: ${regex}`);
  const re = new RegExp(m[1]!, m[2]!.replace("g", ""));
  const out: string[] = [];
  for (const o of options) {
    const hit = re.exec(o);
    const value = hit ? (hit[1] ?? hit[0]) : undefined;
    if (value !== undefined && !out.includes(value)) out.push(value);
  }
  return out;
}

/** The variables' values as Grafana picks them with no saved selection: the first option of each. */
async function resolveVariables(prom: HttpServer, d: CompatDashboard): Promise<Map<string, string>> {
  const values = new Map<string, string>();
  for (const v of d.variables) {
    const now = Date.now() / 1000;
    let options: string[];
    const labelValues = /^\s*label_values\((?:(.*),)?\s*(\w+)\s*\)\s*$/s.exec(v.query);
    const queryResult = /^\s*query_result\((.*)\)\s*$/s.exec(v.query);
    if (labelValues) {
      const selector = labelValues[1] ? interpolate(labelValues[1].trim(), values, d.variables) : undefined;
      options = await promApi<string[]>(prom, `/api/v1/label/${labelValues[2]}/values`, {
        ...(selector ? { "match[]": selector } : {}),
        start: String(now - 300),
        end: String(now),
      });
    } else if (queryResult) {
      // An instant query at the end of the range; each series becomes its text, as Grafana writes it.
      const data = await promApi<{
        resultType: string;
        result: { metric: Record<string, string>; value: [number, string] }[];
      }>(prom, "/api/v1/query", {
        query: interpolate(queryResult[1]!, values, d.variables),
        time: String(now),
      });
      if (data.resultType !== "vector")
        throw new Error(`${d.id}: variable ${v.name}: a ${data.resultType} result the test cannot read`);
      options = data.result.map(queryResultText);
    } else throw new Error(`${d.id}: variable ${v.name} has a query the test cannot run: ${v.query}`);
    // No option: Grafana's value is empty, which `label=~""` matches as an absent label.
    values.set(v.name, applyRegex(options, v.regex)[0] ?? "");
  }
  return values;
}

// ---------------------------------------------------------------- against the real exporter

describe(
  "the community dashboards against the real exporter",
  {
    skip: requireBinaries("postgres", "initdb", "redis-server", "redis-cli"),
  },
  () => {
    let pg: PostgresServer;
    let redis: RedisServer;
    let replica: RedisServer;
    let app: App;
    let postgresMajor = 0;
    const textfileDir = tempDir("compat-textfile");

    before(async () => {
      [pg, redis] = await Promise.all([startPostgres(), startRedis()]);
      replica = await startRedis({ args: ["--replicaof", "127.0.0.1", String(redis.port)] });
      // The application's own database, as a user has one: the postgres dashboards' $db skips "postgres".
      await pg.query("CREATE DATABASE kali_agents");
      await pg.query(scansDdl, [], "kali_agents");
      await pg.query("SELECT count(*) FROM scans", [], "kali_agents");
      postgresMajor = Math.floor(
        Number((await pg.query<{ v: string }>("SELECT current_setting('server_version_num') AS v"))[0]!.v) /
          10000,
      );
      redis.cli("SET", "k", "v");
      redis.cli("GET", "k");
      app = await startApp({
        DATABASE_URL: pg.urlFor({ database: "kali_agents" }),
        REDIS_URL: redis.url,
        // The ops jobs' metrics folder (node_textfile_scrape_error is about it).
        EXPORTER_TEXTFILE_DIR: textfileDir,
        EXPORTER_PG_STATEMENT_TIMEOUT_SECONDS: "5",
      });
    });
    after(async () => {
      await app?.close();
      await Promise.all([pg?.cleanup(), redis?.cleanup(), replica?.cleanup()]);
      rmSync(textfileDir, { recursive: true, force: true });
    });

    test("every name marked as published is in a scrape (where its source exists on this machine)", async () => {
      const s = await app.scrape(10);
      assert.equal(s.status, 200);
      const missing: string[] = [];
      let checked = 0;
      for (const row of compatList()) {
        if (row.verdict.status !== "published") continue;
        const when = row.verdict.when;
        if (when && !conditionHolds(when, { postgresMajor, redisReplica: false })) continue;
        checked++;
        const fam = family(s.families, row.name);
        if (!fam || fam.samples.length === 0) missing.push(row.name);
      }
      assert.deepEqual(missing, [], "published names absent from the scrape");
      assert.ok(checked >= 180, `only ${checked} names checked`);
    });

    test("the values are the Go exporters': units, labels and figures checked against their sources", async () => {
      const diskBefore = parseDiskstats(readFileSync("/proc/diskstats", "utf8"));
      const s = await app.scrape(10);
      const diskAfter = parseDiskstats(readFileSync("/proc/diskstats", "utf8"));
      const f = s.families;
      // The harness runs PostgreSQL with max_connections 50 and shared_buffers 32MB.
      assert.equal(sample(f, "pg_settings_max_connections"), 50);
      assert.equal(sample(f, "pg_settings_shared_buffers_bytes"), 32 * 2 ** 20);
      assert.equal(sample(f, "pg_settings_checkpoint_timeout_seconds"), 300);
      assert.equal(sample(f, "pg_settings_autovacuum"), 1);
      assert.equal(sample(f, "pg_settings_random_page_cost"), 4);
      assert.equal(family(f, "pg_stat_bgwriter_buffers_alloc_total")?.type, "counter");
      assert.ok(sample(f, "pg_stat_bgwriter_buffers_alloc_total")! > 0);
      const started = sample(f, "pg_postmaster_start_time_seconds")!;
      assert.ok(started > Date.now() / 1000 - 3600 && started <= Date.now() / 1000, `start time ${started}`);
      assert.equal(
        family(f, "pg_stat_database_temp_bytes")?.samples.some((x) => x.labels.datname === "kali_agents"),
        true,
      );
      assert.ok(sample(f, "redis_commands_total", { cmd: "get" })! >= 1);
      const getSeconds = sample(f, "redis_commands_duration_seconds_total", { cmd: "get" })!;
      assert.ok(getSeconds > 0 && getSeconds < 1, `GET took ${getSeconds} s in all: microseconds in seconds`);
      assert.ok(sample(f, "redis_net_input_bytes_total")! > 0);
      assert.ok(sample(f, "redis_memory_used_rss_bytes")! > 1_000_000);
      // Host counters lie between two readings of their source taken around the scrape.
      for (const d of diskAfter) {
        const before = diskBefore.find((x) => x.device === d.device)!;
        const v = sample(f, "node_disk_read_bytes_total", { device: d.device })!;
        assert.ok(v >= before.values[2]! && v <= d.values[2]!, `${d.device}: ${v} read bytes`);
      }
      assert.equal(
        sample(f, "node_sockstat_TCP_mem_bytes")! % Math.max(1, sample(f, "node_sockstat_TCP_mem")!),
        0,
        "mem_bytes is mem in pages times the page size",
      );
      const meminfo = readFileSync("/proc/meminfo", "utf8");
      assert.equal(
        sample(f, "node_memory_HugePages_Total"),
        Number(/^HugePages_Total:\s+(\d+)/m.exec(meminfo)![1]),
      );
      assert.equal(
        family(f, "node_filesystem_readonly")?.samples.find((x) => x.labels.mountpoint === "/")?.value,
        0,
      );
    });

    test("a Redis replica publishes redis_master_last_io_seconds_ago, the primary does not", async () => {
      await waitFor("the replica to sync", () =>
        replica.cli("INFO", "replication").includes("master_link_status:up"),
      );
      const { log } = captureLog();
      const c = redisCollector.create(
        { url: replica.url, connectTimeoutMs: 1000, commandTimeoutMs: 1000, queueKeys: [] },
        log,
      );
      try {
        const out = await collectOnce(c, log);
        assert.ok(out.ok, out.error?.message);
        assert.ok(
          conditionHolds(publishedWhen.redis_master_last_io_seconds_ago!, {
            postgresMajor,
            redisReplica: true,
          }),
        );
        assert.ok(family(out.families, "redis_master_last_io_seconds_ago")?.samples.length === 1);
      } finally {
        await c.close?.();
      }
      const primary = await app.scrape(10);
      assert.equal(family(primary.families, "redis_master_last_io_seconds_ago")?.samples.length ?? 0, 0);
      assert.equal(family(primary.families, "redis_connected_slaves")?.samples[0]?.value, 1);
    });

    describe(
      "sampled panels return data from a real Prometheus",
      { skip: requireBinaries("prometheus") },
      () => {
        let prom: HttpServer;
        before(async () => {
          const target = new URL(app.url).host;
          prom = await startPrometheus(
            [
              "global:",
              `  scrape_interval: ${SCRAPE_SECONDS}s`,
              `  scrape_timeout: ${SCRAPE_SECONDS}s`,
              "scrape_configs:",
              "  - job_name: kali-agents-exporter",
              "    static_configs:",
              `      - targets: ["${target}"]`,
              "",
            ].join("\n"),
          );
        });
        after(async () => {
          await prom?.cleanup();
        });

        for (const d of compatDashboards) {
          test(`${d.title} (${d.repo}@${d.commit.slice(0, 12)}): ${d.samples.map((s) => s.title).join(", ")}`, async () => {
            const empty = async (): Promise<string[]> => {
              const values = await resolveVariables(prom, d);
              const out: string[] = [];
              const now = Math.floor(Date.now() / 1000);
              for (const s of d.samples)
                for (const raw of s.exprs) {
                  const expr = interpolate(raw, values, d.variables);
                  // A range query over the dashboard's last minute, as a Grafana time series panel sends it.
                  const data = await promApi<{ result: { values: unknown[] }[] }>(
                    prom,
                    "/api/v1/query_range",
                    {
                      query: expr,
                      start: String(now - 60),
                      end: String(now),
                      step: String(SCRAPE_SECONDS),
                    },
                  );
                  if (!data.result.some((r) => r.values.length > 0)) out.push(`${s.title}: ${expr}`);
                }
              return out;
            };
            let last: string[] = [];
            // Rates need two scrapes inside $__rate_interval: wait for them rather than guess the time.
            await waitFor(
              `${d.id}'s sampled panels to return data`,
              async () => (last = await empty()).length === 0,
              60_000,
              1000,
            ).catch(() => undefined);
            assert.deepEqual(last, [], `${d.id}: panel queries that return no data`);
          });
        }
      },
    );
  },
);
