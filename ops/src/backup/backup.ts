// `backup`: pg_dump in custom format (-Fc: compressed, and pg_restore can restore it selectively and in
// parallel) of DATABASE_URL into OPS_BACKUP_DIR, with a sha256 sidecar and a JSON manifest. The dump and
// the manifest's row counts come from ONE snapshot (pg_export_snapshot, pg_dump --snapshot), so
// `verify` can demand exactly the manifest's counts from the restored copy. Every file is written under
// a temporary name (0600, in a 0700 folder), fsynced and renamed, the folder fsynced after; the
// manifest comes last, so a backup with a manifest is complete.
import { promises as fs } from "node:fs";
import { basename, join } from "node:path";
import {
  applyRetention,
  backupName,
  manifestPath,
  privateDir,
  privateFile,
  renameDurably,
  sha256,
  sidecar,
  writeAtomic,
  type Manifest,
} from "./backup-files.ts";
import type { Config } from "../config.ts";
import type { Logger } from "../../../lib/log.ts";
import { applyRemoteRetention, offsiteKeys, offsiteOf, upload, type UploadOutcome } from "./offsite.ts";
import { checkToolMajor, databaseOf, majorOfVersion, runPgTool, tableCounts, withClient } from "../pg.ts";

/** What backup reads of the configuration besides DATABASE_URL (the off-site store's included). */
export const backupKeys = [
  ...offsiteKeys,
  "pgBinDir",
  "backupDir",
  "backupRetentionDays",
] as const satisfies readonly (keyof Config)[];
/** Backup's settings, resolved once at the door (jobs.ts). */
export interface BackupSettings extends Pick<Config, (typeof backupKeys)[number]> {
  /** The application database (DATABASE_URL, checked at the door to be set and to name a database). */
  readonly databaseUrl: string;
}

export interface BackupOutcome {
  readonly file: string;
  readonly manifest: Manifest;
  readonly deleted: string[];
  /** The off-site copy, when OPS_S3_BUCKET is set. */
  readonly offsite?: UploadOutcome & { readonly deleted: string[] };
}

/** The local backup was written (and is kept) but its off-site copy failed. */
export class OffsiteFailure extends Error {
  constructor(
    message: string,
    readonly local: BackupOutcome,
  ) {
    super(message);
    this.name = "OffsiteFailure";
  }
}

export async function backup(
  settings: BackupSettings,
  log: Logger,
  now = () => new Date(),
): Promise<BackupOutcome> {
  const url = settings.databaseUrl;
  const dir = settings.backupDir;
  await privateDir(dir);
  const started = now();
  const file = join(dir, backupName(started));
  const tmp = join(dir, `.${basename(file)}.tmp`);
  const pgDumpVersion = (await runPgTool(settings.pgBinDir, "pg_dump", url, ["--version"], undefined)).trim();
  const t0 = performance.now();
  let rowCounts: Record<string, number> = {};
  let serverVersion = "";
  try {
    // pg_dump writes into the file as it finds it: created 0600 first, it is never readable by others.
    await privateFile(tmp);
    await withClient(url, async (c) => {
      // The snapshot lives as long as this transaction: it stays open until pg_dump has finished.
      await c.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      const snap = await c.query<{ s: string; v: string }>(
        "SELECT pg_export_snapshot() AS s, current_setting('server_version') AS v",
      );
      serverVersion = snap.rows[0]!.v;
      checkToolMajor("pg_dump", pgDumpVersion, majorOfVersion(serverVersion) ?? 0, "the server");
      rowCounts = await tableCounts(c);
      await runPgTool(
        settings.pgBinDir,
        "pg_dump",
        url,
        ["--format=custom", `--snapshot=${snap.rows[0]!.s}`, `--file=${tmp}`],
        databaseOf(url),
      );
      await c.query("COMMIT");
    });
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
  const sizeBytes = (await fs.stat(tmp)).size;
  const digest = await sha256(tmp);
  await renameDurably(tmp, file);
  const manifest: Manifest = {
    file: basename(file),
    createdAt: started.toISOString(),
    sizeBytes,
    sha256: digest,
    durationSeconds: Math.round(performance.now() - t0) / 1000,
    database: databaseOf(url),
    serverVersion,
    pgDumpVersion,
    format: "custom",
    rowCounts,
  };
  // sha256sum's format, so `sha256sum -c` checks a backup by hand.
  await writeAtomic(sidecar(file), `${digest}  ${basename(file)}\n`);
  await writeAtomic(manifestPath(file), JSON.stringify(manifest, null, 2) + "\n");
  log.info("backup written", { file, size_bytes: sizeBytes, duration_seconds: manifest.durationSeconds });
  const deleted = await applyRetention(dir, settings.backupRetentionDays, now());
  for (const d of deleted) log.info("backup deleted by retention", { file: d });
  const local: BackupOutcome = { file, manifest, deleted };
  let off;
  try {
    off = offsiteOf(settings);
  } catch (e) {
    throw new OffsiteFailure(`${(e as Error).message}; the local backup ${file} is kept`, local);
  }
  if (!off) return local;
  try {
    const up = await upload(off, file, manifest, log);
    const remoteDeleted = await applyRemoteRetention(off, settings.backupRetentionDays, now());
    for (const d of remoteDeleted) log.info("off-site backup deleted by retention", { key: off.prefix + d });
    return { ...local, offsite: { ...up, deleted: remoteDeleted } };
  } catch (e) {
    throw new OffsiteFailure(`${(e as Error).message}; the local backup ${file} is kept`, local);
  } finally {
    off.client.destroy();
  }
}
