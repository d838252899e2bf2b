// PostgreSQL metrics (the postgres collector), on postgres_exporter's names and labels.
import { def, type MetricDef, type MetricType, type PostgresAvailability } from "./metric.ts";

const dbLabels = ["datid", "datname"] as const;
/** A pg_stat_database column; `postgres` for one that not every supported major has (e.g. 18's). */
const pgStatDatabase = <F extends string>(
  field: F,
  type: MetricType,
  help: string,
  postgres?: PostgresAvailability,
) =>
  def("postgres", `pg_stat_database_${field}` as const, type, help, dbLabels, postgres ? { postgres } : {});

// postgres_exporter's stat_bgwriter family. PostgreSQL 17 moved the checkpoint counters from
// pg_stat_bgwriter to pg_stat_checkpointer (the same names are published from there) and dropped the
// backends' writes and fsyncs, which pg_stat_io (16+) counts per backend type instead.
const fromCheckpointer = (column: string): PostgresAvailability => ({
  note: `pg_stat_bgwriter up to 16, pg_stat_checkpointer.${column} from 17`,
});
const untilBackendWrites: PostgresAvailability = {
  until: 16,
  note: "removed from pg_stat_bgwriter in 17 (pg_stat_io counts writes per backend type from 16)",
};
const bgwriter = <F extends string>(field: F, help: string, postgres?: PostgresAvailability) =>
  def(
    "postgres",
    `pg_stat_bgwriter_${field}_total` as const,
    "counter",
    help,
    [],
    postgres ? { postgres } : {},
  );
const bgwriterMetrics = () =>
  [
    bgwriter("checkpoints_timed", "Scheduled checkpoints performed.", fromCheckpointer("num_timed")),
    bgwriter("checkpoints_req", "Requested checkpoints performed.", fromCheckpointer("num_requested")),
    bgwriter(
      "checkpoint_write_time",
      "Time spent writing checkpoint files to disk, in milliseconds (as upstream).",
      fromCheckpointer("write_time"),
    ),
    bgwriter(
      "checkpoint_sync_time",
      "Time spent synchronizing checkpoint files to disk, in milliseconds (as upstream).",
      fromCheckpointer("sync_time"),
    ),
    bgwriter(
      "buffers_checkpoint",
      "Buffers written during checkpoints.",
      fromCheckpointer("buffers_written"),
    ),
    bgwriter("buffers_clean", "Buffers written by the background writer."),
    bgwriter(
      "maxwritten_clean",
      "Times the background writer stopped a cleaning scan for having written too many buffers.",
    ),
    bgwriter("buffers_backend", "Buffers written directly by a backend.", untilBackendWrites),
    bgwriter(
      "buffers_backend_fsync",
      "Times a backend had to execute its own fsync call.",
      untilBackendWrites,
    ),
    bgwriter("buffers_alloc", "Buffers allocated."),
    bgwriter(
      "stats_reset",
      "Unix time of the last reset of pg_stat_bgwriter's statistics (a counter, as upstream).",
    ),
  ] as const;

/**
 * Server settings published as postgres_exporter names them (collector/pg_setting.go there):
 * `pg_settings_<name>` plus `_bytes` or `_seconds` when the setting has a unit, its value converted to
 * that base unit, booleans as 1/0. postgres_exporter publishes every numeric setting; these are the ones
 * the community dashboards and the postgres mixin's alerts read (max_connections and
 * superuser_reserved_connections are in the list below).
 */
export const pgSettingsPublished = [
  ["shared_buffers", "bytes"],
  ["effective_cache_size", "bytes"],
  ["maintenance_work_mem", "bytes"],
  ["work_mem", "bytes"],
  ["max_wal_size", "bytes"],
  ["min_wal_size", "bytes"],
  ["wal_buffers", "bytes"],
  ["checkpoint_timeout", "seconds"],
  ["statement_timeout", "seconds"],
  ["idle_in_transaction_session_timeout", "seconds"],
  ["random_page_cost", ""],
  ["seq_page_cost", ""],
  ["effective_io_concurrency", ""],
  ["checkpoint_completion_target", ""],
  ["default_statistics_target", ""],
  ["max_worker_processes", ""],
  ["max_parallel_workers", ""],
  ["max_parallel_workers_per_gather", ""],
  ["max_locks_per_transaction", ""],
  ["max_prepared_transactions", ""],
  ["max_wal_senders", ""],
  ["max_replication_slots", ""],
  ["autovacuum", ""],
  ["autovacuum_max_workers", ""],
  ["autovacuum_vacuum_scale_factor", ""],
  ["autovacuum_vacuum_threshold", ""],
  ["autovacuum_analyze_scale_factor", ""],
  ["track_io_timing", ""],
] as const;
type SettingMetricName<S extends readonly (readonly [string, string])[]> = {
  [K in keyof S]: S[K] extends readonly [infer N extends string, infer U extends string]
    ? U extends ""
      ? `pg_settings_${N}`
      : `pg_settings_${N}_${U}`
    : never;
}[number];

/** pg_stat_database columns beyond the basic ones (same names and labels as postgres_exporter's). */
export const pgStatDatabaseMoreFields = [
  ["temp_files", "Number of temporary files created by queries in this database."],
  ["temp_bytes", "Total amount of data written to temporary files by queries in this database."],
  ["blk_read_time", "Time spent reading data file blocks by backends in this database, in milliseconds"],
  ["blk_write_time", "Time spent writing data file blocks by backends in this database, in milliseconds"],
] as const;

function postgresCompatMetrics() {
  return [
    ...pgSettingsPublished.map(([name, unit]) =>
      def(
        "postgres",
        `pg_settings_${name}${unit ? `_${unit}` : ""}` as SettingMetricName<typeof pgSettingsPublished>,
        "gauge",
        `Server Parameter: ${name}${unit ? ` [Units converted to ${unit}.]` : ""}`,
        ["server"],
      ),
    ),
    ...pgStatDatabaseMoreFields.map(([field, help]) =>
      pgStatDatabase(field as (typeof pgStatDatabaseMoreFields)[number][0], "counter", help),
    ),
    def("postgres", "pg_postmaster_start_time_seconds", "gauge", "Time at which postmaster started"),
  ];
}

/**
 * pg_stat_activity's grouping, as postgres_exporter 0.19 groups it (its builtin pg_stat_activity query),
 * and `server`, the host:port of the connection string, which it adds to the families of its built-in
 * queries and settings.
 */
const pgActivityLabels = [
  "datname",
  "state",
  "usename",
  "application_name",
  "backend_type",
  "wait_event_type",
  "wait_event",
  "server",
] as const;

export const postgresMetrics = [
  def(
    "postgres",
    "pg_up",
    "gauge",
    "Whether the last scrape of PostgreSQL was able to connect (1) or not (0).",
  ),
  def("postgres", "pg_static", "untyped", "Version string as reported by postgres", [
    "version",
    "short_version",
    "server",
  ]),
  def(
    "postgres",
    "pg_exporter_ping_duration_seconds",
    "gauge",
    "Round-trip time of the exporter's `SELECT 1` to PostgreSQL in the last scrape.",
  ),
  def(
    "postgres",
    "pg_exporter_last_scrape_duration_seconds",
    "gauge",
    "Duration of the last scrape of metrics from PostgreSQL.",
  ),
  def("postgres", "pg_stat_activity_count", "gauge", "number of connections in this state", pgActivityLabels),
  def(
    "postgres",
    "pg_stat_activity_max_tx_duration",
    "gauge",
    "max duration in seconds any active transaction has been running",
    pgActivityLabels,
  ),
  def("postgres", "pg_settings_max_connections", "gauge", "Server Parameter: max_connections", ["server"]),
  def(
    "postgres",
    "pg_settings_superuser_reserved_connections",
    "gauge",
    "Server Parameter: superuser_reserved_connections",
    ["server"],
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
  ...bgwriterMetrics(),
  ...postgresCompatMetrics(),
] as const satisfies readonly MetricDef[];
