// `npm run demo:report`: the demo's weekly report, made for real, and its screenshot for the docs.
//
// Starts throwaway servers with the test harness (PostgreSQL, Redis, Prometheus 3.14 and Alertmanager
// 0.33 from test/support), the demo workload and the exporter as processes (as the native e2e does,
// test/e2e/stack.test.ts), Prometheus with the committed prometheus.yml and generated rules (local
// targets, 5 s scrape and evaluation intervals) and Alertmanager with the committed routing (receivers
// to local sinks). Then, over DEMO_REPORT_MINUTES (default 20), while the demo's traffic and scans run:
// - `ops schedule` runs a backup every 3 minutes (trigger "scheduler"), and one backup is run by hand;
// - Redis is stopped: RedisDown fires, the on-call person silences it through Alertmanager's API
//   (the acknowledgement the report's alert response measures), and Redis is started again;
// - an error burst (a third of the API's requests answered 500) fires the fast-burn SLO alert, nobody
//   acknowledges it, and it resolves after the burst;
// - a slow spell (0.4 s added to each request) near the end moves the p95.
// At the period's end `ops report --until <end> --hours <minutes / 60>` writes the report; its figures
// (the JSON without the chart series) are printed, and the HTML page is opened in headless Chromium
// (Debian's chromium through playwright-core, as ops/test/scorecard.test.ts does) and screenshot, full
// page, into docs/operations/weekly-report.png (DEMO_REPORT_SCREENSHOT names another file).
//
// Everything is stopped and every temporary folder removed on the way out: at the end, on a failure
// and on SIGINT or SIGTERM. A script, not a test: CI does not run it (it takes the period's minutes).
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { localAlertmanagerConfig, writeLocalSecrets } from "../test/support/alertmanager-local.ts";
import { startHttpSink, startSmtpSink, type HttpSink, type SmtpSink } from "../test/support/sinks.ts";
import type { Report } from "../ops/src/report/report-model.ts";
import { demoWiring, runNode, startNode, type NodeProcess } from "../test/e2e/node-process.ts";
import { localStackPrometheusConfig } from "../test/e2e/prometheus-config.ts";
import { launchChromium } from "../test/support/chromium.ts";
import {
  findBinary,
  freePort,
  requireBinaries,
  sleep,
  startAlertmanager,
  startPostgres,
  startPrometheus,
  startRedis,
  tempDir,
  waitFor,
  type HttpServer,
  type PostgresServer,
  type RedisServer,
} from "../test/support/servers.ts";

const root = new URL("..", import.meta.url).pathname;
const INTERVAL = "5s";
/** Below this the incidents cannot resolve 5 minutes before the end (the report's rule for "over"). */
const READABLE_MINUTES = 20;

/** DEMO_REPORT_MINUTES: a whole number of minutes from 3 to 180; anything else is refused by name. */
export function parseMinutes(text: string | undefined): number {
  if (text === undefined || text === "") return READABLE_MINUTES;
  const n = Number(text);
  if (!/^[1-9]\d*$/.test(text) || n < 3 || n > 180)
    throw new Error(
      `DEMO_REPORT_MINUTES=${JSON.stringify(text)} is not a whole number of minutes from 3 to 180`,
    );
  return n;
}

const log = (msg: string) =>
  process.stderr.write(`demo-report ${new Date().toISOString().slice(11, 19)} ${msg}\n`);

// ------------------------------------------------------------------------------------------ cleanup

const cleanups: (() => Promise<unknown> | unknown)[] = [];
let cleaning: Promise<void> | undefined;
/** Registers what to stop or remove on the way out; once that has begun (Ctrl-C), it is done at once. */
function onExit(fn: () => Promise<unknown> | unknown): void {
  if (!cleaning) cleanups.push(fn);
  else
    void Promise.resolve()
      .then(fn)
      .catch((e: unknown) => log(`cleanup: ${(e as Error).message}`));
}
/** Runs the registered cleanups newest first, once; each one's failure is printed, not thrown. */
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const c of cleanups.splice(0).reverse()) {
      try {
        await c();
      } catch (e) {
        log(`cleanup: ${(e as Error).message}`);
      }
    }
  })();
  return cleaning;
}
const scratch = (name: string) => {
  const d = tempDir(`demo-report-${name}`);
  onExit(() => rmSync(d, { recursive: true, force: true }));
  return d;
};

// -------------------------------------------------------------------------------------------- run

async function main(): Promise<void> {
  const minutes = parseMinutes(process.env.DEMO_REPORT_MINUTES);
  const screenshot = resolve(
    process.env.DEMO_REPORT_SCREENSHOT || join(root, "docs/operations/weekly-report.png"),
  );
  const missing = requireBinaries(
    "postgres",
    "initdb",
    "pg_dump",
    "redis-server",
    "redis-cli",
    "prometheus",
    "alertmanager",
    "chromium",
  );
  if (missing) throw new Error(`cannot run: ${missing}`);
  if (minutes < READABLE_MINUTES)
    log(`${minutes} minutes: under ${READABLE_MINUTES}, an incident may still count as open at the end`);

  const [http, smtp]: [HttpSink, SmtpSink] = await Promise.all([startHttpSink(), startSmtpSink()]);
  onExit(() => Promise.allSettled([http.close(), smtp.close()]));
  const [pg, redis]: [PostgresServer, RedisServer] = await Promise.all([
    startPostgres(),
    startRedis({ args: ["--maxmemory", "256mb"] }),
  ]);
  onExit(() => Promise.allSettled([pg.cleanup(), redis.cleanup()]));

  const [apiPort, mcp1, mcp2, exporterPort] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const secretsDir = scratch("secrets");
  writeLocalSecrets(secretsDir, { httpUrl: http.url });
  const amStarting = startAlertmanager(
    localAlertmanagerConfig(readFileSync(join(root, "alertmanager/alertmanager.yml"), "utf8"), {
      httpUrl: http.url,
      smtpHostPort: smtp.hostPort,
      secretsDir,
    }),
  );
  const demoUrl = `http://127.0.0.1:${apiPort}`;
  const demoLogDir = scratch("logs");
  const textfileDir = scratch("textfile");
  const processes: NodeProcess[] = [];
  onExit(() => Promise.allSettled(processes.map((p) => p.stop())));
  const wiring = demoWiring({
    databaseUrl: pg.url,
    redisUrl: redis.url,
    apiPort,
    mcpPorts: [mcp1, mcp2],
  });
  const demo = startNode("demo", "demo/src/main.ts", {
    ...wiring.demo,
    DEMO_LOG_DIR: demoLogDir,
    // A scan every 2 s lasting seconds, not minutes: hundreds of finished scans in the period.
    DEMO_SCAN_INTERVAL_SECONDS: "2",
    DEMO_SCAN_TIME_SCALE: "0.05",
    DEMO_MAX_RUNNING_SCANS: "6",
    DEMO_TRAFFIC_RPS: "10",
  });
  processes.push(demo);
  const exporterUrl = `http://127.0.0.1:${exporterPort}`;
  const exporter = startNode("exporter", "exporter/src/main.ts", {
    EXPORTER_LISTEN_ADDRESS: `127.0.0.1:${exporterPort}`,
    ...wiring.exporter,
    EXPORTER_TEXTFILE_DIR: textfileDir,
  });
  processes.push(exporter);
  // Prometheus scrapes itself and Alertmanager on ports known once they run: placeholders, then reload.
  const rewrite = (prometheusPort: string, alertmanagerPort: string) =>
    localStackPrometheusConfig({
      exporterPort,
      apiPort,
      prometheusPort,
      alertmanagerPort,
      scrapeInterval: INTERVAL,
      evaluationInterval: INTERVAL,
    });
  const first = rewrite("1", "1");
  const promStarting = startPrometheus(first.yaml, { files: first.files });
  amStarting.catch(() => {});
  promStarting.catch(() => {});
  const [am, prom]: [HttpServer, HttpServer] = await Promise.all([amStarting, promStarting]);
  onExit(() => Promise.allSettled([prom.cleanup(), am.cleanup()]));
  const rewritten = rewrite(String(prom.port), new URL(am.url).port);
  writeFileSync(join(prom.dir, "prometheus.yml"), rewritten.yaml);
  const reload = await fetch(`${prom.url}/-/reload`, { method: "POST" });
  if (!reload.ok) throw new Error(`Prometheus refused the configuration: ${await reload.text()}`);
  await waitFor(
    "the demo API",
    async () => {
      if (demo.exited()) throw new Error(`demo exited:\n${demo.output()}`);
      return (await fetch(`${demoUrl}/health`)).ok;
    },
    60_000,
    250,
  );
  await waitFor(
    "the exporter",
    async () => {
      if (exporter.exited()) throw new Error(`exporter exited:\n${exporter.output()}`);
      return (await fetch(`${exporterUrl}/-/ready`)).ok;
    },
    60_000,
    250,
  );

  const query = async (expr: string) => {
    const res = await fetch(`${prom.url}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await res.json()) as { status: string; error?: string; data: { result: unknown[] } };
    if (body.status !== "success") throw new Error(`${expr}: ${body.error}`);
    return body.data.result;
  };
  const firing = async (alertname: string) =>
    (await query(`ALERTS{alertname="${alertname}", alertstate="firing"}`)).length > 0;
  const chaos = async (body: unknown) => {
    const res = await fetch(`${demoUrl}/chaos`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`POST /chaos ${JSON.stringify(body)}: ${res.status} ${await res.text()}`);
  };

  // The period starts now, with everything up.
  const start = Date.now();
  const end = start + minutes * 60_000;
  const at = (fraction: number) => start + fraction * minutes * 60_000;
  const until = async (t: number) => {
    const ms = t - Date.now();
    if (ms > 0) await sleep(ms);
  };
  log(
    `stack up (Prometheus ${prom.url}, Alertmanager ${am.url}, demo ${demoUrl}); the period runs ${minutes} minutes, to ${new Date(end).toISOString()}`,
  );

  const opsEnv = {
    DATABASE_URL: pg.url,
    REDIS_URL: redis.url,
    OPS_PG_BIN_DIR: dirname(findBinary("pg_dump")!),
    OPS_BACKUP_DIR: scratch("backups"),
    OPS_TEXTFILE_DIR: textfileDir,
    OPS_LOG_DIR: demoLogDir,
  };
  // The scheduler's path: `ops schedule`, backups every 3 minutes, the other jobs off.
  const scheduler = startNode(
    "ops-schedule",
    "ops/src/cli.ts",
    {
      ...opsEnv,
      OPS_SCHEDULE_BACKUP: "*/3 * * * *",
      OPS_SCHEDULE_VERIFY: "off",
      OPS_SCHEDULE_CLEANUP: "off",
      OPS_SCHEDULE_DR_DRILL: "off",
      OPS_SCHEDULE_REPORT: "off",
    },
    ["schedule"],
  );
  processes.push(scheduler);
  const runs = (trigger: string) =>
    query(`kali_agents_job_runs_total{exported_job="backup", trigger="${trigger}", result="success"} > 0`);

  const events: Promise<void>[] = [];
  // A person runs one backup by hand, after the scheduler's first (two writers of one textfile at once
  // would race on its counters).
  events.push(
    (async () => {
      await waitFor(
        "the scheduler's first backup",
        async () => (await runs("scheduler")).length > 0,
        240_000,
        2000,
      );
      const r = await runNode("ops/src/cli.ts", ["backup"], opsEnv);
      if (r.code !== 0) throw new Error(`ops backup exited ${r.code}:\n${r.output}`);
      log(`a backup by hand: ${r.seconds.toFixed(1)} s`);
    })(),
  );
  // Redis stops; RedisDown fires; the on-call person silences it a little later, then restarts Redis.
  events.push(
    (async () => {
      await until(at(0.05));
      await redis.stop();
      log("Redis stopped");
      await waitFor("RedisDown firing", () => firing("RedisDown"), 240_000, 1000);
      log("RedisDown firing");
      await sleep(20_000);
      const silence = await fetch(`${am.url}/api/v2/silences`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          matchers: [{ name: "alertname", value: "RedisDown", isRegex: false, isEqual: true }],
          startsAt: new Date().toISOString(),
          endsAt: new Date(Date.now() + 3_600_000).toISOString(),
          createdBy: "demo-oncall",
          comment: "acknowledged: Redis is being restarted",
        }),
      });
      if (!silence.ok) throw new Error(`silence refused: ${silence.status} ${await silence.text()}`);
      log("RedisDown silenced through Alertmanager's API");
      await sleep(30_000);
      await redis.restart();
      log("Redis started again");
    })(),
  );
  // An error burst long enough for the fast-burn alert's `for: 2m`; nobody acknowledges it.
  events.push(
    (async () => {
      await until(at(0.2));
      const seconds = Math.max(180, Math.round(0.15 * minutes * 60));
      await chaos({ mode: "error-burst", errorRatio: 0.33, durationSeconds: seconds });
      log(`error burst for ${seconds} s`);
    })(),
  );
  events.push(
    (async () => {
      await until(at(0.7));
      const seconds = Math.round(0.1 * minutes * 60);
      await chaos({ mode: "slow", latencySeconds: 0.4, durationSeconds: seconds });
      log(`slow spell for ${seconds} s`);
    })(),
  );
  // The first event to fail stops the run at once, not at the end of the period.
  const failed = new Promise<never>((_, reject) => {
    for (const e of events) e.catch(reject);
  });
  // 10 s past the end: the period's last samples scraped and its last rules evaluated.
  await Promise.race([until(end + 10_000), failed]);
  await Promise.all(events);
  await scheduler.stop();

  const reportDir = scratch("reports");
  const hours = String(minutes / 60);
  const report = await runNode(
    "ops/src/cli.ts",
    ["report", "--until", new Date(end).toISOString(), "--hours", hours],
    {
      DATABASE_URL: pg.url,
      PROMETHEUS_URL: prom.url,
      ALERTMANAGER_URL: am.url,
      OPS_REPORT_DIR: reportDir,
      OPS_TEXTFILE_DIR: textfileDir,
      OPS_BACKUP_DIR: opsEnv.OPS_BACKUP_DIR,
    },
  );
  if (report.code !== 0) throw new Error(`ops report exited ${report.code}:\n${report.output}`);
  const base = join(reportDir, `report-${new Date(end).toISOString().slice(0, 10)}`);
  const json = JSON.parse(readFileSync(`${base}.json`, "utf8")) as Report;
  const { charts, ...figures } = json;
  process.stdout.write(JSON.stringify(figures, null, 2) + "\n");
  const empty = emptyCharts(json);
  if (empty.length) throw new Error(`the report's charts without data: ${empty.join(", ")}`);

  await screenshotPage(`${base}.html`, screenshot, scratch("chromium-profile"));
  log(
    `report of ${minutes} minutes (${charts?.step_seconds} s step): ${screenshot} written ` +
      `(${readFileSync(screenshot).length} bytes)`,
  );
}

/** The charts of a report that have nothing to draw. */
function emptyCharts(r: Report): string[] {
  const c = r.charts;
  if (!c) return ["all (no charts)"];
  const scans = c.scans_per_interval?.buckets ?? c.scans_per_day;
  return Object.entries({
    scans: scans.some((b) => b.total > 0),
    api_p95_seconds: c.api_p95_seconds.length > 0,
    api_error_rate: c.api_error_rate.length > 0,
    cpu_ratio: c.cpu_ratio.length > 0,
    memory_ratio: c.memory_ratio.length > 0,
    filesystems: c.filesystems.some((f) => f.used_bytes.length > 0),
    database: c.database.some((d) => d.used_bytes.length > 0),
  }).flatMap(([name, ok]) => (ok ? [] : [name]));
}

/** Debian's chromium, headless, as the scorecard test launches it: a full-page screenshot of `html`. */
async function screenshotPage(html: string, out: string, profile: string): Promise<void> {
  const browser = await launchChromium(profile);
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`file://${html}`);
    if (errors.length) throw new Error(`the page logged errors: ${errors.join("; ")}`);
    const png = await page.screenshot({ fullPage: true });
    if (!existsSync(dirname(out))) throw new Error(`${dirname(out)} does not exist`);
    writeFileSync(out, png);
  } finally {
    await browser.close();
  }
}

if (process.argv[1] && /scripts\/demo-report\.ts$/.test(process.argv[1])) {
  const t0 = Date.now();
  let interrupted = false;
  for (const sig of ["SIGINT", "SIGTERM"] as const)
    process.once(sig, () => {
      interrupted = true;
      log(`${sig}: stopping everything`);
      void cleanup().finally(() => process.exit(130));
    });
  void main()
    .then(
      () => 0,
      (e: unknown) => {
        log(`failed: ${(e as Error).message}`);
        return 1;
      },
    )
    .then(async (code) => {
      await cleanup();
      log(`done in ${((Date.now() - t0) / 60_000).toFixed(1)} min, everything stopped and removed`);
      process.exit(interrupted ? 130 : code);
    });
}
