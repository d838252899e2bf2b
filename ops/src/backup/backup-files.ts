// The backup folder's files, shared by `backup`, `verify`, `restore` and the off-site copies: a dump's
// name and time, its sha256 sidecar and JSON manifest, the listing that tells complete backups (with a
// manifest) from leftovers, and the local retention. No job logic here, so backup.ts and offsite.ts
// both build on it without importing each other.
import { createHash } from "node:crypto";
import { createReadStream, promises as fs } from "node:fs";
import { basename, join } from "node:path";

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

/** A backup's name may be this far ahead of this host's clock (clocks of two hosts differ a little). */
export const FUTURE_TOLERANCE_MS = 10 * 60 * 1000;

/** Whether a backup of time `at` is dated in the future of `now` (beyond the tolerance). */
export const inFuture = (at: Date, now: Date) => at.getTime() > now.getTime() + FUTURE_TOLERANCE_MS;

/**
 * Refuses a backup named with a time in the future of `now`: no backup can have been taken then, so
 * the name was set by hand, by a host with a wrong clock, or by whoever tampered with the folder or
 * bucket. `what` names it in the message (a path, or an off-site key). A name without a time passes.
 */
export function refuseFuture(what: string, name: string, now: Date): void {
  const at = backupTime(name);
  if (at && inFuture(at, now))
    throw new Error(
      `${what} is dated in the future (${at.toISOString()}; this host's clock says ${now.toISOString()}): no backup can have been taken then; refused`,
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

/**
 * The newest complete backup not dated in the future of `now`, or an error saying there is none. A
 * name ahead of the clock would otherwise be the "newest" for ever (and kept by retention in place of
 * the true newest); it is skipped, and `skipped` hears of each such one.
 */
export async function newestBackup(
  dir: string,
  now: Date = new Date(),
  skipped: (file: string) => void = () => {},
): Promise<string> {
  const all = await listBackups(dir);
  for (const b of all) if (b.complete && inFuture(b.at, now)) skipped(b.file);
  const good = all.find((b) => b.complete && !inFuture(b.at, now));
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

/** Files of the backups: readable by the ops user only (they hold the whole database). */
export const FILE_MODE = 0o600;
/** Folders of the backups and downloads. */
const DIR_MODE = 0o700;

/** Creates `dir` (and its parents) and makes it 0700, whatever the umask or its mode was. */
export async function privateDir(dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: DIR_MODE });
  await fs.chmod(dir, DIR_MODE);
}

/** Creates (or empties) `path` as a 0600 file, before anything is written into it. */
export async function privateFile(path: string): Promise<void> {
  const fh = await fs.open(path, "w", FILE_MODE);
  try {
    await fh.chmod(FILE_MODE);
  } finally {
    await fh.close();
  }
}

/** Flushes a file's data (or a folder's entries) to disk. */
async function fsyncPath(path: string): Promise<void> {
  const fh = await fs.open(path, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Moves a finished temporary file into place durably: its data is on disk before the rename, and the
 * rename is (the folder is fsynced after it), so a crash leaves the old name or the complete new file,
 * never a named, empty one.
 */
export async function renameDurably(tmp: string, path: string): Promise<void> {
  await fsyncPath(tmp);
  await fs.rename(tmp, path);
  await fsyncPath(join(path, ".."));
}

export async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = join(path, "..", `.${basename(path)}.tmp`);
  await privateFile(tmp);
  await fs.writeFile(tmp, text);
  await renameDurably(tmp, path);
}

/**
 * Deletes backups (and their sidecars) older than `days`, and complete-less leftovers as old; never
 * the newest complete backup, however old, so a stopped backup job never ends with no backup at all.
 * That newest is of this clock's past: a name dated in the future (never restored, left in place as
 * evidence) must not stand in for it, or the true newest would be deleted once past retention.
 */
export async function applyRetention(dir: string, days: number, now: Date): Promise<string[]> {
  const cutoff = now.getTime() - days * 24 * 3600 * 1000;
  const all = await listBackups(dir);
  const keep = all.find((b) => b.complete && !inFuture(b.at, now))?.file;
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
