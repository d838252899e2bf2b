// The operations scorecard of the weekly report against real servers holding data of known values: a
// real Prometheus backfilled (promtool tsdb create-blocks-from openmetrics) with ALERTS history, the
// ops jobs' run counters and the series the charts draw; a real Alertmanager whose silences are
// created through its API; a real PostgreSQL with scans. Three consecutive periods of one day each
// (`--days 1`): P0 without any incident, P1 with an incident still firing at its end, P2 where that
// incident resolves (it spans the boundary) beside three others. Every scorecard figure is checked
// exactly; then the HTML page is opened in headless Chromium (Debian's chromium driven by
// playwright-core): screenshot, charts, console, figures against the JSON.
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { jobs } from "../../definitions/selectors.ts";
import {
  requireBinaries,
  run,
  startAlertmanager,
  startPostgres,
  startPrometheus,
  type HttpServer,
  type PostgresServer,
} from "../../test/support/servers.ts";
import type { Config } from "../src/config.ts";
import { runJob } from "../src/jobs.ts";
import type { Report } from "../src/report/report-model.ts";
import { startSmtpSink } from "../../test/support/sinks.ts";
import { loadConfig } from "../src/config.ts";
import { formatValue, scorecardRows } from "../src/report/report-html.ts";
import { headline } from "../src/report/report-model.ts";
import { readSmtpSettings } from "../src/report/report-mail.ts";
import { launchChromium } from "../../test/support/chromium.ts";
import { opsConfig, publishedFrom, quietLogger, scansDdl, valueOf } from "./support.ts";

const DAY = 86_400;
const exp = { job: jobs.exporter, instance: "exporter:9839" };
const api = { job: jobs.api };

interface Fixture {
  pgs: PostgresServer;
  prom: HttpServer;
  am: HttpServer;
  config: Config;
  dirs: Record<string, string>;
  /** End of P2 (unix seconds); P1 ends a day before, P0 two. */
  end: number;
  /** When alice's silence took effect (unix seconds, millisecond precision). */
  ack: number;
  reports: Report[];
  files: { json: string; markdown: string; html: string }[];
}

const labelText = (l: Record<string, string>) =>
  Object.entries(l)
    .map(([k, v]) => `${k}="${v}"`)
    .join(",");

/** OpenMetrics text of series given as sample lists (each series' samples in time order). */
function openMetrics(
  series: { name: string; labels: Record<string, string>; samples: [number, number][] }[],
) {
  let out = "";
  for (const s of series)
    for (const [t, v] of s.samples) out += `${s.name}{${labelText(s.labels)}} ${v} ${t.toFixed(3)}\n`;
  return out + "# EOF\n";
}

/** Firing samples every 60 s from `from` to `from + seconds`, both included. */
const firing = (from: number, seconds: number): [number, number][] =>
  Array.from({ length: seconds / 60 + 1 }, (_, i) => [from + i * 60, 1]);

async function createSilence(am: string, createdBy: string, matchers: object[]): Promise<number> {
  const res = await fetch(`${am}/api/v2/silences`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      matchers,
      startsAt: new Date().toISOString(),
      endsAt: new Date(Date.now() + DAY * 1000).toISOString(),
      createdBy,
      comment: "test",
    }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  const { silenceID } = (await res.json()) as { silenceID: string };
  const s = (await (await fetch(`${am}/api/v2/silence/${silenceID}`)).json()) as { startsAt: string };
  return Date.parse(s.startsAt) / 1000;
}

async function startFixture(): Promise<Fixture> {
  const [pgs, prom, am] = await Promise.all([
    startPostgres(),
    // 31 days of run counters: Prometheus' default retention (15 days) would drop half of them.
    startPrometheus("global:\n  scrape_interval: 1m\n", { args: ["--storage.tsdb.retention.time=60d"] }),
    startAlertmanager("route:\n  receiver: none\nreceivers:\n  - name: none\n"),
  ]);
  const matcher = (name: string, value: string, isRegex = false) => ({ name, value, isRegex, isEqual: true });
  // alice acknowledges ApiHighLatency; bob silences Redis alerts before any fires (not a response);
  // a bot's silence is automation, not a person's intervention.
  const ack = await createSilence(am.url, "alice", [matcher("alertname", "ApiHighLatency")]);
  await createSilence(am.url, "bob", [matcher("alertname", "Redis.*", true)]);
  await createSilence(am.url, "ops-bot", [matcher("alertname", "Watchdog")]);
  // P2 ends on a minute at least 15 minutes after the acknowledgement (a little in the future).
  const end = Math.ceil((ack + 900) / 60) * 60;

  const alert = (alertname: string, severity: string, samples: [number, number][]) => ({
    name: "ALERTS",
    labels: { alertname, alertstate: "firing", severity, job: "kali-agents-exporter" },
    samples,
  });
  const hourly = (from: number, f: (t: number) => number): [number, number][] => {
    const out: [number, number][] = [];
    for (let t = from; t <= end; t += 3600) out.push([t, f(t)]);
    return out;
  };
  // Runs: backup daily at end-3h (the one 10 days before failed), verify daily at end-2h, both by the
  // scheduler; cleanup by a person 5 hours and 10 days before the end.
  const runsBefore = (t: number, at: number[]) => at.filter((x) => x <= t).length;
  const daily = (offset: number) => Array.from({ length: 33 }, (_, k) => end - offset - k * DAY);
  const backupOk = daily(3 * 3600).filter((_, k) => k !== 10);
  const backupFailed = [end - 3 * 3600 - 10 * DAY];
  const verifyOk = daily(2 * 3600);
  const cleanupManual = [end - 5 * 3600, end - 10 * DAY];
  const counter = (job: string, result: string, trigger: string, at: number[]) => ({
    name: "kali_agents_job_runs_total",
    labels: { ...exp, exported_job: job, result, trigger },
    samples: hourly(end - 31 * DAY, (t) => runsBefore(t, at)),
  });
  const counters = [
    counter("backup", "success", "scheduler", backupOk),
    counter("backup", "failure", "scheduler", backupFailed),
    counter("backup", "success", "manual", []),
    counter("backup", "failure", "manual", []),
    counter("verify", "success", "scheduler", verifyOk),
    counter("cleanup", "success", "manual", cleanupManual),
    counter("cleanup", "success", "scheduler", []),
  ];
  // The charts' series over P2, every 5 minutes: API 10 requests (1 error) and p95 0.375 s per step,
  // CPU 25 % busy, memory 50 % used, "/" losing 2 GB a day from 100 GB, the database growing 1 GB a day.
  const five = (f: (t: number, i: number) => number): [number, number][] => {
    const out: [number, number][] = [];
    for (let t = end - DAY - 3600, i = 0; t <= end; t += 300, i++) out.push([t, f(t, i)]);
    return out;
  };
  const GB = 1e9;
  const fs = { ...exp, mountpoint: "/", fstype: "ext4", device: "/dev/sda1" };
  const charts = [
    ...(
      [
        ["0.25", 5],
        ["0.5", 9],
        ["+Inf", 10],
      ] as const
    ).map(([le, n]) => ({
      name: "http_request_duration_seconds_bucket",
      labels: { ...api, le },
      samples: five((_, i) => 1e6 + n * i),
    })),
    { name: "http_requests_total", labels: { ...api, code: "200" }, samples: five((_, i) => 1e6 + 9 * i) },
    { name: "http_requests_total", labels: { ...api, code: "500" }, samples: five((_, i) => 1e6 + i) },
    // A second API instance answered 1,000 requests an hour without an error from 10 to 4 days before
    // the end: in every period's 30 days, in no period's own day (P0's has no request at all).
    {
      name: "http_requests_total",
      labels: { ...api, instance: "api-2:8080", code: "200" },
      samples: Array.from(
        { length: 145 },
        (_, k) => [end - 10 * DAY + k * 3600, 1e6 + 1000 * k] as [number, number],
      ),
    },
    {
      name: "node_cpu_seconds_total",
      labels: { ...exp, cpu: "0", mode: "idle" },
      samples: five((_, i) => 1e6 + 225 * i),
    },
    {
      name: "node_cpu_seconds_total",
      labels: { ...exp, cpu: "0", mode: "user" },
      samples: five((_, i) => 1e6 + 75 * i),
    },
    { name: "node_memory_MemTotal_bytes", labels: exp, samples: five(() => 4 * GB) },
    { name: "node_memory_MemAvailable_bytes", labels: exp, samples: five(() => 2 * GB) },
    { name: "node_filesystem_size_bytes", labels: fs, samples: five(() => 200 * GB) },
    {
      name: "node_filesystem_avail_bytes",
      labels: fs,
      samples: five((t) => 100 * GB - ((t - (end - DAY)) / DAY) * 2 * GB),
    },
    {
      name: "pg_database_size_bytes",
      labels: { ...exp, datname: "kali" },
      samples: five((t) => 10 * GB + ((t - (end - DAY)) / DAY) * GB),
    },
  ];
  const D = DAY;
  const series = [
    // P1 to P2: PostgresDown fires 30 minutes before P1's end and resolves 30 minutes after (1 h).
    alert("PostgresDown", "critical", firing(end - D - 1800, 3600)),
    // P2: ApiHighLatency, acknowledged by alice's silence 10 minutes after it fired, lasts 20 minutes.
    alert("ApiHighLatency", "warning", firing(ack - 600, 1200)),
    // P2: HostHighCpuUsage twice (a gap of 10 minutes makes two incidents), never acknowledged.
    alert("HostHighCpuUsage", "warning", [
      ...firing(end - D + 7200, 300),
      ...firing(end - D + 7200 + 900, 60),
    ]),
    // P2: RedisDown still firing at the end; bob's silence was there before it fired.
    alert("RedisDown", "critical", firing(end - 600, 600)),
    // P1: ScansStuckRunning for 30 minutes.
    alert("ScansStuckRunning", "warning", firing(end - 2 * D + 3600, 1800)),
    // An info alert is no incident.
    { ...alert("HostRebooted", "info", firing(end - D + 600, 600)) },
    ...counters,
    ...charts,
  ];
  await prom.stop();
  const input = join(prom.dir, "backfill.om");
  writeFileSync(input, openMetrics(series));
  const r = run(
    "promtool",
    ["tsdb", "create-blocks-from", "openmetrics", "-q", input, join(prom.dir, "data")],
    {
      timeoutMs: 300_000,
    },
  );
  assert.equal(r.status, 0, r.stderr);
  await prom.restart();

  await pgs.query(scansDdl);
  // P2: 3 successes and 1 failure an hour before the end, 2 successes 20 hours before the end.
  const scan = (status: string, finishedAgo: number) =>
    pgs.query(
      `INSERT INTO scans (tool, target, status, started_at, finished_at)
       VALUES ('nmap', 't', $1, to_timestamp($2::float8 - 60), to_timestamp($2::float8))`,
      [status, end - finishedAgo],
    );
  for (let i = 0; i < 3; i++) await scan("success", 3600 + i);
  await scan("failed", 3700);
  await scan("success", 20 * 3600);
  await scan("success", 20 * 3600 + 1);

  const { config, dirs } = opsConfig({
    DATABASE_URL: pgs.url,
    PROMETHEUS_URL: prom.url,
    ALERTMANAGER_URL: am.url,
    OPS_REPORT_AUTOMATED_SILENCE_AUTHORS: "ops-bot",
  });
  fixtureEnv = {
    DATABASE_URL: pgs.url,
    PROMETHEUS_URL: prom.url,
    ALERTMANAGER_URL: am.url,
    OPS_REPORT_AUTOMATED_SILENCE_AUTHORS: "ops-bot",
    OPS_BACKUP_DIR: join(dirs.root!, "backups"),
    OPS_TEXTFILE_DIR: dirs.textfile!,
    OPS_REPORT_DIR: dirs.reports!,
  };
  const { log } = quietLogger();
  const reports: Report[] = [];
  const files: Fixture["files"] = [];
  for (const p of [2, 1, 0]) {
    const res = await runJob(config, log, "report", {
      report: { until: new Date((end - p * D) * 1000), days: 1 },
    });
    assert.equal(res.ok, true, res.error?.stack);
    const f = res.summary as Fixture["files"][number];
    files.push(f);
    reports.push(JSON.parse(readFileSync(f.json, "utf8")) as Report);
  }
  return { pgs, prom, am, config, dirs, end, ack, reports, files };
}

/** The fixture's configuration with more variables. */
function mailConfig(extra: Record<string, string>): Config {
  return loadConfig({ ...fixtureEnv, ...extra });
}
let fixtureEnv: Record<string, string> = {};

async function stopFixture(f: Partial<Fixture> | undefined) {
  await Promise.all([f?.pgs?.cleanup(), f?.prom?.cleanup(), f?.am?.cleanup()]);
  if (f?.dirs) rmSync(f.dirs.root!, { recursive: true, force: true });
}

describe(
  "weekly report: the operations scorecard",
  { skip: requireBinaries("postgres", "initdb", "prometheus", "promtool", "alertmanager") },
  () => {
    let f: Fixture;
    before(async () => {
      f = await startFixture();
    });
    after(() => stopFixture(f));

    test("P0, a period without any incident: no recovery or response figure, and no false one", () => {
      const s = f.reports[0]!.scorecard!;
      assert.deepEqual(s.recovery, {
        incidents: 0,
        mean_seconds: { value: null, target: 3600, met: null },
        p90_seconds: null,
        open: 0,
      });
      assert.deepEqual(s.response, {
        alerts: 0,
        acknowledged: 0,
        mean_seconds: { value: null, target: 900, met: null },
        p90_seconds: null,
        never_acknowledged_share: null,
        missed: 0,
      });
      assert.deepEqual(s.incidents, []);
      assert.deepEqual(s.automation, {
        runs: 2,
        scheduled: 2,
        manual: 0,
        automated_share: { value: 1, target: 0.8, met: true },
      });
    });

    test("P1: one incident resolved, one still firing at the end (it resolves in P2)", () => {
      const s = f.reports[1]!.scorecard!;
      assert.equal(s.recovery.incidents, 1);
      assert.deepEqual(s.recovery.mean_seconds, { value: 1800, target: 3600, met: true });
      assert.equal(s.recovery.p90_seconds, 1800);
      assert.equal(s.recovery.open, 1);
      assert.deepEqual(
        s.incidents.map((i) => [i.alertname, i.recovery_seconds, i.resolved_at === null]),
        [
          ["ScansStuckRunning", 1800, false],
          ["PostgresDown", null, true],
        ],
      );
      // Neither was acknowledged: ScansStuckRunning resolved unanswered after 30 minutes, PostgresDown
      // still fires unanswered 30 minutes on at the end. Both are missed responses.
      assert.deepEqual(s.response, {
        alerts: 2,
        acknowledged: 0,
        mean_seconds: { value: 1800, target: 900, met: false },
        p90_seconds: 1800,
        never_acknowledged_share: 1,
        missed: 2,
      });
      assert.deepEqual(s.interventions, {
        manual_runs_30d: 1,
        silences_by_people_30d: 0,
        total_30d: { value: 1, target: 5, met: true },
        silences_by_people: 0,
      });
    });

    test("P2: recovery per incident, mean and p90; the incident across the boundary counts whole", () => {
      const s = f.reports[2]!.scorecard!;
      assert.deepEqual(
        s.incidents.map((i) => [i.alertname, i.severity, i.recovery_seconds, i.response_seconds]),
        [
          ["PostgresDown", "critical", 3600, null],
          ["HostHighCpuUsage", "warning", 300, null],
          ["HostHighCpuUsage", "warning", 60, null],
          ["ApiHighLatency", "warning", 1200, 600],
          ["RedisDown", "critical", null, null],
        ],
      );
      // (3600 + 300 + 60 + 1200) / 4 = 1290; nearest-rank p90 of 4 values is the 4th.
      assert.deepEqual(s.recovery, {
        incidents: 4,
        mean_seconds: { value: 1290, target: 3600, met: true },
        p90_seconds: 3600,
        open: 1,
      });
      assert.equal(
        s.incidents.find((i) => i.alertname === "ApiHighLatency")!.acknowledged_at,
        new Date(f.ack * 1000).toISOString(),
      );
    });

    test("P2: alert response from the silence alice created; bob's earlier silence acknowledges nothing", () => {
      const s = f.reports[2]!.scorecard!;
      // Fired within P2: ApiHighLatency, HostHighCpuUsage twice, RedisDown (PostgresDown fired in P1).
      // Waits: ApiHighLatency 600 s to alice's acknowledgement; HostHighCpuUsage 300 and 60 s until they
      // resolved unanswered (two missed responses); RedisDown 600 s unanswered so far at the end (not
      // yet missed). Mean (600 + 300 + 60 + 600) / 4 = 390 s, under 15 minutes, but not met: two missed.
      assert.deepEqual(s.response, {
        alerts: 4,
        acknowledged: 1,
        mean_seconds: { value: 390, target: 900, met: false },
        p90_seconds: 600,
        never_acknowledged_share: 0.75,
        missed: 2,
      });
    });

    test("backups, automation and interventions from the run counters and the silences", () => {
      const s = f.reports[2]!.scorecard!;
      assert.deepEqual(s.backups, {
        runs_30d: 30,
        successful_30d: 29,
        success_rate_30d: { value: 29 / 30, target: 1, met: false },
      });
      assert.deepEqual(s.automation, {
        runs: 3,
        scheduled: 2,
        manual: 1,
        automated_share: { value: 2 / 3, target: 0.8, met: false },
      });
      // Manual runs: cleanup 5 hours and 10 days ago; silences: alice and bob (ops-bot is automation).
      assert.deepEqual(s.interventions, {
        manual_runs_30d: 2,
        silences_by_people_30d: 2,
        total_30d: { value: 4, target: 5, met: true },
        silences_by_people: 2,
      });
    });

    test("the report job publishes its scorecard for the dashboard (the textfile collector reads it)", async () => {
      const { families, skipped } = await publishedFrom(f.dirs.textfile!);
      assert.deepEqual(skipped, []);
      const fig = (figure: string) => valueOf(families, "kali_agents_report_scorecard", { figure });
      assert.equal(fig("mean_recovery_seconds"), 1290);
      assert.equal(fig("mean_response_seconds"), 390);
      assert.equal(fig("never_acknowledged_share"), 0.75);
      assert.equal(fig("manual_interventions_30d"), 4);
      assert.equal(
        valueOf(families, "kali_agents_job_runs_total", {
          job: "report",
          result: "success",
          trigger: "manual",
        }),
        3,
      );
    });

    test("uptime: the API's availability in the period and over 30 days; a period without a request has none", () => {
      // Prometheus' increase() over the backfilled counters, extrapolated as it does: a window's edge
      // within 1.1 sample intervals of the first sample is reached, a farther one by half an interval.
      // P2's day: 288 samples every 5 min, 1 in 10 requests a 5xx. Its 30 days add P1's 13 samples
      // (half an interval beyond) and the second instance's 144,000 requests (145,000 with its edges).
      const figures = f.reports.map((r) => r.scorecard!.uptime);
      const near = (got: number | null, want: number) =>
        assert.ok(got !== null && Math.abs(got - want) < 1e-12, `${got} is not ${want}`);
      // P0: no request in its day (null, not 100 %); 30 days: the second instance's, without an error.
      assert.deepEqual(figures[0]!.availability, { value: null, target: 0.999, met: null });
      assert.deepEqual(figures[0]!.availability_30d, { value: 1, target: 0.999, met: true });
      for (const p of [1, 2]) {
        near(figures[p]!.availability.value, 0.9);
        assert.equal(figures[p]!.availability.met, false);
        // The uptime and the report's error rate are one query: they add up to exactly 1.
        assert.equal(figures[p]!.availability.value, 1 - f.reports[p]!.performance.error_rate!);
      }
      near(figures[1]!.availability_30d.value, 1 - 12.5 / (12.5 + 112.5 + 145_000));
      near(figures[2]!.availability_30d.value, 1 - 300.5 / (300.5 + 2704.5 + 145_000));
      assert.equal(figures[2]!.availability_30d.met, false);
      const md = readFileSync(f.files[2]!.markdown, "utf8");
      assert.match(md, /\| Uptime \(API availability\) \| 90% \| ≥ 99\.9% \| no \| 90%, no data \|/);
      assert.match(md, /\| Uptime over 30 days \(the SLO\) \| 99\.8% \| ≥ 99\.9% \| no \|/);
    });

    test("documentation coverage as npm run generate measured it", () => {
      const s = f.reports[2]!.scorecard!;
      const measured = JSON.parse(
        readFileSync(
          join(import.meta.dirname, "../../definitions/generated/documentation-coverage.json"),
          "utf8",
        ),
      ) as { kinds: Record<string, { documented: number; total: number }> };
      assert.deepEqual(s.documentation.kinds, measured.kinds);
      const k = Object.values(measured.kinds);
      assert.equal(
        s.documentation.coverage.value,
        k.reduce((a, x) => a + x.documented, 0) / k.reduce((a, x) => a + x.total, 0),
      );
    });

    test("the trend: P2's report carries P1's and P0's figures, newest first", () => {
      const h = f.reports[2]!.history!;
      assert.deepEqual(
        h.map((e) => [e.period_end, e.figures.mean_recovery_seconds, e.figures.automated_share]),
        [
          [new Date((f.end - DAY) * 1000).toISOString(), 1800, 1],
          [new Date((f.end - 2 * DAY) * 1000).toISOString(), null, 1],
        ],
      );
      const md = readFileSync(f.files[2]!.markdown, "utf8");
      assert.match(md, /\| Mean time to recovery \| 21m 30s \| < 1h 00m \| yes \| 30m 00s, no data \|/);
      assert.match(md, /\| Backup success rate \(30 days\) \| 96\.67% \| ≥ 100% \| no \|/);
    });

    test("the charts' series: capacity trends give the dates the disk and the database fill", () => {
      const c = f.reports[2]!.charts!;
      const fsRoot = c.filesystems.find((x) => x.name === "/")!;
      const near = (got: number | null, want: number, tol: number) =>
        assert.ok(got !== null && Math.abs(got - want) <= tol, `${got} is not ${want}`);
      near(fsRoot.growth_bytes_per_day, 2e9, 1);
      near(fsRoot.free_bytes, 98e9, 1);
      // 98 GB free at 2 GB a day: 49 days after the end; the database (1 GB a day on "/"): 98 days.
      near(Date.parse(fsRoot.fills_at!) / 1000, f.end + 49 * DAY, 1);
      const db = c.database.find((x) => x.name === "kali")!;
      near(db.growth_bytes_per_day, 1e9, 1);
      near(Date.parse(db.fills_at!) / 1000, f.end + 98 * DAY, 1);
      assert.deepEqual(
        c.scans_per_day.reduce((a, d) => [a[0]! + d.successful, a[1]! + d.failed], [0, 0]),
        [5, 1],
      );
      for (const k of ["api_p95_seconds", "api_error_rate", "cpu_ratio", "memory_ratio"] as const)
        assert.ok(c[k].length > 100, `${k} has ${c[k].length} points`);
      near(c.api_error_rate.at(-1)![1], 0.1, 1e-9);
      near(c.cpu_ratio.at(-1)![1], 0.25, 1e-9);
    });

    test(
      "the HTML page in headless Chromium: every chart drawn, no console error, the JSON's figures",
      { skip: requireBinaries("chromium") },
      async () => {
        const browser = await launchChromium(join(f.dirs.root!, "chromium-profile"));
        try {
          const page = await browser.newPage();
          const errors: string[] = [];
          const requests: string[] = [];
          page.on("console", (m) => {
            if (m.type() === "error") errors.push(m.text());
          });
          page.on("pageerror", (e) => errors.push(e.message));
          page.on("request", (r) => requests.push(r.url()));
          const html = f.files[2]!.html;
          await page.goto(`file://${html}`);
          const shot = await page.screenshot({ fullPage: true });
          assert.ok(shot.length > 10_000, `screenshot of ${shot.length} bytes`);
          // Set REPORT_SCREENSHOT=<path> to keep it for a look (the docs' picture is the demo's, made by
          // `npm run demo:report`: docs/operations/scorecard.md).
          if (process.env.REPORT_SCREENSHOT) writeFileSync(process.env.REPORT_SCREENSHOT, shot);

          assert.deepEqual(errors, []);
          assert.deepEqual(requests, [`file://${html}`], "the page loads nothing but itself");
          assert.equal(await page.locator("script").count(), 0);
          const charts = await page.$$eval("svg[data-chart]", (svgs) =>
            svgs.map((s) => ({
              id: s.getAttribute("data-chart"),
              paths: [...s.querySelectorAll("path")].map((p) => p.getAttribute("d") ?? ""),
              box: s.getBoundingClientRect().height,
            })),
          );
          assert.deepEqual(
            charts.map((c) => c.id),
            [
              "scans-per-day",
              "success-rate",
              "api-p95",
              "api-errors",
              "cpu-memory",
              "capacity-fs",
              "capacity-db",
            ],
          );
          for (const c of charts) {
            assert.ok(c.paths.length > 0, `${c.id} has no path`);
            for (const d of c.paths)
              assert.match(d, /^M[\d.]+ [\d.]+( [LVHZ][\d. ]*)+/, `${c.id}: path ${d}`);
            assert.ok(c.box > 100, `${c.id} is ${c.box} px high`);
          }
          // The scorecard's figures on the page are the JSON's, printed as the Markdown prints them.
          const report = f.reports[2]!;
          const want = headline(report.scorecard!);
          const cells = await page.$$eval("[data-figure]", (els) =>
            els.map((e) => [e.getAttribute("data-figure"), e.getAttribute("data-value"), e.textContent]),
          );
          const rows = scorecardRows(report);
          assert.equal(cells.length, rows.length);
          for (const [key, value, text] of cells) {
            const v = want[key as keyof typeof want];
            assert.equal(value, v === null ? "" : String(v), `${key} data-value`);
            const row = rows.find((r) => r.key === key)!;
            assert.equal(text, formatValue(v, row.unit), `${key} text`);
          }
          assert.equal(await page.locator('[data-figure="mean_recovery_seconds"]').textContent(), "21m 30s");
          assert.equal(await page.locator('[data-figure="backup_success_rate_30d"]').textContent(), "96.67%");
          const fills = await page.locator('[data-capacity="fs:/:fills"]').textContent();
          assert.equal(fills, report.charts!.filesystems.find((x) => x.name === "/")!.fills_at!.slice(0, 10));
        } finally {
          await browser.close();
        }
      },
    );

    test("mailed through Alertmanager's SMTP settings: one message, HTML and text parts, the recipients", async () => {
      const sink = await startSmtpSink();
      try {
        // As compose runs it: the configuration names /run/secrets/alertmanager_smtp_password, where
        // Alertmanager sees it; the ops container has that folder at OPS_REPORT_SMTP_SECRETS_DIR.
        const secretsDir = join(f.dirs.root!, "alertmanager-secrets");
        mkdirSync(secretsDir);
        writeFileSync(join(secretsDir, "alertmanager_smtp_password"), "s3cret pass\n");
        const amConfig = join(f.dirs.root!, "alertmanager.yml");
        writeFileSync(
          amConfig,
          [
            "global:",
            `  smtp_smarthost: ${sink.hostPort}`,
            "  smtp_from: alertmanager@kali-agents.example",
            "  smtp_auth_username: alertmanager@kali-agents.example",
            "  smtp_auth_password_file: /run/secrets/alertmanager_smtp_password",
            "  smtp_require_tls: false",
            "route:\n  receiver: none\nreceivers:\n  - name: none",
          ].join("\n"),
        );
        const config = mailConfig({
          OPS_REPORT_MAIL_TO: "ops@example.com,lead@example.com",
          OPS_REPORT_SMTP_CONFIG: amConfig,
          OPS_REPORT_SMTP_SECRETS_DIR: secretsDir,
        });
        const { log, lines } = quietLogger();
        const r = await runJob(config, log, "report", { report: { until: new Date(f.end * 1000), days: 1 } });
        assert.equal(r.ok, true, r.error?.message);
        assert.equal(sink.mails.length, 1);
        const m = sink.mails[0]!;
        assert.deepEqual(m.to.sort(), ["lead@example.com", "ops@example.com"]);
        assert.equal(m.from, "alertmanager@kali-agents.example");
        assert.deepEqual(m.auth, { username: "alertmanager@kali-agents.example", password: "s3cret pass" });
        assert.match(m.subject, /^Kali Agents weekly report \d{4}-\d\d-\d\d$/);
        assert.match(m.raw, /Content-Type: multipart\/alternative/i);
        assert.match(m.raw, /Content-Type: text\/plain/i);
        assert.match(m.raw, /Content-Type: text\/html/i);
        assert.match(m.text, /Mean time to recovery: 21m 30s \(target < 1h 00m: met\)/);
        assert.match(m.text, /data-figure="mean_recovery_seconds"/);
        assert.match(m.text, /<svg id="capacity-db"/);
        // The password never reaches the log.
        assert.ok(!JSON.stringify(lines).includes("s3cret"));
      } finally {
        await sink.close();
      }
    });

    test("the SMTP password file: mapped into OPS_REPORT_SMTP_SECRETS_DIR, a missing one named with both paths", () => {
      const amConfig = join(f.dirs.root!, "alertmanager-mapped.yml");
      writeFileSync(
        amConfig,
        "global:\n  smtp_smarthost: smtp.example.com:587\n  smtp_from: a@example.com\n  smtp_auth_password_file: /run/secrets/alertmanager_smtp_password\n",
      );
      const empty = join(f.dirs.root!, "no-secrets");
      mkdirSync(empty);
      assert.throws(
        () => readSmtpSettings(amConfig, empty),
        new Error(
          `${amConfig}: global.smtp_auth_password_file /run/secrets/alertmanager_smtp_password (here ${empty}/alertmanager_smtp_password) cannot be read: ENOENT`,
        ),
      );
      // Without the folder the path is read as written (here: no such file either, named once).
      assert.throws(
        () => readSmtpSettings(amConfig),
        new Error(
          `${amConfig}: global.smtp_auth_password_file /run/secrets/alertmanager_smtp_password cannot be read: ENOENT`,
        ),
      );
      // A path outside /run/secrets/ is not Alertmanager's folder: read as written.
      writeFileSync(join(empty, "pw"), "x");
      writeFileSync(
        amConfig,
        `global:\n  smtp_smarthost: smtp.example.com:587\n  smtp_from: a@example.com\n  smtp_auth_password_file: ${join(empty, "pw")}\n`,
      );
      assert.equal(readSmtpSettings(amConfig, "/elsewhere").password, "x");
    });

    test("an unreachable SMTP server fails the report job, named, and keeps the files", async () => {
      const amConfig = join(f.dirs.root!, "alertmanager-unreachable.yml");
      writeFileSync(
        amConfig,
        "global:\n  smtp_smarthost: 127.0.0.1:9\n  smtp_from: a@example.com\n  smtp_require_tls: false\n",
      );
      const reports = join(f.dirs.root!, "reports-unreachable");
      const config = mailConfig({
        OPS_REPORT_MAIL_TO: "ops@example.com",
        OPS_REPORT_SMTP_CONFIG: amConfig,
        OPS_REPORT_DIR: reports,
      });
      const { log } = quietLogger();
      const r = await runJob(config, log, "report", { report: { until: new Date(f.end * 1000), days: 1 } });
      assert.equal(r.ok, false);
      assert.match(
        r.error!.message,
        /^report mail delivery failed \(the files are kept in .*\): SMTP server 127\.0\.0\.1:9 did not take the report: .*ECONNREFUSED/,
      );
      const day = new Date(f.end * 1000).toISOString().slice(0, 10);
      for (const ext of ["json", "md", "html"])
        assert.ok(readFileSync(join(reports, `report-${day}.${ext}`), "utf8").length > 100, ext);
      const { families } = await publishedFrom(f.dirs.textfile!);
      assert.equal(valueOf(families, "kali_agents_job_last_run_success", { job: "report" }), 0);
    });
  },
);
