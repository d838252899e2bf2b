// Scans, from the exporter's scans collector (the application's scans table) and its Redis queues.
import type { RuleGroup } from "../../../definitions/rules.ts";
import { aggregationLabels, selectors } from "../../../definitions/selectors.ts";
import { thresholds } from "../../../definitions/thresholds.ts";
import { eq, humanDuration, num, percent, series } from "../../../lib/promql.ts";
import { scanFailureRatio, secondsSinceLastScanFinished } from "../../../lib/signals.ts";

const t = thresholds.scans;
const exp = selectors.exporter;
const pastRetention = series("kali_agents_scan_rows_past_retention", exp);

export const scansGroup: RuleGroup = {
  name: "scans",
  rules: [
    {
      alert: "ScansHighFailureRatio",
      // Over an hour per tool: scans are slow and few, and a shorter window turns one failure into 100%.
      expr: `${scanFailureRatio("1h", `${aggregationLabels.target}, tool`)} > ${num(t.failureRatio)}`,
      for: "15m",
      severity: "warning",
      summary: "Many scans are failing",
      description: `{{ $value | humanizePercentage }} of the {{ $labels.tool }} scans that finished in the last hour failed (threshold ${percent(t.failureRatio)}).`,
    },
    {
      alert: "ScansStuckRunning",
      expr: `${series("kali_agents_oldest_running_scan_age_seconds", exp)} > ${num(t.stuckRunningSeconds)}`,
      for: "5m",
      severity: "warning",
      summary: "A scan has been running for too long",
      description: `The oldest running scan started {{ $value | humanizeDuration }} ago (threshold ${humanDuration(t.stuckRunningSeconds)}); its worker may be hung or dead.`,
    },
    {
      alert: "ScansQueueBacklog",
      // Long and still growing: a long queue that drains is a burst, not a fault.
      expr: `${series("kali_agents_scan_queue_length", exp)} > ${num(t.queueBacklog)} and delta(${series("kali_agents_scan_queue_length", exp)}[15m]) > 0`,
      for: "15m",
      severity: "warning",
      summary: "Scan queue backlog is growing",
      description: `Queue {{ $labels.queue }} holds {{ $value }} scans (threshold ${num(t.queueBacklog)}) and kept growing over the last 15 minutes.`,
    },
    {
      alert: "ScansNotFinishing",
      // Nothing finished for a while is only a fault when work is waiting.
      expr: `${secondsSinceLastScanFinished()} > ${num(t.noFinishWhileQueuedSeconds)} and on (${aggregationLabels.target}) sum by (${aggregationLabels.target}) (${series("kali_agents_active_scans", exp, eq("status", "queued"))}) > 0`,
      for: "5m",
      severity: "critical",
      summary: "No scan is finishing while scans are queued",
      description: `No scan has finished for {{ $value | humanizeDuration }} (threshold ${humanDuration(t.noFinishWhileQueuedSeconds)}) although scans are queued: the workers are not taking work.`,
    },
    {
      alert: "ScansRetentionCleanupOverdue",
      // Rows cross the retention line all day long, so on a busy table the count is rarely 0 at a
      // scrape even right after the daily cleanup (a `> 0 for 26h` never reset there and fired on a
      // well-cleaned table). The cleanup shows as the count going down: overdue means rows were past
      // retention 26 hours ago, still are, and the count never went down in between.
      expr: `${pastRetention} > 0 and ${pastRetention} offset 26h > 0 and resets(${pastRetention}[26h]) == 0`,
      for: "10m",
      severity: "warning",
      summary: "Scans past the retention period are not being cleaned up",
      description: `{{ $value }} rows of the scans table are older than the retention period and the count has not gone down for 26 hours: the cleanup job is not running or not deleting.`,
    },
  ],
};
