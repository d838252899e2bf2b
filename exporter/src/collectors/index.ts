// The table of collectors (prom-client's lib/defaultMetrics.js and postgres_exporter's
// DefaultCollectorConfig() play this part there): every collector module, when it is on by default,
// how the validated configuration becomes its options, and its time budget in one collection.
// EXPORTER_COLLECTORS_DISABLED turns any of them off except `exporter`.
import type { CollectorName } from "../../../definitions/metrics.ts";
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import type { ScheduledCollector } from "../scrape.ts";
import { exporterCollector, type ExporterCollector } from "./exporter.ts";
import { hostCollector } from "./host.ts";
import { textfileCollector } from "./textfile.ts";
import type { CollectorModule } from "./types.ts";

export interface CollectorRow<Options> {
  readonly module: CollectorModule<Options>;
  /** Whether it runs when not disabled: a data source that is not configured is simply off. */
  readonly enabled: (config: Config) => boolean;
  readonly options: (config: Config) => Options;
  /** The longest it may take in one collection (the scrape's deadline may cut it shorter). */
  readonly budgetSeconds: (config: Config) => number;
}

const row = <Options>(r: CollectorRow<Options>): CollectorRow<Options> => r;

/**
 * Collectors whose rows the data collectors issue adds (postgres.ts, redis.ts, scans.ts, probes.ts):
 * remove a name from here when its row lands below. Until then they are not in the table.
 */
type Pending = "postgres" | "redis" | "scans" | "probes";

export const collectorTable: Record<Exclude<CollectorName, Pending>, CollectorRow<unknown>> = {
  exporter: row({
    module: exporterCollector,
    enabled: () => true,
    options: () => ({ version: exporterVersion }),
    budgetSeconds: () => 1,
  }),
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
  textfile: row({
    module: textfileCollector,
    enabled: (c) => c.textfileDir !== undefined,
    options: (c) => ({ dir: c.textfileDir ?? "" }),
    budgetSeconds: () => 2,
  }),
};

/** The exporter's version, as package.json says (shown in kali_agents_exporter_build_info). */
export const exporterVersion = "0.1.0";

export interface BuiltCollectors {
  readonly exporter: ExporterCollector;
  readonly scheduled: ScheduledCollector[];
}

/** Creates every enabled collector from the configuration, in table order. */
export function buildCollectors(config: Config, log: Logger): BuiltCollectors {
  const disabled = new Set<string>(config.collectorsDisabled);
  const scheduled: ScheduledCollector[] = [];
  for (const [name, r] of Object.entries(collectorTable) as [CollectorName, CollectorRow<unknown>][]) {
    if (name === "exporter" || disabled.has(name) || !r.enabled(config)) continue;
    scheduled.push({
      collector: r.module.create(r.options(config), log.child(name)),
      budgetMs: r.budgetSeconds(config) * 1000,
    });
  }
  const exporter = exporterCollector.create({ version: exporterVersion }, log.child("exporter"));
  return { exporter, scheduled };
}
