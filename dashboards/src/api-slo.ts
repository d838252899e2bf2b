// The API and its availability SLO: traffic, errors, latency, burn rates per alerting window and the
// error budget left. The burn-rate and budget panels read the recording rules the Prometheus rules
// define (definitions `recordings`), so the dashboard shows exactly what the alerts evaluate.
import { DashboardBuilder } from "@grafana/grafana-foundation-sdk/dashboard";
import { apiSlo } from "../../definitions/slo.ts";
import { recordings } from "../../definitions/selectors.ts";
import { thresholds } from "../../definitions/thresholds.ts";
import { num } from "../../lib/promql.ts";
import { apiErrorRatio, apiLatencyQuantile, apiRequestRate } from "../../lib/signals.ts";
import { above, prom, row, stat, timeseries, type DashboardModule, type PanelLink } from "./common.ts";

/** The error status codes as people say them: "5.." is "5xx". */
const errorClass = apiSlo.errorCodeRegex.replace(/\./g, "x");
/** The error budget as a ratio of requests: 1 - 0.999 = 0.001. */
const budget = num(1 - apiSlo.target);
const toLogs: PanelLink = { title: "Error logs", dashboard: "logs" };

const requests = (by?: string, errorsOnly = false) => apiRequestRate("$__rate_interval", by, errorsOnly);
const errorShare = () => apiErrorRatio("$__rate_interval");
const quantile = (q: number) => apiLatencyQuantile(q, "$__rate_interval");

// Panel factories, also used by the overview.

export const p95Stat = () =>
  stat({
    title: "API response time p95",
    alerts: ["ApiHighLatency"],
    description:
      "95th percentile of API request durations over every route. Red from the latency alerting level.",
    unit: "s",
    decimals: 3,
    queries: [prom(quantile(0.95), "p95")],
    thresholds: above(thresholds.api.latencyP95Seconds),
  });

export const errorRateStat = () =>
  stat({
    title: "API error rate",
    alerts: ["ApiHighErrorRate"],
    description: `Share of API responses that were errors (status ${errorClass}). Red from the error-rate alerting level.`,
    unit: "percentunit",
    decimals: 2,
    queries: [prom(errorShare(), "errors")],
    thresholds: above(thresholds.api.errorRatio),
    links: [toLogs],
  });

export const budgetLeftStat = () =>
  stat({
    title: "Error budget left",
    alerts: ["ApiErrorBudgetBurn"],
    description: `Share of the ${apiSlo.period} error budget (${budget} of requests) still left: 100% untouched, 0% spent, negative overspent.`,
    unit: "percentunit",
    decimals: 1,
    queries: [prom(`min(${recordings.apiErrorBudgetRemaining})`, "budget left")],
    thresholds: { base: "red", steps: [["green", 0]] },
  });

export const availabilityStat = () =>
  stat({
    title: `Availability (${apiSlo.period}, SLO ${num(apiSlo.target * 100)}%)`,
    description: `Share of API requests answered without a ${errorClass} over the SLO period (the error-ratio recording rule over ${apiSlo.period}). Red below the SLO target.`,
    unit: "percentunit",
    decimals: 3,
    queries: [prom(`1 - max(${recordings.apiErrorRatio(apiSlo.period)})`, "availability")],
    thresholds: { base: "red", steps: [["green", apiSlo.target]] },
  });

const requestRateByRoute = () =>
  timeseries({
    title: "Request rate by route",
    description: "Requests per second answered by the API, by route template.",
    unit: "reqps",
    queries: [prom(requests("route"), "{{route}}")],
  });

const requestRateByCode = () =>
  timeseries({
    title: "Request rate by status code",
    description: "Requests per second by status code, from the request-rate recording rule (5m window).",
    unit: "reqps",
    queries: [prom(`sum by (code) (${recordings.apiRequestRate})`, "{{code}}")],
  });

const errorRatio = () =>
  timeseries({
    title: "Error ratio",
    alerts: ["ApiHighErrorRate"],
    description: `Share of responses with status ${errorClass}. The dashed line is the error-rate alerting level.`,
    unit: "percentunit",
    min: 0,
    queries: [prom(errorShare(), "error ratio")],
    thresholds: above(thresholds.api.errorRatio),
    links: [toLogs],
  });

const errorsByRoute = () =>
  timeseries({
    title: "Errors by route",
    description: `Responses per second with status ${errorClass}, by route and code.`,
    unit: "reqps",
    queries: [prom(requests("route, code", true), "{{route}} {{code}}")],
    links: [toLogs],
  });

const latencyQuantiles = () =>
  timeseries({
    title: "Latency quantiles",
    alerts: ["ApiHighLatency"],
    description: "Median, 95th and 99th percentile of request durations over every route.",
    unit: "s",
    queries: [prom(quantile(0.5), "p50"), prom(quantile(0.95), "p95"), prom(quantile(0.99), "p99")],
    thresholds: above(thresholds.api.latencyP95Seconds),
  });

const p95ByRoute = () =>
  timeseries({
    title: "p95 latency by route",
    description:
      "95th percentile of request durations by route, from the latency recording rule (5m window).",
    unit: "s",
    queries: [prom(`max by (route) (${recordings.apiLatencyP95})`, "{{route}}")],
    thresholds: above(thresholds.api.latencyP95Seconds),
  });

const burnRate = (w: (typeof apiSlo.windows)[number]) =>
  timeseries({
    title: `Burn rate ${w.long} / ${w.short} (${w.severity} at ${w.burnRate}x)`,
    alerts: ["ApiErrorBudgetBurn"],
    description: `How fast the error budget burns over the ${w.long} and ${w.short} windows (1 = exactly on budget for the ${apiSlo.period} period). The alert fires when both windows stay above ${w.burnRate} for ${w.for}.`,
    unit: "short",
    min: 0,
    width: 6,
    queries: [
      prom(`max(${recordings.apiErrorRatio(w.long)}) / ${budget}`, w.long),
      prom(`max(${recordings.apiErrorRatio(w.short)}) / ${budget}`, w.short),
    ],
    thresholds: above(w.burnRate),
  });

const budgetLeftSeries = () =>
  timeseries({
    title: "Error budget left over time",
    description: `Share of the ${apiSlo.period} error budget still left.`,
    unit: "percentunit",
    queries: [prom(`min(${recordings.apiErrorBudgetRemaining})`, "budget left")],
    thresholds: { base: "red", steps: [["green", 0]] },
  });

export const dashboard: DashboardModule = {
  name: "api-slo",
  title: "Kali Agents / API and SLO",
  description: "API traffic, errors and latency, and the availability SLO with its burn rates and budget.",
  folder: "kali-agents",
  tags: ["api", "slo"],
  build: () => {
    const b = new DashboardBuilder("Kali Agents / API and SLO")
      .withRow(row("SLO"))
      .withPanel(availabilityStat().span(6))
      .withPanel(budgetLeftStat().span(6))
      .withPanel(errorRateStat().span(6))
      .withPanel(p95Stat().span(6));
    for (const w of apiSlo.windows) b.withPanel(burnRate(w));
    return b
      .withPanel(budgetLeftSeries().span(24))
      .withRow(row("Traffic and errors"))
      .withPanel(requestRateByRoute())
      .withPanel(requestRateByCode())
      .withPanel(errorRatio())
      .withPanel(errorsByRoute())
      .withRow(row("Latency"))
      .withPanel(latencyQuantiles())
      .withPanel(p95ByRoute());
  },
};
