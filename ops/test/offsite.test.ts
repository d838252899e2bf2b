// Off-site copies against a real S3-compatible server (s3rver, started on a free port) and a real
// PostgreSQL: upload (multipart), restore from the off-site copy row for row, an altered remote object
// caught, an upload cut mid-way, unreachable store and wrong credentials, remote retention, the
// encrypted round trip and the wrong key. Every job's .prom file is read back through the exporter's
// textfile collector.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { requireBinaries, startPostgres, type PostgresServer } from "../../test/support/servers.ts";
import { cutAfter, s3Credentials, startS3Server, type S3Server } from "../../test/support/s3.ts";
import { backupName, checkChecksum, listBackups, manifestPath } from "../src/backup-files.ts";
import type { Config } from "../src/config.ts";
import { runJob } from "../src/jobs.ts";
import { applyRemoteRetention, listRemote, offsiteOf } from "../src/offsite.ts";
import { opsConfig, publishedFrom, quietLogger, repoRoot, scansDdl, valueOf } from "./support.ts";

const SCANS = 20_000;
const KEY = "3f".repeat(32);
const OTHER_KEY = "a5".repeat(32);

describe(
  "off-site backups in an S3-compatible store",
  { skip: requireBinaries("postgres", "initdb", "pg_dump", "pg_restore") },
  () => {
    let pgs: PostgresServer;
    let s3: S3Server;
    let base: Record<string, string>;
    const { log, lines } = quietLogger();
    const made: string[] = [];

    /** A configuration on the test's servers; each call gets folders of its own. */
    const configWith = (
      env: Record<string, string> = {},
    ): { config: Config; dirs: Record<string, string> } => {
      const c = opsConfig({ ...base, ...env });
      made.push(c.dirs.root!);
      return c;
    };

    /** Every table's rows, in key order, as one digest per table. */
    const tableDigests = async (database: string) => {
      const rows = await pgs.query<{ t: string; d: string; n: string }>(
        `SELECT 'scans' AS t, md5(string_agg(s::text, '|' ORDER BY id)) AS d, count(*) AS n FROM scans s
         UNION ALL
         SELECT 'artifacts', md5(string_agg(a::text, '|' ORDER BY id)), count(*) FROM artifacts a`,
        [],
        database,
      );
      return Object.fromEntries(rows.map((r) => [r.t, `${r.n}:${r.d}`]));
    };

    before(async () => {
      [pgs, s3] = await Promise.all([startPostgres(), startS3Server()]);
      await pgs.query("CREATE DATABASE kali");
      await pgs.query(scansDdl, [], "kali");
      // Untidy data: ties on finished_at, NULLs, out-of-order ids, unicode and quotes in targets.
      await pgs.query(
        `INSERT INTO scans (tool, target, status, created_at, started_at, finished_at)
         SELECT CASE WHEN i % 7 = 0 THEN 'nuclei' ELSE 'nmap' END,
                'hôte-' || i || E' \\'quoted\\' ' || md5(i::text),
                CASE WHEN i % 10 = 0 THEN 'running' ELSE 'success' END,
                now() - make_interval(secs => i), now() - make_interval(secs => i),
                CASE WHEN i % 10 = 0 THEN NULL ELSE date_trunc('hour', now()) END
           FROM generate_series($1::int, 1, -1) i`,
        [SCANS],
        "kali",
      );
      // 7 MiB that do not compress: the dump is larger than a 5 MiB part, so it goes up in parts.
      await pgs.query(
        `CREATE TABLE artifacts (id int PRIMARY KEY, data bytea NOT NULL);
         INSERT INTO artifacts
         SELECT n, (SELECT string_agg(decode(md5(random()::text || n || g), 'hex'), ''::bytea)
                      FROM generate_series(1, 65536) g)
           FROM generate_series(1, 7) n`,
        [],
        "kali",
      );
      const keyFile = join(s3.dir, "..", `kali-s3-secret-${s3.port}`);
      writeFileSync(keyFile, `${s3Credentials.secretAccessKey}\n`);
      base = {
        DATABASE_URL: pgs.urlFor({ database: "kali" }),
        OPS_S3_ENDPOINT: s3.endpoint,
        OPS_S3_BUCKET: s3.bucket,
        OPS_S3_PREFIX: "kali-agents/test",
        OPS_S3_FORCE_PATH_STYLE: "true",
        OPS_S3_ACCESS_KEY_ID: s3Credentials.accessKeyId,
        OPS_S3_SECRET_ACCESS_KEY_FILE: keyFile,
        OPS_S3_PART_SIZE_MIB: "5",
      };
    });
    after(async () => {
      await Promise.all([pgs?.cleanup(), s3?.cleanup()]);
      for (const d of made) rmSync(d, { recursive: true, force: true });
    });

    const remoteKeys = async (config: Config) => {
      const off = offsiteOf(config)!;
      const r = await off.client.send(new ListObjectsV2Command({ Bucket: off.bucket, Prefix: off.prefix }));
      off.client.destroy();
      return (r.Contents ?? []).map((o) => o.Key!).sort();
    };

    test("backup uploads dump, sha256 and manifest (multipart); restore --from remote is identical row for row", async () => {
      const { config, dirs } = configWith();
      const b = await runJob(config, log, "backup");
      assert.equal(b.ok, true, b.error?.message);
      const [local] = await listBackups(dirs.backups!);
      const name = local!.file.split("/").pop()!;
      const keys = await remoteKeys(config);
      for (const k of [name, `${name}.sha256`, `${name}.json`])
        assert.ok(keys.includes(`kali-agents/test/${k}`), `${k} is in the bucket: ${keys.join(", ")}`);
      const stored = readFileSync(s3.objectFile(`kali-agents/test/${name}`));
      assert.ok(stored.length > 5 * 1024 * 1024, `the dump (${stored.length} bytes) is larger than one part`);
      assert.deepEqual(stored, readFileSync(local!.file), "the stored object is the dump, byte for byte");
      // Each part went with the SHA-256 of its bytes, which S3 and MinIO check on receipt.
      const sha = (b: Buffer) => createHash("sha256").update(b).digest("base64");
      const parts = s3.puts.filter((p) => p.key === `kali-agents/test/${name}`);
      const partBytes = 5 * 1024 * 1024;
      assert.equal(parts.length, Math.ceil(stored.length / partBytes), "uploaded in 5 MiB parts");
      for (const p of parts)
        assert.equal(
          p.checksumSha256,
          sha(stored.subarray((p.partNumber! - 1) * partBytes, p.partNumber! * partBytes)),
          `part ${p.partNumber}`,
        );
      for (const k of [`${name}.sha256`, `${name}.json`]) {
        const put = s3.puts.find((p) => p.key === `kali-agents/test/${k}`);
        assert.equal(put?.checksumSha256, sha(readFileSync(s3.objectFile(`kali-agents/test/${k}`))), k);
      }
      const remoteManifest = JSON.parse(
        readFileSync(s3.objectFile(`kali-agents/test/${name}.json`), "utf8"),
      ) as { offsite: { encryption: unknown; objectSizeBytes: number } };
      assert.equal(remoteManifest.offsite.encryption, null);
      assert.equal(remoteManifest.offsite.objectSizeBytes, stored.length);

      const { families, skipped } = await publishedFrom(dirs.textfile!);
      assert.deepEqual(skipped, []);
      assert.equal(valueOf(families, "kali_agents_backup_offsite_success"), 1);
      assert.ok(
        valueOf(families, "kali_agents_backup_offsite_last_success_timestamp_seconds")! >
          Date.now() / 1000 - 60,
      );

      // The host is gone: a configuration with no local backup at all restores from the bucket.
      const { config: fresh, dirs: freshDirs } = configWith();
      const r = await runJob(fresh, log, "restore", {
        restore: { target: "kali_recovered", source: "remote" },
      });
      assert.equal(r.ok, true, r.error?.message);
      assert.deepEqual(await tableDigests("kali_recovered"), await tableDigests("kali"));
      assert.equal((await tableDigests("kali_recovered")).scans!.split(":")[0], String(SCANS));
      assert.deepEqual(
        (await listBackups(freshDirs.backups!)).length,
        0,
        "the download was removed after the restore",
      );
    });

    test("verify --from remote passes, then catches an altered remote object by name", async () => {
      const { config } = configWith();
      const ok = await runJob(config, log, "verify", { source: "remote" });
      assert.equal(ok.ok, true, ok.error?.message);
      const off = offsiteOf(config)!;
      const newest = (await listRemote(off))[0]!;
      off.client.destroy();
      const file = s3.objectFile(`kali-agents/test/${newest.name}`);
      const bytes = readFileSync(file);
      const altered = Buffer.from(bytes);
      altered[Math.floor(altered.length / 2)]! ^= 0x01;
      writeFileSync(file, altered);
      try {
        const bad = await runJob(config, log, "verify", { source: "remote" });
        assert.equal(bad.ok, false);
        assert.match(
          bad.error!.message,
          new RegExp(`off-site kali-agents/test/${newest.name}.*checksum mismatch`),
        );
        const { families } = await publishedFrom(config.textfileDir);
        assert.equal(valueOf(families, "kali_agents_backup_verification_success"), 0);
      } finally {
        writeFileSync(file, bytes);
      }
    });

    test("encrypted: the bucket holds ciphertext without the key; verify and restore decrypt; a wrong key or a flipped byte fails named", async () => {
      const { config, dirs } = configWith({ OPS_BACKUP_ENCRYPTION_KEY: KEY });
      const b = await runJob(config, log, "backup");
      assert.equal(b.ok, true, b.error?.message);
      const name = (await listBackups(dirs.backups!))[0]!.file.split("/").pop()!;
      const key = `kali-agents/test/${name}`;
      const stored = readFileSync(s3.objectFile(key));
      assert.equal(stored.subarray(0, 8).toString(), "KABKENC1");
      assert.ok(!stored.includes(Buffer.from("PGDMP")), "no plain dump header in the object");
      const manifestText = readFileSync(s3.objectFile(`${key}.json`), "utf8");
      assert.ok(!manifestText.toLowerCase().includes(KEY), "the key is not in the manifest");
      assert.match(manifestText, /"cipher": "aes-256-gcm-chunked-v1"/);
      assert.ok(!lines.some((l) => JSON.stringify(l).includes(KEY)), "the key is never logged");

      const r = await runJob(config, log, "restore", {
        restore: { target: "kali_decrypted", source: "remote", from: name },
      });
      assert.equal(r.ok, true, r.error?.message);
      assert.deepEqual(await tableDigests("kali_decrypted"), await tableDigests("kali"));

      const { config: wrong } = configWith({ OPS_BACKUP_ENCRYPTION_KEY: OTHER_KEY });
      const w = await runJob(wrong, log, "verify", { source: "remote", file: name });
      assert.equal(w.ok, false);
      assert.match(
        w.error!.message,
        /was encrypted with key [0-9a-f]{16}; OPS_BACKUP_ENCRYPTION_KEY is key [0-9a-f]{16} \(wrong key\)/,
      );
      const { config: none } = configWith();
      const n = await runJob(none, log, "verify", { source: "remote", file: name });
      assert.match(n.error!.message, /is encrypted .* OPS_BACKUP_ENCRYPTION_KEY is not set/);

      const altered = Buffer.from(stored);
      altered[3 * 1024 * 1024]! ^= 0x80;
      writeFileSync(s3.objectFile(key), altered);
      try {
        const f = await runJob(config, log, "verify", { source: "remote", file: name });
        assert.equal(f.ok, false);
        assert.match(f.error!.message, /decryption failed: chunk 2 \(byte \d+\) fails authentication/);
      } finally {
        writeFileSync(s3.objectFile(key), stored);
      }
    });

    test("dr-drill restores from the off-site copy when one is configured, download in the RTO", async () => {
      const { config, dirs } = configWith();
      const d = await runJob(config, log, "dr-drill");
      assert.equal(d.ok, true, d.error?.message);
      const s = d.summary as {
        source: string;
        downloadSeconds: number;
        restoreSeconds: number;
        rows: number;
      };
      assert.equal(s.source, "remote");
      assert.ok(s.downloadSeconds > 0 && s.restoreSeconds > s.downloadSeconds, JSON.stringify(s));
      assert.equal(s.rows, SCANS + 7);
      const { families } = await publishedFrom(dirs.textfile!);
      assert.equal(valueOf(families, "kali_agents_dr_drill_restore_duration_seconds"), s.restoreSeconds);
    });

    test("an upload cut mid-way leaves no remote manifest, the local backup intact, offsite_success 0", async () => {
      const { config: first, dirs } = configWith();
      assert.equal((await runJob(first, log, "backup")).ok, true);
      const before = (await publishedFrom(dirs.textfile!)).families;
      const lastSuccess = valueOf(before, "kali_agents_backup_offsite_last_success_timestamp_seconds")!;

      const proxy = await cutAfter(s3, 3 * 1024 * 1024);
      try {
        const config = { ...first, s3Endpoint: proxy.endpoint } as Config;
        const r = await runJob(config, log, "backup");
        assert.equal(proxy.cut(), true, "the store was stopped during the upload");
        assert.equal(r.ok, false);
        assert.match(
          r.error!.message,
          /^off-site upload of kali-agents\/test\/kali-agents-.*\.dump to s3:\/\/kali-backups\/kali-agents\/test\/ at 127\.0\.0\.1:\d+: the (connection to the store was cut|store is unreachable) \(\w+\); the local backup .* is kept$/,
        );
        assert.doesNotMatch(r.error!.message, /[\r\n]/);
        const [newest] = await listBackups(dirs.backups!);
        assert.ok(newest!.complete);
        assert.ok(r.error!.message.includes(newest!.file));
        await checkChecksum(newest!.file);
        assert.ok(existsSync(manifestPath(newest!.file)));

        await s3.start();
        const name = newest!.file.split("/").pop()!;
        const off = offsiteOf(first)!;
        const remote = (await listRemote(off)).find((b) => b.name === name);
        off.client.destroy();
        assert.ok(!remote || !remote.complete, "the cut backup is not complete remotely");
        assert.ok(
          !(await remoteKeys(first)).includes(`kali-agents/test/${name}.json`),
          "no manifest remotely",
        );

        const { families, skipped } = await publishedFrom(dirs.textfile!);
        assert.deepEqual(skipped, []);
        assert.equal(valueOf(families, "kali_agents_job_last_run_success", { job: "backup" }), 0);
        assert.equal(valueOf(families, "kali_agents_backup_offsite_success"), 0);
        assert.equal(
          valueOf(families, "kali_agents_backup_offsite_last_success_timestamp_seconds"),
          lastSuccess,
          "the last off-site success is carried over",
        );
        assert.equal(
          valueOf(families, "kali_agents_backup_last_size_bytes", { kind: "postgres" }),
          JSON.parse(readFileSync(manifestPath(newest!.file), "utf8")).sizeBytes,
        );
      } finally {
        proxy.close();
        await s3.start().catch(() => undefined);
      }
    });

    test("an unreachable store and wrong credentials fail with one line naming the cause, the local backup kept", async () => {
      const { config: dead, dirs } = configWith({ OPS_S3_ENDPOINT: "http://127.0.0.1:9" });
      const r = await runJob(dead, log, "backup");
      assert.equal(r.ok, false);
      assert.match(
        r.error!.message,
        /the store is unreachable \(ECONNREFUSED\); the local backup .* is kept$/,
      );
      assert.equal((await listBackups(dirs.backups!))[0]!.complete, true);

      const { config: wrong } = configWith({ OPS_S3_ACCESS_KEY_ID: "NOT-A-KEY" });
      const w = await runJob(wrong, log, "backup");
      assert.equal(w.ok, false);
      assert.match(
        w.error!.message,
        /the store refused the credentials \(InvalidAccessKeyId\); the local backup .* is kept$/,
      );

      // The CLI: exit 1, one line on stderr, no secret in it.
      const cli = join(repoRoot, "ops/src/cli.ts");
      const tsx = join(repoRoot, "node_modules/.bin/tsx");
      const secret = "s3cr3t-never-shown";
      const c = spawnSync(tsx, [cli, "backup"], {
        env: {
          ...process.env,
          ...base,
          OPS_S3_ENDPOINT: "http://127.0.0.1:9",
          OPS_S3_SECRET_ACCESS_KEY_FILE: "",
          OPS_S3_SECRET_ACCESS_KEY: secret,
          OPS_BACKUP_DIR: dirs.backups!,
          OPS_TEXTFILE_DIR: dirs.textfile!,
          OPS_PG_BIN_DIR: dead.pgBinDir ?? "",
          // The SDK warns (several lines, once) that its 2027 releases need Node 22+: true of this
          // test machine's Node 20, not of the ops image (Node 24, definitions/versions.ts).
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
        },
        encoding: "utf8",
      });
      assert.equal(c.status, 1, c.stderr);
      assert.equal(c.stderr.trim().split("\n").length, 1);
      assert.match(
        c.stderr,
        /^ops backup: off-site upload .* the store is unreachable \(ECONNREFUSED\); the local backup .* is kept\n$/,
      );
      assert.ok(!c.stderr.includes(secret) && !c.stdout.includes(secret), "no secret in the output");
      const usage = spawnSync(tsx, [cli, "verify", "--from", "offsite"], { encoding: "utf8" });
      assert.equal(usage.status, 2);
      assert.match(usage.stderr, /^ops: --from "offsite" is not local or remote\n/);
    });

    test("remote retention deletes old backups and incomplete leftovers, never the newest complete one", async () => {
      const { config } = configWith({ OPS_S3_PREFIX: "kali-agents/retention/" });
      const off = offsiteOf(config)!;
      const day = 24 * 3600 * 1000;
      const put = async (daysAgo: number, complete: boolean) => {
        const name = backupName(new Date(Date.now() - daysAgo * day));
        const parts = complete ? [name, `${name}.sha256`, `${name}.json`] : [name];
        for (const p of parts)
          await off.client.send(new PutObjectCommand({ Bucket: off.bucket, Key: off.prefix + p, Body: "x" }));
        return name;
      };
      const newestIncomplete = await put(35, false);
      const newestComplete = await put(40, true);
      const older = await put(50, true);
      const deleted = await applyRemoteRetention(off, 30, new Date());
      assert.deepEqual(deleted.sort(), [newestIncomplete, older].sort());
      assert.deepEqual(
        (await listRemote(off)).map((b) => [b.name, b.complete]),
        [[newestComplete, true]],
      );
      // Once a newer complete backup exists, the old one is past retention like any other.
      const recent = await put(1, true);
      assert.deepEqual(await applyRemoteRetention(off, 30, new Date()), [newestComplete]);
      assert.deepEqual(
        (await listRemote(off)).map((b) => b.name),
        [recent],
      );
      off.client.destroy();
    });
  },
);
