// The native end-to-end test: the stack's own configuration, run with real processes, without Docker
// (test/containers/ runs the images under compose). PostgreSQL and Redis (the harness), the demo workload and the exporter (child processes
// from their entry points), Prometheus with prometheus/prometheus.yml and the generated rules, and
// Alertmanager with alertmanager/alertmanager.yml whose receivers point at local HTTP and SMTP sinks.
//
// What is changed, and only that (each change is printed):
// - prometheus.yml: targets to the local ports; the loki, promtail and grafana jobs removed (no Loki or
//   Grafana binary can run here); scrape interval 2s and evaluation interval 1s instead of 15s, so that
//   the rules' own `for` and Alertmanager's group_wait, which are unchanged, bound the time to a page;
// - alertmanager.yml: receiver URLs, the SMTP smarthost and the secret files, through the alerting
//   area's helper (test/support/alertmanager-local.ts). Routing, grouping and timings are unchanged.
// - The rules are not changed. The fast-burn SLO alert (1h and 5m windows, for 2m) fires from a strong
//   error burst: with less than an hour of history, rate() over [1h] covers the data there is, so a
//   burst of 5xx well above 14.4 x 0.1% crosses both windows as soon as they hold two samples; the
//   `for: 2m` then runs its full course. No history is backfilled.
// - The ops jobs (ops/src/cli.ts: backup, verify, dr-drill, cleanup) run for real, as child processes,
//   against this PostgreSQL and Redis, once, while the rest starts; they write <job>.prom into the
//   folder the exporter reads (EXPORTER_TEXTFILE_DIR), so every panel on the job-metric contract has
//   data too and no panel is excused.
import assert from "node:assert/strict";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parse } from "yaml";
import { localAlertmanagerConfig, writeLocalSecrets } from "../support/alertmanager-local.ts";
import { startHttpSink, startSmtpSink, type HttpSink, type SmtpSink } from "../support/sinks.ts";
import { allPromQueries } from "../../dashboards/src/queries.ts";
import { jobs } from "../../definitions/selectors.ts";
import {
  findBinary,
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
import { demoWiring, runNode, startNode, type NodeProcess, type NodeRun } from "./node-process.ts";
import { localStackPrometheusConfig } from "./prometheus-config.ts";

const root = new URL("../..", import.meta.url).pathname;
const SCRAPE_INTERVAL = "2s";
const EVALUATION_INTERVAL = "1s";
/** $__rate_interval for a 2s scrape interval: Grafana's rule, 4 x the scrape interval, rounded up. */
const RATE_INTERVAL = "10s";

/** The ops jobs run here, in this order (verify restores the backup that backup wrote). */
const opsChain = ["backup", "verify", "dr-drill"] as const;
/** Panels that read the weekly report's figures (the report job's metric), not a live series. */
const fromReport = (q: { dashboard: string }) => q.dashboard === "scorecard";
/** Scans seeded as finished long past the retention (SCANS_RETENTION_DAYS, 90 by default): cleanup's work. */
const OLD_SCANS = 5;
/** The alerts on the job metrics: with every job just succeeded, none may be pending or firing. */
const jobAlerts = [
  "BackupTooOld",
  "BackupLastRunFailed",
  "BackupVerificationFailed",
  "DrDrillTooOld",
  "CleanupJobFailed",
];

// Where the alerting helper's local config sends each receiver (test/support/alertmanager-local.ts).
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
    skip: requireBinaries(
      "postgres",
      "initdb",
      "pg_dump",
      "pg_restore",
      "redis-server",
      "redis-cli",
      "prometheus",
      "alertmanager",
    ),
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
    let textfileDir = "";
    let silencedAt = 0;
    let demoLogDir = "";
    let opsRuns: Promise<Record<string, NodeRun>> | undefined;
    let opsDoneAt = "";
    const started = Date.now();
    const scratchDirs: string[] = [];
    const scratch = (name: string) => {
      const d = tempDir(name);
      scratchDirs.push(d);
      return d;
    };

    /**
     * The dashboard queries still without data after retrying the empty ones for up to 20 s (a
     * query may lack data for a moment, between scrapes or evaluations), as "dashboard / panel: expr".
     */
    async function withoutData(
      queries: ReturnType<typeof allPromQueries>,
      intervalMs: number,
    ): Promise<string[]> {
      let empty: string[] = [];
      await waitFor(
        "every query to return data",
        async () => {
          empty = [];
          for (const q of queries)
            if ((await query(q.expr)).length === 0) empty.push(`${q.dashboard} / ${q.panel}: ${q.expr}`);
          return empty.length === 0;
        },
        20_000,
        intervalMs,
      ).catch(() => {});
      return empty;
    }

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
      const wiring = demoWiring({
        databaseUrl: pg.url,
        redisUrl: redis.url,
        apiPort,
        mcpPorts: [mcp1, mcp2],
      });
      demo = startNode("demo", "demo/src/main.ts", {
        ...wiring.demo,
        DEMO_LOG_DIR: (demoLogDir = scratch("e2e-logs")),
        // Fast enough that scans finish every second: the scan panels need finished scans.
        DEMO_SCAN_INTERVAL_SECONDS: "0.2",
        DEMO_SCAN_TIME_SCALE: "0.005",
        DEMO_MAX_RUNNING_SCANS: "8",
        DEMO_TRAFFIC_RPS: "20",
      });
      exporterUrl = `http://127.0.0.1:${exporterPort}`;
      exporter = startNode("exporter", "exporter/src/main.ts", {
        EXPORTER_LISTEN_ADDRESS: `127.0.0.1:${exporterPort}`,
        ...wiring.exporter,
        EXPORTER_TEXTFILE_DIR: (textfileDir = scratch("e2e-textfile")),
      });
      // Prometheus scrapes itself and Alertmanager on ports the harness picks when it starts them:
      // start with placeholders, then write the final configuration and reload (the lifecycle API).
      const rewrite = (prometheusPort: string, alertmanagerPort: string) =>
        localStackPrometheusConfig({
          exporterPort,
          apiPort,
          prometheusPort,
          alertmanagerPort,
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
      // The demo has applied the scans DDL by now (before it listens). The ops jobs run while
      // Prometheus and Alertmanager start; a test below awaits them.
      opsRuns = runOpsJobs(scratch("e2e-backups"));
      opsRuns.catch(() => {});

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

    /**
     * Seeds OLD_SCANS scans finished long ago, then runs the ops CLI (`npm run ops -- <command>`) once
     * per job: backup, verify and dr-drill one after the other, cleanup beside them.
     */
    async function runOpsJobs(backupDir: string): Promise<Record<string, NodeRun>> {
      await pg.query(
        `INSERT INTO scans (tool, target, status, created_at, started_at, finished_at)
         SELECT 'nmap', 'e2e-old-' || i, 'success', now() - interval '120 days',
                now() - interval '120 days', now() - interval '120 days' + interval '5 minutes'
           FROM generate_series(1, $1) i`,
        [OLD_SCANS],
      );
      const env = {
        DATABASE_URL: pg.url,
        REDIS_URL: redis.url,
        OPS_PG_BIN_DIR: dirname(findBinary("pg_dump")!),
        OPS_BACKUP_DIR: backupDir,
        OPS_TEXTFILE_DIR: textfileDir,
        // The demo's own log folder: cleanup judges its rotated files (all recent here, so kept).
        OPS_LOG_DIR: demoLogDir,
      };
      const runs: Record<string, NodeRun> = {};
      const run = async (command: string) => {
        runs[command] = await runNode("ops/src/cli.ts", [command], env);
      };
      await Promise.all([
        (async () => {
          for (const c of opsChain) await run(c);
        })(),
        run("cleanup"),
      ]);
      opsDoneAt = elapsed();
      return runs;
    }

    after(async () => {
      clearInterval(poller);
      // Jobs still running (a test failed early) finish before their servers go away.
      await opsRuns?.catch(() => {});
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

    test("the ops jobs (backup, verify, dr-drill, cleanup) succeed against this PostgreSQL and Redis", async () => {
      assert.ok(opsRuns, "the ops jobs were started");
      const runs = await opsRuns;
      for (const [command, r] of Object.entries(runs))
        assert.equal(r.code, 0, `ops ${command} exited ${r.code}:\n${r.output}`);
      assert.deepEqual(Object.keys(runs).sort(), [...opsChain, "cleanup"].sort());
      // What the exporter publishes from the jobs' files, as Prometheus scraped it.
      const jobLabels = ["backup", "verify", "dr_drill", "cleanup"];
      await waitFor(
        "every job's last run in Prometheus",
        async () => {
          const ok = await query(`kali_agents_job_last_run_success{job="${jobs.exporter}"} == 1`);
          return jobLabels.every((j) => ok.some((s) => s.metric.exported_job === j));
        },
        30_000,
        500,
      );
      const [verified] = await query(`kali_agents_backup_verification_success{job="${jobs.exporter}"}`);
      assert.equal(verified?.value[1], "1", "the backup verified");
      const deleted = await query(`kali_agents_cleanup_deleted_rows{job="${jobs.exporter}", table="scans"}`);
      assert.equal(deleted[0]?.value[1], String(OLD_SCANS), "cleanup deleted the scans past retention");
      console.log(
        `e2e: ops jobs: ${Object.entries(runs)
          .map(([c, r]) => `${c} ${r.seconds.toFixed(1)}s`)
          .join(", ")} (processes through tsx; backup -> verify -> dr-drill in sequence, cleanup beside), ` +
          `all done at ${opsDoneAt}`,
      );
    });

    test("every PromQL query of every generated dashboard returns data", async () => {
      // The Operations scorecard's figures exist once jobs have run while Prometheus watched (a counter
      // first seen at 1 has not increased yet) and a report has measured an incident: its panels are
      // checked by the test that runs a backup and the report after the Redis incident below.
      const queries = allPromQueries({ __rate_interval: RATE_INTERVAL }).filter((q) => !fromReport(q));
      assert.ok(queries.length > 50, `${queries.length} queries`);
      const onJobMetrics = queries.filter((q) => q.onJobMetrics).length;
      assert.ok(onJobMetrics > 0, "some panels read the job metrics");
      // Rates need two samples inside RATE_INTERVAL, and the scans panels a finished scan.
      await waitFor(
        "finished scans and two scrapes",
        async () => (await query(`rate(kali_agents_scans_total[${RATE_INTERVAL}])`)).length > 0,
        30_000,
        500,
      );
      // A query may lack data for a moment (a rate window between scrapes): retry the empty ones.
      const empty = await withoutData(queries, 2000);
      assert.deepEqual(empty, [], "queries without data");
      console.log(
        `e2e: ${queries.length} dashboard queries return data, ${onJobMetrics} of them on the ops jobs' metrics; none excused (the report's ${allPromQueries({ __rate_interval: RATE_INTERVAL }).filter((q) => fromReport(q)).length} come after the report)`,
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

      // The on-call engineer acknowledges it: a silence while it fires (the weekly report's alert
      // response measures this). The notifications above were sent before it.
      const silence = await fetch(`${am.url}/api/v2/silences`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          matchers: [{ name: "alertname", value: "RedisDown", isRegex: false, isEqual: true }],
          startsAt: new Date().toISOString(),
          endsAt: new Date(Date.now() + 3_600_000).toISOString(),
          createdBy: "e2e-oncall",
          comment: "acknowledged: Redis is being restarted",
        }),
      });
      assert.equal(silence.status, 200, await silence.text());
      silencedAt = Date.now();

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

    test("after the Redis incident, the weekly report measures it and its scorecard panels return data", async () => {
      assert.ok(silencedAt > 0, "the Redis test acknowledged its incident");
      // A second backup, while Prometheus scrapes the job counters: the 30-day success ratio has an
      // increase to divide.
      const backupRun = await runNode("ops/src/cli.ts", ["backup"], {
        DATABASE_URL: pg.url,
        REDIS_URL: redis.url,
        OPS_PG_BIN_DIR: dirname(findBinary("pg_dump")!),
        OPS_BACKUP_DIR: scratch("e2e-backups-2"),
        OPS_TEXTFILE_DIR: textfileDir,
        OPS_LOG_DIR: demoLogDir,
      });
      assert.equal(backupRun.code, 0, backupRun.output);
      await waitFor(
        "the backup success ratio recorded",
        async () => (await query("kali_agents:backup_success:ratio30d")).length > 0,
        30_000,
        500,
      );
      // The report as of 6 minutes from now: by its rule an incident is over when its alert has not
      // fired for 5 minutes, and RedisDown resolved moments ago.
      const until = new Date(Date.now() + 6 * 60_000).toISOString();
      const run = await runNode("ops/src/cli.ts", ["report", "--until", until], {
        DATABASE_URL: pg.url,
        REDIS_URL: redis.url,
        PROMETHEUS_URL: prom.url,
        ALERTMANAGER_URL: am.url,
        OPS_REPORT_DIR: scratch("e2e-reports"),
        OPS_TEXTFILE_DIR: textfileDir,
        OPS_BACKUP_DIR: scratch("e2e-report-backups"),
      });
      assert.equal(run.code, 0, run.output);
      const figures = async () =>
        new Map(
          (await query(`kali_agents_report_scorecard{job="${jobs.exporter}"}`)).map((v) => [
            v.metric.figure,
            Number(v.value[1]),
          ]),
        );
      await waitFor(
        "the report's scorecard in Prometheus",
        async () => (await figures()).size > 0,
        30_000,
        500,
      );
      const f = await figures();
      // RedisDown fired and resolved (an incident) and was silenced while it fired (acknowledged).
      assert.ok((f.get("mean_recovery_seconds") ?? 0) > 0, JSON.stringify([...f]));
      assert.ok((f.get("mean_response_seconds") ?? 0) > 0, JSON.stringify([...f]));
      assert.ok((f.get("manual_interventions_30d") ?? 0) >= 1, JSON.stringify([...f]));
      const deferred = allPromQueries({ __rate_interval: RATE_INTERVAL }).filter((q) => fromReport(q));
      assert.ok(deferred.length > 0, "the scorecard dashboard reads the report's figures");
      const empty = await withoutData(deferred, 1000);
      assert.deepEqual(empty, [], "report panels without data");
      console.log(
        `e2e: weekly report ran in ${run.seconds.toFixed(1)}s; its ${deferred.length} scorecard panels return data`,
      );
    });

    test("no alert on the ops jobs' metrics is pending or firing: every job succeeded", async () => {
      const sel = `ALERTS{alertname=~"${jobAlerts.join("|")}"}`;
      // The absent() rule of BackupTooOld was pending until the backup's series arrived: wait for the
      // evaluation after that, then none may be there.
      let left: PromVector[] = [];
      await waitFor(
        "no job alert pending or firing",
        async () => (left = await query(sel)).length === 0,
        15_000,
        500,
      ).catch(() => {});
      assert.deepEqual(
        left.map((a) => `${a.metric.alertname}{reason="${a.metric.reason ?? ""}"} ${a.metric.alertstate}`),
        [],
      );
    });
  },
);
