// The ops configuration: one-line errors naming the variable, *_FILE secrets, redaction, and the
// configuration table of docs/operations/maintenance.md kept equal to the code.
import assert from "node:assert/strict";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { tempDir } from "../../test/support/servers.ts";
import { ConfigError, loadConfig, redactor, REDACTED, variables } from "../src/config.ts";
import { repoRoot } from "./support.ts";

describe("ops configuration", () => {
  const dir = tempDir("ops-config");
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("defaults", () => {
    const c = loadConfig({});
    assert.equal(c.backupRetentionDays, 30);
    assert.equal(c.scansRetentionDays, 90);
    assert.equal(c.cleanupBatchSize, 5000);
    assert.deepEqual(c.scansTable, { schema: "public", table: "scans" });
    assert.equal(c.databaseUrl, undefined);
    assert.equal(c.scheduleReport?.text, "0 6 * * 1");
  });

  const bad: { name: string; env: Record<string, string>; want: string | RegExp }[] = [
    {
      name: "retention not a number",
      env: { OPS_BACKUP_RETENTION_DAYS: "a month" },
      want: 'OPS_BACKUP_RETENTION_DAYS: "a month" is not an integer',
    },
    {
      name: "retention zero",
      env: { SCANS_RETENTION_DAYS: "0" },
      want: 'SCANS_RETENTION_DAYS: "0" must be at least 1',
    },
    {
      name: "relative backup folder",
      env: { OPS_BACKUP_DIR: "backups" },
      want: 'OPS_BACKUP_DIR: "backups" is not an absolute path',
    },
    {
      name: "cache prefix that matches everything",
      env: { REDIS_CACHE_PREFIX: "*" },
      want: /^REDIS_CACHE_PREFIX: "\*" must be at least 2 characters/,
    },
    {
      name: "table with capitals",
      env: { SCANS_TABLE: "Scans" },
      want: /^SCANS_TABLE: "Scans" is not \[schema\.\]table/,
    },
    {
      // It may hold a password (basic auth): never echoed either.
      name: "Prometheus URL without scheme",
      env: { PROMETHEUS_URL: "prometheus:9090" },
      want: /^PROMETHEUS_URL: the value is not a http:\/\/ or https:\/\/ URL/,
    },
    {
      name: "a Prometheus URL's password and token are never echoed",
      env: { PROMETHEUS_URL: "prometheus://admin:hunter2secret@prom:9090/?token=t0ps3cret" },
      // A secret since it carries the report's login (PROMETHEUS_URL_FILE): not even redacted, not echoed.
      want: "PROMETHEUS_URL: the value is not a http:// or https:// URL",
    },
    {
      name: "an Alertmanager URL's password is never echoed",
      env: { ALERTMANAGER_URL: "am://admin:hunter2secret@am:9093" },
      want: "ALERTMANAGER_URL: the value is not a http:// or https:// URL",
    },
    {
      name: "an S3 endpoint's keys are never echoed",
      env: { OPS_S3_ENDPOINT: "s3://AKIAEXAMPLE:hunter2secret@minio:9000/?X-Amz-Signature=abcdef123" },
      want: 'OPS_S3_ENDPOINT: "s3://[REDACTED]@minio:9000/?X-Amz-Signature=[REDACTED]" is not a http:// or https:// URL',
    },
    {
      name: "a retention of ten thousand years",
      env: { OPS_BACKUP_RETENTION_DAYS: "3650000" },
      want: 'OPS_BACKUP_RETENTION_DAYS: "3650000" must be at most 3650',
    },
    {
      name: "a cleanup budget past Node.js' timers",
      env: { OPS_CLEANUP_TIME_BUDGET_SECONDS: "3000000" },
      want: 'OPS_CLEANUP_TIME_BUDGET_SECONDS: "3000000" must be at most 86400',
    },
    {
      name: "secret URL is never echoed",
      env: { DATABASE_URL: "mysql://u:hunter22@h/db" },
      want: "DATABASE_URL: the value is not a postgres:// or postgresql:// URL",
    },
    {
      name: "both a variable and its _FILE",
      env: { DATABASE_URL: "postgres://h/db", DATABASE_URL_FILE: "/x" },
      want: "DATABASE_URL: both DATABASE_URL and DATABASE_URL_FILE are set; set only one",
    },
    {
      name: "_FILE that cannot be read",
      env: { REDIS_URL_FILE: "/nonexistent/redis_url" },
      want: /^REDIS_URL_FILE: cannot read \/nonexistent\/redis_url: ENOENT/,
    },
    {
      name: "a report recipient that is not an address",
      env: { OPS_REPORT_MAIL_TO: "ops@example.com, ops team" },
      want: 'OPS_REPORT_MAIL_TO: "ops team" is not an e-mail address (local@domain)',
    },
    {
      name: "a report recipient list with a stray comma",
      env: { OPS_REPORT_MAIL_TO: "ops@example.com," },
      want: /^OPS_REPORT_MAIL_TO: .* has an empty item \(a stray comma\)$/,
    },
    {
      name: "relative SMTP secrets folder",
      env: { OPS_REPORT_SMTP_SECRETS_DIR: "secrets/alertmanager" },
      want: 'OPS_REPORT_SMTP_SECRETS_DIR: "secrets/alertmanager" is not an absolute path',
    },
    {
      name: "bad schedule",
      env: { OPS_SCHEDULE_VERIFY: "0 3 * *" },
      want: /^OPS_SCHEDULE_VERIFY: "0 3 \* \*" is not a cron schedule of 5 fields/,
    },
  ];
  for (const c of bad)
    test(`rejects: ${c.name}`, () => {
      assert.throws(
        () => loadConfig(c.env),
        (e: unknown) => {
          assert.ok(e instanceof ConfigError);
          assert.ok(!e.message.includes("\n"));
          assert.ok(!/hunter2|t0ps3cret|abcdef123/.test(e.message), e.message);
          if (typeof c.want === "string") assert.equal(e.message, c.want);
          else assert.match(e.message, c.want);
          return true;
        },
      );
    });

  test("secrets from *_FILE (trailing newline dropped) are redacted in any text", () => {
    const file = join(dir, "ops_database_url");
    writeFileSync(file, "postgres://ops:s3cret-pw@db:5432/kali\n");
    const c = loadConfig({ DATABASE_URL_FILE: file });
    assert.equal(c.databaseUrl, "postgres://ops:s3cret-pw@db:5432/kali");
    const redact = redactor(c);
    assert.equal(redact("failed: s3cret-pw"), `failed: ${REDACTED}`);
    assert.equal(redact("redis://u:other@r:6379"), `redis://u:${REDACTED}@r:6379`);
    writeFileSync(file, "\n");
    assert.throws(() => loadConfig({ DATABASE_URL_FILE: file }), /DATABASE_URL_FILE: .* is empty/);
  });

  test("the off-site store and the encryption key: parsed, checked, and their secrets redacted", () => {
    const keyHex = "0f".repeat(32);
    const keyFile = join(dir, "backup_key");
    writeFileSync(keyFile, `${keyHex}\n`);
    const secretFile = join(dir, "s3_secret");
    writeFileSync(secretFile, "wJalrXUtnFEMI/K7MDENG\n");
    const c = loadConfig({
      OPS_S3_BUCKET: "kali-backups",
      OPS_S3_PREFIX: "kali-agents/prod",
      OPS_S3_ENDPOINT: "https://minio.example:9000",
      OPS_S3_FORCE_PATH_STYLE: "true",
      OPS_S3_ACCESS_KEY_ID: "AKIAEXAMPLE",
      OPS_S3_SECRET_ACCESS_KEY_FILE: secretFile,
      OPS_BACKUP_ENCRYPTION_KEY_FILE: keyFile,
    });
    assert.equal(c.s3Prefix, "kali-agents/prod/");
    assert.equal(c.s3ForcePathStyle, true);
    assert.equal(c.s3PartSizeMib, 16);
    assert.deepEqual(c.backupEncryptionKey, Buffer.from(keyHex, "hex"));
    assert.equal(c.s3SecretAccessKey, "wJalrXUtnFEMI/K7MDENG");
    const redact = redactor(c);
    assert.equal(
      redact(`id AKIAEXAMPLE secret wJalrXUtnFEMI/K7MDENG key ${keyHex}`),
      `id ${REDACTED} secret ${REDACTED} key ${REDACTED}`,
    );
    for (const [env, want] of [
      [{ OPS_S3_BUCKET: "Kali_Backups" }, /^OPS_S3_BUCKET: "Kali_Backups" is not a bucket name/],
      [{ OPS_S3_PREFIX: "/abs" }, /^OPS_S3_PREFIX: "\/abs" must not start with \//],
      [{ OPS_S3_FORCE_PATH_STYLE: "yes" }, /^OPS_S3_FORCE_PATH_STYLE: "yes" is not true or false$/],
      [{ OPS_S3_PART_SIZE_MIB: "4" }, /^OPS_S3_PART_SIZE_MIB: "4" must be at least 5$/],
      [{ OPS_BACKUP_ENCRYPTION_KEY: "short-secret" }, /^OPS_BACKUP_ENCRYPTION_KEY: is not 64 hex digits/],
    ] as const)
      assert.throws(
        () => loadConfig(env),
        (e: unknown) =>
          e instanceof ConfigError && want.test(e.message) && !e.message.includes("short-secret"),
        JSON.stringify(env),
      );
  });

  test("the redactor takes its secrets from the rows: every secret row's value is gone from a line, an http(s) URL keeps its address", () => {
    // One value per secret row, and the part of it that must not survive. A new secret row fails here
    // until it is given a sample (and so is checked).
    const samples: Record<string, { value: string; secret: string; kept?: string }> = {
      DATABASE_URL: { value: "postgres://ops:pw-database@db:5432/kali", secret: "pw-database" },
      REDIS_URL: { value: "redis://:pw-redis@cache:6379/0", secret: "pw-redis" },
      OPS_RESTORE_DATABASE_URL: {
        value: "postgres://restorer:pw-restore@db:5432/kali",
        secret: "pw-restore",
      },
      OPS_S3_ACCESS_KEY_ID: { value: "AKIASAMPLEID", secret: "AKIASAMPLEID" },
      OPS_S3_SECRET_ACCESS_KEY: { value: "wJalrSAMPLEsecret", secret: "wJalrSAMPLEsecret" },
      OPS_BACKUP_ENCRYPTION_KEY: { value: "ab".repeat(32), secret: "ab".repeat(32) },
      PROMETHEUS_URL: {
        value: "http://ops:pw-prom@prometheus:9090",
        secret: "pw-prom",
        kept: "prometheus:9090",
      },
      ALERTMANAGER_URL: {
        value: "http://ops:pw-am@alertmanager:9093",
        secret: "pw-am",
        kept: "alertmanager:9093",
      },
    };
    const secretRows = (Object.values(variables) as { env: string; secret?: boolean }[])
      .filter((v) => v.secret)
      .map((v) => v.env);
    assert.deepEqual(secretRows.sort(), Object.keys(samples).sort());
    const env = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, v.value]));
    const redact = redactor(
      loadConfig({ ...env, OPS_S3_ENDPOINT: "https://minio:9000/?X-Amz-Signature=sig-endpoint" }),
    );
    for (const [name, { value, secret, kept }] of Object.entries(samples)) {
      for (const form of [secret, value]) {
        const line = redact(`${name} failed: ${form} (${JSON.stringify({ v: form })})`);
        assert.ok(!line.includes(secret), `${name}: ${line}`);
        assert.ok(line.includes(REDACTED), line);
      }
      if (kept) assert.match(redact(`cannot reach ${value.replace(/\/\/.*@/, "//")}`), new RegExp(kept));
    }
    // The key in either case of its hex.
    assert.equal(redact(`key ${"AB".repeat(32)}`), `key ${REDACTED}`);
    // A URL that is not a secret as a whole still loses its query's token; plain settings stay.
    assert.equal(
      redact("https://minio:9000/?X-Amz-Signature=sig-endpoint"),
      `https://minio:9000/?X-Amz-Signature=${REDACTED}`,
    );
    assert.equal(
      redact("/var/backups/kali-agents kali_agents_backup"),
      "/var/backups/kali-agents kali_agents_backup",
    );
  });

  test("docs/operations/maintenance.md lists every variable with its default and meaning", () => {
    const doc = readFileSync(join(repoRoot, "docs/operations/maintenance.md"), "utf8");
    for (const v of Object.values(variables) as {
      env: string;
      default?: string;
      description: string;
      file?: boolean;
    }[]) {
      const row = `| \`${v.env}\`${v.file ? ` (or \`${v.env}_FILE\`)` : ""} | ${v.default === undefined ? "unset" : `\`${v.default}\``} | ${v.description} |`;
      assert.ok(doc.includes(row), `docs/operations/maintenance.md lacks the row: ${row}`);
    }
  });
});
