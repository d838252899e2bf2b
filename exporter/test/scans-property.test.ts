// Property: whatever the application does to the scans table, once the exporter has caught up its
// counters equal the table's `GROUP BY tool, status` (plus the rows deleted after they were counted), and
// the duration histogram's _count the scans that ran and finished since that exporter started. Random
// schedules (fast-check) over three application sessions against a real PostgreSQL 15: finished
// inserts (many in one statement, so with one finished_at), queued inserts, starts, mass finishes,
// commits and rollbacks in another order than the transactions began, deletes of counted rows (the
// cleanup), restarts of the exporter and of PostgreSQL (mid-catch-up: pages are tiny, so a backlog
// spans scrapes). Counters are also checked never to go down within one exporter, and to be exact at
// every scrape that says it caught up.
//
// The seed is logged; a failure shrinks to the smallest schedule and prints it with the seed, and
//   SCANS_PROPERTY_SEED=<seed> [SCANS_PROPERTY_PATH=<path>] node scripts/run-tests.mjs exporter/test/scans-property
// replays it. CI runs SCANS_PROPERTY_RUNS (default 12, about 30 s); `npm run test:scans-nightly` runs 300.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import fc from "fast-check";
import pg from "pg";
import { samples } from "../../test/support/exposition.ts";
import { requireBinaries, startPostgres, type PostgresServer } from "../../test/support/servers.ts";
import { PostgresDatabase } from "../src/postgres-pool.ts";
import { FINAL_STATUSES, scansCollector } from "../src/collectors/scans.ts";
import type { Collector } from "../src/collectors/types.ts";
import { captureLog, collectOnce, type CapturedLog } from "./collector-support.ts";
import { scansDdl } from "../../definitions/scans-ddl.ts";

const TOOLS = ["nmap", "nuclei", "sqlmap"] as const;
const SESSIONS = 3;

type Step =
  | { kind: "begin"; s: number }
  | { kind: "commit"; s: number }
  | { kind: "rollback"; s: number }
  | {
      kind: "insertFinished";
      s: number;
      tool: string;
      status: string;
      n: number;
      ran: boolean;
      ageSeconds: number;
    }
  | { kind: "insertQueued"; s: number; tool: string; n: number }
  | { kind: "start"; s: number }
  | { kind: "finishMany"; s: number; status: string }
  | { kind: "delete"; n: number }
  | { kind: "scrape" }
  | { kind: "restartExporter" }
  | { kind: "restartPostgres" };

const session = fc.integer({ min: 0, max: SESSIONS - 1 });
const tool = fc.constantFrom(...TOOLS);
const finalStatus = fc.constantFrom(...FINAL_STATUSES);
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 3, arbitrary: session.map((s) => ({ kind: "begin" as const, s })) },
  { weight: 3, arbitrary: session.map((s) => ({ kind: "commit" as const, s })) },
  { weight: 1, arbitrary: session.map((s) => ({ kind: "rollback" as const, s })) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("insertFinished" as const),
      s: session,
      tool,
      status: finalStatus,
      // Up to a few pages of 3 at once, all with one finished_at.
      n: fc.oneof(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 4, max: 25 })),
      ran: fc.boolean(),
      // Late and old finished_at values as well as now.
      ageSeconds: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 7200 })),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("insertQueued" as const),
      s: session,
      tool,
      n: fc.integer({ min: 1, max: 20 }),
    }),
  },
  { weight: 2, arbitrary: session.map((s) => ({ kind: "start" as const, s })) },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant("finishMany" as const), s: session, status: finalStatus }),
  },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 30 }).map((n) => ({ kind: "delete" as const, n })) },
  { weight: 5, arbitrary: fc.constant({ kind: "scrape" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "restartExporter" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "restartPostgres" as const }) },
);

// Two schedules always run first, whatever the seed. A transaction finishes scans and stays open while a
// later one commits and a scrape completes (so it is in that snapshot's xip list, below its xmax), then
// commits: the case a read from a watermark misses.
const lateCommit: Step[] = [
  { kind: "begin", s: 0 },
  { kind: "insertFinished", s: 0, tool: "nmap", status: "success", n: 2, ran: true, ageSeconds: 3600 },
  { kind: "insertFinished", s: 1, tool: "nmap", status: "failed", n: 1, ran: true, ageSeconds: 0 },
  { kind: "scrape" },
  { kind: "insertFinished", s: 2, tool: "nuclei", status: "success", n: 1, ran: false, ageSeconds: 0 },
  { kind: "scrape" },
  { kind: "commit", s: 0 },
  { kind: "scrape" },
];
// A mass cancel larger than a scrape reads (pages of 3, two a scrape), PostgreSQL restarting in the
// middle of reading it, and the exporter restarting after.
const massCancelAcrossRestart: Step[] = [
  { kind: "insertQueued", s: 0, tool: "sqlmap", n: 20 },
  { kind: "scrape" },
  { kind: "start", s: 0 },
  { kind: "finishMany", s: 0, status: "cancelled" },
  { kind: "scrape" },
  { kind: "restartPostgres" },
  { kind: "scrape" },
  { kind: "scrape" },
  { kind: "delete", n: 5 },
  { kind: "restartExporter" },
  { kind: "scrape" },
];

type Tally = Map<string, number>;
const key = (tool: string, status: string) => `${tool}/${status}`;
const add = (t: Tally, k: string, n: number) => t.set(k, (t.get(k) ?? 0) + n);

describe(
  "scans collector: counts equal the table under random schedules",
  { skip: requireBinaries("postgres", "initdb") },
  () => {
    let server: PostgresServer;
    let runs = 0;
    before(async () => {
      server = await startPostgres({ settings: { max_connections: "40" } });
    });
    after(async () => {
      await server?.cleanup();
    });

    /** One schedule, from a fresh table; throws (an assertion) on any disagreement. */
    const runSchedule = async (steps: Step[]) => {
      const schema = `p${++runs}`;
      const table = `${schema}.scans`;
      await server.query(`CREATE SCHEMA ${schema}; SET search_path TO ${schema}; ${scansDdl}`);
      const database = new PostgresDatabase(
        {
          url: server.url,
          connectTimeoutMs: 3000,
          statementTimeoutMs: 5000,
          lockTimeoutMs: 1000,
          idleTimeoutMs: 10_000,
        },
        captureLog().log,
      );
      const clients: (pg.Client | undefined)[] = [];
      const open: boolean[] = Array.from({ length: SESSIONS }, () => false);
      const connect = async (i: number) => {
        const c = new pg.Client({ connectionString: server.url });
        c.on("error", () => {});
        await c.connect();
        clients[i] = c;
        open[i] = false;
      };
      for (let i = 0; i < SESSIONS; i++) await connect(i);
      const on = (i: number, text: string, params?: unknown[]) => clients[i]!.query(text, params);
      /** The table's finished rows, by tool and status, and those that ran (have a started_at), by tool. */
      const tableCounts = async () => {
        const rows = await server.query<{ tool: string; status: string; n: number; ran: number }>(
          `SELECT tool, status, count(*)::int AS n, count(started_at)::int AS ran FROM ${table}
         WHERE status IN ('success', 'failed', 'cancelled') GROUP BY tool, status`,
        );
        const byStatus: Tally = new Map();
        const ran: Tally = new Map();
        for (const r of rows) {
          add(byStatus, key(r.tool, r.status), r.n);
          add(ran, r.tool, r.ran);
        }
        return { byStatus, ran };
      };

      let logged: CapturedLog = captureLog();
      let collector: Collector = scansCollector.create(
        {
          database,
          table: { schema, table: "scans" },
          retentionDays: 90,
          batchSize: 3,
          maxPagesPerScrape: 2,
        },
        logged.log,
      );
      // Per exporter instance: what was deleted after its start count, and the ran rows at that count.
      let deleted: Tally = new Map();
      let deletedRan: Tally = new Map();
      let ranAtStart: Tally | undefined;
      let last: Tally = new Map();
      /** Counted ids: every row final and committed at a scrape that caught up (the cleanup deletes those). */
      let counted = new Set<string>();

      const exposed = async (families: Awaited<ReturnType<typeof collectOnce>>["families"]) => {
        const totals: Tally = new Map();
        for (const x of samples(families, "kali_agents_scans_total"))
          if (x.value) totals.set(key(x.labels.tool!, x.labels.status!), x.value);
        const hist: Tally = new Map();
        for (const x of samples(families, "kali_agents_scan_duration_seconds_count"))
          if (x.value) hist.set(x.labels.tool!, x.value);
        return { totals, hist };
      };
      const expectEqual = async (why: string, got: { totals: Tally; hist: Tally }) => {
        const t = await tableCounts();
        const want: Tally = new Map(t.byStatus);
        for (const [k, n] of deleted) add(want, k, n);
        const wantHist: Tally = new Map();
        for (const tl of TOOLS) {
          const n = (t.ran.get(tl) ?? 0) + (deletedRan.get(tl) ?? 0) - (ranAtStart?.get(tl) ?? 0);
          if (n) wantHist.set(tl, n);
        }
        const sorted = (m: Tally) => Object.fromEntries([...m].filter(([, v]) => v).sort());
        assert.deepEqual(sorted(got.totals), sorted(want), `${why}: kali_agents_scans_total vs the table`);
        assert.deepEqual(sorted(got.hist), wantHist.size ? sorted(wantHist) : {}, `${why}: histogram _count`);
      };

      /** One scrape; true when it caught up with everything committed before it. */
      const scrape = async (): Promise<boolean> => {
        const before = logged.lines.length;
        const out = await collectOnce(collector, logged.log, 5000);
        if (!out.ok) return false; // e.g. the first scrape after PostgreSQL restarted: the pool reconnects
        const got = await exposed(out.families);
        for (const [k, v] of last)
          assert.ok(
            (got.totals.get(k) ?? 0) >= v,
            `counter ${k} went down: ${v} -> ${got.totals.get(k) ?? 0}`,
          );
        last = got.totals;
        if (ranAtStart === undefined) {
          // This exporter's first scrape: its start count. Nothing commits during a step.
          ranAtStart = (await tableCounts()).ran;
          deleted = new Map();
          deletedRan = new Map();
        }
        const read = logged
          .events()
          .slice(before)
          .filter((e) => e.msg === "scans read");
        const caughtUp = read.length > 0 && read[read.length - 1]!.caughtUp === true;
        if (caughtUp) {
          await expectEqual("a scrape that caught up", got);
          const ids = await server.query<{ id: string }>(
            `SELECT id::text AS id FROM ${table} WHERE status IN ('success', 'failed', 'cancelled')`,
          );
          counted = new Set(ids.map((r) => r.id));
        }
        return caughtUp;
      };

      const restartExporter = async () => {
        await collector.close?.();
        logged = captureLog();
        collector = scansCollector.create(
          {
            database,
            table: { schema, table: "scans" },
            retentionDays: 90,
            batchSize: 3,
            maxPagesPerScrape: 2,
          },
          logged.log,
        );
        ranAtStart = undefined;
        last = new Map();
      };

      try {
        for (const step of steps) {
          switch (step.kind) {
            case "begin":
              if (!open[step.s]) {
                await on(step.s, "BEGIN");
                open[step.s] = true;
              }
              break;
            case "commit":
            case "rollback":
              if (open[step.s]) {
                await on(step.s, step.kind === "commit" ? "COMMIT" : "ROLLBACK");
                open[step.s] = false;
              }
              break;
            case "insertFinished":
              await on(
                step.s,
                `INSERT INTO ${table} (tool, target, status, started_at, finished_at)
               SELECT $1, 's' || $2::int, $3, CASE WHEN $4 THEN f - interval '1 minute' END, f
               FROM generate_series(1, $5::int), LATERAL (SELECT now() - make_interval(secs => $6) AS f) t`,
                [step.tool, step.s, step.status, step.ran, step.n, step.ageSeconds],
              );
              break;
            case "insertQueued":
              await on(
                step.s,
                `INSERT INTO ${table} (tool, target) SELECT $1, 's' || $2::int FROM generate_series(1, $3::int)`,
                [step.tool, step.s, step.n],
              );
              break;
            case "start":
              // Each session updates only its own rows, so no step waits for another session's lock.
              await on(
                step.s,
                `UPDATE ${table} SET status = 'running', started_at = now()
               WHERE id IN (SELECT id FROM ${table} WHERE target = 's' || $1::int AND status = 'queued' LIMIT 5)`,
                [step.s],
              );
              break;
            case "finishMany":
              await on(
                step.s,
                `UPDATE ${table} SET status = $2, finished_at = now()
               WHERE target = 's' || $1::int AND status IN ('queued', 'running')`,
                [step.s, step.status],
              );
              break;
            case "delete": {
              // The cleanup, on its own connection: rows counted already (in practice, 90 days old).
              const ids = [...counted].slice(0, step.n);
              counted = new Set([...counted].slice(step.n));
              if (!ids.length) break;
              const gone = await server.query<{ tool: string; status: string; ran: boolean }>(
                `DELETE FROM ${table} WHERE id = ANY($1::bigint[]) RETURNING tool, status, started_at IS NOT NULL AS ran`,
                [ids],
              );
              if (ranAtStart !== undefined)
                for (const g of gone) {
                  add(deleted, key(g.tool, g.status), 1);
                  if (g.ran) add(deletedRan, g.tool, 1);
                }
              break;
            }
            case "scrape":
              await scrape();
              break;
            case "restartExporter":
              await restartExporter();
              break;
            case "restartPostgres":
              // Fast shutdown: open transactions are rolled back, every session is cut.
              await server.stop();
              await server.restart();
              for (let i = 0; i < SESSIONS; i++) {
                await clients[i]!.end().catch(() => {});
                await connect(i);
              }
              break;
          }
        }
        // The end: every open transaction commits (out of order: last session first), then the exporter
        // catches up, in as many scrapes as it needs.
        for (let i = SESSIONS - 1; i >= 0; i--)
          if (open[i]) {
            await on(i, "COMMIT");
            open[i] = false;
          }
        let caught = false;
        for (let i = 0; i < 200 && !caught; i++) caught = await scrape();
        assert.ok(caught, "the exporter did not catch up within 200 scrapes");
      } finally {
        for (const c of clients) await c?.end().catch(() => {});
        await collector.close?.();
        await database.close();
        await server.query(`DROP SCHEMA ${schema} CASCADE`).catch(() => {});
      }
    };

    test("random schedules", { timeout: 3_600_000 }, async () => {
      const numRuns = Number(process.env.SCANS_PROPERTY_RUNS ?? 12);
      const seed = Number(process.env.SCANS_PROPERTY_SEED ?? (Date.now() ^ (Math.random() * 0x7fffffff)) | 0);
      const path = process.env.SCANS_PROPERTY_PATH;
      console.log(`scans property: seed ${seed}, ${numRuns} runs (SCANS_PROPERTY_SEED=${seed} replays them)`);
      await fc.assert(
        fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 40 }), async (steps) => {
          await runSchedule(steps);
        }),
        {
          seed,
          numRuns,
          ...(path ? { path } : {}),
          verbose: 1,
          examples: [[lateCommit], [massCancelAcrossRestart]],
        },
      );
    });
  },
);
