// Scans, read from the application's scans table (contract: docs/database.md, DDL: exporter/sql/scans.sql).
//
// A scrape must cost the same with ten thousand rows or ten million, so nothing here scans the table:
// - active scans come from the partial index on the active statuses (queued, running);
// - finished scans are counted in memory (so deleting old rows never lowers a counter), each once, when
//   the transaction that made it final becomes visible: the DDL's trigger stamps such a row with that
//   transaction's id (finish_xid), and each read compares the stamps with two snapshots, the one up to
//   which everything is counted (`done`) and the one being caught up to (`target`). A row is new exactly
//   when its stamp is visible in `target` and not in `done`; those stamps are the transactions that were
//   running at `done` (its xip list) and the ones that began after it (>= its xmax), so the read is a
//   few index ranges of (finish_xid, id) that hold only the new rows, whatever the order or the delay of
//   the commits and however many rows share one finished_at. A scrape's work follows the rows committed
//   since the last one;
// - the last finished_at is one index probe, and the rows past retention an index range count capped
//   at `retentionCountCap`.
//
// A backlog (a burst of finishes) is read in keyset pages on (finish_xid, id) within a time budget per
// scrape; what is left is read by the next scrapes, from the same `target`, and
// kali_agents_scan_rows_to_read says how many rows are still to read.
//
// At start the counters begin from the current totals, by one grouped count, in the same snapshot that
// becomes `done` (so nothing is counted twice or missed). That count is the only full pass over the
// table; it runs once, with its own timeout, and a scrape that reaches its deadline before it ends fails
// while the count goes on for the next scrape.
import type { Registry as RegistryType } from "prom-client";
import { Registry } from "prom-client";
import { scanMetrics } from "../../../definitions/metrics/scans.ts";
import type { Logger } from "../../../lib/log.ts";
import { quoteIdent } from "../../../lib/sql.ts";
import { createMetrics } from "../metrics.ts";
import { acquireDatabase, num, PostgresDatabase, type PostgresConnectionOptions } from "../postgres-pool.ts";
import { raceAbort } from "./deadline.ts";
import type { CollectContext, Collector, CollectorModule, Query } from "./types.ts";

export const ACTIVE_STATUSES = ["queued", "running"] as const;
export const FINAL_STATUSES = ["success", "failed", "cancelled"] as const;
/** The DDL's triggers that stamp finish_xid (exporter/sql/scans.sql): without them nothing new is read. */
export const FINISH_TRIGGERS = ["scans_finish_insert", "scans_finish_update"] as const;

export interface ScansOptions {
  /**
   * A pool to use, or the connection options of the pool shared with the postgres collector
   * (acquireDatabase in ../postgres-pool.ts).
   */
  readonly database: PostgresDatabase | PostgresConnectionOptions;
  readonly table: { readonly schema: string; readonly table: string };
  readonly retentionDays: number;
  /**
   * Most distinct `tool` label values published (default 100): the tools with the most scans are
   * named, the rest counted under `tool="other"`. Once named, a tool stays named (its counters stay
   * monotonic) until the exporter restarts, when the top tools are chosen again.
   */
  readonly maxTools?: number;
  /** Rows read per query (one keyset page) when reading newly finished scans. */
  readonly batchSize?: number;
  /** Pages read per scrape at most; the rest is read on the next scrapes. */
  readonly maxPagesPerScrape?: number;
  /**
   * Time a scrape spends reading a backlog at most (it also keeps to half of the time left before its
   * deadline); the rest is read on the next scrapes. At least one page is read per scrape.
   */
  readonly catchUpBudgetMs?: number;
  /** kali_agents_scan_rows_past_retention counts up to this many rows, so the query stays cheap. */
  readonly retentionCountCap?: number;
  /** Timeout of the one grouped count at start. */
  readonly initTimeoutMs?: number;
}

export const scanDefaults = {
  batchSize: 5000,
  maxPagesPerScrape: 1000,
  catchUpBudgetMs: 2000,
  retentionCountCap: 10_000,
  initTimeoutMs: 120_000,
} as const;

const inList = (values: readonly string[]) => values.map((v) => `'${v}'`).join(", ");

/** A pg_snapshot: every transaction id below xmin has ended; xip were running; xmax and above had not begun. */
export interface Snapshot {
  readonly text: string;
  readonly xmin: bigint;
  readonly xmax: bigint;
  readonly xip: readonly bigint[];
}

export function parseSnapshot(text: string): Snapshot {
  const m = /^(\d+):(\d+):([\d,]*)$/.exec(text);
  if (!m) throw new Error(`unexpected pg_snapshot text: ${JSON.stringify(text)}`);
  return {
    text,
    xmin: BigInt(m[1]!),
    xmax: BigInt(m[2]!),
    xip: m[3] ? m[3].split(",").map((x) => BigInt(x)) : [],
  };
}

/** pg_visible_in_snapshot(): were the effects of transaction `xid` visible in `s` (if it committed)? */
export const visibleIn = (xid: bigint, s: Snapshot): boolean =>
  xid < s.xmin || (xid < s.xmax && !s.xip.includes(xid));

/** A half-open range [lo, hi) of finish_xid values to read. */
interface Segment {
  readonly lo: bigint;
  readonly hi: bigint;
}

// The status lists are written as literals, not parameters: only then can the planner prove that the
// query's condition implies the partial index's predicate and use the index.
/** The statements of the scans collector for a quoted table name (exported for the benchmark's EXPLAIN). */
export function statements(table: string) {
  const active = inList(ACTIVE_STATUSES);
  const final = inList(FINAL_STATUSES);
  return {
    // With the newest stamp: one at or past the snapshot's xmax was not made by this cluster (a table
    // restored from another one keeps its stamps), and would be counted again once the xids reach it.
    snapshot: `SELECT pg_current_snapshot()::text AS s,
      (SELECT finish_xid FROM ${table} WHERE finish_xid IS NOT NULL ORDER BY finish_xid DESC LIMIT 1)::text AS newest`,
    triggers: `SELECT tgname::text AS name FROM pg_trigger
      WHERE tgrelid = $1::regclass AND tgenabled <> 'D' AND tgname::text = ANY($2::text[])`,
    // Fails with "column finish_xid does not exist" on a table the migration has not reached yet.
    columns: `SELECT id, tool, status, started_at, finished_at, finish_xid FROM ${table} LIMIT 0`,
    totals: `SELECT tool, status, count(*) AS n FROM ${table}
      WHERE status IN (${final}) GROUP BY tool, status`,
    /** Which of the given transactions (running at `done`) stamped rows: one index probe each. */
    stamped: `SELECT x::text AS x FROM unnest($1::xid8[]) AS x
      WHERE EXISTS (SELECT FROM ${table} WHERE finish_xid = x AND finish_xid IS NOT NULL)`,
    /** One keyset page of the rows of one segment committed by `target`, in (finish_xid, id) order. */
    // The keys come back as text under other names: ORDER BY would take an output column of the same
    // name (id::text) instead of the table's, and sort ids as strings.
    page: (keyed: boolean) => `SELECT id::text AS key_id, tool, status, finish_xid::text AS key_xid,
        extract(epoch FROM finished_at - started_at) AS d
      FROM ${table}
      WHERE finish_xid IS NOT NULL AND finish_xid >= $1::xid8 AND finish_xid < $2::xid8
        ${keyed ? "AND (finish_xid, id) > ($5::xid8, $6)" : ""}
        AND pg_visible_in_snapshot(finish_xid, $3::pg_snapshot) AND status IN (${final})
      ORDER BY finish_xid, id LIMIT $4`,
    /** The rows a catch-up reads in all, counted once when its first page comes back full. */
    backlog: `SELECT count(*) AS n FROM unnest($1::xid8[], $2::xid8[]) AS seg(lo, hi),
        LATERAL (SELECT FROM ${table}
          WHERE finish_xid IS NOT NULL AND finish_xid >= seg.lo AND finish_xid < seg.hi
            AND pg_visible_in_snapshot(finish_xid, $3::pg_snapshot) AND status IN (${final})) r`,
    active: `SELECT tool, status, count(*) AS n,
        extract(epoch FROM now() - min(started_at)) AS oldest
      FROM ${table} WHERE status IN (${active}) GROUP BY tool, status`,
    /** A scrape's first statement: its snapshot, the newest stamp, and the scalar gauges. */
    scrapeScalars: `SELECT pg_current_snapshot()::text AS s,
        ARRAY(SELECT tgname::text FROM pg_trigger WHERE tgrelid = $3::regclass AND tgenabled <> 'D'
           AND tgname::text = ANY($4::text[])) AS triggers,
        (SELECT finish_xid FROM ${table} WHERE finish_xid IS NOT NULL ORDER BY finish_xid DESC LIMIT 1)::text AS newest,
        (SELECT extract(epoch FROM max(finished_at)) FROM ${table} WHERE finished_at IS NOT NULL) AS last_finished,
        (SELECT count(*) FROM (SELECT 1 FROM ${table}
           WHERE finished_at < now() - make_interval(days => $1) LIMIT $2) old) AS past_retention`,
  };
}

type Counts = Map<string, Map<string, number>>;

/** The tool label of the scans counted past the cap (options.maxTools). */
export const OTHER_TOOL = "other";
/** A longer tool value is never given its own series (it is counted under OTHER_TOOL). */
export const MAX_TOOL_LENGTH = 128;

/** A catch-up in progress: the rows committed between `done` and `snap`, read segment by segment. */
interface Target {
  readonly snap: Snapshot;
  readonly segments: readonly Segment[];
  /** The segment being read, and the last (finish_xid, id) read in it. */
  segment: number;
  key: { x: string; id: string } | undefined;
  /** Rows read so far, and the rows to read in all once counted (a backlog of more than a page). */
  read: number;
  total: number | undefined;
}

interface Progress {
  /** Everything committed by this snapshot is counted. */
  done: Snapshot;
  target: Target | undefined;
  counts: Counts;
}

interface Gathered {
  progress: Progress;
  durations: Map<string, number[]>;
  toRead: number;
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

/** A REPEATABLE READ, read-only transaction: every statement of `fn` sees one snapshot. */
async function inSnapshot<T>(query: Query, fn: () => Promise<T>, settings: string[] = []): Promise<T> {
  await query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  try {
    for (const s of settings) await query(s);
    const out = await fn();
    await query("COMMIT");
    return out;
  } catch (e) {
    // Queued on the connection even after an abort, so the session never goes back to the pool inside
    // a transaction.
    await query("ROLLBACK").catch(() => {});
    throw e;
  }
}

function createScansCollector(options: ScansOptions, log: Logger): Collector {
  const o = {
    ...options,
    batchSize: options.batchSize ?? scanDefaults.batchSize,
    maxPagesPerScrape: options.maxPagesPerScrape ?? scanDefaults.maxPagesPerScrape,
    catchUpBudgetMs: options.catchUpBudgetMs ?? scanDefaults.catchUpBudgetMs,
    retentionCountCap: options.retentionCountCap ?? scanDefaults.retentionCountCap,
    initTimeoutMs: options.initTimeoutMs ?? scanDefaults.initTimeoutMs,
  };
  const tableText = `${o.table.schema}.${o.table.table}`;
  const quoted = `${quoteIdent(o.table.schema)}.${quoteIdent(o.table.table)}`;
  const sql = statements(quoted);
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
    else if (code === "42703" && /finish_xid/.test(err.message))
      msg =
        `the scans table ${tableText} lacks the finish_xid column (${err.message}): apply ` +
        "exporter/sql/scans-finish-xid.sql (docs/database.md)";
    else if (code === "42703")
      msg = `the scans table ${tableText} lacks a column the exporter reads (${err.message}); see docs/database.md`;
    else if (code === "42501")
      msg = `the exporter's role may not read ${tableText} (${err.message}); see exporter/sql/monitoring-role.sql`;
    else if (!msg.startsWith("the scans table")) msg = `reading ${tableText}: ${msg}`;
    if (msg !== lastProblem) log.error("the scans collector cannot read the scans table", { reason: msg });
    lastProblem = msg;
    return new Error(msg, { cause: err });
  };

  // The table's problems are found inside a PostgreSQL session but reported after it, so that the pool
  // does not take them for a connection failure (which would mark PostgreSQL down and drop the session).
  const missingTriggers = (missing: readonly string[]) =>
    `the scans table ${tableText} lacks the trigger${missing.length > 1 ? "s" : ""} ` +
    `${missing.join(", ")} (or ${missing.length > 1 ? "they are" : "it is"} disabled), so newly ` +
    "finished scans cannot be told apart: apply exporter/sql/scans.sql or exporter/sql/scans-finish-xid.sql (docs/database.md)";

  const stampsProblem = (now: Snapshot, newest: string | null): string | undefined => {
    if (newest !== null && BigInt(newest) >= now.xmax)
      return (
        `the scans table ${tableText} holds finish_xid ${newest}, a transaction id this server has not reached ` +
        `(it is at ${now.xmax}): the table was restored from another cluster with its stamps, which would ` +
        'be counted again; clear them as docs/database.md says ("A table restored from another cluster")'
      );
    return undefined;
  };

  // The one grouped count at start, in the snapshot that becomes `done`.
  const initialise = (): Promise<Progress> =>
    db
      .run(
        { signal: AbortSignal.timeout(o.initTimeoutMs) },
        (query) =>
          inSnapshot(query, async (): Promise<Progress | { problem: string }> => {
            await query(sql.columns);
            const triggers = await query<{ name: string }>(sql.triggers, [quoted, FINISH_TRIGGERS]);
            const missing = FINISH_TRIGGERS.filter((t) => !triggers.some((r) => r.name === t));
            if (missing.length) return { problem: missingTriggers(missing) };
            const [s] = await query<{ s: string; newest: string | null }>(sql.snapshot);
            const done = parseSnapshot(s!.s);
            const stamps = stampsProblem(done, s!.newest);
            if (stamps) return { problem: stamps };
            const counts: Counts = new Map();
            const totals = await query<{ tool: string; status: string; n: string }>(sql.totals);
            for (const r of totals) addCount(counts, String(r.tool), String(r.status), num(r.n));
            log.info("scans counters start from the table's current totals", {
              table: tableText,
              finished: totals.reduce((a, r) => a + num(r.n), 0),
            });
            return { done, target: undefined, counts };
          }, [
            `SET LOCAL statement_timeout = ${Math.round(o.initTimeoutMs)}`,
            // The count would otherwise run as a parallel scan, each worker a backend of its own: the
            // exporter keeps to its two, slower but bounded (measured: 4 backends at 3M rows without this).
            "SET LOCAL max_parallel_workers_per_gather = 0",
          ]),
        { queryTimeoutMs: o.initTimeoutMs + 1000 },
      )
      .then((r) => {
        if ("problem" in r) throw new Error(r.problem);
        return r;
      });

  /** The segments between `done` and `now`: the transactions running at `done` that stamped rows, then
   * every transaction that began after it. Each xip entry is a segment of one id. */
  const segmentsOf = async (query: Query, done: Snapshot, now: Snapshot): Promise<Segment[]> => {
    const segments: Segment[] = [];
    const ended = done.xip.filter((x) => visibleIn(x, now));
    if (ended.length) {
      const stamped = await query<{ x: string }>(sql.stamped, [ended.map(String)]);
      for (const x of stamped.map((r) => BigInt(r.x)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)))
        segments.push({ lo: x, hi: x + 1n });
    }
    if (done.xmax < now.xmax) segments.push({ lo: done.xmax, hi: now.xmax });
    return segments;
  };

  /**
   * Reads the rows committed since `done`: first the rest of a catch-up begun by an earlier scrape, then
   * the rows committed since up to this scrape's snapshot (`first.s`), in keyset pages, within the time
   * budget.
   */
  const catchUp = async (query: Query, start: Progress, ctx: CollectContext, first: { s: string }) => {
    const began = performance.now();
    const budget = Math.min(o.catchUpBudgetMs, Math.max(0, (ctx.deadline - Date.now()) / 2));
    const counts = cloneCounts(start.counts);
    const durations: Gathered["durations"] = new Map();
    let done = start.done;
    let target: Target | undefined = start.target && { ...start.target };
    const now = parseSnapshot(first.s);
    let rows = 0;
    let pages = 0;
    let lastPageMs = 0;
    const outOfTime = () =>
      ctx.signal.aborted ||
      pages >= o.maxPagesPerScrape ||
      (pages > 0 && performance.now() - began + 1.5 * lastPageMs > budget);
    for (;;) {
      if (!target) {
        if (done.text === now.text) break;
        const segments = await segmentsOf(query, done, now);
        if (segments.length === 0) {
          done = now;
          break;
        }
        target = { snap: now, segments, segment: 0, key: undefined, read: 0, total: undefined };
      }
      while (target.segment < target.segments.length && !outOfTime()) {
        const t0 = performance.now();
        const seg = target.segments[target.segment]!;
        const params: unknown[] = [String(seg.lo), String(seg.hi), target.snap.text, o.batchSize];
        if (target.key) params.push(target.key.x, target.key.id);
        const page = await query<{
          key_id: string;
          tool: string;
          status: string;
          key_xid: string;
          d: string | null;
        }>(sql.page(target.key !== undefined), params);
        for (const r of page) {
          addCount(counts, r.tool, r.status, 1);
          if (r.d !== null) {
            let list = durations.get(r.tool);
            if (!list) durations.set(r.tool, (list = []));
            list.push(Math.max(0, num(r.d)));
          }
        }
        target.read += page.length;
        rows += page.length;
        if (page.length < o.batchSize) {
          target.segment++;
          target.key = undefined;
        } else {
          const last = page[page.length - 1]!;
          target.key = { x: last.key_xid, id: last.key_id };
        }
        pages++;
        lastPageMs = performance.now() - t0;
      }
      if (target.segment < target.segments.length) break;
      done = target.snap;
      target = undefined;
    }
    let toRead = 0;
    if (target) {
      if (target.total === undefined) {
        // A backlog left for the next scrapes: count it once (one pass over the index entries of its
        // rows), so that kali_agents_scan_rows_to_read says how much is left while it is read.
        const [n] = await query<{ n: string }>(sql.backlog, [
          target.segments.map((g) => String(g.lo)),
          target.segments.map((g) => String(g.hi)),
          target.snap.text,
        ]);
        target.total = Math.max(num(n?.n), target.read);
      }
      toRead = target.total - target.read;
    }
    const caughtUp = !target && done.text === now.text;
    ctx.log.debug("scans read", { table: tableText, rows, pages, toRead, caughtUp });
    return { next: { done, target, counts }, durations, toRead };
  };

  // The tool label comes from the application's data: its values are capped (top N, then "other"), so
  // a table with thousands of distinct tools cannot multiply the series (and the exporter's memory).
  const maxTools = options.maxTools ?? 100;
  const named = new Set<string>();
  const write = (g: Gathered) => {
    progress = g.progress;
    const tools = new Set<string>([...g.progress.counts.keys(), ...g.active.map((a) => a.tool)]);
    const scansOf = new Map<string, number>();
    for (const [tool, byStatus] of g.progress.counts)
      scansOf.set(
        tool,
        [...byStatus.values()].reduce((a, b) => a + b, 0),
      );
    for (const a of g.active) scansOf.set(a.tool, (scansOf.get(a.tool) ?? 0) + a.n);
    const candidates = [...tools]
      .filter((t) => !named.has(t) && t !== OTHER_TOOL && t.length <= MAX_TOOL_LENGTH)
      .sort((a, b) => (scansOf.get(b) ?? 0) - (scansOf.get(a) ?? 0) || (a < b ? -1 : a > b ? 1 : 0));
    for (const t of candidates) {
      if (named.size >= maxTools) break;
      named.add(t);
    }
    const label = (tool: string) => (named.has(tool) ? tool : OTHER_TOOL);
    const totals = new Map<string, Map<string, number>>();
    const labels = new Set<string>();
    let folded = 0;
    for (const tool of tools) {
      const l = label(tool);
      if (l === OTHER_TOOL && tool !== OTHER_TOOL) folded++;
      labels.add(l);
      let byStatus = totals.get(l);
      if (!byStatus) totals.set(l, (byStatus = new Map()));
      for (const [status, n] of g.progress.counts.get(tool) ?? [])
        byStatus.set(status, (byStatus.get(status) ?? 0) + n);
    }
    m.kali_agents_scans_total.reset();
    m.kali_agents_active_scans.reset();
    // Every known tool gets every status, at 0 when it has none, so that ratios and "no queued scans"
    // are computable instead of absent.
    for (const tool of labels) {
      for (const status of FINAL_STATUSES)
        m.kali_agents_scans_total.set({ tool, status }, totals.get(tool)?.get(status) ?? 0);
      for (const status of ACTIVE_STATUSES) m.kali_agents_active_scans.set({ tool, status }, 0);
    }
    for (const a of g.active) m.kali_agents_active_scans.inc({ tool: label(a.tool), status: a.status }, a.n);
    for (const [tool, list] of g.durations)
      for (const seconds of list) m.kali_agents_scan_duration_seconds.observe({ tool: label(tool) }, seconds);
    m.kali_agents_scan_tools_folded.set(folded);
    m.kali_agents_scan_rows_to_read.set(g.toRead);
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
        // No transaction around a scrape: every statement filters on the snapshots it is given, and a row
        // visible in one snapshot is visible in every later one, so each statement may take its own.
        const gathered = await db.run(ctx, async (query): Promise<Gathered | { problem: string }> => {
          const [s] = await query<{
            s: string;
            newest: string | null;
            last_finished: string | null;
            past_retention: string;
            triggers: string[] | null;
          }>(sql.scrapeScalars, [o.retentionDays, o.retentionCountCap, quoted, FINISH_TRIGGERS]);
          // Dropped or disabled since the start: finishes would go unstamped, so uncounted. Say so.
          const names = s!.triggers ?? [];
          const missing = FINISH_TRIGGERS.filter((t) => !names.includes(t));
          if (missing.length) return { problem: missingTriggers(missing) };
          const stamps = stampsProblem(parseSnapshot(s!.s), s!.newest);
          if (stamps) return { problem: stamps };
          const { next, durations, toRead } = await catchUp(query, base, ctx, s!);
          const active = await query<{ tool: string; status: string; n: string; oldest: string | null }>(
            sql.active,
          );
          const running = active.filter((a) => a.status === "running" && a.oldest !== null);
          return {
            progress: next,
            durations,
            toRead,
            active: active.map((a) => ({ tool: a.tool, status: a.status, n: num(a.n) })),
            oldestRunningSeconds: Math.max(0, ...running.map((a) => num(a.oldest))),
            lastFinished: s?.last_finished == null ? undefined : num(s.last_finished),
            pastRetention: num(s?.past_retention ?? 0),
          } satisfies Gathered;
        });
        if ("problem" in gathered) throw new Error(gathered.problem);
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
      m.kali_agents_scan_rows_to_read.reset();
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
