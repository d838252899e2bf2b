// The contract with the Kali Agents API's own /metrics.
import type { MetricDef, MetricType } from "./metric.ts";

const api = <N extends string>(
  name: N,
  type: MetricType,
  help: string,
  labels: readonly string[],
  buckets?: number[],
) => ({
  name,
  type,
  help,
  labels,
  source: "api" as const,
  ...(buckets ? { buckets } : {}),
});

/** The contract with the Kali Agents API's own /metrics. */
export const apiMetrics = [
  api(
    "http_requests_total",
    "counter",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "code"],
  ),
  api(
    "http_request_duration_seconds",
    "histogram",
    "HTTP request duration, by method and route template.",
    ["method", "route"],
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  ),
] as const satisfies readonly MetricDef[];
