// Backups and the other ops jobs, on the job-metric contract (definitions/metrics/jobs.ts `jobMetrics`):
// the jobs write their results as textfile metrics that the exporter publishes.
import type { JobName } from "../../../definitions/metrics/jobs.ts";
import type { RuleGroup } from "../../../definitions/rules.ts";
import { jobMetricLabel, selectors } from "../../../definitions/selectors.ts";
import { thresholds } from "../../../definitions/thresholds.ts";
import { duration, eq, humanDuration, num, series } from "../../../lib/promql.ts";
import { secondsSinceJobSuccess } from "../../../lib/signals.ts";

const t = thresholds.jobs;
/** One ops job's series; its `job` label arrives as `exported_job` (see jobMetricLabel). */
const opsJob = (name: JobName) => [selectors.exporter, eq(jobMetricLabel, name)];
const lastSuccess = (name: JobName) =>
  series("kali_agents_job_last_success_timestamp_seconds", ...opsJob(name));
const lastRunOk = (name: JobName) => series("kali_agents_job_last_run_success", ...opsJob(name));

export const jobsGroup: RuleGroup = {
  name: "jobs",
  rules: [
    {
      alert: "BackupTooOld",
      expr: `${secondsSinceJobSuccess("backup")} > ${num(t.backupMaxAgeSeconds)}`,
      for: "10m",
      severity: "critical",
      // The two BackupTooOld rules differ by `reason`, so Prometheus keeps them apart (and says why).
      labels: { reason: "too_old" },
      summary: "No recent successful backup",
      description: `The last successful backup finished {{ $value | humanizeDuration }} ago (threshold ${humanDuration(t.backupMaxAgeSeconds)}): a restore now would lose more than a day of scans.`,
    },
    {
      // Same alert when no backup ever reported: a fresh install, a job never scheduled, or a textfile
      // directory the exporter does not read. The `for` gives a new install the same grace as a backup.
      alert: "BackupTooOld",
      expr: `absent(${lastSuccess("backup")})`,
      for: duration(t.backupMaxAgeSeconds),
      severity: "critical",
      labels: { reason: "no_record" },
      summary: "No recent successful backup",
      description: `{{ $labels.job }} has published no successful backup ({{ $labels.exported_job }}) for ${humanDuration(t.backupMaxAgeSeconds)}: the backup job never reported, or its metrics file is not read.`,
    },
    {
      alert: "BackupLastRunFailed",
      // A warning: the next run may succeed; BackupTooOld pages if none does in time.
      expr: `${lastRunOk("backup")} == 0`,
      for: "5m",
      severity: "warning",
      summary: "The last backup run failed",
      description: `The last run of the {{ $labels.exported_job }} job on {{ $labels.instance }} failed; see the job's log for the reason.`,
    },
    {
      // Only where an off-site store is configured: without OPS_S3_BUCKET the series does not exist.
      // A warning, not a page: the local backups are fresh (BackupTooOld watches them); what is at
      // risk is the recovery from the loss of the whole host.
      alert: "BackupOffsiteTooOld",
      expr: `time() - ${series("kali_agents_backup_offsite_last_success_timestamp_seconds", selectors.exporter)} > ${num(t.backupOffsiteMaxAgeSeconds)}`,
      for: "10m",
      severity: "warning",
      summary: "No recent off-site copy of the backups",
      description: `The last backup uploaded completely to the off-site store finished {{ $value | humanizeDuration }} ago (threshold ${humanDuration(t.backupOffsiteMaxAgeSeconds)}): if the host were lost now, more than a day of scans would be.`,
    },
    {
      alert: "BackupVerificationFailed",
      // Critical: a backup that does not restore is no backup.
      expr: `${series("kali_agents_backup_verification_success", selectors.exporter)} == 0`,
      for: "5m",
      severity: "critical",
      summary: "The newest backup failed its restore verification",
      description: `The newest backup did not restore into a scratch database or failed its checks (reported by {{ $labels.instance }}).`,
    },
    {
      alert: "DrDrillTooOld",
      expr: `${secondsSinceJobSuccess("dr_drill")} > ${num(t.drDrillMaxAgeSeconds)}`,
      for: "1h",
      severity: "warning",
      summary: "No recent successful disaster-recovery drill",
      description: `The last successful DR drill finished {{ $value | humanizeDuration }} ago (threshold ${humanDuration(t.drDrillMaxAgeSeconds)}): the recovery procedure and its RTO are unproven.`,
    },
    {
      // The drill's measured RTO against the target: a restore that now takes longer than the hour
      // promised would make a real recovery late. A warning (nothing is down), from the drill's
      // figure, which stays until the next drill.
      alert: "DrDrillRestoreTooSlow",
      expr: `${series("kali_agents_dr_drill_restore_duration_seconds", selectors.exporter)} > ${num(t.rtoSeconds)}`,
      for: "5m",
      severity: "warning",
      summary: "The DR drill's restore took longer than the RTO target",
      description: `The last DR drill restored the database in {{ $value | humanizeDuration }}, over the ${humanDuration(t.rtoSeconds)} recovery-time objective: a real recovery would be late.`,
    },
    {
      alert: "CleanupJobFailed",
      expr: `${lastRunOk("cleanup")} == 0`,
      for: "5m",
      severity: "warning",
      summary: "The last cleanup run failed",
      description: `The last run of the {{ $labels.exported_job }} job on {{ $labels.instance }} failed: old scans, logs and backups are piling up.`,
    },
  ],
};
