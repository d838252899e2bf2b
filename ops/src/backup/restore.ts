// `verify`, `restore` and `dr-drill`: a backup restored with pg_restore into a scratch database of its
// own, then checked. verify and dr-drill drop the scratch database whatever happens. restore never
// loses its target: every check (the tools' and servers' majors, `pg_restore --list`, the checksum,
// the off-site copy's authentication) runs before anything is touched; the dump goes into a scratch
// database, is checked, and only then takes the target's name (ALTER DATABASE RENAME); the previous
// database is kept under a dated name until the operator drops it. A dump is SQL that runs as the
// role that restores it: the restore role (OPS_RESTORE_DATABASE_URL, ops/sql/restore-role.sql) can
// create databases and nothing more, so a tampered copy cannot run programs on the server.
import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import { basename, join } from "node:path";
import type { Config, TableName } from "../config.ts";
import type { Logger } from "../../../lib/log.ts";
import { backup, type BackupSettings } from "./backup.ts";
import { checkChecksum, newestBackup, readManifest, refuseFuture, type Manifest } from "./backup-files.ts";
import { quoteIdent } from "../../../lib/sql.ts";
import { download, offsiteKeys, offsiteOf, type OffsiteSettings } from "./offsite.ts";
import {
  checkToolMajor,
  createDatabase,
  databaseOf,
  dropDatabase,
  majorOfVersion,
  runPgTool,
  tableCounts,
  withClient,
  withDatabase,
} from "../pg.ts";

/** What fetchBackup reads: the local backups' folder and the off-site store. */
interface FetchSettings extends OffsiteSettings, Pick<Config, "backupDir"> {}

/** What verify, restore and the drill's restore read besides DATABASE_URL. */
export const restoreKeys = [
  ...offsiteKeys,
  "backupDir",
  "pgBinDir",
  "adminDatabase",
  "restoreDatabaseUrl",
  "scansTable",
] as const satisfies readonly (keyof Config)[];
/** The settings of verify, restore and the drill's restore, resolved once at the door (jobs.ts). */
export interface RestoreSettings extends Pick<Config, (typeof restoreKeys)[number]> {
  /** The application database (DATABASE_URL, checked at the door to be set and to name a database). */
  readonly databaseUrl: string;
  /** The run (`verify`, `drill`, `restore`): its scratch databases are named after it, its refusals begin with it. */
  readonly job: string;
}
/** The drill's settings: a backup's and a restore's. */
export type DrillSettings = BackupSettings & RestoreSettings;

const adminUrl = (settings: RestoreSettings) => withDatabase(settings.databaseUrl, settings.adminDatabase);

/**
 * The role a dump is restored as: the URL (any database; its credentials are what counts), and
 * whether it may run programs on the server.
 */
interface Restorer {
  readonly url: string;
  readonly role: string;
  readonly dedicated: boolean;
  readonly serverMajor: number;
}

/**
 * The restore role, checked: it must be able to create databases, and, for an off-site copy (`remote`),
 * must not be able to run programs or touch files on the server: not a superuser nor able to become
 * one, not a member of pg_execute_server_program, pg_read_server_files or pg_write_server_files.
 */
async function restorer(settings: RestoreSettings, remote: boolean): Promise<Restorer> {
  const { job } = settings;
  const dedicated = Boolean(settings.restoreDatabaseUrl);
  const url = settings.restoreDatabaseUrl ?? settings.databaseUrl;
  const r = await withClient(withDatabase(url, settings.adminDatabase), (c) =>
    c.query<{ role: string; createdb: boolean; powers: string[]; v: string }>(
      `SELECT r.rolname AS role, r.rolcreatedb OR r.rolsuper AS createdb,
              array_remove(ARRAY[
                CASE WHEN r.rolsuper THEN 'superuser' END,
                CASE WHEN NOT r.rolsuper AND EXISTS (
                  SELECT 1 FROM pg_roles s WHERE s.rolsuper AND pg_has_role(r.oid, s.oid, 'MEMBER'))
                  THEN 'member of a superuser role' END,
                CASE WHEN NOT r.rolsuper AND pg_has_role(r.oid, 'pg_execute_server_program', 'MEMBER')
                  THEN 'member of pg_execute_server_program' END,
                CASE WHEN NOT r.rolsuper AND pg_has_role(r.oid, 'pg_write_server_files', 'MEMBER')
                  THEN 'member of pg_write_server_files' END,
                CASE WHEN NOT r.rolsuper AND pg_has_role(r.oid, 'pg_read_server_files', 'MEMBER')
                  THEN 'member of pg_read_server_files' END
              ], NULL) AS powers,
              current_setting('server_version') AS v
         FROM pg_roles r WHERE r.rolname = current_user`,
    ),
  );
  const row = r.rows[0]!;
  const variable = dedicated ? "OPS_RESTORE_DATABASE_URL" : "DATABASE_URL";
  if (remote && row.powers.length > 0)
    throw new Error(
      `${job}: an off-site copy is not restored as role "${row.role}" (${variable}): it can run programs or touch files on the database server (${row.powers.join(", ")}), and a tampered copy would run them; set OPS_RESTORE_DATABASE_URL to the restore role of ops/sql/restore-role.sql`,
    );
  if (!row.createdb)
    throw new Error(`${job}: role "${row.role}" (${variable}) needs CREATEDB to create the scratch database`);
  return { url, role: row.role, dedicated, serverMajor: majorOfVersion(row.v) ?? 0 };
}

/**
 * Everything checked before anything is created or dropped: the manifest, the file's checksum, the
 * role restores run as, then the archive against the tools and the server.
 */
async function preflight(
  settings: RestoreSettings,
  file: string,
  remote: boolean,
): Promise<{ manifest: Manifest; who: Restorer }> {
  const manifest = await readManifest(file);
  await checkChecksum(file);
  const who = await restorer(settings, remote);
  await checkArchive(settings.pgBinDir, who, file, manifest);
  return { manifest, who };
}

/**
 * pg_restore reads archives of its own major and older, the server must not be of an older major than
 * the one the backup was taken from, and the file must be an archive pg_restore can read (`--list`).
 */
async function checkArchive(
  pgBinDir: string | undefined,
  who: Restorer,
  file: string,
  manifest: Manifest,
): Promise<void> {
  const dumpMajor = majorOfVersion(manifest.pgDumpVersion);
  if (dumpMajor !== undefined) {
    const version = (await runPgTool(pgBinDir, "pg_restore", who.url, ["--version"], undefined)).trim();
    checkToolMajor("pg_restore", version, dumpMajor, `the pg_dump that wrote ${file}`);
  }
  const sourceMajor = majorOfVersion(manifest.serverVersion);
  if (sourceMajor !== undefined && who.serverMajor < sourceMajor)
    throw new Error(
      `${file} was taken from PostgreSQL ${sourceMajor}; this server is PostgreSQL ${who.serverMajor}: a backup restores into its own major or a newer one`,
    );
  try {
    // The table of contents: a file that is no custom-format archive fails here, before anything else.
    await runPgTool(pgBinDir, "pg_restore", who.url, ["--list", file], undefined);
  } catch (e) {
    throw new Error(`${file}: not an archive pg_restore can read: ${(e as Error).message}`);
  }
}

async function pgRestore(
  pgBinDir: string | undefined,
  who: Restorer,
  file: string,
  database: string,
): Promise<void> {
  try {
    await runPgTool(
      pgBinDir,
      "pg_restore",
      who.url,
      // Owners and grants name roles the target server may not have; the data is what is checked.
      ["--exit-on-error", "--no-owner", "--no-privileges", file],
      database,
    );
  } catch (e) {
    throw new Error(`${file}: restore into database "${database}" failed: ${(e as Error).message}`);
  }
}

/** The checks on a restored copy: the scans table is there and every table has the manifest's rows. */
async function checkRestored(
  scansTable: TableName,
  base: string,
  database: string,
  file: string,
  manifest: Manifest,
): Promise<{ tables: number; rows: number }> {
  // As the role that restored it: the copy's objects are its own, and whatever function a tampered copy
  // hides in them (a policy, a trigger) runs with that role's rights, never a superuser's.
  const url = withDatabase(base, database);
  return withClient(url, async (c) => {
    const { schema, table } = scansTable;
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
const stampBatch = 5000;

/**
 * A scans table restored from another cluster keeps that cluster's `finish_xid` stamps
 * (docs/database.md, "A table restored from another cluster"). A stamp at or above this cluster's next
 * transaction id would look new once this cluster's ids reach it, and the exporter would count that
 * scan a second time (and refuses to start while one is ahead). Those stamps are set to NULL, as for
 * scans finished before the triggers existed: already counted. Restored onto its own cluster, no stamp
 * is ahead and nothing changes. Keyset batches on the (finish_xid, id) index; returns the rows cleared.
 */
async function clearForeignStamps(scansTable: TableName, base: string, database: string): Promise<number> {
  const url = withDatabase(base, database);
  const { schema, table } = scansTable;
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

interface VerifyOutcome {
  readonly file: string;
  readonly tables: number;
  readonly rows: number;
  readonly restoreSeconds: number;
  /** restore: scans whose finish_xid stamp, from another cluster, was ahead of this one's and cleared. */
  readonly clearedStamps?: number;
  /** restore: the name the replaced database is kept under. */
  readonly keptPrevious?: string;
}

export type Source = "local" | "remote";

interface Fetched {
  readonly file: string;
  /** Seconds spent downloading (and decrypting) the off-site copy; 0 for a local backup. */
  readonly downloadSeconds: number;
  readonly done: () => Promise<void>;
}

/**
 * The backup to restore: a local file (`name` or the newest complete one), or the off-site copy
 * (`name` is then a remote backup's name) downloaded, decrypted and checked into a folder of its own
 * under OPS_BACKUP_DIR, removed by `done`. Locally as off-site, a backup named with a time in the
 * future of `now` is never the newest, and refused when named.
 */
export async function fetchBackup(
  settings: FetchSettings,
  log: Logger,
  source: Source,
  name?: string,
  allowUnauthenticated = false,
  now: Date = new Date(),
  allowOtherPrefix = false,
): Promise<Fetched> {
  if (source === "local") {
    if (name !== undefined) refuseFuture(name, name, now);
    const file =
      name ??
      (await newestBackup(settings.backupDir, now, (f) =>
        log.warn("backup dated in the future ignored (not restored, not the newest)", {
          file: f,
          now: now.toISOString(),
        }),
      ));
    return { file, downloadSeconds: 0, done: async () => {} };
  }
  const off = offsiteOf(settings);
  if (!off) throw new Error("--from remote needs the off-site store (OPS_S3_BUCKET is not set)");
  const dir = join(settings.backupDir, `.offsite-${randomBytes(4).toString("hex")}`);
  try {
    const d = await download(off, dir, log, name, { allowUnauthenticated, allowOtherPrefix, now });
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

interface VerifyOptions {
  /** The backup (default the newest complete one); with source remote, a remote backup's name. */
  readonly file?: string | undefined;
  readonly source?: Source | undefined;
  /** Accept an off-site copy the key does not authenticate (plain, or format 1). */
  readonly allowUnauthenticated?: boolean | undefined;
  /** Accept an authenticated off-site copy uploaded under another prefix. */
  readonly allowOtherPrefix?: boolean | undefined;
}

/**
 * Restores a backup (the newest complete one by default; `source` remote: the off-site copy) into a
 * scratch database and checks it.
 */
export async function verify(
  settings: RestoreSettings,
  log: Logger,
  opts: VerifyOptions = {},
): Promise<VerifyOutcome & { downloadSeconds: number }> {
  const source = opts.source ?? "local";
  const fetched = await fetchBackup(
    settings,
    log,
    source,
    opts.file,
    opts.allowUnauthenticated,
    new Date(),
    opts.allowOtherPrefix,
  );
  try {
    return {
      ...(await verifyFile(settings, log, fetched.file, source === "remote")),
      downloadSeconds: fetched.downloadSeconds,
    };
  } finally {
    await fetched.done();
  }
}

async function verifyFile(
  settings: RestoreSettings,
  log: Logger,
  target: string,
  remote: boolean,
): Promise<VerifyOutcome> {
  const { manifest, who } = await preflight(settings, target, remote);
  const scratch = scratchName(settings.job);
  const t0 = performance.now();
  await createDatabase(withDatabase(who.url, settings.adminDatabase), scratch);
  try {
    await pgRestore(settings.pgBinDir, who, target, scratch);
    const checked = await checkRestored(settings.scansTable, who.url, scratch, target, manifest);
    const restoreSeconds = (performance.now() - t0) / 1000;
    log.info("backup verified", {
      file: target,
      scratch_database: scratch,
      role: who.role,
      ...checked,
      restore_seconds: restoreSeconds,
    });
    return { file: target, ...checked, restoreSeconds };
  } finally {
    await dropDatabase(withDatabase(who.url, settings.adminDatabase), scratch).catch((e: unknown) =>
      log.error("cannot drop the scratch database", { database: scratch, error: e }),
    );
  }
}

export interface RestoreOptions {
  readonly target: string;
  readonly from?: string;
  /** Replace a non-empty target (kept under a dated name), ending its sessions. */
  readonly force?: boolean;
  readonly source?: Source;
  /** The second confirmation when the target is DATABASE_URL's own database. */
  readonly replaceLive?: boolean;
  /** Accept an off-site copy the key does not authenticate (plain, or format 1). */
  readonly allowUnauthenticated?: boolean;
  /** Accept an authenticated off-site copy uploaded under another prefix. */
  readonly allowOtherPrefix?: boolean;
  /** The time in the name the previous database is kept under (default now). */
  readonly now?: Date;
}

/** `kali_before_20261207T201500Z`: the name a replaced database is kept under (63 bytes at most). */
const keptName = (target: string, at: Date) =>
  `${target.slice(0, 39)}_before_${at.toISOString().slice(0, 19).replace(/[-:]/g, "")}Z`;

/**
 * Restores a backup into `target`: into a scratch database first, checked, then renamed to `target`.
 * An existing `target` is renamed to keptName (non-empty: only with `force`); the live database of
 * DATABASE_URL only with `replaceLive` too.
 */
export async function restore(
  settings: RestoreSettings,
  log: Logger,
  opts: RestoreOptions,
): Promise<VerifyOutcome> {
  if (!/^[A-Za-z0-9_][A-Za-z0-9_-]{0,62}$/.test(opts.target))
    throw new Error(
      `restore: target database ${JSON.stringify(opts.target)} is not a name of letters, digits, _ and -`,
    );
  if (opts.target === settings.adminDatabase)
    throw new Error(
      `restore: the target may not be the admin database "${settings.adminDatabase}" (OPS_ADMIN_DATABASE)`,
    );
  const live = databaseOf(settings.databaseUrl);
  if (opts.target === live && !opts.replaceLive)
    throw new Error(
      `restore: "${opts.target}" is the live database of DATABASE_URL; to replace it, stop its writers and pass --replace-live-database as well (the current one is then kept as ${keptName(opts.target, opts.now ?? new Date())})`,
    );
  const fetched = await fetchBackup(
    settings,
    log,
    opts.source ?? "local",
    opts.from,
    opts.allowUnauthenticated,
    new Date(),
    opts.allowOtherPrefix,
  );
  try {
    const r = await restoreFile(settings, log, opts, fetched.file, (opts.source ?? "local") === "remote");
    return { ...r, restoreSeconds: r.restoreSeconds + fetched.downloadSeconds };
  } finally {
    await fetched.done();
  }
}

interface TargetState {
  readonly exists: boolean;
  readonly relations: number;
  readonly sessions: number;
}

async function targetState(admin: string, target: string): Promise<TargetState> {
  const head = await withClient(admin, async (c) => {
    const r = await c.query<{ n: string }>(
      `SELECT (SELECT count(*) FROM pg_stat_activity a WHERE a.datname = d.datname AND a.pid <> pg_backend_pid()) AS n
         FROM pg_database d WHERE d.datname = $1`,
      [target],
    );
    return r.rowCount === 1 ? Number(r.rows[0]!.n) : undefined;
  });
  if (head === undefined) return { exists: false, relations: 0, sessions: 0 };
  const relations = await withClient(withDatabase(admin, target), async (c) => {
    const r = await c.query<{ n: string }>(
      `SELECT count(*) AS n FROM pg_class k JOIN pg_namespace n ON n.oid = k.relnamespace
        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
          AND n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pg_toast_temp%'`,
    );
    return Number(r.rows[0]!.n);
  });
  return { exists: true, relations, sessions: head };
}

/**
 * Renames `from` to `to` as `url`'s role. With `endSessions`, the sessions on `from` are ended first
 * (the rename needs none), a few times over: a client that reconnects at once is ended again.
 */
async function renameDatabase(url: string, from: string, to: string, endSessions: boolean): Promise<void> {
  await withClient(url, async (c) => {
    for (let attempt = 1; ; attempt++) {
      if (endSessions)
        await c.query(
          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
          [from],
        );
      try {
        await c.query(`ALTER DATABASE ${quoteIdent(from)} RENAME TO ${quoteIdent(to)}`);
        return;
      } catch (e) {
        // 55006 object_in_use: "database … is being accessed by other users".
        if ((e as { code?: string }).code !== "55006" || !endSessions || attempt >= 5) throw e;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  });
}

async function restoreFile(
  settings: RestoreSettings,
  log: Logger,
  opts: RestoreOptions,
  file: string,
  remote: boolean,
): Promise<VerifyOutcome> {
  const { manifest, who } = await preflight(settings, file, remote);
  const admin = adminUrl(settings);
  const before = await targetState(admin, opts.target);
  if (before.relations > 0 && !opts.force)
    throw new Error(
      `restore: database "${opts.target}" is not empty (${before.relations} relations); pass --force to replace it (it is kept under a dated name)`,
    );
  if (before.sessions > 0 && !opts.force)
    throw new Error(
      `restore: database "${opts.target}" has ${before.sessions} open sessions; stop its clients, or pass --force to end them when the restored copy takes its name`,
    );
  const t0 = performance.now();
  const whoAdmin = withDatabase(who.url, settings.adminDatabase);
  const scratch = scratchName(settings.job);
  await createDatabase(whoAdmin, scratch);
  let checked: { tables: number; rows: number };
  let clearedStamps: number;
  try {
    await pgRestore(settings.pgBinDir, who, file, scratch);
    checked = await checkRestored(settings.scansTable, who.url, scratch, file, manifest);
    clearedStamps = await clearForeignStamps(settings.scansTable, who.url, scratch);
  } catch (e) {
    await dropDatabase(whoAdmin, scratch).catch((d: unknown) =>
      log.error("cannot drop the scratch database", { database: scratch, error: d }),
    );
    throw e;
  }
  if (clearedStamps > 0)
    log.warn("finish_xid stamps of another cluster cleared (those scans are not counted again)", {
      database: scratch,
      rows: clearedStamps,
    });
  // The checked copy takes the target's name; the previous database steps aside, kept.
  let kept: string | undefined;
  try {
    const now = await targetState(admin, opts.target);
    if (now.exists) {
      if (now.relations > 0 && !opts.force)
        throw new Error(
          `restore: database "${opts.target}" was filled during the restore (${now.relations} relations); pass --force to replace it`,
        );
      kept = keptName(opts.target, opts.now ?? new Date());
      if (now.sessions > 0)
        log.warn("ending the sessions of the database being replaced (--force)", {
          database: opts.target,
          sessions: now.sessions,
        });
      await renameDatabase(admin, opts.target, kept, Boolean(opts.force));
    }
  } catch (e) {
    await dropDatabase(whoAdmin, scratch).catch(() => undefined);
    throw new Error(`restore: database "${opts.target}" is left as it was: ${(e as Error).message}`);
  }
  try {
    await renameDatabase(whoAdmin, scratch, opts.target, false);
  } catch (e) {
    // Put the previous database back under its name; the checked copy stays for the operator.
    if (kept) await renameDatabase(admin, kept, opts.target, true).catch(() => undefined);
    throw new Error(
      `restore: the checked copy ${scratch} could not take the name "${opts.target}" (${(e as Error).message}); "${opts.target}" is back as it was; drop ${scratch} when done`,
    );
  }
  if (kept) {
    // Its disk stays in use until it is dropped: the size says how much.
    const size = await withClient(admin, (c) =>
      c.query<{ b: string }>("SELECT pg_database_size($1)::text AS b", [kept]),
    ).then(
      (r) => Number(r.rows[0]!.b),
      () => undefined,
    );
    log.warn("the previous database is kept under a dated name: drop it when no longer needed", {
      database: kept,
      replaced_by: opts.target,
      size_bytes: size,
    });
  }
  const restoreSeconds = (performance.now() - t0) / 1000;
  log.info("backup restored", {
    file,
    database: opts.target,
    role: who.role,
    kept_previous: kept,
    ...checked,
    cleared_stamps: clearedStamps,
    restore_seconds: restoreSeconds,
  });
  return { file, ...checked, restoreSeconds, clearedStamps, ...(kept ? { keptPrevious: kept } : {}) };
}

interface DrillOutcome {
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
export async function drDrill(settings: DrillSettings, log: Logger, source?: Source): Promise<DrillOutcome> {
  // The drill that matters is the one where the host is gone: from the off-site copy when there is one.
  const from: Source = source ?? (settings.s3Bucket ? "remote" : "local");
  const t0 = performance.now();
  const b = await backup(settings, log);
  const backupSeconds = (performance.now() - t0) / 1000;
  const v = await verify(settings, log, {
    file: from === "remote" ? basename(b.file) : b.file,
    source: from,
  });
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
