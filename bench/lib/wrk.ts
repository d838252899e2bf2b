// Concurrent scrapers with wrk: N connections hammering /metrics for a fixed duration.
import { spawn } from "node:child_process";

export interface WrkResult {
  connections: number;
  requests: number;
  seconds: number;
  requestsPerSecond: number;
  /** Latency percentiles in milliseconds. */
  p50: number;
  p99: number;
  max: number;
  /** Socket errors (connect, read, write, timeout) and non-2xx answers. */
  errors: number;
}

const unitMs: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

function toMs(v: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(v.trim());
  if (!m) throw new Error(`wrk: cannot read the duration ${JSON.stringify(v)}`);
  return Number(m[1]) * (unitMs[m[2] as string] as number);
}

export function parseWrk(out: string, connections: number): WrkResult {
  const pct = (p: string) => {
    const m = new RegExp(`^\\s+${p}%\\s+(\\S+)`, "m").exec(out);
    if (!m) throw new Error(`wrk: no ${p}% latency in its output:\n${out}`);
    return toMs(m[1] as string);
  };
  const done = /(\d+) requests in ([\d.]+)(ms|s|m)/.exec(out);
  if (!done) throw new Error(`wrk: no request count in its output:\n${out}`);
  const seconds = toMs(`${done[2]}${done[3]}`) / 1000;
  const latencyLine = /^\s+Latency\s+\S+\s+\S+\s+(\S+)/m.exec(out);
  let errors = 0;
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  if (sock) errors += sock.slice(1).reduce((a, b) => a + Number(b), 0);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  if (non2xx) errors += Number(non2xx[1]);
  const requests = Number(done[1]);
  return {
    connections,
    requests,
    seconds,
    requestsPerSecond: requests / seconds,
    p50: pct("50"),
    p99: pct("99"),
    max: latencyLine ? toMs(latencyLine[1] as string) : Number.NaN,
    errors,
  };
}

/** Runs wrk against `url` with `connections` connections for `seconds`, as Prometheus would ask. */
export function runWrk(url: string, connections: number, seconds: number): Promise<WrkResult> {
  const threads = Math.min(2, connections);
  const args = [
    `-t${threads}`,
    `-c${connections}`,
    `-d${seconds}s`,
    // wrk leaves requests slower than its timeout (2 s by default) out of the latency figures: a slow
    // exporter would look fast. Give it room, and count what still times out as errors.
    "--timeout",
    "30s",
    "--latency",
    "-H",
    "Accept-Encoding: gzip",
    url,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn("wrk", args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    child.stderr.on("data", (b: Buffer) => (out += b.toString()));
    child.on("error", reject);
    child.on("exit", (code) => {
      if (code !== 0) reject(new Error(`wrk exited with ${code}:\n${out}`));
      else {
        try {
          resolve(parseWrk(out, connections));
        } catch (e) {
          reject(e instanceof Error ? e : new Error(String(e)));
        }
      }
    });
  });
}
