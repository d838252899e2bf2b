// backup, verify, restore, dr-drill and cleanup against a real PostgreSQL (and Redis for the cache
// cleanup), with pg_dump/pg_restore of the server's own major version; every job's .prom file is read
// back through the exporter's textfile collector.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import {
  requireBinaries,
  startPostgres,
  startRedis,
  type PostgresServer,
  type RedisServer,
} from "../../test/support/servers.ts";
import {
  applyRetention,
  backupName,
  listBackups,
  manifestPath,
  sha256,
  sidecar,
} from "../src/backup/backup-files.ts";
import type { Config } from "../src/config.ts";
import { runJob } from "../src/jobs.ts";
import { opsConfig, publishedFrom, quietLogger, repoRoot, scansDdl, valueOf } from "./support.ts";

const ROWS = 3000;

describe(
  "ops jobs against PostgreSQL",
  { skip: requireBinaries("postgres", "initdb", "pg_dump", "pg_restore", "redis-server", "redis-cli") },
  () => {
    let pgs: PostgresServer;
    let redis: RedisServer;
    let config: Config;
    let dirs: Record<string, string>;
    const { log, lines } = quietLogger();

    before(async () => {
      [pgs, redis] = await Promise.all([startPostgres(), startRedis()]);
      await pgs.query("CREATE DATABASE kali");
      await pgs.query(scansDdl, [], "kali");
      // ROWS scans: a third finished long ago (past the 90-day retention), the rest recent or active.
      await pgs.query(
        `INSERT INTO scans (tool, target, status, created_at, started_at, finished_at)
       SELECT 'nmap', 'host-' || i,
              CASE WHEN i % 10 = 0 THEN 'running' ELSE 'success' END,
              now() - make_interval(days => CASE WHEN i % 3 = 0 THEN 120 ELSE 1 END),
              now() - make_interval(days => CASE WHEN i % 3 = 0 THEN 120 ELSE 1 END),
              CASE WHEN i % 10 = 0 THEN NULL
                   ELSE now() - make_interval(days => CASE WHEN i % 3 = 0 THEN 120 ELSE 1 END) + interval '5 minutes' END
         FROM generate_series(1, $1) i`,
        [ROWS],
        "kali",
      );
      ({ config, dirs } = opsConfig({
        DATABASE_URL: pgs.urlFor({ database: "kali" }),
        REDIS_URL: redis.url,
        OPS_CLEANUP_BATCH_SIZE: "250",
        OPS_LOG_DIR: join(repoRoot, "does-not-matter"),
      }));
    });
    after(async () => {
      await Promise.all([pgs?.cleanup(), redis?.cleanup()]);
      if (dirs) rmSync(dirs.root!, { recursive: true, force: true });
    });

    const oldScans = async () =>
      Number(
        (
          await pgs.query<{ n: string }>(
            `SELECT count(*) AS n FROM scans WHERE finished_at < now() - interval '90 days'`,
            [],
            "kali",
          )
        )[0]!.n,
      );
    const scratchDatabases = async () =>
      (
        await pgs.query<{ datname: string }>(
          `SELECT datname FROM pg_database WHERE datname LIKE 'kali_ops_%'`,
        )
      ).map((r) => r.datname);

    test("backup writes a custom-format dump, its sha256 and a manifest with the row counts, and backup.prom", async () => {
      // A folder someone made world-readable, and a lax umask: the backup is still the ops user's alone.
      mkdirSync(dirs.backups!, { recursive: true });
      chmodSync(dirs.backups!, 0o755);
      const umask = process.umask(0o002);
      let r;
      try {
        r = await runJob(config, log, "backup");
      } finally {
        process.umask(umask);
      }
      assert.equal(r.ok, true, r.error?.message);
      const [b] = await listBackups(dirs.backups!);
      assert.ok(b?.complete, "a complete backup is listed");
      const file = b.file;
      assert.equal(readFileSync(file).subarray(0, 5).toString(), "PGDMP", "custom format (-Fc) archive");
      assert.equal(readFileSync(sidecar(file), "utf8"), `${await sha256(file)}  ${file.split("/").pop()}\n`);
      const m = JSON.parse(readFileSync(manifestPath(file), "utf8")) as Record<string, unknown>;
      assert.deepEqual(m.rowCounts, { "public.scans": ROWS });
      assert.equal(m.sizeBytes, statSync(file).size);
      for (const f of [file, sidecar(file), manifestPath(file)])
        assert.equal((statSync(f).mode & 0o777).toString(8), "600", `${f} is 0600`);
      assert.equal((statSync(dirs.backups!).mode & 0o777).toString(8), "700", "the folder is 0700");
      assert.match(String(m.serverVersion), /^15\./);
      assert.deepEqual(
        readdirSync(dirs.backups!).filter((n) => n.endsWith(".tmp")),
        [],
        "no temporary file left",
      );
      const { families, skipped } = await publishedFrom(dirs.textfile!);
      assert.deepEqual(skipped, []);
      assert.equal(valueOf(families, "kali_agents_job_last_run_success", { job: "backup" }), 1);
      assert.equal(
        valueOf(families, "kali_agents_backup_last_size_bytes", { kind: "postgres" }),
        statSync(file).size,
      );
      assert.ok(
        valueOf(families, "kali_agents_job_last_success_timestamp_seconds", { job: "backup" })! >
          Date.now() / 1000 - 60,
      );
    });

    test("verify restores the newest backup into a scratch database, checks it, and drops it", async () => {
      const r = await runJob(config, log, "verify");
      assert.equal(r.ok, true, r.error?.message);
      assert.equal((r.summary as { rows: number }).rows, ROWS);
      assert.deepEqual(await scratchDatabases(), [], "the scratch database is dropped");
      const { families } = await publishedFrom(dirs.textfile!);
      assert.equal(valueOf(families, "kali_agents_backup_verification_success"), 1);
      assert.equal(valueOf(families, "kali_agents_job_last_run_success", { job: "verify" }), 1);
    });

    test("a truncated backup fails verify with the file named, and verification_success 0 keeps the last success time", async () => {
      const prevSuccess = valueOf(
        (await publishedFrom(dirs.textfile!)).families,
        "kali_agents_job_last_success_timestamp_seconds",
        { job: "verify" },
      );
      const [b] = await listBackups(dirs.backups!);
      const file = b!.file;
      const original = readFileSync(file);
      try {
        truncateSync(file, Math.floor(original.length / 2));
        const r = await runJob(config, log, "verify");
        assert.equal(r.ok, false);
        assert.match(
          r.error!.message,
          new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: checksum mismatch`),
        );
        const { families, skipped } = await publishedFrom(dirs.textfile!);
        assert.deepEqual(skipped, []);
        assert.equal(valueOf(families, "kali_agents_backup_verification_success"), 0);
        assert.equal(valueOf(families, "kali_agents_job_last_run_success", { job: "verify" }), 0);
        assert.equal(
          valueOf(families, "kali_agents_job_last_success_timestamp_seconds", { job: "verify" }),
          prevSuccess,
        );

        // Corrupt inside, with a matching checksum (damaged before it was summed): pg_restore must catch it.
        const bad = Buffer.from(original.subarray(0, Math.floor(original.length * 0.7)));
        writeFileSync(file, bad);
        writeFileSync(sidecar(file), `${await sha256(file)}  x\n`);
        const r2 = await runJob(config, log, "verify");
        assert.equal(r2.ok, false);
        assert.ok(r2.error!.message.startsWith(`${file}: restore into database`), r2.error!.message);
        assert.deepEqual(await scratchDatabases(), [], "the scratch database is dropped after a failure too");
      } finally {
        writeFileSync(file, original);
        writeFileSync(sidecar(file), `${await sha256(file)}  ${file.split("/").pop()}\n`);
      }
    });

    test("restore refuses a non-empty target without --force, restores into an empty or forced one", async () => {
      await pgs.query("CREATE DATABASE busy");
      await pgs.query("CREATE TABLE keepme (x int)", [], "busy");
      const refused = await runJob(config, log, "restore", { restore: { target: "busy" } });
      assert.equal(refused.ok, false);
      assert.match(refused.error!.message, /database "busy" is not empty .*--force/);
      assert.equal(
        (await pgs.query("SELECT to_regclass('keepme') AS r", [], "busy"))[0]!.r,
        "keepme",
        "untouched",
      );

      const fresh = await runJob(config, log, "restore", { restore: { target: "restored" } });
      assert.equal(fresh.ok, true, fresh.error?.message);
      assert.equal(
        (await pgs.query<{ n: string }>("SELECT count(*) AS n FROM scans", [], "restored"))[0]!.n,
        String(ROWS),
      );

      // --force with a backup that fails on restore (damaged, its checksum made to match): the target is
      // never touched, whichever check fails.
      const [b] = await listBackups(dirs.backups!);
      const original = readFileSync(b!.file);
      const keepme = async () => (await pgs.query("SELECT to_regclass('keepme') AS r", [], "busy"))[0]!.r;
      try {
        for (const [cut, where] of [
          [0.7, /restore into database "kali_ops_restore_\w+" failed/],
          [0.0001, /not an archive pg_restore can read/],
        ] as const) {
          writeFileSync(b!.file, original.subarray(0, Math.ceil(original.length * cut)));
          writeFileSync(sidecar(b!.file), `${await sha256(b!.file)}  x\n`);
          const bad = await runJob(config, log, "restore", { restore: { target: "busy", force: true } });
          assert.equal(bad.ok, false);
          assert.match(bad.error!.message, where);
          assert.equal(await keepme(), "keepme", "the target is intact");
          assert.deepEqual(await scratchDatabases(), [], "the scratch database is dropped");
        }
      } finally {
        writeFileSync(b!.file, original);
        writeFileSync(sidecar(b!.file), `${await sha256(b!.file)}  ${b!.file.split("/").pop()}\n`);
      }

      // A client connected to the target: refused without --force, ended with it.
      const session = new pg.Client({ connectionString: pgs.urlFor({ database: "busy" }) });
      session.on("error", () => {});
      await session.connect();
      try {
        await pgs.query("DROP TABLE keepme", [], "busy");
        const open = await runJob(config, log, "restore", { restore: { target: "busy" } });
        assert.equal(open.ok, false);
        assert.match(
          open.error!.message,
          /database "busy" has 1 open sessions; stop its clients, or pass --force/,
        );
        await pgs.query("CREATE TABLE keepme (x int); INSERT INTO keepme VALUES (42)", [], "busy");

        const at = new Date("2026-12-07T03:04:05.678Z");
        const forced = await runJob(config, log, "restore", {
          restore: { target: "busy", force: true, now: at },
        });
        assert.equal(forced.ok, true, forced.error?.message);
        assert.equal(
          (forced.summary as { keptPrevious: string }).keptPrevious,
          "busy_before_20261207T030405Z",
        );
        assert.equal(await keepme(), null, "replaced");
        assert.equal(
          (await pgs.query<{ n: string }>("SELECT count(*) AS n FROM scans", [], "busy"))[0]!.n,
          String(ROWS),
        );
        // The previous database is kept, whole, until the operator drops it.
        assert.deepEqual(await pgs.query("SELECT x FROM keepme", [], "busy_before_20261207T030405Z"), [
          { x: 42 },
        ]);
        assert.ok(
          lines.some(
            (l) =>
              String(l.msg).startsWith("the previous database is kept") &&
              l.database === "busy_before_20261207T030405Z" &&
              Number(l.size_bytes) > 1_000_000,
          ),
        );
        await assert.rejects(session.query("SELECT 1"), "the client's session was ended");
      } finally {
        await session.end().catch(() => undefined);
      }
    });

    test("restore refuses the live database of DATABASE_URL without --replace-live-database, then replaces it keeping the previous one", async () => {
      const before = await pgs.query<{ n: string }>("SELECT count(*) AS n FROM scans", [], "kali");
      for (const opts of [{}, { force: true }]) {
        const r = await runJob(config, log, "restore", { restore: { target: "kali", ...opts } });
        assert.equal(r.ok, false);
        assert.match(
          r.error!.message,
          /^restore: "kali" is the live database of DATABASE_URL; to replace it, stop its writers and pass --replace-live-database as well \(the current one is then kept as kali_before_\d{8}T\d{6}Z\)$/,
        );
      }
      assert.deepEqual(await pgs.query<{ n: string }>("SELECT count(*) AS n FROM scans", [], "kali"), before);
      // Confirmed, but not forced: the live database is not empty.
      const unforced = await runJob(config, log, "restore", {
        restore: { target: "kali", replaceLive: true },
      });
      assert.match(unforced.error!.message, /database "kali" is not empty .*--force/);
      const at = new Date("2026-12-07T23:59:59.999Z");
      const r = await runJob(config, log, "restore", {
        restore: { target: "kali", replaceLive: true, force: true, now: at },
      });
      assert.equal(r.ok, true, r.error?.message);
      assert.deepEqual(await pgs.query<{ n: string }>("SELECT count(*) AS n FROM scans", [], "kali"), before);
      assert.deepEqual(
        await pgs.query<{ n: string }>("SELECT count(*) AS n FROM scans", [], "kali_before_20261207T235959Z"),
        before,
      );
    });

    test("restore onto another cluster clears the finish_xid stamps ahead of it, in batches; onto its own, none", async () => {
      const other = await startPostgres();
      const { config: a, dirs: d } = opsConfig({ DATABASE_URL: pgs.urlFor({ database: "kali_xid" }) });
      try {
        // Cluster A 3,000 transaction ids ahead of the fresh cluster B, then 12,000 scans finished on A
        // (more than two batches) and 10 still queued.
        await pgs.query("CREATE DATABASE kali_xid");
        await pgs.query(scansDdl, [], "kali_xid");
        await pgs.query(
          `CREATE PROCEDURE burn(n int) LANGUAGE plpgsql AS $$
           BEGIN FOR i IN 1..n LOOP PERFORM pg_current_xact_id(); COMMIT; END LOOP; END $$`,
          [],
          "kali_xid",
        );
        await pgs.query("CALL burn(3000)", [], "kali_xid");
        await pgs.query(
          `INSERT INTO scans (tool, target, status, started_at, finished_at)
           SELECT 'nmap', 'h' || i, 'success', now(), now() FROM generate_series(1, 12000) i`,
          [],
          "kali_xid",
        );
        await pgs.query(
          `INSERT INTO scans (tool, target, status) SELECT 'nmap', 'q', 'queued' FROM generate_series(1, 10)`,
          [],
          "kali_xid",
        );
        const stamps = async (server: PostgresServer, db: string) =>
          (
            await server.query<{ stamped: string; ahead: string; total: string }>(
              `SELECT count(finish_xid) AS stamped,
                      count(*) FILTER (WHERE finish_xid >= pg_snapshot_xmax(pg_current_snapshot())) AS ahead,
                      count(*) AS total
                 FROM scans`,
              [],
              db,
            )
          )[0]!;
        const minStamp = (
          await pgs.query<{ x: string }>("SELECT min(finish_xid)::text AS x FROM scans", [], "kali_xid")
        )[0]!.x;
        const bNext = (
          await other.query<{ x: string }>("SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS x")
        )[0]!.x;
        assert.ok(Number(minStamp) > Number(bNext) + 1000, `A's stamps (${minStamp}) ahead of B (${bNext})`);
        const b = await runJob(a, log, "backup", {});
        assert.equal(b.ok, true, b.error?.message);

        // Onto its own cluster: every stamp is behind, nothing changes.
        const same = await runJob(a, log, "restore", { restore: { target: "kali_xid_copy" } });
        assert.equal(same.ok, true, same.error?.message);
        assert.equal((same.summary as { clearedStamps: number }).clearedStamps, 0);
        assert.deepEqual(await stamps(pgs, "kali_xid_copy"), {
          stamped: "12000",
          ahead: "0",
          total: "12010",
        });

        // Onto cluster B, from the same backup folder: the 12,000 stamps ahead of B are cleared.
        const { config: bConfig, dirs: bDirs } = opsConfig({
          DATABASE_URL: other.urlFor({ database: "postgres" }),
          OPS_BACKUP_DIR: d.backups!,
        });
        try {
          const moved = await runJob(bConfig, log, "restore", { restore: { target: "kali" } });
          assert.equal(moved.ok, true, moved.error?.message);
          assert.equal((moved.summary as { clearedStamps: number }).clearedStamps, 12000);
          assert.deepEqual(await stamps(other, "kali"), { stamped: "0", ahead: "0", total: "12010" });
          assert.ok(
            lines.some(
              (l) =>
                l.msg?.toString().startsWith("finish_xid stamps of another cluster cleared") &&
                l.rows === 12000,
            ),
          );
        } finally {
          rmSync(bDirs.root!, { recursive: true, force: true });
        }
      } finally {
        await other.cleanup();
        rmSync(d.root!, { recursive: true, force: true });
      }
    });

    test("dr-drill backs up, restores into a scratch database, checks, and writes the restore duration", async () => {
      const r = await runJob(config, log, "dr-drill");
      assert.equal(r.ok, true, r.error?.message);
      const s = r.summary as { restoreSeconds: number; rows: number };
      assert.equal(s.rows, ROWS);
      const { families, skipped } = await publishedFrom(dirs.textfile!);
      assert.deepEqual(skipped, []);
      assert.equal(valueOf(families, "kali_agents_dr_drill_restore_duration_seconds"), s.restoreSeconds);
      assert.ok(s.restoreSeconds > 0);
      assert.equal(valueOf(families, "kali_agents_job_last_run_success", { job: "dr_drill" }), 1);
      assert.deepEqual(await scratchDatabases(), []);
    });

    test("cleanup stops after its time budget with old rows left, as a success, and says so", async () => {
      const before = await oldScans();
      const { config: tight } = opsConfig({
        DATABASE_URL: config.databaseUrl!,
        OPS_CLEANUP_BATCH_SIZE: "250",
        OPS_CLEANUP_TIME_BUDGET_SECONDS: "0.001",
        OPS_TEXTFILE_DIR: dirs.textfile!,
      });
      const r = await runJob(tight, log, "cleanup");
      assert.equal(r.ok, true, r.error?.message);
      const s = r.summary as { scansDeleted: number; batches: number; budgetExhausted: boolean };
      assert.deepEqual([s.scansDeleted, s.batches, s.budgetExhausted], [250, 1, true]);
      assert.equal(await oldScans(), before - 250);
      const { families } = await publishedFrom(dirs.textfile!);
      assert.equal(valueOf(families, "kali_agents_cleanup_deleted_rows", { table: "scans" }), 250);
    });

    test("cleanup deletes only scans past retention, in batches; old rotated logs; stale cache keys but never queues", async () => {
      const logDir = join(dirs.root!, "logs");
      mkdirSync(logDir);
      const old = Date.now() / 1000 - 40 * 24 * 3600;
      for (const n of ["app.log", "app.log.1", "app.log.2026-01-01.gz", "security.log.3", "notes.txt"])
        writeFileSync(join(logDir, n), "x\n");
      for (const n of ["app.log", "app.log.2026-01-01.gz", "security.log.3", "notes.txt"])
        utimesSync(join(logDir, n), old, old);
      redis.cli("SET", "kali:cache:fresh", "1", "EX", "3600");
      redis.cli("SET", "kali:cache:leak", "1");
      redis.cli("RPUSH", "kali:scans:queue", "job-1");
      redis.cli("RPUSH", "kali:cache:odd-list", "job-2");
      redis.cli("SET", "other:nottl", "1");

      const want = await oldScans();
      assert.ok(want > 0);
      const total = Number(
        (await pgs.query<{ n: string }>("SELECT count(*) AS n FROM scans", [], "kali"))[0]!.n,
      );
      const { config: c2 } = opsConfig({
        DATABASE_URL: config.databaseUrl!,
        REDIS_URL: config.redisUrl!,
        OPS_CLEANUP_BATCH_SIZE: "250",
        OPS_LOG_DIR: logDir,
        OPS_TEXTFILE_DIR: dirs.textfile!,
      });
      const before = lines.length;
      const r = await runJob(c2, log, "cleanup");
      assert.equal(r.ok, true, r.error?.message);
      const s = r.summary as {
        scansDeleted: number;
        batches: number;
        logFilesDeleted: number;
        cacheKeysDeleted: number;
      };
      assert.equal(s.scansDeleted, want);
      assert.equal(s.batches, Math.ceil(want / 250), "deleted 250 rows per statement");
      assert.equal(lines.slice(before).filter((l) => l.msg === "cleanup batch").length, s.batches);
      assert.equal(await oldScans(), 0);
      const left = Number(
        (await pgs.query<{ n: string }>("SELECT count(*) AS n FROM scans", [], "kali"))[0]!.n,
      );
      assert.equal(left, total - want, "only old rows deleted");
      assert.deepEqual(readdirSync(logDir).sort(), ["app.log", "app.log.1", "notes.txt"]);
      assert.equal(s.logFilesDeleted, 2);
      assert.equal(s.cacheKeysDeleted, 1);
      assert.equal(redis.cli("EXISTS", "kali:cache:leak"), "0");
      assert.equal(redis.cli("EXISTS", "kali:cache:fresh"), "1");
      assert.equal(redis.cli("LLEN", "kali:scans:queue"), "1");
      assert.equal(redis.cli("LLEN", "kali:cache:odd-list"), "1");
      assert.equal(redis.cli("EXISTS", "other:nottl"), "1");
      const { families, skipped } = await publishedFrom(dirs.textfile!);
      assert.deepEqual(skipped, []);
      assert.equal(valueOf(families, "kali_agents_cleanup_deleted_rows", { table: "scans" }), want);
      assert.equal(valueOf(families, "kali_agents_job_last_run_success", { job: "cleanup" }), 1);

      const again = await runJob(c2, log, "cleanup");
      assert.equal((again.summary as { scansDeleted: number }).scansDeleted, 0);
    });

    test("retention keeps the newest complete backup however old, deletes older ones", async () => {
      const dir = join(dirs.root!, "retention");
      mkdirSync(dir);
      const mk = (daysAgo: number, complete: boolean) => {
        const f = join(dir, backupName(new Date(Date.now() - daysAgo * 86400_000)));
        writeFileSync(f, "PGDMP");
        if (complete) {
          writeFileSync(sidecar(f), "x  y\n");
          writeFileSync(manifestPath(f), "{}");
        }
        return f;
      };
      const newestIncomplete = mk(40, false);
      const newestComplete = mk(50, true);
      const older = mk(60, true);
      const deleted = await applyRetention(dir, 30, new Date());
      assert.deepEqual(deleted.sort(), [newestIncomplete, older].sort());
      assert.deepEqual(
        (await listBackups(dir)).map((b) => b.file),
        [newestComplete],
      );
    });

    test("the CLI exits 1 with one error line naming the problem, 2 on a configuration error", () => {
      const cli = join(repoRoot, "ops/src/cli.ts");
      const tsx = join(repoRoot, "node_modules/.bin/tsx");
      const env = {
        ...process.env,
        OPS_BACKUP_DIR: join(dirs.root!, "empty"),
        OPS_TEXTFILE_DIR: dirs.textfile!,
        DATABASE_URL: config.databaseUrl!,
      };
      mkdirSync(env.OPS_BACKUP_DIR, { recursive: true });
      const r = spawnSync(tsx, [cli, "verify"], { env, encoding: "utf8" });
      assert.equal(r.status, 1);
      assert.equal(r.stderr.trim().split("\n").length, 1);
      assert.match(r.stderr, /^ops verify: no complete backup .* in .*empty\n$/);
      const bad = spawnSync(tsx, [cli, "backup"], {
        env: { ...env, OPS_BACKUP_RETENTION_DAYS: "soon" },
        encoding: "utf8",
      });
      assert.equal(bad.status, 2);
      assert.equal(
        bad.stderr,
        'ops: configuration error: OPS_BACKUP_RETENTION_DAYS: "soon" is not an integer\n',
      );
      assert.ok(
        !r.stdout.includes(pgs.password) && !r.stderr.includes(pgs.password),
        "no password in the output",
      );
    });
  },
);
