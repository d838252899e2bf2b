// The migration of a live scans table to finish_xid (exporter/sql/scans-finish-xid.sql), on a table made
// by the DDL of before (no finish_xid), while the application keeps writing: how long the script takes,
// the longest write the application saw during it (a long lock would show there), and what the table
// holds after (the index valid, the triggers, the finishes stamped). Prints the figures.
//
//   npx tsx bench/scans-migrate.ts                          10M rows (filling takes a few minutes)
//   BENCH_MIGRATE_ROWS=1000000 npx tsx bench/scans-migrate.ts
import { spawn } from "node:child_process";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import pgDriver from "pg";
import { findBinary, startPostgres } from "../test/support/servers.ts";

const repoRoot = new URL("..", import.meta.url).pathname;

export interface MigrationResult {
  readonly rows: number;
  readonly machine: { nproc: number; loadAtStart: number };
  readonly fillSeconds: number;
  readonly scriptMs: number;
  /** A second run of the script: it finds everything in place. */
  readonly againMs: number;
  /** The application's writes (an INSERT of a queued scan, then the UPDATE that finishes it) during the script. */
  readonly writes: number;
  readonly longestWriteMs: number;
  readonly medianWriteMs: number;
  readonly indexValid: boolean;
  readonly triggers: number;
  /** Scans finished after the triggers were in place: all stamped. */
  readonly stampedAfter: boolean;
}

/** The table as exporter/sql/scans.sql made it before finish_xid. */
const oldDdl = `CREATE TABLE scans (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tool text NOT NULL, target text NOT NULL,
  status text NOT NULL DEFAULT 'queued', created_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz, finished_at timestamptz,
  CONSTRAINT scans_status_check CHECK (status IN ('queued', 'running', 'success', 'failed', 'cancelled')),
  CONSTRAINT scans_finished_at_check
    CHECK ((status IN ('success', 'failed', 'cancelled')) = (finished_at IS NOT NULL)));
CREATE INDEX scans_active_idx ON scans (status, tool, started_at) WHERE status IN ('queued', 'running');
CREATE INDEX scans_finished_at_idx ON scans (finished_at);`;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)]! : 0;
};

function psqlFile(url: string, file: string): Promise<{ status: number | null; stderr: string }> {
  const psql = findBinary("psql");
  if (!psql) throw new Error("psql is not installed (postgresql-client-15)");
  return new Promise((resolve) => {
    const child = spawn(psql, [url, "-v", "ON_ERROR_STOP=1", "-q", "-f", join(repoRoot, file)]);
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.stdout.resume();
    child.on("close", (status) => resolve({ status, stderr }));
  });
}

export async function measureMigration(rows: number, log: (m: string) => void): Promise<MigrationResult> {
  const loadAtStart = loadavg()[0]!;
  const pg = await startPostgres({
    settings: {
      shared_buffers: "256MB",
      maintenance_work_mem: "256MB",
      max_wal_size: "8GB",
      autovacuum: "off",
    },
  });
  const writer = new pgDriver.Client({ connectionString: pg.url });
  try {
    const t0 = performance.now();
    await pg.query(oldDdl);
    log(`filling ${rows} rows with the DDL of before finish_xid`);
    for (let lo = 0; lo < rows; lo += 1_000_000) {
      await pg.query(
        `INSERT INTO scans (tool, target, status, created_at, started_at, finished_at)
         SELECT (ARRAY['nmap','nuclei','sqlmap','nikto','gobuster'])[1 + i % 5], 'host', 'success', f, f, f
         FROM generate_series($1::bigint, $2::bigint - 1) AS i,
              LATERAL (SELECT now() - i * interval '500 milliseconds' AS f) t`,
        [lo, Math.min(rows, lo + 1_000_000)],
      );
    }
    await pg.query("VACUUM ANALYZE scans");
    const fillSeconds = (performance.now() - t0) / 1000;
    await writer.connect();
    const latencies: number[] = [];
    let writing = true;
    const loop = (async () => {
      while (writing) {
        const w0 = performance.now();
        const [r] = (
          await writer.query<{ id: string }>(
            "INSERT INTO scans (tool, target) VALUES ('nmap', 'during') RETURNING id::text AS id",
          )
        ).rows;
        await writer.query("UPDATE scans SET status = 'success', finished_at = now() WHERE id = $1", [r!.id]);
        latencies.push(performance.now() - w0);
      }
    })();
    await new Promise((r) => setTimeout(r, 500)); // writes before the script, for the baseline
    log("running exporter/sql/scans-finish-xid.sql while the application writes");
    const s0 = performance.now();
    const first = await psqlFile(pg.url, "exporter/sql/scans-finish-xid.sql");
    const scriptMs = performance.now() - s0;
    if (first.status !== 0) throw new Error(`scans-finish-xid.sql failed: ${first.stderr}`);
    const a0 = performance.now();
    const again = await psqlFile(pg.url, "exporter/sql/scans-finish-xid.sql");
    const againMs = performance.now() - a0;
    if (again.status !== 0) throw new Error(`scans-finish-xid.sql failed the second time: ${again.stderr}`);
    await new Promise((r) => setTimeout(r, 300));
    writing = false;
    await loop;
    const [idx] = await pg.query<{ valid: boolean }>(
      "SELECT indisvalid AS valid FROM pg_index WHERE indexrelid = 'scans_finish_xid_idx'::regclass",
    );
    const [trg] = await pg.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid = 'scans'::regclass AND tgname LIKE 'scans_finish_%'",
    );
    // The last writes ran after the script: every one of them stamped.
    const [after] = await pg.query<{ unstamped: number }>(
      `SELECT count(*) FILTER (WHERE finish_xid IS NULL)::int AS unstamped FROM
         (SELECT finish_xid FROM scans WHERE target = 'during' ORDER BY id DESC LIMIT 5) t`,
    );
    return {
      rows,
      machine: { nproc: cpus().length, loadAtStart },
      fillSeconds,
      scriptMs,
      againMs,
      writes: latencies.length,
      longestWriteMs: Math.max(...latencies),
      medianWriteMs: median(latencies),
      indexValid: idx?.valid === true,
      triggers: trg?.n ?? 0,
      stampedAfter: after?.unstamped === 0,
    };
  } finally {
    await writer.end().catch(() => {});
    await pg.cleanup();
  }
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const rows = Number(process.env.BENCH_MIGRATE_ROWS ?? 10_000_000);
  if (!Number.isInteger(rows) || rows <= 0)
    throw new Error(`BENCH_MIGRATE_ROWS: ${process.env.BENCH_MIGRATE_ROWS} is not a positive integer`);
  const log = (m: string) => console.error(`[scans-migrate ${new Date().toISOString().slice(11, 19)}] ${m}`);
  const r = await measureMigration(rows, log);
  console.log(JSON.stringify(r, null, 2));
}
