// bcrypt ($2b$), for the basic-auth users of Prometheus' and Alertmanager's --web.config.file, which
// accept bcrypt hashes only. compose's secrets-init makes them (ops image: `node dist/lib/bcrypt.js`,
// the password on standard input, the hash on standard output), so no other tool or image is needed.
//
// Written from the published algorithm (Provos and Mazières, "A Future-Adaptable Password Scheme",
// 1999: EksBlowfish on top of Schneier's Blowfish). Blowfish's initial P-array and S-boxes are the
// fractional hexadecimal digits of pi; they are computed here (Machin's formula in BigInt) instead of
// being written out as 1,042 constants. test/compose/web-auth.test.ts checks the hashes against the
// real Prometheus and Alertmanager.
import { randomBytes } from "node:crypto";

const WORDS = 18 + 4 * 256;

/** The first `n` 32-bit words of pi's fractional part in hexadecimal (Blowfish's P then S). */
function piWords(n: number): Uint32Array {
  const bits = BigInt(n * 32 + 64); // 64 guard bits
  const one = 1n << bits;
  // arctan(1/x) * 2^bits, by its alternating series.
  const arctanInv = (x: bigint): bigint => {
    let term = one / x;
    let sum = term;
    const x2 = x * x;
    for (let k = 3n, sign = -1n; term !== 0n; k += 2n, sign = -sign) {
      term /= x2;
      sum += (sign * term) / k;
    }
    return sum;
  };
  const pi = 16n * arctanInv(5n) - 4n * arctanInv(239n);
  const frac = (pi - (3n << bits)) >> 64n; // n * 32 fractional bits
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = Number((frac >> BigInt((n - 1 - i) * 32)) & 0xffffffffn);
  return out;
}

let initial: Uint32Array | undefined;

class Blowfish {
  readonly p: Uint32Array;
  readonly s: Uint32Array;
  constructor() {
    initial ??= piWords(WORDS);
    this.p = initial.slice(0, 18);
    this.s = initial.slice(18);
  }
  private f(x: number): number {
    const s = this.s;
    return (
      (((s[x >>> 24]! + s[256 + ((x >>> 16) & 0xff)]!) ^ s[512 + ((x >>> 8) & 0xff)]!) +
        s[768 + (x & 0xff)]!) >>>
      0
    );
  }
  /** Encrypts the block lr[i], lr[i+1] in place. */
  encrypt(lr: Uint32Array, i: number): void {
    let l = lr[i]!;
    let r = lr[i + 1]!;
    const p = this.p;
    for (let k = 0; k < 16; k += 2) {
      l ^= p[k]!;
      r ^= this.f(l);
      r ^= p[k + 1]!;
      l ^= this.f(r);
    }
    lr[i] = (r ^ p[17]!) >>> 0;
    lr[i + 1] = (l ^ p[16]!) >>> 0;
  }
  /** The key schedule with data: P and S replaced by encryptions of (data XOR the running block). */
  expand(key: Uint8Array, data: Uint8Array | undefined): void {
    const word = (b: Uint8Array, pos: { i: number }): number => {
      let w = 0;
      for (let j = 0; j < 4; j++) {
        w = ((w << 8) | b[pos.i]!) >>> 0;
        pos.i = (pos.i + 1) % b.length;
      }
      return w;
    };
    const kpos = { i: 0 };
    for (let i = 0; i < 18; i++) this.p[i] = (this.p[i]! ^ word(key, kpos)) >>> 0;
    const dpos = { i: 0 };
    const lr = new Uint32Array(2);
    const fill = (arr: Uint32Array) => {
      for (let i = 0; i < arr.length; i += 2) {
        if (data) {
          lr[0] = lr[0]! ^ word(data, dpos);
          lr[1] = lr[1]! ^ word(data, dpos);
        }
        this.encrypt(lr, 0);
        arr[i] = lr[0]!;
        arr[i + 1] = lr[1]!;
      }
    };
    fill(this.p);
    fill(this.s);
  }
}

const ALPHABET = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** bcrypt's own base64 (its alphabet, no padding), of the first `len` bytes' worth of characters. */
function encode64(b: Uint8Array, len: number): string {
  let out = "";
  for (let i = 0; i < len;) {
    const c1 = b[i++]!;
    out += ALPHABET[c1 >> 2];
    let c = (c1 & 0x03) << 4;
    if (i >= len) {
      out += ALPHABET[c];
      break;
    }
    const c2 = b[i++]!;
    out += ALPHABET[c | (c2 >> 4)];
    c = (c2 & 0x0f) << 2;
    if (i >= len) {
      out += ALPHABET[c];
      break;
    }
    const c3 = b[i++]!;
    out += ALPHABET[c | (c3 >> 6)]! + ALPHABET[c3 & 0x3f]!;
  }
  return out;
}

function decode64(s: string, len: number): Uint8Array {
  const v = [...s].map((ch) => {
    const i = ALPHABET.indexOf(ch);
    if (i < 0) throw new Error("bcrypt: the salt has a character outside bcrypt's base64");
    return i;
  });
  const out = new Uint8Array(len);
  let o = 0;
  for (let i = 0; o < len; i += 4) {
    const [a = 0, b = 0, c = 0, d = 0] = v.slice(i, i + 4);
    out[o++] = (a << 2) | (b >> 4);
    if (o < len) out[o++] = ((b & 0x0f) << 4) | (c >> 2);
    if (o < len) out[o++] = ((c & 0x03) << 6) | d;
  }
  return out;
}

/**
 * The bcrypt hash of `password` ($2b$, `cost` 4..31, a random salt unless one is given as its 22
 * characters). Passwords are UTF-8; bcrypt reads at most 72 bytes of them, so a longer one is refused
 * rather than silently cut.
 */
export function bcryptHash(password: string, cost = 10, salt?: string): string {
  if (!Number.isInteger(cost) || cost < 4 || cost > 31) throw new Error(`bcrypt: cost ${cost} is not 4..31`);
  const pw = Buffer.from(password, "utf8");
  if (pw.length > 72) throw new Error(`bcrypt: the password is ${pw.length} bytes; bcrypt reads at most 72`);
  const saltBytes = salt === undefined ? new Uint8Array(randomBytes(16)) : decode64(salt, 16);
  if (salt !== undefined && salt.length !== 22) throw new Error("bcrypt: a salt is 22 characters");
  const key = new Uint8Array(pw.length + 1); // with its terminating NUL, as $2b$ hashes it
  key.set(pw);
  const bf = new Blowfish();
  bf.expand(key, saltBytes);
  for (let i = 0, n = 2 ** cost; i < n; i++) {
    bf.expand(key, undefined);
    bf.expand(saltBytes, undefined);
  }
  const ctext = new Uint32Array([
    0x4f727068,
    0x65616e42,
    0x65686f6c,
    0x64657253,
    0x63727944,
    0x6f756274, // "OrpheanBeholderScryDoubt"
  ]);
  for (let i = 0; i < 64; i++) for (let j = 0; j < 6; j += 2) bf.encrypt(ctext, j);
  const out = new Uint8Array(24);
  for (let i = 0; i < 6; i++) new DataView(out.buffer).setUint32(i * 4, ctext[i]!);
  const c = String(cost).padStart(2, "0");
  return `$2b$${c}$${encode64(saltBytes, 16)}${encode64(out, 23)}`;
}

// As a program: the password on standard input (one trailing newline dropped), its hash on standard output.
// (Recognised by the script's name, not import.meta: the image test reads import.meta as a file read.)
if (/[\\/]bcrypt\.[jt]s$/.test(process.argv[1] ?? "")) {
  const chunks: Buffer[] = [];
  process.stdin.on("data", (c: Buffer) => chunks.push(c));
  process.stdin.on("end", () => {
    const password = Buffer.concat(chunks).toString("utf8").replace(/\n$/, "");
    if (password === "") {
      process.stderr.write("bcrypt: no password on standard input\n");
      process.exit(2);
    }
    try {
      process.stdout.write(`${bcryptHash(password)}\n`);
    } catch (e) {
      process.stderr.write(`${(e as Error).message}\n`);
      process.exit(2);
    }
  });
}
