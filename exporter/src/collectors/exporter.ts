// The exporter's own metrics: build info, scrape and collection counters, and prom-client's default
// process_* and nodejs_* metrics. Unlike the other collectors it gathers nothing on a collection: the
// orchestrator (scrape.ts) counts into it, and prom-client samples the process when it renders.
import { collectDefaultMetrics, Registry } from "prom-client";
import { exporterMetrics } from "../../../definitions/metrics/exporter.ts";
import type { Logger } from "../../../lib/log.ts";
import { createMetrics } from "../metrics.ts";
import type { Collector, CollectorModule } from "./types.ts";

export interface ExporterOptions {
  readonly version: string;
}

export interface ExporterCollector extends Collector {
  /** One request answered on /metrics. */
  scraped(): void;
  /** One collection started (shared by the scrapes that joined it). */
  collectionStarted(): void;
  /** One request answered 503 because too many were in flight. */
  requestRejected(): void;
}

// The per-collector success and duration are not held here: they are written per response by the
// orchestrator (a scrape that gave up waiting reports the collectors it did not wait for as 0).
const held = exporterMetrics.filter(
  (m) =>
    m.name !== "kali_agents_exporter_collector_success" &&
    m.name !== "kali_agents_exporter_collector_duration_seconds",
);

function createExporterCollector(options: ExporterOptions, _log: Logger): ExporterCollector {
  const registry = new Registry();
  const m = createMetrics(held, registry);
  m.kali_agents_exporter_build_info.set({ version: options.version, nodejs_version: process.version }, 1);
  collectDefaultMetrics({ register: registry });
  return {
    name: "exporter",
    registry,
    async collect() {},
    scraped: () => m.kali_agents_exporter_scrapes_total.inc(),
    collectionStarted: () => m.kali_agents_exporter_collections_total.inc(),
    requestRejected: () => m.kali_agents_exporter_requests_rejected_total.inc(),
  };
}

export const exporterCollector = {
  name: "exporter",
  metrics: exporterMetrics,
  create: createExporterCollector,
} as const satisfies CollectorModule<ExporterOptions>;
