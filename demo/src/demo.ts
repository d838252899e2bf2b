// Builds and runs the demo workload from a validated configuration, without touching signals or
// process.exit (main.ts does), so tests start and stop it in-process.
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Redis } from "ioredis";
import pg from "pg";
import { loggers } from "../../definitions/logs.ts";
import { createApi } from "./api.ts";
import { createChaos, type Chaos } from "./chaos.ts";
import { redactUrl } from "../../lib/redact.ts";
import type { DemoConfig } from "./config.ts";
import { createStreamLogger, processLog, type StreamLogger } from "./logs.ts";
import { createMcpServer, mcpNames } from "./mcp.ts";
import { applySchema, createScanRunner, type ScanRunner } from "./scans.ts";
import { startTraffic, type Traffic } from "./traffic.ts";

export interface Demo {
  readonly apiUrl: string;
  readonly mcpUrls: readonly string[];
  readonly chaos: Chaos;
  readonly scans: ScanRunner;
  readonly logs: StreamLogger;
  stop(): Promise<void>;
}

const listen = (server: Server, port: number, host: string) =>
  new Promise<number>((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) =>
      reject(new Error(`cannot listen on ${host}:${port}: ${e.code ?? e.message}`)),
    );
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });

const close = (server: Server) =>
  new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });

/** Retries `what` until it succeeds or the start-up deadline passes (compose may start us first). */
async function retry<T>(what: string, deadline: number, f: () => Promise<T>): Promise<T> {
  let delay = 250;
  for (;;) {
    try {
      return await f();
    } catch (e) {
      if (Date.now() + delay > deadline) throw new Error(`${what}: ${(e as Error).message}`);
      processLog("warn", `waiting for ${what}`, { error: (e as Error).message });
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 5000);
    }
  }
}

export async function startDemo(config: DemoConfig): Promise<Demo> {
  const deadline = Date.now() + config.startupTimeoutSeconds * 1000;
  const logs = createStreamLogger({
    dir: config.logDir,
    maxBytes: config.logMaxBytes,
    maxFiles: config.logMaxFiles,
    level: config.logLevel,
  });

  const pool = new pg.Pool({
    connectionString: config.databaseUrl,
    max: 4,
    connectionTimeoutMillis: 3000,
    statement_timeout: 5000,
    application_name: "kali-agents-demo",
  });
  // An idle client whose server went away emits here; without a listener it would crash the process.
  pool.on("error", (e) => logs.app("error", "PostgreSQL connection lost", loggers.db, { error: e.message }));

  const redis = new Redis(config.redisUrl, {
    lazyConnect: true,
    // Fail fast while Redis is down instead of queueing commands: the API answers 5xx, as the
    // application would, and the exporter's redis_up tells why.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 2000,
    connectTimeout: 2000,
    retryStrategy: (times) => Math.min(times * 200, 2000),
  });
  let redisDownLogged = false;
  redis.on("error", (e) => {
    if (redisDownLogged) return;
    redisDownLogged = true;
    logs.app("error", "Redis connection lost", loggers.cache, { error: e.message });
  });
  redis.on("ready", () => (redisDownLogged = false));

  try {
    await retry(`PostgreSQL at ${redactUrl(config.databaseUrl)}`, deadline, () => pool.query("SELECT 1"));
    await applySchema(pool, config.scansSqlFile, config.scansTable);
    await retry(`Redis at ${redactUrl(config.redisUrl)}`, deadline, async () => {
      if (redis.status === "wait" || redis.status === "end") await redis.connect();
      await redis.ping();
    });
  } catch (e) {
    await pool.end().catch(() => {});
    redis.disconnect();
    throw e;
  }

  const chaos = createChaos(config.chaosMode, config.chaosDurationSeconds);
  chaos.onChange((s) => processLog("warn", "chaos mode", { mode: s.mode, until: s.until }));

  const scans = createScanRunner({
    pool,
    redis,
    table: config.scansTable,
    queueKeys: config.queueKeys,
    intervalSeconds: config.scanIntervalSeconds,
    timeScale: config.scanTimeScale,
    maxRunning: config.maxRunningScans,
    failureRate: config.failureRate,
    cancelRate: config.cancelRate,
    chaos,
    logs,
  });

  const api = createApi({
    pool,
    redis,
    table: config.scansTable,
    cacheKeyPrefix: config.cacheKeyPrefix,
    scans,
    chaos,
    logs,
  });
  const servers: Server[] = [];
  let traffic: Traffic | undefined;
  const stop = async () => {
    await traffic?.stop();
    await scans.stop();
    await Promise.all(servers.map(close));
    chaos.close();
    await pool.end().catch(() => {});
    redis.disconnect();
  };

  try {
    const host = config.listenHost;
    const apiPort = await listen(api.server, config.apiPort, host);
    servers.push(api.server);
    const mcpUrls: string[] = [];
    for (const [i, port] of config.mcpPorts.entries()) {
      const server = createMcpServer(mcpNames[i] ?? `mcp-${i + 1}`, chaos);
      const p = await listen(server, port, host);
      servers.push(server);
      mcpUrls.push(`http://127.0.0.1:${p}`);
    }
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    await scans.start();
    traffic = startTraffic(apiUrl, config.trafficRps, chaos);
    logs.app("info", "demo workload started", loggers.demo, { api: apiUrl, mcp: mcpUrls });
    return { apiUrl, mcpUrls, chaos, scans, logs, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
