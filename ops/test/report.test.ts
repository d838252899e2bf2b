// The weekly report against a real Prometheus holding data we wrote (backfilled with `promtool tsdb
// create-blocks-from openmetrics`, so every figure is known exactly) and a real PostgreSQL with scans.
// Two consecutive periods (one day each, `--days 1`, to keep the data small): the second report shows
// the first as its previous period.
import assert from "node:assert/strict";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
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
import { barChart, periodLength } from "../src/report/report-html.ts";
import { chartStepSeconds, scanBucketSeconds } from "../src/report/report.ts";
import type { Report } from "../src/report/report-model.ts";
import { opsConfig, publishedFrom, quietLogger, scansDdl, valueOf } from "./support.ts";

const STEP = 300; // seconds between samples
const DAY = 86_400;

/** Per-step increments (counters) or values (gauges) in period 1 (older) and period 2 (newer). */
interface Series {
  name: string;
  labels: Record<string, string>;
  kind: "counter" | "gauge";
  p1: number;
  p2: number;
  /** Gauge overrides at given offsets before the end (seconds). */
  spikes?: Record<number, number>;
}

const api = { job: jobs.api };
const exp = { job: jobs.exporter, instance: "exporter:9839" };
const series: Series[] = [
  { name: "http_request_duration_seconds_count", labels: api, kind: "counter", p1: 10, p2: 10 },
  { name: "http_request_duration_seconds_sum", labels: api, kind: "counter", p1: 3, p2: 2 },
  ...(
    [
      ["0.1", 2, 5],
      ["0.25", 5, 9],
      ["0.5", 9, 10],
      ["1", 10, 10],
      ["+Inf", 10, 10],
    ] as const
  ).map(([le, p1, p2]): Series => ({
    name: "http_request_duration_seconds_bucket",
    labels: { ...api, le },
    kind: "counter",
    p1,
    p2,
  })),
  { name: "http_requests_total", labels: { ...api, code: "200" }, kind: "counter", p1: 19, p2: 9 },
  { name: "http_requests_total", labels: { ...api, code: "500" }, kind: "counter", p1: 1, p2: 1 },
  {
    name: "node_cpu_seconds_total",
    labels: { ...exp, cpu: "0", mode: "idle" },
    kind: "counter",
    p1: 150,
    p2: 225,
  },
  {
    name: "node_cpu_seconds_total",
    labels: { ...exp, cpu: "0", mode: "user" },
    kind: "counter",
    p1: 150,
    p2: 75,
  },
  { name: "node_memory_MemTotal_bytes", labels: exp, kind: "gauge", p1: 4e9, p2: 4e9 },
  { name: "node_memory_MemAvailable_bytes", labels: exp, kind: "gauge", p1: 2e9, p2: 3e9 },
  {
    name: "kali_agents_active_scans",
    labels: { ...exp, tool: "nmap", status: "running" },
    kind: "gauge",
    p1: 2,
    p2: 3,
    spikes: { [6 * 3600]: 9, [DAY + 6 * 3600]: 5 },
  },
];

function openMetrics(end: number): string {
  const start = end - 2 * DAY - 3600;
  let out = "";
  for (const s of series) {
    const labels = Object.entries(s.labels)
      .map(([k, v]) => `${k}="${v}"`)
      .join(",");
    // Counters start high, so that increase() never extrapolates towards zero.
    let value = s.kind === "counter" ? 1_000_000 * s.p1 : 0;
    for (let t = start; t <= end; t += STEP) {
      const p = t <= end - DAY ? s.p1 : s.p2;
      if (s.kind === "counter") value += p;
      else value = s.spikes?.[end - t] ?? p;
      out += `${s.name}{${labels}} ${value} ${t}\n`;
    }
  }
  return out + "# EOF\n";
}

describe(
  "weekly report",
  { skip: requireBinaries("postgres", "initdb", "prometheus", "promtool", "alertmanager") },
  () => {
    let pgs: PostgresServer;
    let prom: HttpServer;
    let am: HttpServer;
    let config: Config;
    let dirs: Record<string, string>;
    // A 5-minute boundary ten minutes ago: the newest data lies in the past, before Prometheus' head.
    const end = Math.floor(Date.now() / 1000 / STEP) * STEP - 600;
    const { log } = quietLogger();

    before(async () => {
      [pgs, prom, am] = await Promise.all([
        startPostgres(),
        startPrometheus("global:\n  scrape_interval: 1m\n"),
        startAlertmanager("route:\n  receiver: none\nreceivers:\n  - name: none\n"),
      ]);
      await prom.stop();
      const input = join(prom.dir, "backfill.om");
      writeFileSync(input, openMetrics(end));
      const r = run("promtool", [
        "tsdb",
        "create-blocks-from",
        "openmetrics",
        "-q",
        input,
        join(prom.dir, "data"),
      ]);
      assert.equal(r.status, 0, r.stderr);
      await prom.restart();

      await pgs.query(scansDdl);
      // Period 2: 4 successes of 60 s and 1 failure of 160 s; period 1: 2 successes of 100 s; and one
      // older and one still running, outside both.
      const scan = (status: string, finishedAgo: number, seconds: number) =>
        pgs.query(
          `INSERT INTO scans (tool, target, status, started_at, finished_at)
         VALUES ('nmap', 't', $1, to_timestamp($2::float8 - $3), to_timestamp($2::float8))`,
          [status, end - finishedAgo, seconds],
        );
      for (let i = 0; i < 4; i++) await scan("success", 3600 + i, 60);
      await scan("failed", 7200, 160);
      await scan("success", DAY + 3600, 100);
      await scan("success", DAY + 7200, 100);
      await scan("success", 3 * DAY, 100);
      await pgs.query(
        `INSERT INTO scans (tool, target, status, started_at) VALUES ('nmap', 't', 'running', now())`,
      );
      ({ config, dirs } = opsConfig({
        DATABASE_URL: pgs.url,
        PROMETHEUS_URL: prom.url,
        ALERTMANAGER_URL: am.url,
      }));
    });
    after(async () => {
      await Promise.all([pgs?.cleanup(), prom?.cleanup(), am?.cleanup()]);
      if (dirs) rmSync(dirs.root!, { recursive: true, force: true });
    });

    test("figures from PostgreSQL and Prometheus, JSON and Markdown, trend against the previous period", async () => {
      const first = await runJob(config, log, "report", {
        report: { until: new Date((end - DAY) * 1000), days: 1 },
      });
      assert.equal(first.ok, true, first.error?.message);
      const second = await runJob(config, log, "report", {
        report: { until: new Date(end * 1000), days: 1 },
      });
      assert.equal(second.ok, true, second.error?.message);

      const { json, markdown } = second.summary as { json: string; markdown: string };
      const r = JSON.parse(readFileSync(json, "utf8")) as Report;
      const close = (got: number | null, want: number, tolerance = 1e-9) =>
        assert.ok(got !== null && Math.abs(got - want) <= tolerance, `${got} is not ${want}`);
      assert.deepEqual(r.scans, { total: 5, successful: 4, failed: 1, avg_duration_seconds: 80 });
      close(r.performance.avg_response_time_seconds, 0.2);
      close(r.performance.p95_response_time_seconds, 0.375);
      close(r.performance.error_rate, 0.1);
      close(r.resources.avg_cpu_ratio, 0.25);
      // The sample on the periods' boundary belongs to both windows: 1 of 289 points is period 1's.
      close(r.resources.avg_memory_ratio, 0.25, 0.002);
      assert.equal(r.resources.peak_concurrent_scans, 9);

      const p = r.previous!.report;
      assert.equal(r.previous?.file.endsWith(".json"), true);
      assert.deepEqual(p.scans, { total: 2, successful: 2, failed: 0, avg_duration_seconds: 100 });
      close(p.performance.avg_response_time_seconds, 0.3);
      close(p.performance.p95_response_time_seconds, 0.75);
      close(p.performance.error_rate, 0.05);
      close(p.resources.avg_cpu_ratio, 0.5);
      assert.equal(p.resources.peak_concurrent_scans, 5);

      const md = readFileSync(markdown, "utf8");
      assert.match(md, /\| Scans finished \| 5 \| 2 \| \+150\.0% \|/);
      assert.match(md, /\| p95 API response time \| 375\.0 ms \| 750\.0 ms \| -50\.0% \|/);
      assert.match(md, /\| API error rate \(5xx\) \| 10\.00% \| 5\.00% \| \+100\.0% \|/);
      assert.match(md, /\| Peak concurrent scans \| 9 \| 5 \| \+80\.0% \|/);

      const { families, skipped } = await publishedFrom(dirs.textfile!);
      assert.deepEqual(skipped, []);
      assert.equal(valueOf(families, "kali_agents_job_last_run_success", { job: "report" }), 1);
      // Two runs started by a person (runJob's default trigger), every result and trigger series written.
      const runs = (result: string, trigger: string) =>
        valueOf(families, "kali_agents_job_runs_total", { job: "report", result, trigger });
      assert.deepEqual(
        [
          runs("success", "manual"),
          runs("failure", "manual"),
          runs("success", "scheduler"),
          runs("failure", "scheduler"),
        ],
        [2, 0, 0, 0],
      );
    });

    test("a period of hours (`--hours 3`): scans per 15-minute interval, its length in words", async () => {
      const r = await runJob(config, log, "report", { report: { until: new Date(end * 1000), hours: 3 } });
      assert.equal(r.ok, true, r.error?.message);
      const { json, html, markdown } = r.summary as { json: string; html: string; markdown: string };
      const rep = JSON.parse(readFileSync(json, "utf8")) as Report;
      assert.deepEqual(rep.period, {
        start: new Date((end - 3 * 3600) * 1000).toISOString(),
        end: new Date(end * 1000).toISOString(),
        days: 0.125,
        seconds: 10_800,
      });
      // The 4 successes finished 3600-3603 s before the end, the failure 7200 s before.
      assert.deepEqual(rep.scans, { total: 5, successful: 4, failed: 1, avg_duration_seconds: 80 });
      assert.ok(Math.abs(rep.performance.error_rate! - 0.1) < 1e-9, `${rep.performance.error_rate}`);
      const c = rep.charts!;
      assert.equal(c.step_seconds, 64);
      assert.equal(c.scans_per_interval?.bucket_seconds, 900);
      const buckets = c.scans_per_interval!.buckets;
      assert.equal(buckets.length, 12);
      assert.equal(buckets[0]!.start, rep.period.start);
      const busy = buckets.flatMap((b, i) => (b.total ? [[i, b.successful, b.failed]] : []));
      // Bucket 8 starts exactly 3600 s before the end (start inclusive): the success at end-3600.
      assert.deepEqual(busy, [
        [4, 0, 1],
        [7, 3, 0],
        [8, 1, 0],
      ]);
      const page = readFileSync(html, "utf8");
      assert.match(page, /UTC \(3 hours\)<\/p>/);
      assert.match(page, />Scans finished per 15 minutes</);
      assert.match(page, />This period<\/th>/);
      assert.doesNotMatch(page, /week<\/th>/);
      const md = readFileSync(markdown, "utf8");
      assert.match(md, /\(3 hours, UTC\)\.$/m);
      assert.match(md, /^\| Figure \| This period \| Previous period \| Change \|$/m);
    });

    test("an unreachable Prometheus fails the report with one line naming it", async () => {
      const { config: c } = opsConfig({
        DATABASE_URL: pgs.url,
        PROMETHEUS_URL: "http://127.0.0.1:9",
        ALERTMANAGER_URL: am.url,
      });
      const r = await runJob(c, log, "report");
      assert.equal(r.ok, false);
      assert.match(r.error!.message, /^Prometheus at http:\/\/127\.0\.0\.1:9 is not reachable/);
    });

    test("an unreachable Alertmanager fails the report with one line naming it", async () => {
      const { config: c } = opsConfig({
        DATABASE_URL: pgs.url,
        PROMETHEUS_URL: prom.url,
        ALERTMANAGER_URL: "http://127.0.0.1:9",
      });
      const r = await runJob(c, log, "report", { report: { until: new Date(end * 1000), days: 1 } });
      assert.equal(r.ok, false);
      assert.match(r.error!.message, /^Alertmanager at http:\/\/127\.0\.0\.1:9 is not reachable/);
    });
  },
);

describe("weekly report: a period's step, scan intervals and length in words", () => {
  test("the charts' step: a point an hour over a week, a minute at the finest", () => {
    assert.deepEqual([7 * DAY, DAY, 3 * 3600, 3600, 900].map(chartStepSeconds), [3600, 514, 64, 60, 60]);
  });
  test("the scans' interval under a day: at most 24 bars", () => {
    assert.deepEqual(
      [900, 1200, 1500, 3600, 6 * 3600, 12 * 3600, 23 * 3600].map(scanBucketSeconds),
      [60, 60, 300, 300, 900, 1800, 3600],
    );
  });
  test("a bar chart's ticks: under each of up to 12 bars, under every 2nd of 20", () => {
    const ticks = (n: number) =>
      [
        ...barChart(
          "c",
          "t",
          Array.from({ length: n }, (_, i) => ({
            label: `bar ${i}`,
            tick: `t${i}`,
            parts: [{ name: "p", value: 1, color: "#000" }],
          })),
        ).matchAll(/data-tick="">([^<]*)</g),
      ].map((m) => m[1]);
    assert.deepEqual(ticks(7), ["t0", "t1", "t2", "t3", "t4", "t5", "t6"]);
    assert.equal(ticks(12).length, 12);
    assert.deepEqual(ticks(20), ["t0", "t2", "t4", "t6", "t8", "t10", "t12", "t14", "t16", "t18"]);
  });

  test("a period's length in words", () => {
    assert.deepEqual(
      [
        { days: 7, seconds: 7 * DAY },
        { days: 1 },
        { days: 0.25, seconds: 6 * 3600 },
        { days: 1 / 16, seconds: 5400 },
        { days: 0, seconds: 900 },
        { days: 0, seconds: 60 },
      ].map(periodLength),
      ["7 days", "1 day", "6 hours", "1.5 hours", "15 minutes", "1 minute"],
    );
  });
});
