// How the orchestrator logs a collector's failures, written for whoever reads the log at 3 a.m.: with
// PostgreSQL down, one line per scrape (every 15 s, from every Prometheus) buries everything else and
// says nothing new. So a collector's failures are logged as state changes:
//
// - its first failure, and a failure whose reason changed, at once (warn "collector failed");
// - the same reason again at most once every `repeatMs`, saying how many failures it stands for
//   (`repeated`) and since when the collector has been failing (`failing_since`);
// - its first success after failing (info "collector recovered"), with how long it failed and how many
//   failures that was.
//
// Reasons are compared with their numbers masked, so "overran its deadline of 0.993 s" and "... of
// 0.995 s" are one reason, while "connection refused" after "timeout" is a change worth a line.
import type { Logger } from "./log.ts";

interface Failing {
  /** The reason with its numbers masked (what "the same reason" means). */
  readonly key: string;
  /** Epoch milliseconds of the first failure of this run of failures. */
  readonly since: number;
  /** Failures in this run. */
  failures: number;
  /** When the last line about it was written, and the failures since then that it did not log. */
  loggedAt: number;
  folded: number;
}

const reasonKey = (error: string): string => error.replace(/\d+(\.\d+)?/g, "#");

export class FailureLog {
  private readonly failing = new Map<string, Failing>();

  constructor(
    private readonly repeatMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** A failure of `collector`; `fields` go on the line if one is written. */
  failed(log: Logger, collector: string, error: string, fields: Record<string, unknown> = {}): void {
    const t = this.now();
    const key = reasonKey(error);
    const f = this.failing.get(collector);
    if (!f) {
      this.failing.set(collector, { key, since: t, failures: 1, loggedAt: t, folded: 0 });
      log.warn("collector failed", { collector, error, ...fields });
      return;
    }
    f.failures++;
    if (f.key !== key || t - f.loggedAt >= this.repeatMs) {
      const repeated = f.folded;
      this.failing.set(collector, { ...f, key, loggedAt: t, folded: 0 });
      log.warn("collector failed", {
        collector,
        error,
        ...fields,
        failing_since: new Date(f.since).toISOString(),
        failures: f.failures,
        // Failures since the last line that were not logged.
        repeated,
      });
      return;
    }
    f.folded++;
  }

  /** A success of `collector`: logs its recovery if it was failing. */
  succeeded(log: Logger, collector: string): void {
    const f = this.failing.get(collector);
    if (!f) return;
    this.failing.delete(collector);
    log.info("collector recovered", {
      collector,
      failed_for_seconds: (this.now() - f.since) / 1000,
      failures: f.failures,
    });
  }
}
