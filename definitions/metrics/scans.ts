// The scans table's metrics (the scans collector): Kali Agents' own.
import { def, type MetricDef } from "./metric.ts";

/** Scan durations run from seconds (a quick nmap) to hours (a full web crawl). */
const scanDurationBuckets = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400] as const;

export const scanMetrics = [
  def("scans", "kali_agents_active_scans", "gauge", "Scans queued or running, by tool and status.", [
    "tool",
    "status",
  ]),
  def(
    "scans",
    "kali_agents_scans_total",
    "counter",
    "Scans finished, by tool and final status (success, failed, cancelled), each counted once when the transaction that finished it commits.",
    ["tool", "status"],
  ),
  def(
    "scans",
    "kali_agents_scan_duration_seconds",
    "histogram",
    "Duration from started_at to finished_at of scans that finished since the exporter started.",
    ["tool"],
    { buckets: scanDurationBuckets },
  ),
  def(
    "scans",
    "kali_agents_scan_tools_folded",
    "gauge",
    'Distinct `tool` values counted under `tool="other"` because EXPORTER_SCANS_MAX_TOOLS tools already have their own series.',
  ),
  def(
    "scans",
    "kali_agents_oldest_running_scan_age_seconds",
    "gauge",
    "Age since started_at of the oldest scan still running (0 when none is running).",
  ),
  def(
    "scans",
    "kali_agents_last_scan_finished_timestamp_seconds",
    "gauge",
    "Unix time of the most recent finished_at in the scans table.",
  ),
  def(
    "scans",
    "kali_agents_scan_rows_past_retention",
    "gauge",
    "Rows of the scans table older than the retention period (non-zero means the cleanup is not running).",
  ),
  def(
    "scans",
    "kali_agents_scan_rows_to_read",
    "gauge",
    "Finished scans committed but not yet counted: a backlog (a burst of finishes) read over the next scrapes; 0 when caught up.",
  ),
] as const satisfies readonly MetricDef[];
