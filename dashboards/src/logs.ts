// Logs from Loki: the application's four streams (app, security, audit, errors), error rate by logger,
// security events, and container logs; with links to the metric dashboards for the same time range.
//
// Loki queries use $__interval ($__rate_interval is a Prometheus notion: log lines are not scraped).
// Selectors use only the labels Promtail attaches (definitions `logs.labels`); `event` is a JSON field
// of security lines, extracted at query time with `| json`, never a label.
import { DashboardBuilder } from "@grafana/grafana-foundation-sdk/dashboard";
import { eventPipeline, logEvents, logs, type LogStream } from "../../definitions/logs.ts";
import { apiSlo } from "../../definitions/slo.ts";
import { thresholds } from "../../definitions/thresholds.ts";
import { apiRequestRate } from "../../lib/signals.ts";
import {
  above,
  loki,
  logSelector,
  logsPanel,
  prom,
  row,
  timeseries,
  type DashboardModule,
  type PanelLink,
} from "./common.ts";

/** The error status codes as people say them: "5.." is "5xx". */
const errorClass = apiSlo.errorCodeRegex.replace(/\./g, "x");
const toApi: PanelLink = { title: "API and SLO", dashboard: "api-slo" };
const toOverview: PanelLink = { title: "Overview", dashboard: "overview" };

const linesPerSecond = (selector: string, by: string) => `sum by (${by}) (rate(${selector}[$__interval]))`;

const byStream = () =>
  timeseries({
    title: "Log lines by stream",
    alerts: ["LogsStreamSilent"],
    description: "Lines per second written to each of the application's four log files.",
    unit: "cps",
    queries: [loki(linesPerSecond(logSelector(), "stream"), "{{stream}}")],
    links: [toOverview],
  });

const byLevel = () =>
  timeseries({
    title: "Log lines by level",
    alerts: ["LogsErrorRatioHigh"],
    description: "Lines per second by level, over every stream.",
    unit: "cps",
    queries: [loki(linesPerSecond(logSelector(), "level"), "{{level}}")],
  });

export const errorsByLogger = () =>
  timeseries({
    title: "Error rate by logger",
    alerts: ["LogsErrorStreamRateHigh"],
    description: "Lines per second in the errors stream, by logger (the component that logged them).",
    unit: "cps",
    queries: [loki(linesPerSecond(logSelector("errors"), "logger"), "{{logger}}")],
    links: [toApi],
  });

const apiErrors = () =>
  timeseries({
    title: `API responses ${errorClass} (metrics)`,
    description:
      "The API's error responses per second from Prometheus, beside the error logs for the same time range.",
    unit: "reqps",
    queries: [prom(apiRequestRate("$__rate_interval", undefined, true), "5xx/s")],
    links: [toApi],
  });

const securityEvents = () =>
  timeseries({
    title: "Security events",
    description: "Security events per second by event type (the `event` field of security.log lines).",
    unit: "cps",
    // Lines that are not JSON get an __error__ label from the parser; they are dropped, not counted.
    queries: [
      loki(
        `sum by (event) (rate(${logSelector("security")} | json | __error__="" [$__interval]))`,
        "{{event}}",
      ),
    ],
  });

const authFailures = () =>
  timeseries({
    title: "Authentication failures (5m)",
    alerts: ["SecurityAuthFailureSpike"],
    description: `Security events of type ${logEvents.loginFailed.name} over the last 5 minutes, the window of the log-based alert. The dashed line is its alerting level.`,
    unit: "short",
    min: 0,
    // A fixed 5m window on purpose: the panel shows the figure the alert compares with its threshold.
    queries: [
      loki(
        `sum(count_over_time(${logSelector(logEvents.loginFailed.stream)} ${eventPipeline(logEvents.loginFailed)} [5m]))`,
        "auth failures",
      ),
    ],
    thresholds: above(thresholds.logs.authFailuresPer5m),
  });

const containerLines = () =>
  timeseries({
    title: "Container log lines",
    description: "Lines per second written by each container of the stack (Docker service discovery).",
    unit: "cps",
    queries: [loki(linesPerSecond(`{job="${logs.containerJob}"}`, "container"), "{{container}}")],
  });

const stream = (name: LogStream, title: string, description: string) =>
  logsPanel({ title, description, query: loki(logSelector(name)) });

export const dashboard: DashboardModule = {
  name: "logs",
  title: "Kali Agents / Logs",
  description: "The application's four log streams in Loki, error rate by logger and security events.",
  folder: "logs",
  tags: ["logs"],
  build: () =>
    new DashboardBuilder("Kali Agents / Logs")
      .withRow(row("Volume"))
      .withPanel(byStream())
      .withPanel(byLevel())
      .withPanel(errorsByLogger())
      .withPanel(apiErrors())
      .withPanel(securityEvents())
      .withPanel(authFailures())
      .withPanel(containerLines().span(24))
      .withRow(row("Errors"))
      .withPanel(stream("errors", "Error log", "Lines of errors.log, newest first."))
      .withRow(row("Security and audit"))
      .withPanel(
        stream("security", "Security log", "Lines of security.log (logins, denials...), newest first."),
      )
      .withPanel(stream("audit", "Audit log", "Lines of audit.log (who changed what), newest first."))
      .withRow(row("Application"))
      .withPanel(stream("app", "Application log", "Lines of app.log, newest first.")),
};
