// The metric catalogue, every source together: what the rules, the panels and the runbooks may name,
// and what the exporter publishes. Each source's table is in its own file beside this one.
import { apiMetrics } from "./api.ts";
import { exporterMetrics } from "./exporter.ts";
import { hostMetrics } from "./host.ts";
import { inventoryMetrics } from "./inventory.ts";
import { jobMetrics } from "./jobs.ts";
import type { MetricDef } from "./metric.ts";
import { postgresMetrics } from "./postgres.ts";
import { probeMetrics } from "./probes.ts";
import { redisMetrics } from "./redis.ts";
import { scanMetrics } from "./scans.ts";
import { textfileMetrics } from "./textfile.ts";

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
