// Encryption of the off-site copies: AES-256-GCM over chunks, streamed, so a dump of any size passes
// through in about two chunks of memory. The format (our own, written down here and in
// docs/operations/backup-and-recovery.md):
//
//   header   = "KABKENC1" (8 bytes) | chunk size, uint32 big-endian (4) | nonce prefix, random (8)
//   chunk i  = AES-256-GCM(key, nonce = prefix | uint32 BE i, aad = header | final flag byte)
//              ciphertext (chunk size bytes, fewer for the last) followed by its 16-byte tag
//
// Every chunk is authenticated on its own, its number is in its nonce (chunks cannot be reordered or
// dropped) and the last chunk says it is the last (the file cannot be cut short at a chunk boundary).
// A new random prefix per file keeps nonces unique under one key (2^64 files before a 2^-32 collision
// risk at worst). The key itself never leaves the key file: the manifest holds only its fingerprint,
// an HMAC that names the key without revealing it, so a wrong key is named before anything is
// decrypted.
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from "node:crypto";

const MAGIC = Buffer.from("KABKENC1", "latin1");
const HEADER_BYTES = 20;
const TAG_BYTES = 16;
export const DEFAULT_CHUNK_BYTES = 1024 * 1024;
export const cipherName = "aes-256-gcm-chunked-v1";

export class DecryptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DecryptionError";
  }
}

/** Names a key without revealing it (HMAC-SHA256 of a fixed label under the key, 16 hex digits). */
export function keyFingerprint(key: Buffer): string {
  return createHmac("sha256", key).update("kali-agents backup key fingerprint").digest("hex").slice(0, 16);
}

function nonce(prefix: Buffer, index: number): Buffer {
  const n = Buffer.alloc(12);
  prefix.copy(n, 0);
  n.writeUInt32BE(index, 8);
  return n;
}

const aad = (header: Buffer, final: boolean) => Buffer.concat([header, Buffer.from([final ? 1 : 0])]);

function sealChunk(key: Buffer, header: Buffer, index: number, plain: Buffer, final: boolean): Buffer {
  const c = createCipheriv("aes-256-gcm", key, nonce(header.subarray(12, 20), index));
  c.setAAD(aad(header, final));
  const body = Buffer.concat([c.update(plain), c.final()]);
  return Buffer.concat([body, c.getAuthTag()]);
}

/** Encrypts a stream of bytes; yields the header, then each sealed chunk. */
export async function* encrypt(
  source: AsyncIterable<Buffer>,
  key: Buffer,
  chunkBytes = DEFAULT_CHUNK_BYTES,
): AsyncGenerator<Buffer> {
  if (key.length !== 32) throw new Error("the encryption key must be 32 bytes");
  const header = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(header, 0);
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
      yield sealChunk(key, header, index++, all.subarray(0, chunkBytes), false);
      pending = [all.subarray(chunkBytes)];
      pendingBytes = pending[0]!.length;
    }
  }
  yield sealChunk(key, header, index, Buffer.concat(pending), true);
}

/**
 * Decrypts what `encrypt` wrote. Throws DecryptionError naming the chunk and its offset when a chunk
 * fails authentication (an altered byte, or another key), and when the data ends early.
 */
export async function* decrypt(source: AsyncIterable<Buffer>, key: Buffer): AsyncGenerator<Buffer> {
  let buf: Buffer = Buffer.alloc(0);
  let header: Buffer | undefined;
  let sealedBytes = 0;
  let index = 0;
  let offset = HEADER_BYTES;
  const open = (sealed: Buffer, final: boolean): Buffer => {
    const h = header!;
    const d = createDecipheriv("aes-256-gcm", key, nonce(h.subarray(12, 20), index));
    d.setAAD(aad(h, final));
    d.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    try {
      return Buffer.concat([d.update(sealed.subarray(0, sealed.length - TAG_BYTES)), d.final()]);
    } catch {
      throw new DecryptionError(
        `chunk ${index} (byte ${offset}) fails authentication: the encrypted copy was altered or cut, or the key is not the one it was encrypted with`,
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
      if (!header.subarray(0, 8).equals(MAGIC))
        throw new DecryptionError("not an encrypted backup (its first bytes are not KABKENC1)");
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
    if (!header.subarray(0, 8).equals(MAGIC))
      throw new DecryptionError("not an encrypted backup (its first bytes are not KABKENC1)");
    buf = buf.subarray(HEADER_BYTES);
  }
  if (buf.length < TAG_BYTES)
    throw new DecryptionError(`the encrypted copy ends early (chunk ${index} is ${buf.length} bytes)`);
  yield open(buf, true);
}
