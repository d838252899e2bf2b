// Measures the ops jobs on a throwaway PostgreSQL 15 (the test harness's) holding N scan rows:
// backup, verify, dr-drill (its restore time is the RTO figure) and cleanup, each through runJob as
// the CLI runs it. With --s3 the backups also go to an S3-compatible server (the tests' s3rver, on
// this machine), verify and dr-drill restore from that off-site copy (the drill's RTO then includes
// the download), and --encrypt encrypts the copies. The figures quoted in
// docs/operations/backup-and-recovery.md come from:
//   npx tsx bench/ops-measure.ts [rows=100000] [--s3] [--encrypt]
import { randomBytes } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { startS3Server, s3Credentials, type S3Server } from "../test/support/s3.ts";
import { startPostgres } from "../test/support/servers.ts";
import { runJob } from "../ops/src/jobs.ts";
import type { Command, JobArgs } from "../ops/src/jobs.ts";
import { opsConfig, quietLogger, scansDdl } from "../ops/test/support.ts";

const args = process.argv.slice(2);
const withS3 = args.includes("--s3") || args.includes("--encrypt");
const encrypted = args.includes("--encrypt");
const rows = Number(args.find((a) => !a.startsWith("--")) ?? 100_000);
if (!Number.isInteger(rows) || rows < 1)
  throw new Error(`rows must be a whole number, got ${args.join(" ")}`);

const pgs = await startPostgres();
const s3: S3Server | undefined = withS3 ? await startS3Server() : undefined;
// Off-site copies restore as the restore role (ops/sql/restore-role.sql), never as the superuser.
await pgs.query(readFileSync(join(import.meta.dirname, "..", "ops", "sql", "restore-role.sql"), "utf8"));
await pgs.query("ALTER ROLE kali_agents_restore PASSWORD 'measure'");
const { config, dirs } = opsConfig({
  DATABASE_URL: pgs.urlFor({ database: "kali" }),
  OPS_RESTORE_DATABASE_URL: pgs.urlFor({
    database: "kali",
    user: "kali_agents_restore",
    password: "measure",
  }),
  ...(s3
    ? {
        OPS_S3_ENDPOINT: s3.endpoint,
        OPS_S3_BUCKET: s3.bucket,
        OPS_S3_FORCE_PATH_STYLE: "true",
        OPS_S3_ACCESS_KEY_ID: s3Credentials.accessKeyId,
        OPS_S3_SECRET_ACCESS_KEY: s3Credentials.secretAccessKey,
      }
    : {}),
  ...(encrypted ? { OPS_BACKUP_ENCRYPTION_KEY: randomBytes(32).toString("hex") } : {}),
});
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
  if (s3) console.log(`off-site: s3rver at ${s3.endpoint}${encrypted ? ", encrypted (AES-256-GCM)" : ""}`);
  for (const command of ["backup", "verify", "dr-drill", "cleanup"] as Command[]) {
    const t0 = performance.now();
    const jobArgs: JobArgs = s3 && command === "verify" ? { source: "remote" } : {};
    const r = await runJob(config, log, command, jobArgs);
    const seconds = ((performance.now() - t0) / 1000).toFixed(2);
    if (!r.ok) throw new Error(`${command} failed: ${r.error?.message}`);
    const s = r.summary as Record<string, unknown>;
    const offsite = s.offsite as { seconds: number; bytes: number } | undefined;
    const detail =
      command === "backup"
        ? `archive ${(Number(s.size_bytes) / 1024 / 1024).toFixed(2)} MiB` +
          (offsite
            ? `, upload ${offsite.seconds.toFixed(2)} s (${(offsite.bytes / 1024 / 1024).toFixed(2)} MiB stored)`
            : "")
        : command === "verify"
          ? `${s3 ? `from remote: download ${Number(s.downloadSeconds).toFixed(2)} s, ` : ""}restore + checks ${Number(s.restoreSeconds).toFixed(2)} s, ${String(s.rows)} rows checked`
          : command === "dr-drill"
            ? `backup ${Number(s.backupSeconds).toFixed(2)} s, from ${String(s.source)}: download ${Number(s.downloadSeconds).toFixed(2)} s, download + restore to verified copy (RTO) ${Number(s.restoreSeconds).toFixed(2)} s`
            : `${String(s.scansDeleted)} rows deleted in ${String(s.batches)} batches`;
    console.log(`${command.padEnd(9)} ${seconds.padStart(7)} s  ${detail}`);
  }
} finally {
  await s3?.cleanup();
  await pgs.cleanup();
  rmSync(dirs.root!, { recursive: true, force: true });
}
