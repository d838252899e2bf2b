// How the exporter logs something that fails on every scrape, written for whoever reads the log at
// 3 a.m.: with PostgreSQL down (or an NFS mount dead), one line per scrape (every 15 s, from every
// Prometheus) buries everything else and says nothing new. So failures are logged as state changes,
// per subject (a collector for the orchestrator, a mount point for the host collector):
//
// - its first failure, and a failure whose reason changed, at once (warn, e.g. "collector failed");
// - the same reason again at most once every `repeatMs`, saying how many failures it stands for
//   (`repeated`) and since when it has been failing (`failing_since`);
// - its first success after failing (info, e.g. "collector recovered"), with how long it failed and
//   how many failures that was.
//
// Reasons are compared with their numbers masked, so "overran its deadline of 0.993 s" and "... of
// 0.995 s" are one reason, while "connection refused" after "timeout" is a change worth a line.
import type { Logger } from "../../lib/log.ts";

/** How often the same reason is logged again by default: every 5 minutes. */
export const DEFAULT_REPEAT_MS = 300_000;

export interface FailureLogOptions {
  /** The same reason is logged again at most this often, in milliseconds (default 5 minutes). */
  readonly repeatMs?: number;
  /** The field that names the subject on each line (default "collector"). */
  readonly subject?: string;
  /** The messages of the two kinds of line (default "collector failed", "collector recovered"). */
  readonly failed?: string;
  readonly recovered?: string;
  readonly now?: () => number;
}

interface Failing {
  /** The reason with its numbers masked (what "the same reason" means). */
  key: string;
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
  private readonly repeatMs: number;
  private readonly subject: string;
  private readonly failedMsg: string;
  private readonly recoveredMsg: string;
  private readonly now: () => number;

  constructor(options: FailureLogOptions) {
    this.repeatMs = options.repeatMs ?? DEFAULT_REPEAT_MS;
    this.subject = options.subject ?? "collector";
    this.failedMsg = options.failed ?? "collector failed";
    this.recoveredMsg = options.recovered ?? "collector recovered";
    this.now = options.now ?? Date.now;
  }

  /** A failure of `name`; `fields` go on the line if one is written. */
  failed(log: Logger, name: string, error: string, fields: Record<string, unknown> = {}): void {
    const t = this.now();
    const key = reasonKey(error);
    const f = this.failing.get(name);
    if (!f) {
      this.failing.set(name, { key, since: t, failures: 1, loggedAt: t, folded: 0 });
      log.warn(this.failedMsg, { [this.subject]: name, error, ...fields });
      return;
    }
    f.failures++;
    if (this.due(f, key, t)) {
      log.warn(this.failedMsg, {
        [this.subject]: name,
        error,
        ...fields,
        failing_since: new Date(f.since).toISOString(),
        failures: f.failures,
        // Failures since the last line that were not logged.
        repeated: f.folded,
      });
      f.key = key;
      f.loggedAt = t;
      f.folded = 0;
      return;
    }
    f.folded++;
  }

  /** Whether `failed(log, name, error)` would write a line now (a first failure, a new reason, a reminder). */
  wouldLog(name: string, error: string): boolean {
    return this.due(this.failing.get(name), reasonKey(error), this.now());
  }

  /** A line is due for a first failure, a changed reason, or a reminder `repeatMs` after the last line. */
  private due(f: Failing | undefined, key: string, t: number): boolean {
    return !f || f.key !== key || t - f.loggedAt >= this.repeatMs;
  }

  /**
   * A failure of `name` recorded without a line, for a caller that bounds its lines and accounts for
   * this one in a line of its own: it counts as logged now (its next reminder is `repeatMs` away), and
   * its failures fold into the next line about it.
   */
  failedQuietly(name: string, error: string): void {
    const t = this.now();
    const key = reasonKey(error);
    const f = this.failing.get(name);
    if (!f) this.failing.set(name, { key, since: t, failures: 1, loggedAt: t, folded: 1 });
    else {
      f.failures++;
      f.folded++;
      f.key = key;
      f.loggedAt = t;
    }
  }

  /** The subjects failing now. */
  failingNames(): string[] {
    return [...this.failing.keys()];
  }

  /** Forgets `name` without a line (it is gone, e.g. a file deleted while it failed). */
  forget(name: string): void {
    this.failing.delete(name);
  }

  /** A success of `name`: logs its recovery if it was failing. */
  succeeded(log: Logger, name: string): void {
    const f = this.failing.get(name);
    if (!f) return;
    this.failing.delete(name);
    log.info(this.recoveredMsg, {
      [this.subject]: name,
      failed_for_seconds: (this.now() - f.since) / 1000,
      failures: f.failures,
    });
  }
}
