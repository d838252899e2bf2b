// The one way to assemble the exporter from a validated configuration: the collectors of the table
// (collectors/index.ts), the orchestrator that runs them under deadlines (scrape.ts) and the HTTP app
// (server.ts), not yet listening. main.ts listens and handles signals; the tests and the benchmarks
// mount the same assembly, so what they measure is what runs.
import type { Express } from "express";
import type { Logger } from "../../lib/log.ts";
import { buildCollectors } from "./collectors/index.ts";
import type { Collector } from "./collectors/types.ts";
import type { Config } from "./config.ts";
import { Scraper, type ScheduledCollector } from "./scrape.ts";
import { createApp } from "./server.ts";

export interface BuildOptions {
  /** Collectors scheduled after the configured ones (tests: a collector that hangs or throws). */
  readonly extraCollectors?: readonly ScheduledCollector[];
}

export interface BuiltExporter {
  readonly app: Express;
  readonly scraper: Scraper;
  /** The scheduled collectors, in the order they run. */
  readonly collectors: readonly Collector[];
}

export function buildExporter(config: Config, log: Logger, options: BuildOptions = {}): BuiltExporter {
  const { exporter, scheduled } = buildCollectors(config, log);
  const all = [...scheduled, ...(options.extraCollectors ?? [])];
  const scraper = new Scraper({
    collectors: all,
    exporter,
    defaultTimeoutSeconds: config.scrapeTimeoutSeconds,
    marginSeconds: config.scrapeTimeoutMarginSeconds,
    log: log.child("scrape"),
    minIntervalSeconds: config.minCollectionIntervalSeconds,
  });
  const collectors = all.map((s) => s.collector);
  const app = createApp({
    scraper,
    collectors,
    log: log.child("http"),
    healthTimeoutSeconds: config.scrapeTimeoutSeconds,
    maxInFlight: config.maxInFlightRequests,
    healthDetails: config.healthDetails,
    onRejected: () => exporter.requestRejected(),
  });
  return { app, scraper, collectors };
}
