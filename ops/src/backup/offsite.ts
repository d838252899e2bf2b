// Off-site copies of the backups in an S3-compatible bucket, under one prefix per deployment:
//   <prefix><name>.dump        the dump (encrypted when OPS_BACKUP_ENCRYPTION_KEY is set)
//   <prefix><name>.dump.sha256 sha256 of the plain dump (sha256sum's format, as locally)
//   <prefix><name>.dump.json   the manifest, uploaded LAST: a remote backup is complete when it exists
// The dump is streamed (read, encrypted, cut into parts) so it never sits in memory: one part at a
// time, multipart above OPS_S3_PART_SIZE_MIB. Each request carries the SHA-256 of its bytes, which S3
// (and MinIO) check on receipt; after the upload the part ETags (MD5 of each part) and the object's
// size are compared with what was sent. A download is checked end to end against the sha256 file.
//
// With a key, the bucket is not trusted: whoever can write to it could swap a copy for a plain dump of
// their own, or put an older copy under a newer name. So the manifest is authenticated (an HMAC under
// a key derived from the backup key, over all of it, the backup's name and time included) and the name
// is in every chunk's associated data (encryption.ts); a download with a key set accepts only such a
// copy, under its own name, unless the operator says otherwise (--allow-unauthenticated). A name dated
// in the future is never the newest backup, and refused when named.
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, promises as fs } from "node:fs";
import { basename, join } from "node:path";
import { pipeline } from "node:stream/promises";
import type { Readable } from "node:stream";
import type { Logger } from "../../../lib/log.ts";
import {
  backupTime,
  checkChecksum,
  FILE_MODE,
  inFuture,
  manifestPath,
  privateDir,
  refuseFuture,
  renameDurably,
  sidecar,
  writeAtomic,
  type Manifest,
} from "./backup-files.ts";
import type { Config } from "../config.ts";
import {
  checkManifestMac,
  cipherName,
  decrypt,
  DecryptionError,
  encrypt,
  keyFingerprint,
  legacyCipherName,
  legacyKeyFingerprint,
  macName,
  manifestMac,
} from "./encryption.ts";

/** What the remote manifest adds to the local one. */
interface OffsiteInfo {
  readonly uploadedAt: string;
  /** Bytes and sha256 of the object as stored (the ciphertext when encrypted). */
  readonly objectSizeBytes: number;
  readonly objectSha256: string;
  readonly encryption: null | { readonly cipher: string; readonly keyFingerprint: string };
  /**
   * The bucket prefix (OPS_S3_PREFIX) the copy was uploaded under, authenticated with the rest: a copy
   * moved to another deployment's prefix whose key is the same is refused. Absent from the copies of
   * before it was written (accepted, with a warning, until retention removes them).
   */
  readonly prefix?: string;
  /** The MAC of the whole manifest but this field (encryption.ts manifestMac); with a key only. */
  readonly authentication?: { readonly algorithm: string; readonly mac: string };
}
type RemoteManifest = Manifest & { readonly offsite: OffsiteInfo };

interface Offsite {
  readonly client: S3Client;
  readonly bucket: string;
  readonly prefix: string;
  readonly partBytes: number;
  readonly key: Buffer | undefined;
  readonly where: string;
}

/** What the off-site store is made of: the OPS_S3_* settings and the backup key. */
export const offsiteKeys = [
  "s3Bucket",
  "s3Prefix",
  "s3Endpoint",
  "s3Region",
  "s3ForcePathStyle",
  "s3AccessKeyId",
  "s3SecretAccessKey",
  "s3PartSizeMib",
  "backupEncryptionKey",
] as const satisfies readonly (keyof Config)[];
export type OffsiteSettings = Pick<Config, (typeof offsiteKeys)[number]>;

/** The off-site store of `config`, or undefined when OPS_S3_BUCKET is not set. */
export function offsiteOf(config: OffsiteSettings): Offsite | undefined {
  if (!config.s3Bucket) return undefined;
  const id = config.s3AccessKeyId;
  const secret = config.s3SecretAccessKey;
  if (!id !== !secret)
    throw new Error("OPS_S3_ACCESS_KEY_ID and OPS_S3_SECRET_ACCESS_KEY go together: set both or neither");
  const client = new S3Client({
    region: config.s3Region,
    ...(config.s3Endpoint ? { endpoint: config.s3Endpoint } : {}),
    forcePathStyle: config.s3ForcePathStyle,
    ...(id && secret ? { credentials: { accessKeyId: id, secretAccessKey: secret } } : {}),
    // We send our own SHA-256 per request (checked by the store); the SDK's default CRC32 trailers
    // (aws-chunked bodies) are not understood by every S3-compatible store.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    maxAttempts: 3,
    requestHandler: { connectionTimeout: 10_000, requestTimeout: 300_000 },
  });
  const endpoint = config.s3Endpoint ? new URL(config.s3Endpoint).host : `s3.${config.s3Region}`;
  return {
    client,
    bucket: config.s3Bucket,
    prefix: config.s3Prefix,
    partBytes: config.s3PartSizeMib * 1024 * 1024,
    key: config.backupEncryptionKey,
    where: `s3://${config.s3Bucket}/${config.s3Prefix} at ${endpoint}`,
  };
}

/** One line naming why a request to the store failed (never a credential). */
function storeError(off: Offsite, what: string, e: unknown): Error {
  const err = e as Error & { code?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
  const code = err.Code ?? err.code ?? err.name;
  const status = err.$metadata?.httpStatusCode;
  let cause: string;
  if (["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "EHOSTUNREACH", "TimeoutError"].includes(code))
    cause = `the store is unreachable (${code})`;
  else if (["ECONNRESET", "EPIPE"].includes(code)) cause = `the connection to the store was cut (${code})`;
  else if (["InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidToken"].includes(code))
    cause = `the store refused the credentials (${code})`;
  else if (code === "NoSuchBucket") cause = `the bucket does not exist (NoSuchBucket)`;
  else if (["QuotaExceeded", "EntityTooLarge", "XMinioStorageFull", "InsufficientStorage"].includes(code))
    cause = `the store is full or over quota (${code})`;
  else cause = `${code}${status ? ` (HTTP ${status})` : ""}: ${err.message}`;
  return new Error(`off-site ${what} ${off.where}: ${cause}`.replace(/[\r\n]+/g, " "));
}

const md5 = (b: Buffer) => createHash("md5").update(b).digest("hex");
const sha256b64 = (b: Buffer) => createHash("sha256").update(b).digest("base64");
const unquote = (etag: string | undefined) => (etag ?? "").replace(/"/g, "");

async function* fileChunks(file: string): AsyncGenerator<Buffer> {
  for await (const c of createReadStream(file, { highWaterMark: 1024 * 1024 })) yield c as Buffer;
}

/** Cuts a byte stream into parts of exactly `size` bytes (the last one shorter). */
async function* parts(source: AsyncIterable<Buffer>, size: number): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let bytes = 0;
  for await (const piece of source) {
    let p = piece;
    while (bytes + p.length >= size) {
      const take = size - bytes;
      pending.push(p.subarray(0, take));
      yield Buffer.concat(pending);
      pending = [];
      bytes = 0;
      p = p.subarray(take);
    }
    if (p.length > 0) {
      pending.push(p);
      bytes += p.length;
    }
  }
  if (bytes > 0) yield Buffer.concat(pending);
}

/** Uploads a byte stream to `key`: one PUT when it fits a part, else multipart (aborted on failure). */
async function putStream(
  off: Offsite,
  key: string,
  source: AsyncIterable<Buffer>,
): Promise<{ bytes: number; sha256: string }> {
  const whole = createHash("sha256");
  let bytes = 0;
  const it = parts(source, off.partBytes)[Symbol.asyncIterator]();
  const first = await it.next();
  const firstPart = first.done ? Buffer.alloc(0) : first.value;
  const second = first.done ? first : await it.next();
  const check = (what: string, got: string | undefined, want: string) => {
    if (unquote(got) !== want)
      throw new Error(
        `off-site upload ${off.where}: the store acknowledged ${what} with ETag ${unquote(got)}, the bytes sent have MD5 ${want}`,
      );
  };
  if (second.done) {
    whole.update(firstPart);
    bytes = firstPart.length;
    let r;
    try {
      r = await off.client.send(
        new PutObjectCommand({
          Bucket: off.bucket,
          Key: key,
          Body: firstPart,
          ContentLength: firstPart.length,
          ChecksumSHA256: sha256b64(firstPart),
        }),
      );
    } catch (e) {
      throw storeError(off, `upload of ${key} to`, e);
    }
    check(key, r.ETag, md5(firstPart));
    return { bytes, sha256: whole.digest("hex") };
  }
  let uploadId: string | undefined;
  try {
    const created = await off.client.send(
      new CreateMultipartUploadCommand({ Bucket: off.bucket, Key: key, ChecksumAlgorithm: "SHA256" }),
    );
    uploadId = created.UploadId!;
    const done: { PartNumber: number; ETag: string; ChecksumSHA256: string }[] = [];
    const sendPart = async (body: Buffer) => {
      const n = done.length + 1;
      whole.update(body);
      bytes += body.length;
      const checksum = sha256b64(body);
      const r = await off.client.send(
        new UploadPartCommand({
          Bucket: off.bucket,
          Key: key,
          UploadId: uploadId,
          PartNumber: n,
          Body: body,
          ContentLength: body.length,
          ChecksumSHA256: checksum,
        }),
      );
      check(`part ${n} of ${key}`, r.ETag, md5(body));
      done.push({ PartNumber: n, ETag: r.ETag!, ChecksumSHA256: checksum });
    };
    await sendPart(firstPart);
    await sendPart(second.value);
    for (let p = await it.next(); !p.done; p = await it.next()) await sendPart(p.value);
    await off.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: off.bucket,
        Key: key,
        UploadId: uploadId,
        MultipartUpload: { Parts: done },
      }),
    );
    uploadId = undefined;
  } catch (e) {
    if (uploadId)
      await off.client
        .send(new AbortMultipartUploadCommand({ Bucket: off.bucket, Key: key, UploadId: uploadId }))
        .catch(() => undefined); // the store may be gone; a lifecycle rule clears what is left
    if (e instanceof Error && e.message.startsWith("off-site")) throw e;
    throw storeError(off, `upload of ${key} to`, e);
  }
  return { bytes, sha256: whole.digest("hex") };
}

async function putText(off: Offsite, key: string, text: string): Promise<void> {
  const body = Buffer.from(text);
  try {
    const r = await off.client.send(
      new PutObjectCommand({
        Bucket: off.bucket,
        Key: key,
        Body: body,
        ContentLength: body.length,
        ChecksumSHA256: sha256b64(body),
        ContentType: key.endsWith(".json") ? "application/json" : "text/plain",
      }),
    );
    if (unquote(r.ETag) !== md5(body))
      throw new Error(
        `off-site upload ${off.where}: the store's ETag for ${key} differs from the bytes sent`,
      );
  } catch (e) {
    if (e instanceof Error && e.message.startsWith("off-site")) throw e;
    throw storeError(off, `upload of ${key} to`, e);
  }
}

export interface UploadOutcome {
  readonly key: string;
  readonly bytes: number;
  readonly seconds: number;
  readonly encrypted: boolean;
}

/** Uploads a complete local backup: dump, then sha256, then the manifest (last). */
export async function upload(
  off: Offsite,
  file: string,
  manifest: Manifest,
  log: Logger,
): Promise<UploadOutcome> {
  const t0 = performance.now();
  const name = basename(file);
  const key = off.prefix + name;
  const source = off.key ? encrypt(fileChunks(file), off.key, name) : fileChunks(file);
  const sent = await putStream(off, key, source);
  let size: number | undefined;
  try {
    size = (await off.client.send(new HeadObjectCommand({ Bucket: off.bucket, Key: key }))).ContentLength;
  } catch (e) {
    throw storeError(off, `check of ${key} at`, e);
  }
  if (size !== sent.bytes)
    throw new Error(`off-site upload ${off.where}: ${key} holds ${size} bytes, ${sent.bytes} were sent`);
  await putText(off, sidecar(key), await fs.readFile(sidecar(file), "utf8"));
  const offsite: OffsiteInfo = {
    uploadedAt: new Date().toISOString(),
    objectSizeBytes: sent.bytes,
    objectSha256: sent.sha256,
    encryption: off.key ? { cipher: cipherName, keyFingerprint: keyFingerprint(off.key) } : null,
    prefix: off.prefix,
  };
  const unsigned: RemoteManifest = { ...manifest, offsite };
  const remote: RemoteManifest = off.key
    ? {
        ...manifest,
        offsite: { ...offsite, authentication: { algorithm: macName, mac: manifestMac(off.key, unsigned) } },
      }
    : unsigned;
  await putText(off, manifestPath(key), JSON.stringify(remote, null, 2) + "\n");
  const seconds = (performance.now() - t0) / 1000;
  log.info("backup uploaded off-site", {
    key,
    bucket: off.bucket,
    bytes: sent.bytes,
    encrypted: Boolean(off.key),
    seconds,
  });
  return { key, bytes: sent.bytes, seconds, encrypted: Boolean(off.key) };
}

interface RemoteBackup {
  readonly name: string;
  readonly at: Date;
  readonly complete: boolean;
  readonly keys: string[];
}

/**
 * The newest complete remote backup that is not dated in the future: a name ahead of every clock is
 * what a tampered bucket looks like (it would be the "newest" for ever, and kept by retention).
 */
function newestRemote(all: readonly RemoteBackup[], now: Date): RemoteBackup | undefined {
  return all.find((b) => b.complete && !inFuture(b.at, now));
}

/** The remote backups under the prefix, newest first; complete when dump, sha256 and manifest exist. */
export async function listRemote(off: Offsite): Promise<RemoteBackup[]> {
  const keys: string[] = [];
  let token: string | undefined;
  try {
    do {
      const r = await off.client.send(
        new ListObjectsV2Command({ Bucket: off.bucket, Prefix: off.prefix, ContinuationToken: token }),
      );
      for (const o of r.Contents ?? []) if (o.Key) keys.push(o.Key);
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
  } catch (e) {
    throw storeError(off, "listing of", e);
  }
  const byName = new Map<string, string[]>();
  for (const k of keys) {
    const rest = k.slice(off.prefix.length);
    if (rest.includes("/")) continue;
    const name = rest.replace(/\.(sha256|json)$/, "");
    if (!backupTime(name)) continue;
    byName.set(name, [...(byName.get(name) ?? []), k]);
  }
  return [...byName.entries()]
    .map(([name, ks]) => ({
      name,
      at: backupTime(name)!,
      keys: ks,
      complete: [name, sidecar(name), manifestPath(name)].every((n) => ks.includes(off.prefix + n)),
    }))
    .sort((a, b) => b.at.getTime() - a.at.getTime());
}

async function getBody(off: Offsite, key: string): Promise<Readable> {
  try {
    const r = await off.client.send(new GetObjectCommand({ Bucket: off.bucket, Key: key }));
    return r.Body as Readable;
  } catch (e) {
    throw storeError(off, `download of ${key} from`, e);
  }
}

async function getText(off: Offsite, key: string): Promise<string> {
  const chunks: Buffer[] = [];
  try {
    for await (const c of await getBody(off, key)) chunks.push(c as Buffer);
  } catch (e) {
    if (e instanceof Error && e.message.startsWith("off-site")) throw e;
    throw storeError(off, `download of ${key} from`, e);
  }
  return Buffer.concat(chunks).toString("utf8");
}

interface DownloadOutcome {
  /** The plain dump, with its .sha256 and .json beside it (checked: the checksum matches). */
  readonly file: string;
  readonly manifest: RemoteManifest;
  readonly seconds: number;
  /** Whether the key authenticated the copy (manifest MAC, name in every chunk). */
  readonly authenticated: boolean;
}

interface DownloadOptions {
  /** Accept, with a key set, a copy the key does not authenticate: plain, or format 1 (--allow-unauthenticated). */
  readonly allowUnauthenticated?: boolean;
  /** Accept an authenticated copy uploaded under another bucket prefix (--allow-other-prefix). */
  readonly allowOtherPrefix?: boolean;
  /** This host's time, for the names dated in the future. */
  readonly now?: Date;
}

const allowHint =
  "pass --allow-unauthenticated only if you know this copy was written so (e.g. before OPS_BACKUP_ENCRYPTION_KEY was set)";

/**
 * Checks what the remote manifest says against the key before anything is downloaded; returns how the
 * dump is to be opened (format 2 with the name, format 1, or plain) and whether it is authenticated.
 */
function checkRemoteManifest(
  off: Offsite,
  key: string,
  name: string,
  manifest: RemoteManifest,
  opts: DownloadOptions,
): { open: "v2" | "v1" | "plain"; authenticated: boolean; prefix?: string | null } {
  const enc = manifest.offsite.encryption;
  if (!enc) {
    if (off.key && !opts.allowUnauthenticated)
      throw new Error(
        `off-site ${key} is not encrypted and OPS_BACKUP_ENCRYPTION_KEY is set: with a key, only copies it encrypted and authenticated are accepted (a plain copy is what a tampered bucket looks like); ${allowHint}`,
      );
    if (manifest.file !== name)
      throw new Error(`off-site ${key}: its manifest is that of another backup (${String(manifest.file)})`);
    return { open: "plain", authenticated: false };
  }
  if (!off.key)
    throw new Error(
      `off-site ${key} is encrypted (key ${enc.keyFingerprint}) and OPS_BACKUP_ENCRYPTION_KEY is not set`,
    );
  if (enc.cipher === legacyCipherName) {
    if (legacyKeyFingerprint(off.key) !== enc.keyFingerprint)
      throw new Error(
        `off-site ${key} was encrypted with key ${enc.keyFingerprint}; OPS_BACKUP_ENCRYPTION_KEY is key ${legacyKeyFingerprint(off.key)} (wrong key)`,
      );
    if (!opts.allowUnauthenticated)
      throw new Error(
        `off-site ${key} is in the format of before manifests were authenticated (${legacyCipherName}): nothing proves it is the copy written under this name; ${allowHint.replace("e.g. before OPS_BACKUP_ENCRYPTION_KEY was set", "an upload of before this version")}`,
      );
    if (manifest.file !== name)
      throw new Error(`off-site ${key}: its manifest is that of another backup (${String(manifest.file)})`);
    return { open: "v1", authenticated: false };
  }
  if (enc.cipher !== cipherName)
    throw new Error(`off-site ${key}: unknown cipher ${JSON.stringify(enc.cipher)} in its manifest`);
  if (keyFingerprint(off.key) !== enc.keyFingerprint)
    throw new Error(
      `off-site ${key} was encrypted with key ${enc.keyFingerprint}; OPS_BACKUP_ENCRYPTION_KEY is key ${keyFingerprint(off.key)} (wrong key)`,
    );
  const { authentication, ...unsigned } = manifest.offsite;
  if (
    authentication?.algorithm !== macName ||
    !checkManifestMac(off.key, { ...manifest, offsite: unsigned }, authentication.mac)
  )
    throw new Error(
      `off-site ${manifestPath(key)} fails authentication: the manifest was altered, or not written with this key; nothing was downloaded`,
    );
  // The manifest is the key's own: its name and time are those the backup was written under.
  const at = backupTime(name)!;
  if (manifest.file !== name || manifest.createdAt !== at.toISOString()) {
    const was = new Date(manifest.createdAt);
    if (was.getTime() < at.getTime())
      throw new Error(
        `off-site ${key} is an older backup replayed under a newer name: its authenticated name is ${manifest.file} (taken ${manifest.createdAt}); refused`,
      );
    throw new Error(
      `off-site ${key} is another backup moved under this name: its authenticated name is ${manifest.file} (taken ${manifest.createdAt}); refused`,
    );
  }
  // And the prefix it was uploaded under: two deployments sharing a key (and a bucket) must not take
  // each other's copies. Copies of before the prefix was bound have none (null: accepted, warned).
  const prefix = unsigned.prefix;
  if (prefix !== undefined && prefix !== off.prefix && !opts.allowOtherPrefix)
    throw new Error(
      `off-site ${key} was uploaded under another prefix (${JSON.stringify(prefix)}; OPS_S3_PREFIX is ${JSON.stringify(off.prefix)}): another deployment's copy, or one moved by hand; refused (pass --allow-other-prefix only if you moved it yourself)`,
    );
  return { open: "v2", authenticated: true, prefix: prefix ?? null };
}

/**
 * Downloads a remote backup (`name`, or the newest complete one) into `dir`, decrypting it when it
 * was encrypted, and checks it against its sha256: an altered or truncated object fails here, named.
 * With a key set, the copy must be encrypted and authenticated under its own name (checkRemoteManifest)
 * before a byte of the dump is downloaded. Every file is 0600 in a 0700 folder.
 */
export async function download(
  off: Offsite,
  dir: string,
  log: Logger,
  name?: string,
  opts: DownloadOptions = {},
): Promise<DownloadOutcome> {
  const t0 = performance.now();
  const now = opts.now ?? new Date();
  let chosen = name;
  if (chosen === undefined) {
    const all = await listRemote(off);
    for (const b of all.filter((b) => b.complete && inFuture(b.at, now)))
      log.warn("off-site backup dated in the future ignored (not restored, not the newest)", {
        key: off.prefix + b.name,
        now: now.toISOString(),
      });
    chosen = newestRemote(all, now)?.name;
  }
  if (!chosen) throw new Error(`off-site: no complete backup (.dump with .sha256 and .json) in ${off.where}`);
  const key = off.prefix + chosen;
  const at = backupTime(chosen);
  if (!at) throw new Error(`off-site ${key}: not a backup's name (kali-agents-<time>.dump)`);
  refuseFuture(`off-site ${key}`, chosen, now);
  const manifestText = await getText(off, manifestPath(key));
  let manifest: RemoteManifest;
  try {
    manifest = JSON.parse(manifestText) as RemoteManifest;
    if (
      typeof manifest.sha256 !== "string" ||
      typeof manifest.offsite !== "object" ||
      manifest.offsite === null
    )
      throw new Error("fields missing");
  } catch (e) {
    throw new Error(`off-site ${manifestPath(key)}: not a backup manifest: ${(e as Error).message}`);
  }
  const how = checkRemoteManifest(off, key, chosen, manifest, opts);
  if (how.prefix === null)
    log.warn("off-site backup not bound to its prefix (uploaded before this version): accepted", { key });
  else if (how.prefix !== undefined && how.prefix !== off.prefix)
    log.warn("off-site backup of another prefix accepted (--allow-other-prefix)", {
      key,
      prefix: how.prefix,
    });
  if (!how.authenticated && off.key)
    log.warn("off-site backup accepted without authentication (--allow-unauthenticated)", {
      key,
      format: how.open,
    });
  await privateDir(dir);
  const file = join(dir, chosen);
  const tmp = join(dir, `.${chosen}.tmp`);
  try {
    const body = await getBody(off, key);
    const source = body as AsyncIterable<Buffer>;
    const plain =
      how.open === "v2"
        ? decrypt(source, off.key!, chosen)
        : how.open === "v1"
          ? decrypt(source, off.key!, null)
          : body;
    await pipeline(plain, createWriteStream(tmp, { mode: FILE_MODE }));
    await renameDurably(tmp, file);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    if (e instanceof DecryptionError) throw new Error(`off-site ${key}: decryption failed: ${e.message}`);
    if (e instanceof Error && e.message.startsWith("off-site")) throw e;
    throw storeError(off, `download of ${key} from`, e);
  }
  await writeAtomic(sidecar(file), await getText(off, sidecar(key)));
  await writeAtomic(manifestPath(file), manifestText);
  try {
    const actual = await checkChecksum(file);
    if (actual !== manifest.sha256)
      throw new Error(
        `the manifest says sha256 ${manifest.sha256.slice(0, 12)}…, the download is ${actual.slice(0, 12)}…`,
      );
  } catch (e) {
    throw new Error(`off-site ${key} (downloaded to ${file}): ${(e as Error).message}`);
  }
  const seconds = (performance.now() - t0) / 1000;
  log.info("backup downloaded from off-site", {
    key,
    file,
    encrypted: how.open !== "plain",
    authenticated: how.authenticated,
    seconds,
  });
  return { file, manifest, seconds, authenticated: how.authenticated };
}

/**
 * Remote retention, the local rule: backups older than `days` go, the newest complete one never (of
 * those not dated in the future; those are left alone: refused by restore, kept as evidence).
 * The manifest is deleted first, so a half-deleted backup counts as incomplete, never as good.
 */
export async function applyRemoteRetention(off: Offsite, days: number, now: Date): Promise<string[]> {
  const cutoff = now.getTime() - days * 24 * 3600 * 1000;
  const all = await listRemote(off);
  // The newest complete backup of this clock's past: one dated in the future (restored never) must
  // not stand in for it, or the true newest would be deleted once past retention.
  const keep = newestRemote(all, now)?.name;
  const deleted: string[] = [];
  for (const b of all) {
    if (b.name === keep || b.at.getTime() >= cutoff) continue;
    const order = [manifestPath(b.name), sidecar(b.name), b.name].map((n) => off.prefix + n);
    for (const k of order.filter((k) => b.keys.includes(k)))
      try {
        await off.client.send(new DeleteObjectCommand({ Bucket: off.bucket, Key: k }));
      } catch (e) {
        throw storeError(off, `retention (deleting ${k}) in`, e);
      }
    deleted.push(b.name);
  }
  return deleted;
}
