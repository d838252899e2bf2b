// The scans collector against a real PostgreSQL 15 with the shipped DDL (exporter/sql/scans.sql):
// counters from the watermark, late commits inside the overlap window, deletions that must not lower a
// counter, the histogram, the active gauges, retention, and a missing table or column.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { family, sample, samples } from "../../test/support/exposition.ts";
import { requireBinaries, startPostgres, type PostgresServer } from "../../test/support/servers.ts";
import { PostgresDatabase, postgresCollector } from "../src/collectors/postgres.ts";
import { quoteIdent } from "../../lib/sql.ts";
import { scansCollector, type ScansOptions } from "../src/collectors/scans.ts";
import { captureLog, collectOnce, readRepoFile } from "./collector-support.ts";

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
    await server.query(
      `CREATE SCHEMA ${schema}; SET search_path TO ${schema}; ${readRepoFile("exporter/sql/scans.sql")}`,
    );
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

    // Nothing new: nothing moves (the overlap window is read again, its ids are skipped).
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

  test("a late commit inside the overlap window is counted once; one older than the window is not", async () => {
    const t = await freshTable();
    await t.sql(`INSERT INTO SCANS (tool, target, status, started_at, finished_at)
      VALUES ('nmap', 'a', 'success', now() - interval '1 minute', now())`);
    const { collector, log } = create(t, { overlapSeconds: 60 });
    assert.equal(
      sample((await collectOnce(collector, log)).families, "kali_agents_scans_total", {
        tool: "nmap",
        status: "success",
      }),
      1,
    );
    // A transaction that set finished_at 20 s ago commits only now, after the watermark moved past it.
    await t.sql(`INSERT INTO SCANS (tool, target, status, started_at, finished_at)
      VALUES ('nmap', 'late', 'success', now() - interval '1 minute', now() - interval '20 seconds')`);
    let out = await collectOnce(collector, log);
    assert.equal(sample(out.families, "kali_agents_scans_total", { tool: "nmap", status: "success" }), 2);
    out = await collectOnce(collector, log);
    assert.equal(sample(out.families, "kali_agents_scans_total", { tool: "nmap", status: "success" }), 2);
    // Later than the window: the documented limit (docs/database.md).
    await t.sql(`INSERT INTO SCANS (tool, target, status, started_at, finished_at)
      VALUES ('nmap', 'too-late', 'success', now() - interval '10 minutes', now() - interval '5 minutes')`);
    out = await collectOnce(collector, log);
    assert.equal(sample(out.families, "kali_agents_scans_total", { tool: "nmap", status: "success" }), 2);
  });

  test("a burst larger than a page is read page by page, rows sharing one finished_at included", async () => {
    const t = await freshTable();
    const { collector, log } = create(t, { batchSize: 4, maxPagesPerScrape: 3 });
    assert.ok((await collectOnce(collector, log)).ok);
    // 7 rows at distinct instants and 3 sharing one: 10 rows, read in pages of 4.
    await t.sql(`INSERT INTO SCANS (tool, target, status, started_at, finished_at)
      SELECT 'nmap', 'b' || g, 'success', now() - interval '1 minute', now() - interval '10 seconds' + g * interval '1 ms'
      FROM generate_series(1, 7) g`);
    await t.sql(`INSERT INTO SCANS (tool, target, status, started_at, finished_at)
      SELECT 'nmap', 'tie' || g, 'failed', now() - interval '1 minute', now()
      FROM generate_series(1, 3) g`);
    let out = await collectOnce(collector, log);
    const total = () =>
      (sample(out.families, "kali_agents_scans_total", { tool: "nmap", status: "success" }) ?? 0) +
      (sample(out.families, "kali_agents_scans_total", { tool: "nmap", status: "failed" }) ?? 0);
    // Three pages of 4 with one re-read row between pages: at least 10 new rows are reachable.
    assert.ok(total() >= 8, `after one scrape: ${total()}`);
    out = await collectOnce(collector, log);
    assert.equal(total(), 10);
    assert.equal(sample(out.families, "kali_agents_scan_duration_seconds_count", { tool: "nmap" }), 10);
  });

  test("a table in another schema, named by configuration, is quoted and read", async () => {
    await server.query(
      `CREATE SCHEMA "app data"; SET search_path TO "app data"; ${readRepoFile("exporter/sql/scans.sql")}`,
    );
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
      /lacks a column the exporter reads \(column "finished_at" does not exist\)/,
    );
    assert.equal(missingColumn.lines.filter((l) => l.includes("lacks a column")).length, 1);
    // Once the table is fixed, the same collector recovers by itself.
    await server.query(
      "ALTER TABLE public.bad_scans ADD COLUMN target text, ADD COLUMN started_at timestamptz, ADD COLUMN finished_at timestamptz",
    );
    const d = await collectOnce(missingColumn.collector, missingColumn.log);
    assert.ok(d.ok, d.error?.message);
  });
});
