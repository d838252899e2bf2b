// Scans through their life cycle, as the application runs them: a scan is inserted `queued` and its id
// pushed onto a Redis list; a worker pops it, marks it `running` with started_at, and some (scaled)
// minutes later marks it `success`, `failed` or `cancelled` with finished_at. This is the contract the
// exporter's scans collector reads (docs/architecture.md, "Contracts with the application").
import { readFileSync } from "node:fs";
import type { Redis } from "ioredis";
import type pg from "pg";
import { quoteIdent } from "../../lib/sql.ts";
import type { Chaos } from "./chaos.ts";
import { logEvents, loggers } from "../../definitions/logs.ts";
import { scansDdl } from "../../definitions/scans-ddl.ts";
import type { StreamLogger } from "./logs.ts";

/** Tools and their realistic duration range in seconds (before DEMO_SCAN_TIME_SCALE). */
export const tools: Readonly<Record<string, readonly [number, number]>> = {
  nmap: [20, 180],
  nikto: [60, 600],
  sqlmap: [120, 1200],
  gobuster: [30, 300],
  whatweb: [5, 30],
  sslscan: [10, 60],
  wpscan: [60, 600],
  hydra: [60, 900],
};
export const toolNames = Object.keys(tools);

// Documentation addresses and names (RFC 5737, RFC 2606): the demo never sends traffic to them, they
// are strings in a table.
const targets = [
  "192.0.2.10",
  "192.0.2.24",
  "198.51.100.7",
  "203.0.113.50",
  "app.example.com",
  "intranet.example.org",
  "shop.example.net",
];
const users = ["alice", "bob", "carol", "dave", "erin"];

export const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)] as T;

/** `"schema"."table"` from `schema.table`. */
export const quoteTable = (name: string): string => name.split(".").map(quoteIdent).join(".");

/**
 * Applies the scans table's DDL: the contract's (definitions/scans-ddl.ts, the one copy of the schema),
 * or the file SCANS_SQL_FILE names. It names the table `scans`; another SCANS_TABLE is substituted in
 * its statements.
 */
export async function applySchema(pool: pg.Pool, sqlFile: string | undefined, table: string): Promise<void> {
  let sql = scansDdl;
  if (sqlFile !== undefined) {
    try {
      sql = readFileSync(sqlFile, "utf8");
    } catch (e) {
      throw new Error(`cannot read the scans DDL ${sqlFile} (SCANS_SQL_FILE): ${(e as Error).message}`);
    }
  }
  if (table !== "scans" && table !== "public.scans") {
    const schema = table.includes(".") ? table.split(".")[0] : undefined;
    if (schema) sql = `CREATE SCHEMA IF NOT EXISTS "${schema}";\n` + sql;
    sql = sql.replace(
      /\b(ON|TABLE(?: IF NOT EXISTS)?)\s+(?:"?public"?\.)?"?scans"?(?=[\s(;])/gi,
      `$1 ${quoteTable(table)}`,
    );
  }
  await pool.query(sql);
}

export interface ScanStats {
  created: number;
  started: number;
  finished: Record<"success" | "failed" | "cancelled", number>;
  /** Scans whose finish is held back by the stuck-scans mode. */
  held: number;
  /** Finishes being written (their UPDATE sent, not answered yet). */
  finishing: number;
  running: number;
}

export interface ScanRunnerOptions {
  pool: pg.Pool;
  redis: Redis;
  table: string;
  queueKeys: readonly string[];
  intervalSeconds: number;
  timeScale: number;
  maxRunning: number;
  failureRate: number;
  cancelRate: number;
  chaos: Chaos;
  logs: StreamLogger;
}

export interface ScanRunner {
  /** Inserts a queued scan and pushes it onto a queue; throws when PostgreSQL or Redis fails. */
  create(tool: string, target: string, user: string): Promise<{ id: string; queue: string }>;
  start(): Promise<void>;
  stop(): Promise<void>;
  stats(): ScanStats;
}

export function createScanRunner(o: ScanRunnerOptions): ScanRunner {
  const t = quoteTable(o.table);
  const stats: ScanStats = {
    created: 0,
    started: 0,
    finished: { success: 0, failed: 0, cancelled: 0 },
    held: 0,
    finishing: 0,
    running: 0,
  };
  const timers = new Set<NodeJS.Timeout>();
  /** Finishes waiting for the stuck-scans mode to end. */
  const held: (() => void)[] = [];
  let stopped = true;
  let polling = false;

  const later = (ms: number, fn: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
  };
  const logError = (msg: string, e: unknown, fields: Record<string, unknown> = {}) =>
    o.logs.app("error", msg, loggers.scans, { error: (e as Error).message, ...fields });

  async function create(tool: string, target: string, user: string) {
    const queue = pick(o.queueKeys);
    const { rows } = await o.pool.query<{ id: string }>(
      `INSERT INTO ${t} (tool, target, status, created_at) VALUES ($1, $2, 'queued', now()) RETURNING id::text AS id`,
      [tool, target],
    );
    const id = rows[0]!.id;
    try {
      await o.redis.lpush(queue, id);
    } catch (e) {
      // A scan that cannot be queued has failed, as the application would record it.
      await o.pool
        .query(`UPDATE ${t} SET status = 'failed', finished_at = now() WHERE id = $1`, [id])
        .catch(() => {});
      stats.finished.failed++;
      throw e;
    }
    stats.created++;
    o.logs.app("info", "scan queued", loggers.scans, { scan_id: id, tool, queue });
    o.logs.event(logEvents.scanCreated, "scan created", { user, scan_id: id, tool, target });
    return { id, queue };
  }

  /** Finishes a scan, or holds it while the stuck-scans mode lasts: nothing finishes while stuck. */
  function settle(id: string, tool: string, startedAt: number) {
    if (o.chaos.current().mode === "stuck-scans") {
      stats.held++;
      held.push(() => void finish(id, tool, startedAt));
    } else void finish(id, tool, startedAt);
  }

  async function finish(id: string, tool: string, startedAt: number) {
    stats.finishing++;
    try {
      await record(id, tool, startedAt);
    } finally {
      stats.finishing--;
    }
  }

  async function record(id: string, tool: string, startedAt: number) {
    const r = Math.random();
    const status = r < o.failureRate ? "failed" : r < o.failureRate + o.cancelRate ? "cancelled" : "success";
    try {
      const res = await o.pool.query(
        `UPDATE ${t} SET status = $2, finished_at = now() WHERE id = $1 AND status = 'running'`,
        [id, status],
      );
      if (res.rowCount === 1) {
        stats.finished[status]++;
        const seconds = (Date.now() - startedAt) / 1000;
        if (status === "failed") {
          o.logs.app("error", "scan failed", loggers.scans, { scan_id: id, tool, seconds });
        } else {
          o.logs.app("info", `scan ${status}`, loggers.scans, { scan_id: id, tool, seconds });
        }
      }
    } catch (e) {
      logError("cannot record the end of a scan", e, { scan_id: id });
      // Try again later: a scan must not stay `running` because PostgreSQL blinked.
      if (!stopped) later(1000, () => settle(id, tool, startedAt));
      return;
    }
    stats.running--;
  }

  async function startOne(): Promise<boolean> {
    const queue = pick(o.queueKeys);
    const id = await o.redis.rpop(queue);
    if (id === null) return false;
    const { rows } = await o.pool.query<{ tool: string }>(
      `UPDATE ${t} SET status = 'running', started_at = now() WHERE id = $1 AND status = 'queued' RETURNING tool`,
      [id],
    );
    const tool = rows[0]?.tool;
    if (tool === undefined) return true; // cancelled or finished meanwhile: nothing to run
    stats.started++;
    stats.running++;
    o.logs.app("info", "scan started", loggers.scans, { scan_id: id, tool, queue });
    const [min, max] = tools[tool] ?? [30, 300];
    const startedAt = Date.now();
    const ms = (min + Math.random() * (max - min)) * 1000 * o.timeScale;
    later(ms, () => settle(id, tool, startedAt));
    return true;
  }

  async function poll() {
    if (stopped || polling) return;
    polling = true;
    try {
      while (!stopped && stats.running < o.maxRunning && o.chaos.current().mode !== "stuck-scans") {
        if (!(await startOne())) break;
      }
    } catch (e) {
      logError("cannot take a scan from the queue", e);
    } finally {
      polling = false;
    }
  }

  function scheduleNext() {
    if (stopped) return;
    // Exponential gaps: independent users starting scans.
    const ms = -Math.log(1 - Math.random()) * o.intervalSeconds * 1000;
    later(ms, () => {
      create(pick(toolNames), pick(targets), pick(users)).catch((e) => logError("cannot queue a scan", e));
      scheduleNext();
    });
  }

  o.chaos.onChange((s) => {
    if (s.mode === "stuck-scans") return;
    const release = held.splice(0);
    stats.held = 0;
    for (const f of release) f();
  });

  let pollTimer: NodeJS.Timeout | undefined;
  return {
    create,
    async start() {
      stopped = false;
      // Scans a previous run of the demo left running were interrupted: record them as failed, as the
      // application does after a crash. Queued scans whose id is no longer in a queue (Redis lost
      // its data) are pushed again, so none stays queued forever.
      await o.pool.query(`UPDATE ${t} SET status = 'failed', finished_at = now() WHERE status = 'running'`);
      const { rows } = await o.pool.query<{ id: string }>(
        `SELECT id::text AS id FROM ${t} WHERE status = 'queued' ORDER BY created_at`,
      );
      const inQueues = new Set<string>();
      for (const k of o.queueKeys) for (const id of await o.redis.lrange(k, 0, -1)) inQueues.add(id);
      for (const r of rows) if (!inQueues.has(r.id)) await o.redis.lpush(pick(o.queueKeys), r.id);
      pollTimer = setInterval(() => void poll(), Math.max(50, Math.min(1000, 200 * o.timeScale * 10)));
      scheduleNext();
    },
    async stop() {
      stopped = true;
      clearInterval(pollTimer);
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      while (polling) await new Promise((r) => setTimeout(r, 10));
    },
    stats: () => ({ ...stats, finished: { ...stats.finished } }),
  };
}
