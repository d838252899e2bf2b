// Off-site copies against a real S3-compatible server (s3rver, started on a free port) and a real
// PostgreSQL: upload (multipart), restore from the off-site copy row for row, an altered remote object
// caught, an upload cut mid-way, unreachable store and wrong credentials, remote retention, the
// encrypted round trip and the wrong key. Every job's .prom file is read back through the exporter's
// textfile collector.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { requireBinaries, startPostgres, type PostgresServer } from "../../test/support/servers.ts";
import { cutAfter, s3Credentials, startS3Server, type S3Server } from "../../test/support/s3.ts";
import {
  backupName,
  backupTime,
  checkChecksum,
  listBackups,
  manifestPath,
  sha256,
} from "../src/backup/backup-files.ts";
import type { Config } from "../src/config.ts";
import { encrypt, legacyKeyFingerprint, macName, manifestMac } from "../src/backup/encryption.ts";
import { runJob } from "../src/jobs.ts";
import { applyRemoteRetention, download, listRemote, offsiteOf } from "../src/backup/offsite.ts";
import { opsConfig, publishedFrom, quietLogger, repoRoot, scansDdl, valueOf } from "./support.ts";

const SCANS = 20_000;
const KEY = "3f".repeat(32);
const OTHER_KEY = "a5".repeat(32);
const RESTORE_PASSWORD = "restore-pw-716";

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
      // Off-site copies are restored as the restore role (ops/sql/restore-role.sql), never the superuser.
      await pgs.query(readFileSync(join(repoRoot, "ops/sql/restore-role.sql"), "utf8"));
      await pgs.query(readFileSync(join(repoRoot, "ops/sql/restore-role.sql"), "utf8"));
      await pgs.query(`ALTER ROLE kali_agents_restore PASSWORD '${RESTORE_PASSWORD}'`);
      base = {
        DATABASE_URL: pgs.urlFor({ database: "kali" }),
        OPS_RESTORE_DATABASE_URL: pgs.urlFor({
          database: "kali",
          user: "kali_agents_restore",
          password: RESTORE_PASSWORD,
        }),
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
      assert.equal(stored.subarray(0, 8).toString(), "KABKENC2");
      assert.ok(!stored.includes(Buffer.from("PGDMP")), "no plain dump header in the object");
      const manifestText = readFileSync(s3.objectFile(`${key}.json`), "utf8");
      assert.ok(!manifestText.toLowerCase().includes(KEY), "the key is not in the manifest");
      assert.match(manifestText, /"cipher": "aes-256-gcm-chunked-v2"/);
      assert.match(manifestText, /"algorithm": "hmac-sha256-v2",\s*"mac": "[0-9a-f]{64}"/);
      assert.ok(!lines.some((l) => JSON.stringify(l).includes(KEY)), "the key is never logged");

      const r = await runJob(config, log, "restore", {
        restore: { target: "kali_decrypted", source: "remote", from: name },
      });
      assert.equal(r.ok, true, r.error?.message);
      assert.deepEqual(await tableDigests("kali_decrypted"), await tableDigests("kali"));

      // What a download writes is the ops user's alone: files 0600 in a 0700 folder, whatever the umask.
      const off = offsiteOf(config)!;
      const into = join(dirs.root!, "download", "here");
      const previous = process.umask(0o002);
      try {
        const d = await download(off, into, log, name);
        assert.equal(d.authenticated, true);
        for (const f of [d.file, `${d.file}.sha256`, `${d.file}.json`])
          assert.equal(statSync(f).mode & 0o777, 0o600, f);
        assert.equal(statSync(into).mode & 0o777, 0o700);
      } finally {
        process.umask(previous);
        off.client.destroy();
      }

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

    /** Copies a remote backup's three objects (dump, sha256, manifest) to another name, as an attacker would. */
    const copyRemote = async (config: Config, from: string, to: string) => {
      const off = offsiteOf(config)!;
      for (const ext of ["", ".sha256", ".json"])
        await off.client.send(
          new PutObjectCommand({
            Bucket: off.bucket,
            Key: `${off.prefix}${to}${ext}`,
            Body: readFileSync(s3.objectFile(`${off.prefix}${from}${ext}`)),
          }),
        );
      off.client.destroy();
    };
    const putRemote = async (config: Config, key: string, body: Buffer | string) => {
      const off = offsiteOf(config)!;
      await off.client.send(new PutObjectCommand({ Bucket: off.bucket, Key: off.prefix + key, Body: body }));
      off.client.destroy();
    };
    const databases = async (like: string) =>
      (
        await pgs.query<{ d: string }>("SELECT datname AS d FROM pg_database WHERE datname LIKE $1", [like])
      ).map((r) => r.d);

    test("with the key set, a plain dump planted in the bucket is refused; with --allow-unauthenticated it is restored as the restore role, and its COPY … TO PROGRAM does not run", async () => {
      const { config, dirs } = configWith({
        OPS_BACKUP_ENCRYPTION_KEY: KEY,
        OPS_S3_PREFIX: "kali-agents/planted/",
      });
      const b = await runJob(config, log, "backup");
      assert.equal(b.ok, true, b.error?.message);
      const name = (await listBackups(dirs.backups!))[0]!.file.split("/").pop()!;
      // The attacker's dump: a materialized view whose function runs a program on the database server
      // when the view is refreshed anywhere but in the attacker's own database (so, on restore).
      const marker = `/tmp/kali-ops-pwned-${randomBytes(6).toString("hex")}`;
      await pgs.query("CREATE DATABASE evil");
      await pgs.query(scansDdl, [], "evil");
      await pgs.query(
        `CREATE TABLE planted (x text); INSERT INTO planted VALUES ('from the attacker');
         CREATE FUNCTION pwn() RETURNS int LANGUAGE plpgsql AS $f$
         BEGIN
           IF current_database() <> 'evil' THEN
             EXECUTE format('COPY (SELECT 1) TO PROGRAM %L', 'touch ${marker}');
           END IF;
           RETURN 1;
         END $f$;
         CREATE MATERIALIZED VIEW pwned AS SELECT pwn() AS x;`,
        [],
        "evil",
      );
      const evilDump = join(dirs.root!, "evil.dump");
      const pgDump = spawnSync(
        join(config.pgBinDir!, "pg_dump"),
        ["-Fc", "-f", evilDump, pgs.urlFor({ database: "evil" })],
        { encoding: "utf8" },
      );
      assert.equal(pgDump.status, 0, pgDump.stderr);
      // Swapped in as the issue tells: the object, its .sha256, and the manifest with encryption null.
      const plain = readFileSync(evilDump);
      const digest = await sha256(evilDump);
      const manifest = JSON.parse(
        readFileSync(s3.objectFile(`kali-agents/planted/${name}.json`), "utf8"),
      ) as Record<string, unknown> & { offsite: Record<string, unknown> };
      manifest.sha256 = digest;
      manifest.sizeBytes = plain.length;
      manifest.offsite = {
        ...manifest.offsite,
        encryption: null,
        objectSha256: digest,
        objectSizeBytes: plain.length,
        authentication: undefined,
      };
      await putRemote(config, name, plain);
      await putRemote(config, `${name}.sha256`, `${digest}  ${name}\n`);
      await putRemote(config, `${name}.json`, JSON.stringify(manifest, null, 2));
      const refusal = new RegExp(
        `^off-site kali-agents/planted/${name} is not encrypted and OPS_BACKUP_ENCRYPTION_KEY is set: .*pass --allow-unauthenticated only if`,
      );
      const v = await runJob(config, log, "verify", { source: "remote", file: name });
      assert.equal(v.ok, false);
      assert.match(v.error!.message, refusal);
      const r = await runJob(config, log, "restore", {
        restore: { target: "kali_planted", source: "remote" },
      });
      assert.equal(r.ok, false);
      assert.match(r.error!.message, refusal);
      assert.deepEqual(await databases("kali_planted%"), []);

      // Told to accept it, the restore runs as kali_agents_restore: the program is refused by the server.
      const a = await runJob(config, log, "restore", {
        restore: { target: "kali_planted", source: "remote", allowUnauthenticated: true },
      });
      assert.equal(a.ok, false);
      assert.match(
        a.error!.message,
        /restore into database "kali_ops_restore_\w+" failed: pg_restore exited with 1: .*pg_execute_server_program/,
      );
      assert.equal(existsSync(marker), false, "the program did not run on the server");
      assert.deepEqual(await databases("kali_planted%"), [], "no target was created");
      assert.deepEqual(await databases("kali_ops_%"), [], "the scratch database is dropped");
      assert.ok(
        lines.some(
          (l) => l.msg === "off-site backup accepted without authentication (--allow-unauthenticated)",
        ),
      );

      // Restored as a superuser (DATABASE_URL's role, OPS_RESTORE_DATABASE_URL unset), the job refuses…
      const { config: asSuperuser } = configWith({
        OPS_BACKUP_ENCRYPTION_KEY: KEY,
        OPS_S3_PREFIX: "kali-agents/planted/",
        OPS_RESTORE_DATABASE_URL: "",
      });
      const su = await runJob(asSuperuser, log, "verify", {
        source: "remote",
        file: name,
        allowUnauthenticated: true,
      });
      assert.equal(su.ok, false);
      assert.match(
        su.error!.message,
        /^verify: an off-site copy is not restored as role "postgres" \(DATABASE_URL\): it can run programs or touch files on the database server \(superuser\).*OPS_RESTORE_DATABASE_URL/,
      );
      assert.equal(existsSync(marker), false);
      // … because pg_restore as a superuser does run it: what the tests above keep from happening.
      await pgs.query("CREATE DATABASE evil_as_superuser");
      const byHand = spawnSync(
        join(config.pgBinDir!, "pg_restore"),
        ["--no-owner", "-d", pgs.urlFor({ database: "evil_as_superuser" }), evilDump],
        { encoding: "utf8" },
      );
      assert.equal(byHand.status, 0, byHand.stderr);
      assert.equal(existsSync(marker), true, "as a superuser, the dump ran its program");
      rmSync(marker, { force: true });
    });

    test("with the key set, an older copy replayed under a newer name, a copy moved under another name and a name dated in the future are each refused by name", async () => {
      const prefix = "kali-agents/moved/";
      const { config, dirs } = configWith({ OPS_BACKUP_ENCRYPTION_KEY: KEY, OPS_S3_PREFIX: prefix });
      for (let i = 0; i < 2; i++) assert.equal((await runJob(config, log, "backup")).ok, true);
      const [newer, older] = (await listBackups(dirs.backups!)).map((b) => b.file.split("/").pop()!);
      assert.ok(newer && older && newer !== older);
      const off = offsiteOf(config)!;
      const objects = (n: string) =>
        ["", ".sha256", ".json"].map((e) => readFileSync(s3.objectFile(`${prefix}${n}${e}`)));
      const newerObjects = objects(newer);

      // A name a year ahead: not the newest (the true newest is verified), refused when named, and
      // not what retention keeps in place of the true newest.
      const future = backupName(new Date(Date.now() + 365 * 86400_000));
      await copyRemote(config, newer, future);
      const ok = await runJob(config, log, "verify", { source: "remote" });
      assert.equal(ok.ok, true, ok.error?.message);
      assert.equal((ok.summary as { file: string }).file.split("/").pop(), newer);
      assert.ok(
        lines.some(
          (l) =>
            String(l.msg).startsWith("off-site backup dated in the future ignored") &&
            l.key === prefix + future,
        ),
      );
      const f = await runJob(config, log, "verify", { source: "remote", file: future });
      assert.equal(f.ok, false);
      assert.match(
        f.error!.message,
        new RegExp(
          `^off-site ${prefix}${future} is dated in the future \\(${backupTime(future)!.toISOString()}; this host's clock says .*\\): .*refused$`,
        ),
      );

      // The older copy, checksum and manifest and all, under the newer name: a rollback.
      await copyRemote(config, older, newer);
      for (const file of [undefined, newer]) {
        const r = await runJob(config, log, "verify", { source: "remote", ...(file ? { file } : {}) });
        assert.equal(r.ok, false);
        assert.match(
          r.error!.message,
          new RegExp(
            `^off-site ${prefix}${newer} is an older backup replayed under a newer name: its authenticated name is ${older} \\(taken ${backupTime(older)!.toISOString()}\\); refused$`,
          ),
        );
      }
      const rr = await runJob(config, log, "restore", {
        restore: { target: "kali_rolled_back", source: "remote" },
      });
      assert.match(rr.error!.message, /replayed under a newer name/);
      assert.deepEqual(await databases("kali_rolled_back%"), []);
      ["", ".sha256", ".json"].forEach((e, i) =>
        writeFileSync(s3.objectFile(`${prefix}${newer}${e}`), newerObjects[i]!),
      );

      // The newer copy under an older name (a day before the older one): moved, refused.
      const earlier = backupName(new Date(backupTime(older)!.getTime() - 86400_000));
      await copyRemote(config, newer, earlier);
      const m = await runJob(config, log, "verify", { source: "remote", file: earlier });
      assert.equal(m.ok, false);
      assert.match(
        m.error!.message,
        new RegExp(
          `^off-site ${prefix}${earlier} is another backup moved under this name: its authenticated name is ${newer} .*refused$`,
        ),
      );
      // The manifest rewritten to the new name: its MAC no longer holds.
      const forged = JSON.parse(newerObjects[2]!.toString("utf8")) as Record<string, unknown>;
      forged.file = earlier;
      forged.createdAt = backupTime(earlier)!.toISOString();
      await putRemote(config, `${earlier}.json`, JSON.stringify(forged, null, 2));
      const g = await runJob(config, log, "verify", { source: "remote", file: earlier });
      assert.match(
        g.error!.message,
        new RegExp(`^off-site ${prefix}${earlier}\\.json fails authentication: the manifest was altered`),
      );

      // The untouched newest still verifies.
      const again = await runJob(config, log, "verify", { source: "remote", file: newer });
      assert.equal(again.ok, true, again.error?.message);

      // Retention keeps the true newest, not the name dated in the future.
      const deleted = await applyRemoteRetention(off, 0, new Date());
      assert.ok(!deleted.includes(newer), `the true newest is kept (deleted: ${deleted.join(", ")})`);
      assert.deepEqual(
        (await listRemote(off))
          .map((b) => b.name)
          .filter((n) => n === newer || n === future)
          .sort(),
        [newer, future].sort(),
      );
      off.client.destroy();
    });

    test("with one key shared by two deployments, a copy moved from the other's prefix is refused by name (accepted with --allow-other-prefix), and a copy uploaded before the prefix was bound still restores", async () => {
      const prod = "kali-agents/prod/";
      const staging = "kali-agents/staging/";
      const a = configWith({ OPS_BACKUP_ENCRYPTION_KEY: KEY, OPS_S3_PREFIX: prod });
      const b = configWith({ OPS_BACKUP_ENCRYPTION_KEY: KEY, OPS_S3_PREFIX: staging });
      assert.equal((await runJob(a.config, log, "backup")).ok, true);
      const name = (await listBackups(a.dirs.backups!))[0]!.file.split("/").pop()!;
      const manifestText = readFileSync(s3.objectFile(`${prod}${name}.json`), "utf8");
      const manifest = JSON.parse(manifestText) as { offsite: Record<string, unknown> };
      assert.equal(manifest.offsite.prefix, prod, "the prefix is in the authenticated manifest");

      // Staging's bucket prefix receives prod's copy, objects byte for byte (same name, same key).
      for (const ext of ["", ".sha256", ".json"])
        await putRemote(b.config, `${name}${ext}`, readFileSync(s3.objectFile(`${prod}${name}${ext}`)));
      for (const file of [undefined, name]) {
        const r = await runJob(b.config, log, "verify", { source: "remote", ...(file ? { file } : {}) });
        assert.equal(r.ok, false);
        assert.equal(r.error!.message.split("\n").length, 1);
        assert.equal(
          r.error!.message,
          `off-site ${staging}${name} was uploaded under another prefix ("${prod}"; OPS_S3_PREFIX is "${staging}"): another deployment's copy, or one moved by hand; refused (pass --allow-other-prefix only if you moved it yourself)`,
        );
      }
      const rr = await runJob(b.config, log, "restore", {
        restore: { target: "kali_from_prod", source: "remote" },
      });
      assert.match(rr.error!.message, /was uploaded under another prefix/);
      assert.deepEqual(await databases("kali_from_prod%"), []);
      // The prefix removed from the manifest (to pass as a copy of before): its MAC no longer holds.
      const { prefix: _dropped, ...stripped } = manifest.offsite;
      await putRemote(b.config, `${name}.json`, JSON.stringify({ ...manifest, offsite: stripped }));
      const s = await runJob(b.config, log, "verify", { source: "remote", file: name });
      assert.match(s.error!.message, new RegExp(`^off-site ${staging}${name}\\.json fails authentication`));
      await putRemote(b.config, `${name}.json`, manifestText);
      // The operator who moved it says so: accepted, with a warning naming the prefix.
      const moved = await runJob(b.config, log, "verify", {
        source: "remote",
        file: name,
        allowOtherPrefix: true,
      });
      assert.equal(moved.ok, true, moved.error?.message);
      assert.ok(
        lines.some(
          (l) =>
            l.msg === "off-site backup of another prefix accepted (--allow-other-prefix)" &&
            l.key === staging + name &&
            l.prefix === prod,
        ),
      );

      // A copy of the current format uploaded before the prefix was bound (its MAC over a manifest
      // without one) restores under its own prefix, with a warning.
      const { authentication: _mac, prefix: _p, ...before } = manifest.offsite;
      const unbound = { ...manifest, offsite: before };
      const key = Buffer.from(KEY, "hex");
      await putRemote(
        a.config,
        `${name}.json`,
        JSON.stringify({
          ...unbound,
          offsite: { ...before, authentication: { algorithm: macName, mac: manifestMac(key, unbound) } },
        }),
      );
      const old = await runJob(a.config, log, "verify", { source: "remote", file: name });
      assert.equal(old.ok, true, old.error?.message);
      assert.ok(
        lines.some(
          (l) => String(l.msg).startsWith("off-site backup not bound to its prefix") && l.key === prod + name,
        ),
      );
    });

    test("a copy encrypted before manifests were authenticated (format 1) is refused by name, and restores with --allow-unauthenticated", async () => {
      const prefix = "kali-agents/legacy/";
      const { config, dirs } = configWith({ OPS_BACKUP_ENCRYPTION_KEY: KEY, OPS_S3_PREFIX: prefix });
      assert.equal((await runJob(config, log, "backup")).ok, true);
      const file = (await listBackups(dirs.backups!))[0]!.file;
      const name = file.split("/").pop()!;
      // What the previous version uploaded: format 1 under the key itself, the manifest unauthenticated.
      const key = Buffer.from(KEY, "hex");
      const sealed: Buffer[] = [];
      async function* whole() {
        yield readFileSync(file);
      }
      for await (const c of encrypt(whole(), key, null)) sealed.push(c);
      const object = Buffer.concat(sealed);
      const local = JSON.parse(readFileSync(manifestPath(file), "utf8")) as Record<string, unknown>;
      await putRemote(config, name, object);
      await putRemote(
        config,
        `${name}.json`,
        JSON.stringify({
          ...local,
          offsite: {
            uploadedAt: new Date().toISOString(),
            objectSizeBytes: object.length,
            objectSha256: createHash("sha256").update(object).digest("hex"),
            encryption: { cipher: "aes-256-gcm-chunked-v1", keyFingerprint: legacyKeyFingerprint(key) },
          },
        }),
      );
      const refused = await runJob(config, log, "verify", { source: "remote", file: name });
      assert.equal(refused.ok, false);
      assert.match(
        refused.error!.message,
        new RegExp(
          `^off-site ${prefix}${name} is in the format of before manifests were authenticated \\(aes-256-gcm-chunked-v1\\): .*--allow-unauthenticated`,
        ),
      );
      const accepted = await runJob(config, log, "verify", {
        source: "remote",
        file: name,
        allowUnauthenticated: true,
      });
      assert.equal(accepted.ok, true, accepted.error?.message);
      const { config: wrong } = configWith({ OPS_BACKUP_ENCRYPTION_KEY: OTHER_KEY, OPS_S3_PREFIX: prefix });
      const w = await runJob(wrong, log, "verify", {
        source: "remote",
        file: name,
        allowUnauthenticated: true,
      });
      assert.match(w.error!.message, /was encrypted with key [0-9a-f]{16}; .* \(wrong key\)/);
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
