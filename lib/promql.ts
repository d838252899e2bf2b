// The one PromQL builder: series selectors from the shared catalogue, label matchers, range functions,
// and the forms of numbers and durations that thresholds take in expressions and descriptions. The
// Prometheus rules, the dashboards (through dashboards/src/common.ts, which adds Grafana's
// $__rate_interval), the ops weekly report and the tests import it, so a number or a selector is
// written the same way everywhere. Metric names are typed from the catalogue, and checked again at run
// time for callers that build names, so a rule or a panel naming a metric that was renamed or never
// existed stops compiling or generating.
import type { MetricName } from "../definitions/metrics/catalogue.ts";
import { catalogue } from "../definitions/metrics/catalogue.ts";
import { platformMetricNames } from "../definitions/metrics/platform.ts";
import type { Duration } from "../definitions/rules.ts";

export type CatalogueMetric = MetricName;
export type HistogramPart = "bucket" | "sum" | "count";

const platform = new Set<string>(platformMetricNames);
const types = new Map<string, string>(catalogue.map((m) => [m.name, m.type]));

/** `name{m1, m2}`; matchers that are empty or undefined are left out (so callers can pass optional ones). */
const withMatchers = (name: string, matchers: readonly (string | undefined)[]): string => {
  const m = matchers.filter((x): x is string => Boolean(x));
  return m.length ? `${name}{${m.join(", ")}}` : name;
};

/** Why `name` is not a series of the catalogue (a metric, or a histogram's part), or undefined if it is. */
function notInCatalogue(name: string): string | undefined {
  const part = /_(bucket|sum|count)$/.exec(name);
  const base = part && !types.has(name) ? name.slice(0, part.index) : name;
  if (!types.has(base)) return `metric ${name} is not in the catalogue (definitions/metrics/)`;
  if (base !== name && types.get(base) !== "histogram")
    return `metric ${base} is not a histogram in the catalogue, so it has no ${name}`;
  return undefined;
}

/**
 * Whether a name read out of written PromQL (a runbook's, a panel's, a rule's) is a series the stack
 * has: a catalogue metric or a histogram's part, or one of the platform's own metrics. The same check
 * series() and platformSeries() make when an expression is built.
 */
export const knownMetric = (name: string): boolean =>
  notInCatalogue(name) === undefined || platform.has(name);

/** `metric{m1, m2}` from a catalogue metric (or a histogram's `_bucket`/`_sum`/`_count` series). */
export function series(
  metric: CatalogueMetric | `${CatalogueMetric}_${HistogramPart}`,
  ...matchers: (string | undefined)[]
): string {
  const problem = notInCatalogue(metric);
  if (problem) throw new Error(problem);
  return withMatchers(metric, matchers);
}

/** `name_bucket{...}`, `name_sum{...}` or `name_count{...}` of a catalogue histogram. */
export const histogramSeries = (
  metric: CatalogueMetric,
  part: HistogramPart,
  ...matchers: (string | undefined)[]
): string => series(`${metric}_${part}`, ...matchers);

/** A series of Prometheus' or Alertmanager's own metrics; the name must be in platformMetricNames. */
export function platformSeries(metric: string, ...matchers: (string | undefined)[]): string {
  if (!platform.has(metric))
    throw new Error(
      `${metric} is not in platformMetricNames (definitions/metrics/platform.ts): add it there first`,
    );
  return withMatchers(metric, matchers);
}

/** `rate(selector[window])`. */
export const rate = (selector: string, window: string): string => `rate(${selector}[${window}])`;
/** `increase(selector[window])`. */
export const increase = (selector: string, window: string): string => `increase(${selector}[${window}])`;

/** A label matcher `name="value"` with the value escaped as PromQL wants it. */
export const eq = (label: string, value: string): string => `${label}=${JSON.stringify(value)}`;
export const re = (label: string, regex: string): string => `${label}=~${JSON.stringify(regex)}`;

/** 0.8 -> "80%", 0.999 -> "99.9%", 0.001 -> "0.1%". */
export const percent = (ratio: number): string => `${Number((ratio * 100).toPrecision(6))}%`;

/**
 * A number as PromQL reads it, without floating-point noise: a threshold computed from others (1 - 0.999,
 * 14.4 * 0.001) is written as the person meant it, 0.001 and 0.0144, not 0.0010000000000000009.
 */
export const num = (n: number): string => {
  if (!Number.isFinite(n)) throw new Error(`threshold ${n} is not a finite number`);
  return String(Number(n.toPrecision(12)));
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
