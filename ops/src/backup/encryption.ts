// Encryption and authentication of the off-site copies. The one configured key (OPS_BACKUP_ENCRYPTION_KEY)
// is never used as is: HKDF-SHA256 derives three keys from it with distinct info strings, one to encrypt
// the dump, one to authenticate the manifest (HMAC-SHA256), one to name the key (its fingerprint), so
// no key serves two purposes. The format (our own, written down here and in
// docs/operations/backup-and-recovery.md):
//
//   header   = "KABKENC2" (8 bytes) | chunk size, uint32 big-endian (4) | nonce prefix, random (8)
//   chunk i  = AES-256-GCM(encryption key, nonce = prefix | uint32 BE i,
//                          aad = header | final flag byte | "kali-agents backup " + the backup's name)
//              ciphertext (chunk size bytes, fewer for the last) followed by its 16-byte tag
//
// Every chunk is authenticated on its own, its number is in its nonce (chunks cannot be reordered or
// dropped), the last chunk says it is the last (the file cannot be cut short at a chunk boundary) and
// the backup's name is in every chunk's associated data (a copy moved under another name does not
// decrypt). Nonces: 64 random bits per file, then a 32-bit chunk counter from 0, so two files share
// nonces only when their random prefixes are equal: with n files under one key that happens with
// probability about n^2 / 2^65, i.e. 2^-33 after 2^16 files (179 years of daily backups) and 2^-32,
// NIST SP 800-38D's bound for random nonces, after about 92,700 files. The key itself never leaves the
// key file: the manifest holds only its fingerprint, an HMAC that names the key without revealing it,
// so a wrong key is named before anything is decrypted.
//
// Version 1 ("KABKENC1", aes-256-gcm-chunked-v1, before the manifest was authenticated) encrypted with
// the configured key itself, without the name in the associated data; it is still read, but only when
// the operator says so (--allow-unauthenticated): nothing in it binds the copy to its name.
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  hkdfSync,
  randomBytes,
  timingSafeEqual,
} from "node:crypto";

const MAGIC_V1 = Buffer.from("KABKENC1", "latin1");
const MAGIC = Buffer.from("KABKENC2", "latin1");
const HEADER_BYTES = 20;
const TAG_BYTES = 16;
const DEFAULT_CHUNK_BYTES = 1024 * 1024;
export const cipherName = "aes-256-gcm-chunked-v2";
export const legacyCipherName = "aes-256-gcm-chunked-v1";
/** The manifest's authentication: HMAC-SHA256 under the derived key, over its canonical JSON. */
export const macName = "hmac-sha256-v2";

export class DecryptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DecryptionError";
  }
}

/** The keys derived from the configured one; each serves one purpose only. */
interface BackupKeys {
  /** AES-256-GCM key of the chunks (format 2). */
  readonly encryption: Buffer;
  /** HMAC-SHA256 key of the manifest. */
  readonly authentication: Buffer;
  /** HMAC-SHA256 key of the fingerprint. */
  readonly fingerprint: Buffer;
}

const derive = (key: Buffer, info: string) =>
  Buffer.from(hkdfSync("sha256", key, Buffer.alloc(0), `kali-agents backup v2 ${info}`, 32));

export function deriveKeys(key: Buffer): BackupKeys {
  if (key.length !== 32) throw new Error("the backup key must be 32 bytes");
  return {
    encryption: derive(key, "encryption"),
    authentication: derive(key, "manifest authentication"),
    fingerprint: derive(key, "fingerprint"),
  };
}

/** Names a key without revealing it (HMAC-SHA256 of a fixed label under the derived key, 16 hex digits). */
export function keyFingerprint(key: Buffer): string {
  return createHmac("sha256", deriveKeys(key).fingerprint)
    .update("kali-agents backup key fingerprint")
    .digest("hex")
    .slice(0, 16);
}

/** The fingerprint format 1 wrote (an HMAC under the configured key itself), to name a key of an old copy. */
export function legacyKeyFingerprint(key: Buffer): string {
  return createHmac("sha256", key).update("kali-agents backup key fingerprint").digest("hex").slice(0, 16);
}

/** JSON with every object's keys sorted: the same bytes for the same value, whoever wrote the file. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object")
    return `{${Object.keys(value)
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  return JSON.stringify(value) ?? "null";
}

/** The manifest's MAC (hex) under the derived authentication key, over its canonical JSON. */
export function manifestMac(key: Buffer, fields: unknown): string {
  return createHmac("sha256", deriveKeys(key).authentication)
    .update(`kali-agents backup manifest\n${canonicalJson(fields)}`)
    .digest("hex");
}

/** Whether `mac` is the manifest's MAC, compared in constant time. */
export function checkManifestMac(key: Buffer, fields: unknown, mac: unknown): boolean {
  if (typeof mac !== "string" || !/^[0-9a-f]{64}$/.test(mac)) return false;
  return timingSafeEqual(Buffer.from(manifestMac(key, fields), "hex"), Buffer.from(mac, "hex"));
}

/** What goes into every chunk's associated data: the backup's name (format 2). */
const contextOf = (name: string) => Buffer.from(`kali-agents backup ${name}`, "utf8");

function nonce(prefix: Buffer, index: number): Buffer {
  const n = Buffer.alloc(12);
  prefix.copy(n, 0);
  n.writeUInt32BE(index, 8);
  return n;
}

const aad = (header: Buffer, final: boolean, context: Buffer) =>
  Buffer.concat([header, Buffer.from([final ? 1 : 0]), context]);

function sealChunk(
  key: Buffer,
  header: Buffer,
  index: number,
  plain: Buffer,
  final: boolean,
  context: Buffer,
): Buffer {
  const c = createCipheriv("aes-256-gcm", key, nonce(header.subarray(12, 20), index));
  c.setAAD(aad(header, final, context));
  const body = Buffer.concat([c.update(plain), c.final()]);
  return Buffer.concat([body, c.getAuthTag()]);
}

/**
 * Encrypts a stream of bytes for the backup `name` under the keys derived from `key`; yields the
 * header, then each sealed chunk. `name` null writes format 1 (the configured key itself, no name):
 * only the tests of old copies write it.
 */
export async function* encrypt(
  source: AsyncIterable<Buffer>,
  key: Buffer,
  name: string | null,
  chunkBytes = DEFAULT_CHUNK_BYTES,
): AsyncGenerator<Buffer> {
  if (key.length !== 32) throw new Error("the encryption key must be 32 bytes");
  const k = name === null ? key : deriveKeys(key).encryption;
  const context = name === null ? Buffer.alloc(0) : contextOf(name);
  const header = Buffer.alloc(HEADER_BYTES);
  (name === null ? MAGIC_V1 : MAGIC).copy(header, 0);
  header.writeUInt32BE(chunkBytes, 8);
  randomBytes(8).copy(header, 12);
  yield header;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let index = 0;
  for await (const piece of source) {
    pending.push(piece);
    pendingBytes += piece.length;
    // Strictly more than one chunk: the chunk sealed now is known not to be the last.
    while (pendingBytes > chunkBytes) {
      const all = Buffer.concat(pending);
      yield sealChunk(k, header, index++, all.subarray(0, chunkBytes), false, context);
      pending = [all.subarray(chunkBytes)];
      pendingBytes = pending[0]!.length;
    }
  }
  yield sealChunk(k, header, index, Buffer.concat(pending), true, context);
}

/**
 * Decrypts what `encrypt` wrote for the backup `name` (null: format 1). Throws DecryptionError naming
 * the chunk and its offset when a chunk fails authentication (an altered byte, another key, or a copy
 * encrypted for another name), and when the data ends early or is of the other format.
 */
export async function* decrypt(
  source: AsyncIterable<Buffer>,
  key: Buffer,
  name: string | null,
): AsyncGenerator<Buffer> {
  const k = name === null ? key : deriveKeys(key).encryption;
  const context = name === null ? Buffer.alloc(0) : contextOf(name);
  const magic = name === null ? MAGIC_V1 : MAGIC;
  const checkMagic = (h: Buffer) => {
    if (h.subarray(0, 8).equals(magic)) return;
    const other = name === null ? MAGIC : MAGIC_V1;
    if (h.subarray(0, 8).equals(other))
      throw new DecryptionError(
        `the encrypted copy is in format ${other.toString("latin1")}, its manifest says ${magic.toString("latin1")}`,
      );
    throw new DecryptionError(
      `not an encrypted backup (its first bytes are not ${magic.toString("latin1")})`,
    );
  };
  let buf: Buffer = Buffer.alloc(0);
  let header: Buffer | undefined;
  let sealedBytes = 0;
  let index = 0;
  let offset = HEADER_BYTES;
  const open = (sealed: Buffer, final: boolean): Buffer => {
    const h = header!;
    const d = createDecipheriv("aes-256-gcm", k, nonce(h.subarray(12, 20), index));
    d.setAAD(aad(h, final, context));
    d.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    try {
      return Buffer.concat([d.update(sealed.subarray(0, sealed.length - TAG_BYTES)), d.final()]);
    } catch {
      throw new DecryptionError(
        `chunk ${index} (byte ${offset}) fails authentication: the encrypted copy was altered or cut, or the key is not the one it was encrypted with, or it was encrypted for another backup's name`,
      );
    }
  };
  // Pieces wait in a list and are joined once a whole sealed chunk (or the header) is there: joining
  // on every piece would copy each chunk over and over.
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  for await (const piece of source) {
    pending.push(piece);
    pendingBytes += piece.length;
    if (pendingBytes <= (header ? sealedBytes : HEADER_BYTES)) continue;
    buf = pending.length === 1 ? pending[0]! : Buffer.concat(pending);
    pending = [];
    pendingBytes = 0;
    if (!header) {
      header = Buffer.from(buf.subarray(0, HEADER_BYTES));
      checkMagic(header);
      const chunk = header.readUInt32BE(8);
      if (chunk < 1024 || chunk > 64 * 1024 * 1024)
        throw new DecryptionError(`the encrypted copy's header is damaged (chunk size ${chunk})`);
      sealedBytes = chunk + TAG_BYTES;
      buf = buf.subarray(HEADER_BYTES);
    }
    while (buf.length > sealedBytes) {
      yield open(buf.subarray(0, sealedBytes), false);
      buf = buf.subarray(sealedBytes);
      index++;
      offset += sealedBytes;
    }
    pending = [buf];
    pendingBytes = buf.length;
  }
  buf = Buffer.concat(pending);
  if (!header) {
    if (buf.length < HEADER_BYTES) throw new DecryptionError("the encrypted copy ends inside its header");
    header = Buffer.from(buf.subarray(0, HEADER_BYTES));
    checkMagic(header);
    buf = buf.subarray(HEADER_BYTES);
  }
  if (buf.length < TAG_BYTES)
    throw new DecryptionError(`the encrypted copy ends early (chunk ${index} is ${buf.length} bytes)`);
  yield open(buf, true);
}
