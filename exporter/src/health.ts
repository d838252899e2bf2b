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
//
// Fails closed: a collector that failed in the last collection contributes every check it declares
// (Collector.healthChecks) as down, whatever it measured before; a declared check with no measurement is
// down too. So a host collector that cannot read EXPORTER_HOST_ROOT makes /health unhealthy instead of
// "healthy" with no checks.
//
// Anyone who can reach the port can read /health: by default a check shows its status and its figures
// (numbers) only. Its strings (hosts, targets, users, error messages: they map the network) and nested
// objects (the MCP servers by name) are shown only with EXPORTER_HEALTH_DETAILS=true.
import type { Collector, HealthCheck, HealthCheckName } from "./collectors/types.ts";
import type { CollectionResult } from "./scrape.ts";

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

export interface HealthOptions {
  /** The last complete collection: a collector that failed in it has its checks down. */
  readonly last?: CollectionResult | undefined;
  /** Show the checks' strings and nested objects (hosts, users, errors). Default false. */
  readonly details?: boolean;
  readonly now?: Date;
}

/** A check without what maps the network: its status, and its figures (numbers, lists of numbers, nulls). */
function withoutDetails(check: HealthCheck): HealthCheck {
  const out: Record<string, unknown> = { status: check.status };
  for (const [k, v] of Object.entries(check))
    if (
      typeof v === "number" ||
      typeof v === "boolean" ||
      v === null ||
      (Array.isArray(v) && v.every((x) => typeof x === "number"))
    )
      out[k] = v;
  return out as HealthCheck;
}

export function buildHealthReport(
  collectors: Iterable<Collector>,
  options: HealthOptions = {},
): HealthReport {
  const found = new Map<HealthCheckName, HealthCheck>();
  for (const c of collectors) {
    const given = (c.health?.() ?? {}) as Partial<Record<HealthCheckName, HealthCheck>>;
    const result = options.last?.collectors[c.name];
    const names = new Set<HealthCheckName>([
      ...(Object.keys(given) as HealthCheckName[]),
      ...(c.healthChecks ?? []),
    ]);
    for (const name of names) {
      if (found.has(name)) throw new Error(`health check ${name} is contributed twice (by ${c.name} too)`);
      let check = given[name];
      if (result && !result.success && check?.status !== "down")
        check = { status: "down", error: `the ${c.name} collector failed: ${result.error ?? "unknown"}` };
      check ??= { status: "down", error: `the ${c.name} collector has not measured it yet` };
      found.set(name, options.details ? check : withoutDetails(check));
    }
  }
  const now = options.now ?? new Date();
  const checks: Partial<Record<HealthCheckName, HealthCheck>> = {};
  for (const name of checkOrder) {
    const check = found.get(name);
    if (check) checks[name] = check;
  }
  return { timestamp: now.toISOString(), status: overallStatus(found.values()), checks };
}

export const healthStatusCode = (report: HealthReport): number => (report.status === "unhealthy" ? 503 : 200);
