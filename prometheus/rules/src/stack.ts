// The monitoring stack itself: what makes every other alert go silent when it breaks.
import { heartbeatAlert, type RuleGroup } from "../../../definitions/rules.ts";
import { jobs, selectors } from "../../../definitions/selectors.ts";
import { platformSeries, re, series } from "../../../lib/promql.ts";

/** The stack's scrape jobs that PrometheusTargetDown watches: every one but the exporter's. */
export const stackJobs = Object.values(jobs).filter((j) => j !== jobs.exporter);

export const stackGroup: RuleGroup = {
  name: "stack",
  rules: [
    {
      alert: "ExporterDown",
      // Its own alert, critical: every host, database, scan and backup alert reads the exporter's
      // series, and they all go quiet (absent, not 0) while it is down.
      expr: `${platformSeries("up", selectors.exporter)} == 0`,
      for: "2m",
      severity: "critical",
      summary: "The Kali Agents exporter is down",
      description: `Prometheus cannot scrape the exporter {{ $labels.instance }}: host, PostgreSQL, Redis, scan, probe and backup alerts are blind until it is back.`,
    },
    {
      alert: "PrometheusTargetDown",
      // The stack's own scrape jobs (prometheus/prometheus.yml), the exporter aside (ExporterDown):
      // where this Prometheus scrapes more (a cluster's kube-prometheus-stack), their targets are
      // someone else's to watch, and the chart has its own TargetDown for them.
      expr: `${platformSeries("up", re("job", stackJobs.join("|")))} == 0`,
      for: "5m",
      severity: "warning",
      summary: "A scrape target is down",
      description: `Prometheus has not been able to scrape {{ $labels.instance }} (job {{ $labels.job }}) for 5 minutes.`,
    },
    {
      alert: "ExporterCollectorFailing",
      expr: `${series("kali_agents_exporter_collector_success", selectors.exporter)} == 0`,
      for: "5m",
      severity: "warning",
      summary: "An exporter collector is failing",
      description: `The {{ $labels.collector }} collector of the exporter {{ $labels.instance }} has failed or overrun its deadline for 5 minutes; its metrics are missing or stale.`,
    },
    {
      alert: "PrometheusRuleEvaluationFailures",
      // Critical: a rule that fails to evaluate is an alert that cannot fire.
      expr: `increase(${platformSeries("prometheus_rule_evaluation_failures_total", selectors.prometheus)}[5m]) > 0`,
      for: "5m",
      severity: "critical",
      summary: "Prometheus rules fail to evaluate",
      description: `{{ $value | humanize }} evaluations failed in rule group {{ $labels.rule_group }} in the last 5 minutes: its alerts cannot fire.`,
    },
    {
      alert: "PrometheusNotificationsFailing",
      expr: `increase(${platformSeries("prometheus_notifications_errors_total", selectors.prometheus)}[5m]) > 0`,
      for: "5m",
      severity: "critical",
      summary: "Prometheus fails to send alerts to Alertmanager",
      description: `{{ $value | humanize }} alert batches to Alertmanager {{ $labels.alertmanager }} failed in the last 5 minutes: firing alerts may page nobody.`,
    },
    {
      alert: "PrometheusConfigReloadFailed",
      expr: `${platformSeries("prometheus_config_last_reload_successful", selectors.prometheus)} == 0`,
      for: "10m",
      severity: "warning",
      summary: "Prometheus configuration reload failed",
      description: `Prometheus {{ $labels.instance }} failed to load its configuration and runs the previous one; the next restart will fail.`,
    },
    {
      alert: "AlertmanagerNotificationsFailing",
      // Alertmanager 0.33 splits the counter by `reason`; summing it away pages once per integration.
      expr: `sum without (reason) (increase(${platformSeries("alertmanager_notifications_failed_total", selectors.alertmanager)}[5m])) > 0`,
      for: "5m",
      severity: "critical",
      summary: "Alertmanager fails to deliver notifications",
      description: `{{ $value | humanize }} notifications through {{ $labels.integration }} failed in the last 5 minutes on {{ $labels.instance }}: check the receiver's secret and endpoint.`,
    },
    {
      alert: "AlertmanagerConfigReloadFailed",
      expr: `${platformSeries("alertmanager_config_last_reload_successful", selectors.alertmanager)} == 0`,
      for: "10m",
      severity: "warning",
      summary: "Alertmanager configuration reload failed",
      description: `Alertmanager {{ $labels.instance }} failed to load its configuration and routes with the previous one.`,
    },
    {
      alert: heartbeatAlert,
      // The dead man's switch: always firing, routed to the heartbeat receiver only. When the heartbeat
      // service stops hearing it, the whole alerting pipeline (Prometheus, rules, Alertmanager) is broken.
      expr: "vector(1)",
      severity: "info",
      summary: "Alerting pipeline heartbeat",
      description: `Always firing (value {{ $value }}) so that the heartbeat receiver hears the pipeline is alive; it pages when this stops.`,
    },
  ],
};
