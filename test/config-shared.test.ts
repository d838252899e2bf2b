// One .env means one thing: the variables more than one program reads (lib/config/shared.ts) get the same
// verdict, and the same one-line error, from the exporter's, the ops jobs' and the demo's loaders. Each
// case is a regression of a value the programs once judged differently (the first three), or a bad value
// a new user types. The rows where a program deliberately differs are the last tests, with the reason.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { loadConfig as loadDemo } from "../demo/src/config.ts";
import { loadConfig as loadExporter } from "../exporter/src/config.ts";
import { ConfigError } from "../lib/config/config.ts";
import { shared } from "../lib/config/shared.ts";
import { loadConfig as loadOps } from "../ops/src/config.ts";

type Env = Record<string, string>;
const loaders: Record<string, (env: Env) => unknown> = {
  exporter: loadExporter,
  ops: loadOps,
  demo: loadDemo,
};

/** The loader's verdict: "ok", or the ConfigError's message (any other error fails the test). */
function verdict(load: (env: Env) => unknown, env: Env): string {
  try {
    load(env);
    return "ok";
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return e.message;
  }
}

const secretDir = mkdtempSync(join(tmpdir(), "kali-shared-config-"));
const dbFile = join(secretDir, "database_url");
writeFileSync(dbFile, "postgres://u:pw@db:5432/app\n");

const cases: { name: string; env: Env; want: RegExp | "ok" }[] = [
  // Accepted by the exporter and the demo, refused by ops, before the rows were shared.
  {
    name: "retention in exponent form",
    env: { SCANS_RETENTION_DAYS: "1e2" },
    want: /^SCANS_RETENTION_DAYS: "1e2" is not an integer$/,
  },
  // Refused by ops only.
  {
    name: "one-letter cache prefix",
    env: { REDIS_CACHE_PREFIX: "k" },
    want: /^REDIS_CACHE_PREFIX: "k" must be at least 2 characters/,
  },
  // Accepted by the demo only.
  {
    name: "stray comma in the queue keys",
    env: { SCAN_QUEUE_KEYS: "a,,b" },
    want: /^SCAN_QUEUE_KEYS: "a,,b" has an empty item/,
  },
  {
    name: "trailing comma in the queue keys",
    env: { SCAN_QUEUE_KEYS: "a," },
    want: /^SCAN_QUEUE_KEYS: "a," has an empty item/,
  },
  {
    name: "fractional retention",
    env: { SCANS_RETENTION_DAYS: "1.5" },
    want: /^SCANS_RETENTION_DAYS: "1.5" is not an integer$/,
  },
  {
    name: "zero retention",
    env: { SCANS_RETENTION_DAYS: "0" },
    want: /^SCANS_RETENTION_DAYS: "0" must be at least 1$/,
  },
  {
    name: "retention with a unit",
    env: { SCANS_RETENTION_DAYS: "90d" },
    want: /^SCANS_RETENTION_DAYS: "90d" is not an integer$/,
  },
  {
    name: "glob in the cache prefix",
    env: { REDIS_CACHE_PREFIX: "kali:*" },
    want: /^REDIS_CACHE_PREFIX: "kali:\*" must be .* without glob characters/,
  },
  {
    name: "upper-case table",
    env: { SCANS_TABLE: "Scans" },
    want: /^SCANS_TABLE: "Scans" is not \[schema\.\]table/,
  },
  {
    name: "three-part table",
    env: { SCANS_TABLE: "db.public.scans" },
    want: /^SCANS_TABLE: "db\.public\.scans" is not/,
  },
  { name: "SQL in the table", env: { SCANS_TABLE: "scans;drop table x" }, want: /^SCANS_TABLE: / },
  {
    name: "MySQL URL",
    env: { DATABASE_URL: "mysql://u:hunter2@db/app" },
    want: /^DATABASE_URL: the value is not a postgres:\/\/ or postgresql:\/\/ URL$/,
  },
  {
    name: "URL that does not parse",
    env: { DATABASE_URL: "postgres://u:hunter2@[bad" },
    want: /^DATABASE_URL: the value is not a postgres/,
  },
  {
    name: "Redis URL over HTTP",
    env: { REDIS_URL: "http://:hunter2@r:6379" },
    want: /^REDIS_URL: the value is not a redis:\/\/ or rediss:\/\/ URL$/,
  },
  {
    name: "URL and its file both set",
    env: { DATABASE_URL: "postgres://db/app", DATABASE_URL_FILE: dbFile },
    want: /^DATABASE_URL: both DATABASE_URL and DATABASE_URL_FILE are set; set only one$/,
  },
  {
    name: "unreadable URL file",
    env: { REDIS_URL_FILE: "/nonexistent/redis-url" },
    want: /^REDIS_URL_FILE: cannot read \/nonexistent\/redis-url/,
  },
  // Good values, written the ways people write them: accepted by every program alike.
  {
    name: "every shared variable set well",
    env: {
      SCANS_RETENTION_DAYS: "30",
      REDIS_CACHE_PREFIX: "app:cache:",
      SCAN_QUEUE_KEYS: "q:nmap, q:zap",
      SCANS_TABLE: "app.scans",
      DATABASE_URL_FILE: dbFile,
      REDIS_URL: "rediss://:pw@r:6380/1",
    },
    want: "ok",
  },
  {
    name: "empty counts as unset",
    env: { SCANS_RETENTION_DAYS: "", REDIS_CACHE_PREFIX: "", SCAN_QUEUE_KEYS: "", SCANS_TABLE: "" },
    want: "ok",
  },
];

describe("the shared variables get one verdict from every program", () => {
  for (const c of cases) {
    test(c.name, () => {
      const got = Object.fromEntries(Object.entries(loaders).map(([p, load]) => [p, verdict(load, c.env)]));
      const first = got.exporter!;
      assert.deepEqual(got, { exporter: first, ops: first, demo: first }, "the programs disagree");
      if (c.want === "ok") assert.equal(first, "ok");
      else assert.match(first, c.want);
      for (const secret of ["hunter2", "pw@"]) assert.ok(!first.includes(secret), `${first} echoes a secret`);
    });
  }

  test("the same defaults, from definitions/application.ts", () => {
    const e = loadExporter({});
    const o = loadOps({});
    const d = loadDemo({});
    assert.deepEqual(e.scansTable, { schema: "public", table: "scans" });
    assert.deepEqual(o.scansTable, e.scansTable);
    assert.equal(d.scansTable, "public.scans");
    assert.deepEqual([e.scansRetentionDays, o.scansRetentionDays], [90, 90]);
    assert.deepEqual(
      [e.scanQueueKeys, o.scanQueueKeys, d.queueKeys],
      [["kali:scans:queue"], ["kali:scans:queue"], ["kali:scans:queue"]],
    );
    assert.deepEqual(
      [e.redisCachePrefix, o.redisCachePrefix, d.cacheKeyPrefix],
      ["kali:cache:", "kali:cache:", "kali:cache:"],
    );
  });

  test("a log level is refused alike under each program's name", () => {
    assert.equal(
      verdict(loadExporter, { EXPORTER_LOG_LEVEL: "verbose" }),
      'EXPORTER_LOG_LEVEL: "verbose" is not one of debug, info, warn, error',
    );
    assert.equal(
      verdict(loadOps, { OPS_LOG_LEVEL: "verbose" }),
      'OPS_LOG_LEVEL: "verbose" is not one of debug, info, warn, error',
    );
    assert.equal(
      verdict(loadDemo, { DEMO_LOG_LEVEL: "verbose" }),
      'DEMO_LOG_LEVEL: "verbose" is not one of debug, info, warn, error',
    );
  });
});

describe("the deliberate differences (each a commented override in its program's table)", () => {
  test("ops: DATABASE_URL must name its database (backup and restore act on that database)", () => {
    const env = { DATABASE_URL: "postgres://u:hunter2@db:5432" };
    assert.equal(verdict(loadExporter, env), "ok");
    assert.equal(verdict(loadDemo, env), "ok");
    assert.equal(
      verdict(loadOps, env),
      "DATABASE_URL: the URL names no database (postgres://user:password@host:5432/<database>)",
    );
    assert.equal(verdict(loadOps, { DATABASE_URL: "postgres://u:hunter2@db:5432/app" }), "ok");
  });

  test("demo: DATABASE_URL and REDIS_URL default to the local servers (it is the application)", () => {
    assert.equal(loadExporter({}).databaseUrl, undefined);
    assert.equal(loadOps({}).redisUrl, undefined);
    const d = loadDemo({});
    assert.equal(d.databaseUrl, "postgres://postgres@127.0.0.1:5432/kali_agents");
    assert.equal(d.redisUrl, "redis://127.0.0.1:6379/0");
    // The default passes the shared row's validation like any set value.
    assert.equal(shared.databaseUrl.parse(d.databaseUrl), d.databaseUrl);
  });
});
