// The scans collector at scale: its time per scrape with 10 thousand, 1 million and 10 million rows in
// the scans table (target: 10M within 2x of 10k), and the PostgreSQL connections the whole exporter
// holds under concurrent scrapes (target: at most 2). Prints the figures and writes them into
// docs/performance.md, section "Scans collector at scale".
//
//   npx tsx bench/scans-scale.ts                 sizes 10k, 1M, 10M (about 10-20 minutes on 2 cores)
//   BENCH_SMOKE=1 npx tsx bench/scans-scale.ts   1k rows, 3 scrapes, nothing written (bench/scans-scale.test.ts)
//   BENCH_SCANS_SIZES=10000,100000               other sizes; BENCH_SCANS_SCRAPES=15 scrapes per size;
//   BENCH_WRITE_DOCS=0                           print only
//
// Each size has its own table, from the exporter's own DDL, with a fixed number of active scans (the
// partial index's size does not follow the table's) and a steady trickle of newly finished scans
// between scrapes, as in production. The sizes are scraped in turns, so that the load of a shared
// machine weighs on all of them alike. Every size gets a fresh collector, so its first scrape includes
// the one grouped count at start, reported apart.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import pgDriver from "pg";
import { startPostgres, type PostgresServer } from "../test/support/servers.ts";
import { buildExporter } from "../exporter/src/build.ts";
import { APPLICATION_NAME, PostgresDatabase } from "../exporter/src/postgres-pool.ts";
import { FINISH_TRIGGERS, scansCollector, statements } from "../exporter/src/collectors/scans.ts";
import { loadConfig } from "../exporter/src/config.ts";
import { createLogger } from "../lib/log.ts";

const repoRoot = new URL("..", import.meta.url).pathname;

export interface ScaleOptions {
  readonly sizes: readonly number[];
  readonly scrapesPerSize: number;
  /** Concurrent scrapes of the whole exporter, and how many rounds of them. */
  readonly concurrentScrapes: number;
  readonly rounds: number;
  /** Bursts of scans finished in one statement, each on the tables of `burstTables` rows. */
  readonly bursts: readonly number[];
  readonly burstTables: readonly number[];
  /** Steady scrapes before and after each burst (their medians are compared). */
  readonly steadyScrapes: number;
  readonly log: (msg: string) => void;
}

/** One scrape during a catch-up: its time, whether it ended in time, and what was left to read after it. */
export interface BurstScrape {
  readonly ms: number;
  readonly ok: boolean;
  readonly toRead: number;
}

export interface BurstResult {
  readonly tableRows: number;
  readonly burst: number;
  /** The application's INSERT ... SELECT of the burst, with the finish_xid trigger. */
  readonly insertMs: number;
  /** The same INSERT into a copy of the table without the trigger (on the smallest table only). */
  readonly insertWithoutTriggerMs: number | undefined;
  readonly scrapes: readonly BurstScrape[];
  readonly steadyBeforeMs: readonly number[];
  readonly steadyAfterMs: readonly number[];
  /** After catching up, the counters' sum equals the table's finished rows. */
  readonly exact: boolean;
}

export interface SizeResult {
  readonly rows: number;
  readonly tableBytes: number;
  readonly loadSeconds: number;
  /** The first scrape of a fresh collector: the grouped count at start, then a normal scrape. */
  readonly firstScrapeMs: number;
  readonly scrapeMs: readonly number[];
  /** Per statement of a steady-state scrape: the plan's scan nodes ("Index Scan using x", ...). */
  readonly plans: Readonly<Record<string, readonly string[]>>;
}

export interface ScaleResults {
  readonly date: string;
  readonly machine: { nproc: number; cpuModel: string; loadAtStart: number };
  readonly sizes: readonly SizeResult[];
  readonly deadlineMs: number;
  readonly bursts: readonly BurstResult[];
  readonly connections: { max: number; samples: number; concurrent: number; rounds: number };
}

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

const silent = createLogger({ level: "error", write: () => {} });

/** The schema holding the table of one size (each size has its own table, built by the shipped DDL). */
const schemaOf = (rows: number) => `scale_${rows}`;

/** Adds `rows` finished scans: one every half second back in time (10M rows: 58 days), by chunks. */
async function fill(pg: PostgresServer, table: string, rows: number): Promise<void> {
  const chunk = 1_000_000;
  for (let lo = 0; lo < rows; lo += chunk) {
    const hi = Math.min(rows, lo + chunk);
    await pg.query(
      `INSERT INTO ${table} (tool, target, status, created_at, started_at, finished_at)
       SELECT (ARRAY['nmap','nuclei','sqlmap','nikto','gobuster'])[1 + i % 5],
              'host-' || (i % 997) || '.example',
              CASE WHEN i % 10 = 3 THEN 'failed' WHEN i % 50 = 7 THEN 'cancelled' ELSE 'success' END,
              f - make_interval(secs => 60 + i % 600), f - make_interval(secs => i % 600), f
       FROM generate_series($1::bigint, $2::bigint - 1) AS i,
            LATERAL (SELECT now() - interval '10 minutes' - i * interval '500 milliseconds' AS f) t`,
      [lo, hi],
    );
  }
  // The active scans: a fixed few, whatever the table's size.
  await pg.query(
    `INSERT INTO ${table} (tool, target, status, created_at, started_at)
     SELECT (ARRAY['nmap','nuclei','sqlmap','nikto','gobuster'])[1 + g % 5], 'active',
            CASE WHEN g <= 50 THEN 'queued' ELSE 'running' END, now() - interval '1 hour',
            CASE WHEN g <= 50 THEN NULL ELSE now() - g * interval '1 minute' END
     FROM generate_series(1, 70) g`,
  );
}

/** A few scans finish, as between two scrapes in production. */
async function trickle(pg: PostgresServer, table: string, n: number): Promise<void> {
  await pg.query(
    `INSERT INTO ${table} (tool, target, status, started_at, finished_at)
     SELECT (ARRAY['nmap','nuclei','sqlmap','nikto','gobuster'])[1 + g % 5], 'live', 'success',
            now() - interval '42 seconds', now()
     FROM generate_series(1, $1::int) g`,
    [n],
  );
}

interface PlanNode {
  "Node Type": string;
  "Index Name"?: string;
  "Relation Name"?: string;
  Plans?: PlanNode[];
}

/** The scan nodes of each statement a steady-state scrape runs, as PostgreSQL plans them now. */
async function plansOf(pg: PostgresServer, table: string): Promise<Record<string, string[]>> {
  const sql = statements(table);
  // A page of a catch-up in the middle of the newest transaction's rows, as a snapshot of now sees them.
  const [k] = await pg.query<{ x: string; id: string; s: string }>(
    `SELECT finish_xid::text AS x, id::text AS id, pg_current_snapshot()::text AS s FROM ${table}
     WHERE finish_xid IS NOT NULL ORDER BY finish_xid DESC, id DESC LIMIT 1`,
  );
  const key = k ?? {
    x: "3",
    id: "0",
    s: (await pg.query<{ s: string }>("SELECT pg_current_snapshot()::text AS s"))[0]!.s,
  };
  const hi = key.s.split(":")[1]!;
  const cases: Record<string, [string, unknown[]]> = {
    "newly finished (a keyset page)": [sql.page(true), [key.x, hi, key.s, 5000, key.x, key.id]],
    active: [sql.active, []],
    "snapshot, newest stamp, last finished, past retention": [
      sql.scrapeScalars,
      [90, 10_000, table, FINISH_TRIGGERS],
    ],
  };
  const out: Record<string, string[]> = {};
  for (const [name, [text, params]] of Object.entries(cases)) {
    const [row] = await pg.query<{ "QUERY PLAN": [{ Plan: PlanNode }] }>(
      `EXPLAIN (FORMAT JSON) ${text}`,
      params,
    );
    const scans: string[] = [];
    const walk = (n: PlanNode) => {
      if (n["Relation Name"] || n["Index Name"])
        scans.push(
          n["Index Name"]
            ? `${n["Node Type"]} using ${n["Index Name"]}`
            : `${n["Node Type"]} on ${n["Relation Name"]}`,
        );
      for (const c of n.Plans ?? []) walk(c);
    };
    walk(row!["QUERY PLAN"][0].Plan);
    out[name] = scans;
  }
  return out;
}

/** Prometheus' scrape_timeout (prometheus/prometheus.yml) less the exporter's margin: a scrape's deadline. */
export const SCRAPE_DEADLINE_MS = 9500;

/** One collect() under the deadline a scrape gives it (aborted when it passes, as scrape.ts does). */
async function deadlineCollect(collector: ReturnType<typeof scansCollector.create>) {
  const controller = new AbortController();
  const t0 = performance.now();
  const timer = setTimeout(() => controller.abort(), SCRAPE_DEADLINE_MS);
  let ok = true;
  try {
    await Promise.race([
      collector.collect({
        signal: controller.signal,
        deadline: Date.now() + SCRAPE_DEADLINE_MS,
        log: silent,
      }),
      new Promise((_, reject) =>
        controller.signal.addEventListener("abort", () => reject(new Error("deadline"))),
      ),
    ]);
  } catch {
    ok = false;
  } finally {
    clearTimeout(timer);
  }
  const ms = performance.now() - t0;
  return { ms, ok: ok && ms <= SCRAPE_DEADLINE_MS };
}

/** The first scrape of a fresh collector, with the count at start: it may outlast a deadline (docs/database.md). */
async function firstCollect(collector: ReturnType<typeof scansCollector.create>): Promise<number> {
  const t0 = performance.now();
  await collector.collect({
    signal: new AbortController().signal,
    deadline: Date.now() + 600_000,
    log: silent,
  });
  return performance.now() - t0;
}

async function timedCollect(collector: ReturnType<typeof scansCollector.create>): Promise<number> {
  const { ms, ok } = await deadlineCollect(collector);
  if (!ok) throw new Error(`a scrape failed or passed its ${SCRAPE_DEADLINE_MS} ms deadline`);
  return ms;
}

/** The collector's exposed figures: the sum of kali_agents_scans_total and kali_agents_scan_rows_to_read. */
async function exposedTotals(collector: ReturnType<typeof scansCollector.create>) {
  const text = await collector.registry.metrics();
  let total = 0;
  let toRead = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("kali_agents_scans_total{")) total += Number(line.slice(line.lastIndexOf(" ") + 1));
    if (line.startsWith("kali_agents_scan_rows_to_read "))
      toRead = Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return { total, toRead };
}

/**
 * A burst of `n` scans finished by one INSERT ... SELECT (one finished_at), on a table of a steady
 * size: the steady scrapes before, the scrapes until the collector caught up (a trickle of 5 finishes
 * before each, as in production), the steady scrapes after; then the burst is deleted again (the
 * counters keep it) and the table vacuumed, so that the next burst finds the table as it was.
 */
async function measureBurst(
  pg: PostgresServer,
  size: { rows: number; table: string; collector: ReturnType<typeof scansCollector.create>; deleted: number },
  n: number,
  opts: ScaleOptions,
  withoutTrigger: boolean,
): Promise<BurstResult> {
  const steady = async () => {
    const out: number[] = [];
    for (let i = 0; i < opts.steadyScrapes; i++) {
      await trickle(pg, size.table, 5);
      out.push(await timedCollect(size.collector));
    }
    return out;
  };
  const steadyBeforeMs = await steady();
  const burst = (table: string) =>
    pg.query(
      `INSERT INTO ${table} (tool, target, status, started_at, finished_at)
       SELECT (ARRAY['nmap','nuclei','sqlmap','nikto','gobuster'])[1 + g % 5], 'burst',
              CASE WHEN g % 10 = 3 THEN 'failed' ELSE 'cancelled' END, now() - interval '30 seconds', now()
       FROM generate_series(1, $1::int) g`,
      [n],
    );
  let insertWithoutTriggerMs: number | undefined;
  if (withoutTrigger) {
    const plain = `${size.table.replace(/"scans"$/, '"scans_plain"')}`;
    await pg.query(`CREATE TABLE IF NOT EXISTS ${plain} (LIKE ${size.table} INCLUDING ALL)`);
    const t0 = performance.now();
    await burst(plain);
    insertWithoutTriggerMs = performance.now() - t0;
    await pg.query(`DROP TABLE ${plain}`);
  }
  const t0 = performance.now();
  await burst(size.table);
  const insertMs = performance.now() - t0;
  const scrapes: BurstScrape[] = [];
  for (let i = 0; i < 1000; i++) {
    await trickle(pg, size.table, 5);
    const { ms, ok } = await deadlineCollect(size.collector);
    const { toRead } = await exposedTotals(size.collector);
    scrapes.push({ ms, ok, toRead: ok ? toRead : Number.NaN });
    if (ok && toRead === 0) break;
  }
  const steadyAfterMs = await steady();
  const [finished] = await pg.query<{ n: string }>(
    `SELECT count(*) AS n FROM ${size.table} WHERE status IN ('success', 'failed', 'cancelled')`,
  );
  // The counters keep the bursts deleted before this one (a counter never goes down).
  const exact = (await exposedTotals(size.collector)).total === Number(finished!.n) + size.deleted;
  const [gone] = await pg.query<{ n: string }>(
    `WITH d AS (DELETE FROM ${size.table} WHERE target = 'burst' RETURNING status)
     SELECT count(*) FILTER (WHERE status IN ('success', 'failed', 'cancelled')) AS n FROM d`,
  );
  size.deleted += Number(gone!.n);
  await pg.query(`VACUUM ANALYZE ${size.table}`);
  const caught = scrapes.length;
  opts.log(
    `${size.rows} rows, burst ${n}: insert ${insertMs.toFixed(0)} ms` +
      (insertWithoutTriggerMs === undefined
        ? ""
        : ` (${insertWithoutTriggerMs.toFixed(0)} ms without the trigger)`) +
      `, ${caught} scrapes to catch up (${scrapes.map((x) => x.ms.toFixed(0)).join(", ")} ms), steady median ` +
      `${median(steadyBeforeMs).toFixed(2)} -> ${median(steadyAfterMs).toFixed(2)} ms, exact ${exact}`,
  );
  return {
    tableRows: size.rows,
    burst: n,
    insertMs,
    insertWithoutTriggerMs,
    scrapes,
    steadyBeforeMs,
    steadyAfterMs,
    exact,
  };
}

const scansOk = 'kali_agents_exporter_collector_success{collector="scans"} 1';

/** Concurrent scrapes of the whole exporter while pg_stat_activity is sampled for its sessions. */
async function connectionsUnderLoad(pg: PostgresServer, scansTable: string, opts: ScaleOptions) {
  const config = loadConfig({
    DATABASE_URL: pg.url,
    SCANS_TABLE: scansTable,
    EXPORTER_COLLECTORS_DISABLED: "host",
  });
  const { app, scraper } = buildExporter(config, silent);
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
  let max = 0;
  let samples = 0;
  let sampling = true;
  // One connection of its own (not counted: another application_name), sampling as fast as it can.
  const sampler = new pgDriver.Client({ connectionString: pg.url, application_name: "scans-scale-sampler" });
  await sampler.connect();
  const watcher = (async () => {
    while (sampling) {
      const res = await sampler.query<{ n: string }>(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1",
        [APPLICATION_NAME],
      );
      max = Math.max(max, Number(res.rows[0]!.n));
      samples++;
    }
  })();
  try {
    // A fresh exporter counts the table once at start, which at 10M rows outlasts a scrape's deadline:
    // wait for that to end (the scans collector succeeds), then measure the steady state.
    const warmUntil = Date.now() + 300_000;
    while (!(await fetch(url).then((res) => res.text())).includes(scansOk)) {
      if (Date.now() > warmUntil) throw new Error("the scans collector did not succeed within 5 minutes");
      await new Promise((r) => setTimeout(r, 500));
    }
    for (let r = 0; r < opts.rounds; r++) {
      const answers = await Promise.all(
        Array.from({ length: opts.concurrentScrapes }, () => fetch(url).then((res) => res.text())),
      );
      if (!answers.every((a) => a.includes(scansOk)))
        throw new Error("a concurrent scrape reported the scans collector as failed");
    }
  } finally {
    sampling = false;
    await watcher;
    await sampler.end();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await scraper.close();
  }
  return { max, samples, concurrent: opts.concurrentScrapes, rounds: opts.rounds };
}

export async function measureScansScale(opts: ScaleOptions): Promise<ScaleResults> {
  const loadAtStart = loadavg()[0]!;
  const pg = await startPostgres({
    settings: {
      shared_buffers: "256MB",
      maintenance_work_mem: "256MB",
      work_mem: "32MB",
      max_wal_size: "8GB",
      checkpoint_timeout: "30min",
      autovacuum: "off", // the bench vacuums after each load itself, at a known time
    },
  });
  const ddl = readFileSync(join(repoRoot, "exporter/sql/scans.sql"), "utf8");
  const sizes: {
    rows: number;
    table: string;
    loadSeconds: number;
    database: PostgresDatabase;
    collector: ReturnType<typeof scansCollector.create>;
    firstScrapeMs: number;
    scrapeMs: number[];
    /** Finished rows deleted since the collector started (bursts measured before). */
    deleted: number;
  }[] = [];
  try {
    for (const rows of opts.sizes) {
      opts.log(`filling a table of ${rows} rows`);
      const schema = schemaOf(rows);
      const table = `"${schema}"."scans"`;
      const t0 = performance.now();
      await pg.query(`CREATE SCHEMA ${schema}; SET search_path TO ${schema}; ${ddl}`);
      await fill(pg, table, rows);
      await pg.query(`VACUUM ANALYZE ${table}`);
      const database = new PostgresDatabase(
        {
          url: pg.url,
          connectTimeoutMs: 5000,
          statementTimeoutMs: 60_000,
          lockTimeoutMs: 1000,
          idleTimeoutMs: 600_000,
        },
        silent,
      );
      const collector = scansCollector.create(
        { database, table: { schema, table: "scans" }, retentionDays: 90 },
        silent,
      );
      sizes.push({
        rows,
        table,
        loadSeconds: (performance.now() - t0) / 1000,
        database,
        collector,
        firstScrapeMs: await firstCollect(collector),
        scrapeMs: [],
        deleted: 0,
      });
      // One unmeasured scrape: the connection and the plans are warm, as in steady state.
      await trickle(pg, table, 5);
      await timedCollect(collector);
    }
    // The sizes are measured in turns, in a shuffled order each round, so that the load of a shared
    // machine falls on every size alike instead of on whichever size ran during a burst.
    opts.log(`${opts.scrapesPerSize} rounds of one scrape per size`);
    for (let round = 0; round < opts.scrapesPerSize; round++) {
      const order = [...sizes].sort(() => Math.random() - 0.5);
      for (const s of order) {
        await trickle(pg, s.table, 5);
        s.scrapeMs.push(await timedCollect(s.collector));
      }
    }
    // The tables' sizes and plans as the steady rounds found them, before the bursts grow them.
    const measured = new Map<number, { bytes: number; plans: Record<string, string[]> }>();
    for (const s of sizes) {
      const [size] = await pg.query<{ b: string }>(`SELECT pg_total_relation_size('${s.table}') AS b`);
      measured.set(s.rows, { bytes: Number(size!.b), plans: await plansOf(pg, s.table) });
    }
    const bursts: BurstResult[] = [];
    for (const rows of opts.burstTables) {
      const size = sizes.find((x) => x.rows === rows);
      if (!size) throw new Error(`BENCH_SCANS_BURST_TABLES: ${rows} is not one of the sizes`);
      for (const n of opts.bursts)
        bursts.push(await measureBurst(pg, size, n, opts, rows === Math.min(...opts.burstTables)));
    }
    const results: SizeResult[] = [];
    for (const s of sizes) {
      results.push({
        rows: s.rows,
        tableBytes: measured.get(s.rows)!.bytes,
        loadSeconds: s.loadSeconds,
        firstScrapeMs: s.firstScrapeMs,
        scrapeMs: s.scrapeMs,
        plans: measured.get(s.rows)!.plans,
      });
      opts.log(
        `${s.rows} rows: first ${s.firstScrapeMs.toFixed(1)} ms, median ${median(s.scrapeMs).toFixed(2)} ms ` +
          `(min ${Math.min(...s.scrapeMs).toFixed(2)}, max ${Math.max(...s.scrapeMs).toFixed(2)})`,
      );
    }
    for (const s of sizes) await s.database.close();
    const largest = opts.sizes[opts.sizes.length - 1]!;
    opts.log(`connections under ${opts.concurrentScrapes} concurrent scrapes x ${opts.rounds}`);
    const connections = await connectionsUnderLoad(pg, `${schemaOf(largest)}.scans`, opts);
    return {
      date: new Date().toISOString(),
      machine: { nproc: cpus().length, cpuModel: cpus()[0]?.model ?? "unknown", loadAtStart },
      sizes: results,
      deadlineMs: SCRAPE_DEADLINE_MS,
      bursts,
      connections,
    };
  } finally {
    for (const s of sizes) await s.database.close().catch(() => {});
    await pg.cleanup();
  }
}

const fmtRows = (n: number) =>
  n >= 1_000_000 ? `${n / 1_000_000}M` : n >= 1000 ? `${n / 1000}k` : String(n);
const bytes = (b: number) =>
  b >= 1024 ** 3
    ? `${(b / 1024 ** 3).toFixed(2)} GB`
    : b >= 1024 ** 2
      ? `${(b / 1024 ** 2).toFixed(0)} MB`
      : `${(b / 1024).toFixed(0)} kB`;
const ms = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

function renderBursts(r: ScaleResults): string[] {
  if (!r.bursts.length) return [];
  const lines = r.bursts.map((b) => {
    const before = median(b.steadyBeforeMs);
    const after = median(b.steadyAfterMs);
    const within = b.steadyAfterMs.filter((x) => x <= 1.5 * before).length;
    return (
      `| ${fmtRows(b.tableRows)} | ${fmtRows(b.burst)} | ${ms(b.insertMs)} | ` +
      `${b.insertWithoutTriggerMs === undefined ? "" : ms(b.insertWithoutTriggerMs)} | ${b.scrapes.length} | ` +
      `${b.scrapes.map((x) => (x.ok ? ms(x.ms) : `${ms(x.ms)} (failed)`)).join(", ")} | ` +
      `${b.scrapes.map((x) => x.toRead).join(", ")} | ${ms(before)} (${ms(Math.min(...b.steadyBeforeMs))}) | ` +
      `${ms(after)} (${ms(Math.min(...b.steadyAfterMs))}) | ${(after / before).toFixed(2)}x | ` +
      `${within}/${b.steadyAfterMs.length} | ${b.exact ? "yes" : "NO"} |`
    );
  });
  const all = r.bursts.flatMap((b) => b.scrapes);
  const worst = Math.max(...all.map((x) => x.ms));
  const inTime = all.every((x) => x.ok && x.ms <= r.deadlineMs);
  const ratios = r.bursts.map((b) => median(b.steadyAfterMs) / median(b.steadyBeforeMs));
  const everyAfter = r.bursts.every((b) => b.steadyAfterMs.every((x) => x <= 1.5 * median(b.steadyBeforeMs)));
  return [
    "",
    "### Bursts: a scrape's cost follows the rows committed since the last one",
    "",
    `Each burst is one \`INSERT ... SELECT\` of finished scans (all with one \`finished_at\`, as a mass cancel makes), into the table of the size shown, through the DDL's \`finish_xid\` trigger (on the smallest table, the same INSERT into a copy of the table without the trigger is timed first: the trigger's cost). Then the collector is scraped, with 5 scans finishing before each scrape, until \`kali_agents_scan_rows_to_read\` is 0; each scrape runs under the deadline a Prometheus scrape gives it (${r.deadlineMs} ms: the 10 s scrape_timeout less the 0.5 s margin), and reads the backlog for at most 2 s (\`catchUpBudgetMs\`). ${r.bursts[0]!.steadyBeforeMs.length} steady scrapes before the burst and after the catch-up give the medians compared. The burst is then deleted (the counters keep it) and the table vacuumed before the next one.`,
    "",
    "| table | burst | INSERT (ms) | without the trigger (ms) | scrapes to catch up | each scrape (ms) | rows still to read after each | steady median (min) before (ms) | after (ms) | after / before (medians) | steady scrapes after within 1.5x of before | counters = table |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ...lines,
    "",
    `**Targets:** no scrape past its deadline: ${inTime ? "met" : "NOT met"} (the longest ${ms(worst)} ms of ${r.deadlineMs}); ` +
      `steady scrapes after a catch-up within 1.5x of the steady median before it: medians ${ratios.map((x) => `${x.toFixed(2)}x`).join(", ")}, ` +
      `${everyAfter ? "every scrape within 1.5x: met" : "not every single scrape within 1.5x (see the column: outliers of the shared machine)"}; ` +
      `counters equal to the table after each catch-up: ${r.bursts.every((b) => b.exact) ? "yes" : "NO"}.`,
  ];
}

export function renderSection(r: ScaleResults, command: string): string {
  const base = r.sizes[0]!;
  const rows = r.sizes.map((s) => {
    const ratio = median(s.scrapeMs) / median(base.scrapeMs);
    return (
      `| ${fmtRows(s.rows)} | ${bytes(s.tableBytes)} | ${ms(median(s.scrapeMs))} | ` +
      `${ms(Math.min(...s.scrapeMs))} | ${ms(Math.max(...s.scrapeMs))} | ${ratio.toFixed(2)}x | ${ms(s.firstScrapeMs)} |`
    );
  });
  const last = r.sizes[r.sizes.length - 1]!;
  const ratio = median(last.scrapeMs) / median(base.scrapeMs);
  return [
    "## Scans collector at scale",
    "",
    `Produced by \`${command}\` (bench/scans-scale.ts) on ${r.date.slice(0, 10)} at ${r.date.slice(11, 16)} UTC.`,
    `Machine: ${r.machine.nproc} CPUs (${r.machine.cpuModel}), load average ${r.machine.loadAtStart.toFixed(1)} at the start: it is shared with other engineers' test runs, so absolute times are noisy; the ratios are taken within one run.`,
    "A throwaway PostgreSQL 15 (test/support/servers.ts) holds one scans table per size, each made by `exporter/sql/scans.sql` and filled with `generate_series` (finished scans, one every half second back in time, so none is past the 90-day retention), then vacuumed; 70 scans are active in each (50 queued, 20 running) and 5 scans finish before each measured scrape.",
    `Each size has its own collector; after its first scrape and one unmeasured warm-up scrape, ${base.scrapeMs.length} rounds time one scrape of every size each, in a shuffled order (\`collect()\` of the scans collector, from the call to its return), so that bursts of load on the shared machine fall on all sizes alike.`,
    "",
    "| rows | table and indexes | scrape median (ms) | min (ms) | max (ms) | median vs the smallest | first scrape, with the count at start (ms) |",
    "| --- | --- | --- | --- | --- | --- | --- |",
    ...rows,
    "",
    `**Target: ${fmtRows(last.rows)} rows within 2x of ${fmtRows(base.rows)}: ${ratio.toFixed(2)}x, ${ratio <= 2 ? "met" : "NOT met"}.** ` +
      "A scrape runs the same statements at every size, each through an index: its snapshot (`pg_current_snapshot()`), the rows committed since the last snapshot it caught up to (a range of the `(finish_xid, id)` index that holds only those rows, plus one probe for each transaction that was running then), the active scans (the partial index on queued and running), and one statement with `max(finished_at)` (one probe at the end of the `finished_at` index) and the rows past retention (a range of that index, counted up to 10000).",
    "The first scrape of a fresh exporter also counts the finished scans once (one grouped count, the only full pass over the table, in the snapshot the counting starts from); its time grows with the table, and at 10M rows it runs outside the scrape deadline if needed: the scans collector reports failure for the scrapes it overlaps, then counts from the result (docs/database.md).",
    "",
    `Plans at ${fmtRows(last.rows)} rows (\`EXPLAIN\` of each statement, its scan nodes): ` +
      Object.entries(last.plans)
        .map(([name, nodes]) => `${name}: ${nodes.map((n) => `\`${n}\``).join(", ")}`)
        .join("; ") +
      ".",
    "",
    ...renderBursts(r),
    "",
    `**Connections:** the whole exporter (postgres and scans collectors, one shared pool) under ${r.connections.rounds} rounds of ${r.connections.concurrent} concurrent scrapes held at most **${r.connections.max}** PostgreSQL connections (target: at most 2), counted in \`pg_stat_activity\` (sessions and any parallel workers) by \`application_name = '${APPLICATION_NAME}'\` over ${r.connections.samples} samples.`,
  ].join("\n");
}

const begin = "<!-- bench/scans-scale.ts: begin (generated by `npx tsx bench/scans-scale.ts`) -->";
const end = "<!-- bench/scans-scale.ts: end -->";

/** Replaces this benchmark's block of docs/performance.md (or appends it), leaving the rest alone. */
export function spliceScansSection(doc: string, section: string): string {
  const block = `${begin}\n\n${section.trim()}\n\n${end}`;
  const i = doc.indexOf(begin);
  const j = doc.indexOf(end);
  if (i >= 0 && j > i) return doc.slice(0, i) + block + doc.slice(j + end.length);
  if (i >= 0 || j >= 0) throw new Error("docs/performance.md: one scans-scale marker without the other");
  const head = doc.trim() ? doc.replace(/\s*$/, "\n\n") : "# Performance\n\n";
  return `${head}${block}\n`;
}

export function optionsFromEnv(env: NodeJS.ProcessEnv, log: (m: string) => void): ScaleOptions {
  const smoke = env.BENCH_SMOKE === "1";
  const list = env.BENCH_SCANS_SIZES?.split(",").map(Number);
  if (list && list.some((n) => !Number.isInteger(n) || n <= 0))
    throw new Error(`BENCH_SCANS_SIZES: ${env.BENCH_SCANS_SIZES} is not a list of positive integers`);
  const sizes = list ?? (smoke ? [1000] : [10_000, 1_000_000, 10_000_000]);
  const scrapes = Number(env.BENCH_SCANS_SCRAPES ?? (smoke ? 3 : 15));
  if (!Number.isInteger(scrapes) || scrapes < 1)
    throw new Error(`BENCH_SCANS_SCRAPES: ${env.BENCH_SCANS_SCRAPES} is not a positive integer`);
  const positive = (name: string, fallback: number[]): number[] => {
    const v = env[name];
    if (v === undefined) return fallback;
    const xs = v.split(",").map(Number);
    if (xs.some((n) => !Number.isInteger(n) || n <= 0))
      throw new Error(`${name}: ${v} is not a list of positive integers`);
    return xs;
  };
  const bursts = positive("BENCH_SCANS_BURSTS", smoke ? [2000] : [10_000, 100_000, 1_000_000]);
  const burstTables = positive("BENCH_SCANS_BURST_TABLES", [Math.min(...sizes), Math.max(...sizes)]).filter(
    (n, i, all) => all.indexOf(n) === i,
  );
  for (const t of burstTables)
    if (!sizes.includes(t))
      throw new Error(`BENCH_SCANS_BURST_TABLES: ${t} is not one of the sizes ${sizes.join(",")}`);
  return {
    sizes,
    scrapesPerSize: scrapes,
    concurrentScrapes: smoke ? 5 : 20,
    rounds: smoke ? 2 : 10,
    bursts,
    burstTables,
    steadyScrapes: smoke ? 3 : 20,
    log,
  };
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const log = (msg: string) =>
    console.error(`[scans-scale ${new Date().toISOString().slice(11, 19)}] ${msg}`);
  const opts = optionsFromEnv(process.env, log);
  const results = await measureScansScale(opts);
  const overrides = Object.entries(process.env)
    .filter(([k]) => k.startsWith("BENCH_") && k !== "BENCH_WRITE_DOCS")
    .map(([k, v]) => `${k}=${v} `)
    .join("");
  const section = renderSection(results, `${overrides}npx tsx bench/scans-scale.ts`);
  console.log(section);
  if (process.env.BENCH_SMOKE !== "1" && process.env.BENCH_WRITE_DOCS !== "0") {
    const file = join(repoRoot, "docs/performance.md");
    writeFileSync(file, spliceScansSection(existsSync(file) ? readFileSync(file, "utf8") : "", section));
    log("wrote docs/performance.md");
  }
}
