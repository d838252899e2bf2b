// The demo API: the application's HTTP contract (a health URL to probe, its own /metrics with
// http_requests_total{method,route,code} and http_request_duration_seconds{method,route}), a few scan
// routes backed by PostgreSQL, Redis and the cache, a login route that writes security events, and
// POST /chaos to misbehave on purpose.
//
// Routing and the JSON body are node:http and a few lines here rather than express (already the
// exporter's dependency): nine fixed route templates, each turned into one anchored pattern, and a body
// read with a 64 KiB cap. Importing express would cost the process memory and start time
// (docs/performance.md, "Libraries measured and not taken") for routing the demo does in one line; the
// route label contract (`unmatched` for unknown paths, 405 apart from 404) is ours either way.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Redis } from "ioredis";
import type pg from "pg";
import { Counter, Histogram, Registry } from "prom-client";
import { apiMetrics } from "../../definitions/metrics/api.ts";
import { ChaosRequestError, type Chaos } from "./chaos.ts";
import { logEvents, loggers } from "../../definitions/logs.ts";
import type { StreamLogger } from "./logs.ts";
import { quoteTable, toolNames, type ScanRunner } from "./scans.ts";

export interface ApiOptions {
  pool: pg.Pool;
  redis: Redis;
  table: string;
  cacheKeyPrefix: string;
  scans: ScanRunner;
  chaos: Chaos;
  logs: StreamLogger;
}

type Handler = (req: IncomingMessage, params: Record<string, string>, body: unknown) => Promise<Reply>;
interface Reply {
  status: number;
  body: unknown;
  contentType?: string;
}
interface Route {
  method: string;
  /** The route template: the `route` label, bounded whatever the URL. */
  template: string;
  pattern: RegExp;
  handler: Handler;
  /** Subject to the error-burst and slow chaos modes. */
  chaos: boolean;
}

const standardMethods = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const apiMetric = (name: string) => {
  const m = apiMetrics.find((d) => d.name === name);
  if (!m) throw new Error(`definitions/metrics/api.ts apiMetrics has no ${name}`);
  return m;
};
const requestsDef = apiMetric("http_requests_total");
const durationDef = apiMetric("http_request_duration_seconds");

export function createApiMetrics(registry: Registry) {
  return {
    requests: new Counter({
      name: requestsDef.name,
      help: requestsDef.help,
      labelNames: [...requestsDef.labels],
      registers: [registry],
    }),
    duration: new Histogram({
      name: durationDef.name,
      help: durationDef.help,
      labelNames: [...durationDef.labels],
      buckets: [...(durationDef.buckets ?? [])],
      registers: [registry],
    }),
  };
}

const clientIp = (req: IncomingMessage): string => {
  const forwarded = req.headers["x-forwarded-for"];
  const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(",")[0]?.trim();
  return first || req.socket.remoteAddress || "unknown";
};
const userOf = (req: IncomingMessage): string => {
  const u = req.headers["x-user"];
  return (Array.isArray(u) ? u[0] : u) || "anonymous";
};

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 64 * 1024) throw new HttpError(413, "request body over 64 KiB");
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new HttpError(400, "request body is not JSON");
  }
}

export function createApi(o: ApiOptions): { server: Server; registry: Registry } {
  const registry = new Registry();
  const metrics = createApiMetrics(registry);
  const t = quoteTable(o.table);
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  const routes: Route[] = [];
  const route = (method: string, template: string, handler: Handler, chaos = true) => {
    const pattern = new RegExp("^" + template.replace(/:(\w+)/g, "(?<$1>[^/]+)") + "$");
    routes.push({ method, template, pattern, handler, chaos });
  };

  route(
    "GET",
    "/health",
    async () => {
      const check = async (f: () => Promise<unknown>) => {
        const started = performance.now();
        try {
          await f();
          return { status: "ok", response_time_ms: Math.round((performance.now() - started) * 10) / 10 };
        } catch (e) {
          return { status: "down", error: (e as Error).message };
        }
      };
      const [database, redis] = await Promise.all([
        check(() => o.pool.query("SELECT 1")),
        check(() => o.redis.ping()),
      ]);
      const unhealthy = o.chaos.current().mode === "unhealthy";
      const degraded = database.status !== "ok" || redis.status !== "ok";
      // Degraded dependencies still answer 200: the Redis and PostgreSQL alerts page for those; 503 is
      // kept for the API itself being unfit to serve (here: the unhealthy chaos mode).
      return {
        status: unhealthy ? 503 : 200,
        body: {
          status: unhealthy ? "unhealthy" : degraded ? "degraded" : "healthy",
          timestamp: new Date().toISOString(),
          checks: { database, redis },
        },
      };
    },
    false,
  );

  route("GET", "/api/tools", async () => ({ status: 200, body: { tools: toolNames } }));

  route("GET", "/api/scans", async () => {
    const { rows } = await o.pool.query(
      `SELECT id::text AS id, tool, target, status, created_at, started_at, finished_at FROM ${t} ORDER BY created_at DESC LIMIT 20`,
    );
    return { status: 200, body: { scans: rows } };
  });

  route("GET", "/api/scans/:id", async (_req, p) => {
    const id = p.id ?? "";
    if (!/^\d+$/.test(id)) throw new HttpError(400, "scan id must be a number");
    const key = `${o.cacheKeyPrefix}scan:${id}`;
    const cached = await o.redis.get(key);
    if (cached !== null) return { status: 200, body: JSON.parse(cached) };
    const { rows } = await o.pool.query(
      `SELECT id::text AS id, tool, target, status, created_at, started_at, finished_at FROM ${t} WHERE id = $1`,
      [id],
    );
    if (rows.length === 0) throw new HttpError(404, `no scan ${id}`);
    await o.redis.set(key, JSON.stringify(rows[0]), "EX", 30);
    return { status: 200, body: rows[0] };
  });

  route("POST", "/api/scans", async (req, _p, body) => {
    const b = (body ?? {}) as { tool?: unknown; target?: unknown };
    if (typeof b.tool !== "string" || !toolNames.includes(b.tool)) {
      throw new HttpError(400, `tool: expected one of ${toolNames.join(", ")}`);
    }
    if (typeof b.target !== "string" || b.target.length === 0 || b.target.length > 255) {
      throw new HttpError(400, "target: expected a host name or address");
    }
    const created = await o.scans.create(b.tool, b.target, userOf(req));
    return { status: 201, body: { id: created.id, status: "queued" } };
  });

  route("DELETE", "/api/scans/:id", async (req, p) => {
    const user = userOf(req);
    const id = p.id ?? "";
    if (!user.startsWith("admin")) {
      o.logs.event(logEvents.accessDenied, "scan cancellation refused", {
        user,
        ip: clientIp(req),
        scan_id: id,
      });
      throw new HttpError(403, "only administrators cancel scans");
    }
    if (!/^\d+$/.test(id)) throw new HttpError(400, "scan id must be a number");
    const res = await o.pool.query(
      `UPDATE ${t} SET status = 'cancelled', finished_at = now() WHERE id = $1 AND status IN ('queued', 'running')`,
      [id],
    );
    if (res.rowCount === 0) throw new HttpError(404, `no active scan ${id}`);
    o.logs.event(logEvents.scanCancelled, "scan cancelled", { user, scan_id: id });
    return { status: 200, body: { id, status: "cancelled" } };
  });

  route("POST", "/api/auth/login", async (req, _p, body) => {
    const b = (body ?? {}) as { user?: unknown; password?: unknown };
    const user = typeof b.user === "string" && b.user ? b.user : "anonymous";
    const ip = clientIp(req);
    // The demo's only "credential check": a password of "wrong" fails. Nothing is stored.
    if (b.password === "wrong" || typeof b.password !== "string") {
      o.logs.event(logEvents.loginFailed, "login failed", { user, ip });
      return { status: 401, body: { error: "invalid credentials" } };
    }
    o.logs.event(logEvents.loginSucceeded, "login succeeded", { user, ip });
    return { status: 200, body: { user } };
  });

  route("GET", "/chaos", async () => ({ status: 200, body: o.chaos.current() }), false);
  route(
    "POST",
    "/chaos",
    async (req, _p, body) => {
      try {
        const s = o.chaos.set(body);
        o.logs.event(logEvents.settingChanged, "chaos mode changed", {
          user: userOf(req),
          setting: "chaos_mode",
          value: s.mode,
        });
        return { status: 200, body: s };
      } catch (e) {
        if (e instanceof ChaosRequestError) throw new HttpError(400, e.message);
        throw e;
      }
    },
    false,
  );

  const send = (res: ServerResponse, reply: Reply) => {
    const text = reply.contentType ? String(reply.body) : JSON.stringify(reply.body);
    res.writeHead(reply.status, { "content-type": reply.contentType ?? "application/json" });
    res.end(text);
  };

  const server = createServer((req, res) => {
    const started = performance.now();
    // Methods outside the standard set share one label value, like unknown paths.
    const method = standardMethods.has(req.method ?? "") ? (req.method as string) : "OTHER";
    const path = new URL(req.url ?? "/", "http://localhost").pathname;

    if (method === "GET" && path === "/metrics") {
      registry.metrics().then(
        (text) => send(res, { status: 200, body: text, contentType: registry.contentType }),
        (e: Error) => send(res, { status: 500, body: { error: e.message } }),
      );
      return;
    }

    let matched: Route | undefined;
    let params: Record<string, string> = {};
    let methodMismatch = false;
    for (const r of routes) {
      const m = r.pattern.exec(path);
      if (!m) continue;
      if (r.method !== method) {
        methodMismatch = true;
        continue;
      }
      matched = r;
      params = { ...m.groups };
      break;
    }
    // Unknown paths share one label value, so a scanner probing random URLs cannot grow the series.
    const template = matched?.template ?? "unmatched";

    const handle = async (): Promise<Reply> => {
      if (!matched) {
        return methodMismatch
          ? { status: 405, body: { error: `${method} not allowed on ${path}` } }
          : { status: 404, body: { error: `no route ${path}` } };
      }
      const chaos = o.chaos.current();
      if (matched.chaos && chaos.mode === "slow") await sleep(chaos.latencySeconds * 1000);
      const body = method === "POST" ? await readJson(req) : undefined;
      if (matched.chaos && chaos.mode === "error-burst" && Math.random() < chaos.errorRatio) {
        throw new Error("injected failure (chaos mode error-burst)");
      }
      return matched.handler(req, params, body);
    };

    handle()
      .catch((e: unknown): Reply => {
        if (e instanceof HttpError) return { status: e.status, body: { error: e.message } };
        o.logs.app("error", "request failed", loggers.api, {
          method,
          route: template,
          error: (e as Error).message,
        });
        return { status: 500, body: { error: "internal error" } };
      })
      .then((reply) => {
        send(res, reply);
        const seconds = (performance.now() - started) / 1000;
        metrics.requests.inc({ method, route: template, code: String(reply.status) });
        metrics.duration.observe({ method, route: template }, seconds);
      })
      // What throws past the handler's catch (a reply JSON cannot encode, a write after the client
      // left) must not become an unhandled rejection, which ends the process: it is logged, and the
      // client gets a 500 when nothing was sent yet.
      .catch((e: unknown) => {
        o.logs.app("error", "reply could not be sent", "kali_agents.api", {
          method,
          route: template,
          error: (e as Error).message,
        });
        if (!res.headersSent) send(res, { status: 500, body: { error: "internal error" } });
        else if (!res.writableEnded) res.destroy();
      });
  });
  // Slow-mode requests must not be cut by the default timeouts before they answer.
  server.requestTimeout = 120_000;
  return { server, registry };
}
