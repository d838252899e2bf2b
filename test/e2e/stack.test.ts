// The native end-to-end test: the stack's own configuration, run with real processes where no Docker
// engine runs. PostgreSQL and Redis (the harness), the demo workload and the exporter (child processes
// from their entry points), Prometheus with prometheus/prometheus.yml and the generated rules, and
// Alertmanager with alertmanager/alertmanager.yml whose receivers point at local HTTP and SMTP sinks.
//
// What is changed, and only that (each change is printed):
// - prometheus.yml: targets to the local ports; the loki, promtail and grafana jobs removed (no Loki or
//   Grafana binary can run here); scrape interval 2s and evaluation interval 1s instead of 15s, so that
//   the rules' own `for` and Alertmanager's group_wait, which are unchanged, bound the time to a page;
// - alertmanager.yml: receiver URLs, the SMTP smarthost and the secret files, through the alerting
//   area's helper (alertmanager/src/local.ts). Routing, grouping and timings are unchanged.
// - The rules are not changed. The fast-burn SLO alert (1h and 5m windows, for 2m) fires from a strong
//   error burst: with less than an hour of history, rate() over [1h] covers the data there is, so a
//   burst of 5xx well above 14.4 x 0.1% crosses both windows as soon as they hold two samples; the
//   `for: 2m` then runs its full course. No history is backfilled.
import assert from "node:assert/strict";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parse } from "yaml";
import { localAlertmanagerConfig, writeLocalSecrets } from "../../alertmanager/src/local.ts";
import { startHttpSink, startSmtpSink, type HttpSink, type SmtpSink } from "../../alertmanager/src/sinks.ts";
import { allPromQueries } from "../../dashboards/src/queries.ts";
import { jobMetrics } from "../../definitions/metrics.ts";
import { jobs } from "../../definitions/thresholds.ts";
import {
  freePort,
  requireBinaries,
  startAlertmanager,
  startPostgres,
  startPrometheus,
  startRedis,
  tempDir,
  waitFor,
  type HttpServer,
  type PostgresServer,
  type RedisServer,
} from "../support/servers.ts";
import { startNode, type NodeProcess } from "./node-process.ts";
import { rewritePrometheusConfig } from "./prometheus-config.ts";

const root = new URL("../..", import.meta.url).pathname;
const SCRAPE_INTERVAL = "2s";
const EVALUATION_INTERVAL = "1s";
/** $__rate_interval for a 2s scrape interval: Grafana's rule, 4 x the scrape interval, rounded up. */
const RATE_INTERVAL = "10s";

/**
 * Panels that read only the ops jobs' results (the job-metric contract, definitions/metrics.ts
 * `jobMetrics`): no job runs yet, so they have no data. Listed by dashboard and panel; the test checks
 * that each query excused here reads a job metric, so this list cannot hide any other empty panel.
 */
const jobMetricPanels: readonly string[] = [
  "overview / Last backup age",
  "operations / Last backup age",
  "operations / Last backup size",
  "operations / Last backup duration",
  "operations / Backup verified",
  "operations / Last verification age",
  "operations / Last DR drill age",
  "operations / Backup age",
  "operations / DR drill restore time (RTO)",
  "operations / Rows deleted by the last cleanup",
  "operations / Last run by job",
  "operations / Since last success by job",
  "operations / Job durations",
];

// Where the alerting helper's local config sends each receiver (alertmanager/src/local.ts).
const pagerdutyPath = "/pagerduty/pagerduty";
const slackPath = "/slack";
const heartbeatPath = "/webhook/heartbeat";

/** group_wait of the route that takes severity="critical" (else the root's): it bounds the page's delay. */
function criticalGroupWait(amYaml: string): string {
  type Route = { group_wait?: string; matchers?: string[]; routes?: Route[] };
  const root = (parse(amYaml) as { route: Route }).route;
  const critical = (root.routes ?? []).find((r) =>
    (r.matchers ?? []).some((m) => m.includes('severity="critical"')),
  );
  return critical?.group_wait ?? root.group_wait ?? "30s (default)";
}

interface PromVector {
  metric: Record<string, string>;
  value: [number, string];
}

describe(
  "native end-to-end: the stack's configuration with real processes",
  {
    skip: requireBinaries("postgres", "initdb", "redis-server", "redis-cli", "prometheus", "alertmanager"),
  },
  () => {
    let pg: PostgresServer;
    let redis: RedisServer;
    let demo: NodeProcess;
    let exporter: NodeProcess;
    let am: HttpServer;
    let prom: HttpServer;
    let http: HttpSink;
    let smtp: SmtpSink;
    let demoUrl: string;
    let exporterUrl: string;
    let amGroupWait = "";
    let burstStartedAt = 0;
    const started = Date.now();
    const scratchDirs: string[] = [];
    const scratch = (name: string) => {
      const d = tempDir(name);
      scratchDirs.push(d);
      return d;
    };

    const query = async (expr: string): Promise<PromVector[]> => {
      const res = await fetch(`${prom.url}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const body = (await res.json()) as { status: string; error?: string; data: { result: PromVector[] } };
      if (body.status !== "success") throw new Error(`${expr}: ${body.error}`);
      return body.data.result;
    };
    const firing = async (alertname: string, labels: Record<string, string> = {}) => {
      const sel = Object.entries({ alertname, alertstate: "firing", ...labels })
        .map(([k, v]) => `${k}="${v}"`)
        .join(",");
      return (await query(`ALERTS{${sel}}`)).length > 0;
    };
    const chaos = async (body: unknown) => {
      const res = await fetch(`${demoUrl}/chaos`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      assert.equal(res.status, 200, await res.text());
    };
    // When each request reached the HTTP sink, as first seen by a poll every 100 ms (the sink keeps no
    // clock); the error is below the figures printed.
    const seenAt: number[] = [];
    let poller: NodeJS.Timeout | undefined;
    const received = () => (http?.requests ?? []).map((r, i) => ({ ...r, at: seenAt[i] ?? Date.now() }));
    const sinkBodies = (path: string) => received().filter((r) => r.path.startsWith(path));
    const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;

    before(async () => {
      [http, smtp] = await Promise.all([startHttpSink(), startSmtpSink()]);
      poller = setInterval(() => {
        while (seenAt.length < http.requests.length) seenAt.push(Date.now());
      }, 100);
      [pg, redis] = await Promise.all([
        startPostgres(),
        // A maxmemory, as production sets one: the "memory used of maxmemory" panel divides by it.
        startRedis({ args: ["--maxmemory", "256mb"] }),
      ]);

      const [apiPort, mcp1, mcp2, exporterPort] = await Promise.all([
        freePort(),
        freePort(),
        freePort(),
        freePort(),
      ]);
      const amSource = readFileSync(join(root, "alertmanager/alertmanager.yml"), "utf8");
      amGroupWait = criticalGroupWait(amSource);
      const secretsDir = scratch("e2e-secrets");
      writeLocalSecrets(secretsDir, { httpUrl: http.url });
      // Receivers, SMTP relay and secret files only; routing and its timings stay as committed.
      const amLocal = localAlertmanagerConfig(amSource, {
        httpUrl: http.url,
        smtpHostPort: smtp.hostPort,
        secretsDir,
      });
      console.log(
        "e2e: alertmanager.yml: receivers -> local HTTP sink, smtp_smarthost -> local SMTP sink, secret files -> test values",
      );
      // Everything starts at once: the demo, the exporter (its first collection may find no scans table
      // yet, and the next one will), Alertmanager and Prometheus.
      const amStarting = startAlertmanager(amLocal);
      demoUrl = `http://127.0.0.1:${apiPort}`;
      demo = startNode("demo", "demo/src/main.ts", {
        DATABASE_URL: pg.url,
        REDIS_URL: redis.url,
        DEMO_LISTEN_HOST: "127.0.0.1",
        DEMO_API_PORT: String(apiPort),
        DEMO_MCP_PORTS: `${mcp1},${mcp2}`,
        DEMO_LOG_DIR: scratch("e2e-logs"),
        // Fast enough that scans finish every second: the scan panels need finished scans.
        DEMO_SCAN_INTERVAL_SECONDS: "0.2",
        DEMO_SCAN_TIME_SCALE: "0.005",
        DEMO_MAX_RUNNING_SCANS: "8",
        DEMO_TRAFFIC_RPS: "20",
      });
      exporterUrl = `http://127.0.0.1:${exporterPort}`;
      exporter = startNode("exporter", "exporter/src/main.ts", {
        EXPORTER_LISTEN_ADDRESS: `127.0.0.1:${exporterPort}`,
        DATABASE_URL: pg.url,
        REDIS_URL: redis.url,
        API_HEALTH_URL: `${demoUrl}/health`,
        MCP_SERVERS: `nmap-mcp=http://127.0.0.1:${mcp1}/health,web-mcp=http://127.0.0.1:${mcp2}/health`,
        EXPORTER_TEXTFILE_DIR: scratch("e2e-textfile"),
      });
      // Prometheus scrapes itself and Alertmanager on ports the harness picks when it starts them:
      // start with placeholders, then write the final configuration and reload (the lifecycle API).
      const rewrite = (promPort: string, amPort: string) =>
        rewritePrometheusConfig(readFileSync(join(root, "prometheus/prometheus.yml"), "utf8"), {
          configPath: join(root, "prometheus/prometheus.yml"),
          targets: {
            [jobs.exporter]: `127.0.0.1:${exporterPort}`,
            [jobs.api]: `127.0.0.1:${apiPort}`,
            [jobs.prometheus]: `127.0.0.1:${promPort}`,
            [jobs.alertmanager]: `127.0.0.1:${amPort}`,
          },
          removeJobs: [jobs.loki, jobs.promtail, jobs.grafana],
          alertmanager: `127.0.0.1:${amPort}`,
          scrapeInterval: SCRAPE_INTERVAL,
          evaluationInterval: EVALUATION_INTERVAL,
        });
      const first = rewrite("1", "1");
      const promStarting = startPrometheus(first.yaml, { files: first.files });
      // Awaited below; these only keep an early failure from going unhandled meanwhile.
      amStarting.catch(() => {});
      promStarting.catch(() => {});

      // The error burst starts as soon as the demo answers: the fast-burn alert's `for: 2m` is the
      // longest wait here, and the checks below run while it counts down.
      await waitFor("the demo API", async () => {
        if (demo.exited()) throw new Error(`demo exited:\n${demo.output()}`);
        return (await fetch(`${demoUrl}/health`)).ok;
      });
      await chaos({ mode: "error-burst", errorRatio: 1, durationSeconds: 600 });
      burstStartedAt = Date.now();

      [am, prom] = await Promise.all([amStarting, promStarting]);
      const rewritten = rewrite(String(prom.port), new URL(am.url).port);
      writeFileSync(join(prom.dir, "prometheus.yml"), rewritten.yaml);
      const reload = await fetch(`${prom.url}/-/reload`, { method: "POST" });
      assert.equal(reload.status, 200, await reload.text());
      for (const c of rewritten.changes) console.log(`e2e: prometheus.yml: ${c}`);

      await waitFor("the exporter to be ready", async () => {
        if (exporter.exited()) throw new Error(`exporter exited:\n${exporter.output()}`);
        return (await fetch(`${exporterUrl}/-/ready`)).ok;
      });
      console.log(`e2e: stack up after ${elapsed()}`);
    });

    after(async () => {
      clearInterval(poller);
      await Promise.allSettled([demo?.stop(), exporter?.stop()]);
      await Promise.allSettled([prom?.cleanup(), am?.cleanup(), pg?.cleanup(), redis?.cleanup()]);
      await Promise.allSettled([http?.close(), smtp?.close()]);
      for (const d of scratchDirs) rmSync(d, { recursive: true, force: true });
      console.log(`e2e: total ${elapsed()}`);
    });

    test("every scrape target that runs here is up", async () => {
      const want = [jobs.exporter, jobs.api, jobs.prometheus, jobs.alertmanager];
      await waitFor(
        "every target up",
        async () => {
          const up = await query("up == 1");
          return want.every((j) => up.some((s) => s.metric.job === j));
        },
        30_000,
        500,
      );
      const targets = (await (await fetch(`${prom.url}/api/v1/targets`)).json()) as {
        data: { activeTargets: { labels: { job: string }; health: string; lastError: string }[] };
      };
      const jobsSeen = targets.data.activeTargets.map((t) => t.labels.job).sort();
      assert.deepEqual(jobsSeen, [...want].sort());
      for (const t of targets.data.activeTargets)
        assert.equal(t.health, "up", `${t.labels.job}: ${t.lastError}`);
      console.log(
        `e2e: targets up: ${want.join(", ")}; not run here (no binary): ${jobs.loki}, ${jobs.promtail}, ${jobs.grafana}`,
      );
    });

    test("every rule group evaluates without error", async () => {
      type Rule = { name: string; health: string; lastError?: string };
      type Group = { name: string; file: string; rules: Rule[]; lastEvaluation: string };
      let groups: Group[] = [];
      await waitFor(
        "every rule evaluated once",
        async () => {
          const body = (await (await fetch(`${prom.url}/api/v1/rules`)).json()) as {
            data: { groups: Group[] };
          };
          groups = body.data.groups;
          return (
            groups.length > 0 &&
            groups.every(
              (g) => !g.lastEvaluation.startsWith("0001") && g.rules.every((r) => r.health !== "unknown"),
            )
          );
        },
        30_000,
        500,
      );
      const files = new Set(groups.map((g) => g.file.split("/").pop()));
      assert.ok(files.size >= 5, `rule files loaded: ${[...files].join(", ")}`);
      const broken = groups.flatMap((g) =>
        g.rules
          .filter((r) => r.health !== "ok")
          .map((r) => `${g.name}/${r.name}: ${r.health} ${r.lastError ?? ""}`),
      );
      assert.deepEqual(broken, []);
      console.log(
        `e2e: ${groups.length} rule groups, ${groups.reduce((n, g) => n + g.rules.length, 0)} rules, all ok`,
      );
    });

    test("every PromQL query of every generated dashboard returns data (job-metric panels excepted)", async () => {
      const queries = allPromQueries({ __rate_interval: RATE_INTERVAL });
      assert.ok(queries.length > 50, `${queries.length} queries`);
      const jobNames = jobMetrics.map((m) => m.name);
      const readsJobMetric = (expr: string) => jobNames.some((j) => new RegExp(`\\b${j}\\b`).test(expr));
      for (const p of jobMetricPanels) {
        assert.ok(
          queries.some((q) => `${q.dashboard} / ${q.panel}` === p && readsJobMetric(q.expr)),
          `excused panel "${p}" no longer exists or reads no job metric: remove it from the list`,
        );
      }
      // Rates need two samples inside RATE_INTERVAL, and the scans panels a finished scan.
      await waitFor(
        "finished scans and two scrapes",
        async () => (await query(`rate(kali_agents_scans_total[${RATE_INTERVAL}])`)).length > 0,
        30_000,
        500,
      );
      let empty: string[] = [];
      // A query may lack data for a moment (a rate window between scrapes): retry the empty ones.
      await waitFor(
        "every query to return data",
        async () => {
          empty = [];
          for (const q of queries) {
            const name = `${q.dashboard} / ${q.panel}`;
            // Excused: a job-metric query of a listed panel. Its panel's other queries must have data.
            if (jobMetricPanels.includes(name) && readsJobMetric(q.expr)) continue;
            if ((await query(q.expr)).length === 0) empty.push(`${name}: ${q.expr}`);
          }
          return empty.length === 0;
        },
        20_000,
        2000,
      ).catch(() => {});
      assert.deepEqual(empty, [], "queries without data");
      console.log(
        `e2e: ${queries.length} dashboard queries return data; excused (no ops job runs yet): ${jobMetricPanels.length} panels`,
      );
    });

    test("Redis stopped: RedisDown reaches PagerDuty and Slack with its runbook, and resolves when Redis is back", async () => {
      const faultAt = Date.now();
      await redis.stop();
      const pagerduty = () =>
        sinkBodies(pagerdutyPath).filter((r) => r.at >= faultAt && r.body.includes("RedisDown"));
      const slack = () =>
        sinkBodies(slackPath).filter((r) => r.at >= faultAt && r.body.includes("RedisDown"));
      await waitFor(
        "RedisDown at PagerDuty and Slack",
        () => pagerduty().length > 0 && slack().length > 0,
        150_000,
        250,
      );
      const firstAt = Math.min(...[...pagerduty(), ...slack()].map((r) => r.at));
      const runbook = "docs/runbooks/RedisDown.md";
      assert.ok(
        pagerduty().some((r) => r.body.includes(runbook)),
        `PagerDuty payload lacks ${runbook}: ${pagerduty()[0]?.body}`,
      );
      assert.ok(
        slack().some((r) => r.body.includes(runbook)),
        `Slack payload lacks ${runbook}: ${slack()[0]?.body}`,
      );
      console.log(
        `e2e: Redis stopped -> RedisDown at PagerDuty/Slack in ${((firstAt - faultAt) / 1000).toFixed(1)}s ` +
          `(bounded by: scrape interval ${SCRAPE_INTERVAL} + evaluation interval ${EVALUATION_INTERVAL} + the rule's for 1m ` +
          `+ Alertmanager group_wait ${amGroupWait} for the critical route; in compose 15s + 15s + 1m + ${amGroupWait})`,
      );

      // Resolved means: Prometheus stops firing and Alertmanager drops it from its active alerts. The
      // resolved *notification* waits for the group's next flush (group_interval 5m as committed), which
      // this run does not wait for.
      await redis.restart();
      await waitFor(
        "RedisDown to stop firing in Prometheus",
        async () => !(await firing("RedisDown")),
        30_000,
        250,
      );
      await waitFor(
        "RedisDown to leave Alertmanager's active alerts",
        async () => {
          const alerts = (await (await fetch(`${am.url}/api/v2/alerts?active=true`)).json()) as {
            labels: Record<string, string>;
          }[];
          return !alerts.some((a) => a.labels.alertname === "RedisDown");
        },
        30_000,
        250,
      );
      console.log(`e2e: Redis back -> RedisDown resolved in Prometheus and Alertmanager at ${elapsed()}`);
    });

    test("an error burst from the API fires the fast-burn SLO alert (1h and 5m windows)", async () => {
      const labels = { long_window: "1h", short_window: "5m", severity: "critical" };
      await waitFor(
        "ApiErrorBudgetBurn (1h/5m) firing",
        () => firing("ApiErrorBudgetBurn", labels),
        170_000,
        500,
      );
      const seconds = (Date.now() - burstStartedAt) / 1000;
      const inAm = (await (await fetch(`${am.url}/api/v2/alerts?active=true`)).json()) as {
        labels: Record<string, string>;
      }[];
      assert.ok(
        inAm.some((a) => a.labels.alertname === "ApiErrorBudgetBurn" && a.labels.long_window === "1h"),
        "the fast-burn alert reached Alertmanager",
      );
      console.log(
        `e2e: error burst -> ApiErrorBudgetBurn (1h/5m) firing after ${seconds.toFixed(1)}s (rule for 2m)`,
      );
      await chaos({ mode: "normal" });
    });

    test("the Watchdog reaches the heartbeat receiver and no other", async () => {
      await waitFor(
        "a Watchdog heartbeat",
        () => sinkBodies(heartbeatPath).some((r) => r.body.includes("Watchdog")),
        30_000,
        250,
      );
      const elsewhere = received()
        .filter((r) => !r.path.startsWith(heartbeatPath) && r.body.includes("Watchdog"))
        .map((r) => r.path);
      assert.deepEqual(elsewhere, [], "Watchdog notifications outside the heartbeat receiver");
      assert.ok(!smtp.mails.some((m) => m.text.includes("Watchdog")), "no Watchdog email");
      const heartbeat = sinkBodies(heartbeatPath);
      assert.ok(
        heartbeat.every((r) => r.body.includes("Watchdog")),
        "only the Watchdog at the heartbeat",
      );
    });
  },
);
