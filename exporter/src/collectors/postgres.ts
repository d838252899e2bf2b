// PostgreSQL, with postgres_exporter's metric names and labels (collector/pg_stat_activity.go,
// pg_database.go, pg_stat_database.go, pg_locks.go in that project), so community dashboards work.
//
// Its connections come from the pool it shares with the scans collector (../postgres-pool.ts); its own
// statements are prepared under names it gives them (statementName below).
import pg from "pg";
import { Registry } from "prom-client";
import { postgresMetrics } from "../../../definitions/metrics/postgres.ts";
import { publishedOn, type MetricDef } from "../../../definitions/metrics/metric.ts";
import type { Logger } from "../../../lib/log.ts";
import { createMetrics } from "../metrics.ts";
import { thresholds } from "../../../definitions/thresholds.ts";
import {
  acquireDatabase,
  num,
  type PostgresConnectionOptions,
  type PostgresDatabase,
} from "../postgres-pool.ts";
import {
  COMPAT_SQL,
  dropCompat,
  queryCompat,
  writeCompat,
  type PostgresCompatSnapshot,
} from "./postgres-compat.ts";
import type { Collector, CollectorModule, HealthCheck, Query } from "./types.ts";

/**
 * postgres_exporter's `server` label: host:port of the connection string (its parseFingerprint),
 * "localhost" and 5432 when the URL gives none; a `host` or `port` query parameter (a Unix socket
 * folder) wins over the URL's authority, as libpq reads them.
 */
export function serverLabel(url: string): string {
  try {
    const u = new URL(url);
    const host = u.searchParams.get("host") || decodeURIComponent(u.hostname).replace(/^\[(.*)\]$/, "$1");
    const port = u.searchParams.get("port") || u.port;
    return `${host || "localhost"}:${port || "5432"}`;
  } catch {
    return "localhost:5432";
  }
}

// ---------------------------------------------------------------- the collector

export interface PostgresOptions extends PostgresConnectionOptions {
  /** pg_database_size walks every file of a database: it is refreshed on this interval, not per scrape. */
  readonly databaseSizeIntervalMs: number;
  /** A pool to use; by default the one shared with the scans collector (acquireDatabase). */
  readonly database?: PostgresDatabase;
  /** /health: the database check is a warning from this share of max_connections in use. */
  readonly connectionsWarnRatio?: number;
}

/** The states postgres_exporter publishes for every database, so each series exists even when 0. */
export const ACTIVITY_STATES = [
  "active",
  "idle",
  "idle in transaction",
  "idle in transaction (aborted)",
  "fastpath function call",
  "disabled",
] as const;

/** Lock modes as postgres_exporter labels them (lowercased), every one published for each database. */
export const LOCK_MODES = [
  "accesssharelock",
  "rowsharelock",
  "rowexclusivelock",
  "shareupdateexclusivelock",
  "sharelock",
  "sharerowexclusivelock",
  "exclusivelock",
  "accessexclusivelock",
  "sireadlock",
] as const;

const STAT_DATABASE_FIELDS = [
  "numbackends",
  "xact_commit",
  "xact_rollback",
  "blks_read",
  "blks_hit",
  "tup_returned",
  "tup_fetched",
  "tup_inserted",
  "tup_updated",
  "tup_deleted",
  "conflicts",
  "deadlocks",
] as const;

// Template databases are left out: nothing connects to them and they would add series to every family.
const SQL = {
  ping: "SELECT 1",
  version: `SELECT version() AS version, current_setting('server_version') AS server_version,
    current_setting('server_version_num')::int AS server_version_num`,
  // current_setting() instead of the pg_settings view, which builds all ~350 settings to return two.
  settings: `SELECT name, current_setting(name) AS setting
    FROM unnest(ARRAY['max_connections', 'superuser_reserved_connections']) AS name`,
  // postgres_exporter's pg_stat_activity query (its builtin queries): every state of every database,
  // grouped by user, application, backend type and wait event, the exporter's own session left out.
  activity: `
    WITH states(state) AS (SELECT unnest($1::text[])),
    dbs AS (SELECT datname FROM pg_database WHERE NOT datistemplate),
    seen AS (
      SELECT datname, state, usename, application_name, backend_type, wait_event_type, wait_event,
             count(*) AS n, max(extract(epoch FROM now() - xact_start))::float AS max_tx
      FROM pg_stat_activity
      WHERE pid <> pg_backend_pid()
      GROUP BY datname, state, usename, application_name, backend_type, wait_event_type, wait_event
    )
    SELECT dbs.datname, states.state, seen.usename, seen.application_name, seen.backend_type,
           seen.wait_event_type, seen.wait_event,
           coalesce(seen.n, 0) AS n, coalesce(seen.max_tx, 0) AS max_tx
    FROM dbs CROSS JOIN states
    LEFT JOIN seen ON seen.datname = dbs.datname AND seen.state = states.state`,
  locks: `
    WITH modes(mode) AS (SELECT unnest($1::text[])),
    dbs AS (SELECT oid, datname FROM pg_database WHERE NOT datistemplate),
    held AS (SELECT database, lower(mode) AS mode, count(*) AS n FROM pg_locks
             WHERE database IS NOT NULL GROUP BY database, lower(mode))
    SELECT dbs.datname, modes.mode, coalesce(held.n, 0) AS n
    FROM dbs CROSS JOIN modes
    LEFT JOIN held ON held.database = dbs.oid AND held.mode = modes.mode`,
  sizes: `SELECT datname, pg_database_size(oid) AS bytes FROM pg_database
    WHERE NOT datistemplate AND datallowconn`,
};

// ------------------------------------------------ what differs between PostgreSQL majors
//
// Statistics views differ between majors: PostgreSQL 17 moved the checkpoint counters from
// pg_stat_bgwriter to pg_stat_checkpointer and dropped the backends' writes, 14 lacks columns later
// majors have. The catalogue (definitions/metrics/postgres.ts, `postgres` of each entry) says which majors publish
// each metric; the statements below ask each server only for what its major has, and a metric its major
// does not have is absent from the scrape (no sample), never an error that fails the collector.

const catalogueEntry = new Map<string, MetricDef>(postgresMetrics.map((d) => [d.name, d]));
const hasMetric = (name: string, major: number) => {
  const d = catalogueEntry.get(name);
  return d !== undefined && publishedOn(d, major);
};

/** The pg_stat_bgwriter_*_total fields, read from pg_stat_bgwriter or (17+) pg_stat_checkpointer. */
const BGWRITER_FIELDS = [
  "checkpoints_timed",
  "checkpoints_req",
  "checkpoint_write_time",
  "checkpoint_sync_time",
  "buffers_checkpoint",
  "buffers_clean",
  "maxwritten_clean",
  "buffers_backend",
  "buffers_backend_fsync",
  "buffers_alloc",
  "stats_reset",
] as const;

/** The statements whose text depends on the server's major. */
function statementsFor(major: number) {
  const statDatabaseFields = STAT_DATABASE_FIELDS.filter((f) => hasMetric(`pg_stat_database_${f}`, major));
  const bgwriterFields = BGWRITER_FIELDS.filter((f) => hasMetric(`pg_stat_bgwriter_${f}_total`, major));
  // Where each field is on this major: 17 renamed the checkpoint counters as it moved them.
  const checkpointer: Partial<Record<(typeof BGWRITER_FIELDS)[number], string>> =
    major >= 17
      ? {
          checkpoints_timed: "c.num_timed",
          checkpoints_req: "c.num_requested",
          checkpoint_write_time: "c.write_time",
          checkpoint_sync_time: "c.sync_time",
          buffers_checkpoint: "c.buffers_written",
        }
      : {};
  const column = (f: (typeof BGWRITER_FIELDS)[number]) =>
    f === "stats_reset"
      ? "coalesce(extract(epoch FROM b.stats_reset), 0) AS stats_reset"
      : `${checkpointer[f] ?? `b.${f}`} AS ${f}`;
  return {
    statDatabaseFields,
    bgwriterFields,
    statDatabase: `SELECT datid::text AS datid, datname${statDatabaseFields.map((f) => `, ${f}`).join("")}
    FROM pg_stat_database WHERE datname IS NOT NULL
      AND datname IN (SELECT datname FROM pg_database WHERE NOT datistemplate)`,
    bgwriter: `SELECT ${bgwriterFields.map(column).join(", ")}
    FROM pg_stat_bgwriter b${major >= 17 ? " CROSS JOIN pg_stat_checkpointer c" : ""}`,
  };
}

const byMajor = new Map<number, ReturnType<typeof statementsFor>>();
const majorStatementNames = new Map<string, string>();
/** The statements for a major, built once; prepared like SQL's, under a name per major. */
function majorStatements(major: number): ReturnType<typeof statementsFor> {
  let s = byMajor.get(major);
  if (!s) {
    s = statementsFor(major);
    byMajor.set(major, s);
    majorStatementNames.set(s.statDatabase, `kali_exporter_statDatabase_${major}`);
    majorStatementNames.set(s.bgwriter, `kali_exporter_bgwriter_${major}`);
  }
  return s;
}

// This collector's own queries run as named (prepared) statements, so PostgreSQL parses and
// plans each once per connection instead of on every scrape: planning the pg_stat_activity and pg_locks
// queries costs more than running them (measured with bench/: the activity query took 1.7-5.4 ms
// unnamed, 0.5-1.1 ms named, on 2 busy CPUs). Only those: their parameters are constants, so a cached
// generic plan is as good as a fresh one, whereas the scans collector's range queries need a plan for
// each watermark. Behind a PgBouncer in transaction mode older than 1.21 named statements fail; such a
// setup needs PgBouncer's max_prepared_statements, or a direct connection for the exporter.
const statementNames = new Map(
  Object.entries({ ...SQL, ...COMPAT_SQL }).map(([key, sql]) => [sql, `kali_exporter_${key}`]),
);
const statementName = (text: string): string | undefined =>
  statementNames.get(text) ?? majorStatementNames.get(text);

/** The pool's query with each of the collector's own statements prepared under its name. */
const prepared =
  (query: Query): Query =>
  <R extends Record<string, unknown>>(text: string, values?: unknown[]) =>
    query<R>(text, values, statementName(text));

/** The major of a server_version_num (150004 -> 15; 90624, 9.6, -> 9). */
export const majorOf = (serverVersionNum: number): number => Math.floor(serverVersionNum / 10000);

const round = (x: number) => Math.round(x * 10) / 10;

/** "15.4" -> "15.4.0", "16beta1" -> "16.0.0": postgres_exporter's semver form of server_version. */
export function shortVersion(serverVersion: string): string {
  const m = /^(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(serverVersion.trim());
  if (!m) return serverVersion;
  return `${m[1]}.${m[2] ?? "0"}.${m[3] ?? "0"}`;
}

type ActivityLabels = Record<
  "datname" | "state" | "usename" | "application_name" | "backend_type" | "wait_event_type" | "wait_event",
  string
>;

interface Snapshot {
  pingSeconds: number;
  major: number;
  version: { version: string; short_version: string };
  settings: Map<string, number>;
  activity: { labels: ActivityLabels; n: number; maxTx: number }[];
  statDatabase: Record<string, unknown>[];
  bgwriter: Record<string, unknown> | undefined;
  locks: { datname: string; mode: string; n: number }[];
  sizes: { datname: string; bytes: number }[];
  /** What the community dashboards query beyond the basics (postgres-compat.ts). */
  compat: PostgresCompatSnapshot;
}

function createPostgresCollector(options: PostgresOptions, log: Logger): Collector {
  const registry = new Registry();
  const m = createMetrics(postgresMetrics, registry);
  // pg_up 0 for an answer that stopped waiting for this collector (types.ts, pendingRegistry).
  const pendingRegistry = new Registry();
  createMetrics(
    postgresMetrics.filter((d) => d.name === "pg_up"),
    pendingRegistry,
  ).pg_up?.set(0);
  const acquired = options.database ? undefined : acquireDatabase(options, log);
  const db = options.database ?? acquired!.database;
  const warnRatio = options.connectionsWarnRatio ?? thresholds.postgres.connectionsUsedRatio;
  const server = serverLabel(options.url);
  let sizes: { at: number; rows: { datname: string; bytes: number }[] } | undefined;
  let pingOk = false;
  let lastError: string | undefined;
  // When the running collection began: pg_exporter_last_scrape_duration_seconds, as postgres_exporter
  // sets it at the end of every scrape, failed ones included.
  let begun: number | undefined;
  const setDuration = () => {
    if (begun !== undefined)
      m.pg_exporter_last_scrape_duration_seconds.set((performance.now() - begun) / 1000);
    else m.pg_exporter_last_scrape_duration_seconds.remove({});
  };
  let health: HealthCheck | undefined;

  const write = (s: Snapshot) => {
    for (const metric of Object.values(m)) metric.reset();
    m.pg_up.set(1);
    m.pg_exporter_ping_duration_seconds.set(s.pingSeconds);
    setDuration();
    m.pg_static.set({ ...s.version, server }, 1);
    const maxConn = s.settings.get("max_connections");
    if (maxConn !== undefined) m.pg_settings_max_connections.set({ server }, maxConn);
    const reserved = s.settings.get("superuser_reserved_connections");
    if (reserved !== undefined) m.pg_settings_superuser_reserved_connections.set({ server }, reserved);
    for (const a of s.activity) {
      m.pg_stat_activity_count.set({ ...a.labels, server }, a.n);
      m.pg_stat_activity_max_tx_duration.set({ ...a.labels, server }, a.maxTx);
    }
    const versioned = majorStatements(s.major);
    for (const row of s.statDatabase) {
      const labels = { datid: String(row.datid), datname: String(row.datname) };
      for (const f of versioned.statDatabaseFields) m[`pg_stat_database_${f}`].set(labels, num(row[f]));
    }
    for (const f of versioned.bgwriterFields)
      if (s.bgwriter) m[`pg_stat_bgwriter_${f}_total`].set(num(s.bgwriter[f]));
    // A metric this major does not have is absent: no sample (an unlabelled one starts at 0 on reset).
    for (const d of postgresMetrics)
      if (!publishedOn(d, s.major) && d.labels.length === 0) m[d.name].remove({});
    for (const l of s.locks) m.pg_locks_count.set({ datname: l.datname, mode: l.mode }, l.n);
    for (const d of s.sizes) m.pg_database_size_bytes.set({ datname: d.datname }, d.bytes);
    writeCompat(m, s.compat, server);

    // The exporter's own session is not in pg_stat_activity's rows (as upstream): counted here.
    const connections = s.activity.reduce((a, x) => a + x.n, 0) + 1;
    const usedRatio = maxConn ? connections / maxConn : 0;
    health = {
      status: usedRatio >= warnRatio ? "warning" : "ok",
      query_time_ms: round(s.pingSeconds * 1000),
      connections,
      max_connections: maxConn ?? null,
      connections_used_percent: round(usedRatio * 100),
    };
  };

  return {
    name: "postgres",
    registry,
    pendingRegistry,
    healthChecks: ["database"],
    async collect(ctx) {
      pingOk = false;
      lastError = undefined;
      begun = performance.now();
      const snapshot = await db
        .run(ctx, async (pooled) => {
          const query = prepared(pooled);
          const t0 = performance.now();
          await query(SQL.ping);
          const pingSeconds = (performance.now() - t0) / 1000;
          pingOk = true;
          const versionRows = await query<{
            version: string;
            server_version: string;
            server_version_num: number;
          }>(SQL.version);
          const major = majorOf(num(versionRows[0]?.server_version_num));
          const versioned = majorStatements(major);
          const [settingRows, activity, statDatabase, bgwriter, locks] = [
            await query<{ name: string; setting: string }>(SQL.settings),
            await query<
              { [K in keyof ActivityLabels]: string | null } & { n: string; max_tx: string | number }
            >(SQL.activity, [ACTIVITY_STATES]),
            await query(versioned.statDatabase),
            versioned.bgwriterFields.length > 0 ? (await query(versioned.bgwriter))[0] : undefined,
            await query<{ datname: string; mode: string; n: string }>(SQL.locks, [LOCK_MODES]),
          ];
          if (!sizes || Date.now() - sizes.at >= options.databaseSizeIntervalMs) {
            const rows = await query<{ datname: string; bytes: string }>(SQL.sizes);
            sizes = { at: Date.now(), rows: rows.map((r) => ({ datname: r.datname, bytes: num(r.bytes) })) };
          }
          const compat = await queryCompat(query);
          const v = versionRows[0];
          return {
            pingSeconds,
            major,
            version: {
              version: v?.version ?? "",
              short_version: shortVersion(v?.server_version ?? ""),
            },
            settings: new Map(settingRows.map((r) => [r.name, num(r.setting)])),
            activity: activity.map((a) => ({
              // NULL (no such session) is "", as postgres_exporter writes it.
              labels: {
                datname: a.datname ?? "",
                state: a.state ?? "",
                usename: a.usename ?? "",
                application_name: a.application_name ?? "",
                backend_type: a.backend_type ?? "",
                wait_event_type: a.wait_event_type ?? "",
                wait_event: a.wait_event ?? "",
              },
              n: num(a.n),
              maxTx: num(a.max_tx),
            })),
            statDatabase,
            bgwriter,
            locks: locks.map((l) => ({ datname: l.datname, mode: l.mode, n: num(l.n) })),
            sizes: sizes.rows,
            compat,
          } satisfies Snapshot;
        })
        .catch((e: unknown) => {
          lastError = e instanceof Error ? e.message : String(e);
          // A hang after the ping is a hang all the same.
          if (!(e instanceof Error && e.cause instanceof pg.DatabaseError)) pingOk = false;
          throw e;
        });
      if (ctx.signal.aborted) return;
      write(snapshot);
    },
    markFailed() {
      for (const metric of Object.values(m)) metric.reset();
      // No unlabelled counter at 0 either: a counter dropping to 0 would read as a reset to rate().
      for (const d of postgresMetrics)
        if (d.type === "counter" && d.labels.length === 0) m[d.name].remove({});
      dropCompat(m, server);
      // pg_up says whether PostgreSQL answered, as upstream: a failed query on a live server (a missing
      // privilege, say) keeps it at 1 and shows in the collector's success instead.
      m.pg_up.set(pingOk ? 1 : 0);
      setDuration();
      health = {
        status: "down",
        error: lastError ?? "the collection overran its deadline (PostgreSQL may be hung)",
      };
    },
    health() {
      if (!health) return {};
      // The exporter's own pool, as it is now: at most two connections.
      const pool = db.stats();
      return { database: { ...health, exporter_pool: `${pool.total - pool.idle}/${pool.max} in use` } };
    },
    async close() {
      await acquired?.release();
    },
  };
}

export const postgresCollector: CollectorModule<PostgresOptions> = {
  name: "postgres",
  metrics: postgresMetrics,
  create: createPostgresCollector,
};
