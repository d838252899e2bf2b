// The scans collector against a real PostgreSQL 15 with the shipped DDL (definitions/scans-ddl.ts, and its
// psql file exporter/sql/scans.sql for the live-table migration): counters from the start-up count then by
// finishing transaction, late and rolled-back commits, a backlog over several scrapes, the two
// regressions (12,000 ties, a 20,000-row mass cancel), deletions that must not lower a counter, the
// histogram, the active gauges, retention, the live-table migration, a restored table, and a missing table,
// column or trigger. Random schedules: scans-property.test.ts.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { family, sample, samples } from "../../test/support/exposition.ts";
import { requireBinaries, run, startPostgres, type PostgresServer } from "../../test/support/servers.ts";
import { postgresCollector } from "../src/collectors/postgres.ts";
import { PostgresDatabase } from "../src/postgres-pool.ts";
import { quoteIdent } from "../../lib/sql.ts";
import { scansCollector, type ScansOptions } from "../src/collectors/scans.ts";
import { captureLog, collectOnce, type Outcome } from "./collector-support.ts";
import { scansDdl } from "../../definitions/scans-ddl.ts";

const repoPath = (path: string) => new URL(`../../${path}`, import.meta.url).pathname;

test("quoteIdent doubles quotes so a configured name cannot break out of the identifier", () => {
  assert.equal(quoteIdent("scans"), '"scans"');
  assert.equal(quoteIdent('a"; DROP TABLE x; --'), '"a""; DROP TABLE x; --"');
});

describe("scans collector", { skip: requireBinaries("postgres", "initdb") }, () => {
  let server: PostgresServer;
  let database: PostgresDatabase;
  let schemas = 0;
  before(async () => {
    server = await startPostgres();
    database = new PostgresDatabase(
      {
        url: server.url,
        connectTimeoutMs: 2000,
        statementTimeoutMs: 2000,
        lockTimeoutMs: 500,
        idleTimeoutMs: 10_000,
      },
      captureLog().log,
    );
  });
  after(async () => {
    await database?.close();
    await server?.cleanup();
  });

  /** A fresh schema with the shipped DDL, so each test starts from an empty table. */
  const freshTable = async () => {
    const schema = `t${++schemas}`;
    await server.query(`CREATE SCHEMA ${schema}; SET search_path TO ${schema}; ${scansDdl}`);
    return {
      schema,
      table: "scans",
      sql: (text: string) => server.query(text.replaceAll("SCANS", `${schema}.scans`)),
    };
  };
  const create = (table: { schema: string; table: string }, extra: Partial<ScansOptions> = {}) => {
    const logged = captureLog();
    return {
      ...logged,
      collector: scansCollector.create({ database, table, retentionDays: 90, ...extra }, logged.log),
    };
  };

  test("counts finished scans from the current totals, then incrementally, with the histogram and active gauges", async () => {
    const t = await freshTable();
    // Before the exporter starts: 3 nmap successes, 1 nmap failure, 2 nikto cancelled; 1 queued, 2 running.
    await t.sql(`INSERT INTO SCANS (tool, target, status, created_at, started_at, finished_at) VALUES
      ('nmap', 'a', 'success', now() - interval '1 hour', now() - interval '1 hour', now() - interval '59 minutes'),
      ('nmap', 'b', 'success', now() - interval '1 hour', now() - interval '1 hour', now() - interval '58 minutes'),
      ('nmap', 'c', 'success', now() - interval '1 hour', now() - interval '1 hour', now() - interval '57 minutes'),
      ('nmap', 'd', 'failed',  now() - interval '1 hour', now() - interval '1 hour', now() - interval '56 minutes'),
      ('nikto', 'e', 'cancelled', now() - interval '1 hour', NULL, now() - interval '55 minutes'),
      ('nikto', 'f', 'cancelled', now() - interval '1 hour', now() - interval '1 hour', now() - interval '54 minutes'),
      ('nmap', 'g', 'queued', now(), NULL, NULL),
      ('nikto', 'h', 'running', now() - interval '200 seconds', now() - interval '100 seconds', NULL),
      ('nmap', 'i', 'running', now() - interval '50 seconds', now() - interval '40 seconds', NULL)`);
    const { collector, log } = create(t);
    let out = await collectOnce(collector, log);
    assert.ok(out.ok, out.error?.message);
    let f = out.families;
    assert.equal(family(f, "kali_agents_scans_total")?.type, "counter");
    assert.equal(sample(f, "kali_agents_scans_total", { tool: "nmap", status: "success" }), 3);
    assert.equal(sample(f, "kali_agents_scans_total", { tool: "nmap", status: "failed" }), 1);
    assert.equal(sample(f, "kali_agents_scans_total", { tool: "nmap", status: "cancelled" }), 0);
    assert.equal(sample(f, "kali_agents_scans_total", { tool: "nikto", status: "cancelled" }), 2);
    assert.equal(sample(f, "kali_agents_scans_total", { tool: "nikto", status: "success" }), 0);
    assert.equal(sample(f, "kali_agents_active_scans", { tool: "nmap", status: "queued" }), 1);
    assert.equal(sample(f, "kali_agents_active_scans", { tool: "nmap", status: "running" }), 1);
    assert.equal(sample(f, "kali_agents_active_scans", { tool: "nikto", status: "running" }), 1);
    assert.equal(sample(f, "kali_agents_active_scans", { tool: "nikto", status: "queued" }), 0);
    const oldest = sample(f, "kali_agents_oldest_running_scan_age_seconds")!;
    assert.ok(oldest >= 100 && oldest < 130, `oldest running ${oldest}`);
    const [last] = await t.sql("SELECT extract(epoch FROM max(finished_at))::float8 AS e FROM SCANS");
    assert.ok(
      Math.abs(sample(f, "kali_agents_last_scan_finished_timestamp_seconds")! - Number(last!.e)) < 0.001,
    );
    assert.equal(sample(f, "kali_agents_scan_rows_past_retention"), 0);
    // The histogram holds scans that finished since the exporter started: none yet.
    assert.equal(samples(f, "kali_agents_scan_duration_seconds_count").length, 0);

    // Scans finish: the running nikto (after 100 s) and the queued nmap (a 10 s run); a new one fails.
    await t.sql(`UPDATE SCANS SET status = 'success', finished_at = now() WHERE target = 'h'`);
    await t.sql(`UPDATE SCANS SET status = 'failed', started_at = now() - interval '10 seconds', finished_at = now()
      WHERE target = 'g'`);
    await t.sql(`INSERT INTO SCANS (tool, target, status, started_at, finished_at)
      VALUES ('sqlmap', 'j', 'failed', now() - interval '2 seconds', now())`);
    out = await collectOnce(collector, log);
    assert.ok(out.ok, out.error?.message);
    f = out.families;
    assert.equal(sample(f, "kali_agents_scans_total", { tool: "nikto", status: "success" }), 1);
    assert.equal(sample(f, "kali_agents_scans_total", { tool: "nmap", status: "failed" }), 2);
    assert.equal(sample(f, "kali_agents_scans_total", { tool: "nmap", status: "success" }), 3);
    assert.equal(sample(f, "kali_agents_scans_total", { tool: "sqlmap", status: "failed" }), 1);
    assert.equal(sample(f, "kali_agents_active_scans", { tool: "nmap", status: "queued" }), 0);
    assert.equal(sample(f, "kali_agents_active_scans", { tool: "nikto", status: "running" }), 0);
    assert.equal(sample(f, "kali_agents_active_scans", { tool: "sqlmap", status: "running" }), 0);
    const oldestNow = sample(f, "kali_agents_oldest_running_scan_age_seconds")!;
    assert.ok(oldestNow >= 40 && oldestNow < 70, `oldest running ${oldestNow}`);
    // Histogram: nikto 100 s (le 120, not le 60), nmap 10 s (le 15, not le 5), sqlmap 2 s (le 5).
    assert.equal(sample(f, "kali_agents_scan_duration_seconds_count", { tool: "nikto" }), 1);
    assert.equal(sample(f, "kali_agents_scan_duration_seconds_bucket", { tool: "nikto", le: "60" }), 0);
    assert.equal(sample(f, "kali_agents_scan_duration_seconds_bucket", { tool: "nikto", le: "120" }), 1);
    assert.equal(sample(f, "kali_agents_scan_duration_seconds_bucket", { tool: "nmap", le: "5" }), 0);
    assert.equal(sample(f, "kali_agents_scan_duration_seconds_bucket", { tool: "nmap", le: "15" }), 1);
    assert.equal(sample(f, "kali_agents_scan_duration_seconds_bucket", { tool: "sqlmap", le: "5" }), 1);
    assert.ok(Math.abs(sample(f, "kali_agents_scan_duration_seconds_sum", { tool: "nikto" })! - 100) < 2);

    // Nothing new: nothing moves.
    out = await collectOnce(collector, log);
    assert.equal(sample(out.families, "kali_agents_scans_total", { tool: "nmap", status: "failed" }), 2);
    assert.equal(sample(out.families, "kali_agents_scan_duration_seconds_count", { tool: "nmap" }), 1);

    // A restarted exporter starts from the table's totals.
    const restarted = create(t);
    const r = await collectOnce(restarted.collector, restarted.log);
    assert.equal(sample(r.families, "kali_agents_scans_total", { tool: "nmap", status: "failed" }), 2);
    assert.equal(sample(r.families, "kali_agents_scans_total", { tool: "nikto", status: "cancelled" }), 2);
  });

  test("deleting old rows never lowers a counter; rows past retention show until the cleanup runs", async () => {
    const t = await freshTable();
    await t.sql(`INSERT INTO SCANS (tool, target, status, started_at, finished_at)
      SELECT 'nmap', 'old' || g, 'success', now() - interval '100 days', now() - interval '100 days' + g * interval '1 second'
      FROM generate_series(1, 5) g`);
    await t.sql(`INSERT INTO SCANS (tool, target, status, started_at, finished_at)
      VALUES ('nmap', 'new', 'success', now() - interval '1 minute', now())`);
    const { collector, log } = create(t, { retentionCountCap: 3 });
    let out = await collectOnce(collector, log);
    assert.ok(out.ok, out.error?.message);
    assert.equal(sample(out.families, "kali_agents_scans_total", { tool: "nmap", status: "success" }), 6);
    // Capped count: the query stops at the cap, whatever the backlog.
    assert.equal(sample(out.families, "kali_agents_scan_rows_past_retention"), 3);
    const uncapped = create(t);
    assert.equal(
      sample(
        (await collectOnce(uncapped.collector, uncapped.log)).families,
        "kali_agents_scan_rows_past_retention",
      ),
      5,
    );

    await t.sql("DELETE FROM SCANS WHERE finished_at < now() - interval '90 days'");
    out = await collectOnce(collector, log);
    assert.equal(sample(out.families, "kali_agents_scans_total", { tool: "nmap", status: "success" }), 6);
    assert.equal(sample(out.families, "kali_agents_scan_rows_past_retention"), 0);
    await t.sql(`INSERT INTO SCANS (tool, target, status, started_at, finished_at)
      VALUES ('nmap', 'newer', 'success', now() - interval '1 minute', now())`);
    out = await collectOnce(collector, log);
    assert.equal(sample(out.families, "kali_agents_scans_total", { tool: "nmap", status: "success" }), 7);
  });

  /** A connection of its own, to hold a transaction open while others commit. */
  const session = async (schema: string) => {
    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    return {
      sql: (text: string) => client.query(text.replaceAll("SCANS", `${schema}.scans`)),
      end: () => client.end(),
    };
  };
  const total = (out: Outcome, tool: string, status: string) =>
    sample(out.families, "kali_agents_scans_total", { tool, status }) ?? 0;

  test("a transaction that commits late, after later finishes were counted, is counted once, however old its finished_at", async () => {
    const t = await freshTable();
    await t.sql(`INSERT INTO SCANS (tool, target, status, started_at, finished_at)
      VALUES ('nmap', 'a', 'success', now() - interval '1 minute', now())`);
    const { collector, log } = create(t);
    assert.equal(total(await collectOnce(collector, log), "nmap", "success"), 1);
    // A finishes a scan an hour in the past (and another in one statement), then stays open while B
    // finishes scans and commits, and scrapes move on.
    const a = await session(t.schema);
    try {
      await a.sql("BEGIN");
      await a.sql(`INSERT INTO SCANS (tool, target, status, started_at, finished_at)
        VALUES ('nmap', 'late', 'success', now() - interval '2 hours', now() - interval '1 hour'),
               ('nikto', 'late', 'failed', now() - interval '2 hours', now() - interval '1 hour')`);
      await t.sql(`INSERT INTO SCANS (tool, target, status, started_at, finished_at)
        VALUES ('nmap', 'b', 'success', now() - interval '1 minute', now())`);
      let out = await collectOnce(collector, log);
      assert.equal(total(out, "nmap", "success"), 2);
      assert.equal(total(out, "nikto", "failed"), 0);
      await t.sql(`INSERT INTO SCANS (tool, target, status, started_at, finished_at)
        VALUES ('nmap', 'c', 'success', now() - interval '1 minute', now())`);
      out = await collectOnce(collector, log);
      assert.equal(total(out, "nmap", "success"), 3);
      await a.sql("COMMIT");
      out = await collectOnce(collector, log);
      assert.equal(total(out, "nmap", "success"), 4);
      assert.equal(total(out, "nikto", "failed"), 1);
      out = await collectOnce(collector, log);
      assert.equal(total(out, "nmap", "success"), 4);
      assert.equal(total(out, "nikto", "failed"), 1);
      // A rolled-back finish is never counted.
      await a.sql("BEGIN");
      await a.sql(`UPDATE SCANS SET status = 'cancelled' WHERE target = 'a'`).catch(() => {});
      await a.sql("ROLLBACK");
      await a.sql("BEGIN");
      await a.sql(`INSERT INTO SCANS (tool, target, status, started_at, finished_at)
        VALUES ('nmap', 'rolled back', 'success', now(), now())`);
      await a.sql("ROLLBACK");
      out = await collectOnce(collector, log);
      assert.equal(total(out, "nmap", "success"), 4);
    } finally {
      await a.end();
    }
  });

  test("a burst larger than a page is read page by page, over several scrapes, with the rows still to read", async () => {
    const t = await freshTable();
    const { collector, log } = create(t, { batchSize: 4, maxPagesPerScrape: 2 });
    assert.ok((await collectOnce(collector, log)).ok);
    // 7 rows at distinct instants and 3 sharing one: 10 rows, read in pages of 4, two pages a scrape.
    await t.sql(`INSERT INTO SCANS (tool, target, status, started_at, finished_at)
      SELECT 'nmap', 'b' || g, 'success', now() - interval '1 minute', now() - interval '10 seconds' + g * interval '1 ms'
      FROM generate_series(1, 7) g`);
    await t.sql(`INSERT INTO SCANS (tool, target, status, started_at, finished_at)
      SELECT 'nmap', 'tie' || g, 'failed', now() - interval '1 minute', now()
      FROM generate_series(1, 3) g`);
    let out = await collectOnce(collector, log);
    const both = () => total(out, "nmap", "success") + total(out, "nmap", "failed");
    assert.equal(both(), 8);
    assert.equal(sample(out.families, "kali_agents_scan_rows_to_read"), 2);
    // Finished while the backlog is read: the scrape that ends the backlog reads it too (its own
    // snapshot's rows come after the backlog's).
    await t.sql(`INSERT INTO SCANS (tool, target, status, started_at, finished_at)
      VALUES ('nmap', 'during', 'success', now() - interval '1 minute', now())`);
    out = await collectOnce(collector, log);
    assert.equal(both(), 11);
    assert.equal(sample(out.families, "kali_agents_scan_rows_to_read"), 0);
    out = await collectOnce(collector, log);
    assert.equal(both(), 11);
    assert.equal(sample(out.families, "kali_agents_scan_duration_seconds_count", { tool: "nmap" }), 11);
    assert.equal(sample(out.families, "kali_agents_scan_rows_to_read"), 0);
  });

  test("regression: 12,000 scans finished by one INSERT ... SELECT (one finished_at), then one more", async () => {
    const t = await freshTable();
    const { collector, log } = create(t);
    assert.ok((await collectOnce(collector, log)).ok);
    await t.sql(`INSERT INTO SCANS (tool, target, status, started_at, finished_at)
      SELECT 'nmap', 'host' || g, 'success', now() - interval '1 minute', now() FROM generate_series(1, 12000) g`);
    let out = await collectOnce(collector, log, 10_000);
    assert.ok(out.ok, out.error?.message);
    assert.equal(total(out, "nmap", "success"), 12_000);
    assert.equal(sample(out.families, "kali_agents_scan_duration_seconds_count", { tool: "nmap" }), 12_000);
    await t.sql(`INSERT INTO SCANS (tool, target, status, started_at, finished_at)
      VALUES ('nmap', 'one more', 'success', now() - interval '1 minute', now() + interval '1 second')`);
    out = await collectOnce(collector, log);
    assert.equal(total(out, "nmap", "success"), 12_001);
    const [n] = await t.sql("SELECT count(*)::int AS n FROM SCANS WHERE status = 'success'");
    assert.equal(n!.n, 12_001);
  });

  test("regression: a mass cancel of 20,000 queued scans in one UPDATE is counted in full", async () => {
    const t = await freshTable();
    await t.sql(
      `INSERT INTO SCANS (tool, target) SELECT 'nmap', 'host' || g FROM generate_series(1, 20000) g`,
    );
    const { collector, log } = create(t);
    let out = await collectOnce(collector, log);
    assert.equal(
      sample(out.families, "kali_agents_active_scans", { tool: "nmap", status: "queued" }),
      20_000,
    );
    await t.sql(`UPDATE SCANS SET status = 'cancelled', finished_at = now() WHERE status = 'queued'`);
    out = await collectOnce(collector, log, 10_000);
    assert.ok(out.ok, out.error?.message);
    assert.equal(total(out, "nmap", "cancelled"), 20_000);
    assert.equal(sample(out.families, "kali_agents_active_scans", { tool: "nmap", status: "queued" }), 0);
    assert.equal(sample(out.families, "kali_agents_scan_rows_to_read"), 0);
    // Never started: no duration to observe.
    assert.equal(
      sample(out.families, "kali_agents_scan_duration_seconds_count", { tool: "nmap" }),
      undefined,
    );
    out = await collectOnce(collector, log);
    assert.equal(total(out, "nmap", "cancelled"), 20_000);
  });

  test(
    "a live table from before finish_xid: the migration adds it without a long lock, twice, and scans.sql refuses a blocking index build",
    {
      skip: requireBinaries("psql"),
    },
    async () => {
      // The table as the DDL made it before finish_xid, with rows, and large enough (reltuples) that
      // scans.sql must not build the index itself.
      await server.query(`CREATE SCHEMA mig; CREATE TABLE mig.scans (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tool text NOT NULL, target text NOT NULL,
        status text NOT NULL DEFAULT 'queued', created_at timestamptz NOT NULL DEFAULT now(),
        started_at timestamptz, finished_at timestamptz);
      INSERT INTO mig.scans (tool, target, status, started_at, finished_at)
        SELECT 'nmap', 'h', 'success', now() - interval '1 hour', now() FROM generate_series(1, 100001);
      ANALYZE mig.scans`);
      const url = `${server.url}?options=${encodeURIComponent("-csearch_path=mig")}`;
      const refused = run("psql", [
        url,
        "-v",
        "ON_ERROR_STOP=1",
        "-q",
        "-f",
        repoPath("exporter/sql/scans.sql"),
      ]);
      assert.notEqual(refused.status, 0);
      assert.match(refused.stderr, /scans_finish_xid_idx is missing on a table of about 100001 rows/);
      assert.match(refused.stderr, /exporter\/sql\/scans-finish-xid\.sql/);
      const migrate = () =>
        run("psql", [
          url,
          "-v",
          "ON_ERROR_STOP=1",
          "-q",
          "-f",
          repoPath("exporter/sql/scans-finish-xid.sql"),
        ]);
      for (let i = 0; i < 2; i++) {
        const r = migrate();
        assert.equal(r.status, 0, r.stderr);
      }
      // An interrupted build leaves an invalid index: the script drops it and builds it again.
      await server.query(
        `UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'mig.scans_finish_xid_idx'::regclass`,
      );
      const again = migrate();
      assert.equal(again.status, 0, again.stderr);
      const [idx] = await server.query<{ valid: boolean; def: string }>(`SELECT i.indisvalid AS valid,
        pg_get_indexdef(i.indexrelid) AS def FROM pg_index i WHERE i.indexrelid = 'mig.scans_finish_xid_idx'::regclass`);
      assert.equal(idx!.valid, true);
      assert.match(idx!.def, /\(finish_xid, id\) WHERE \(finish_xid IS NOT NULL\)/);
      // Now scans.sql runs (a no-op), the old rows keep no stamp (no backfill), and the collector counts
      // them at start and the new ones as they commit.
      const ok = run("psql", [url, "-v", "ON_ERROR_STOP=1", "-q", "-f", repoPath("exporter/sql/scans.sql")]);
      assert.equal(ok.status, 0, ok.stderr);
      const { collector, log } = create({ schema: "mig", table: "scans" });
      let out = await collectOnce(collector, log, 10_000);
      assert.ok(out.ok, out.error?.message);
      assert.equal(total(out, "nmap", "success"), 100_001);
      await server.query(`INSERT INTO mig.scans (tool, target) VALUES ('nmap', 'q');
      UPDATE mig.scans SET status = 'failed', finished_at = now() WHERE target = 'q'`);
      out = await collectOnce(collector, log);
      assert.equal(total(out, "nmap", "failed"), 1);
      assert.equal(total(out, "nmap", "success"), 100_001);
    },
  );

  test("stamps from another cluster (a restored table) fail with a clear error until cleared, instead of counting twice", async () => {
    const t = await freshTable();
    await t.sql(`INSERT INTO SCANS (tool, target, status, started_at, finished_at)
      VALUES ('nmap', 'a', 'success', now(), now()), ('nmap', 'b', 'success', now(), now())`);
    // As pg_restore leaves them: the old cluster's transaction ids, ahead of this one's.
    await t.sql(`UPDATE SCANS SET finish_xid = '987654321' WHERE target = 'b'`);
    const { collector, log } = create(t);
    const out = await collectOnce(collector, log);
    assert.equal(out.ok, false);
    assert.match(
      out.error!.message,
      /^the scans table t\d+\.scans holds finish_xid 987654321, a transaction id this server has not reached/,
    );
    // The statement docs/database.md gives.
    await t.sql(
      `UPDATE SCANS SET finish_xid = NULL WHERE finish_xid >= pg_snapshot_xmax(pg_current_snapshot())`,
    );
    const fixed = await collectOnce(collector, log);
    assert.ok(fixed.ok, fixed.error?.message);
    assert.equal(total(fixed, "nmap", "success"), 2);
  });

  test("a trigger dropped or disabled while the exporter runs: the next scrape fails and says so", async () => {
    const t = await freshTable();
    const { collector, log } = create(t);
    assert.ok((await collectOnce(collector, log)).ok);
    await t.sql("ALTER TABLE SCANS DISABLE TRIGGER scans_finish_update");
    const out = await collectOnce(collector, log);
    assert.equal(out.ok, false);
    assert.match(
      out.error!.message,
      /^the scans table t\d+\.scans lacks the trigger scans_finish_update \(or it is disabled\)/,
    );
    await t.sql("ALTER TABLE SCANS ENABLE TRIGGER scans_finish_update");
    assert.ok((await collectOnce(collector, log)).ok);
  });

  test("a table in another schema, named by configuration, is quoted and read", async () => {
    await server.query(`CREATE SCHEMA "app data"; SET search_path TO "app data"; ${scansDdl}`);
    await server.query(`INSERT INTO "app data".scans (tool, target) VALUES ('nmap', 'x')`);
    const { collector, log } = create({ schema: "app data", table: "scans" });
    const out = await collectOnce(collector, log);
    assert.ok(out.ok, out.error?.message);
    assert.equal(sample(out.families, "kali_agents_active_scans", { tool: "nmap", status: "queued" }), 1);
  });

  test("a missing table or column: success 0, one clear log line, the postgres collector unaffected", async () => {
    const { collector, log, lines } = create({ schema: "public", table: "no_such_scans" });
    const a = await collectOnce(collector, log);
    const b = await collectOnce(collector, log);
    assert.equal(a.ok, false);
    assert.equal(b.ok, false);
    assert.match(a.error!.message, /the scans table public\.no_such_scans does not exist/);
    assert.equal(lines.filter((l) => l.includes("does not exist")).length, 1, lines.join("\n"));
    const pgc = postgresCollector.create(
      { ...database.options, databaseSizeIntervalMs: 0, database },
      captureLog().log,
    );
    const p = await collectOnce(pgc, log);
    assert.ok(p.ok, p.error?.message);
    assert.equal(sample(p.families, "pg_up"), 1);

    await server.query(
      "CREATE TABLE public.bad_scans (id bigint, tool text, status text, created_at timestamptz)",
    );
    const missingColumn = create({ schema: "public", table: "bad_scans" });
    const c = await collectOnce(missingColumn.collector, missingColumn.log);
    assert.equal(c.ok, false);
    assert.match(
      c.error!.message,
      /lacks a column the exporter reads \(column "started_at" does not exist\)/,
    );
    assert.equal(missingColumn.lines.filter((l) => l.includes("lacks a column")).length, 1);
    // The columns of before finish_xid: the message names the migration.
    await server.query(
      "ALTER TABLE public.bad_scans ADD COLUMN target text, ADD COLUMN started_at timestamptz, ADD COLUMN finished_at timestamptz",
    );
    const noStamp = await collectOnce(missingColumn.collector, missingColumn.log);
    assert.equal(noStamp.ok, false);
    assert.match(
      noStamp.error!.message,
      /lacks the finish_xid column .*apply exporter\/sql\/scans-finish-xid\.sql/,
    );
    // The column without the triggers: nothing would ever be stamped, so the collector refuses.
    await server.query("ALTER TABLE public.bad_scans ADD COLUMN finish_xid xid8");
    const noTrigger = await collectOnce(missingColumn.collector, missingColumn.log);
    assert.equal(noTrigger.ok, false);
    assert.match(
      noTrigger.error!.message,
      /^the scans table public\.bad_scans lacks the triggers scans_finish_insert, scans_finish_update .*apply exporter\/sql\/scans\.sql/,
    );
    // Once the table is fixed, the same collector recovers by itself.
    await server.query(`
      CREATE FUNCTION public.stamp() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN NEW.finish_xid := pg_current_xact_id(); RETURN NEW; END $$;
      CREATE TRIGGER scans_finish_insert BEFORE INSERT ON public.bad_scans FOR EACH ROW EXECUTE FUNCTION public.stamp();
      CREATE TRIGGER scans_finish_update BEFORE UPDATE ON public.bad_scans FOR EACH ROW EXECUTE FUNCTION public.stamp();`);
    const d = await collectOnce(missingColumn.collector, missingColumn.log);
    assert.ok(d.ok, d.error?.message);
  });
});
