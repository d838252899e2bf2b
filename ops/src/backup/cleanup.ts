// `cleanup`: the seed's cleanup script done without its hazards.
// - Scans finished more than SCANS_RETENTION_DAYS ago are deleted in batches of OPS_CLEANUP_BATCH_SIZE,
//   each its own short statement (row locks on one batch at a time, no long transaction holding back
//   vacuum), until none is left or the time budget is spent; the rest waits for the next run.
// - Rotated log files (`*.log.<suffix>`) in OPS_LOG_DIR older than OPS_LOG_RETENTION_DAYS are deleted;
//   a live `*.log` never.
// - Redis: only keys under REDIS_CACHE_PREFIX, walked with SCAN and removed with UNLINK (freed in the
//   background), and only those without a TTL or idle longer than OPS_REDIS_CACHE_MAX_IDLE_SECONDS. The
//   seed's FLUSHDB would also have emptied the scan queues and every other key of the database.
import { promises as fs } from "node:fs";
import { join } from "node:path";
import { Redis } from "ioredis";
import type { Config } from "../config.ts";
import type { Logger } from "../../../lib/log.ts";
import { quoteIdent } from "../../../lib/sql.ts";
import { withClient } from "../pg.ts";

/** What cleanup reads of the configuration besides DATABASE_URL. */
export const cleanupKeys = [
  "scansTable",
  "scansRetentionDays",
  "cleanupBatchSize",
  "cleanupTimeBudgetSeconds",
  "logDir",
  "logRetentionDays",
  "redisUrl",
  "redisCachePrefix",
  "scanQueueKeys",
  "redisCacheMaxIdleSeconds",
] as const satisfies readonly (keyof Config)[];
/** Cleanup's settings, resolved once at the door (jobs.ts). */
export interface CleanupSettings extends Pick<Config, (typeof cleanupKeys)[number]> {
  /** The application database (DATABASE_URL, checked at the door to be set). */
  readonly databaseUrl: string;
}

interface CleanupOutcome {
  readonly scansDeleted: number;
  readonly batches: number;
  /** True when the time budget ended the run with old rows left. */
  readonly budgetExhausted: boolean;
  readonly logFilesDeleted: number;
  readonly cacheKeysDeleted: number;
}

async function deleteOldScans(
  config: CleanupSettings,
  log: Logger,
): Promise<{ deleted: number; batches: number; budgetExhausted: boolean }> {
  const url = config.databaseUrl;
  const { schema, table } = config.scansTable;
  const t = `${quoteIdent(schema)}.${quoteIdent(table)}`;
  const deadline = performance.now() + config.cleanupTimeBudgetSeconds * 1000;
  return withClient(url, async (c) => {
    // Short waits: a batch that cannot get its locks quickly fails the run rather than queue behind
    // (and in front of) the application's writes.
    await c.query("SET lock_timeout = '5s'");
    await c.query("SET statement_timeout = '120s'");
    // One cutoff for the whole run, so the run ends even while scans keep finishing.
    const cutoff = (
      await c.query<{ t: Date }>("SELECT now() - make_interval(days => $1) AS t", [config.scansRetentionDays])
    ).rows[0]!.t;
    let deleted = 0;
    let batches = 0;
    for (;;) {
      // ctid = ANY(ARRAY(...)) is a TID scan: the batch is found through the finished_at index and
      // deleted by row address, whatever the primary key's type.
      const r = await c.query(
        `DELETE FROM ${t} WHERE ctid = ANY(ARRAY(
           SELECT ctid FROM ${t} WHERE finished_at < $1 ORDER BY finished_at LIMIT $2 FOR UPDATE SKIP LOCKED))`,
        [cutoff, config.cleanupBatchSize],
      );
      const n = r.rowCount ?? 0;
      if (n === 0) break;
      deleted += n;
      batches++;
      log.debug("cleanup batch", { table: `${schema}.${table}`, rows: n });
      if (n < config.cleanupBatchSize) break;
      // Checked after a batch, so even a tiny budget makes progress every run.
      if (performance.now() >= deadline) {
        log.warn("cleanup time budget spent; old scans remain for the next run", { deleted, batches });
        return { deleted, batches, budgetExhausted: true };
      }
    }
    return { deleted, batches, budgetExhausted: false };
  });
}

async function deleteOldLogFiles(config: CleanupSettings, log: Logger, now = Date.now()): Promise<number> {
  if (!config.logDir) return 0;
  const cutoff = now - config.logRetentionDays * 24 * 3600 * 1000;
  let deleted = 0;
  const walk = async (dir: string, depth: number): Promise<void> => {
    for (const e of await fs.readdir(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory() && depth < 2) await walk(path, depth + 1);
      // Rotated files only: app.log.1, app.log.2026-11-01, errors.log.3.gz; never the live app.log.
      if (!e.isFile() || !/\.log\.[^/]+$/.test(e.name)) continue;
      const st = await fs.stat(path);
      if (st.mtimeMs >= cutoff) continue;
      await fs.rm(path, { force: true });
      deleted++;
    }
  };
  await walk(config.logDir, 0);
  if (deleted > 0) log.info("rotated log files deleted", { dir: config.logDir, files: deleted });
  return deleted;
}

async function deleteStaleCacheKeys(config: CleanupSettings, log: Logger): Promise<number> {
  if (!config.redisUrl) return 0;
  const redis = new Redis(config.redisUrl, {
    lazyConnect: true,
    connectTimeout: 5000,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
  });
  redis.on("error", () => {});
  await redis.connect();
  const queues = new Set(config.scanQueueKeys);
  let deleted = 0;
  let idleKnown = true;
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${config.redisCachePrefix}*`, "COUNT", 500);
      cursor = next;
      const candidates = keys.filter((k) => !queues.has(k));
      if (candidates.length === 0) continue;
      const p = redis.pipeline();
      for (const k of candidates) {
        p.type(k);
        p.pttl(k);
        p.object("IDLETIME", k);
      }
      const replies = (await p.exec()) ?? [];
      const doomed: string[] = [];
      candidates.forEach((k, i) => {
        const [typeErr, type] = replies[i * 3] ?? [];
        const [, pttl] = replies[i * 3 + 1] ?? [];
        const [idleErr, idle] = replies[i * 3 + 2] ?? [];
        // A list is a queue, whatever its name: never a cache entry to drop.
        if (typeErr || type === "list" || type === "none") return;
        // OBJECT IDLETIME fails under an LFU maxmemory-policy: then only the TTL rule applies.
        if (idleErr) idleKnown = false;
        const noTtl = pttl === -1;
        const stale = !idleErr && typeof idle === "number" && idle >= config.redisCacheMaxIdleSeconds;
        if (noTtl || stale) doomed.push(k);
      });
      if (doomed.length > 0) deleted += await redis.unlink(...doomed);
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
  if (!idleKnown) log.warn("OBJECT IDLETIME unavailable (LFU policy?): only keys without a TTL were deleted");
  log.info("cache keys deleted", { prefix: config.redisCachePrefix, keys: deleted });
  return deleted;
}

export async function cleanup(settings: CleanupSettings, log: Logger): Promise<CleanupOutcome> {
  const scans = await deleteOldScans(settings, log);
  const logFilesDeleted = await deleteOldLogFiles(settings, log);
  const cacheKeysDeleted = await deleteStaleCacheKeys(settings, log);
  log.info("cleanup done", {
    scans_deleted: scans.deleted,
    batches: scans.batches,
    log_files: logFilesDeleted,
    cache_keys: cacheKeysDeleted,
  });
  return {
    scansDeleted: scans.deleted,
    batches: scans.batches,
    budgetExhausted: scans.budgetExhausted,
    logFilesDeleted,
    cacheKeysDeleted,
  };
}
