// The scrape orchestrator: runs every enabled collector under its own deadline, shares one in-flight
// collection between concurrent scrapes, and merges the collectors' registries into one answer.
//
// - A collection's deadline is always the configured scrape timeout (EXPORTER_SCRAPE_TIMEOUT_SECONDS)
//   from its start; each collector's deadline is the earlier of that and its own budget (collectors
//   table). A client's X-Prometheus-Scrape-Timeout-Seconds (less a margin, so the answer is on the wire
//   before Prometheus gives up) only shortens that client's own wait, never below MIN_WAIT_MS: one
//   client sending a tiny timeout cannot make the collectors fail for everyone else.
// - A collection younger than the minimum interval (EXPORTER_MIN_COLLECTION_INTERVAL_SECONDS) is
//   reused instead of starting another: a client scraping back to back costs no more queries than one
//   scraping every interval.
// - The exposition is rendered once per collection (and once more per answer that stopped waiting
//   before it settled), gzipped at most once, and the same bytes are sent to every client. A collector that throws or overruns is
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
import { promisify } from "node:util";
import { gzip as gzipCb } from "node:zlib";
import { Registry } from "prom-client";
import { exporterMetrics } from "../../definitions/metrics/exporter.ts";
import { type CollectorName } from "../../definitions/metrics/metric.ts";
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

/** One rendering of a collection, shared by every answer given from it. */
export interface Rendered {
  /** The exposition text, UTF-8. */
  readonly text: Buffer;
  /** The gzip of `text`, computed on the first request that accepts it and then shared. */
  gzip(): Promise<Buffer>;
}

/** The shortest a client's timeout header can make its own wait, in milliseconds. */
export const MIN_WAIT_MS = 250;

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
  /** A collection that finished less than this ago is reused by scrapes (default 0: never). */
  readonly minIntervalSeconds?: number;
}

interface Collection {
  readonly startedAt: number;
  /** Epoch milliseconds by which every collector has settled or been given up. */
  readonly deadline: number;
  /** Filled in as each collector settles (or is given up at its deadline). */
  readonly results: Map<CollectorName, CollectorResult>;
  readonly done: Promise<CollectionResult>;
  /** Its rendering, and how many collectors had settled when it was made. */
  rendered?: { readonly settled: number; readonly value: Promise<Rendered> };
  /** Set once done has settled. */
  finished?: CollectionResult;
}

const statusDefs = exporterMetrics.filter(
  (m) =>
    m.name === "kali_agents_exporter_collector_success" ||
    m.name === "kali_agents_exporter_collector_duration_seconds",
);

export class Scraper {
  private inFlight: Collection | undefined;
  private last: CollectionResult | undefined;
  private lastComplete: Collection | undefined;
  /** collect() calls still running, possibly past their deadline. */
  private readonly running = new Map<CollectorName, Promise<void>>();
  private readonly listeners: ((r: CollectionResult) => void)[] = [];
  private readonly failures: FailureLog;

  constructor(private readonly opts: ScraperOptions) {
    this.failures = new FailureLog(
      opts.failureLogRepeatSeconds === undefined ? {} : { repeatMs: opts.failureLogRepeatSeconds * 1000 },
    );
  }

  /**
   * How long a request carrying this header value (or none) waits for the collection, in milliseconds:
   * the header less the margin, within [MIN_WAIT_MS, the configured scrape timeout].
   */
  timeoutMs(header: string | undefined): number {
    const max = this.opts.defaultTimeoutSeconds * 1000;
    const fromHeader = header === undefined ? NaN : Number(header);
    if (!Number.isFinite(fromHeader) || fromHeader <= 0) return max;
    const less = fromHeader - this.opts.marginSeconds;
    // A timeout shorter than the margin would leave nothing: take half of it instead.
    const wait = (less > 0 ? less : fromHeader / 2) * 1000;
    return Math.min(max, Math.max(Math.min(MIN_WAIT_MS, max), wait));
  }

  /** The last complete collection (for /health), or undefined before the first one ends. */
  lastCollection(): CollectionResult | undefined {
    return this.last;
  }

  /** Called after every complete collection (the health report keeps its figures). */
  onCollection(listener: (r: CollectionResult) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Reuses a recent collection, or runs (or joins) one, and renders the exposition, waiting at most
   * `timeoutMs` (a collection's own deadline is always the configured scrape timeout).
   */
  async scrape(timeoutMs: number): Promise<Rendered> {
    this.opts.exporter.scraped();
    const now = Date.now();
    const minMs = (this.opts.minIntervalSeconds ?? 0) * 1000;
    const recent = this.lastComplete;
    if (!this.inFlight && recent?.finished && minMs > 0 && now - recent.finished.finishedAt < minMs)
      return this.render(recent);
    const deadline = now + timeoutMs;
    const collection = this.inFlight ?? this.start(now + this.opts.defaultTimeoutSeconds * 1000);
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
      collection.finished = result;
      this.lastComplete = collection;
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

  /** The collection's rendering, made once for as many collectors as have settled. */
  private render(collection: Collection): Promise<Rendered> {
    const settled = collection.results.size;
    if (collection.rendered?.settled !== settled) {
      const value = this.renderText(collection).then((s): Rendered => {
        const text = Buffer.from(s, "utf8");
        let zipped: Promise<Buffer> | undefined;
        return { text, gzip: () => (zipped ??= gzip(text)) };
      });
      // A rendering that failed is not kept: the next answer tries again.
      value.catch(() => {
        if (collection.rendered?.value === value) collection.rendered = undefined;
      });
      collection.rendered = { settled, value };
    }
    return collection.rendered.value;
  }

  private async renderText(collection: Collection): Promise<string> {
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
const gzip = promisify(gzipCb);

function errorMessage(e: unknown): string {
  if (e instanceof AggregateError && e.errors.length > 0)
    return `${e.message || "AggregateError"}: ${e.errors.map(errorMessage).join("; ")}`;
  if (e instanceof Error) return e.message || e.name;
  return String(e);
}
