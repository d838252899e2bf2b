// What pg_dump and pg_restore see of the ops process's environment (ops/src/pg.ts childEnv): the
// connection, libpq's settings, the locale, time zone and PATH; never another variable. A stand-in
// pg_dump (a shell script in OPS_PG_BIN_DIR's place) writes the environment it was given.
import assert from "node:assert/strict";
import { chmodSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { tempDir } from "../../test/support/servers.ts";
import { runPgTool } from "../src/pg.ts";

describe("the environment of the PostgreSQL tools", () => {
  const dir = tempDir("pg-env");
  after(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, "env.txt");
  writeFileSync(
    join(dir, "pg_dump"),
    `#!/bin/sh\nenv > ${JSON.stringify(out)}\necho "pg_dump (PostgreSQL) 16.4"\n`,
  );
  chmodSync(join(dir, "pg_dump"), 0o700);

  /** Runs the stand-in with `extra` added to this process's environment; returns what it saw. */
  const seen = async (url: string, extra: Record<string, string>): Promise<Record<string, string>> => {
    const saved = Object.fromEntries(Object.keys(extra).map((k) => [k, process.env[k]]));
    Object.assign(process.env, extra);
    try {
      assert.equal(
        (await runPgTool(dir, "pg_dump", url, ["--version"], undefined)).trim(),
        "pg_dump (PostgreSQL) 16.4",
      );
    } finally {
      for (const [k, v] of Object.entries(saved))
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
    }
    return Object.fromEntries(
      readFileSync(out, "utf8")
        .trim()
        .split("\n")
        .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
    );
  };

  test("a sentinel variable, the S3 secret and the backup key of the ops process do not reach pg_dump; the connection, libpq's settings, locale and PATH do", async () => {
    const env = await seen("postgres://ops:p%40ss@db.internal:6543/kali?sslmode=verify-full", {
      KALI_SENTINEL_7f3a: "must-not-leak",
      OPS_S3_SECRET_ACCESS_KEY: "s3-secret-must-not-leak",
      OPS_BACKUP_ENCRYPTION_KEY: "ab".repeat(32),
      AWS_SECRET_ACCESS_KEY: "aws-must-not-leak",
      DATABASE_URL: "postgres://ops:p%40ss@db.internal:6543/kali",
      PGPASSWORD: "the-parent's-password",
      PGSSLROOTCERT: "/etc/ssl/db-root.crt",
      PGOPTIONS: "-c statement_timeout=0",
      LC_ALL: "C.UTF-8",
      LANG: "C.UTF-8",
      TZ: "UTC",
    });
    const leaked = Object.entries(env).filter(([, v]) => /must-not-leak|the-parent's-password/.test(v));
    assert.deepEqual(leaked, []);
    for (const k of [
      "KALI_SENTINEL_7f3a",
      "OPS_S3_SECRET_ACCESS_KEY",
      "OPS_BACKUP_ENCRYPTION_KEY",
      "DATABASE_URL",
    ])
      assert.equal(env[k], undefined, k);
    assert.deepEqual(
      {
        PGHOST: env.PGHOST,
        PGPORT: env.PGPORT,
        PGUSER: env.PGUSER,
        PGPASSWORD: env.PGPASSWORD,
        PGSSLMODE: env.PGSSLMODE,
        PGCONNECT_TIMEOUT: env.PGCONNECT_TIMEOUT,
        PGSSLROOTCERT: env.PGSSLROOTCERT,
        PGOPTIONS: env.PGOPTIONS,
        LC_ALL: env.LC_ALL,
        LANG: env.LANG,
        TZ: env.TZ,
      },
      {
        PGHOST: "db.internal",
        PGPORT: "6543",
        PGUSER: "ops",
        PGPASSWORD: "p@ss",
        PGSSLMODE: "verify-full",
        PGCONNECT_TIMEOUT: "10",
        PGSSLROOTCERT: "/etc/ssl/db-root.crt",
        PGOPTIONS: "-c statement_timeout=0",
        LC_ALL: "C.UTF-8",
        LANG: "C.UTF-8",
        TZ: "UTC",
      },
    );
    assert.equal(env.PATH, process.env.PATH);
    const allowed = /^(PG\w+|PATH|HOME|TMPDIR|TZ|LANG|LANGUAGE|LC_\w+|PWD|SHLVL|_)$/; // the last three: sh's own
    assert.deepEqual(
      Object.keys(env).filter((k) => !allowed.test(k)),
      [],
    );
  });

  test("a URL without a password: the parent's PGPASSWORD is not passed on (libpq reads ~/.pgpass instead)", async () => {
    const env = await seen("postgres://ops@db.internal/kali", { PGPASSWORD: "the-parent's-password" });
    assert.equal(env.PGPASSWORD, undefined);
    assert.equal(env.PGUSER, "ops");
  });
});
