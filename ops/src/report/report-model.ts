// The weekly report's shape: the JSON it writes (Report), the scorecard's headline figures a trend
// compares, and the series the page charts. report.ts gathers it, report-html.ts prints it; both
// build on this file and neither imports the other's internals.
import type { Scorecard } from "./scorecard.ts";

export interface Report {
  readonly period: {
    readonly start: string;
    readonly end: string;
    /** The period's length in days: a fraction for a period of `--hours`. */
    readonly days: number;
    readonly seconds: number;
  };
  readonly scans: { total: number; successful: number; failed: number; avg_duration_seconds: number | null };
  readonly performance: {
    avg_response_time_seconds: number | null;
    p95_response_time_seconds: number | null;
    error_rate: number | null;
  };
  readonly resources: {
    avg_cpu_ratio: number | null;
    avg_memory_ratio: number | null;
    peak_concurrent_scans: number | null;
  };
  readonly scorecard?: Scorecard;
  /** The scorecard's headline figures of the previous weeks' reports, newest first. */
  readonly history?: readonly HistoryEntry[];
  readonly charts?: Charts;
  readonly previous?: {
    readonly file: string;
    readonly report: Omit<Report, "previous" | "history" | "charts">;
  };
}

export interface HistoryEntry {
  readonly file: string;
  readonly period_end: string;
  readonly figures: Headline;
}

/** The scorecard's figures that a trend compares, week after week. */
export interface Headline {
  readonly uptime: number | null;
  readonly uptime_30d: number | null;
  readonly mean_recovery_seconds: number | null;
  readonly p90_recovery_seconds: number | null;
  readonly mean_response_seconds: number | null;
  readonly never_acknowledged_share: number | null;
  readonly backup_success_rate_30d: number | null;
  readonly automated_share: number | null;
  readonly manual_interventions_30d: number | null;
  readonly documentation_coverage: number | null;
}

export const headline = (s: Scorecard): Headline => ({
  uptime: s.uptime.availability.value,
  uptime_30d: s.uptime.availability_30d.value,
  mean_recovery_seconds: s.recovery.mean_seconds.value,
  p90_recovery_seconds: s.recovery.p90_seconds,
  mean_response_seconds: s.response.mean_seconds.value,
  never_acknowledged_share: s.response.never_acknowledged_share,
  backup_success_rate_30d: s.backups.success_rate_30d.value,
  automated_share: s.automation.automated_share.value,
  manual_interventions_30d: s.interventions.total_30d.value,
  documentation_coverage: s.documentation.coverage.value,
});

export type Point = readonly [number, number];
export interface Charts {
  readonly step_seconds: number;
  /** Finished scans per UTC day of the period. */
  readonly scans_per_day: readonly { date: string; total: number; successful: number; failed: number }[];
  /**
   * For a period shorter than a day (`--hours`), where a day is one bar: finished scans per interval
   * of `bucket_seconds` (scanBucketSeconds), each from `start` (UTC), the last one cut at the period's end.
   */
  readonly scans_per_interval?: {
    readonly bucket_seconds: number;
    readonly buckets: readonly { start: string; total: number; successful: number; failed: number }[];
  };
  readonly api_p95_seconds: readonly Point[];
  readonly api_error_rate: readonly Point[];
  readonly cpu_ratio: readonly Point[];
  readonly memory_ratio: readonly Point[];
  readonly filesystems: readonly Capacity[];
  readonly database: readonly Capacity[];
}

export interface Capacity {
  /** The mount point, or the database's name. */
  readonly name: string;
  /** Used bytes over the period. */
  readonly used_bytes: readonly Point[];
  /** Bytes that may still be used at the period's end (filesystem: available; database: its filesystem's). */
  readonly free_bytes: number | null;
  /** Growth of the used bytes per day, least-squares over the period. */
  readonly growth_bytes_per_day: number | null;
  /** When the free bytes would run out at that growth; null when not growing. */
  readonly fills_at: string | null;
}
