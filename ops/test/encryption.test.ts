// The chunked AES-256-GCM format of the off-site copies (ops/src/encryption.ts), on its edges: empty
// input, exact multiples of the chunk, pieces of every size, and every kind of damage (a flipped bit in
// any part, a chunk dropped, swapped or cut off, another key) failing with the chunk named.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { decrypt, DecryptionError, encrypt, keyFingerprint } from "../src/encryption.ts";

const key = randomBytes(32);
const CHUNK = 1024;

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const b of it) out.push(b);
  return Buffer.concat(out);
}
async function* pieces(data: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}
const seal = (plain: Buffer, k = key, pieceSize = 333) =>
  collect(encrypt(pieces(plain, pieceSize), k, CHUNK));
const open = (sealed: Buffer, k = key, pieceSize = 777) => collect(decrypt(pieces(sealed, pieceSize), k));

describe("backup encryption (AES-256-GCM, chunked)", () => {
  test("round trips empty, short, exact-multiple and odd sizes, whatever the pieces' sizes", async () => {
    for (const n of [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 5 * CHUNK + 17]) {
      const plain = randomBytes(n);
      for (const [a, b] of [
        [1, 1 << 20],
        [333, 777],
        [CHUNK, CHUNK + 16],
      ] as const) {
        const sealed = await seal(plain, key, a);
        assert.equal(
          sealed.length,
          20 + n + 16 * (Math.floor(n / CHUNK) + (n % CHUNK === 0 && n > 0 ? 0 : 1)),
        );
        assert.deepEqual(await open(sealed, key, b), plain, `size ${n}, pieces ${a}/${b}`);
      }
    }
  });

  test("two encryptions of the same data differ (a fresh nonce prefix per file)", async () => {
    const plain = randomBytes(4000);
    assert.notDeepEqual(await seal(plain), await seal(plain));
  });

  test("a flipped bit anywhere, a dropped, swapped or cut chunk, and another key fail with the chunk named", async () => {
    const plain = randomBytes(3 * CHUNK + 100);
    const sealed = await seal(plain);
    const sealedChunk = CHUNK + 16;
    const fails = async (data: Buffer, re: RegExp, k = key) =>
      assert.rejects(open(data, k), (e: unknown) => e instanceof DecryptionError && re.test(e.message));
    for (const at of [25, 20 + sealedChunk + 5, sealed.length - 1]) {
      const bad = Buffer.from(sealed);
      bad[at]! ^= 0x01;
      await fails(bad, /fails authentication/);
    }
    const header = Buffer.from(sealed);
    header[14]! ^= 0x01; // the nonce prefix
    await fails(header, /chunk 0 \(byte 20\) fails authentication/);
    const magic = Buffer.from(sealed);
    magic[0] = 0x41;
    await fails(magic, /not an encrypted backup/);
    const c = (i: number) => sealed.subarray(20 + i * sealedChunk, 20 + (i + 1) * sealedChunk);
    const head = sealed.subarray(0, 20);
    await fails(Buffer.concat([head, c(0), c(2), sealed.subarray(20 + 3 * sealedChunk)]), /chunk 1 /);
    await fails(Buffer.concat([head, c(1), c(0)]), /chunk 0 /);
    // Cut at a chunk boundary: the last chunk present is not marked final.
    await fails(sealed.subarray(0, 20 + 2 * sealedChunk), /chunk 1 .*fails authentication/);
    await fails(sealed.subarray(0, 10), /ends inside its header/);
    await fails(await seal(plain, randomBytes(32)), /chunk 0 .*the key is not the one/);
  });

  test("the fingerprint names a key without revealing it", () => {
    const k = Buffer.from("3f".repeat(32), "hex");
    assert.match(keyFingerprint(k), /^[0-9a-f]{16}$/);
    assert.equal(keyFingerprint(k), keyFingerprint(Buffer.from(k)));
    assert.notEqual(keyFingerprint(k), keyFingerprint(randomBytes(32)));
    assert.ok(!k.toString("hex").includes(keyFingerprint(k)));
  });
});
