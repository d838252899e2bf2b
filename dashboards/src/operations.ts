// Operations: is the monitoring itself healthy (exporter collectors, Prometheus, Alertmanager), and did
// the operations jobs run (backups, verification, DR drill, cleanup) on the job-metric contract
// (definitions `jobMetrics`), which the jobs write through the exporter's textfile collector.
import { DashboardBuilder } from "@grafana/grafana-foundation-sdk/dashboard";
import { jobNames, type JobName } from "../../definitions/metrics/jobs.ts";
import { jobMetricLabel, selectors } from "../../definitions/selectors.ts";
import { thresholds } from "../../definitions/thresholds.ts";
import { platformSeries, series } from "../../lib/promql.ts";
import { secondsSinceJobSuccess } from "../../lib/signals.ts";
import {
  above,
  okFailedMapping,
  prom,
  rate,
  row,
  stat,
  timeseries,
  upDownMapping,
  type DashboardModule,
  type MetricName,
} from "./common.ts";

const exp = selectors.exporter;
const t = thresholds.jobs;

const job = (name: MetricName, j: JobName) => series(name, exp, `${jobMetricLabel}="${j}"`);

// Panel factories, also used by the overview.

export const lastBackupAgeStat = () =>
  stat({
    title: "Last backup age",
    alerts: ["BackupTooOld"],
    description: "Time since the last successful backup. Red from the BackupTooOld alerting level.",
    unit: "s",
    queries: [prom(secondsSinceJobSuccess("backup"), "age")],
    thresholds: above(t.backupMaxAgeSeconds),
  });

export const targetsUpStat = () =>
  stat({
    title: "Targets up",
    alerts: ["PrometheusTargetDown"],
    description:
      "Whether Prometheus reached each scrape job's targets on the last scrape (worst target per job).",
    unit: "none",
    queries: [prom(`min by (job) (${platformSeries("up")})`, "{{job}}")],
    mappings: upDownMapping,
    thresholds: { base: "red", steps: [["green", 1]] },
  });

const exporterUp = () =>
  stat({
    title: "Exporter",
    alerts: ["ExporterDown"],
    description: "Whether Prometheus reached the exporter on its last scrape.",
    unit: "none",
    queries: [prom(`min(${platformSeries("up", exp)})`, "exporter")],
    mappings: upDownMapping,
    thresholds: { base: "red", steps: [["green", 1]] },
  });

const collectorSuccess = () =>
  stat({
    title: "Collectors",
    alerts: ["ExporterCollectorFailing"],
    description:
      "Whether each collector succeeded on the last collection (a collector that fails or overruns its deadline shows FAILED; the scrape still answers).",
    unit: "none",
    width: 14,
    queries: [
      prom(`min by (collector) (${series("kali_agents_exporter_collector_success", exp)})`, "{{collector}}"),
    ],
    mappings: okFailedMapping,
    thresholds: { base: "red", steps: [["green", 1]] },
  });

const textfileErrors = () =>
  stat({
    title: "Textfile errors",
    description: "1 when a job-metric file in the textfile directory could not be read or parsed.",
    unit: "none",
    width: 6,
    queries: [prom(`max(${series("node_textfile_scrape_error", exp)})`, "error")],
    thresholds: above(1),
  });

const collectorDurations = () =>
  timeseries({
    title: "Collector durations",
    description: "How long each collector took on the last collection.",
    unit: "s",
    queries: [
      prom(
        `max by (collector) (${series("kali_agents_exporter_collector_duration_seconds", exp)})`,
        "{{collector}}",
      ),
    ],
  });

const scrapeDurations = () =>
  timeseries({
    title: "Scrape durations by job",
    description: "How long Prometheus took to scrape each job's targets.",
    unit: "s",
    queries: [prom(`max by (job) (${platformSeries("scrape_duration_seconds")})`, "{{job}}")],
  });

const exporterLoad = () =>
  timeseries({
    title: "Exporter scrapes and collections",
    description:
      "Requests answered on /metrics and collections run per second; concurrent scrapes share one collection.",
    unit: "ops",
    queries: [
      prom(rate(series("kali_agents_exporter_scrapes_total", exp)), "scrapes"),
      prom(rate(series("kali_agents_exporter_collections_total", exp)), "collections"),
    ],
  });

const exporterMemory = () =>
  timeseries({
    title: "Exporter memory",
    description: "Resident memory of the exporter process.",
    unit: "bytes",
    queries: [prom(platformSeries("process_resident_memory_bytes", exp), "resident")],
  });

const promHealth = () =>
  stat({
    title: "Prometheus",
    alerts: ["PrometheusConfigReloadFailed"],
    description: "Whether Prometheus scrapes itself and its last configuration reload succeeded.",
    unit: "none",
    width: 6,
    queries: [
      prom(`min(${platformSeries("up", selectors.prometheus)})`, "up"),
      prom(
        `min(${platformSeries("prometheus_config_last_reload_successful", selectors.prometheus)})`,
        "config reload",
      ),
    ],
    mappings: okFailedMapping,
    thresholds: { base: "red", steps: [["green", 1]] },
  });

const alertmanagerHealth = () =>
  stat({
    title: "Alertmanager",
    alerts: ["AlertmanagerConfigReloadFailed"],
    description: "Whether Prometheus reaches Alertmanager and its last configuration reload succeeded.",
    unit: "none",
    width: 6,
    queries: [
      prom(`min(${platformSeries("up", selectors.alertmanager)})`, "up"),
      prom(
        `min(${platformSeries("alertmanager_config_last_reload_successful", selectors.alertmanager)})`,
        "config reload",
      ),
      prom(
        `min(${platformSeries("prometheus_notifications_alertmanagers_discovered", selectors.prometheus)}) > bool 0`,
        "discovered",
      ),
    ],
    mappings: okFailedMapping,
    thresholds: { base: "red", steps: [["green", 1]] },
  });

const ruleFailures = () =>
  timeseries({
    title: "Rule evaluation failures",
    alerts: ["PrometheusRuleEvaluationFailures"],
    description:
      "Rule evaluations that failed per second, by rule group. Anything above zero is a broken rule.",
    unit: "ops",
    queries: [
      prom(
        `sum by (rule_group) (${rate(platformSeries("prometheus_rule_evaluation_failures_total", selectors.prometheus))})`,
        "{{rule_group}}",
      ),
    ],
  });

const notifications = () =>
  timeseries({
    title: "Notifications",
    alerts: ["PrometheusNotificationsFailing", "AlertmanagerNotificationsFailing"],
    description:
      "Alerts Prometheus sent, dropped or failed to send to Alertmanager, and notifications Alertmanager failed to deliver, per second.",
    unit: "ops",
    queries: [
      prom(
        `sum(${rate(platformSeries("prometheus_notifications_sent_total", selectors.prometheus))})`,
        "sent",
      ),
      prom(
        `sum(${rate(platformSeries("prometheus_notifications_dropped_total", selectors.prometheus))})`,
        "dropped",
      ),
      prom(
        `sum(${rate(platformSeries("prometheus_notifications_errors_total", selectors.prometheus))})`,
        "errors",
      ),
      prom(
        `sum by (integration) (${rate(platformSeries("alertmanager_notifications_failed_total", selectors.alertmanager))})`,
        "{{integration}} failed",
      ),
    ],
  });

const alertsByState = () =>
  timeseries({
    title: "Alerts in Alertmanager",
    description: "Alerts Alertmanager holds, by state (active, suppressed, unprocessed).",
    unit: "short",
    queries: [
      prom(`sum by (state) (${platformSeries("alertmanager_alerts", selectors.alertmanager)})`, "{{state}}"),
    ],
  });

const headSeries = () =>
  timeseries({
    title: "Prometheus head series",
    description: "Series in Prometheus' head block: a sudden rise means a label with unbounded values.",
    unit: "short",
    queries: [prom(platformSeries("prometheus_tsdb_head_series", selectors.prometheus), "series")],
  });

const backupSize = () =>
  stat({
    title: "Last backup size",
    description: "Size of the newest backup archive, by kind.",
    unit: "bytes",
    queries: [prom(series("kali_agents_backup_last_size_bytes", exp), "{{kind}}")],
  });

const backupDuration = () =>
  stat({
    title: "Last backup duration",
    alerts: ["BackupLastRunFailed"],
    description: "How long the last backup run took.",
    unit: "s",
    queries: [prom(job("kali_agents_job_last_run_duration_seconds", "backup"), "duration")],
  });

const backupVerified = () =>
  stat({
    title: "Backup verified",
    alerts: ["BackupVerificationFailed"],
    description: "Whether the newest backup restored into a scratch database and passed its checks.",
    unit: "none",
    queries: [prom(series("kali_agents_backup_verification_success", exp), "verified")],
    mappings: okFailedMapping,
    thresholds: { base: "red", steps: [["green", 1]] },
  });

const lastVerifyAge = () =>
  stat({
    title: "Last verification age",
    description: "Time since the backup verification job last succeeded.",
    unit: "s",
    queries: [prom(secondsSinceJobSuccess("verify"), "age")],
    thresholds: above(t.backupMaxAgeSeconds),
  });

const backupAgeSeries = () =>
  timeseries({
    title: "Backup age",
    alerts: ["BackupTooOld"],
    description: "Time since the last successful backup. The dashed line is the BackupTooOld alerting level.",
    unit: "s",
    width: 8,
    queries: [prom(secondsSinceJobSuccess("backup"), "backup age")],
    thresholds: above(t.backupMaxAgeSeconds),
  });

const drDrillAge = () =>
  stat({
    title: "Last DR drill age",
    alerts: ["DrDrillTooOld"],
    description:
      "Time since the last successful disaster-recovery drill. Red from the DR-drill alerting level.",
    unit: "s",
    queries: [prom(secondsSinceJobSuccess("dr_drill"), "age")],
    thresholds: above(t.drDrillMaxAgeSeconds),
  });

const drDrillRto = () =>
  timeseries({
    title: "DR drill restore time (RTO)",
    alerts: ["DrDrillRestoreTooSlow"],
    description:
      "Time the last DR drill took from start to a verified, serving restore: the measured RTO. The dashed line is the RTO target (DrDrillRestoreTooSlow).",
    unit: "s",
    queries: [prom(series("kali_agents_dr_drill_restore_duration_seconds", exp), "RTO")],
    thresholds: above(t.rtoSeconds),
  });

const jobsSuccess = () =>
  stat({
    title: "Last run by job",
    description: "Whether each operations job's last run succeeded.",
    unit: "none",
    width: 12,
    queries: [prom(series("kali_agents_job_last_run_success", exp), `{{${jobMetricLabel}}}`)],
    mappings: okFailedMapping,
    thresholds: { base: "red", steps: [["green", 1]] },
  });

const jobsAge = () =>
  stat({
    title: "Since last success by job",
    description: `Time since each operations job (${jobNames.join(", ")}) last succeeded.`,
    unit: "s",
    width: 12,
    queries: [
      prom(
        `time() - ${series("kali_agents_job_last_success_timestamp_seconds", exp)}`,
        `{{${jobMetricLabel}}}`,
      ),
    ],
  });

const jobsDuration = () =>
  timeseries({
    title: "Job durations",
    description: "Duration of each operations job's last run.",
    unit: "s",
    queries: [prom(series("kali_agents_job_last_run_duration_seconds", exp), `{{${jobMetricLabel}}}`)],
  });

const cleanupRows = () =>
  timeseries({
    title: "Rows deleted by the last cleanup",
    alerts: ["CleanupJobFailed"],
    description:
      "Rows the last cleanup run deleted, by table, and rows still past retention in the scans table.",
    unit: "short",
    queries: [
      prom(series("kali_agents_cleanup_deleted_rows", exp), "{{table}} deleted"),
      prom(series("kali_agents_scan_rows_past_retention", exp), "scans past retention"),
    ],
  });

export const dashboard: DashboardModule = {
  name: "operations",
  title: "Kali Agents / Operations",
  description:
    "Health of the monitoring stack itself and of the operations jobs: backups, DR drill, cleanup.",
  folder: "operations",
  tags: ["operations", "backups"],
  build: () =>
    new DashboardBuilder("Kali Agents / Operations")
      .withRow(row("Exporter"))
      .withPanel(exporterUp())
      .withPanel(collectorSuccess())
      .withPanel(textfileErrors())
      .withPanel(collectorDurations())
      .withPanel(scrapeDurations())
      .withPanel(exporterLoad())
      .withPanel(exporterMemory())
      .withRow(row("Prometheus and Alertmanager"))
      .withPanel(targetsUpStat().span(12))
      .withPanel(promHealth())
      .withPanel(alertmanagerHealth())
      .withPanel(ruleFailures())
      .withPanel(notifications())
      .withPanel(alertsByState())
      .withPanel(headSeries())
      .withRow(row("Backups"))
      .withPanel(lastBackupAgeStat())
      .withPanel(backupSize())
      .withPanel(backupDuration())
      .withPanel(backupVerified())
      .withPanel(lastVerifyAge())
      .withPanel(drDrillAge())
      .withPanel(backupAgeSeries())
      .withPanel(drDrillRto().span(8).height(8))
      .withPanel(cleanupRows().span(8))
      .withRow(row("Jobs"))
      .withPanel(jobsSuccess())
      .withPanel(jobsAge())
      .withPanel(jobsDuration().span(24)),
};
