// Measures the ops jobs on a throwaway PostgreSQL 15 (the test harness's) holding N scan rows:
// backup, verify, dr-drill (its restore time is the RTO figure) and cleanup, each through runJob as
// the CLI runs it. The figures quoted in docs/operations/backup-and-recovery.md come from:
//   npx tsx ops/scripts/measure.ts [rows=100000]
import { rmSync } from "node:fs";
import { startPostgres } from "../../test/support/servers.ts";
import { runJob } from "../src/jobs.ts";
import type { Command } from "../src/jobs.ts";
import { opsConfig, quietLogger, scansDdl } from "../test/support.ts";

const rows = Number(process.argv[2] ?? 100_000);
if (!Number.isInteger(rows) || rows < 1)
  throw new Error(`rows must be a whole number, got ${process.argv[2]}`);

const pgs = await startPostgres();
const { config, dirs } = opsConfig({ DATABASE_URL: pgs.urlFor({ database: "kali" }) });
try {
  await pgs.query("CREATE DATABASE kali");
  await pgs.query(scansDdl, [], "kali");
  // A third finished past the 90-day retention, the rest within it; realistic targets and tools.
  await pgs.query(
    `INSERT INTO scans (tool, target, status, created_at, started_at, finished_at)
     SELECT (ARRAY['nmap','nikto','sqlmap','gobuster'])[1 + i % 4], 'host-' || i || '.example.net', 'success',
            now() - make_interval(days => CASE WHEN i % 3 = 0 THEN 100 + i % 200 ELSE i % 80 END),
            now() - make_interval(days => CASE WHEN i % 3 = 0 THEN 100 + i % 200 ELSE i % 80 END),
            now() - make_interval(days => CASE WHEN i % 3 = 0 THEN 100 + i % 200 ELSE i % 80 END) + make_interval(secs => 30 + i % 600)
       FROM generate_series(1, $1) i`,
    [rows],
    "kali",
  );
  await pgs.query("VACUUM ANALYZE scans", [], "kali");
  const size = (await pgs.query<{ s: string }>("SELECT pg_size_pretty(pg_database_size('kali')) AS s"))[0]!.s;
  console.log(
    `PostgreSQL ${(await pgs.query<{ v: string }>("SELECT current_setting('server_version') AS v"))[0]!.v}, ${rows} scan rows, database ${size}`,
  );
  const { log } = quietLogger();
  for (const command of ["backup", "verify", "dr-drill", "cleanup"] as Command[]) {
    const t0 = performance.now();
    const r = await runJob(config, log, command);
    const seconds = ((performance.now() - t0) / 1000).toFixed(2);
    if (!r.ok) throw new Error(`${command} failed: ${r.error?.message}`);
    const s = r.summary as Record<string, unknown>;
    const detail =
      command === "backup"
        ? `archive ${(Number(s.size_bytes) / 1024 / 1024).toFixed(2)} MiB`
        : command === "verify"
          ? `restore + checks ${Number(s.restoreSeconds).toFixed(2)} s, ${String(s.rows)} rows checked`
          : command === "dr-drill"
            ? `backup ${Number(s.backupSeconds).toFixed(2)} s, restore to verified copy (RTO) ${Number(s.restoreSeconds).toFixed(2)} s`
            : `${String(s.scansDeleted)} rows deleted in ${String(s.batches)} batches`;
    console.log(`${command.padEnd(9)} ${seconds.padStart(7)} s  ${detail}`);
  }
} finally {
  await pgs.cleanup();
  rmSync(dirs.root!, { recursive: true, force: true });
}
