// PostgreSQL, from the exporter's postgres_exporter-compatible collector.
import type { RuleGroup } from "../../../definitions/rules.ts";
import { aggregationLabels, selectors } from "../../../definitions/selectors.ts";
import { thresholds } from "../../../definitions/thresholds.ts";
import { humanDuration, num, percent, series } from "../../../lib/promql.ts";
import { postgresConnectionsUsedRatio } from "../../../lib/signals.ts";

const t = thresholds.postgres;
const exp = selectors.exporter;

export const postgresGroup: RuleGroup = {
  name: "postgres",
  rules: [
    {
      alert: "PostgresDown",
      // pg_up is 0 when the exporter answers but cannot reach PostgreSQL; when the exporter itself is
      // down, pg_up is absent and ExporterDown fires instead.
      expr: `${series("pg_up", exp)} == 0`,
      for: "1m",
      severity: "critical",
      summary: "PostgreSQL is down",
      description: `The exporter {{ $labels.instance }} cannot connect to PostgreSQL: scans cannot be created, read or finished.`,
    },
    {
      alert: "PostgresTooManyConnections",
      expr: `${postgresConnectionsUsedRatio(aggregationLabels.target)} > ${num(t.connectionsUsedRatio)}`,
      for: "5m",
      severity: "warning",
      summary: "PostgreSQL connections near the maximum",
      description: `PostgreSQL (exporter {{ $labels.instance }}) uses {{ $value | humanizePercentage }} of max_connections (threshold ${percent(t.connectionsUsedRatio)}); new connections will soon be refused.`,
    },
    {
      alert: "PostgresLongRunningTransaction",
      expr: `${series("pg_stat_activity_max_tx_duration", exp)} > ${num(t.longTransactionSeconds)}`,
      for: "2m",
      severity: "warning",
      summary: "PostgreSQL transaction running for too long",
      description: `A transaction in database {{ $labels.datname }} (state {{ $labels.state }}) has been open for {{ $value | humanizeDuration }} (threshold ${humanDuration(t.longTransactionSeconds)}); it holds locks and stops vacuum.`,
    },
    {
      alert: "PostgresDeadlocks",
      // No `for`: each deadlock is already over (PostgreSQL aborted one transaction); say so once.
      expr: `increase(${series("pg_stat_database_deadlocks", exp)}[5m]) > 0`,
      severity: "warning",
      summary: "PostgreSQL deadlocks detected",
      description: `Database {{ $labels.datname }} had {{ $value | humanize }} deadlocks in the last 5 minutes; a transaction was aborted each time.`,
    },
  ],
};
