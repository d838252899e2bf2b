// The community dashboards work against this exporter (issue 14): every metric name they query has a
// verdict (definitions/compat.ts); every name marked as published is in a real scrape, with real
// PostgreSQL and Redis; and the sampled panels' queries, their template variables filled as Grafana
// fills them, return data from a real Prometheus scraping the exporter.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { compatDashboards, type CompatDashboard } from "../../definitions/compat-dashboards.ts";
import {
  compatList,
  notApplicable,
  publishedWhen,
  verdict,
  type Condition,
} from "../../definitions/compat.ts";
import { catalogue } from "../../definitions/metrics.ts";
import { family } from "../../test/support/exposition.ts";
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
import { redisCollector } from "../src/collectors/redis.ts";
import { captureLog, collectOnce, readRepoFile, startApp, type App } from "./collector-support.ts";

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

/** Whether a condition holds on this machine (the exporter reads the host root "/"). */
function conditionHolds(c: Condition, ctx: { postgresMajor: number; redisReplica: boolean }): boolean {
  if (c.redisReplica) return ctx.redisReplica;
  if (c.postgresMaxMajor !== undefined) return ctx.postgresMajor <= c.postgresMaxMajor;
  if (c.linkSpeed) {
    return readdirSync("/sys/class/net").some((dev) => {
      try {
        return Number(readFileSync(join("/sys/class/net", dev, "speed"), "utf8")) >= 0;
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
  const res = await fetch(`${prom.url}${path}?${new URLSearchParams(params)}`);
  const body = (await res.json()) as { status: string; data: T; error?: string };
  if (body.status !== "success") throw new Error(`${path} ${JSON.stringify(params)}: ${body.error}`);
  return body.data;
}

/** The variables' values as Grafana picks them with no saved selection: the first option of each. */
async function resolveVariables(prom: HttpServer, d: CompatDashboard): Promise<Map<string, string>> {
  const values = new Map<string, string>();
  for (const v of d.variables) {
    const m = /^\s*label_values\((?:(.*),)?\s*(\w+)\s*\)\s*$/s.exec(v.query);
    if (!m) throw new Error(`${d.id}: variable ${v.name} has a query the test cannot run: ${v.query}`);
    const selector = m[1] ? interpolate(m[1].trim(), values, d.variables) : undefined;
    const now = Date.now() / 1000;
    const options = await promApi<string[]>(prom, `/api/v1/label/${m[2]}/values`, {
      ...(selector ? { "match[]": selector } : {}),
      start: String(now - 300),
      end: String(now),
    });
    // No option: Grafana's value is empty, which `label=~""` matches as an absent label.
    values.set(v.name, options[0] ?? "");
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
      await pg.query(readRepoFile("exporter/sql/scans.sql"), [], "kali_agents");
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
