// The metric catalogue: plain data, imported by the exporter's collectors (which create their metrics
// from it), by the rule and dashboard generators, and by the docs generator. It must stay free of
// runtime dependencies (no prom-client, pg or ioredis here) so the generators never load a client.
//
// Names follow the exporters people already run (node_exporter, postgres_exporter, redis_exporter) so
// that community dashboards and mixins work unchanged; what is Kali Agents' own is `kali_agents_`.

export type MetricType = "counter" | "gauge" | "histogram";

/** Who publishes a metric. Rules and panels may only use metrics from one of these sources. */
export type MetricSource =
  /** the exporter, from one of its collectors */
  | "exporter"
  /** the ops jobs, through the exporter's textfile collector (a contract, see docs/metrics.md) */
  | "job"
  /** the Kali Agents API's own /metrics (a contract with the application) */
  | "api";

export interface MetricDef {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  readonly labels: readonly string[];
  readonly source: MetricSource;
  /** The collector that owns it (for source "exporter"). */
  readonly collector?: CollectorName;
  /** Histogram buckets, in the metric's base unit. */
  readonly buckets?: readonly number[];
}

export type CollectorName =
  "host" | "inventory" | "textfile" | "postgres" | "redis" | "scans" | "probes" | "exporter";

// The helpers keep each name's literal type (`N`), so `(typeof hostMetrics)[number]["name"]` is a union
// of the names and a dashboard or rule that names a metric by it stops compiling when the metric is renamed.
// The type's literal (`T`) is kept too, so exporter/src/metrics.ts gives a histogram its observe().
const def = <N extends string, T extends MetricType>(
  collector: CollectorName,
  name: N,
  type: T,
  help: string,
  labels: readonly string[] = [],
  extra: { buckets?: readonly number[] } = {},
): MetricDef & { readonly name: N; readonly type: T } => ({
  name,
  type,
  help,
  labels,
  source: "exporter",
  collector,
  ...extra,
});

const fsLabels = ["device", "mountpoint", "fstype"] as const;

export const hostMetrics = [
  def("host", "node_cpu_seconds_total", "counter", "Seconds the CPUs spent in each mode.", ["cpu", "mode"]),
  def("host", "node_load1", "gauge", "1m load average."),
  def("host", "node_load5", "gauge", "5m load average."),
  def("host", "node_load15", "gauge", "15m load average."),
  def("host", "node_memory_MemTotal_bytes", "gauge", "Memory information field MemTotal_bytes."),
  def("host", "node_memory_MemAvailable_bytes", "gauge", "Memory information field MemAvailable_bytes."),
  def("host", "node_memory_MemFree_bytes", "gauge", "Memory information field MemFree_bytes."),
  def("host", "node_memory_Buffers_bytes", "gauge", "Memory information field Buffers_bytes."),
  def("host", "node_memory_Cached_bytes", "gauge", "Memory information field Cached_bytes."),
  def("host", "node_memory_SwapTotal_bytes", "gauge", "Memory information field SwapTotal_bytes."),
  def("host", "node_memory_SwapFree_bytes", "gauge", "Memory information field SwapFree_bytes."),
  def("host", "node_filesystem_size_bytes", "gauge", "Filesystem size in bytes.", fsLabels),
  def("host", "node_filesystem_free_bytes", "gauge", "Filesystem free space in bytes.", fsLabels),
  def(
    "host",
    "node_filesystem_avail_bytes",
    "gauge",
    "Filesystem space available to non-root users in bytes.",
    fsLabels,
  ),
  def(
    "host",
    "node_filesystem_device_error",
    "gauge",
    "Whether an error (or a timeout) occurred while getting statistics for the given device.",
    fsLabels,
  ),
  def("host", "node_network_receive_bytes_total", "counter", "Network device statistic receive_bytes.", [
    "device",
  ]),
  def("host", "node_network_transmit_bytes_total", "counter", "Network device statistic transmit_bytes.", [
    "device",
  ]),
  def("host", "node_boot_time_seconds", "gauge", "Node boot time, in unixtime."),
  def("host", "node_time_seconds", "gauge", "System time in seconds since epoch (1970)."),
  def(
    "host",
    "node_uname_info",
    "gauge",
    "Labeled system information as provided by the uname system call.",
    ["sysname", "release", "version", "machine", "nodename", "domainname"],
  ),
] as const satisfies readonly MetricDef[];

/**
 * The host's static inventory, node_exporter's os, dmi and cpu-info families with its label sets. An
 * empty label value is no label at all to Prometheus, so a field the platform does not provide gives the
 * same series as node_exporter's, which leaves the label out.
 */
export const inventoryMetrics = [
  def(
    "inventory",
    "node_os_info",
    "gauge",
    "A metric with a constant '1' value labeled by build_id, id, id_like, image_id, image_version, name, pretty_name, variant, variant_id, version, version_codename, version_id.",
    [
      "build_id",
      "id",
      "id_like",
      "image_id",
      "image_version",
      "name",
      "pretty_name",
      "variant",
      "variant_id",
      "version",
      "version_codename",
      "version_id",
    ],
  ),
  def("inventory", "node_os_version", "gauge", "Metric containing the major.minor part of the OS version.", [
    "id",
    "id_like",
    "name",
  ]),
  def(
    "inventory",
    "node_dmi_info",
    "gauge",
    "A metric with a constant '1' value labeled by bios_date, bios_release, bios_vendor, bios_version, board_asset_tag, board_name, board_serial, board_vendor, board_version, chassis_asset_tag, chassis_serial, chassis_vendor, chassis_version, product_family, product_name, product_serial, product_sku, product_uuid, product_version, system_vendor if provided by DMI.",
    [
      "bios_date",
      "bios_release",
      "bios_vendor",
      "bios_version",
      "board_asset_tag",
      "board_name",
      "board_serial",
      "board_vendor",
      "board_version",
      "chassis_asset_tag",
      "chassis_serial",
      "chassis_vendor",
      "chassis_version",
      "product_family",
      "product_name",
      "product_serial",
      "product_sku",
      "product_uuid",
      "product_version",
      "system_vendor",
    ],
  ),
  def("inventory", "node_cpu_info", "gauge", "CPU information from /proc/cpuinfo.", [
    "package",
    "core",
    "cpu",
    "vendor",
    "family",
    "model",
    "model_name",
    "microcode",
    "stepping",
    "cachesize",
  ]),
] as const satisfies readonly MetricDef[];

export const textfileMetrics = [
  def("textfile", "node_textfile_mtime_seconds", "gauge", "Unixtime mtime of textfiles successfully read.", [
    "file",
  ]),
  def(
    "textfile",
    "node_textfile_scrape_error",
    "gauge",
    "1 if there was an error opening or reading a file, 0 otherwise.",
  ),
] as const satisfies readonly MetricDef[];

const dbLabels = ["datid", "datname"] as const;
const pgStatDatabase = <F extends string>(field: F, type: MetricType, help: string) =>
  def("postgres", `pg_stat_database_${field}` as const, type, help, dbLabels);

export const postgresMetrics = [
  def(
    "postgres",
    "pg_up",
    "gauge",
    "Whether the last scrape of PostgreSQL was able to connect (1) or not (0).",
  ),
  def("postgres", "pg_static", "gauge", "Version string as reported by PostgreSQL.", [
    "version",
    "short_version",
  ]),
  def(
    "postgres",
    "pg_exporter_ping_duration_seconds",
    "gauge",
    "Round-trip time of the exporter's `SELECT 1` to PostgreSQL in the last scrape.",
  ),
  def("postgres", "pg_stat_activity_count", "gauge", "Number of connections in this state.", [
    "datname",
    "state",
  ]),
  def(
    "postgres",
    "pg_stat_activity_max_tx_duration",
    "gauge",
    "Max duration in seconds any active transaction has been running.",
    ["datname", "state"],
  ),
  def("postgres", "pg_settings_max_connections", "gauge", "Server Parameter: max_connections."),
  def(
    "postgres",
    "pg_settings_superuser_reserved_connections",
    "gauge",
    "Server Parameter: superuser_reserved_connections.",
  ),
  def("postgres", "pg_database_size_bytes", "gauge", "Disk space used by the database.", ["datname"]),
  pgStatDatabase("numbackends", "gauge", "Number of backends currently connected to this database."),
  pgStatDatabase(
    "xact_commit",
    "counter",
    "Number of transactions in this database that have been committed.",
  ),
  pgStatDatabase(
    "xact_rollback",
    "counter",
    "Number of transactions in this database that have been rolled back.",
  ),
  pgStatDatabase("blks_read", "counter", "Number of disk blocks read in this database."),
  pgStatDatabase(
    "blks_hit",
    "counter",
    "Number of times disk blocks were found already in the buffer cache.",
  ),
  pgStatDatabase("tup_returned", "counter", "Number of rows returned by queries in this database."),
  pgStatDatabase("tup_fetched", "counter", "Number of rows fetched by queries in this database."),
  pgStatDatabase("tup_inserted", "counter", "Number of rows inserted by queries in this database."),
  pgStatDatabase("tup_updated", "counter", "Number of rows updated by queries in this database."),
  pgStatDatabase("tup_deleted", "counter", "Number of rows deleted by queries in this database."),
  pgStatDatabase(
    "conflicts",
    "counter",
    "Number of queries canceled due to conflicts with recovery in this database.",
  ),
  pgStatDatabase("deadlocks", "counter", "Number of deadlocks detected in this database."),
  def("postgres", "pg_locks_count", "gauge", "Number of locks.", ["datname", "mode"]),
] as const satisfies readonly MetricDef[];

export const redisMetrics = [
  def(
    "redis",
    "redis_up",
    "gauge",
    "Information about the Redis instance: 1 if it answered the last scrape.",
  ),
  def("redis", "redis_instance_info", "gauge", "Information about the Redis instance.", [
    "redis_version",
    "redis_mode",
    "role",
    "os",
    "maxmemory_policy",
  ]),
  def(
    "redis",
    "redis_exporter_ping_duration_seconds",
    "gauge",
    "Round-trip time of the exporter's PING to Redis in the last scrape.",
  ),
  def("redis", "redis_uptime_in_seconds", "gauge", "uptime_in_seconds metric."),
  def("redis", "redis_connected_clients", "gauge", "connected_clients metric."),
  def("redis", "redis_blocked_clients", "gauge", "blocked_clients metric."),
  def("redis", "redis_memory_used_bytes", "gauge", "used_memory metric."),
  def("redis", "redis_memory_max_bytes", "gauge", "maxmemory metric (0 when unlimited)."),
  def("redis", "redis_keyspace_hits_total", "counter", "keyspace_hits metric."),
  def("redis", "redis_keyspace_misses_total", "counter", "keyspace_misses metric."),
  def("redis", "redis_evicted_keys_total", "counter", "evicted_keys metric."),
  def("redis", "redis_expired_keys_total", "counter", "expired_keys metric."),
  def("redis", "redis_commands_processed_total", "counter", "total_commands_processed metric."),
  def("redis", "redis_connections_received_total", "counter", "total_connections_received metric."),
  def("redis", "redis_rejected_connections_total", "counter", "rejected_connections metric."),
  def("redis", "redis_db_keys", "gauge", "Total number of keys by DB.", ["db"]),
  def("redis", "redis_db_keys_expiring", "gauge", "Total number of expiring keys by DB.", ["db"]),
  // Kali Agents' own, but read from Redis: the redis collector owns it, so the scans collector (which
  // reads PostgreSQL) needs no Redis connection and Redis keeps its single connection.
  def(
    "redis",
    "kali_agents_scan_queue_length",
    "gauge",
    "Length of each configured Redis scan queue (a Redis list).",
    ["queue"],
  ),
] as const satisfies readonly MetricDef[];

/** Scan durations run from seconds (a quick nmap) to hours (a full web crawl). */
export const scanDurationBuckets = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400] as const;

export const scanMetrics = [
  def("scans", "kali_agents_active_scans", "gauge", "Scans queued or running, by tool and status.", [
    "tool",
    "status",
  ]),
  def(
    "scans",
    "kali_agents_scans_total",
    "counter",
    "Scans finished, by tool and final status (success, failed, cancelled), counted from a finished_at watermark.",
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
] as const satisfies readonly MetricDef[];

export const probeMetrics = [
  def(
    "probes",
    "kali_agents_probe_success",
    "gauge",
    "Whether the last probe of the target succeeded (1) or not (0).",
    ["target", "kind"],
  ),
  def("probes", "kali_agents_probe_duration_seconds", "gauge", "Duration of the last probe of the target.", [
    "target",
    "kind",
  ]),
  def(
    "probes",
    "kali_agents_probe_http_status_code",
    "gauge",
    "HTTP status code of the last probe (0 for TCP probes and for failures before a response).",
    ["target", "kind"],
  ),
] as const satisfies readonly MetricDef[];

export const exporterMetrics = [
  def(
    "exporter",
    "kali_agents_exporter_collector_success",
    "gauge",
    "Whether the collector succeeded (1) or failed or overran its deadline (0) in the last collection.",
    ["collector"],
  ),
  def(
    "exporter",
    "kali_agents_exporter_collector_duration_seconds",
    "gauge",
    "Duration of the collector in the last collection.",
    ["collector"],
  ),
  def(
    "exporter",
    "kali_agents_exporter_collections_total",
    "counter",
    "Collections run (shared by concurrent scrapes).",
  ),
  def("exporter", "kali_agents_exporter_scrapes_total", "counter", "Requests answered on /metrics."),
  def("exporter", "kali_agents_exporter_build_info", "gauge", "The exporter's version and Node.js version.", [
    "version",
    "nodejs_version",
  ]),
] as const satisfies readonly MetricDef[];

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
] as const satisfies readonly MetricDef[];

const api = <N extends string>(
  name: N,
  type: MetricType,
  help: string,
  labels: readonly string[],
  buckets?: number[],
) => ({
  name,
  type,
  help,
  labels,
  source: "api" as const,
  ...(buckets ? { buckets } : {}),
});

/** The contract with the Kali Agents API's own /metrics. */
export const apiMetrics = [
  api(
    "http_requests_total",
    "counter",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "code"],
  ),
  api(
    "http_request_duration_seconds",
    "histogram",
    "HTTP request duration, by method and route template.",
    ["method", "route"],
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  ),
] as const satisfies readonly MetricDef[];

type NameOf<T extends readonly { readonly name: string }[]> = T[number]["name"];

/**
 * Every metric name the catalogue defines (exporter, job and API contracts), as a union of literals, so
 * that a rule or a panel naming a metric that was renamed or never existed fails to compile.
 */
export type MetricName =
  | NameOf<typeof hostMetrics>
  | NameOf<typeof inventoryMetrics>
  | NameOf<typeof textfileMetrics>
  | NameOf<typeof postgresMetrics>
  | NameOf<typeof redisMetrics>
  | NameOf<typeof scanMetrics>
  | NameOf<typeof probeMetrics>
  | NameOf<typeof exporterMetrics>
  | NameOf<typeof jobMetrics>
  | NameOf<typeof apiMetrics>;

/** Every metric the exporter itself publishes (prom-client's process_/nodejs_ defaults aside). */
export const exporterCatalogue: readonly MetricDef[] = [
  ...hostMetrics,
  ...inventoryMetrics,
  ...textfileMetrics,
  ...postgresMetrics,
  ...redisMetrics,
  ...scanMetrics,
  ...probeMetrics,
  ...exporterMetrics,
];

/** Everything a rule or a panel may use besides Prometheus' and Alertmanager's own metrics. */
export const catalogue: readonly MetricDef[] = [...exporterCatalogue, ...jobMetrics, ...apiMetrics];

/**
 * Metrics that Prometheus, Alertmanager, Loki and the scrape itself provide, which rules and panels may
 * also use. Extend this list when a rule needs another of them; the consistency tests read it.
 */
export const platformMetricNames: readonly string[] = [
  "up",
  "scrape_duration_seconds",
  "scrape_samples_scraped",
  "ALERTS",
  "ALERTS_FOR_STATE",
  "prometheus_rule_evaluation_failures_total",
  "prometheus_rule_group_last_duration_seconds",
  "prometheus_rule_group_interval_seconds",
  "prometheus_config_last_reload_successful",
  "prometheus_notifications_dropped_total",
  "prometheus_notifications_errors_total",
  "prometheus_notifications_sent_total",
  "prometheus_notifications_alertmanagers_discovered",
  "prometheus_tsdb_head_series",
  "prometheus_tsdb_compactions_failed_total",
  "prometheus_target_interval_length_seconds",
  "alertmanager_notifications_total",
  "alertmanager_notifications_failed_total",
  "alertmanager_config_last_reload_successful",
  "alertmanager_alerts",
  "process_resident_memory_bytes",
  "process_cpu_seconds_total",
  "process_start_time_seconds",
  "nodejs_eventloop_lag_p99_seconds",
  "nodejs_heap_size_used_bytes",
];

export function findMetric(name: string): MetricDef | undefined {
  return catalogue.find((m) => m.name === name);
}
