// The postgres collector against a real PostgreSQL 15: postgres_exporter's names and labels with the
// values a known state gives, the pool bound, the least-privilege role, and a wrong password.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { family, sample, samples } from "../../test/support/exposition.ts";
import { requireBinaries, startPostgres, waitFor, type PostgresServer } from "../../test/support/servers.ts";
import {
  ACTIVITY_STATES,
  LOCK_MODES,
  postgresCollector,
  serverLabel,
  shortVersion,
  type PostgresOptions,
} from "../src/collectors/postgres.ts";
import { APPLICATION_NAME, PostgresDatabase } from "../src/postgres-pool.ts";
import { scansCollector } from "../src/collectors/scans.ts";
import { captureLog, collectOnce, readRepoFile } from "./collector-support.ts";
import { scansDdl } from "../../definitions/scans-ddl.ts";

const connection = (url: string): Omit<PostgresOptions, "databaseSizeIntervalMs"> => ({
  url,
  connectTimeoutMs: 1000,
  statementTimeoutMs: 1000,
  lockTimeoutMs: 500,
  idleTimeoutMs: 10_000,
});

test("shortVersion gives postgres_exporter's semver form", () => {
  assert.equal(shortVersion("15.4"), "15.4.0");
  assert.equal(shortVersion("15.4 (Debian 15.4-1)"), "15.4.0");
  assert.equal(shortVersion("16beta1"), "16.0.0");
  assert.equal(shortVersion("9.6.24"), "9.6.24");
});

test("server is postgres_exporter's host:port of the URL, defaults filled, never the credentials", () => {
  assert.equal(serverLabel("postgres://u:secret@db.example:6432/app"), "db.example:6432");
  assert.equal(serverLabel("postgres://u:secret@db.example/app"), "db.example:5432");
  assert.equal(serverLabel("postgresql:///app?host=/var/run/postgresql"), "/var/run/postgresql:5432");
  assert.equal(serverLabel("postgres://u@[::1]:5433/app"), "::1:5433");
  assert.equal(serverLabel("postgres://u@h/app?port=7000"), "h:7000");
  assert.equal(serverLabel("not a url"), "localhost:5432");
});

describe("postgres collector", { skip: requireBinaries("postgres", "initdb") }, () => {
  let server: PostgresServer;
  before(async () => {
    server = await startPostgres();
  });
  after(async () => {
    await server?.cleanup();
  });
  // The exporter's server sessions (and any parallel workers they start), by application_name.
  const exporterSessions = async () =>
    Number(
      (
        await server.query<{ n: string }>(
          "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1",
          [APPLICATION_NAME],
        )
      )[0]!.n,
    );
  // A closed connection's backend stays in pg_stat_activity for a moment after the client has gone:
  // a test that counts sessions first waits for the earlier tests' to end.
  const earlierSessionsEnded = () =>
    waitFor(
      "the earlier tests' exporter sessions to end",
      async () => (await exporterSessions()) === 0,
      10_000,
      20,
    );

  test("publishes every postgres_exporter family with the values of a known state", async () => {
    const { log } = captureLog();
    const collector = postgresCollector.create({ ...connection(server.url), databaseSizeIntervalMs: 0 }, log);
    // A session idle in a transaction holding an ACCESS EXCLUSIVE lock: it must show in the activity and
    // lock counts.
    const holder = new pg.Client({ connectionString: server.url });
    await holder.connect();
    try {
      await holder.query("CREATE TABLE IF NOT EXISTS locked (x int)");
      await holder.query("BEGIN");
      await holder.query("LOCK TABLE locked IN ACCESS EXCLUSIVE MODE");
      // pg_stat_activity is a snapshot per transaction of the reader, but state changes reach it at once.
      await waitFor("the holder to show as idle in transaction", async () => {
        const rows = await server.query("SELECT 1 FROM pg_stat_activity WHERE state = 'idle in transaction'");
        return rows.length > 0;
      });
      const out = await collectOnce(collector, log);
      assert.ok(out.ok, out.error?.message);
      const f = out.families;
      assert.equal(sample(f, "pg_up"), 1);
      const version = (await server.query<{ v: string }>("SELECT current_setting('server_version') AS v"))[0]!
        .v;
      assert.equal(sample(f, "pg_static", { short_version: shortVersion(version) }), 1);
      assert.match(samples(f, "pg_static")[0]!.labels.version ?? "", /^PostgreSQL 15/);
      assert.equal(sample(f, "pg_settings_max_connections"), 50);
      assert.equal(sample(f, "pg_settings_superuser_reserved_connections"), 3);
      assert.ok((sample(f, "pg_exporter_ping_duration_seconds") ?? -1) > 0);
      // The whole collection, of which the ping is one query.
      assert.ok(
        (sample(f, "pg_exporter_last_scrape_duration_seconds") ?? -1) >
          sample(f, "pg_exporter_ping_duration_seconds")!,
      );

      // Every state of every (non-template) database, 0 when empty.
      for (const state of ACTIVITY_STATES)
        assert.notEqual(
          sample(f, "pg_stat_activity_count", { datname: "postgres", state }),
          undefined,
          state,
        );
      assert.ok(
        sample(f, "pg_stat_activity_count", { datname: "postgres", state: "idle in transaction" })! >= 1,
      );
      assert.equal(sample(f, "pg_stat_activity_count", { datname: "postgres", state: "disabled" }), 0);
      assert.ok(
        sample(f, "pg_stat_activity_max_tx_duration", {
          datname: "postgres",
          state: "idle in transaction",
        })! > 0,
      );
      assert.equal(samples(f, "pg_stat_activity_count", { datname: "template1" }).length, 0);

      for (const mode of LOCK_MODES)
        assert.notEqual(sample(f, "pg_locks_count", { datname: "postgres", mode }), undefined, mode);
      assert.ok(sample(f, "pg_locks_count", { datname: "postgres", mode: "accessexclusivelock" })! >= 1);

      // pg_stat_database: counters named without _total, as upstream, with datid and datname.
      assert.equal(family(f, "pg_stat_database_xact_commit")?.type, "counter");
      assert.equal(family(f, "pg_stat_database_numbackends")?.type, "gauge");
      const oid = (
        await server.query<{ oid: string }>("SELECT oid::text FROM pg_database WHERE datname = 'postgres'")
      )[0]!.oid;
      const commits = sample(f, "pg_stat_database_xact_commit", { datid: oid, datname: "postgres" });
      assert.ok(commits !== undefined && commits > 0 && Number.isInteger(commits));
      assert.ok(sample(f, "pg_stat_database_numbackends", { datname: "postgres" })! >= 2);
      assert.ok(sample(f, "pg_database_size_bytes", { datname: "postgres" })! > 1_000_000);
    } finally {
      await holder.end();
      await collector.close?.();
    }
  });

  test("pg_settings_* are the server's values: ALTER SYSTEM's 7 s, not the session's own 1 s timeout", async () => {
    const { log } = captureLog();
    const options = { ...connection(server.url), databaseSizeIntervalMs: 0 };
    const db = new PostgresDatabase(options, log);
    const collector = postgresCollector.create({ ...options, database: db }, log);
    try {
      await server.query("ALTER SYSTEM SET statement_timeout = '7s'");
      await server.query("SELECT pg_reload_conf()");
      // A reload reaches each backend at its next command: wait until a new session sees it.
      await waitFor("the reload", async () => {
        const rows = await server.query<{ t: string }>("SELECT current_setting('statement_timeout') AS t");
        return rows[0]!.t === "7s";
      });
      const out = await collectOnce(collector, log);
      assert.ok(out.ok, out.error?.message);
      const serverName = serverLabel(server.url);
      assert.equal(sample(out.families, "pg_settings_statement_timeout_seconds", { server: serverName }), 7);
      assert.equal(sample(out.families, "pg_static", { server: serverName }), 1);
      // The session itself still runs with its own timeouts.
      const own = await db.run({ signal: new AbortController().signal }, (q) =>
        q<{ s: string; l: string }>(
          "SELECT current_setting('statement_timeout') AS s, current_setting('lock_timeout') AS l",
        ),
      );
      assert.deepEqual(own[0], { s: "1s", l: "500ms" });
    } finally {
      await server.query("ALTER SYSTEM RESET statement_timeout");
      await server.query("SELECT pg_reload_conf()");
      await collector.close?.();
      await db.close();
    }
  });

  test("pg_database_size_bytes is cached on its own interval", async () => {
    const { log } = captureLog();
    const cached = postgresCollector.create(
      { ...connection(server.url), databaseSizeIntervalMs: 3_600_000 },
      log,
    );
    const fresh = postgresCollector.create({ ...connection(server.url), databaseSizeIntervalMs: 0 }, log);
    try {
      assert.ok((await collectOnce(cached, log)).ok);
      await server.query("CREATE DATABASE sized");
      const a = await collectOnce(cached, log);
      const b = await collectOnce(fresh, log);
      assert.equal(sample(a.families, "pg_database_size_bytes", { datname: "sized" }), undefined);
      assert.ok(sample(b.families, "pg_database_size_bytes", { datname: "sized" })! > 0);
      // The activity families follow the database at once (they are not cached).
      assert.equal(sample(a.families, "pg_stat_activity_count", { datname: "sized", state: "active" }), 0);
    } finally {
      await cached.close?.();
      await fresh.close?.();
      await server.query("DROP DATABASE IF EXISTS sized");
    }
  });

  test("holds at most two connections, shared with the scans collector, under concurrent collections", async () => {
    await server.query(scansDdl);
    const { log } = captureLog();
    // More collections at once than the exporter ever runs (concurrent scrapes share one collection):
    // they queue for the two connections, so the wait for a free one gets a generous timeout.
    const patient = { ...connection(server.url), connectTimeoutMs: 20_000, statementTimeoutMs: 10_000 };
    const database = new PostgresDatabase(patient, log);
    const pgc = postgresCollector.create({ ...patient, databaseSizeIntervalMs: 0, database }, log);
    const scans = scansCollector.create(
      { database, table: { schema: "public", table: "scans" }, retentionDays: 90 },
      log,
    );
    await earlierSessionsEnded();
    let max = 0;
    let sampling = true;
    const watcher = (async () => {
      while (sampling) {
        max = Math.max(max, await exporterSessions());
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    try {
      const runs = [];
      for (let i = 0; i < 5; i++) runs.push(collectOnce(pgc, log, 30_000), collectOnce(scans, log, 30_000));
      const outs = await Promise.all(runs);
      assert.ok(
        outs.every((o) => o.ok),
        outs.find((o) => !o.ok)?.error?.message,
      );
      // The watcher's sample in flight ends, and one more is taken while the pool still holds its idle
      // connections (idleTimeoutMs 10 s): on a loaded machine the whole burst can fit between samples.
      sampling = false;
      await watcher;
      max = Math.max(max, await exporterSessions());
      assert.ok(max >= 1, "the watcher saw the exporter's sessions");
      assert.ok(max <= 2, `the exporter held ${max} connections`);
      assert.ok(database.stats().total <= 2);
    } finally {
      sampling = false;
      await watcher;
      await database.close();
    }
  });

  test("statements given up at the deadline keep their slot: never more than two server sessions", async () => {
    // Regression: abandoned statements used to have their socket destroyed at the deadline, freeing the
    // pool slot while the server still ran them (a backend waiting on a lock does not notice), so the
    // next collections opened more sessions than the pool's two.
    await server.query(scansDdl);
    await earlierSessionsEnded();
    const { log } = captureLog();
    const slow = { ...connection(server.url), lockTimeoutMs: 2000, statementTimeoutMs: 3000 };
    const database = new PostgresDatabase(slow, log);
    const scans = scansCollector.create(
      { database, table: { schema: "public", table: "scans" }, retentionDays: 90 },
      log,
    );
    assert.ok((await collectOnce(scans, log)).ok);
    const holder = new pg.Client({ connectionString: server.url });
    await holder.connect();
    let max = 0;
    try {
      await holder.query("BEGIN");
      await holder.query("LOCK TABLE scans IN ACCESS EXCLUSIVE MODE");
      for (let i = 0; i < 6; i++) {
        const out = await collectOnce(scans, log, 150);
        assert.equal(out.ok, false);
        max = Math.max(max, await exporterSessions());
      }
      assert.ok(max >= 1);
      assert.ok(max <= 2, `${max} server sessions`);
    } finally {
      await holder.end();
    }
    // Once the lock is gone the collector works again on the same pool.
    await waitFor(
      "the scans collector to succeed",
      async () => (await collectOnce(scans, log, 3000)).ok,
      15_000,
    );
    await database.close();
  });

  test("the least-privilege role of exporter/sql/monitoring-role.sql is enough for every query", async () => {
    await server.query(scansDdl);
    await server.query(readRepoFile("exporter/sql/monitoring-role.sql"));
    // Idempotent: a second run changes nothing and does not fail.
    await server.query(readRepoFile("exporter/sql/monitoring-role.sql"));
    await server.query("ALTER ROLE kali_agents_exporter PASSWORD 'monitor-pw-123'");
    const url = server.urlFor({ user: "kali_agents_exporter", password: "monitor-pw-123" });
    const { log } = captureLog();
    const database = new PostgresDatabase(connection(url), log);
    const pgc = postgresCollector.create({ ...connection(url), databaseSizeIntervalMs: 0, database }, log);
    const scans = scansCollector.create(
      { database, table: { schema: "public", table: "scans" }, retentionDays: 90 },
      log,
    );
    const other = new pg.Client({ connectionString: server.url });
    await other.connect();
    try {
      await other.query("BEGIN");
      await other.query("SELECT 1");
      const a = await collectOnce(pgc, log);
      assert.ok(a.ok, a.error?.message);
      // pg_monitor sees other roles' sessions (without it, their state reads as NULL).
      assert.ok(
        sample(a.families, "pg_stat_activity_count", {
          datname: "postgres",
          state: "idle in transaction",
        })! >= 1,
      );
      assert.ok(sample(a.families, "pg_database_size_bytes", { datname: "postgres" })! > 0);
      const s = await collectOnce(scans, log);
      assert.ok(s.ok, s.error?.message);
      // ... and it may not write.
      const writer = new pg.Client({ connectionString: url });
      await writer.connect();
      try {
        await assert.rejects(
          writer.query("INSERT INTO scans (tool, target) VALUES ('x', 'y')"),
          /permission denied/,
        );
      } finally {
        await writer.end();
      }
    } finally {
      await other.end();
      await database.close();
    }
  });

  test("a wrong password gives pg_up 0 and one clear log line without the password", async () => {
    const secret = "not-the-password-8472";
    const url = server.urlFor({ password: secret });
    const { log, lines } = captureLog();
    const collector = postgresCollector.create({ ...connection(url), databaseSizeIntervalMs: 0 }, log);
    try {
      const a = await collectOnce(collector, log);
      const b = await collectOnce(collector, log);
      assert.equal(a.ok, false);
      assert.equal(sample(a.families, "pg_up"), 0);
      assert.equal(sample(b.families, "pg_up"), 0);
      // As postgres_exporter: a failed scrape still reports how long it took.
      assert.ok((sample(a.families, "pg_exporter_last_scrape_duration_seconds") ?? -1) > 0);
      // No unlabelled counter drops to 0 while down (rate() would read that as a reset).
      assert.equal(samples(a.families, "pg_stat_bgwriter_checkpoints_timed_total").length, 0);
      assert.match(a.error!.message, /wrong password/);
      assert.ok(!a.error!.message.includes(secret));
      const text = lines.join("\n");
      assert.ok(!text.includes(secret), "the password appears in the logs");
      const errors = lines.filter((l) => l.includes("wrong password"));
      assert.equal(errors.length, 1, `one line for two failures with the same reason:\n${text}`);
      assert.match(errors[0]!, /postgres as postgres/);
    } finally {
      await collector.close?.();
    }
  });
});
