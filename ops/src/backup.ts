// `backup`: pg_dump in custom format (-Fc: compressed, and pg_restore can restore it selectively and in
// parallel) of DATABASE_URL into OPS_BACKUP_DIR, with a sha256 sidecar and a JSON manifest. The dump and
// the manifest's row counts come from ONE snapshot (pg_export_snapshot, pg_dump --snapshot), so
// `verify` can demand exactly the manifest's counts from the restored copy. Every file is written under
// a temporary name and renamed; the manifest comes last, so a backup with a manifest is complete.
import { createHash } from "node:crypto";
import { createReadStream, promises as fs } from "node:fs";
import { basename, join } from "node:path";
import type { Config } from "./config.ts";
import { required } from "./config.ts";
import type { Logger } from "../../lib/log.ts";
import { applyRemoteRetention, offsiteOf, upload, type UploadOutcome } from "./offsite.ts";
import { checkToolMajor, databaseOf, majorOfVersion, runPgTool, tableCounts, withClient } from "./pg.ts";

export interface Manifest {
  readonly file: string;
  readonly createdAt: string;
  readonly sizeBytes: number;
  readonly sha256: string;
  readonly durationSeconds: number;
  readonly database: string;
  readonly serverVersion: string;
  readonly pgDumpVersion: string;
  readonly format: "custom";
  /** Rows of every user table at the snapshot the dump was taken from. */
  readonly rowCounts: Record<string, number>;
}

const PREFIX = "kali-agents-";
const nameRe = /^kali-agents-(\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z)\.dump$/;

/** `kali-agents-2026-11-27T02-00-00-000Z.dump`: sorts by time, and valid on every filesystem. */
export const backupName = (at: Date) => `${PREFIX}${at.toISOString().replace(/[:.]/g, "-")}.dump`;

/** The time in a backup's name, or undefined when the name is not a backup's. */
export function backupTime(file: string): Date | undefined {
  const m = nameRe.exec(basename(file));
  if (!m) return undefined;
  const iso = m[1]!.replace(/^(\d{4}-\d\d-\d\dT\d\d)-(\d\d)-(\d\d)-(\d{3})Z$/, "$1:$2:$3.$4Z");
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

export const sidecar = (file: string) => `${file}.sha256`;
export const manifestPath = (file: string) => `${file}.json`;

export async function sha256(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

async function exists(path: string): Promise<boolean> {
  return fs.stat(path).then(
    () => true,
    () => false,
  );
}

/** Backups in `dir`, newest first; `complete` when the sidecar and the manifest are there. */
export async function listBackups(dir: string): Promise<{ file: string; at: Date; complete: boolean }[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (e) {
    throw new Error(`cannot read the backup folder ${dir}: ${(e as Error).message}`);
  }
  const out = [];
  for (const n of names) {
    const at = backupTime(n);
    if (!at) continue;
    const file = join(dir, n);
    const complete = (await exists(sidecar(file))) && (await exists(manifestPath(file)));
    out.push({ file, at, complete });
  }
  return out.sort((a, b) => b.at.getTime() - a.at.getTime());
}

/** The newest complete backup, or an error saying there is none. */
export async function newestBackup(dir: string): Promise<string> {
  const good = (await listBackups(dir)).find((b) => b.complete);
  if (!good) throw new Error(`no complete backup (.dump with .sha256 and .json) in ${dir}`);
  return good.file;
}

export async function readManifest(file: string): Promise<Manifest> {
  const path = manifestPath(file);
  let text: string;
  try {
    text = await fs.readFile(path, "utf8");
  } catch (e) {
    throw new Error(`${path}: cannot read the manifest: ${(e as Error).message}`);
  }
  try {
    const m = JSON.parse(text) as Manifest;
    if (typeof m.sha256 !== "string" || typeof m.rowCounts !== "object") throw new Error("fields missing");
    return m;
  } catch (e) {
    throw new Error(`${path}: not a backup manifest: ${(e as Error).message}`);
  }
}

/** Checks the file against its sha256 sidecar; throws naming the file when they differ. */
export async function checkChecksum(file: string): Promise<string> {
  let expected: string;
  try {
    expected = (await fs.readFile(sidecar(file), "utf8")).trim().split(/\s+/)[0] ?? "";
  } catch (e) {
    throw new Error(`${file}: cannot read its checksum file: ${(e as Error).message}`);
  }
  let actual: string;
  try {
    actual = await sha256(file);
  } catch (e) {
    throw new Error(`${file}: cannot read the backup: ${(e as Error).message}`);
  }
  if (actual !== expected)
    throw new Error(
      `${file}: checksum mismatch (sha256 ${actual.slice(0, 12)}…, the .sha256 file says ${expected.slice(0, 12)}…): the backup is corrupt or truncated`,
    );
  return actual;
}

async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = join(path, "..", `.${basename(path)}.tmp`);
  await fs.writeFile(tmp, text);
  await fs.rename(tmp, path);
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

export async function backup(config: Config, log: Logger, now = () => new Date()): Promise<BackupOutcome> {
  const url = required(config, "databaseUrl", "backup");
  const dir = config.backupDir;
  await fs.mkdir(dir, { recursive: true });
  const started = now();
  const file = join(dir, backupName(started));
  const tmp = join(dir, `.${basename(file)}.tmp`);
  const pgDumpVersion = (await runPgTool(config.pgBinDir, "pg_dump", url, ["--version"], undefined)).trim();
  const t0 = performance.now();
  let rowCounts: Record<string, number> = {};
  let serverVersion = "";
  try {
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
        config.pgBinDir,
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
  await fs.rename(tmp, file);
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
  const deleted = await applyRetention(dir, config.backupRetentionDays, now());
  for (const d of deleted) log.info("backup deleted by retention", { file: d });
  const local: BackupOutcome = { file, manifest, deleted };
  let off;
  try {
    off = offsiteOf(config);
  } catch (e) {
    throw new OffsiteFailure(`${(e as Error).message}; the local backup ${file} is kept`, local);
  }
  if (!off) return local;
  try {
    const up = await upload(off, file, manifest, log);
    const remoteDeleted = await applyRemoteRetention(off, config.backupRetentionDays, now());
    for (const d of remoteDeleted) log.info("off-site backup deleted by retention", { key: off.prefix + d });
    return { ...local, offsite: { ...up, deleted: remoteDeleted } };
  } catch (e) {
    throw new OffsiteFailure(`${(e as Error).message}; the local backup ${file} is kept`, local);
  } finally {
    off.client.destroy();
  }
}

/**
 * Deletes backups (and their sidecars) older than `days`, and complete-less leftovers as old; never
 * the newest complete backup, however old, so a stopped backup job never ends with no backup at all.
 */
export async function applyRetention(dir: string, days: number, now: Date): Promise<string[]> {
  const cutoff = now.getTime() - days * 24 * 3600 * 1000;
  const all = await listBackups(dir);
  const keep = all.find((b) => b.complete)?.file;
  const deleted: string[] = [];
  for (const b of all) {
    if (b.file === keep || b.at.getTime() >= cutoff) continue;
    // The manifest first: a half-deleted backup then counts as incomplete, never as a good one.
    for (const p of [manifestPath(b.file), sidecar(b.file), b.file]) await fs.rm(p, { force: true });
    deleted.push(b.file);
  }
  // Temporary files of a run that crashed, a day or more ago.
  for (const n of await fs.readdir(dir)) {
    if (!(n.startsWith(`.${PREFIX}`) && n.endsWith(".tmp"))) continue;
    const st = await fs.stat(join(dir, n)).catch(() => undefined);
    if (st && st.mtimeMs < now.getTime() - 24 * 3600 * 1000) await fs.rm(join(dir, n), { force: true });
  }
  return deleted;
}
