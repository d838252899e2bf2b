// Helpers for the collector tests (postgres, redis, scans, probes, faults, health): run one collection
// the way the orchestrator does (a deadline, an abort signal, markFailed on failure) and read the
// collector's registry back through the strict text-format parser.
import { readFileSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { parseExposition, scrape, type Families, type Scrape } from "../../test/support/exposition.ts";
import { buildExporter } from "../src/build.ts";
import type { Collector } from "../src/collectors/types.ts";
import { loadConfig, redactor } from "../src/config.ts";
import type { HealthReport } from "../src/health.ts";
import { createLogger, type Logger } from "../../lib/log.ts";
import type { Scraper } from "../src/scrape.ts";

export interface CapturedLog {
  log: Logger;
  lines: string[];
  /** The parsed events. */
  events(): Record<string, unknown>[];
}

export function captureLog(): CapturedLog {
  const lines: string[] = [];
  const log = createLogger({ level: "debug", write: (l) => lines.push(l) });
  return { log, lines, events: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

export interface Outcome {
  ok: boolean;
  error?: Error;
  ms: number;
  families: Families;
}

/**
 * One collection with a deadline, as scrape.ts runs it: the collector's promise is raced against the
 * deadline, and markFailed() publishes the down state on an error or an overrun.
 */
export async function collectOnce(collector: Collector, log: Logger, deadlineMs = 2000): Promise<Outcome> {
  const started = performance.now();
  const controller = new AbortController();
  const deadline = Date.now() + deadlineMs;
  let timer: NodeJS.Timeout | undefined;
  const overrun = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new Error(`${collector.name} overran its ${deadlineMs} ms deadline`));
    }, deadlineMs);
  });
  let error: Error | undefined;
  try {
    await Promise.race([collector.collect({ signal: controller.signal, deadline, log }), overrun]);
  } catch (e) {
    error = e as Error;
    controller.abort();
    collector.markFailed?.();
  } finally {
    clearTimeout(timer);
  }
  const families = parseExposition(await collector.registry.metrics());
  return { ok: !error, ...(error ? { error } : {}), ms: performance.now() - started, families };
}

export function readRepoFile(path: string): string {
  return readFileSync(new URL(`../../${path}`, import.meta.url), "utf8");
}

export interface App {
  url: string;
  scraper: Scraper;
  lines: string[];
  /** GET /metrics with Prometheus' timeout header (the deadline is it less the 0.5 s margin). */
  scrape(timeoutSeconds?: number): Promise<Scrape>;
  health(): Promise<{ status: number; body: HealthReport }>;
  close(): Promise<void>;
}

/**
 * The whole exporter as main.ts builds it (configuration, collectors table, orchestrator, app), from
 * environment variables, on a free port.
 */
export async function startApp(env: Record<string, string | undefined>): Promise<App> {
  // Every scrape collects (no reuse of a recent collection) unless a test sets the interval.
  const config = loadConfig({
    EXPORTER_SCRAPE_TIMEOUT_MARGIN_SECONDS: "0.5",
    EXPORTER_MIN_COLLECTION_INTERVAL_SECONDS: "0",
    ...env,
  });
  const lines: string[] = [];
  const log = createLogger({ level: "debug", write: (l) => lines.push(l), redact: redactor(config) });
  const { app, scraper } = buildExporter(config, log);
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    scraper,
    lines,
    scrape: (timeoutSeconds = 2) =>
      scrape(`${url}/metrics`, { "X-Prometheus-Scrape-Timeout-Seconds": String(timeoutSeconds) }),
    async health() {
      const res = await fetch(`${url}/health`);
      return { status: res.status, body: (await res.json()) as HealthReport };
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await scraper.close();
    },
  };
}
