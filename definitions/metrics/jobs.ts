// The job-metric contract: what the ops jobs publish through the exporter's textfile collector.
import type { MetricDef, MetricType } from "./metric.ts";

const job = <N extends string>(
  name: N,
  type: MetricType,
  help: string,
  labels: readonly string[] = [],
): MetricDef & { readonly name: N } => ({
  name,
  type,
  help,
  labels,
  source: "job",
});

/**
 * The job-metric contract: what the ops jobs write into the textfile directory (one file per job,
 * written to a temporary name and renamed). `job` is one of `jobNames`.
 */
export const jobNames = ["backup", "verify", "restore", "dr_drill", "cleanup", "report"] as const;
export type JobName = (typeof jobNames)[number];
/** How an ops run was started: by `ops schedule`, or by a person running a command. */
export const jobTriggers = ["scheduler", "manual"] as const;
export type JobTrigger = (typeof jobTriggers)[number];

export const jobMetrics = [
  job(
    "kali_agents_job_last_run_timestamp_seconds",
    "gauge",
    "Unix time the job last finished, whatever its outcome.",
    ["job"],
  ),
  job(
    "kali_agents_job_last_success_timestamp_seconds",
    "gauge",
    "Unix time the job last finished successfully.",
    ["job"],
  ),
  job(
    "kali_agents_job_last_run_success",
    "gauge",
    "Whether the job's last run succeeded (1) or failed (0).",
    ["job"],
  ),
  job("kali_agents_job_last_run_duration_seconds", "gauge", "Duration of the job's last run.", ["job"]),
  job(
    "kali_agents_job_runs_total",
    "counter",
    "Runs of the job by result (`success`, `failure`) and by how it was started (`scheduler`, `manual`: a person). Every combination is written from the first run, so rates over a window compare like with like.",
    ["job", "result", "trigger"],
  ),
  job("kali_agents_backup_last_size_bytes", "gauge", "Size of the newest backup archive.", ["kind"]),
  job(
    "kali_agents_backup_offsite_success",
    "gauge",
    "Whether the last backup's off-site copy (upload to the S3 bucket) succeeded (1) or not (0); absent without OPS_S3_BUCKET.",
  ),
  job(
    "kali_agents_backup_offsite_last_success_timestamp_seconds",
    "gauge",
    "Unix time a backup was last uploaded completely (manifest included) to the off-site store.",
  ),
  job(
    "kali_agents_backup_verification_success",
    "gauge",
    "Whether the newest backup restored into a scratch database and passed its checks (1) or not (0).",
  ),
  job(
    "kali_agents_dr_drill_restore_duration_seconds",
    "gauge",
    "Time the last DR drill took from start to a verified, serving restore (the measured RTO).",
  ),
  job("kali_agents_cleanup_deleted_rows", "gauge", "Rows deleted by the last cleanup run, by table.", [
    "table",
  ]),
  job(
    "kali_agents_report_scorecard",
    "gauge",
    "The last weekly report's scorecard figures by `figure` (docs/operations/scorecard.md): seconds for recovery and response, ratios for shares, a count for interventions. A figure without data has no sample.",
    ["figure"],
  ),
] as const satisfies readonly MetricDef[];
