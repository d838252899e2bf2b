// The container tests' machine-wide lock (test/containers/compose.ts): a second run waits for the first,
// a dead holder's lock is taken over. On a folder of its own, so a real run elsewhere is not disturbed.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { acquireLock } from "./compose.ts";

test("the lock: held once, waited for, released, and taken over from a dead holder", async () => {
  const base = mkdtempSync(join(tmpdir(), "kali-lock-"));
  const dir = join(base, "lock");
  try {
    const release = await acquireLock(1000, dir);
    await assert.rejects(
      acquireLock(2500, dir),
      new RegExp(`another container test run \\(pid ${process.pid}\\) holds`),
    );
    // Released while a second one waits: the second gets it.
    const second = acquireLock(10_000, dir);
    setTimeout(release, 500);
    (await second)();
    // A holder that is gone (a pid no process has), its folder older than 10 s: taken over at once.
    mkdirSync(dir);
    writeFileSync(join(dir, "pid"), "2147483646");
    const old = new Date(Date.now() - 60_000);
    utimesSync(dir, old, old);
    const t = Date.now();
    (await acquireLock(1000, dir))();
    assert.ok(Date.now() - t < 1000);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});
