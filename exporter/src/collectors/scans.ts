// Scans, read from the application's scans table (contract: docs/database.md, DDL: exporter/sql/scans.sql).
//
// A scrape must cost the same with ten thousand rows or ten million, so nothing here scans the table:
// - active scans come from the partial index on the active statuses (queued, running);
// - finished scans are counted incrementally from a watermark on finished_at (the finished_at index),
//   in memory, so deleting old rows never lowers a counter;
// - the last finished_at is one index probe, and the rows past retention an index range count capped
//   at `retentionCountCap`.
//
// Late commits: a transaction may set finished_at = now() and commit seconds later, after a later
// finish was already seen and the watermark moved past it. Each scrape therefore re-reads an overlap
// window before the watermark (`overlapSeconds`) and skips the ids it has already counted; the ids of
// that window are the only state kept. A row that commits later than the overlap is not counted: make
// the window longer than the longest transaction that finishes a scan.
//
// At start the counters begin from the current totals, by one grouped count, in the same snapshot as
// the watermark and the ids of the window (so nothing is counted twice or missed). That count is the
// only full pass over the table; it runs once, with its own timeout, and a scrape that reaches its
// deadline before it ends fails while the count goes on for the next scrape.
import type { Registry as RegistryType } from "prom-client";
import { Registry } from "prom-client";
import { scanMetrics } from "../../../definitions/metrics.ts";
import type { Logger } from "../../../lib/log.ts";
import { quoteIdent } from "../../../lib/sql.ts";
import { createMetrics } from "../metrics.ts";
import {
  acquireDatabase,
  num,
  PostgresDatabase,
  type PostgresConnectionOptions,
  type Query,
} from "./postgres.ts";
import { raceAbort } from "./deadline.ts";
import type { CollectContext, Collector, CollectorModule } from "./types.ts";

export const ACTIVE_STATUSES = ["queued", "running"] as const;
export const FINAL_STATUSES = ["success", "failed", "cancelled"] as const;

export interface ScansOptions {
  /**
   * A pool to use, or the connection options of the pool shared with the postgres collector
   * (acquireDatabase in postgres.ts).
   */
  readonly database: PostgresDatabase | PostgresConnectionOptions;
  readonly table: { readonly schema: string; readonly table: string };
  readonly retentionDays: number;
  /** How far before the watermark each scrape looks again for late commits. */
  readonly overlapSeconds?: number;
  /** Rows read per query when catching up (a burst, or the first scrape after a long outage). */
  readonly batchSize?: number;
  /** Pages read per scrape at most; the rest is read on the next scrapes. */
  readonly maxPagesPerScrape?: number;
  /** kali_agents_scan_rows_past_retention counts up to this many rows, so the query stays cheap. */
  readonly retentionCountCap?: number;
  /** Timeout of the one grouped count at start. */
  readonly initTimeoutMs?: number;
}

export const scanDefaults = {
  overlapSeconds: 300,
  batchSize: 5000,
  maxPagesPerScrape: 10,
  retentionCountCap: 10_000,
  initTimeoutMs: 120_000,
} as const;

const inList = (values: readonly string[]) => values.map((v) => `'${v}'`).join(", ");

// The status lists are written as literals, not parameters: only then can the planner prove that the
// query's condition implies the partial index's predicate and use the index.
/** The statements of the scans collector for a quoted table name (exported for the benchmark's EXPLAIN). */
export function statements(table: string) {
  const active = inList(ACTIVE_STATUSES);
  const final = inList(FINAL_STATUSES);
  return {
    watermark: `SELECT max(finished_at)::text AS w, extract(epoch FROM max(finished_at)) * 1000 AS wms
      FROM ${table} WHERE finished_at IS NOT NULL`,
    totals: `SELECT tool, status, count(*) AS n FROM ${table}
      WHERE status IN (${final}) AND finished_at <= $1::timestamptz GROUP BY tool, status`,
    windowIds: `SELECT id::text AS id, extract(epoch FROM finished_at) * 1000 AS f FROM ${table}
      WHERE status IN (${final}) AND finished_at <= $1::timestamptz
        AND finished_at > $1::timestamptz - make_interval(secs => $2)`,
    // finished_at::text keeps PostgreSQL's microseconds, which a JavaScript Date would round away: the
    // watermark goes back into the next query exactly as it came out.
    newlyFinished: (op: ">" | ">=") => `SELECT id::text AS id, tool, status, finished_at::text AS ft,
        extract(epoch FROM finished_at) * 1000 AS f,
        extract(epoch FROM finished_at - started_at) AS d
      FROM ${table}
      WHERE finished_at ${op} $1::timestamptz - make_interval(secs => $2) AND status IN (${final})
      ORDER BY finished_at LIMIT $3`,
    active: `SELECT tool, status, count(*) AS n,
        extract(epoch FROM now() - min(started_at)) AS oldest
      FROM ${table} WHERE status IN (${active}) GROUP BY tool, status`,
    scalars: `SELECT
        (SELECT extract(epoch FROM max(finished_at)) FROM ${table} WHERE finished_at IS NOT NULL) AS last_finished,
        (SELECT count(*) FROM (SELECT 1 FROM ${table}
           WHERE finished_at < now() - make_interval(days => $1) LIMIT $2) old) AS past_retention`,
  };
}

type Counts = Map<string, Map<string, number>>;

interface Progress {
  /** finished_at of the newest row counted, as PostgreSQL's text (exact), or undefined when none. */
  watermark: string | undefined;
  watermarkMs: number;
  /** Ids counted whose finished_at is within the overlap window before the watermark. */
  seen: Map<string, number>;
  counts: Counts;
}

interface Gathered {
  progress: Progress;
  durations: { tool: string; seconds: number }[];
  active: { tool: string; status: string; n: number }[];
  oldestRunningSeconds: number;
  lastFinished: number | undefined;
  pastRetention: number;
}

function addCount(counts: Counts, tool: string, status: string, n: number) {
  let byStatus = counts.get(tool);
  if (!byStatus) counts.set(tool, (byStatus = new Map()));
  byStatus.set(status, (byStatus.get(status) ?? 0) + n);
}

const cloneCounts = (c: Counts): Counts => new Map([...c].map(([k, v]) => [k, new Map(v)]));

function createScansCollector(options: ScansOptions, log: Logger): Collector {
  const o = {
    ...options,
    overlapSeconds: options.overlapSeconds ?? scanDefaults.overlapSeconds,
    batchSize: options.batchSize ?? scanDefaults.batchSize,
    maxPagesPerScrape: options.maxPagesPerScrape ?? scanDefaults.maxPagesPerScrape,
    retentionCountCap: options.retentionCountCap ?? scanDefaults.retentionCountCap,
    initTimeoutMs: options.initTimeoutMs ?? scanDefaults.initTimeoutMs,
  };
  const tableText = `${o.table.schema}.${o.table.table}`;
  const sql = statements(`${quoteIdent(o.table.schema)}.${quoteIdent(o.table.table)}`);
  const registry: RegistryType = new Registry();
  const m = createMetrics(scanMetrics, registry);
  const acquired = o.database instanceof PostgresDatabase ? undefined : acquireDatabase(o.database, log);
  const db = acquired ? acquired.database : (o.database as PostgresDatabase);
  let progress: Progress | undefined;
  let init: Promise<Progress> | undefined;
  let lastProblem = "";

  const explain = (e: unknown): Error => {
    const err = e instanceof Error ? e : new Error(String(e));
    const code = (err.cause as { code?: string } | undefined)?.code;
    let msg = err.message;
    if (code === "42P01")
      msg = `the scans table ${tableText} does not exist (SCANS_TABLE; DDL in exporter/sql/scans.sql)`;
    else if (code === "42703")
      msg = `the scans table ${tableText} lacks a column the exporter reads (${err.message}); see docs/database.md`;
    else if (code === "42501")
      msg = `the exporter's role may not read ${tableText} (${err.message}); see exporter/sql/monitoring-role.sql`;
    else msg = `reading ${tableText}: ${msg}`;
    if (msg !== lastProblem) log.error("the scans collector cannot read the scans table", { reason: msg });
    lastProblem = msg;
    return new Error(msg, { cause: err });
  };

  // The one grouped count at start, in one snapshot with the watermark and the window's ids.
  const initialise = (): Promise<Progress> =>
    db.run(
      { signal: AbortSignal.timeout(o.initTimeoutMs) },
      async (query) => {
        await query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
        try {
          await query(`SET LOCAL statement_timeout = ${Math.round(o.initTimeoutMs)}`);
          // The count would otherwise run as a parallel scan, each worker a backend of its own: the
          // exporter keeps to its two, slower but bounded (measured: 4 backends at 3M rows without this).
          await query("SET LOCAL max_parallel_workers_per_gather = 0");
          const [w] = await query<{ w: string | null; wms: string | null }>(sql.watermark);
          const watermark = w?.w ?? undefined;
          const counts: Counts = new Map();
          const seen = new Map<string, number>();
          const watermarkMs = w?.wms == null ? -Infinity : num(w.wms);
          if (watermark !== undefined) {
            const totals = await query<{ tool: string; status: string; n: string }>(sql.totals, [watermark]);
            for (const r of totals) addCount(counts, String(r.tool), String(r.status), num(r.n));
            const ids = await query<{ id: string; f: string }>(sql.windowIds, [watermark, o.overlapSeconds]);
            for (const r of ids) seen.set(r.id, num(r.f));
          }
          await query("COMMIT");
          log.info("scans counters start from the table's current totals", {
            table: tableText,
            finished: [...counts.values()].reduce(
              (a, s) => a + [...s.values()].reduce((x, y) => x + y, 0),
              0,
            ),
          });
          return { watermark, watermarkMs, seen, counts };
        } catch (e) {
          await query("ROLLBACK").catch(() => {});
          throw e;
        }
      },
      { queryTimeoutMs: o.initTimeoutMs + 1000 },
    );

  const catchUp = async (query: Query, start: Progress, ctx: CollectContext) => {
    const next: Progress = {
      watermark: start.watermark,
      watermarkMs: start.watermarkMs,
      seen: new Map(start.seen),
      counts: cloneCounts(start.counts),
    };
    const durations: Gathered["durations"] = [];
    let cursor = start.watermark ?? "-infinity";
    let overlap = o.overlapSeconds;
    let op: ">" | ">=" = ">";
    for (let page = 0; page < o.maxPagesPerScrape && !ctx.signal.aborted; page++) {
      const rows = await query<{
        id: string;
        tool: string;
        status: string;
        ft: string;
        f: string;
        d: string | null;
      }>(sql.newlyFinished(op), [cursor, overlap, o.batchSize]);
      for (const r of rows) {
        if (next.seen.has(r.id)) continue;
        const f = num(r.f);
        next.seen.set(r.id, f);
        addCount(next.counts, r.tool, r.status, 1);
        if (r.d !== null) durations.push({ tool: r.tool, seconds: Math.max(0, num(r.d)) });
        if (f >= next.watermarkMs) {
          next.watermarkMs = f;
          next.watermark = r.ft;
        }
      }
      if (rows.length < o.batchSize) break;
      // A full page: read on from its last finished_at (>=, so rows sharing that instant are not
      // skipped; the seen ids make the re-read harmless). A page that is all one instant would repeat
      // itself, so then move strictly past it.
      const first = rows[0]!.ft;
      const last = rows[rows.length - 1]!.ft;
      if (first === last && op === ">=") {
        log.warn("more finished scans share one finished_at than a page holds; some may be missed", {
          table: tableText,
          finished_at: last,
        });
        op = ">";
      } else op = ">=";
      cursor = last;
      overlap = 0;
    }
    // Ids older than the window are never read again.
    const horizon = next.watermarkMs - o.overlapSeconds * 1000 - 1000;
    for (const [id, f] of next.seen) if (f < horizon) next.seen.delete(id);
    return { next, durations };
  };

  const write = (g: Gathered) => {
    progress = g.progress;
    const tools = new Set<string>([...g.progress.counts.keys(), ...g.active.map((a) => a.tool)]);
    m.kali_agents_scans_total.reset();
    m.kali_agents_active_scans.reset();
    // Every known tool gets every status, at 0 when it has none, so that ratios and "no queued scans"
    // are computable instead of absent.
    for (const tool of tools) {
      for (const status of FINAL_STATUSES)
        m.kali_agents_scans_total.set({ tool, status }, g.progress.counts.get(tool)?.get(status) ?? 0);
      for (const status of ACTIVE_STATUSES) m.kali_agents_active_scans.set({ tool, status }, 0);
    }
    for (const a of g.active) m.kali_agents_active_scans.set({ tool: a.tool, status: a.status }, a.n);
    for (const d of g.durations) m.kali_agents_scan_duration_seconds.observe({ tool: d.tool }, d.seconds);
    m.kali_agents_oldest_running_scan_age_seconds.set(g.oldestRunningSeconds);
    if (g.lastFinished === undefined) m.kali_agents_last_scan_finished_timestamp_seconds.reset();
    else m.kali_agents_last_scan_finished_timestamp_seconds.set(g.lastFinished);
    m.kali_agents_scan_rows_past_retention.set(g.pastRetention);
  };

  return {
    name: "scans",
    registry,
    async collect(ctx) {
      try {
        if (!progress) {
          // The result is kept even when this scrape gives up waiting: the next one starts from it.
          init ??= initialise()
            .then((p) => (progress ??= p))
            .finally(() => (init = undefined));
          await raceAbort(init, ctx.signal, "the initial count of finished scans");
        }
        const base = progress!;
        const gathered = await db.run(ctx, async (query) => {
          const { next, durations } = await catchUp(query, base, ctx);
          const active = await query<{ tool: string; status: string; n: string; oldest: string | null }>(
            sql.active,
          );
          const [s] = await query<{ last_finished: string | null; past_retention: string }>(sql.scalars, [
            o.retentionDays,
            o.retentionCountCap,
          ]);
          const running = active.filter((a) => a.status === "running" && a.oldest !== null);
          return {
            progress: next,
            durations,
            active: active.map((a) => ({ tool: a.tool, status: a.status, n: num(a.n) })),
            oldestRunningSeconds: Math.max(0, ...running.map((a) => num(a.oldest))),
            lastFinished: s?.last_finished == null ? undefined : num(s.last_finished),
            pastRetention: num(s?.past_retention ?? 0),
          } satisfies Gathered;
        });
        if (ctx.signal.aborted) return;
        write(gathered);
        if (lastProblem) log.info("the scans collector reads the scans table again", { table: tableText });
        lastProblem = "";
      } catch (e) {
        throw explain(e);
      }
    },
    markFailed() {
      // The gauges describe a present we cannot see: drop them. The counters and the histogram keep
      // their last values (a counter must not vanish and come back lower because of an outage).
      m.kali_agents_active_scans.reset();
      m.kali_agents_oldest_running_scan_age_seconds.reset();
      m.kali_agents_last_scan_finished_timestamp_seconds.reset();
      m.kali_agents_scan_rows_past_retention.reset();
    },
    async close() {
      await acquired?.release();
    },
  };
}

export const scansCollector: CollectorModule<ScansOptions> = {
  name: "scans",
  metrics: scanMetrics,
  create: createScansCollector,
};
