// How queries find their series, written once and imported by the Prometheus rules, the Loki rules,
// the dashboards and the programs that query Prometheus: the scrape job names, the label matchers of
// each source, the labels a series is grouped and told apart by, Grafana's datasource UIDs and the
// names of the recording rules. A selector written anywhere else is a bug: change it here and regenerate.

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

/**
 * The label that carries a job-metric's `job` (backup, verify, ...) once Prometheus has scraped it. The
 * textfile files write `job="backup"`, but Prometheus keeps the scrape's own `job` label (honor_labels
 * false, the default) and renames the file's one to `exported_job`.
 */
export const jobMetricLabel = "exported_job";

/** `kind` label values of the exporter's probes (kali_agents_probe_*{target,kind}). */
export const probeKinds = { api: "api", mcp: "mcp" } as const;

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
