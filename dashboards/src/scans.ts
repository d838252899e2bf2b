// Scans: what is running and queued, what finished and how, how long scans take, and what is stuck.
import { DashboardBuilder } from "@grafana/grafana-foundation-sdk/dashboard";
import { selectors } from "../../definitions/selectors.ts";
import { thresholds } from "../../definitions/thresholds.ts";
import { histogramSeries, series } from "../../lib/promql.ts";
import { scanFailureRatio, secondsSinceLastScanFinished } from "../../lib/signals.ts";
import {
  above,
  prom,
  rate,
  row,
  stat,
  timeseries,
  histogramHeatmap,
  type DashboardModule,
} from "./common.ts";

const exp = selectors.exporter;
const t = thresholds.scans;

// Panel factories, also used by the overview.

export const activeScansStat = () =>
  stat({
    title: "Active scans",
    description: "Scans queued or running now (kali_agents_active_scans, read from the scans table).",
    unit: "short",
    queries: [prom(`sum(${series("kali_agents_active_scans", exp)})`, "active")],
  });

const finished = (status?: string) =>
  rate(series("kali_agents_scans_total", exp, status ? `status="${status}"` : undefined));

export const successRateStat = () =>
  stat({
    title: "Scan success rate",
    alerts: ["ScansHighFailureRatio"],
    description:
      "Share of the scans finished over the rate window that ended in success (failed and cancelled count against it). Red below the alerting level of the failure ratio.",
    unit: "percentunit",
    decimals: 1,
    queries: [prom(`sum(${finished("success")}) / sum(${finished()})`, "success rate")],
    thresholds: { base: "red", steps: [["green", 1 - t.failureRatio]] },
  });

export const queueDepthStat = () =>
  stat({
    title: "Queue depth",
    alerts: ["ScansQueueBacklog"],
    description: "Scans waiting in the Redis scan queues (sum of every configured queue list).",
    unit: "short",
    queries: [prom(`sum(${series("kali_agents_scan_queue_length", exp)})`, "queued")],
    thresholds: above(t.queueBacklog),
  });

export const oldestRunningStat = () =>
  stat({
    title: "Oldest running scan",
    alerts: ["ScansStuckRunning"],
    description:
      "Age of the oldest scan still running. A scan older than the stuck threshold is probably hung: see the ScansStuckRunning runbook.",
    unit: "s",
    queries: [prom(series("kali_agents_oldest_running_scan_age_seconds", exp), "age")],
    thresholds: above(t.stuckRunningSeconds),
  });

const sinceLastFinishStat = () =>
  stat({
    title: "Since last finished scan",
    alerts: ["ScansNotFinishing"],
    description:
      "Time since the most recent finished_at in the scans table. Long gaps while scans are queued mean the workers are not picking them up.",
    unit: "s",
    queries: [prom(secondsSinceLastScanFinished(), "since")],
    thresholds: above(t.noFinishWhileQueuedSeconds),
  });

const pastRetentionStat = () =>
  stat({
    title: "Rows past retention",
    alerts: ["ScansRetentionCleanupOverdue"],
    description: `Rows of the scans table older than the retention (SCANS_RETENTION_DAYS, ${t.retentionDays} days by default). On a busy table some always are: rows cross the line all day and the cleanup removes them daily, so the count drops after each cleanup; a count that has not gone down for 26 hours fires ScansRetentionCleanupOverdue.`,
    unit: "short",
    queries: [prom(series("kali_agents_scan_rows_past_retention", exp), "rows")],
  });

const activeByToolStatus = () =>
  timeseries({
    title: "Active scans by tool and status",
    description: "Scans queued or running, by tool and status.",
    unit: "short",
    queries: [
      prom(`sum by (tool, status) (${series("kali_agents_active_scans", exp)})`, "{{tool}} {{status}}"),
    ],
  });

const finishedByToolStatus = () =>
  timeseries({
    title: "Finished scans by tool and status",
    description: "Scans finished per minute, by tool and final status (success, failed, cancelled).",
    unit: "opm",
    queries: [prom(`60 * sum by (tool, status) (${finished()})`, "{{tool}} {{status}}")],
  });

const failureRatioByTool = () =>
  timeseries({
    title: "Failure ratio by tool",
    alerts: ["ScansHighFailureRatio"],
    description:
      "Share of finished scans that failed, by tool. The dashed line is the ScansHighFailureRatio alerting level.",
    unit: "percentunit",
    min: 0,
    queries: [prom(scanFailureRatio("$__rate_interval", "tool"), "{{tool}}")],
    thresholds: above(t.failureRatio),
  });

const durationBucket = () => rate(histogramSeries("kali_agents_scan_duration_seconds", "bucket", exp));

const durationHeatmap = () =>
  histogramHeatmap({
    title: "Scan duration distribution",
    description: "How many scans finished in each duration bucket (kali_agents_scan_duration_seconds).",
    unit: "s",
    queries: [prom(`sum by (le) (${durationBucket()})`, "{{le}}", { format: "heatmap" })],
  });

const quantile = (q: number, by = "") =>
  `histogram_quantile(${q}, sum by (le${by ? `, ${by}` : ""}) (${durationBucket()}))`;

const durationQuantiles = () =>
  timeseries({
    title: "Scan duration quantiles",
    description: "Median, 90th and 99th percentile of scan durations, from the duration histogram.",
    unit: "s",
    queries: [prom(quantile(0.5), "p50"), prom(quantile(0.9), "p90"), prom(quantile(0.99), "p99")],
  });

const durationP90ByTool = () =>
  timeseries({
    title: "Scan duration p90 by tool",
    description: "90th percentile of scan durations by tool.",
    unit: "s",
    queries: [prom(quantile(0.9, "tool"), "{{tool}}")],
  });

const queueDepthByQueue = () =>
  timeseries({
    title: "Queue depth by queue",
    alerts: ["ScansQueueBacklog"],
    description: "Length of each Redis scan queue. The dashed line is the backlog alerting level.",
    unit: "short",
    min: 0,
    queries: [prom(`sum by (queue) (${series("kali_agents_scan_queue_length", exp)})`, "{{queue}}")],
    thresholds: above(t.queueBacklog),
  });

const oldestRunningSeries = () =>
  timeseries({
    title: "Oldest running scan age",
    alerts: ["ScansStuckRunning"],
    description: "Age of the oldest running scan over time; a line that only climbs is a stuck scan.",
    unit: "s",
    min: 0,
    queries: [prom(series("kali_agents_oldest_running_scan_age_seconds", exp), "oldest running")],
    thresholds: above(t.stuckRunningSeconds),
  });

export const dashboard: DashboardModule = {
  name: "scans",
  title: "Kali Agents / Scans",
  description: "Scans by tool and status, durations, queues and stuck scans.",
  folder: "kali-agents",
  tags: ["scans"],
  build: () =>
    new DashboardBuilder("Kali Agents / Scans")
      .withRow(row("Now"))
      .withPanel(activeScansStat())
      .withPanel(successRateStat())
      .withPanel(queueDepthStat())
      .withPanel(oldestRunningStat())
      .withPanel(sinceLastFinishStat())
      .withPanel(pastRetentionStat())
      .withRow(row("By tool and status"))
      .withPanel(activeByToolStatus())
      .withPanel(finishedByToolStatus())
      .withPanel(failureRatioByTool().span(24))
      .withRow(row("Durations"))
      .withPanel(durationHeatmap())
      .withPanel(durationQuantiles())
      .withPanel(durationP90ByTool().span(24))
      .withRow(row("Queues and stuck scans"))
      .withPanel(queueDepthByQueue())
      .withPanel(oldestRunningSeries()),
};
