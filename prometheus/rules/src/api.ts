// The API, from its own /metrics (the http_requests_total / http_request_duration_seconds contract):
// latency and error rate, and the availability SLO as multi-window, multi-burn-rate alerts (Google SRE
// workbook, "Alerting on SLOs"). The recordings come first: Prometheus evaluates a group's rules in
// order, so the alerts read ratios from the same evaluation.
import type { AlertRule, RecordingRule, RuleGroup } from "../../../definitions/rules.ts";
import { aggregationLabels, recordings } from "../../../definitions/selectors.ts";
import { apiSlo } from "../../../definitions/slo.ts";
import { thresholds } from "../../../definitions/thresholds.ts";
import { humanDuration, num, percent, seconds } from "../../../lib/promql.ts";
import { apiErrorRatio, apiLatencyQuantile, apiRequestRate } from "../../../lib/signals.ts";

const t = thresholds.api;

/** Every window an alert reads, and the SLO period for the budget. */
export const sloWindows: string[] = [
  ...new Set([...apiSlo.windows.flatMap((w) => [w.short, w.long]), apiSlo.period]),
].sort((a, b) => seconds(a) - seconds(b));

// Minutes without any 5xx have no 5xx series at all: `or 0 * total` makes the ratio 0 then, instead of
// no value (an absent ratio would also leave the budget absent on a perfectly healthy API).
const errorRatio = (w: string): RecordingRule => ({
  record: recordings.apiErrorRatio(w),
  expr: apiErrorRatio(w, aggregationLabels.job),
});

/** The error ratio the SLO allows, written as PromQL so the generated rule reads like the workbook. */
const allowed = `(1 - ${num(apiSlo.target)})`;
const periodSeconds = seconds(apiSlo.period);

const burnAlerts: AlertRule[] = apiSlo.windows.map((w) => ({
  alert: "ApiErrorBudgetBurn",
  expr: `${recordings.apiErrorRatio(w.long)} > (${num(w.burnRate)} * ${allowed}) and ${recordings.apiErrorRatio(w.short)} > (${num(w.burnRate)} * ${allowed})`,
  for: w.for,
  severity: w.severity,
  labels: { long_window: w.long, short_window: w.short },
  summary:
    w.severity === "critical" ? "API is burning its error budget fast" : "API is burning its error budget",
  description: `{{ $labels.job }} answered {{ $value | humanizePercentage }} of requests with 5xx over the last ${w.long} (and still over the last ${w.short}): ${num(w.burnRate)} times what the ${percent(apiSlo.target)} SLO allows; at this pace the ${apiSlo.period} error budget is gone in ${humanDuration(periodSeconds / w.burnRate)}.`,
}));

export const apiGroup: RuleGroup = {
  name: "api",
  rules: [
    ...sloWindows.map(errorRatio),
    {
      record: recordings.apiErrorBudgetRemaining,
      expr: `1 - ${recordings.apiErrorRatio(apiSlo.period)} / ${allowed}`,
    },
    {
      record: recordings.apiRequestRate,
      expr: apiRequestRate("5m", `${aggregationLabels.job}, route, code`),
    },
    {
      record: recordings.apiLatencyP95,
      expr: apiLatencyQuantile(0.95, "5m", `${aggregationLabels.job}, route`),
    },
    {
      alert: "ApiHighErrorRate",
      expr: `${recordings.apiErrorRatio("5m")} > ${num(t.errorRatio)}`,
      for: "10m",
      severity: "warning",
      summary: "API error rate is high",
      description: `{{ $labels.job }} answered {{ $value | humanizePercentage }} of requests with 5xx over the last 5 minutes (threshold ${percent(t.errorRatio)}).`,
    },
    {
      alert: "ApiHighLatency",
      expr: `${recordings.apiLatencyP95} > ${num(t.latencyP95Seconds)}`,
      for: "10m",
      severity: "warning",
      summary: "API latency is high",
      description: `The 95th percentile latency of {{ $labels.route }} on {{ $labels.job }} is {{ $value | humanizeDuration }} (threshold ${humanDuration(t.latencyP95Seconds)}).`,
    },
    ...burnAlerts,
  ],
};
