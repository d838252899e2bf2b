// The memory an off-site upload and download hold, whatever the dump's size: a file of N MiB of
// random bytes (incompressible, like a compressed dump) is uploaded encrypted to the tests' S3 server
// (s3rver, in a child process so its own buffers do not count) and downloaded back and checked; the
// process's peak RSS is printed beside the file's size. Run:
//   npx tsx bench/ops-offsite-memory.ts [MiB=512]
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, openSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { freePort, tempDir } from "../test/support/servers.ts";
import { s3Credentials } from "../test/support/s3.ts";
import { sha256, sidecar, type Manifest } from "../ops/src/backup/backup-files.ts";
import { loadConfig } from "../ops/src/config.ts";
import { download, offsiteOf, upload } from "../ops/src/backup/offsite.ts";
import { quietLogger } from "../ops/test/support.ts";
import { writeFileSync } from "node:fs";

const mib = Number(process.argv[2] ?? 512);
const dir = tempDir("offsite-memory");
const port = await freePort();
const server = spawn(
  process.execPath,
  [
    "-e",
    `const S3rver = require("s3rver"); new S3rver({ address: "127.0.0.1", port: ${port}, silent: true, directory: ${JSON.stringify(join(dir, "store"))}, configureBuckets: [{ name: "kali-backups" }], vhostBuckets: false }).run().then(() => console.log("ready"));`,
  ],
  { stdio: ["ignore", "pipe", "inherit"], cwd: process.cwd() },
);
await new Promise<void>((resolve) => server.stdout!.once("data", () => resolve()));
let peak = 0;
const sample = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
try {
  const file = join(dir, "kali-agents-2026-12-01T02-00-00-000Z.dump");
  const fd = openSync(file, "w");
  for (let i = 0; i < mib; i++) writeSync(fd, randomBytes(1024 * 1024));
  closeSync(fd);
  const digest = await sha256(file);
  writeFileSync(sidecar(file), `${digest}  kali-agents-2026-12-01T02-00-00-000Z.dump\n`);
  const config = loadConfig({
    OPS_S3_ENDPOINT: `http://127.0.0.1:${port}`,
    OPS_S3_BUCKET: "kali-backups",
    OPS_S3_FORCE_PATH_STYLE: "true",
    OPS_S3_ACCESS_KEY_ID: s3Credentials.accessKeyId,
    OPS_S3_SECRET_ACCESS_KEY: s3Credentials.secretAccessKey,
    OPS_BACKUP_ENCRYPTION_KEY: randomBytes(32).toString("hex"),
    OPS_BACKUP_DIR: dir,
  });
  const off = offsiteOf(config)!;
  const { log } = quietLogger();
  const manifest = {
    file: "kali-agents-2026-12-01T02-00-00-000Z.dump",
    createdAt: "2026-12-01T02:00:00.000Z",
    sha256: digest,
    sizeBytes: mib * 1024 * 1024,
    rowCounts: {},
  } as unknown as Manifest;
  const base = process.memoryUsage().rss;
  peak = base;
  const up = await upload(off, file, manifest, log);
  const upPeak = peak;
  peak = process.memoryUsage().rss;
  const down = await download(off, join(dir, "restore"), log);
  const downPeak = peak;
  off.client.destroy();
  const m = (b: number) => (b / 1024 / 1024).toFixed(0);
  console.log(
    `${mib} MiB dump, encrypted, ${config.s3PartSizeMib} MiB parts: RSS before ${m(base)} MiB; upload ${up.seconds.toFixed(1)} s, peak RSS ${m(upPeak)} MiB; download + decrypt + sha256 check ${down.seconds.toFixed(1)} s, peak RSS ${m(downPeak)} MiB`,
  );
} finally {
  clearInterval(sample);
  server.kill();
  rmSync(dir, { recursive: true, force: true });
}
