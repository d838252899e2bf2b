// The scraper: what Prometheus sends (its Accept and Accept-Encoding headers, keep-alive, the scrape
// timeout header), timed from the request to the last byte of the body.
import http from "node:http";
import { gunzipSync } from "node:zlib";

// Prometheus 2.42's Accept header: exporters that speak OpenMetrics answer in it, as they would in
// production.
const promAccept =
  "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

export interface ScrapeResult {
  /** Milliseconds from sending the request to the end of the body. */
  ms: number;
  status: number;
  /** Bytes on the wire (gzip). */
  bytes: number;
  /** The body, decompressed (only when asked for). */
  text?: string;
  /** True when the client gave up after `timeoutMs`. */
  timedOut: boolean;
}

export interface ScrapeOptions {
  /** Sent as X-Prometheus-Scrape-Timeout-Seconds, as Prometheus does. */
  scrapeTimeoutSeconds?: number;
  /** The client gives up after this many milliseconds (reported as timedOut, not thrown). */
  timeoutMs?: number;
  /** Keep and decompress the body. */
  keepText?: boolean;
  /** A fresh connection instead of the keep-alive pool (a hung server must not poison the pool). */
  fresh?: boolean;
}

export function scrape(url: string, opts: ScrapeOptions = {}): Promise<ScrapeResult> {
  const headers: Record<string, string> = { Accept: promAccept, "Accept-Encoding": "gzip" };
  if (opts.scrapeTimeoutSeconds !== undefined)
    headers["X-Prometheus-Scrape-Timeout-Seconds"] = String(opts.scrapeTimeoutSeconds);
  const t0 = process.hrtime.bigint();
  const elapsed = () => Number(process.hrtime.bigint() - t0) / 1e6;
  return new Promise((resolve, reject) => {
    let settled = false;
    const req = http.get(url, { headers, agent: opts.fresh ? false : agent }, (res) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      res.on("data", (c: Buffer) => {
        bytes += c.length;
        if (opts.keepText) chunks.push(c);
      });
      res.on("end", () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const ms = elapsed();
        let text: string | undefined;
        if (opts.keepText) {
          const raw = Buffer.concat(chunks);
          text = (res.headers["content-encoding"] === "gzip" ? gunzipSync(raw) : raw).toString("utf8");
        }
        resolve({ ms, status: res.statusCode ?? 0, bytes, text, timedOut: false });
      });
      res.on("error", (e) => {
        if (!settled) {
          settled = true;
          clearTimeout(timer);
          reject(e);
        }
      });
    });
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      req.destroy();
      resolve({ ms: elapsed(), status: 0, bytes: 0, timedOut: true });
    }, opts.timeoutMs ?? 60_000);
    req.on("error", (e) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** Sample lines (not comments) of a text-format body. */
export function countSeries(text: string): number {
  let n = 0;
  for (const line of text.split("\n")) if (line && !line.startsWith("#")) n++;
  return n;
}

/** The value of the first sample of `name` (with these label pairs, if given), or undefined. */
export function sampleValue(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== " " && rest[0] !== "{") continue;
    if (!Object.entries(labels).every(([k, v]) => rest.includes(`${k}="${v}"`))) continue;
    const value = Number(
      rest
        .slice(rest.lastIndexOf("}") + 1)
        .trim()
        .split(" ")[0],
    );
    return value;
  }
  return undefined;
}
