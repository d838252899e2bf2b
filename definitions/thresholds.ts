// Selectors, thresholds and SLO targets, written once and imported by the Prometheus rules, the Loki
// rules and the dashboards (kubernetes-mixin's config.libsonnet plays this part there). A selector or a
// threshold written anywhere else is a bug: change it here and regenerate.

/** Scrape job names, as prometheus/prometheus.yml names them. */
export const jobs = {
  exporter: "kali-agents-exporter",
  api: "kali-agents-api",
  prometheus: "prometheus",
  alertmanager: "alertmanager",
  loki: "loki",
  promtail: "promtail",
  grafana: "grafana",
} as const;

/** Label matchers (without braces) selecting each source's series. */
export const selectors = {
  exporter: `job="${jobs.exporter}"`,
  api: `job="${jobs.api}"`,
  prometheus: `job="${jobs.prometheus}"`,
  alertmanager: `job="${jobs.alertmanager}"`,
  /** Real filesystems only: pseudo and overlay filesystems are excluded at the exporter as well. */
  filesystem: `job="${jobs.exporter}", fstype!~"tmpfs|overlay|squashfs|ramfs|nsfs"`,
} as const;

/**
 * The label naming the host a series comes from once several hosts send to one store. Each edge
 * Prometheus sets it in `global.external_labels` (deploy/remote-write/), so it is attached on the way
 * out (remote_write, alerts) and absent from the edge's own TSDB; Promtail and Alloy set it on every log
 * stream. A query or rule that works on one host must therefore work with it absent too.
 */
export const hostLabel = "host";

/**
 * What an aggregation keeps (`sum by (...)`, `on (...)`), so that on a central Prometheus one result is
 * still one target of one host: `instance` alone is the same on every compose host ("exporter:9839").
 * With no host label (one compose host) the results are exactly those without it.
 */
export const aggregationLabels = {
  /** One scrape target on one host. */
  target: `job, ${hostLabel}, instance`,
  /** One job on one host (the API's recordings, summed over its instances). */
  job: `job, ${hostLabel}`,
} as const;

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

/**
 * The API availability SLO (the seed's 99.9% uptime goal) and its multi-window, multi-burn-rate alerts
 * (Google SRE workbook, "Alerting on SLOs", table 5-8).
 */
export const apiSlo = {
  target: 0.999,
  period: "30d",
  /** A request counts as an error when the API answered 5xx. */
  errorCodeRegex: "5..",
  windows: [
    { long: "1h", short: "5m", burnRate: 14.4, for: "2m", severity: "critical" },
    { long: "6h", short: "30m", burnRate: 6, for: "15m", severity: "critical" },
    { long: "1d", short: "2h", burnRate: 3, for: "1h", severity: "warning" },
    { long: "3d", short: "6h", burnRate: 1, for: "3h", severity: "warning" },
  ],
} as const;

/**
 * The label that carries a job-metric's `job` (backup, verify, ...) once Prometheus has scraped it. The
 * textfile files write `job="backup"`, but Prometheus keeps the scrape's own `job` label (honor_labels
 * false, the default) and renames the file's one to `exported_job`.
 */
export const jobMetricLabel = "exported_job";

/** `kind` label values of the exporter's probes (kali_agents_probe_*{target,kind}). */
export const probeKinds = { api: "api", mcp: "mcp" } as const;

/** Redirects an HTTP probe follows before it calls the answer a failure. */
export const probeMaxRedirects = 10;

/** Datasource UIDs fixed by Grafana provisioning and used by every dashboard. */
export const datasourceUids = {
  prometheus: "kali-prometheus",
  loki: "kali-loki",
  alertmanager: "kali-alertmanager",
} as const;

/**
 * Names of the recording rules that dashboards read (the Prometheus rules define them). Recording
 * rules follow the `level:metric:operations` convention.
 */
export const recordings = {
  /** Ratio of 5xx API responses over a window, e.g. apiErrorRatio("5m"). */
  apiErrorRatio: (window: string) => `kali_agents:api_error_ratio:rate${window}`,
  /** Share of the 30-day error budget still left (1 = untouched, 0 = spent, negative = overspent). */
  apiErrorBudgetRemaining: "kali_agents:api_error_budget_remaining:ratio",
  /** Request rate by route and code. */
  apiRequestRate: "kali_agents:api_requests:rate5m",
  /** p95 latency by route. */
  apiLatencyP95: "kali_agents:api_request_duration_seconds:p95_5m",
  /** Log lines per second by job, stream, service and level: a Loki recording rule written to Prometheus. */
  logLinesRate: "kali_agents:log_lines:rate5m",
} as const;

/**
 * The operations plan's success metrics (docs/operations/scorecard.md defines each): the targets the
 * weekly report, the "Operations scorecard" dashboard and the scorecard alerts compare against.
 */
export const scorecardTargets = {
  /** API availability over 30 days (the SLO). */
  uptimeRatio: 0.999,
  /** Mean time from an incident firing to its resolution, per week: below. */
  meanTimeToRecoverySeconds: 3600,
  /** Share of backup runs that succeeded over 30 days: at least. */
  backupSuccessRatio: 1,
  /** Mean time from an alert firing to its acknowledgement (a silence), per week: below. */
  alertResponseSeconds: 15 * 60,
  /** Share of ops runs started by the scheduler, per week: above. */
  automatedShareRatio: 0.8,
  /** Manual ops runs plus silences created by people, over 30 days: below. */
  manualInterventions30d: 5,
  /** Alerts with a runbook, variables in a configuration table, metrics in the catalogue: above. */
  documentationCoverageRatio: 0.9,
} as const;
/**
 * The side of its target each figure must be on to meet it: `atLeast` (≥), `above` (>) or `below` (<).
 * The report's judgment and its table, the dashboard's colours and the alert all read it from here.
 */
export const scorecardTargetSides = {
  uptimeRatio: "atLeast",
  meanTimeToRecoverySeconds: "below",
  backupSuccessRatio: "atLeast",
  alertResponseSeconds: "below",
  automatedShareRatio: "above",
  manualInterventions30d: "below",
  documentationCoverageRatio: "above",
} as const satisfies Record<keyof typeof scorecardTargets, "atLeast" | "above" | "below">;

/** Recording rules of the scorecard (prometheus/rules/src/scorecard.ts defines them). */
export const scorecardRecordings = {
  /** Share of backup runs that succeeded over 30 days. */
  backupSuccessRatio30d: "kali_agents:backup_success:ratio30d",
  /** Ops runs over 7 days by `trigger` (scheduler, manual). */
  jobRuns7d: "kali_agents:job_runs:increase7d",
  /** Share of ops runs over 7 days started by the scheduler. */
  automatedShare7d: "kali_agents:job_runs_automated:ratio7d",
  /** Manual ops runs over 30 days. */
  manualRuns30d: "kali_agents:job_runs_manual:increase30d",
  /** Documentation coverage by `kind`, measured by `npm run generate` (constant between generations). */
  documentationCoverage: "kali_agents:documentation_coverage:ratio",
} as const;
