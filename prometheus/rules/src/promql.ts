// Small PromQL helpers for the rule files: series selectors from the shared catalogue and selectors,
// and the human forms of thresholds for descriptions. Metric names are typed from the catalogue, so a
// rule naming a metric that was renamed or never existed stops compiling.
import type { MetricName } from "../../../definitions/metrics.ts";
import { platformMetricNames } from "../../../definitions/metrics.ts";
import type { Duration } from "../../../definitions/rules.ts";

export type CatalogueMetric = MetricName;

/** `metric{m1, m2}` from a catalogue metric (or a histogram's `_bucket`/`_sum`/`_count` series). */
export function series(
  metric: CatalogueMetric | `${CatalogueMetric}_${"bucket" | "sum" | "count"}`,
  ...matchers: string[]
): string {
  const m = matchers.filter((x) => x !== "");
  return m.length ? `${metric}{${m.join(", ")}}` : metric;
}

/** A series of Prometheus' or Alertmanager's own metrics; the name must be in platformMetricNames. */
export function platformSeries(metric: string, ...matchers: string[]): string {
  if (!platformMetricNames.includes(metric))
    throw new Error(`${metric} is not in platformMetricNames (definitions/metrics.ts): add it there first`);
  const m = matchers.filter((x) => x !== "");
  return m.length ? `${metric}{${m.join(", ")}}` : metric;
}

/** A label matcher `name="value"` with the value escaped as PromQL wants it. */
export const eq = (label: string, value: string): string => `${label}=${JSON.stringify(value)}`;
export const ne = (label: string, value: string): string => `${label}!=${JSON.stringify(value)}`;
export const re = (label: string, regex: string): string => `${label}=~${JSON.stringify(regex)}`;

/** 0.8 -> "80%", 0.999 -> "99.9%", 0.001 -> "0.1%". */
export const percent = (ratio: number): string => `${Number((ratio * 100).toPrecision(6))}%`;

/** A number as PromQL reads it (no exponent form for the magnitudes thresholds have). */
export const num = (n: number): string => {
  if (!Number.isFinite(n)) throw new Error(`threshold ${n} is not a finite number`);
  return String(n);
};

const units: [number, string][] = [
  [7 * 86400, "w"],
  [86400, "d"],
  [3600, "h"],
  [60, "m"],
  [1, "s"],
];

/** Seconds as the largest whole Prometheus duration unit: 93600 -> "26h", 3024000 -> "5w". */
export function duration(seconds: number): Duration {
  if (!Number.isInteger(seconds) || seconds <= 0)
    throw new Error(`duration ${seconds}s is not a positive integer`);
  for (const [size, unit] of units) if (seconds % size === 0) return `${seconds / size}${unit}` as Duration;
  throw new Error("unreachable");
}

/** Seconds as a person reads them in a description: 93600 -> "26 hours", 3024000 -> "35 days". */
export function humanDuration(seconds: number): string {
  const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? "" : "s"}`;
  if (seconds % 86400 === 0) return plural(seconds / 86400, "day");
  if (seconds % 3600 === 0) return plural(seconds / 3600, "hour");
  if (seconds % 60 === 0) return plural(seconds / 60, "minute");
  return plural(seconds, "second");
}

/** A Prometheus duration in seconds: "1h" -> 3600. */
export function seconds(d: Duration | string): number {
  const m = /^(\d+)(s|m|h|d|w)$/.exec(d);
  if (!m) throw new Error(`unsupported duration ${JSON.stringify(d)}`);
  const size = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 }[m[2] as "s" | "m" | "h" | "d" | "w"];
  return Number(m[1]) * size;
}
