// The demo PostgreSQL's init script (postgres/initdb/10-roles.sh, run by the image's entrypoint on an
// empty data volume), run here against a real PostgreSQL of compose's major (16) with psql of that
// major: the exporter's monitoring role and ops' role exist with the passwords secrets-init wrote, the
// exporter's URL reads and cannot write, ops' URL runs every ops job that touches the database (backup,
// verify, dr-drill, cleanup) and cannot run a program on the server, even through a crafted dump it
// restores. The same roles, seen from inside the running containers, are in the Docker test.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { createLogger } from "../../lib/log.ts";
import { loadConfig, type Config } from "../../ops/src/config.ts";
import { runJob } from "../../ops/src/jobs.ts";
import { requirePostgresMajors, startPostgres, tempDir, type PostgresServer } from "../support/servers.ts";

const root = new URL("../..", import.meta.url).pathname;
const script = join(root, "postgres/initdb/10-roles.sh");
// Hostile passwords: quotes, a backslash, a colon and psql's own variable syntax must reach the roles as
// they are (the script reads them with psql's \set, never through the shell or SQL text).
const exporterPassword = `ex'p"o\\rt:er :'x' $HOME`;
const opsPassword = `o'ps;DROP ROLE kali_agents_ops;--`;
const restorePassword = `r'es"tore\\ $(id) \`x\``;

function runInit(pgs: PostgresServer, sqlDir: string, secretsDir: string) {
  return spawnSync("sh", [script], {
    encoding: "utf8",
    env: {
      PATH: `${pgs.clientDir}:${process.env.PATH ?? ""}`,
      PGHOST: "127.0.0.1",
      PGPORT: String(new URL(pgs.url).port),
      PGPASSWORD: pgs.password,
      POSTGRES_USER: "postgres",
      POSTGRES_DB: "kali_agents",
      KALI_AGENTS_SQL_DIR: sqlDir,
      KALI_AGENTS_SECRETS_DIR: secretsDir,
    },
  });
}

async function asRole<T>(url: string, f: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await c.connect();
  try {
    return await f(c);
  } finally {
    await c.end();
  }
}

const refused = async (c: pg.Client, sql: string, why: RegExp) =>
  assert.rejects(c.query(sql), why, `${sql} was not refused`);

describe(
  "the demo PostgreSQL's roles (postgres/initdb/10-roles.sh)",
  { skip: requirePostgresMajors(16) },
  () => {
    let pgs: PostgresServer;
    let dir: string;
    let exporterUrl: string;
    let opsUrl: string;
    let config: Config;
    const log = createLogger({ level: "error", write: () => {} });

    before(async () => {
      pgs = await startPostgres({ major: 16 });
      await pgs.query("CREATE DATABASE kali_agents");
      dir = tempDir("roles");
      // The three files where compose mounts them (/etc/kali-agents/sql), the secrets as secrets-init writes them.
      const sqlDir = join(dir, "sql");
      const secretsDir = join(dir, "secrets");
      mkdirSync(sqlDir);
      mkdirSync(secretsDir);
      for (const f of [
        "exporter/sql/scans.sql",
        "exporter/sql/monitoring-role.sql",
        "ops/sql/ops-role.sql",
        "ops/sql/restore-role.sql",
      ])
        copyFileSync(join(root, f), join(sqlDir, f.split("/").pop()!));
      const missing = runInit(pgs, sqlDir, secretsDir);
      assert.equal(missing.status, 1, "the script ran without its secrets");
      assert.match(missing.stderr, /exporter_db_password is missing or empty \(secrets-init creates it\)/);
      assert.equal((await pgs.query("SELECT 1 FROM pg_roles WHERE rolname LIKE 'kali_agents_%'")).length, 0);
      writeFileSync(join(secretsDir, "exporter_db_password"), exporterPassword);
      writeFileSync(join(secretsDir, "ops_db_password"), opsPassword);
      writeFileSync(join(secretsDir, "demo_restore_password"), restorePassword);
      const r = runInit(pgs, sqlDir, secretsDir);
      assert.equal(r.status, 0, r.stderr);
      assert.doesNotMatch(r.stdout + r.stderr, /o'ps|ex'p/, "a password was printed");
      exporterUrl = pgs.urlFor({
        database: "kali_agents",
        user: "kali_agents_exporter",
        password: exporterPassword,
      });
      opsUrl = pgs.urlFor({ database: "kali_agents", user: "kali_agents_ops", password: opsPassword });
      // The restore role (ops/sql/restore-role.sql): logs in with its password, CREATEDB and nothing more.
      const restore = await pgs.query<{ rolsuper: boolean; rolcreatedb: boolean; rolcreaterole: boolean }>(
        "SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = 'kali_agents_restore'",
      );
      assert.deepEqual(restore, [{ rolsuper: false, rolcreatedb: true, rolcreaterole: false }]);
      const restoreUrl = pgs.urlFor({
        database: "kali_agents",
        user: "kali_agents_restore",
        password: restorePassword,
      });
      await asRole(restoreUrl, async (c) => {
        await refused(c, "COPY (SELECT 1) TO PROGRAM 'id'", /permission denied|must be superuser/);
      });
      // Scans of every age: a third past the 90-day retention, some still running.
      await pgs.query(
        `INSERT INTO scans (tool, target, status, created_at, started_at, finished_at)
       SELECT 'nmap', 'host-' || i, CASE WHEN i % 10 = 0 THEN 'running' ELSE 'success' END,
              now() - make_interval(days => CASE WHEN i % 3 = 0 THEN 120 ELSE 1 END),
              now() - make_interval(days => CASE WHEN i % 3 = 0 THEN 120 ELSE 1 END),
              CASE WHEN i % 10 = 0 THEN NULL
                   ELSE now() - make_interval(days => CASE WHEN i % 3 = 0 THEN 120 ELSE 1 END) + interval '1 minute' END
         FROM generate_series(1, 1500) i`,
        [],
        "kali_agents",
      );
      config = loadConfig({
        DATABASE_URL: opsUrl,
        OPS_PG_BIN_DIR: pgs.clientDir!,
        OPS_BACKUP_DIR: join(dir, "backups"),
        OPS_TEXTFILE_DIR: join(dir, "textfile"),
        OPS_REPORT_DIR: join(dir, "reports"),
        OPS_CLEANUP_BATCH_SIZE: "200",
      });
    });
    after(async () => {
      await pgs?.cleanup();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    test("neither role is a superuser or may run programs, read or write the server's files", async () => {
      const rows = await pgs.query<{
        rolname: string;
        rolsuper: boolean;
        rolcreaterole: boolean;
        programs: boolean;
      }>(
        `SELECT rolname, rolsuper, rolcreaterole,
              pg_has_role(rolname, 'pg_execute_server_program', 'MEMBER')
                OR pg_has_role(rolname, 'pg_read_server_files', 'MEMBER')
                OR pg_has_role(rolname, 'pg_write_server_files', 'MEMBER') AS programs
         FROM pg_roles WHERE rolname IN ('kali_agents_exporter', 'kali_agents_ops') ORDER BY rolname`,
      );
      assert.deepEqual(rows, [
        { rolname: "kali_agents_exporter", rolsuper: false, rolcreaterole: false, programs: false },
        { rolname: "kali_agents_ops", rolsuper: false, rolcreaterole: false, programs: false },
      ]);
      for (const url of [exporterUrl, opsUrl])
        await asRole(url, async (c) => {
          await refused(c, "COPY (SELECT 1) TO PROGRAM 'id'", /permission denied|must be superuser/);
          await refused(c, "SELECT pg_read_file('/etc/passwd')", /permission denied/);
          await refused(c, "COPY scans TO '/tmp/kali-scans.csv'", /permission denied|must be superuser/);
          await refused(c, "ALTER ROLE CURRENT_USER SUPERUSER", /permission denied|must be superuser/);
          await refused(c, "CREATE ROLE kali_agents_evil", /permission denied/);
        });
    });

    test("the exporter's URL reads what its collectors read and cannot write", async () => {
      await asRole(exporterUrl, async (c) => {
        const n = await c.query<{ n: string }>("SELECT count(*) AS n FROM scans");
        assert.equal(Number(n.rows[0]!.n), 1500);
        // pg_monitor: other roles' sessions show their state.
        const states = await c.query(
          "SELECT state FROM pg_stat_activity WHERE backend_type = 'client backend' AND state IS NOT NULL AND usename <> current_user",
        );
        assert.ok(states.rowCount !== null);
        await refused(c, "INSERT INTO scans (tool, target) VALUES ('x', 'y')", /permission denied/);
        await refused(c, "UPDATE scans SET status = 'failed'", /permission denied/);
        await refused(c, "DELETE FROM scans", /permission denied/);
        await refused(c, "CREATE TABLE public.kali_evil (x int)", /permission denied/);
        await refused(c, "CREATE DATABASE kali_evil", /permission denied/);
      });
    });

    test("ops' URL runs backup, verify, the DR drill and cleanup, and writes nothing else", async () => {
      for (const job of ["backup", "verify", "dr-drill"] as const) {
        const r = await runJob(config, log, job);
        assert.equal(r.ok, true, `${job}: ${r.error?.message}`);
      }
      assert.ok(readdirSync(join(dir, "backups")).some((f) => f.endsWith(".dump")));
      const r = await runJob(config, log, "cleanup");
      assert.equal(r.ok, true, `cleanup: ${r.error?.message}`);
      const old = await pgs.query<{ n: string }>(
        "SELECT count(*) AS n FROM scans WHERE finished_at < now() - interval '90 days'",
        [],
        "kali_agents",
      );
      assert.equal(Number(old[0]!.n), 0, "cleanup left scans past the retention");
      await asRole(opsUrl, async (c) => {
        await refused(c, "INSERT INTO scans (tool, target) VALUES ('x', 'y')", /permission denied/);
        await refused(c, "UPDATE scans SET status = 'failed'", /permission denied/);
        await refused(c, "CREATE TABLE public.kali_evil (x int)", /permission denied/);
        await refused(c, "TRUNCATE scans", /permission denied/);
      });
    });

    test("a dump whose materialized view runs COPY ... TO PROGRAM runs no program when ops restores it", async (t) => {
      // The attack of a tampered backup: restoring the dump refreshes the view, which calls the function
      // with the restoring role's rights. It only fires outside its own database (so the superuser that
      // built it here ran nothing).
      // In a folder the server's OS user may write to, so the program would leave its mark if it ran.
      const trapDir = mkdtempSync(join(tmpdir(), "kali-trap-"));
      chmodSync(trapDir, 0o777);
      t.after(() => rmSync(trapDir, { recursive: true, force: true }));
      const marker = join(trapDir, "program-ran");
      await pgs.query("CREATE DATABASE kali_crafted");
      await pgs.query(scansDdlWithTrap(marker), undefined, "kali_crafted");
      await pgs.query("GRANT CONNECT ON DATABASE kali_crafted TO kali_agents_ops");
      const crafted = loadConfig({
        DATABASE_URL: pgs.urlFor({
          database: "kali_crafted",
          user: "kali_agents_ops",
          password: opsPassword,
        }),
        OPS_PG_BIN_DIR: pgs.clientDir!,
        OPS_BACKUP_DIR: join(dir, "crafted-backups"),
        OPS_TEXTFILE_DIR: join(dir, "textfile"),
        OPS_REPORT_DIR: join(dir, "reports"),
      });
      const b = await runJob(crafted, log, "backup");
      assert.equal(b.ok, true, `backup: ${b.error?.message}`);
      const v = await runJob(crafted, log, "verify");
      assert.equal(v.ok, false, "the restore of the crafted dump succeeded");
      assert.match(
        v.error?.message ?? "",
        /permission denied to COPY to or from an external program[\s\S]*REFRESH MATERIALIZED VIEW public\.trapped/,
      );
      assert.equal(existsSync(marker), false, "the dump's COPY ... TO PROGRAM ran on the server");
    });
  },
);

/** The scans table plus a materialized view over a function that runs a program outside its own database. */
function scansDdlWithTrap(marker: string): string {
  return `
    CREATE TABLE scans (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tool text NOT NULL, target text NOT NULL,
      status text NOT NULL DEFAULT 'queued', created_at timestamptz NOT NULL DEFAULT now(),
      started_at timestamptz, finished_at timestamptz, finish_xid xid8);
    GRANT SELECT ON scans TO kali_agents_ops;
    CREATE FUNCTION public.trap() RETURNS int LANGUAGE plpgsql AS $f$
    BEGIN
      IF current_database() <> 'kali_crafted' THEN
        EXECUTE format('COPY (SELECT 1) TO PROGRAM %L', 'touch ${marker}');
      END IF;
      RETURN 1;
    END $f$;
    CREATE MATERIALIZED VIEW public.trapped AS SELECT public.trap() AS x;`;
}
