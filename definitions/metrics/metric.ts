// What a metric definition is: the shape every source's table (host.ts, postgres.ts, jobs.ts, ...) is
// written in, the collectors that own them, and the PostgreSQL majors a metric is published on. Plain
// data: free of runtime dependencies (no prom-client, pg or ioredis) so the generators never load a client.
//
// Names follow the exporters people already run (node_exporter, postgres_exporter, redis_exporter) so
// that community dashboards and mixins work unchanged; what is Kali Agents' own is `kali_agents_`.

/**
 * "untyped" where the Go exporter leaves a family untyped (node_exporter's /proc/vmstat and
 * /proc/net/netstat|snmp fields, postgres_exporter's pg_static): published with TYPE untyped, set like
 * a gauge.
 */
export type MetricType = "counter" | "gauge" | "histogram" | "untyped";

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
  /**
   * For a PostgreSQL metric that not every supported major has: the majors that publish it, and where
   * it is read from when that differs between majors. On the other majors the metric is absent, never
   * an error. Unset: every supported major (`supportedPostgresMajors`) publishes it.
   */
  readonly postgres?: PostgresAvailability;
}

/**
 * The PostgreSQL majors a user may run the exporter and the ops jobs against. Each is tested: the
 * harness starts a server of each (test/support/servers.ts) and test/postgres-majors.test.ts runs the
 * postgres and scans collectors and backup, verify and restore against every one.
 */
export const supportedPostgresMajors = [14, 15, 16, 17, 18] as const;
export type PostgresMajor = (typeof supportedPostgresMajors)[number];

export interface PostgresAvailability {
  /** The first major that publishes the metric. */
  readonly since?: PostgresMajor;
  /** The last major that publishes the metric. */
  readonly until?: PostgresMajor;
  /** Where the value comes from, when the source differs between majors (for docs/metrics.md). */
  readonly note?: string;
}

/** Whether a server of this major publishes the metric (any major outside the catalogue's: by its range). */
export function publishedOn(d: Pick<MetricDef, "postgres">, major: number): boolean {
  const since = d.postgres?.since ?? 0;
  const until = d.postgres?.until ?? Infinity;
  return major >= since && major <= until;
}

/**
 * The exporter's collectors, each the owner of the metrics of its file here. Every one but `exporter`
 * (the exporter's own metrics, always on) can be turned off with EXPORTER_COLLECTORS_DISABLED.
 */
export const collectorNames = [
  "host",
  "inventory",
  "textfile",
  "postgres",
  "redis",
  "scans",
  "probes",
  "exporter",
] as const;
export type CollectorName = (typeof collectorNames)[number];

// The helpers keep each name's literal type (`N`), so `(typeof hostMetrics)[number]["name"]` is a union
// of the names and a dashboard or rule that names a metric by it stops compiling when the metric is renamed.
// The type's literal (`T`) is kept too, so exporter/src/metrics.ts gives a histogram its observe().
export const def = <N extends string, T extends MetricType>(
  collector: CollectorName,
  name: N,
  type: T,
  help: string,
  labels: readonly string[] = [],
  extra: { buckets?: readonly number[]; postgres?: PostgresAvailability } = {},
): MetricDef & { readonly name: N; readonly type: T } => ({
  name,
  type,
  help,
  labels,
  source: "exporter",
  collector,
  ...extra,
});
