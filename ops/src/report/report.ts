// `report`: the weekly performance report (seed section 6). Scans from PostgreSQL, API and resource
// figures from Prometheus' HTTP API (instant queries over the whole window, at the period's end), the
// previous report's figures beside them when it exists; the scorecard of the operations plan's success
// metrics (scorecard.ts) with the previous weeks' beside it; the series the HTML page charts. Writes
// report-<end date>.json, .md and .html (report-html.ts).
import { promises as fs } from "node:fs";
import { join } from "node:path";
import { selectors } from "../../../definitions/selectors.ts";
import { histogramSeries, increase, rate, series } from "../../../lib/promql.ts";
import type { Config, TableName } from "../config.ts";
import type { Logger } from "../../../lib/log.ts";
import { quoteIdent } from "../../../lib/sql.ts";
import type { Client } from "pg";
import { withClient } from "../pg.ts";
import { query, queryRange, scalar } from "./prometheus-api.ts";
import { scorecard } from "./scorecard.ts";
import { apiErrorRatio, cpuBusyRatio, hostMemoryUsedRatio } from "../../../lib/signals.ts";
import type { Capacity, Charts, HistoryEntry, Point, Report } from "./report-model.ts";
import { headline } from "./report-model.ts";
import {
  formatValue,
  periodLength,
  periodNoun,
  renderHtml,
  renderText,
  scorecardRows,
} from "./report-html.ts";
import { readSmtpSettings, sendMail } from "./report-mail.ts";

/** What the weekly report reads of the configuration besides DATABASE_URL. */
export const reportKeys = [
  "scansTable",
  "prometheusUrl",
  "alertmanagerUrl",
  "reportAutomatedSilenceAuthors",
  "reportDir",
  "reportDatabaseMountpoint",
  "reportMailTo",
  "reportSmtpConfig",
  "reportSmtpSecretsDir",
] as const satisfies readonly (keyof Config)[];
/** The weekly report's settings, resolved once at the door (jobs.ts). */
export interface ReportSettings extends Pick<Config, (typeof reportKeys)[number]> {
  /** The application database (DATABASE_URL, checked at the door to be set). */
  readonly databaseUrl: string;
}

/** The scans the report counts: the database and its table. */
interface ScansSource {
  readonly url: string;
  readonly table: TableName;
}

/**
 * The PromQL of each figure, over window `w` (e.g. `604800s`); `resolution` is the average memory's
 * subquery step (5 minutes; finer for a period of minutes, which a 5-minute step would miss).
 */
function reportQueries(
  w: string,
  resolution = "5m",
): Record<keyof Report["performance"] | keyof Report["resources"], string> {
  const api = selectors.api;
  const exp = selectors.exporter;
  const inc = (selector: string) => increase(selector, w);
  const hist = (part: "sum" | "count" | "bucket") =>
    histogramSeries("http_request_duration_seconds", part, api);
  return {
    avg_response_time_seconds: `sum(${inc(hist("sum"))}) / sum(${inc(hist("count"))})`,
    p95_response_time_seconds: `histogram_quantile(0.95, sum by (le) (${inc(hist("bucket"))}))`,
    error_rate: apiErrorRatio(w, undefined, increase),
    avg_cpu_ratio: cpuBusyRatio(w),
    avg_memory_ratio: `avg_over_time((${hostMemoryUsedRatio("sum")})[${w}:${resolution}])`,
    peak_concurrent_scans: `max_over_time(sum(${series("kali_agents_active_scans", exp, `status="running"`)})[${w}:1m])`,
  };
}

/**
 * What the report reads of the scans table, over one connection: the period's figures, its scans per
 * day, and, for a period shorter than a day, per interval.
 */
async function readScans(
  scans: ScansSource,
  start: Date,
  end: Date,
): Promise<{ figures: Report["scans"]; charts: Pick<Charts, "scans_per_day" | "scans_per_interval"> }> {
  const window = (end.getTime() - start.getTime()) / 1000;
  return withClient(scans.url, async (c) => ({
    figures: await scanFigures(c, scans.table, start, end),
    charts: {
      scans_per_day: await scansPerDay(c, scans.table, start, end),
      ...(window < 86_400
        ? { scans_per_interval: await scansPerInterval(c, scans.table, start, end, window) }
        : {}),
    },
  }));
}

async function scanFigures(
  c: Client,
  scansTable: TableName,
  start: Date,
  end: Date,
): Promise<Report["scans"]> {
  const { schema, table } = scansTable;
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
}

const reportName = (end: Date) => `report-${end.toISOString().slice(0, 10)}`;

/**
 * The report whose period ended within `tolerance` ms of `start` (last week's: a day by default, or
 * half the period when it is shorter), if the folder holds one.
 */
async function findPrevious(
  dir: string,
  start: Date,
  tolerance = 24 * 3600 * 1000,
): Promise<Report["previous"]> {
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
      if (Math.abs(end - start.getTime()) < tolerance) {
        const { previous: _drop, history: _h, charts: _c, ...rest } = r;
        return { file: n, report: rest };
      }
    } catch {
      // Not a report of ours: skipped.
    }
  }
  return undefined;
}

/** The previous weeks' reports, newest first, each ending where the next began (at most `weeks`). */
async function findHistory(
  dir: string,
  start: Date,
  weeks: number,
  tolerance: number,
): Promise<HistoryEntry[]> {
  const out: HistoryEntry[] = [];
  let from = start;
  for (let i = 0; i < weeks; i++) {
    const p = await findPrevious(dir, from, tolerance);
    if (!p?.report.scorecard) break;
    out.push({ file: p.file, period_end: p.report.period.end, figures: headline(p.report.scorecard) });
    from = new Date(p.report.period.start);
  }
  return out;
}

function capacity(
  name: string,
  used: readonly Point[],
  free: number | null,
  perSecond: number | null,
  end: Date,
): Capacity {
  const fills =
    perSecond !== null && perSecond > 0 && free !== null
      ? new Date(end.getTime() + (free / perSecond) * 1000).toISOString()
      : null;
  return {
    name,
    used_bytes: used,
    free_bytes: free,
    growth_bytes_per_day: perSecond === null ? null : perSecond * 86_400,
    fills_at: fills,
  };
}

/**
 * The charts' step for a period of `windowSeconds`: about a point an hour over a week (168 points),
 * never finer than a minute, which is 4 scrape intervals of compose's 15 s (Grafana's $__rate_interval
 * rule): each point's rate() covers one step, so it needs a few samples. A day gets a point every
 * 514 s, a 15-minute period one a minute.
 */
export function chartStepSeconds(windowSeconds: number): number {
  return Math.max(60, Math.round(windowSeconds / 168));
}

/**
 * The scans chart's interval for a period shorter than a day: the shortest of 1, 5, 15, 30 minutes or
 * 1, 2, 3 hours that gives at most 24 bars (15 bars of a minute for 15 minutes, 24 of an hour for 23 hours).
 */
export function scanBucketSeconds(windowSeconds: number): number {
  const choices = [60, 300, 900, 1800, 3600, 7200, 10800];
  return choices.find((b) => windowSeconds / b <= 24) ?? choices.at(-1)!;
}

async function chartSeries(
  prometheusUrl: string,
  scans: Pick<Charts, "scans_per_day" | "scans_per_interval">,
  databaseMountpoint: string,
  start: Date,
  end: Date,
): Promise<Charts> {
  const window = (end.getTime() - start.getTime()) / 1000;
  const step = chartStepSeconds(window);
  const range = async (q: string) => {
    const r = await queryRange(prometheusUrl, q, start, end, step);
    return r.map((s) => ({ metric: s.metric, points: s.points.filter(([, v]) => Number.isFinite(v)) }));
  };
  const one = async (q: string) => (await range(q))[0]?.points ?? [];
  const api = selectors.api;
  const exp = selectors.exporter;
  const w = `${step}s`;
  const fs = selectors.filesystem;
  // Growth: Prometheus' deriv(), a least-squares slope over every raw sample of the period.
  const fsUsedExpr = `max by (mountpoint) (${series("node_filesystem_size_bytes", fs)} - ${series("node_filesystem_avail_bytes", fs)})`;
  const dbExpr = `max by (datname) (${series("pg_database_size_bytes", exp)})`;
  const W = `${Math.round(window)}s`;
  const [p95, errors, cpu, memory, fsUsed, fsAvail, db, fsGrowth, dbGrowth] = await Promise.all([
    one(
      `histogram_quantile(0.95, sum by (le) (${rate(histogramSeries("http_request_duration_seconds", "bucket", api), w)}))`,
    ),
    one(apiErrorRatio(w)),
    one(cpuBusyRatio(w)),
    one(hostMemoryUsedRatio("sum")),
    range(fsUsedExpr),
    scalarsBy(
      prometheusUrl,
      `max by (mountpoint) (${series("node_filesystem_avail_bytes", fs)})`,
      end,
      "mountpoint",
    ),
    range(dbExpr),
    // Used grows as available shrinks (a filesystem's size is constant while it is mounted).
    scalarsBy(
      prometheusUrl,
      `max by (mountpoint) (-deriv(node_filesystem_avail_bytes{${fs}}[${W}]))`,
      end,
      "mountpoint",
    ),
    scalarsBy(
      prometheusUrl,
      `max by (datname) (deriv(pg_database_size_bytes{${exp}}[${W}]))`,
      end,
      "datname",
    ),
  ]);
  const dbFree = fsAvail.get(databaseMountpoint) ?? null;
  return {
    step_seconds: step,
    scans_per_day: scans.scans_per_day,
    ...(scans.scans_per_interval ? { scans_per_interval: scans.scans_per_interval } : {}),
    api_p95_seconds: p95,
    api_error_rate: errors,
    cpu_ratio: cpu,
    memory_ratio: memory,
    filesystems: fsUsed
      .map((s) => {
        const mp = s.metric.mountpoint ?? "";
        return capacity(mp, s.points, fsAvail.get(mp) ?? null, fsGrowth.get(mp) ?? null, end);
      })
      .sort((a, b) => a.name.localeCompare(b.name)),
    database: db
      .map((s) =>
        capacity(s.metric.datname ?? "", s.points, dbFree, dbGrowth.get(s.metric.datname ?? "") ?? null, end),
      )
      .sort((a, b) => a.name.localeCompare(b.name)),
  };
}

async function scalarsBy(base: string, q: string, at: Date, label: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const s of await query(base, q, at)) {
    const v = s.points[0]?.[1];
    if (v !== undefined && Number.isFinite(v)) out.set(s.metric[label] ?? "", v);
  }
  return out;
}

async function scansPerDay(
  c: Client,
  scansTable: TableName,
  start: Date,
  end: Date,
): Promise<Charts["scans_per_day"]> {
  const { schema, table } = scansTable;
  const r = await c.query<{ day: string; total: string; ok: string; failed: string }>(
    `SELECT to_char(d.day, 'YYYY-MM-DD') AS day,
            count(s.*) AS total,
            count(s.*) FILTER (WHERE s.status = 'success') AS ok,
            count(s.*) FILTER (WHERE s.status = 'failed') AS failed
       FROM generate_series(date_trunc('day', $1::timestamptz AT TIME ZONE 'UTC'),
                            date_trunc('day', ($2::timestamptz - interval '1 microsecond') AT TIME ZONE 'UTC'),
                            interval '1 day') AS d(day)
       LEFT JOIN ${quoteIdent(schema)}.${quoteIdent(table)} s
         ON s.finished_at >= $1 AND s.finished_at < $2
        AND (s.finished_at AT TIME ZONE 'UTC') >= d.day
        AND (s.finished_at AT TIME ZONE 'UTC') < d.day + interval '1 day'
      GROUP BY d.day ORDER BY d.day`,
    [start, end],
  );
  return r.rows.map((row) => ({
    date: row.day,
    total: Number(row.total),
    successful: Number(row.ok),
    failed: Number(row.failed),
  }));
}

async function scansPerInterval(
  c: Client,
  scansTable: TableName,
  start: Date,
  end: Date,
  window: number,
): Promise<NonNullable<Charts["scans_per_interval"]>> {
  const { schema, table } = scansTable;
  const bucket = scanBucketSeconds(window);
  const n = Math.ceil(window / bucket);
  const r = await c.query<{ i: number; total: string; ok: string; failed: string }>(
    `SELECT b.i,
            count(s.*) AS total,
            count(s.*) FILTER (WHERE s.status = 'success') AS ok,
            count(s.*) FILTER (WHERE s.status = 'failed') AS failed
       FROM generate_series(0, $3::int - 1) AS b(i)
       LEFT JOIN ${quoteIdent(schema)}.${quoteIdent(table)} s
         ON s.finished_at >= $1 AND s.finished_at < $2
        AND s.finished_at >= $1::timestamptz + b.i * make_interval(secs => $4)
        AND s.finished_at < $1::timestamptz + (b.i + 1) * make_interval(secs => $4)
      GROUP BY b.i ORDER BY b.i`,
    [start, end, n, bucket],
  );
  return {
    bucket_seconds: bucket,
    buckets: r.rows.map((row) => ({
      start: new Date(start.getTime() + row.i * bucket * 1000).toISOString(),
      total: Number(row.total),
      successful: Number(row.ok),
      failed: Number(row.failed),
    })),
  };
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

/** The performance table: figure, this week, previous week, change (Markdown and HTML alike). */
function performanceRows(r: Report): [string, string, string, string][] {
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
  return rows.map(([name, v, before, unit]) => [
    name,
    fmt(v, unit),
    before === undefined ? "" : fmt(before, unit),
    change(v, before),
  ]);
}

function renderMarkdown(r: Report): string {
  const sc = scorecardRows(r);
  const noun = periodNoun(r.period);
  const lines = [
    `# Kali Agents weekly performance report`,
    ``,
    `Period: ${r.period.start} to ${r.period.end} (${periodLength(r.period)}, UTC).`,
    r.previous
      ? `Previous ${noun}: ${r.previous.file}.`
      : `No report of the previous ${noun} to compare with.`,
    ``,
    `| Figure | This ${noun} | Previous ${noun} | Change |`,
    `| --- | --- | --- | --- |`,
    ...performanceRows(r).map((cells) => `| ${cells.join(" | ")} |`),
    ``,
    ...(sc.length
      ? [
          `## Operations scorecard`,
          ``,
          `| Metric | This ${noun} | Target | Met | Previous ${noun}s |`,
          `| --- | --- | --- | --- | --- |`,
          ...sc.map(
            (x) =>
              `| ${x.label} | ${formatValue(x.value, x.unit)} | ${x.target} | ${x.met === null ? "" : x.met ? "yes" : "no"} | ${x.previous.map((v) => formatValue(v, x.unit)).join(", ")} |`,
          ),
          ``,
        ]
      : []),
  ];
  return lines.join("\n");
}

export interface ReportOptions {
  /** End of the period (default now). */
  readonly until?: Date;
  readonly days?: number;
  /** A period shorter than a day, in hours (`--hours`); instead of `days`. */
  readonly hours?: number;
}

export async function weeklyReport(
  settings: ReportSettings,
  log: Logger,
  opts: ReportOptions = {},
): Promise<{ report: Report; json: string; markdown: string; html: string }> {
  if (opts.days !== undefined && opts.hours !== undefined)
    throw new Error("a report's period is given in days or in hours, not both");
  const seconds = opts.hours !== undefined ? Math.round(opts.hours * 3600) : (opts.days ?? 7) * 86_400;
  const days = seconds / 86_400;
  const end = opts.until ?? new Date();
  const start = new Date(end.getTime() - seconds * 1000);
  const queries = reportQueries(`${seconds}s`, `${Math.min(300, chartStepSeconds(seconds))}s`);
  const tolerance = Math.min(24, days * 12) * 3600 * 1000;
  const values: Record<string, number | null> = {};
  for (const [k, q] of Object.entries(queries)) values[k] = await scalar(settings.prometheusUrl, q, end);
  const scans = await readScans({ url: settings.databaseUrl, table: settings.scansTable }, start, end);
  const report: Report = {
    period: { start: start.toISOString(), end: end.toISOString(), days, seconds },
    scans: scans.figures,
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
    scorecard: await scorecard(
      {
        prometheusUrl: settings.prometheusUrl,
        alertmanagerUrl: settings.alertmanagerUrl,
        automatedSilenceAuthors: settings.reportAutomatedSilenceAuthors ?? [],
      },
      start,
      end,
    ),
    history: await findHistory(settings.reportDir, start, 4, tolerance),
    charts: await chartSeries(
      settings.prometheusUrl,
      scans.charts,
      settings.reportDatabaseMountpoint,
      start,
      end,
    ),
    previous: await findPrevious(settings.reportDir, start, tolerance),
  };
  await fs.mkdir(settings.reportDir, { recursive: true });
  const base = join(settings.reportDir, reportName(end));
  const markdown = renderMarkdown(report);
  const html = renderHtml(report, performanceRows(report));
  for (const [path, text] of [
    [`${base}.json`, JSON.stringify(report, null, 2) + "\n"],
    [`${base}.md`, markdown],
    [`${base}.html`, html],
  ] as const) {
    await fs.writeFile(`${path}.tmp`, text);
    await fs.rename(`${path}.tmp`, path);
  }
  log.info("weekly report written", { json: `${base}.json`, markdown: `${base}.md`, html: `${base}.html` });
  // Mailed after the files are written: a failed delivery fails the job and keeps them.
  if (settings.reportMailTo) {
    let sent: { messageId: string };
    try {
      const smtp = readSmtpSettings(settings.reportSmtpConfig, settings.reportSmtpSecretsDir);
      sent = await sendMail(smtp, {
        to: settings.reportMailTo,
        subject: `Kali Agents weekly report ${report.period.end.slice(0, 10)}`,
        text: renderText(report, performanceRows(report)),
        html,
      });
    } catch (e) {
      throw new Error(
        `report mail delivery failed (the files are kept in ${settings.reportDir}): ${(e as Error).message}`,
      );
    }
    log.info("weekly report mailed", {
      recipients: settings.reportMailTo.length,
      message_id: sent.messageId,
    });
  }
  return { report, json: `${base}.json`, markdown: `${base}.md`, html: `${base}.html` };
}
