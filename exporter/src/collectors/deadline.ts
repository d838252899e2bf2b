// Waiting for work only until the collector's deadline. The work itself goes on in the background (it is
// bounded by its own timeouts: statement_timeout, Redis' command timeout, ...): its late result, or
// error, is dropped, so nothing is written after the deadline and no rejection goes unhandled.

export class DeadlinePassedError extends Error {
  constructor(what: string) {
    super(`${what}: the collector's deadline passed`);
    this.name = "DeadlinePassedError";
  }
}

/** `p`, or a DeadlinePassedError naming `what` as soon as `signal` aborts, whichever comes first. */
export function raceAbort<T>(p: Promise<T>, signal: AbortSignal, what: string): Promise<T> {
  p.catch(() => {});
  if (signal.aborted) return Promise.reject(new DeadlinePassedError(what));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new DeadlinePassedError(what));
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, (e: unknown) => reject(e instanceof Error ? e : new Error(String(e)))).finally(() =>
      signal.removeEventListener("abort", onAbort),
    );
  });
}
