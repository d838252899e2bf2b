// Misbehaviour on purpose, so that alerts can be seen firing: one mode at a time, for a while or until
// changed. Set at start from DEMO_CHAOS_MODE, or at run time with POST /chaos.
import { chaosModes, type ChaosMode } from "./config.ts";

export interface ChaosSettings {
  readonly mode: ChaosMode;
  /** error-burst: share of API requests answered 500 (default 0.5). */
  readonly errorRatio: number;
  /** slow: latency added to each API request, in seconds (default 1.5, above the 1 s p95 threshold). */
  readonly latencySeconds: number;
  /** Epoch ms when the mode reverts to normal, or null for never. */
  readonly until: number | null;
}

export interface Chaos {
  current(): ChaosSettings;
  set(request: unknown): ChaosSettings;
  onChange(listener: (s: ChaosSettings) => void): void;
  close(): void;
}

export class ChaosRequestError extends Error {
  override name = "ChaosRequestError";
}

const normal: ChaosSettings = { mode: "normal", errorRatio: 0.5, latencySeconds: 1.5, until: null };

/** Validates a POST /chaos body: {"mode": ..., "durationSeconds"?, "errorRatio"?, "latencySeconds"?}. */
export function parseChaosRequest(body: unknown, now = Date.now()): ChaosSettings {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new ChaosRequestError(
      'expected a JSON object such as {"mode":"error-burst","durationSeconds":300}',
    );
  }
  const b = body as Record<string, unknown>;
  const known = new Set(["mode", "durationSeconds", "errorRatio", "latencySeconds"]);
  for (const k of Object.keys(b)) {
    if (!known.has(k)) throw new ChaosRequestError(`unknown field ${JSON.stringify(k)}`);
  }
  if (typeof b.mode !== "string" || !chaosModes.includes(b.mode as ChaosMode)) {
    throw new ChaosRequestError(`mode: expected one of ${chaosModes.join(", ")}`);
  }
  const number = (name: string, fallback: number, min: number, max: number): number => {
    const v = b[name];
    if (v === undefined) return fallback;
    if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max) {
      throw new ChaosRequestError(`${name}: expected a number from ${min} to ${max}`);
    }
    return v;
  };
  const duration = number("durationSeconds", 0, 0, 7 * 24 * 3600);
  return {
    mode: b.mode as ChaosMode,
    errorRatio: number("errorRatio", normal.errorRatio, 0, 1),
    latencySeconds: number("latencySeconds", normal.latencySeconds, 0, 60),
    until: duration > 0 ? now + duration * 1000 : null,
  };
}

export function createChaos(initial: ChaosMode, durationSeconds: number): Chaos {
  let state: ChaosSettings = parseChaosRequest(
    durationSeconds > 0 ? { mode: initial, durationSeconds } : { mode: initial },
  );
  let timer: NodeJS.Timeout | undefined;
  const listeners: ((s: ChaosSettings) => void)[] = [];

  const apply = (next: ChaosSettings) => {
    clearTimeout(timer);
    state = next;
    if (next.until !== null && next.mode !== "normal") {
      timer = setTimeout(() => apply(normal), Math.max(0, next.until - Date.now()));
      timer.unref();
    }
    for (const l of listeners) l(state);
  };
  apply(state);

  return {
    current: () => state,
    set(request) {
      apply(parseChaosRequest(request));
      return state;
    },
    onChange: (l) => void listeners.push(l),
    close: () => clearTimeout(timer),
  };
}
