// The chunked AES-256-GCM format of the off-site copies (ops/src/backup/encryption.ts), on its edges: empty
// input, exact multiples of the chunk, pieces of every size, and every kind of damage (a flipped bit in
// any part, a chunk dropped, swapped or cut off, another key) failing with the chunk named.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { createDecipheriv, createHmac } from "node:crypto";
import {
  canonicalJson,
  checkManifestMac,
  decrypt,
  DecryptionError,
  deriveKeys,
  encrypt,
  keyFingerprint,
  legacyKeyFingerprint,
  manifestMac,
} from "../src/backup/encryption.ts";

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
const NAME = "kali-agents-2026-11-27T02-00-00-000Z.dump";
const seal = (plain: Buffer, k = key, pieceSize = 333, name: string | null = NAME) =>
  collect(encrypt(pieces(plain, pieceSize), k, name, CHUNK));
const open = (sealed: Buffer, k = key, pieceSize = 777, name: string | null = NAME) =>
  collect(decrypt(pieces(sealed, pieceSize), k, name));

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

  test("the backup's name is bound into every chunk: a copy under another name does not decrypt", async () => {
    const plain = randomBytes(2 * CHUNK + 5);
    const sealed = await seal(plain);
    assert.equal(sealed.subarray(0, 8).toString(), "KABKENC2");
    await assert.rejects(
      open(sealed, key, 777, "kali-agents-2026-11-28T02-00-00-000Z.dump"),
      (e: unknown) => e instanceof DecryptionError && /chunk 0 .*another backup's name/.test(e.message),
    );
    // Format 1 (the configured key itself, no name) still opens as format 1, and only so.
    const v1 = await seal(plain, key, 333, null);
    assert.equal(v1.subarray(0, 8).toString(), "KABKENC1");
    assert.deepEqual(await open(v1, key, 777, null), plain);
    await assert.rejects(open(v1), /format KABKENC1, its manifest says KABKENC2/);
    await assert.rejects(open(sealed, key, 777, null), /format KABKENC2, its manifest says KABKENC1/);
    // Format 2 encrypts under the derived key, not the configured one: a one-chunk copy opened by hand.
    const small = randomBytes(100);
    const one = await seal(small);
    const openWith = (k: Buffer) => {
      const d = createDecipheriv("aes-256-gcm", k, Buffer.concat([one.subarray(12, 20), Buffer.alloc(4)]));
      d.setAAD(
        Buffer.concat([one.subarray(0, 20), Buffer.from([1]), Buffer.from(`kali-agents backup ${NAME}`)]),
      );
      d.setAuthTag(one.subarray(one.length - 16));
      return Buffer.concat([d.update(one.subarray(20, one.length - 16)), d.final()]);
    };
    assert.deepEqual(openWith(deriveKeys(key).encryption), small);
    assert.throws(() => openWith(key), /unable to authenticate/);
  });

  test("encryption, manifest authentication and fingerprint use three different keys derived from the one configured", () => {
    const k = Buffer.from("3f".repeat(32), "hex");
    const d = deriveKeys(k);
    const all = [k, d.encryption, d.authentication, d.fingerprint].map((b) => b.toString("hex"));
    assert.equal(new Set(all).size, 4);
    for (const b of [d.encryption, d.authentication, d.fingerprint]) assert.equal(b.length, 32);
    assert.deepEqual(deriveKeys(Buffer.from(k)), d, "derivation is deterministic");
    // The MAC is not an HMAC under the configured key, nor under the fingerprint's key.
    const fields = { file: NAME, rowCounts: { "public.scans": 3 } };
    const mac = manifestMac(k, fields);
    const text = `kali-agents backup manifest\n${canonicalJson(fields)}`;
    assert.equal(mac, createHmac("sha256", d.authentication).update(text).digest("hex"));
    assert.notEqual(mac, createHmac("sha256", k).update(text).digest("hex"));
    assert.notEqual(keyFingerprint(k), legacyKeyFingerprint(k));
  });

  test("the manifest MAC covers every field, whatever the key order, and refuses any change", () => {
    const k = randomBytes(32);
    const m = { file: NAME, createdAt: "2026-11-27T02:00:00.000Z", rowCounts: { b: 2, a: 1 }, n: [1, null] };
    const mac = manifestMac(k, m);
    assert.equal(
      mac,
      manifestMac(k, { n: [1, null], rowCounts: { a: 1, b: 2 }, createdAt: m.createdAt, file: NAME }),
    );
    assert.ok(checkManifestMac(k, m, mac));
    for (const changed of [
      { ...m, file: "kali-agents-2026-11-28T02-00-00-000Z.dump" },
      { ...m, createdAt: "2026-11-27T02:00:00.001Z" },
      { ...m, rowCounts: { a: 1, b: 3 } },
      { ...m, rowCounts: { a: 1, b: 2, c: 0 } },
      { ...m, n: [1] },
      { ...m, extra: true },
    ])
      assert.equal(checkManifestMac(k, changed, mac), false, JSON.stringify(changed));
    assert.equal(checkManifestMac(randomBytes(32), m, mac), false, "another key");
    for (const bad of [undefined, "", mac.toUpperCase(), mac.slice(1), 42])
      assert.equal(checkManifestMac(k, m, bad), false);
  });

  test("the fingerprint names a key without revealing it", () => {
    const k = Buffer.from("3f".repeat(32), "hex");
    assert.match(keyFingerprint(k), /^[0-9a-f]{16}$/);
    assert.equal(keyFingerprint(k), keyFingerprint(Buffer.from(k)));
    assert.notEqual(keyFingerprint(k), keyFingerprint(randomBytes(32)));
    assert.ok(!k.toString("hex").includes(keyFingerprint(k)));
  });
});
