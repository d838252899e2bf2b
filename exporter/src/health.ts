// The /health report, in the seed's shape:
//   { "timestamp": "...", "status": "healthy" | "degraded" | "unhealthy",
//     "checks": { "api": {...}, "database": {...}, "redis": {...}, "mcp_servers": {...},
//                 "disk": {...}, "memory": {...}, "cpu": {...} } }
// Each check is contributed by the collector that measures it (Collector.health(), from its last
// collection): host gives disk, memory and cpu; the data collectors give api, database, redis and
// mcp_servers. A source that is not configured contributes nothing, so its check is absent.
//
// The overall status: "unhealthy" (HTTP 503) when any check is down, "degraded" (200) when any is a
// warning, else "healthy" (200).
//
// What each data check calls down and warning (the collectors decide; see docs/metrics.md):
// - api: down when the probe fails (no answer in time, or not 2xx), warning when it answers slower than
//   the API latency threshold (thresholds.api.latencyP95Seconds): without the API nothing works;
// - database: down when PostgreSQL did not answer the last collection (pg_up 0, or the collection
//   overran), warning from thresholds.postgres.connectionsUsedRatio of max_connections in use;
// - redis: down when Redis did not answer, warning from thresholds.redis.memoryUsedRatio of maxmemory;
//   scans cannot be queued without it, so it is as essential as the database;
// - mcp_servers: the scan tools; one down of several is a warning (the other tools still run: the
//   platform is degraded), all of them down is down.
import type { Collector, HealthCheck, HealthCheckName } from "./collectors/types.ts";

export type HealthStatus = "healthy" | "degraded" | "unhealthy";

export interface HealthReport {
  readonly timestamp: string;
  readonly status: HealthStatus;
  readonly checks: Readonly<Partial<Record<HealthCheckName, HealthCheck>>>;
}

/** The seed's order of checks, kept in the JSON for people reading it. */
export const checkOrder: readonly HealthCheckName[] = [
  "api",
  "database",
  "redis",
  "mcp_servers",
  "disk",
  "memory",
  "cpu",
];

export function overallStatus(checks: Iterable<HealthCheck>): HealthStatus {
  let status: HealthStatus = "healthy";
  for (const c of checks) {
    if (c.status === "down") return "unhealthy";
    if (c.status === "warning") status = "degraded";
  }
  return status;
}

export function buildHealthReport(collectors: Iterable<Collector>, now = new Date()): HealthReport {
  const found = new Map<HealthCheckName, HealthCheck>();
  for (const c of collectors) {
    for (const [name, check] of Object.entries(c.health?.() ?? {}) as [HealthCheckName, HealthCheck][]) {
      if (found.has(name)) throw new Error(`health check ${name} is contributed twice (by ${c.name} too)`);
      found.set(name, check);
    }
  }
  const checks: Partial<Record<HealthCheckName, HealthCheck>> = {};
  for (const name of checkOrder) {
    const check = found.get(name);
    if (check) checks[name] = check;
  }
  return { timestamp: now.toISOString(), status: overallStatus(found.values()), checks };
}

export const healthStatusCode = (report: HealthReport): number => (report.status === "unhealthy" ? 503 : 200);
