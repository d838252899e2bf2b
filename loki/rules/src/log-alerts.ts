// Alerts the Loki ruler evaluates in LogQL: signals that exist only in the log lines. They reach the same
// Alertmanager as the Prometheus alerts, with the same shape (severity, summary, description, runbook).
import type { RuleGroup } from "../../../definitions/rules.ts";
import { eventPipeline, logEvents } from "../../../definitions/logs.ts";
import { thresholds } from "../../../definitions/thresholds.ts";
import { appStream, minutes } from "./logql.ts";

const t = thresholds.logs;
const failed = logEvents.loginFailed;

export const logAlertsGroup: RuleGroup = {
  name: "logs",
  rules: [
    {
      alert: "SecurityAuthFailureSpike",
      expr:
        `sum by (job, host) (count_over_time(${appStream(failed.stream)} ${eventPipeline(failed)} [5m]))` +
        ` > ${t.authFailuresPer5m}`,
      for: "2m",
      severity: "warning",
      summary: "Authentication failures are spiking",
      description: `{{ $value }} failed logins (event ${failed.name}) in 5 minutes in the security log of {{ $labels.host }} (threshold ${t.authFailuresPer5m}): a brute-force attempt or a broken client.`,
    },
    {
      alert: "LogsErrorStreamRateHigh",
      expr: `sum by (job, host) (rate(${appStream("errors")}[5m])) > ${t.errorStreamLinesPerSecond}`,
      for: "10m",
      severity: "warning",
      summary: "The application writes errors at a high rate",
      description: `errors.log on {{ $labels.host }} grows by {{ $value | humanize }} lines/s (threshold ${t.errorStreamLinesPerSecond}/s) for 10 minutes.`,
    },
    {
      alert: "LogsStreamSilent",
      // absent_over_time gives 1 with the selector's labels (job, stream) when the stream has no line in
      // the window; the app stream logs every request, so silence means the application stopped or its
      // logs no longer reach Loki.
      expr: `absent_over_time(${appStream("app")}[${minutes(t.silentStreamSeconds)}])`,
      for: "2m",
      severity: "warning",
      summary: "The application stopped logging",
      description: `No line in the {{ $labels.stream }} stream ({{ $labels.job }}) for ${minutes(t.silentStreamSeconds)}: the application is down or hung, or its logs no longer reach Loki.`,
    },
  ],
};
