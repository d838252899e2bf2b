// Thresholds, written once and imported by the Prometheus rules, the Loki rules, the dashboards and the
// exporter's /health report (kubernetes-mixin's config.libsonnet plays this part there). A threshold
// written anywhere else is a bug: change it here and regenerate. The SLO is in slo.ts, the scorecard's
// targets in scorecard.ts, the selectors and labels in selectors.ts.

/** Thresholds, as ratios (0..1) or in base units (seconds, bytes). */
export const thresholds = {
  host: {
    cpuBusyRatio: 0.8, // seed: CPU usage > 80% for 5+ minutes
    memoryUsedRatio: 0.9, // seed: memory warns at 90%
    filesystemUsedRatio: 0.9, // seed: disk warns at 90%
    filesystemFillHorizonSeconds: 24 * 3600,
    clockSkewSeconds: 60,
    /** A boot time newer than this is a recent reboot (an info alert, not a page). */
    recentBootSeconds: 15 * 60,
  },
  postgres: {
    connectionsUsedRatio: 0.8,
    longTransactionSeconds: 15 * 60,
  },
  redis: {
    memoryUsedRatio: 0.9,
  },
  scans: {
    failureRatio: 0.25,
    stuckRunningSeconds: 4 * 3600,
    queueBacklog: 100,
    noFinishWhileQueuedSeconds: 30 * 60,
    retentionDays: 90,
  },
  api: {
    latencyP95Seconds: 1,
    errorRatio: 0.05,
  },
  jobs: {
    backupMaxAgeSeconds: 26 * 3600,
    /** The off-site copy's RPO when the host is lost: a daily upload, with the same 2 h of slack. */
    backupOffsiteMaxAgeSeconds: 26 * 3600,
    drDrillMaxAgeSeconds: 35 * 24 * 3600,
    /**
     * The recovery-time objective of the application database (docs/operations/backup-and-recovery.md):
     * the DR drill's measured restore (download, restore, checks) must stay within it.
     */
    rtoSeconds: 3600,
  },
  health: {
    // The /health report's own thresholds (seed defaults): the defaults of the exporter's
    // HEALTH_*_WARN_PERCENT variables (exporter/src/config.ts), which can override them.
    diskWarnPercent: 90,
    memoryWarnPercent: 90,
    cpuWarnPercent: 80,
  },
  logs: {
    // Log-based alerts (loki/rules/src). Counts and rates are over a 5m window.
    authFailuresPer5m: 20,
    errorStreamLinesPerSecond: 0.5,
    errorLevelRatio: 0.05,
    /** Below this rate (lines/s) a source's error ratio is noise: one error in three lines is not an outage. */
    errorRatioMinLinesPerSecond: 0.1,
    /** The app stream logs every request; this long without a line means the application stopped. */
    silentStreamSeconds: 15 * 60,
  },
} as const;

/** Redirects an HTTP probe follows before it calls the answer a failure. */
export const probeMaxRedirects = 10;
