// Helpers for the collector tests (postgres, redis, scans, probes, faults, health): run one collection
// the way the orchestrator does (a deadline, an abort signal, markFailed on failure) and read the
// collector's registry back through the strict text-format parser.
import { readFileSync } from "node:fs";
import type { Families } from "../../test/support/exposition.ts";
import { parseExposition } from "../../test/support/exposition.ts";
import type { Collector } from "../src/collectors/types.ts";
import { createLogger, type Logger } from "../src/log.ts";

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
