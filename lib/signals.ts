// The quantities an alert and a panel both compare against one threshold, each written once: the rule
// (prometheus/rules/src) and the panel (dashboards/src) call the same function, so the line on the graph
// is the alert's own figure. What differs between the two is passed in: the range of a rate (a fixed
// window in a rule, Grafana's $__rate_interval in a panel) and what an aggregation keeps (one target of
// one host in a rule, everything in a panel). dashboards/test/signals.test.ts checks that each alert
// and its panels use the function.
import type { JobName } from "../definitions/metrics/jobs.ts";
import { jobMetricLabel, selectors } from "../definitions/selectors.ts";
import { apiSlo } from "../definitions/slo.ts";
import { eq, increase, num, rate, re, series } from "./promql.ts";

const exp = selectors.exporter;
const fs = selectors.filesystem;

/** `avg(x)`, or `avg by (labels) (x)` when `by` is given. */
const aggregate = (op: string, x: string, by?: string): string => `${op}${by ? ` by (${by}) ` : ""}(${x})`;

/** Share of CPU time not idle, averaged over the CPUs: one pegged core on a 4-core host is 25%. */
export const cpuBusyRatio = (window: string, by?: string): string =>
  `1 - ${aggregate("avg", rate(series("node_cpu_seconds_total", exp, eq("mode", "idle")), window), by)}`;

/**
 * Share of memory not available to new processes (MemAvailable, not MemFree: the page cache is memory
 * the kernel gives back on demand); per host, or over every host with `op` ("sum").
 */
export const hostMemoryUsedRatio = (op?: string): string => {
  const part = (m: "node_memory_MemAvailable_bytes" | "node_memory_MemTotal_bytes") =>
    op ? `${op}(${series(m, exp)})` : series(m, exp);
  return `1 - (${part("node_memory_MemAvailable_bytes")} / ${part("node_memory_MemTotal_bytes")})`;
};

/** Used share of each real filesystem (space available to non-root users against its size). */
export const filesystemUsedRatio = (): string =>
  `1 - (${series("node_filesystem_avail_bytes", fs)} / ${series("node_filesystem_size_bytes", fs)})`;

/**
 * Space available to non-root users on each real filesystem `horizonSeconds` from now, at the trend of
 * the last 6 hours: long enough to ignore a burst of temporary files, short enough to see a runaway log.
 */
export const filesystemAvailableForecastBytes = (horizonSeconds: number): string =>
  `predict_linear(${series("node_filesystem_avail_bytes", fs)}[6h], ${num(horizonSeconds)})`;

/** The host's clock against the scrape's timestamp (Prometheus' clock), in seconds. */
export const clockSkewSeconds = (): string =>
  `abs(${series("node_time_seconds", exp)} - timestamp(${series("node_time_seconds", exp)}))`;

/** Seconds since the host booted. */
export const secondsSinceBoot = (): string =>
  `${series("node_time_seconds", exp)} - ${series("node_boot_time_seconds", exp)}`;

/**
 * Connections in use as a share of max_connections, per server: summing every server's connections
 * over one max_connections would show two half-full hosts as one full one.
 */
export const postgresConnectionsUsedRatio = (by: string): string =>
  `${aggregate("sum", series("pg_stat_activity_count", exp), by)} / ${aggregate("max", series("pg_settings_max_connections", exp), by)}`;

/** Redis memory as a share of maxmemory, only where one is set (0 is unlimited: the ratio would be +Inf). */
export const redisMemoryUsedRatio = (): string =>
  `${series("redis_memory_used_bytes", exp)} / (${series("redis_memory_max_bytes", exp)} > 0)`;

/** Share of finished scans that failed over `window`. */
export const scanFailureRatio = (window: string, by: string): string => {
  const finished = (...m: string[]) =>
    aggregate("sum", increase(series("kali_agents_scans_total", exp, ...m), window), by);
  return `${finished(eq("status", "failed"))} / ${finished()}`;
};

/** Seconds since the newest finished_at of the scans table. */
export const secondsSinceLastScanFinished = (): string =>
  `time() - ${series("kali_agents_last_scan_finished_timestamp_seconds", exp)}`;

/** Seconds since the ops job last finished successfully. */
export const secondsSinceJobSuccess = (job: JobName): string =>
  `time() - ${series("kali_agents_job_last_success_timestamp_seconds", exp, eq(jobMetricLabel, job))}`;

/** How a counter is read over a window: per second (`rate`), or counted (`increase`, for a figure). */
type Over = (selector: string, window: string) => string;

/**
 * API requests per second over `window` (or counted, with `over` increase); with `errorsOnly`, those the
 * SLO counts as errors (5xx).
 */
export const apiRequestRate = (window: string, by?: string, errorsOnly = false, over: Over = rate): string =>
  aggregate(
    "sum",
    over(
      series(
        "http_requests_total",
        selectors.api,
        errorsOnly ? re("code", apiSlo.errorCodeRegex) : undefined,
      ),
      window,
    ),
    by,
  );

/**
 * Share of API requests answered with an error (5xx) over `window`. A window without any error has no
 * error series at all: `or 0 * total` makes the share 0 then, not nothing (a panel would say "no data");
 * a window without any request has no value, not a perfect one. The recording rule, the panels and the
 * weekly report's error rate, chart and uptime (`over` increase for its figures) all read it.
 */
export const apiErrorRatio = (window: string, by?: string, over: Over = rate): string =>
  `(${apiRequestRate(window, by, true, over)} or 0 * ${apiRequestRate(window, by, false, over)}) / ${apiRequestRate(window, by, false, over)}`;

/** The `q` quantile of API request durations over `window` (`by`: what it keeps besides `le`). */
export const apiLatencyQuantile = (q: number, window: string, by?: string): string =>
  `histogram_quantile(${num(q)}, sum by (${by ? `${by}, ` : ""}le) (${rate(series("http_request_duration_seconds_bucket", selectors.api), window)}))`;
