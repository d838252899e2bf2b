// Redis, with redis_exporter's metric names (INFO fields mapped as that project maps them), plus the
// length of each configured scan queue (a Redis list).
//
// One connection for the life of the process. A scrape never waits for Redis longer than the command
// timeout, and never queues: the offline queue is off, so while Redis is down a command fails at once
// instead of piling up in memory, and ioredis reconnects by itself in the background with a capped
// backoff. A hung Redis (SIGSTOP, a partition) keeps the TCP connection open and answers nothing: the
// command timeout fails the scrape, and the socket timeout drops the connection so that the commands
// that were sent do not wait forever and a fresh connection is tried.
import { Redis } from "ioredis";
import { Registry } from "prom-client";
import { redisMetrics } from "../../../definitions/metrics/redis.ts";
import type { Logger } from "../../../lib/log.ts";
import { createMetrics } from "../metrics.ts";
import { thresholds } from "../../../definitions/thresholds.ts";
import { raceAbort } from "./deadline.ts";
import type { Collector, CollectorModule, HealthCheck } from "./types.ts";

export interface RedisOptions {
  /** redis:// or rediss:// URL (a secret: never logged). */
  readonly url: string;
  readonly connectTimeoutMs: number;
  readonly commandTimeoutMs: number;
  /** Redis list keys holding queued scans. */
  readonly queueKeys: readonly string[];
  /** The longest wait between two reconnection attempts. */
  readonly reconnectMaxDelayMs?: number;
  /** /health: the redis check is a warning from this share of maxmemory in use (when it is set). */
  readonly memoryWarnRatio?: number;
}

const CONNECTION_NAME = "kali-agents-exporter";

/** `host:port/db`, for log lines: never the password. */
export function describeRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || "6379"}${u.pathname && u.pathname !== "/" ? u.pathname : "/0"}`;
  } catch {
    return "(unparsable Redis URL)";
  }
}

/**
 * Parses INFO's `field:value` lines (sections and comments skipped).
 *
 * Hand-written on purpose: ioredis exposes no INFO parser (it reads INFO only for its own ready check),
 * and the npm package for it, redis-info 3.1.0, gives the same fields and keyspace but loads lodash,
 * and parses slower than this function (docs/performance.md, "Libraries measured and not taken").
 */
export function parseInfo(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    if (line === "" || line.startsWith("#")) continue;
    const i = line.indexOf(":");
    if (i > 0) out.set(line.slice(0, i), line.slice(i + 1));
  }
  return out;
}

/** `db0:keys=3,expires=1,avg_ttl=0` -> { db: "db0", keys: 3, expires: 1 }. */
export function parseKeyspace(info: Map<string, string>): { db: string; keys: number; expires: number }[] {
  const out: { db: string; keys: number; expires: number }[] = [];
  for (const [field, value] of info) {
    if (!/^db\d+$/.test(field)) continue;
    const kv = new Map(value.split(",").map((p) => p.split("=") as [string, string]));
    out.push({ db: field, keys: Number(kv.get("keys") ?? 0), expires: Number(kv.get("expires") ?? 0) });
  }
  return out;
}

// INFO field -> metric, as redis_exporter names them.
const INFO_GAUGES = {
  uptime_in_seconds: "redis_uptime_in_seconds",
  connected_clients: "redis_connected_clients",
  blocked_clients: "redis_blocked_clients",
  used_memory: "redis_memory_used_bytes",
  maxmemory: "redis_memory_max_bytes",
} as const;
const INFO_COUNTERS = {
  keyspace_hits: "redis_keyspace_hits_total",
  keyspace_misses: "redis_keyspace_misses_total",
  evicted_keys: "redis_evicted_keys_total",
  expired_keys: "redis_expired_keys_total",
  total_commands_processed: "redis_commands_processed_total",
  total_connections_received: "redis_connections_received_total",
  rejected_connections: "redis_rejected_connections_total",
  total_net_input_bytes: "redis_net_input_bytes_total",
  total_net_output_bytes: "redis_net_output_bytes_total",
} as const;
// INFO fields the community dashboards query beyond the basics (definitions/compat.ts). A field the
// server does not report (master_last_io_seconds_ago on a primary) is left out.
const INFO_COMPAT_GAUGES = {
  used_memory_rss: "redis_memory_used_rss_bytes",
  mem_fragmentation_ratio: "redis_mem_fragmentation_ratio",
  connected_slaves: "redis_connected_slaves",
} as const;

/**
 * INFO commandstats: `cmdstat_get:calls=2,usec=15,...` -> { cmd: "get", calls: 2, seconds: 0.000015 }.
 * Redis 7 names subcommands `cmdstat_config|get`, published as cmd="config|get", as redis_exporter does.
 */
export function parseCommandstats(
  info: Map<string, string>,
): { cmd: string; calls: number; seconds: number }[] {
  const out: { cmd: string; calls: number; seconds: number }[] = [];
  for (const [field, value] of info) {
    if (!field.startsWith("cmdstat_")) continue;
    const kv = new Map(value.split(",").map((p) => p.split("=") as [string, string]));
    const calls = Number(kv.get("calls"));
    const usec = Number(kv.get("usec"));
    if (Number.isFinite(calls) && Number.isFinite(usec))
      out.push({ cmd: field.slice("cmdstat_".length), calls, seconds: usec / 1e6 });
  }
  return out;
}

const round = (x: number) => Math.round(x * 10) / 10;

/**
 * The databases redis_exporter lists in redis_db_keys (db0 to db<n-1>, empty ones as 0): `databases`
 * from CONFIG GET, 16 (Redis' default) when CONFIG is refused or renamed away, 1 in cluster mode.
 */
export function databaseCount(configReply: unknown, redisMode: string | undefined): number {
  if (redisMode === "cluster") return 1;
  if (Array.isArray(configReply)) {
    const i = configReply.findIndex((x) => String(x) === "databases");
    const n = i >= 0 ? Number(configReply[i + 1]) : NaN;
    if (Number.isInteger(n) && n > 0) return n;
  }
  return 16;
}

interface Snapshot {
  pingSeconds: number;
  info: Map<string, string>;
  databases: number;
  queues: { queue: string; length: number }[];
}

function createRedisCollector(options: RedisOptions, log: Logger): Collector {
  const registry = new Registry();
  const m = createMetrics(redisMetrics, registry);
  // redis_up 0 for an answer that stopped waiting for this collector (types.ts, pendingRegistry).
  const pendingRegistry = new Registry();
  createMetrics(
    redisMetrics.filter((d) => d.name === "redis_up"),
    pendingRegistry,
  ).redis_up?.set(0);
  const target = describeRedisUrl(options.url);
  const maxDelay = options.reconnectMaxDelayMs ?? 5000;
  let state: "unknown" | "up" | "down" = "unknown";
  let lastReason = "";
  let connecting: Promise<void> | undefined;
  const badQueues = new Set<string>();
  const warnRatio = options.memoryWarnRatio ?? thresholds.redis.memoryUsedRatio;
  let health: HealthCheck | undefined;

  const client = new Redis(options.url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    // A command that fails is not retried: the next scrape asks again.
    maxRetriesPerRequest: 0,
    connectTimeout: options.connectTimeoutMs,
    commandTimeout: options.commandTimeoutMs,
    // Destroys a socket that has commands outstanding and receives nothing for this long (a hung
    // server), so that ioredis reconnects instead of waiting on it forever.
    socketTimeout: Math.max(options.commandTimeoutMs * 2, 1000),
    connectionName: CONNECTION_NAME,
    // Backoff 100 ms, 200 ms, ... capped: Redis coming back is noticed within `maxDelay`.
    retryStrategy: (times) => Math.min(times * 100, maxDelay),
    // A failover to a replica answers READONLY; reconnecting finds the new primary.
    reconnectOnError: (err) => err.message.startsWith("READONLY"),
    enableAutoPipelining: false,
  });

  const down = (reason: string) => {
    if (state !== "down" || reason !== lastReason) log.error("Redis is unavailable", { target, reason });
    state = "down";
    lastReason = reason;
  };
  // ioredis emits 'error' on every failed (re)connection attempt; without a listener Node would print
  // each one. Only changes are logged: one line when Redis goes away, one when it is back.
  client.on("error", (err: Error) => down(explain(err)));

  const explain = (err: Error): string => {
    const msg = err.message;
    if (/WRONGPASS|NOAUTH|invalid password|invalid username-password/i.test(msg))
      return `authentication failed (${msg.split("\n")[0]}); check REDIS_URL or REDIS_URL_FILE`;
    if ((err as { code?: string }).code === "ECONNREFUSED") return "connection refused (is Redis running?)";
    if (/timed out|timeout/i.test(msg)) return `no answer in time, the server may be hung (${msg})`;
    return msg;
  };

  const ensureConnected = async () => {
    // lazyConnect: the first collection opens the connection; afterwards ioredis reconnects by itself
    // (status "reconnecting"), and a command fails at once until it is ready again.
    if (client.status === "wait") {
      connecting ??= client.connect().finally(() => (connecting = undefined));
      await connecting;
    } else if (client.status === "end") {
      // retryStrategy never gives up, so "end" only follows close(); reconnecting is correct then.
      await client.connect();
    }
  };

  const gather = async (): Promise<Snapshot> => {
    await ensureConnected();
    const t0 = performance.now();
    await client.ping();
    const pingSeconds = (performance.now() - t0) / 1000;
    // INFO's default sections leave commandstats out; redis_exporter reads them for redis_commands_*.
    // All in one pipeline: one round trip (INFO with two sections needs Redis 7). CONFIG GET may be
    // refused (ACL, rename-command): then the default number of databases is taken.
    const replies =
      (await client.pipeline().info().info("commandstats").config("GET", "databases").exec()) ?? [];
    const [config, ...infoReplies] = [replies[2], replies[0], replies[1]];
    for (const r of infoReplies) if (!r || r[0]) throw r?.[0] ?? new Error("INFO returned nothing");
    const info = parseInfo(infoReplies.map((r) => String(r![1])).join("\r\n"));
    const databases = databaseCount(config && !config[0] ? config[1] : undefined, info.get("redis_mode"));
    const queues: Snapshot["queues"] = [];
    for (const key of options.queueKeys) {
      try {
        queues.push({ queue: key, length: await client.llen(key) });
        badQueues.delete(key);
      } catch (e) {
        const msg = (e as Error).message;
        // A key of another type is the application's mistake, not Redis being down: its series is left
        // out, one warning is logged, and the rest of the collection stands.
        if (!msg.startsWith("WRONGTYPE")) throw e;
        if (!badQueues.has(key))
          log.warn("a configured scan queue key is not a Redis list (SCAN_QUEUE_KEYS)", { key, error: msg });
        badQueues.add(key);
      }
    }
    return { pingSeconds, info, databases, queues };
  };

  const write = (s: Snapshot) => {
    for (const metric of Object.values(m)) metric.reset();
    const info = s.info;
    const n = (field: string) => {
      const v = Number(info.get(field));
      return Number.isFinite(v) ? v : undefined;
    };
    m.redis_up.set(1);
    m.redis_exporter_ping_duration_seconds.set(s.pingSeconds);
    m.redis_instance_info.set(
      {
        master_replid: info.get("master_replid") ?? "",
        maxmemory_policy: info.get("maxmemory_policy") ?? "",
        os: info.get("os") ?? "",
        process_id: info.get("process_id") ?? "",
        redis_build_id: info.get("redis_build_id") ?? "",
        redis_mode: info.get("redis_mode") ?? "",
        redis_version: info.get("redis_version") ?? "",
        role: info.get("role") ?? "",
        run_id: info.get("run_id") ?? "",
        tcp_port: info.get("tcp_port") ?? "",
      },
      1,
    );
    for (const [field, name] of Object.entries(INFO_GAUGES)) {
      const v = n(field);
      if (v !== undefined) m[name].set(v);
    }
    for (const [field, name] of Object.entries(INFO_COUNTERS)) {
      const v = n(field);
      if (v !== undefined) m[name].set(v);
    }
    for (const [field, name] of Object.entries(INFO_COMPAT_GAUGES)) {
      const v = n(field);
      // prom-client would show an unlabelled gauge as 0 after the reset: a field Redis does not report
      // is removed, not a false 0.
      if (v !== undefined) m[name].set(v);
      else m[name].remove({});
    }
    // A replica's, labelled with its primary as redis_exporter labels it.
    const lastIo = n("master_last_io_seconds_ago");
    if (lastIo !== undefined)
      m.redis_master_last_io_seconds_ago.set(
        { master_host: info.get("master_host") ?? "", master_port: info.get("master_port") ?? "" },
        lastIo,
      );
    // The older name community dashboards query (definitions/metrics/redis.ts): the same field.
    const fragmentation = n("mem_fragmentation_ratio");
    if (fragmentation !== undefined) m.redis_memory_fragmentation_ratio.set(fragmentation);
    else m.redis_memory_fragmentation_ratio.remove({});
    for (const c of parseCommandstats(info)) {
      m.redis_commands_total.set({ cmd: c.cmd }, c.calls);
      m.redis_commands_duration_seconds_total.set({ cmd: c.cmd }, c.seconds);
    }
    // INFO leaves empty databases out; as redis_exporter, every database the server has is published,
    // an empty one as 0, so "no keys" is a 0, not an absence.
    const keyspace = parseKeyspace(info);
    for (let i = 0; i < s.databases; i++)
      if (!keyspace.some((k) => k.db === `db${i}`)) keyspace.push({ db: `db${i}`, keys: 0, expires: 0 });
    for (const k of keyspace) {
      m.redis_db_keys.set({ db: k.db }, k.keys);
      m.redis_db_keys_expiring.set({ db: k.db }, k.expires);
    }
    for (const q of s.queues) m.kali_agents_scan_queue_length.set({ queue: q.queue }, q.length);

    const used = n("used_memory") ?? 0;
    const max = n("maxmemory") ?? 0;
    health = {
      status: max > 0 && used / max >= warnRatio ? "warning" : "ok",
      response_time_ms: round(s.pingSeconds * 1000),
      connected_clients: n("connected_clients") ?? null,
      used_memory_mb: round(used / 1024 ** 2),
      // Without maxmemory Redis may use all the host's memory: there is no percentage to give.
      memory_used_percent: max > 0 ? round((100 * used) / max) : null,
    };
  };

  return {
    name: "redis",
    registry,
    pendingRegistry,
    healthChecks: ["redis"],
    async collect(ctx) {
      let snapshot: Snapshot;
      try {
        snapshot = await raceAbort(gather(), ctx.signal, "gathering INFO and queue lengths");
      } catch (e) {
        const err = e instanceof Error ? e : new Error(String(e));
        // While (re)connecting, a command fails with a generic "Connection is closed" or "Stream isn't
        // writeable": the cause is in the last 'error' event (refused, wrong password, ...).
        const generic = /Connection is closed|Stream isn't writeable|enableOfflineQueue/i.test(err.message);
        const reason = generic && lastReason ? lastReason : explain(err);
        down(reason);
        health = { status: "down", error: reason };
        throw new Error(`Redis at ${target}: ${reason}`);
      }
      if (state === "down") log.info("Redis answers again", { target });
      state = "up";
      lastReason = "";
      if (ctx.signal.aborted) return;
      write(snapshot);
    },
    markFailed() {
      for (const metric of Object.values(m)) metric.reset();
      for (const name of Object.values(INFO_COMPAT_GAUGES)) m[name].remove({});
      m.redis_memory_fragmentation_ratio.remove({});
      m.redis_up.set(0);
      if (health?.status !== "down")
        health = { status: "down", error: "the collection overran its deadline (Redis may be hung)" };
    },
    health() {
      return health ? { redis: health } : {};
    },
    async close() {
      client.disconnect();
    },
  };
}

export const redisCollector: CollectorModule<RedisOptions> = {
  name: "redis",
  metrics: redisMetrics,
  create: createRedisCollector,
};
