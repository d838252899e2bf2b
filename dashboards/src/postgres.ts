// PostgreSQL on postgres_exporter's metric names (published by the exporter's postgres collector):
// availability, connections, transactions, cache, tuples, sizes, locks and long transactions.
import { BigValueTextMode } from "@grafana/grafana-foundation-sdk/common";
import { DashboardBuilder } from "@grafana/grafana-foundation-sdk/dashboard";
import { aggregationLabels, selectors } from "../../definitions/selectors.ts";
import { thresholds } from "../../definitions/thresholds.ts";
import { series } from "../../lib/promql.ts";
import { postgresConnectionsUsedRatio } from "../../lib/signals.ts";
import {
  above,
  prom,
  rate,
  row,
  stat,
  timeseries,
  upDownMapping,
  type DashboardModule,
  type MetricName,
} from "./common.ts";

const exp = selectors.exporter;
const t = thresholds.postgres;

export const upStat = () =>
  stat({
    title: "PostgreSQL",
    alerts: ["PostgresDown"],
    description: "Whether the exporter could connect to PostgreSQL on its last scrape (pg_up).",
    unit: "none",
    queries: [prom(`min(${series("pg_up", exp)})`, "PostgreSQL")],
    mappings: upDownMapping,
    thresholds: { base: "red", steps: [["green", 1]] },
  });

const version = () =>
  stat({
    title: "Version",
    description: "PostgreSQL server version (pg_static).",
    unit: "none",
    queries: [prom(series("pg_static", exp), "{{short_version}}")],
    // "name" shows the legend (the version) rather than the constant value 1.
  }).textMode(BigValueTextMode.Name);

/** The fullest server's share, per server as PostgresTooManyConnections computes it. */
const connectionsUsed = () => `max(${postgresConnectionsUsedRatio(aggregationLabels.target)})`;

const connectionsStat = () =>
  stat({
    title: "Connections used",
    alerts: ["PostgresTooManyConnections"],
    description: "Connections in use as a share of max_connections. Red from the alerting level.",
    unit: "percentunit",
    decimals: 1,
    queries: [prom(connectionsUsed(), "used")],
    thresholds: above(t.connectionsUsedRatio),
  });

const longestTx = () =>
  stat({
    title: "Longest transaction",
    alerts: ["PostgresLongRunningTransaction"],
    description: "Duration of the longest-running transaction. Red from the long-transaction alerting level.",
    unit: "s",
    queries: [prom(`max(${series("pg_stat_activity_max_tx_duration", exp)})`, "longest")],
    thresholds: above(t.longTransactionSeconds),
  });

const ping = () =>
  stat({
    title: "Ping",
    description: "Round-trip time of the exporter's SELECT 1 to PostgreSQL on its last scrape.",
    unit: "s",
    decimals: 4,
    queries: [prom(series("pg_exporter_ping_duration_seconds", exp), "ping")],
  });

const dbSizeStat = () =>
  stat({
    title: "Database size",
    description: "Disk space used by every database together.",
    unit: "bytes",
    queries: [prom(`sum(${series("pg_database_size_bytes", exp)})`, "size")],
  });

const connectionsByState = () =>
  timeseries({
    title: "Connections by state",
    description:
      "Connections by state (active, idle, idle in transaction...), with max_connections for scale.",
    unit: "short",
    min: 0,
    queries: [
      prom(`sum by (state) (${series("pg_stat_activity_count", exp)})`, "{{state}}"),
      prom(`max(${series("pg_settings_max_connections", exp)})`, "max_connections"),
    ],
  });

const connectionsUsedSeries = () =>
  timeseries({
    title: "Connections used over time",
    alerts: ["PostgresTooManyConnections"],
    description: "Connections in use as a share of max_connections. The dashed line is the alerting level.",
    unit: "percentunit",
    min: 0,
    max: 1,
    queries: [prom(connectionsUsed(), "used")],
    thresholds: above(t.connectionsUsedRatio),
  });

const perDb = (name: MetricName) => `sum by (datname) (${rate(series(name, exp))})`;

const transactions = () =>
  timeseries({
    title: "Transactions",
    description: "Commits and rollbacks per second, by database.",
    unit: "ops",
    queries: [
      prom(perDb("pg_stat_database_xact_commit"), "{{datname}} commit"),
      prom(perDb("pg_stat_database_xact_rollback"), "{{datname}} rollback"),
    ],
  });

const cacheHit = () =>
  timeseries({
    title: "Buffer cache hit ratio",
    description: "Share of block reads served from the buffer cache, by database.",
    unit: "percentunit",
    max: 1,
    queries: [
      prom(
        `${perDb("pg_stat_database_blks_hit")} / (${perDb("pg_stat_database_blks_hit")} + ${perDb("pg_stat_database_blks_read")})`,
        "{{datname}}",
      ),
    ],
  });

const tuples = () =>
  timeseries({
    title: "Rows",
    description: "Rows returned, fetched, inserted, updated and deleted per second, over every database.",
    unit: "rowsps",
    queries: (
      [
        ["returned", "pg_stat_database_tup_returned"],
        ["fetched", "pg_stat_database_tup_fetched"],
        ["inserted", "pg_stat_database_tup_inserted"],
        ["updated", "pg_stat_database_tup_updated"],
        ["deleted", "pg_stat_database_tup_deleted"],
      ] as const
    ).map(([legend, name]) => prom(`sum(${rate(series(name, exp))})`, legend)),
  });

const dbSize = () =>
  timeseries({
    title: "Database size by database",
    description: "Disk space used by each database.",
    unit: "bytes",
    queries: [prom(`sum by (datname) (${series("pg_database_size_bytes", exp)})`, "{{datname}}")],
  });

const conflicts = () =>
  timeseries({
    title: "Deadlocks and conflicts",
    alerts: ["PostgresDeadlocks"],
    description: "Deadlocks detected and queries cancelled by recovery conflicts, per second, by database.",
    unit: "ops",
    queries: [
      prom(perDb("pg_stat_database_deadlocks"), "{{datname}} deadlocks"),
      prom(perDb("pg_stat_database_conflicts"), "{{datname}} conflicts"),
    ],
  });

const locks = () =>
  timeseries({
    title: "Locks by mode",
    description: "Locks held or awaited, by lock mode.",
    unit: "short",
    queries: [prom(`sum by (mode) (${series("pg_locks_count", exp)})`, "{{mode}}")],
  });

const longestTxSeries = () =>
  timeseries({
    title: "Longest transaction by database",
    alerts: ["PostgresLongRunningTransaction"],
    description:
      "Duration of the longest-running transaction, by database and state. The dashed line is the alerting level.",
    unit: "s",
    queries: [
      prom(
        `max by (datname, state) (${series("pg_stat_activity_max_tx_duration", exp)})`,
        "{{datname}} {{state}}",
      ),
    ],
    thresholds: above(t.longTransactionSeconds),
  });

export const dashboard: DashboardModule = {
  name: "postgres",
  title: "Kali Agents / PostgreSQL",
  description: "PostgreSQL availability, connections, transactions, cache, rows, sizes and locks.",
  folder: "infrastructure",
  tags: ["postgres"],
  build: () =>
    new DashboardBuilder("Kali Agents / PostgreSQL")
      .withRow(row("Now"))
      .withPanel(upStat())
      .withPanel(version())
      .withPanel(connectionsStat())
      .withPanel(longestTx())
      .withPanel(ping())
      .withPanel(dbSizeStat())
      .withRow(row("Connections"))
      .withPanel(connectionsByState())
      .withPanel(connectionsUsedSeries())
      .withRow(row("Activity"))
      .withPanel(transactions())
      .withPanel(cacheHit())
      .withPanel(tuples())
      .withPanel(conflicts())
      .withRow(row("Storage and locks"))
      .withPanel(dbSize())
      .withPanel(locks())
      .withPanel(longestTxSeries().span(24)),
};
