// `verify`, `restore` and `dr-drill`: a backup restored with pg_restore into a database of its own,
// then checked. verify and dr-drill use a scratch database (created, then dropped whatever happens);
// restore writes into a named target and refuses a non-empty one unless forced.
import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import { basename, join } from "node:path";
import type { Config } from "./config.ts";
import { required } from "./config.ts";
import type { Logger } from "../../lib/log.ts";
import { backup } from "./backup.ts";
import { checkChecksum, newestBackup, readManifest, type Manifest } from "./backup-files.ts";
import { quoteIdent } from "../../lib/sql.ts";
import { download, offsiteOf } from "./offsite.ts";
import { checkToolMajor, majorOfVersion, runPgTool, tableCounts, withClient, withDatabase } from "./pg.ts";

const adminUrl = (config: Config, job: string) =>
  withDatabase(required(config, "databaseUrl", job), config.adminDatabase);

async function createDatabase(config: Config, job: string, name: string): Promise<void> {
  await withClient(adminUrl(config, job), (c) => c.query(`CREATE DATABASE ${quoteIdent(name)}`));
}

async function dropDatabase(config: Config, job: string, name: string): Promise<void> {
  // WITH (FORCE) (PostgreSQL 13+) ends sessions still connected, e.g. a pg_restore killed mid-way.
  await withClient(adminUrl(config, job), (c) =>
    c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`),
  );
}

async function pgRestore(
  config: Config,
  job: string,
  file: string,
  database: string,
  manifest: Manifest,
): Promise<void> {
  const url = required(config, "databaseUrl", job);
  const dumpMajor = majorOfVersion(manifest.pgDumpVersion);
  if (dumpMajor !== undefined) {
    const version = (await runPgTool(config.pgBinDir, "pg_restore", url, ["--version"], undefined)).trim();
    checkToolMajor("pg_restore", version, dumpMajor, `the pg_dump that wrote ${file}`);
  }
  try {
    // The table of contents first: a file that is no custom-format archive fails here, fast.
    await runPgTool(config.pgBinDir, "pg_restore", url, ["--list", file], undefined);
    await runPgTool(
      config.pgBinDir,
      "pg_restore",
      url,
      // Owners and grants name roles the target server may not have; the data is what is checked.
      ["--exit-on-error", "--no-owner", "--no-privileges", file],
      database,
    );
  } catch (e) {
    throw new Error(`${file}: restore into database "${database}" failed: ${(e as Error).message}`);
  }
}

/** The checks on a restored copy: the scans table is there and every table has the manifest's rows. */
export async function checkRestored(
  config: Config,
  job: string,
  database: string,
  file: string,
  manifest: Manifest,
): Promise<{ tables: number; rows: number }> {
  const url = withDatabase(required(config, "databaseUrl", job), database);
  return withClient(url, async (c) => {
    const { schema, table } = config.scansTable;
    const reg = await c.query<{ r: string | null }>("SELECT to_regclass($1)::text AS r", [
      `${quoteIdent(schema)}.${quoteIdent(table)}`,
    ]);
    if (!reg.rows[0]?.r)
      throw new Error(`${file}: the restored copy has no ${schema}.${table} table (SCANS_TABLE)`);
    const counts = await tableCounts(c);
    const problems: string[] = [];
    for (const [t, want] of Object.entries(manifest.rowCounts)) {
      const got = counts[t];
      if (got === undefined) problems.push(`${t} is missing`);
      else if (got !== want) problems.push(`${t} has ${got} rows, the manifest ${want}`);
    }
    if (problems.length > 0) throw new Error(`${file}: the restored copy differs: ${problems.join("; ")}`);
    // A query the application would run: the copy serves reads, not just holds tables.
    await c.query(
      `SELECT * FROM ${quoteIdent(schema)}.${quoteIdent(table)} ORDER BY finished_at DESC NULLS LAST LIMIT 10`,
    );
    return {
      tables: Object.keys(counts).length,
      rows: Object.values(counts).reduce((a, b) => a + b, 0),
    };
  });
}

/** Rows per statement when clearing stamps: short transactions on a table the application writes. */
export const stampBatch = 5000;

/**
 * A scans table restored from another cluster keeps that cluster's `finish_xid` stamps
 * (docs/database.md, "A table restored from another cluster"). A stamp at or above this cluster's next
 * transaction id would look new once this cluster's ids reach it, and the exporter would count that
 * scan a second time (and refuses to start while one is ahead). Those stamps are set to NULL, as for
 * scans finished before the triggers existed: already counted. Restored onto its own cluster, no stamp
 * is ahead and nothing changes. Keyset batches on the (finish_xid, id) index; returns the rows cleared.
 */
export async function clearForeignStamps(config: Config, job: string, database: string): Promise<number> {
  const url = withDatabase(required(config, "databaseUrl", job), database);
  const { schema, table } = config.scansTable;
  const t = `${quoteIdent(schema)}.${quoteIdent(table)}`;
  return withClient(url, async (c) => {
    const col = await c.query(
      `SELECT 1 FROM pg_attribute
        WHERE attrelid = to_regclass($1) AND attname = 'finish_xid' AND attnum > 0 AND NOT attisdropped`,
      [t],
    );
    if (col.rowCount === 0) return 0;
    const xmax = (await c.query<{ x: string }>("SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS x"))
      .rows[0]!.x;
    let cleared = 0;
    for (;;) {
      const r = await c.query(
        `UPDATE ${t} SET finish_xid = NULL
          WHERE id IN (SELECT id FROM ${t} WHERE finish_xid >= $1::xid8 ORDER BY finish_xid, id LIMIT ${stampBatch})`,
        [xmax],
      );
      cleared += r.rowCount ?? 0;
      if ((r.rowCount ?? 0) < stampBatch) return cleared;
    }
  });
}

const scratchName = (job: string) =>
  `kali_ops_${job}_${new Date().toISOString().slice(0, 10).replace(/-/g, "")}_${randomBytes(4).toString("hex")}`;

export interface VerifyOutcome {
  readonly file: string;
  readonly tables: number;
  readonly rows: number;
  readonly restoreSeconds: number;
  /** restore: scans whose finish_xid stamp, from another cluster, was ahead of this one's and cleared. */
  readonly clearedStamps?: number;
}

export type Source = "local" | "remote";

export interface Fetched {
  readonly file: string;
  /** Seconds spent downloading (and decrypting) the off-site copy; 0 for a local backup. */
  readonly downloadSeconds: number;
  readonly done: () => Promise<void>;
}

/**
 * The backup to restore: a local file (`name` or the newest complete one), or the off-site copy
 * (`name` is then a remote backup's name) downloaded, decrypted and checked into a folder of its own
 * under OPS_BACKUP_DIR, removed by `done`.
 */
export async function fetchBackup(
  config: Config,
  log: Logger,
  source: Source,
  name?: string,
): Promise<Fetched> {
  if (source === "local")
    return { file: name ?? (await newestBackup(config.backupDir)), downloadSeconds: 0, done: async () => {} };
  const off = offsiteOf(config);
  if (!off) throw new Error("--from remote needs the off-site store (OPS_S3_BUCKET is not set)");
  const dir = join(config.backupDir, `.offsite-${randomBytes(4).toString("hex")}`);
  try {
    const d = await download(off, dir, log, name);
    return {
      file: d.file,
      downloadSeconds: d.seconds,
      done: () => fs.rm(dir, { recursive: true, force: true }),
    };
  } catch (e) {
    await fs.rm(dir, { recursive: true, force: true });
    throw e;
  } finally {
    off.client.destroy();
  }
}

/**
 * Restores a backup (the newest complete one by default; `source` remote: the off-site copy) into a
 * scratch database and checks it.
 */
export async function verify(
  config: Config,
  log: Logger,
  file?: string,
  job = "verify",
  source: Source = "local",
): Promise<VerifyOutcome & { downloadSeconds: number }> {
  const fetched = await fetchBackup(config, log, source, file);
  try {
    return {
      ...(await verifyFile(config, log, fetched.file, job)),
      downloadSeconds: fetched.downloadSeconds,
    };
  } finally {
    await fetched.done();
  }
}

async function verifyFile(config: Config, log: Logger, target: string, job: string): Promise<VerifyOutcome> {
  const manifest = await readManifest(target);
  await checkChecksum(target);
  const scratch = scratchName(job);
  const t0 = performance.now();
  await createDatabase(config, job, scratch);
  try {
    await pgRestore(config, job, target, scratch, manifest);
    const checked = await checkRestored(config, job, scratch, target, manifest);
    const restoreSeconds = (performance.now() - t0) / 1000;
    log.info("backup verified", {
      file: target,
      scratch_database: scratch,
      ...checked,
      restore_seconds: restoreSeconds,
    });
    return { file: target, ...checked, restoreSeconds };
  } finally {
    await dropDatabase(config, job, scratch).catch((e: unknown) =>
      log.error("cannot drop the scratch database", { database: scratch, error: e }),
    );
  }
}

export interface RestoreOptions {
  readonly target: string;
  readonly from?: string;
  readonly force?: boolean;
  readonly source?: Source;
}

/** Restores a backup into `target`, created when missing; a non-empty one only with `force` (dropped first). */
export async function restore(config: Config, log: Logger, opts: RestoreOptions): Promise<VerifyOutcome> {
  if (!/^[A-Za-z0-9_][A-Za-z0-9_-]{0,62}$/.test(opts.target))
    throw new Error(
      `restore: target database ${JSON.stringify(opts.target)} is not a name of letters, digits, _ and -`,
    );
  if (opts.target === config.adminDatabase)
    throw new Error(
      `restore: the target may not be the admin database "${config.adminDatabase}" (OPS_ADMIN_DATABASE)`,
    );
  const fetched = await fetchBackup(config, log, opts.source ?? "local", opts.from);
  try {
    const r = await restoreFile(config, log, opts, fetched.file);
    return { ...r, restoreSeconds: r.restoreSeconds + fetched.downloadSeconds };
  } finally {
    await fetched.done();
  }
}

async function restoreFile(
  config: Config,
  log: Logger,
  opts: RestoreOptions,
  file: string,
): Promise<VerifyOutcome> {
  const manifest = await readManifest(file);
  await checkChecksum(file);
  const t0 = performance.now();
  const existing = await withClient(adminUrl(config, "restore"), async (c) => {
    const r = await c.query("SELECT 1 FROM pg_database WHERE datname = $1", [opts.target]);
    return r.rowCount === 1;
  });
  if (existing) {
    const relations = await withClient(withDatabase(adminUrl(config, "restore"), opts.target), async (c) => {
      const r = await c.query<{ n: string }>(
        `SELECT count(*) AS n FROM pg_class k JOIN pg_namespace n ON n.oid = k.relnamespace
          WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
            AND n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pg_toast_temp%'`,
      );
      return Number(r.rows[0]!.n);
    });
    if (relations > 0 && !opts.force)
      throw new Error(
        `restore: database "${opts.target}" is not empty (${relations} relations); pass --force to drop and recreate it`,
      );
    if (relations > 0) {
      log.warn("dropping the non-empty target database (--force)", { database: opts.target, relations });
      await dropDatabase(config, "restore", opts.target);
      await createDatabase(config, "restore", opts.target);
    }
  } else await createDatabase(config, "restore", opts.target);
  await pgRestore(config, "restore", file, opts.target, manifest);
  const checked = await checkRestored(config, "restore", opts.target, file, manifest);
  const clearedStamps = await clearForeignStamps(config, "restore", opts.target);
  if (clearedStamps > 0)
    log.warn("finish_xid stamps of another cluster cleared (those scans are not counted again)", {
      database: opts.target,
      rows: clearedStamps,
    });
  const restoreSeconds = (performance.now() - t0) / 1000;
  log.info("backup restored", {
    file,
    database: opts.target,
    ...checked,
    cleared_stamps: clearedStamps,
    restore_seconds: restoreSeconds,
  });
  return { file, ...checked, restoreSeconds, clearedStamps };
}

export interface DrillOutcome {
  readonly backupFile: string;
  readonly backupSeconds: number;
  /**
   * From the start of the restore (of the download, when restored from the off-site copy) to a
   * checked copy answering queries: the measured RTO.
   */
  readonly restoreSeconds: number;
  readonly downloadSeconds: number;
  readonly source: Source;
  readonly rows: number;
}

/**
 * The disaster-recovery drill: a fresh backup, restored into a new scratch database, checked, timed.
 * The restore time (not the backup's) is the RTO figure: in a disaster the backup already exists.
 */
export async function drDrill(config: Config, log: Logger, source?: Source): Promise<DrillOutcome> {
  // The drill that matters is the one where the host is gone: from the off-site copy when there is one.
  const from: Source = source ?? (config.s3Bucket ? "remote" : "local");
  const t0 = performance.now();
  const b = await backup(config, log);
  const backupSeconds = (performance.now() - t0) / 1000;
  const v = await verify(config, log, from === "remote" ? basename(b.file) : b.file, "drill", from);
  const restoreSeconds = v.restoreSeconds + v.downloadSeconds;
  log.info("dr drill passed", {
    file: b.file,
    source: from,
    backup_seconds: backupSeconds,
    download_seconds: v.downloadSeconds,
    restore_seconds: restoreSeconds,
  });
  return {
    backupFile: b.file,
    backupSeconds,
    restoreSeconds,
    downloadSeconds: v.downloadSeconds,
    source: from,
    rows: v.rows,
  };
}
