// Probes of the Kali Agents API and MCP servers, blackbox-exporter style: an HTTP GET (success: a 2xx
// answer, after at most 10 redirects; https is verified) or, for a tcp:// target, a TCP connect, each
// with a timeout, all in parallel. A failed probe is a measurement (success 0), not a collector
// failure: the collector fails only when it cannot run.
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { connect } from "node:net";
import { Registry } from "prom-client";
import { probeMetrics } from "../../../definitions/metrics/probes.ts";
import { probeKinds } from "../../../definitions/selectors.ts";
import { probeMaxRedirects, thresholds } from "../../../definitions/thresholds.ts";
import type { Logger } from "../../../lib/log.ts";
import { createMetrics } from "../metrics.ts";
import type { CollectContext, Collector, CollectorModule, HealthCheck, HealthCheckName } from "./types.ts";

export type ProbeKind = (typeof probeKinds)[keyof typeof probeKinds];

export interface ProbeTargetOption {
  /** http(s)://... or tcp://host:port (may embed credentials: they are never shown). */
  readonly url: string;
  /** The `target` label; default: the URL without credentials, query and fragment. */
  readonly name?: string;
  readonly kind: ProbeKind;
}

export interface ProbesOptions {
  readonly targets: readonly ProbeTargetOption[];
  readonly timeoutMs: number;
  /** /health: the api check is a warning when the API answers slower than this. */
  readonly apiSlowMs?: number;
}

export interface ProbeResult {
  readonly target: string;
  readonly kind: ProbeKind;
  readonly success: boolean;
  readonly seconds: number;
  /** 0 for TCP probes and for failures before an HTTP answer. */
  readonly httpStatus: number;
  readonly error?: string;
}

/** A URL as a label: no credentials, query or fragment (they may hold tokens). */
export function targetLabel(url: string): string {
  try {
    const u = new URL(url);
    // new URL() gives a bare origin the path "/": keep the URL as written there.
    const writtenPath = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*\//i.test(url);
    const path = u.pathname === "/" && !writtenPath ? "" : u.pathname;
    return `${u.protocol}//${u.host}${path}`;
  } catch {
    return "(invalid URL)";
  }
}

// Keeps the last second of the collector's budget for writing the results.
const WRITE_MARGIN_MS = 50;

/**
 * One GET over a connection of its own (as blackbox_exporter probes: a server that no longer accepts
 * connections fails, a kept-alive one would hide that), through node:http. The answer's status is all
 * that is read; the body is not, and the connection is closed as soon as the headers are in. fetch()
 * (undici) did the same for 7 MB more RSS after 4,000 scrapes on Node.js 20, 13 MB more on Node.js 24
 * (docs/performance.md, "A fourth pass").
 */
function getStatus(u: URL, headers: Record<string, string>, signal: AbortSignal): Promise<IncomingStatus> {
  return new Promise<IncomingStatus>((resolve, reject) => {
    if (u.protocol !== "http:" && u.protocol !== "https:")
      return reject(new Error(`unsupported protocol ${u.protocol} (http, https or tcp)`));
    const request = u.protocol === "https:" ? httpsRequest : httpRequest;
    const req = request(u, { method: "GET", headers, agent: false, signal }, (res) => {
      resolve({ status: res.statusCode ?? 0, location: res.headers.location });
      res.destroy();
    });
    req.once("error", (e) => reject(signal.aborted ? (signal.reason as Error) : e));
    req.end();
  });
}

interface IncomingStatus {
  status: number;
  location?: string;
}

async function probeHttp(url: string, timeoutMs: number, signal: AbortSignal): Promise<number> {
  let u = new URL(url);
  const origin = u.origin;
  const headers: Record<string, string> = { "user-agent": "kali-agents-exporter", connection: "close" };
  // Credentials in the URL go out as a Basic authorization header, to the URL's own origin only.
  const user = decodeURIComponent(u.username);
  const pass = decodeURIComponent(u.password);
  const authorization =
    user || pass ? `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}` : undefined;
  const both = AbortSignal.any([AbortSignal.timeout(timeoutMs), signal]);
  for (let redirects = 0; ; redirects++) {
    u.username = "";
    u.password = "";
    const sent = authorization && u.origin === origin ? { ...headers, authorization } : headers;
    const { status, location } = await getStatus(u, sent, both);
    if (status < 300 || status >= 400 || status === 304 || !location) return status;
    // As a browser or blackbox_exporter would follow them, up to a limit.
    if (redirects === probeMaxRedirects) throw new Error(`more than ${probeMaxRedirects} redirects`);
    u = new URL(location, u);
  }
}

function probeTcp(url: string, timeoutMs: number, signal: AbortSignal): Promise<void> {
  const u = new URL(url);
  return new Promise<void>((resolve, reject) => {
    const socket = connect({ host: u.hostname.replace(/^\[|\]$/g, ""), port: Number(u.port) });
    const finish = (err?: Error) => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      socket.destroy();
      if (err) reject(err);
      else resolve();
    };
    const onAbort = () => finish(new Error("aborted at the collector's deadline"));
    const timer = setTimeout(() => finish(new Error(`no connection within ${timeoutMs} ms`)), timeoutMs);
    signal.addEventListener("abort", onAbort, { once: true });
    socket.once("connect", () => finish());
    socket.once("error", (e) => finish(e));
  });
}

export async function probe(
  t: ProbeTargetOption,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<ProbeResult> {
  const target = t.name ?? targetLabel(t.url);
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  try {
    if (new URL(t.url).protocol === "tcp:") {
      await probeTcp(t.url, timeoutMs, signal);
      return { target, kind: t.kind, success: true, seconds: seconds(), httpStatus: 0 };
    }
    const status = await probeHttp(t.url, timeoutMs, signal);
    const ok = status >= 200 && status < 300;
    return {
      target,
      kind: t.kind,
      success: ok,
      seconds: seconds(),
      httpStatus: status,
      ...(ok ? {} : { error: `HTTP ${status}` }),
    };
  } catch (e) {
    const err = e as Error;
    const reason =
      err.name === "TimeoutError"
        ? `no answer within ${timeoutMs} ms`
        : (err.cause as Error)?.message || err.message;
    return { target, kind: t.kind, success: false, seconds: seconds(), httpStatus: 0, error: reason };
  }
}

export interface ProbesCollector extends Collector {
  /** The results of the last completed collection, for /health. */
  lastResults(): readonly ProbeResult[];
}

const round = (x: number) => Math.round(x * 10) / 10;

const figures = (r: ProbeResult) => ({
  response_time_ms: round(r.seconds * 1000),
  ...(r.httpStatus ? { http_status: r.httpStatus } : {}),
  ...(r.error ? { error: r.error } : {}),
});

/**
 * The api and mcp_servers checks of /health. The API down makes the report unhealthy. MCP servers are
 * the scan tools: one of several down degrades the platform (the other tools still run), all of them
 * down is down.
 */
export function probeHealth(
  results: readonly ProbeResult[],
  apiSlowMs: number,
): Partial<Record<HealthCheckName, HealthCheck>> {
  const out: Partial<Record<HealthCheckName, HealthCheck>> = {};
  const api = results.find((r) => r.kind === probeKinds.api);
  if (api) {
    const slow = api.success && api.seconds * 1000 > apiSlowMs;
    out.api = {
      status: !api.success ? "down" : slow ? "warning" : "ok",
      target: api.target,
      ...figures(api),
    };
  }
  const mcp = results.filter((r) => r.kind === probeKinds.mcp);
  if (mcp.length > 0) {
    const up = mcp.filter((r) => r.success).length;
    out.mcp_servers = {
      status: up === mcp.length ? "ok" : up === 0 ? "down" : "warning",
      up,
      total: mcp.length,
      servers: Object.fromEntries(
        mcp.map((r) => [r.target, { status: r.success ? "up" : "down", ...figures(r) }]),
      ),
    };
  }
  return out;
}

function createProbesCollector(options: ProbesOptions, log: Logger): ProbesCollector {
  const registry = new Registry();
  const m = createMetrics(probeMetrics, registry);
  let last: readonly ProbeResult[] = [];
  const failing = new Set<string>();

  return {
    name: "probes",
    registry,
    lastResults: () => last,
    healthChecks: [
      ...(options.targets.some((t) => t.kind === probeKinds.api) ? (["api"] as const) : []),
      ...(options.targets.some((t) => t.kind === probeKinds.mcp) ? (["mcp_servers"] as const) : []),
    ],
    health: () => probeHealth(last, options.apiSlowMs ?? thresholds.api.latencyP95Seconds * 1000),
    async collect(ctx: CollectContext) {
      const budget = Math.max(1, Math.min(options.timeoutMs, ctx.deadline - Date.now() - WRITE_MARGIN_MS));
      const results = await Promise.all(options.targets.map((t) => probe(t, budget, ctx.signal)));
      if (ctx.signal.aborted) return;
      for (const r of results) {
        const key = `${r.kind}/${r.target}`;
        if (!r.success && !failing.has(key))
          log.warn("probe failed", { target: r.target, kind: r.kind, reason: r.error });
        if (r.success && failing.has(key))
          log.info("probe succeeds again", { target: r.target, kind: r.kind });
        if (r.success) failing.delete(key);
        else failing.add(key);
      }
      for (const metric of Object.values(m)) metric.reset();
      for (const r of results) {
        const labels = { target: r.target, kind: r.kind };
        m.kali_agents_probe_success.set(labels, r.success ? 1 : 0);
        m.kali_agents_probe_duration_seconds.set(labels, r.seconds);
        m.kali_agents_probe_http_status_code.set(labels, r.httpStatus);
      }
      last = results;
    },
  };
}

export const probesCollector: CollectorModule<ProbesOptions> = {
  name: "probes",
  metrics: probeMetrics,
  create: createProbesCollector,
};
