// The HTTP app, built without listening (main.ts listens; tests mount it on a free port).
//
//   GET /          a small HTML page linking the endpoints
//   GET /metrics   the Prometheus text format (gzip when the client accepts it)
//   GET /health    the seed's health report: 200 healthy or degraded, 503 unhealthy
//   GET /-/healthy 200 while the process serves HTTP (liveness)
//   GET /-/ready   200 once the first collection has completed (main.ts starts one at start-up,
//                  bounded by the scrape timeout), 503 before: the first scrape then has every figure,
//                  including the CPU baseline of /health
// Any other path answers 404 and any other method on these paths 405 with an Allow header; every error
// is a JSON body {"error": "...", "status": N}.
//
// Under abuse (anyone on the network can reach the port):
// - requests pipelined on one connection are handled one after the other (Node.js parses them all
//   at once and would otherwise run them all concurrently);
// - at most `maxInFlight` requests are handled at once; beyond, 503 with Retry-After, counted in
//   kali_agents_exporter_requests_rejected_total;
// - /metrics sends the bytes rendered (and gzipped) once per collection (scrape.ts), whoever asks.
import type { Socket } from "node:net";
import express, { type NextFunction, type Request, type Response } from "express";
import { Registry } from "prom-client";
import type { Collector } from "./collectors/types.ts";
import { buildHealthReport, healthStatusCode } from "./health.ts";
import type { Logger } from "../../lib/log.ts";
import type { Scraper } from "./scrape.ts";

export interface AppOptions {
  readonly scraper: Scraper;
  /** The collectors whose health() build /health. */
  readonly collectors: readonly Collector[];
  readonly log: Logger;
  /** /health reuses a collection younger than this, else runs (or joins) one. */
  readonly healthMaxAgeSeconds?: number;
  /** The scrape timeout /health collects with (the configured default). */
  readonly healthTimeoutSeconds: number;
  /** Requests handled at once; beyond, 503 (default 1024). */
  readonly maxInFlight?: number;
  /** /health shows hosts, users and errors (default false: statuses and figures only). */
  readonly healthDetails?: boolean;
  /** Counts a request answered 503 because too many were in flight. */
  readonly onRejected?: () => void;
}

/** Retry-After of a 503 for too many requests in flight, in seconds. */
export const RETRY_AFTER_SECONDS = 1;

const endpoints = ["/", "/metrics", "/health", "/-/healthy", "/-/ready"] as const;

const indexPage = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Kali Agents exporter</title></head>
<body>
<h1>Kali Agents exporter</h1>
<p>Host, PostgreSQL, Redis, scan, probe and job metrics for Prometheus.</p>
<ul>
<li><a href="metrics">/metrics</a>: the metrics, in the Prometheus text format</li>
<li><a href="health">/health</a>: the health report (JSON; 503 when unhealthy)</li>
<li><a href="-/healthy">/-/healthy</a>: whether the process is up</li>
<li><a href="-/ready">/-/ready</a>: whether the first collection has completed</li>
</ul>
</body>
</html>
`;

export function createApp(opts: AppOptions): express.Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  const maxAgeMs = (opts.healthMaxAgeSeconds ?? 15) * 1000;
  const maxInFlight = opts.maxInFlight ?? 1024;
  let inFlight = 0;
  // The last request of each connection: the next one on it waits until that one is answered.
  const tail = new WeakMap<Socket, Promise<void>>();

  app.use((req, res, next) => {
    const socket = req.socket;
    const previous = tail.get(socket);
    const answered = new Promise<void>((resolve) => {
      res.once("finish", resolve);
      res.once("close", resolve);
    });
    tail.set(socket, answered);
    const handle = () => {
      if (res.writableEnded || res.destroyed) return;
      if (inFlight >= maxInFlight) {
        opts.onRejected?.();
        res.set("Retry-After", String(RETRY_AFTER_SECONDS));
        sendError(res, 503, `too many requests in flight (at most ${maxInFlight}); retry later`);
        return;
      }
      inFlight++;
      void answered.then(() => inFlight--);
      next();
    };
    if (previous) void previous.then(handle);
    else handle();
  });

  const onlyGet = (path: string, handler: (req: Request, res: Response) => Promise<void> | void) => {
    app.get(path, async (req, res, next) => {
      try {
        await handler(req, res);
      } catch (e) {
        next(e);
      }
    });
    // express answers HEAD through the GET route; everything else is a 405.
    app.all(path, (req, res) => {
      res.set("Allow", "GET, HEAD");
      sendError(res, 405, `method ${req.method} not allowed on ${path}`);
    });
  };

  onlyGet("/", (_req, res) => {
    res.type("html").send(indexPage);
  });

  onlyGet("/metrics", async (req, res) => {
    const timeoutMs = opts.scraper.timeoutMs(req.get("X-Prometheus-Scrape-Timeout-Seconds"));
    const rendered = await opts.scraper.scrape(timeoutMs);
    res.set("Content-Type", Registry.PROMETHEUS_CONTENT_TYPE);
    res.set("Vary", "Accept-Encoding");
    // Negotiated by express (the accepts and negotiator packages), not by hand: q-values, `*`, and a
    // coding refused by name under a `*` that allows everything else (`gzip;q=0, *`), which the
    // hand-written check this replaces read as gzip. No header means plain text (curl, a browser).
    if (req.acceptsEncodings("gzip", "identity") === "gzip") {
      res.set("Content-Encoding", "gzip");
      res.send(await rendered.gzip());
    } else res.send(rendered.text);
  });

  onlyGet("/health", async (_req, res) => {
    const last = opts.scraper.lastCollection();
    if (!last || Date.now() - last.finishedAt > maxAgeMs)
      await opts.scraper.collect(Date.now() + opts.healthTimeoutSeconds * 1000);
    const report = buildHealthReport(opts.collectors, {
      last: opts.scraper.lastCollection(),
      details: opts.healthDetails ?? false,
    });
    res.status(healthStatusCode(report)).json(report);
  });

  onlyGet("/-/healthy", (_req, res) => {
    res.type("text").send("Kali Agents exporter is Healthy.\n");
  });

  onlyGet("/-/ready", (_req, res) => {
    if (opts.scraper.lastCollection()) res.type("text").send("Kali Agents exporter is Ready.\n");
    else sendError(res, 503, "not ready: the first collection has not completed");
  });

  app.use((req, res) => sendError(res, 404, `no such path: ${req.path} (try ${endpoints.join(", ")})`));

  // express calls an error handler by its arity: the unused `_next` must stay.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    // Errors of express and its parsers carry their HTTP status (e.g. 400 for a malformed URI).
    const given = (err as { status?: unknown } | undefined)?.status;
    const status = typeof given === "number" && given >= 400 && given < 600 ? given : 500;
    const message = err instanceof Error ? err.message : String(err);
    if (status >= 500) opts.log.error("request failed", { method: req.method, path: req.path, error: err });
    if (res.headersSent) return res.end();
    sendError(res, status, status >= 500 ? `internal error: ${message}` : message);
  });
  return app;
}

function sendError(res: Response, status: number, message: string): void {
  res.status(status).json({ error: message, status });
}
