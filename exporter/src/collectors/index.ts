// The table of collectors (prom-client's lib/defaultMetrics.js and postgres_exporter's
// DefaultCollectorConfig() play this part there): every collector module, when it is on by default,
// how the validated configuration becomes its options, and its time budget in one collection. The
// exporter's own collector is not a row: it always runs, outside the schedule (buildCollectors).
// EXPORTER_COLLECTORS_DISABLED turns any of the rows off.
import type { CollectorName } from "../../../definitions/metrics/metric.ts";
import type { Config } from "../config.ts";
import type { Logger } from "../../../lib/log.ts";
import type { ScheduledCollector } from "../scrape.ts";
import { exporterCollector, type ExporterCollector } from "./exporter.ts";
import { probeKinds } from "../../../definitions/selectors.ts";
import { hostCollector } from "./host.ts";
import { inventoryCollector } from "./inventory.ts";
import type { PostgresConnectionOptions } from "../postgres-pool.ts";
import { postgresCollector } from "./postgres.ts";
import { probesCollector } from "./probes.ts";
import { redisCollector } from "./redis.ts";
import { scansCollector } from "./scans.ts";
import { textfileCollector } from "./textfile.ts";
import type { CollectorModule } from "./types.ts";
import { stackVersion } from "../../../lib/version.ts";

export interface CollectorRow<Options> {
  readonly module: CollectorModule<Options>;
  /** Whether it runs when not disabled: a data source that is not configured is simply off. */
  readonly enabled: (config: Config) => boolean;
  readonly options: (config: Config) => Options;
  /** The longest it may take in one collection (the scrape's deadline may cut it shorter). */
  readonly budgetSeconds: (config: Config) => number;
}

const row = <Options>(r: CollectorRow<Options>): CollectorRow<Options> => r;

/** PostgreSQL connection options, the same for postgres and scans: they share one pool of two. */
const pgConnection = (c: Config): PostgresConnectionOptions => ({
  url: c.databaseUrl ?? "",
  connectTimeoutMs: c.pgConnectTimeoutSeconds * 1000,
  statementTimeoutMs: c.pgStatementTimeoutSeconds * 1000,
  lockTimeoutMs: c.pgLockTimeoutSeconds * 1000,
  idleTimeoutMs: 60_000,
});
// A hung PostgreSQL is given up after one connect timeout and one statement timeout.
const pgBudget = (c: Config) => c.pgConnectTimeoutSeconds + c.pgStatementTimeoutSeconds + 1;

/** The collectors a collection schedules, in the order it starts them. */
type ScheduledName = Exclude<CollectorName, "exporter">;

const collectorTable: Record<ScheduledName, CollectorRow<unknown>> = {
  host: row({
    module: hostCollector,
    enabled: () => true,
    options: (c) => ({
      hostRoot: c.hostRoot,
      statfsTimeoutMs: 1000,
      diskWarnPercent: c.healthDiskWarnPercent,
      memoryWarnPercent: c.healthMemoryWarnPercent,
      cpuWarnPercent: c.healthCpuWarnPercent,
    }),
    budgetSeconds: () => 3,
  }),
  inventory: row({
    module: inventoryCollector,
    enabled: () => true,
    options: (c) => ({ hostRoot: c.hostRoot }),
    budgetSeconds: () => 2,
  }),
  textfile: row({
    module: textfileCollector,
    enabled: (c) => c.textfileDir !== undefined,
    options: (c) => ({
      dir: c.textfileDir ?? "",
      maxBytes: c.textfileMaxBytes,
      maxSeries: c.textfileMaxSeries,
    }),
    budgetSeconds: () => 2,
  }),
  postgres: row({
    module: postgresCollector,
    enabled: (c) => c.databaseUrl !== undefined,
    options: (c) => ({
      ...pgConnection(c),
      databaseSizeIntervalMs: c.pgDatabaseSizeIntervalSeconds * 1000,
    }),
    budgetSeconds: pgBudget,
  }),
  scans: row({
    module: scansCollector,
    enabled: (c) => c.databaseUrl !== undefined,
    options: (c) => ({
      database: pgConnection(c),
      table: c.scansTable,
      retentionDays: c.scansRetentionDays,
      maxTools: c.scansMaxTools,
    }),
    budgetSeconds: pgBudget,
  }),
  redis: row({
    module: redisCollector,
    enabled: (c) => c.redisUrl !== undefined,
    options: (c) => ({
      url: c.redisUrl ?? "",
      connectTimeoutMs: c.redisConnectTimeoutSeconds * 1000,
      commandTimeoutMs: c.redisCommandTimeoutSeconds * 1000,
      queueKeys: c.scanQueueKeys,
    }),
    budgetSeconds: (c) => c.redisConnectTimeoutSeconds + 2 * c.redisCommandTimeoutSeconds + 0.5,
  }),
  probes: row({
    module: probesCollector,
    enabled: (c) => c.apiHealthUrl !== undefined || c.mcpServers.length > 0,
    options: (c) => ({
      targets: [
        ...(c.apiHealthUrl ? [{ url: c.apiHealthUrl, kind: probeKinds.api }] : []),
        ...c.mcpServers.map((t) => ({ url: t.url, name: t.name, kind: probeKinds.mcp })),
      ],
      timeoutMs: c.probeTimeoutSeconds * 1000,
    }),
    budgetSeconds: (c) => c.probeTimeoutSeconds + 0.5,
  }),
};

/** The exporter's version, as package.json says (shown in kali_agents_exporter_build_info). */
export const exporterVersion = stackVersion;

export interface BuiltCollectors {
  readonly exporter: ExporterCollector;
  readonly scheduled: ScheduledCollector[];
}

/** Creates every enabled collector from the configuration, in table order. */
export function buildCollectors(config: Config, log: Logger): BuiltCollectors {
  const disabled = new Set<string>(config.collectorsDisabled);
  const scheduled: ScheduledCollector[] = [];
  for (const [name, r] of Object.entries(collectorTable) as [ScheduledName, CollectorRow<unknown>][]) {
    if (disabled.has(name) || !r.enabled(config)) continue;
    scheduled.push({
      collector: r.module.create(r.options(config), log.child(name)),
      budgetMs: r.budgetSeconds(config) * 1000,
    });
  }
  const exporter = exporterCollector.create({ version: exporterVersion }, log.child("exporter"));
  return { exporter, scheduled };
}
