// `report`: the weekly performance report (seed section 6). Scans from PostgreSQL, API and resource
// figures from Prometheus' HTTP API (instant queries over the whole window, at the period's end), the
// previous report's figures beside them when it exists. Writes report-<end date>.json and .md.
import { promises as fs } from "node:fs";
import { join } from "node:path";
import { selectors } from "../../definitions/thresholds.ts";
import { histogramSeries, increase, rate, series } from "../../lib/promql.ts";
import type { Config } from "./config.ts";
import { required } from "./config.ts";
import type { Logger } from "../../lib/log.ts";
import { quoteIdent } from "../../lib/sql.ts";
import { withClient } from "./pg.ts";

export interface Report {
  readonly period: { readonly start: string; readonly end: string; readonly days: number };
  readonly scans: { total: number; successful: number; failed: number; avg_duration_seconds: number | null };
  readonly performance: {
    avg_response_time_seconds: number | null;
    p95_response_time_seconds: number | null;
    error_rate: number | null;
  };
  readonly resources: {
    avg_cpu_ratio: number | null;
    avg_memory_ratio: number | null;
    peak_concurrent_scans: number | null;
  };
  readonly previous?: { readonly file: string; readonly report: Omit<Report, "previous"> };
}

/** The PromQL of each figure, over window `w` (e.g. `604800s`). */
export function reportQueries(
  w: string,
): Record<keyof Report["performance"] | keyof Report["resources"], string> {
  const api = selectors.api;
  const exp = selectors.exporter;
  const inc = (selector: string) => increase(selector, w);
  const hist = (part: "sum" | "count" | "bucket") =>
    histogramSeries("http_request_duration_seconds", part, api);
  return {
    avg_response_time_seconds: `sum(${inc(hist("sum"))}) / sum(${inc(hist("count"))})`,
    p95_response_time_seconds: `histogram_quantile(0.95, sum by (le) (${inc(hist("bucket"))}))`,
    // `or vector(0)`: a week without a single 5xx has no such series, and that is a 0 rate, not no data.
    error_rate: `(sum(${inc(series("http_requests_total", api, `code=~"5.."`))}) or vector(0)) / sum(${inc(series("http_requests_total", api))})`,
    avg_cpu_ratio: `1 - avg(${rate(series("node_cpu_seconds_total", exp, `mode="idle"`), w)})`,
    avg_memory_ratio: `avg_over_time((1 - sum(${series("node_memory_MemAvailable_bytes", exp)}) / sum(${series("node_memory_MemTotal_bytes", exp)}))[${w}:5m])`,
    peak_concurrent_scans: `max_over_time(sum(${series("kali_agents_active_scans", exp, `status="running"`)})[${w}:1m])`,
  };
}

async function instant(base: string, query: string, at: Date): Promise<number | null> {
  const u = new URL("/api/v1/query", base);
  u.searchParams.set("query", query);
  u.searchParams.set("time", String(at.getTime() / 1000));
  let res: Response;
  try {
    res = await fetch(u, { signal: AbortSignal.timeout(60_000) });
  } catch (e) {
    throw new Error(`Prometheus at ${base} is not reachable: ${(e as Error).message}`);
  }
  const body = (await res.json().catch(() => ({}))) as {
    status?: string;
    error?: string;
    data?: { resultType: string; result: { value: [number, string] }[] };
  };
  if (!res.ok || body.status !== "success")
    throw new Error(`Prometheus answered ${res.status} to ${query}: ${body.error ?? "no error text"}`);
  const v = body.data?.result[0]?.value[1];
  if (v === undefined) return null;
  const n = Number(v);
  // NaN (0/0: no requests in the week) is "no data", not a figure.
  return Number.isFinite(n) ? n : null;
}

async function scanFigures(config: Config, start: Date, end: Date): Promise<Report["scans"]> {
  const url = required(config, "databaseUrl", "report");
  const { schema, table } = config.scansTable;
  return withClient(url, async (c) => {
    const r = await c.query<{ total: string; ok: string; failed: string; avg: number | null }>(
      `SELECT count(*) AS total,
              count(*) FILTER (WHERE status = 'success') AS ok,
              count(*) FILTER (WHERE status = 'failed') AS failed,
              avg(EXTRACT(EPOCH FROM finished_at - started_at)) FILTER (WHERE started_at IS NOT NULL)::float8 AS avg
         FROM ${quoteIdent(schema)}.${quoteIdent(table)}
        WHERE finished_at >= $1 AND finished_at < $2`,
      [start, end],
    );
    const row = r.rows[0]!;
    return {
      total: Number(row.total),
      successful: Number(row.ok),
      failed: Number(row.failed),
      avg_duration_seconds: row.avg === null ? null : Number(row.avg),
    };
  });
}

const reportName = (end: Date) => `report-${end.toISOString().slice(0, 10)}`;

/** The report whose period ended within a day of `start` (last week's), if the folder holds one. */
async function findPrevious(dir: string, start: Date): Promise<Report["previous"]> {
  let names: string[] = [];
  try {
    names = (await fs.readdir(dir))
      .filter((n) => /^report-\d{4}-\d\d-\d\d\.json$/.test(n))
      .sort()
      .reverse();
  } catch {
    return undefined;
  }
  for (const n of names) {
    try {
      const r = JSON.parse(await fs.readFile(join(dir, n), "utf8")) as Report;
      const end = new Date(r.period.end).getTime();
      if (Math.abs(end - start.getTime()) <= 24 * 3600 * 1000) {
        const { previous: _drop, ...rest } = r;
        return { file: n, report: rest };
      }
    } catch {
      // Not a report of ours: skipped.
    }
  }
  return undefined;
}

const fmt = (v: number | null, unit: "s" | "%" | "n"): string => {
  if (v === null) return "no data";
  if (unit === "%") return `${(v * 100).toFixed(2)}%`;
  if (unit === "s") return v < 1 ? `${(v * 1000).toFixed(1)} ms` : `${v.toFixed(2)} s`;
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
};

function change(now: number | null, before: number | null | undefined): string {
  if (now === null || before === null || before === undefined) return "";
  if (before === 0) return now === 0 ? "=" : "new";
  const pct = ((now - before) / Math.abs(before)) * 100;
  return `${pct >= 0 ? "+" : ""}${pct.toFixed(1)}%`;
}

export function renderMarkdown(r: Report): string {
  const p = r.previous?.report;
  const rows: [string, number | null, number | null | undefined, "s" | "%" | "n"][] = [
    ["Scans finished", r.scans.total, p?.scans.total, "n"],
    ["Successful", r.scans.successful, p?.scans.successful, "n"],
    ["Failed", r.scans.failed, p?.scans.failed, "n"],
    ["Average scan duration", r.scans.avg_duration_seconds, p?.scans.avg_duration_seconds, "s"],
    [
      "Average API response time",
      r.performance.avg_response_time_seconds,
      p?.performance.avg_response_time_seconds,
      "s",
    ],
    [
      "p95 API response time",
      r.performance.p95_response_time_seconds,
      p?.performance.p95_response_time_seconds,
      "s",
    ],
    ["API error rate (5xx)", r.performance.error_rate, p?.performance.error_rate, "%"],
    ["Average CPU busy", r.resources.avg_cpu_ratio, p?.resources.avg_cpu_ratio, "%"],
    ["Average memory used", r.resources.avg_memory_ratio, p?.resources.avg_memory_ratio, "%"],
    ["Peak concurrent scans", r.resources.peak_concurrent_scans, p?.resources.peak_concurrent_scans, "n"],
  ];
  const lines = [
    `# Kali Agents weekly performance report`,
    ``,
    `Period: ${r.period.start} to ${r.period.end} (${r.period.days} days, UTC).`,
    r.previous ? `Previous week: ${r.previous.file}.` : `No report of the previous week to compare with.`,
    ``,
    `| Figure | This week | Previous week | Change |`,
    `| --- | --- | --- | --- |`,
    ...rows.map(
      ([name, v, before, unit]) =>
        `| ${name} | ${fmt(v, unit)} | ${before === undefined ? "" : fmt(before, unit)} | ${change(v, before)} |`,
    ),
    ``,
  ];
  return lines.join("\n");
}

export interface ReportOptions {
  /** End of the period (default now). */
  readonly until?: Date;
  readonly days?: number;
}

export async function weeklyReport(
  config: Config,
  log: Logger,
  opts: ReportOptions = {},
): Promise<{ report: Report; json: string; markdown: string }> {
  const days = opts.days ?? 7;
  const end = opts.until ?? new Date();
  const start = new Date(end.getTime() - days * 24 * 3600 * 1000);
  const queries = reportQueries(`${days * 24 * 3600}s`);
  const values: Record<string, number | null> = {};
  for (const [k, q] of Object.entries(queries)) values[k] = await instant(config.prometheusUrl, q, end);
  const report: Report = {
    period: { start: start.toISOString(), end: end.toISOString(), days },
    scans: await scanFigures(config, start, end),
    performance: {
      avg_response_time_seconds: values.avg_response_time_seconds ?? null,
      p95_response_time_seconds: values.p95_response_time_seconds ?? null,
      error_rate: values.error_rate ?? null,
    },
    resources: {
      avg_cpu_ratio: values.avg_cpu_ratio ?? null,
      avg_memory_ratio: values.avg_memory_ratio ?? null,
      peak_concurrent_scans: values.peak_concurrent_scans ?? null,
    },
    previous: await findPrevious(config.reportDir, start),
  };
  await fs.mkdir(config.reportDir, { recursive: true });
  const base = join(config.reportDir, reportName(end));
  const markdown = renderMarkdown(report);
  for (const [path, text] of [
    [`${base}.json`, JSON.stringify(report, null, 2) + "\n"],
    [`${base}.md`, markdown],
  ] as const) {
    await fs.writeFile(`${path}.tmp`, text);
    await fs.rename(`${path}.tmp`, path);
  }
  log.info("weekly report written", { json: `${base}.json`, markdown: `${base}.md` });
  return { report, json: `${base}.json`, markdown: `${base}.md` };
}
