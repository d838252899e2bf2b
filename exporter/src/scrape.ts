// The scrape orchestrator: runs every enabled collector under its own deadline, shares one in-flight
// collection between concurrent scrapes, and merges the collectors' registries into one answer.
//
// - A scrape's deadline is Prometheus' X-Prometheus-Scrape-Timeout-Seconds less a margin (so the answer
//   is on the wire before Prometheus gives up), else the configured default.
// - A collection starts with the deadline of the scrape that started it; each collector's deadline is
//   the earlier of that and its own budget (collectors table). A collector that throws or overruns is
//   recorded as failed (success 0), its signal is aborted, markFailed() publishes its "down" state, and
//   the other collectors publish as usual. Failures are logged as state changes (failure-log.ts): the
//   first, a change of reason, a reminder every few minutes, and the recovery; not one line a scrape.
// - Scrapes that arrive while a collection runs join it instead of starting another (bounded load on
//   PostgreSQL and Redis however often Prometheus, or anyone, scrapes). A joiner whose deadline is
//   earlier than the collection's answers at its own deadline: the collectors still running are
//   reported with success 0 in that answer, and only their pendingRegistry (their up metric at 0) is
//   published for them.
// - A collector whose previous collect() is still running (hung past its deadline, e.g. a TCP
//   connection that never answers) is not called again; it is reported as failed until that call
//   settles, so a dependency that hangs never accumulates calls.
import { Registry } from "prom-client";
import { exporterMetrics, type CollectorName } from "../../definitions/metrics.ts";
import type { ExporterCollector } from "./collectors/exporter.ts";
import type { Collector } from "./collectors/types.ts";
import { FailureLog } from "./failure-log.ts";
import type { Logger } from "../../lib/log.ts";
import { createMetrics } from "./metrics.ts";

export interface ScheduledCollector {
  readonly collector: Collector;
  /** The longest this collector may run in one collection, in milliseconds. */
  readonly budgetMs: number;
}

export interface CollectorResult {
  readonly collector: CollectorName;
  readonly success: boolean;
  readonly durationSeconds: number;
  /** Why it failed (error message, or the deadline it overran). */
  readonly error?: string;
  /** Epoch milliseconds when it finished (or was given up). */
  readonly finishedAt: number;
}

export interface CollectionResult {
  readonly startedAt: number;
  readonly finishedAt: number;
  readonly collectors: Readonly<Partial<Record<CollectorName, CollectorResult>>>;
}

export interface ScraperOptions {
  readonly collectors: readonly ScheduledCollector[];
  readonly exporter: ExporterCollector;
  readonly defaultTimeoutSeconds: number;
  readonly marginSeconds: number;
  readonly log: Logger;
  /** A collector failing for the same reason is logged again at most this often (default 300 s). */
  readonly failureLogRepeatSeconds?: number;
}

interface Collection {
  readonly startedAt: number;
  /** Epoch milliseconds by which every collector has settled or been given up. */
  readonly deadline: number;
  /** Filled in as each collector settles (or is given up at its deadline). */
  readonly results: Map<CollectorName, CollectorResult>;
  readonly done: Promise<CollectionResult>;
}

const statusDefs = exporterMetrics.filter(
  (m) =>
    m.name === "kali_agents_exporter_collector_success" ||
    m.name === "kali_agents_exporter_collector_duration_seconds",
);

export class Scraper {
  private inFlight: Collection | undefined;
  private last: CollectionResult | undefined;
  /** collect() calls still running, possibly past their deadline. */
  private readonly running = new Map<CollectorName, Promise<void>>();
  private readonly listeners: ((r: CollectionResult) => void)[] = [];
  private readonly failures: FailureLog;

  constructor(private readonly opts: ScraperOptions) {
    this.failures = new FailureLog(
      opts.failureLogRepeatSeconds === undefined ? {} : { repeatMs: opts.failureLogRepeatSeconds * 1000 },
    );
  }

  /** The scrape timeout in milliseconds for a request carrying this header value (or none). */
  timeoutMs(header: string | undefined): number {
    const fromHeader = header === undefined ? NaN : Number(header);
    if (!Number.isFinite(fromHeader) || fromHeader <= 0) return this.opts.defaultTimeoutSeconds * 1000;
    const less = fromHeader - this.opts.marginSeconds;
    // A timeout shorter than the margin would leave nothing: take half of it instead.
    return (less > 0 ? less : fromHeader / 2) * 1000;
  }

  /** The last complete collection (for /health), or undefined before the first one ends. */
  lastCollection(): CollectionResult | undefined {
    return this.last;
  }

  /** Called after every complete collection (the health report keeps its figures). */
  onCollection(listener: (r: CollectionResult) => void): void {
    this.listeners.push(listener);
  }

  /** Runs (or joins) a collection and renders the exposition text, within `timeoutMs`. */
  async scrape(timeoutMs: number): Promise<string> {
    this.opts.exporter.scraped();
    const deadline = Date.now() + timeoutMs;
    const collection = this.inFlight ?? this.start(deadline);
    if (deadline >= collection.deadline) {
      // Every collector is cut at the collection's deadline at the latest, so the collection settles
      // by then: wait for it whole (a timer of our own would race the collectors' and could answer a
      // millisecond before them, leaving out collectors that did answer).
      await collection.done;
    } else {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
      });
      await Promise.race([collection.done, timedOut]);
      clearTimeout(timer);
    }
    return this.render(collection);
  }

  /** Starts a collection now (also used to warm up at start), or joins the one in flight. */
  collect(deadline: number): Promise<CollectionResult> {
    return (this.inFlight ?? this.start(deadline)).done;
  }

  private start(deadline: number): Collection {
    this.opts.exporter.collectionStarted();
    const startedAt = Date.now();
    const results = new Map<CollectorName, CollectorResult>();
    const done = Promise.all(
      this.opts.collectors.map(async (s) => {
        // runOne() turns every failure of the collector into a result; this catch keeps a bug in it
        // from leaving the collection unsettled, which would hang every later scrape that joins it.
        let r: CollectorResult;
        try {
          r = await this.runOne(s, startedAt, Math.min(deadline, startedAt + s.budgetMs));
        } catch (e) {
          this.opts.log.error("collector run failed", { collector: s.collector.name, error: e });
          r = {
            collector: s.collector.name,
            success: false,
            durationSeconds: 0,
            error: errorMessage(e),
            finishedAt: Date.now(),
          };
        }
        results.set(s.collector.name, r);
      }),
    ).then(() => {
      const result: CollectionResult = {
        startedAt,
        finishedAt: Date.now(),
        collectors: Object.fromEntries(results),
      };
      this.last = result;
      if (this.inFlight === collection) this.inFlight = undefined;
      for (const l of this.listeners) {
        try {
          l(result);
        } catch (e) {
          this.opts.log.error("collection listener failed", { error: e });
        }
      }
      return result;
    });
    const collection: Collection = { startedAt, deadline, results, done };
    this.inFlight = collection;
    return collection;
  }

  private async runOne(s: ScheduledCollector, startedAt: number, deadline: number): Promise<CollectorResult> {
    const { collector } = s;
    const name = collector.name;
    const log = this.opts.log.child(name);
    const t0 = performance.now();
    const finish = (error?: string): CollectorResult => ({
      collector: name,
      success: error === undefined,
      durationSeconds: (performance.now() - t0) / 1000,
      ...(error !== undefined ? { error } : {}),
      finishedAt: Date.now(),
    });
    const fail = (error: string): CollectorResult => {
      const r = finish(error);
      this.failures.failed(log, name, error, { duration_seconds: r.durationSeconds });
      try {
        collector.markFailed?.();
      } catch (e) {
        log.error("markFailed threw", { collector: name, error: e });
      }
      return r;
    };

    if (this.running.has(name)) return fail("its previous collection is still running past its deadline");
    const remaining = deadline - Date.now();
    if (remaining <= 0) return fail("no time left before the scrape deadline");

    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const overrun = new Promise<"overrun">((resolve) => {
      timer = setTimeout(() => resolve("overrun"), remaining);
    });
    let call: Promise<void>;
    try {
      call = collector.collect({ signal: controller.signal, deadline, log });
    } catch (e) {
      clearTimeout(timer);
      return fail(errorMessage(e));
    }
    const tracked = call.then(
      () => ({ ok: true as const }),
      (e: unknown) => ({ ok: false as const, e }),
    );
    this.running.set(name, call.then(noop, noop));
    void tracked.finally(() => this.running.delete(name));
    const outcome = await Promise.race([tracked, overrun]);
    clearTimeout(timer);
    if (outcome === "overrun") {
      controller.abort(new Error("deadline"));
      return fail(`overran its deadline of ${((deadline - startedAt) / 1000).toFixed(3)} s`);
    }
    if (!outcome.ok) return fail(errorMessage(outcome.e));
    this.failures.succeeded(log, name);
    return finish();
  }

  private async render(collection: Collection): Promise<string> {
    // Success and duration are written per answer: a scrape that stopped waiting reports the
    // collectors still running as failed, while the collection itself goes on for the others.
    const status = new Registry();
    const m = createMetrics(statusDefs, status);
    const parts: Registry[] = [this.opts.exporter.registry, status];
    for (const s of this.opts.collectors) {
      const name = s.collector.name;
      const r = collection.results.get(name);
      m.kali_agents_exporter_collector_success.set({ collector: name }, r?.success ? 1 : 0);
      m.kali_agents_exporter_collector_duration_seconds.set(
        { collector: name },
        r ? r.durationSeconds : (Date.now() - collection.startedAt) / 1000,
      );
      if (r) parts.push(s.collector.registry);
      else if (s.collector.pendingRegistry) parts.push(s.collector.pendingRegistry);
    }
    const texts = await Promise.all(parts.map((p) => p.metrics()));
    return texts.filter((t) => t.trim() !== "").join("\n");
  }

  /** Closes every collector (on shutdown). */
  async close(): Promise<void> {
    await Promise.all(
      [...this.opts.collectors.map((s) => s.collector), this.opts.exporter].map(async (c) => {
        try {
          await c.close?.();
        } catch (e) {
          this.opts.log.error("collector close failed", { collector: c.name, error: e });
        }
      }),
    );
  }
}

const noop = () => undefined;

function errorMessage(e: unknown): string {
  if (e instanceof AggregateError && e.errors.length > 0)
    return `${e.message || "AggregateError"}: ${e.errors.map(errorMessage).join("; ")}`;
  if (e instanceof Error) return e.message || e.name;
  return String(e);
}
