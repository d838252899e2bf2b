// The contract between the scrape orchestrator and the collectors (one file per collector, one table
// of them in collectors/index.ts).
import type { Registry } from "prom-client";
import type { CollectorName, MetricDef } from "../../../definitions/metrics/metric.ts";
import type { Logger } from "../../../lib/log.ts";

export interface CollectContext {
  /** Aborted when the collector's deadline passes: stop work, and write no metric after it. */
  readonly signal: AbortSignal;
  /** Epoch milliseconds by which the collector must have finished. */
  readonly deadline: number;
  readonly log: Logger;
}

/**
 * A collector owns a set of catalogue metrics, registered in its own prom-client Registry.
 *
 * Rules every collector keeps:
 * - gather first, then write all its metrics at once, synchronously, and only if `ctx.signal` is not
 *   aborted: a collector that overran its deadline must not change the output afterwards;
 * - reset labelled gauges before writing, so that series which vanished upstream vanish here too;
 * - on failure, throw: the orchestrator records success 0, logs the error, and calls `markFailed()`.
 */
export interface Collector {
  readonly name: CollectorName;
  readonly registry: Registry;
  collect(ctx: CollectContext): Promise<void>;
  /** Publishes the "down" state after a failure or an overrun (e.g. `pg_up 0`, stale series removed). */
  markFailed?(): void;
  /**
   * What an answer publishes for this collector while its collect() is still running: a scrape that
   * joined a collection with an earlier deadline than the collection's answers without waiting for it
   * (and must not call markFailed(), since the collection may still succeed). Without this, such an
   * answer would carry none of the collector's series, so an alert on `pg_up == 0` would see nothing
   * while PostgreSQL hangs. Holds the up metric at 0; omitted by collectors without one.
   */
  readonly pendingRegistry?: Registry;
  /** Releases connections and timers (on shutdown). */
  close?(): Promise<void>;
  /**
   * The checks this collector contributes to the /health report, from its last collection (see
   * health.ts): e.g. host gives disk, memory and cpu; postgres gives database. Omitted when it has none.
   */
  health?(): Partial<Record<HealthCheckName, HealthCheck>>;
  /**
   * The checks it always contributes: when it failed, or has not measured them yet, /health shows them
   * down (fails closed) instead of leaving them out.
   */
  readonly healthChecks?: readonly HealthCheckName[];
}

/** The checks of the /health report (the seed's names). */
export type HealthCheckName = "api" | "database" | "redis" | "mcp_servers" | "disk" | "memory" | "cpu";

/**
 * One check of the /health report: `ok`, `warning` (degrades the report) or `down` (makes it
 * unhealthy, 503), with its figures beside the status (e.g. `used_percent`, `response_time_ms`).
 */
export interface HealthCheck {
  readonly status: "ok" | "warning" | "down";
  readonly [figure: string]: unknown;
}

/** One row of the collectors table. */
export interface CollectorModule<Options> {
  readonly name: CollectorName;
  /** The catalogue entries this collector publishes. */
  readonly metrics: readonly MetricDef[];
  create(options: Options, log: Logger): Collector;
}

/**
 * A query on the collector's pool: rows as objects (pg returns bigint and numeric as strings). With a
 * `name`, the statement is prepared: PostgreSQL parses and plans it once per connection under that name,
 * so a name must always stand for the same text.
 */
export type Query = <R extends Record<string, unknown>>(
  text: string,
  values?: unknown[],
  name?: string,
) => Promise<R[]>;
