// The local backup folder against names dated in the future, as the off-site store is (offsite.test.ts):
// such a name is never the newest complete backup, is refused when named, and retention never keeps it
// in place of the true newest. No database: the pick and the refusal happen before one is reached.
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import {
  applyRetention,
  backupName,
  FUTURE_TOLERANCE_MS,
  listBackups,
  manifestPath,
  newestBackup,
  sidecar,
} from "../src/backup/backup-files.ts";
import { fetchBackup } from "../src/backup/restore.ts";
import { opsConfig, quietLogger } from "./support.ts";

// A clock set by the test (a minute before midnight UTC), never the machine's hour.
const now = new Date("2026-03-14T23:59:00.000Z");
const MIN = 60_000;
const DAY = 86_400_000;

function folder() {
  const { config, dirs } = opsConfig({});
  mkdirSync(dirs.backups!, { recursive: true });
  const mk = (offsetMs: number, complete = true) => {
    const f = join(dirs.backups!, backupName(new Date(now.getTime() + offsetMs)));
    writeFileSync(f, "PGDMP");
    if (complete) {
      writeFileSync(sidecar(f), "x  y\n");
      writeFileSync(manifestPath(f), "{}");
    }
    return f;
  };
  return { config, dir: dirs.backups!, mk };
}

test("the newest complete local backup is never one dated in the future (beyond the clocks' tolerance)", async () => {
  const { dir, mk } = folder();
  const old = mk(-3 * DAY);
  mk(365 * DAY); // a year ahead
  mk(FUTURE_TOLERANCE_MS + 1); // just past the tolerance
  mk(20 * MIN, false); // incomplete, ahead: never a candidate anyway
  const skipped: string[] = [];
  assert.equal(await newestBackup(dir, now, (f) => skipped.push(f)), old);
  assert.equal(skipped.length, 2);
  // Within the tolerance (another host's clock a little ahead), the backup is the newest.
  const nearly = mk(FUTURE_TOLERANCE_MS);
  assert.equal(await newestBackup(dir, now), nearly);
});

test("with only backups dated in the future, there is no newest: the error says none is complete", async () => {
  const { dir, mk } = folder();
  mk(2 * DAY);
  await assert.rejects(
    newestBackup(dir, now),
    /^Error: no complete backup \(\.dump with \.sha256 and \.json\) in /,
  );
});

test("local retention keeps the true newest however old, not a name dated in the future, and leaves that name in place", async () => {
  const { dir, mk } = folder();
  const future = mk(365 * DAY);
  const trueNewest = mk(-50 * DAY);
  const older = mk(-60 * DAY);
  const deleted = await applyRetention(dir, 30, now);
  assert.deepEqual(deleted, [older]);
  assert.deepEqual(
    (await listBackups(dir)).map((b) => b.file),
    [future, trueNewest],
  );
});

test("verify and restore from the local folder: a name dated in the future is refused by name, and skipped (with a warning) when none is named", async () => {
  const { config, mk } = folder();
  const { log, lines } = quietLogger();
  const old = mk(-DAY);
  const future = mk(400 * DAY);
  await assert.rejects(fetchBackup(config, log, "local", future, false, now), (e: Error) => {
    assert.equal(e.message.split("\n").length, 1);
    assert.match(
      e.message,
      new RegExp(
        `^${future.replace(/[.]/g, "\\.")} is dated in the future \\(2027-04-18T23:59:00\\.000Z; this host's clock says 2026-03-14T23:59:00\\.000Z\\): no backup can have been taken then; refused$`,
      ),
    );
    return true;
  });
  const f = await fetchBackup(config, log, "local", undefined, false, now);
  assert.equal(f.file, old);
  assert.ok(
    lines.some(
      (l) =>
        l.level === "warn" &&
        l.msg === "backup dated in the future ignored (not restored, not the newest)" &&
        l.file === future,
    ),
    JSON.stringify(lines),
  );
  // A file named without a time (a dump copied by hand) is the operator's choice, as before.
  const byHand = join(config.backupDir, "by-hand.dump");
  writeFileSync(byHand, "PGDMP");
  assert.equal((await fetchBackup(config, log, "local", byHand, false, now)).file, byHand);
});
