// Table-driven tests of the configuration module (postgres_exporter's config_test.go style): every
// variable's default, a bad value of each kind with its exact message, the *_FILE variants, the YAML
// file, and secrets kept out of every log line.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { rmSync } from "node:fs";
import {
  checkEnvironment,
  ConfigError,
  loadConfig,
  redactor,
  variables,
  type Config,
} from "../src/config.ts";
import { createLogger } from "../../lib/log.ts";
import { tempDir } from "../../test/support/servers.ts";

const dir = tempDir("config-test");
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function file(content: string, name = `f${n++}`): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

describe("defaults", () => {
  const expected: Config = {
    listenAddress: { host: "0.0.0.0", port: 9839 },
    configFile: undefined,
    logLevel: "info",
    scrapeTimeoutSeconds: 10,
    scrapeTimeoutMarginSeconds: 0.5,
    minCollectionIntervalSeconds: 1,
    maxInFlightRequests: 1024,
    healthDetails: false,
    collectorsDisabled: [],
    hostRoot: "/",
    textfileDir: undefined,
    textfileMaxBytes: 1048576,
    textfileMaxSeries: 10000,
    databaseUrl: undefined,
    pgConnectTimeoutSeconds: 2,
    pgStatementTimeoutSeconds: 3,
    pgLockTimeoutSeconds: 1,
    pgDatabaseSizeIntervalSeconds: 300,
    scansMaxTools: 100,
    scansTable: { schema: "public", table: "scans" },
    scansRetentionDays: 90,
    redisUrl: undefined,
    redisConnectTimeoutSeconds: 1,
    redisCommandTimeoutSeconds: 1,
    scanQueueKeys: ["kali:scans:queue"],
    redisCachePrefix: "kali:cache:",
    apiHealthUrl: undefined,
    mcpServers: [],
    probeTimeoutSeconds: 2,
    healthDiskWarnPercent: 90,
    healthMemoryWarnPercent: 90,
    healthCpuWarnPercent: 80,
  };
  test("an empty environment gives every default", () => {
    assert.deepEqual(loadConfig({}), expected);
  });
  test("every variable of the table has an expected default here (a new one needs a row above)", () => {
    assert.deepEqual(Object.keys(variables).sort(), Object.keys(expected).sort());
  });
  test("an empty variable counts as unset", () => {
    const empty = Object.fromEntries(Object.values(variables).map((v) => [v.env, ""]));
    assert.deepEqual(loadConfig(empty), expected);
  });
  test("the result is frozen, deeply", () => {
    const c = loadConfig({ MCP_SERVERS: "http://a:1" });
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.mcpServers) && Object.isFrozen(c.mcpServers[0]));
    assert.ok(Object.isFrozen(c.listenAddress));
  });
});

describe("good values are parsed", () => {
  const cases: { name: string; env: Record<string, string>; want: Partial<Config> }[] = [
    {
      name: "listen on IPv6",
      env: { EXPORTER_LISTEN_ADDRESS: "[::1]:9100" },
      want: { listenAddress: { host: "::1", port: 9100 } },
    },
    {
      name: "listen on every interface",
      env: { EXPORTER_LISTEN_ADDRESS: ":0" },
      want: { listenAddress: { host: "0.0.0.0", port: 0 } },
    },
    { name: "log level", env: { EXPORTER_LOG_LEVEL: "debug" }, want: { logLevel: "debug" } },
    {
      name: "fractional seconds",
      env: { EXPORTER_SCRAPE_TIMEOUT_SECONDS: "2.5" },
      want: { scrapeTimeoutSeconds: 2.5 },
    },
    {
      name: "zero margin",
      env: { EXPORTER_SCRAPE_TIMEOUT_MARGIN_SECONDS: "0" },
      want: { scrapeTimeoutMarginSeconds: 0 },
    },
    {
      name: "collectors disabled, spaces trimmed",
      env: { EXPORTER_COLLECTORS_DISABLED: "host, textfile" },
      want: { collectorsDisabled: ["host", "textfile"] },
    },
    { name: "host root", env: { EXPORTER_HOST_ROOT: "/host" }, want: { hostRoot: "/host" } },
    {
      name: "textfile dir",
      env: { EXPORTER_TEXTFILE_DIR: "/var/lib/textfile" },
      want: { textfileDir: "/var/lib/textfile" },
    },
    {
      name: "postgres URL with a socket host",
      env: { DATABASE_URL: "postgresql:///db?host=/run/postgresql" },
      want: { databaseUrl: "postgresql:///db?host=/run/postgresql" },
    },
    {
      name: "unqualified table",
      env: { SCANS_TABLE: "scan_jobs" },
      want: { scansTable: { schema: "public", table: "scan_jobs" } },
    },
    {
      name: "qualified table",
      env: { SCANS_TABLE: "app.scans" },
      want: { scansTable: { schema: "app", table: "scans" } },
    },
    {
      name: "redis TLS URL",
      env: { REDIS_URL: "rediss://:pw@r:6380/1" },
      want: { redisUrl: "rediss://:pw@r:6380/1" },
    },
    { name: "queue keys", env: { SCAN_QUEUE_KEYS: "q1,q2" }, want: { scanQueueKeys: ["q1", "q2"] } },
    {
      name: "MCP servers, named and not",
      env: { MCP_SERVERS: "nmap=http://mcp:8101/health, tcp://zap:8102,https://x.example/h" },
      want: {
        mcpServers: [
          { name: "nmap", url: "http://mcp:8101/health", kind: "http" },
          { name: "zap:8102", url: "tcp://zap:8102", kind: "tcp" },
          { name: "x.example", url: "https://x.example/h", kind: "http" },
        ],
      },
    },
    { name: "a percentage", env: { HEALTH_CPU_WARN_PERCENT: "95.5" }, want: { healthCpuWarnPercent: 95.5 } },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const got = loadConfig(c.env);
      for (const [k, v] of Object.entries(c.want)) assert.deepEqual(got[k as keyof Config], v, k);
    });
  }
});

describe("a bad value stops the start with one line naming the variable and the reason", () => {
  const cases: { name: string; env: () => Record<string, string>; error: string }[] = [
    {
      name: "listen address without a port",
      env: () => ({ EXPORTER_LISTEN_ADDRESS: "9839" }),
      error: 'EXPORTER_LISTEN_ADDRESS: "9839" is not host:port (e.g. 0.0.0.0:9839, [::]:9839, :9839)',
    },
    {
      name: "listen port out of range",
      env: () => ({ EXPORTER_LISTEN_ADDRESS: "0.0.0.0:65536" }),
      error: 'EXPORTER_LISTEN_ADDRESS: port "65536" is not an integer from 0 to 65535',
    },
    {
      name: "unknown log level",
      env: () => ({ EXPORTER_LOG_LEVEL: "verbose" }),
      error: 'EXPORTER_LOG_LEVEL: "verbose" is not one of debug, info, warn, error',
    },
    {
      name: "a scrape timeout too short to collect anything",
      env: () => ({ EXPORTER_SCRAPE_TIMEOUT_SECONDS: "0.0000001" }),
      error: 'EXPORTER_SCRAPE_TIMEOUT_SECONDS: "0.0000001" must be at least 0.5',
    },
    {
      name: "a timeout past Node.js' timers (they would fire at once)",
      env: () => ({ EXPORTER_PG_STATEMENT_TIMEOUT_SECONDS: "3000000" }),
      error: 'EXPORTER_PG_STATEMENT_TIMEOUT_SECONDS: "3000000" must be at most 300',
    },
    {
      name: "an interval of more than a day",
      env: () => ({ EXPORTER_PG_DATABASE_SIZE_INTERVAL_SECONDS: "864000" }),
      error: 'EXPORTER_PG_DATABASE_SIZE_INTERVAL_SECONDS: "864000" must be at most 86400',
    },
    {
      name: "a retention of ten thousand years",
      env: () => ({ SCANS_RETENTION_DAYS: "3650000" }),
      error: 'SCANS_RETENTION_DAYS: "3650000" must be at most 3650',
    },
    {
      name: "a minimum interval of more than a minute",
      env: () => ({ EXPORTER_MIN_COLLECTION_INTERVAL_SECONDS: "61" }),
      error: 'EXPORTER_MIN_COLLECTION_INTERVAL_SECONDS: "61" must be at most 60',
    },
    {
      name: "no request allowed in flight",
      env: () => ({ EXPORTER_MAX_IN_FLIGHT_REQUESTS: "0" }),
      error: 'EXPORTER_MAX_IN_FLIGHT_REQUESTS: "0" must be at least 1',
    },
    {
      name: "an API URL's password and query are never echoed",
      env: () => ({ API_HEALTH_URL: "ftp://kali:hunter2secret@api:8000/health?token=t0ps3cret" }),
      error:
        'API_HEALTH_URL: "ftp://[REDACTED]@api:8000/health?token=[REDACTED]" is not a http:// or https:// URL',
    },
    {
      name: "an MCP server's password is never echoed",
      env: () => ({ MCP_SERVERS: "nmap=ftp://kali:hunter2secret@mcp:9000/health" }),
      error:
        'MCP_SERVERS: "ftp://[REDACTED]@mcp:9000/health" is not an http://, https:// or tcp://host:port URL',
    },
    {
      name: "seconds not a number",
      env: () => ({ EXPORTER_SCRAPE_TIMEOUT_SECONDS: "10s" }),
      error: 'EXPORTER_SCRAPE_TIMEOUT_SECONDS: "10s" is not a number',
    },
    {
      name: "seconds zero",
      env: () => ({ EXPORTER_PROBE_TIMEOUT_SECONDS: "0" }),
      error: 'EXPORTER_PROBE_TIMEOUT_SECONDS: "0" must be at least 0.01',
    },
    {
      name: "negative margin",
      env: () => ({ EXPORTER_SCRAPE_TIMEOUT_MARGIN_SECONDS: "-0.5" }),
      error: 'EXPORTER_SCRAPE_TIMEOUT_MARGIN_SECONDS: "-0.5" must be at least 0',
    },
    {
      name: "unknown collector",
      env: () => ({ EXPORTER_COLLECTORS_DISABLED: "host,postgress" }),
      error:
        'EXPORTER_COLLECTORS_DISABLED: "postgress" is not a collector (one of host, inventory, textfile, postgres, redis, scans, probes)',
    },
    {
      name: "the exporter's own collector",
      env: () => ({ EXPORTER_COLLECTORS_DISABLED: "exporter" }),
      error:
        "EXPORTER_COLLECTORS_DISABLED: the exporter collector (the exporter's own metrics) cannot be disabled",
    },
    {
      name: "stray comma in a list",
      env: () => ({ SCAN_QUEUE_KEYS: "a,,b" }),
      error: 'SCAN_QUEUE_KEYS: "a,,b" has an empty item (a stray comma)',
    },
    {
      name: "relative host root",
      env: () => ({ EXPORTER_HOST_ROOT: "host" }),
      error: 'EXPORTER_HOST_ROOT: "host" is not an absolute path',
    },
    {
      name: "relative textfile dir",
      env: () => ({ EXPORTER_TEXTFILE_DIR: "./textfile" }),
      error: 'EXPORTER_TEXTFILE_DIR: "./textfile" is not an absolute path',
    },
    {
      name: "database URL of another scheme (value not echoed: it is a secret)",
      env: () => ({ DATABASE_URL: "mysql://u:hunter22@db/app" }),
      error: "DATABASE_URL: the value is not a postgres:// or postgresql:// URL",
    },
    {
      name: "redis URL that is no URL",
      env: () => ({ REDIS_URL: "localhost:6379" }),
      error: "REDIS_URL: the value is not a redis:// or rediss:// URL",
    },
    {
      name: "table with uppercase",
      env: () => ({ SCANS_TABLE: "Public.Scans" }),
      error:
        'SCANS_TABLE: "Public.Scans" is not [schema.]table with lowercase identifiers ([a-z_][a-z0-9_]*, at most 63 characters)',
    },
    {
      name: "table with three parts",
      env: () => ({ SCANS_TABLE: "db.public.scans" }),
      error:
        'SCANS_TABLE: "db.public.scans" is not [schema.]table with lowercase identifiers ([a-z_][a-z0-9_]*, at most 63 characters)',
    },
    {
      name: "fractional days",
      env: () => ({ SCANS_RETENTION_DAYS: "1.5" }),
      error: 'SCANS_RETENTION_DAYS: "1.5" is not an integer',
    },
    {
      name: "zero days",
      env: () => ({ SCANS_RETENTION_DAYS: "0" }),
      error: 'SCANS_RETENTION_DAYS: "0" must be at least 1',
    },
    {
      name: "API health URL not http",
      env: () => ({ API_HEALTH_URL: "ftp://api/health" }),
      error: 'API_HEALTH_URL: "ftp://api/health" is not a http:// or https:// URL',
    },
    {
      name: "MCP TCP target without a port",
      env: () => ({ MCP_SERVERS: "tcp://mcp" }),
      error: 'MCP_SERVERS: "tcp://mcp" is not tcp://host:port (a TCP probe needs a port)',
    },
    {
      name: "MCP target that is no URL",
      env: () => ({ MCP_SERVERS: "mcp:8101" }),
      error: 'MCP_SERVERS: "mcp:8101" is not an http://, https:// or tcp://host:port URL',
    },
    {
      name: "MCP target name with a space",
      env: () => ({ MCP_SERVERS: "my mcp=http://mcp:8101" }),
      error: 'MCP_SERVERS: name "my mcp" may only contain letters, digits, "_", "." and "-"',
    },
    {
      name: "MCP target twice",
      env: () => ({ MCP_SERVERS: "http://mcp:8101/a,http://mcp:8101/b" }),
      error: 'MCP_SERVERS: target name "mcp:8101" appears twice (give each a distinct name=url)',
    },
    {
      name: "percentage above 100",
      env: () => ({ HEALTH_DISK_WARN_PERCENT: "150" }),
      error: 'HEALTH_DISK_WARN_PERCENT: "150" must be at most 100',
    },
    {
      name: "relative config file",
      env: () => ({ EXPORTER_CONFIG_FILE: "exporter.yaml" }),
      error: 'EXPORTER_CONFIG_FILE: "exporter.yaml" is not an absolute path',
    },
    {
      name: "a secret and its _FILE both set",
      env: () => ({ DATABASE_URL: "postgres://db/x", DATABASE_URL_FILE: file("postgres://db/y") }),
      error: "DATABASE_URL: both DATABASE_URL and DATABASE_URL_FILE are set; set only one",
    },
    {
      name: "_FILE that does not exist",
      env: () => ({ REDIS_URL_FILE: join(dir, "missing") }),
      error: `REDIS_URL_FILE: cannot read ${join(dir, "missing")}: ENOENT: no such file or directory, open '${join(dir, "missing")}'`,
    },
    {
      name: "_FILE that is empty",
      env: () => ({ REDIS_URL_FILE: file("\n", "empty") }),
      error: `REDIS_URL_FILE: ${join(dir, "empty")} is empty`,
    },
    {
      name: "_FILE with a bad value names both",
      env: () => ({ DATABASE_URL_FILE: file("mysql://db/x\n", "mysql") }),
      error: `DATABASE_URL (read from DATABASE_URL_FILE ${join(dir, "mysql")}): the value is not a postgres:// or postgresql:// URL`,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.throws(
        () => loadConfig(c.env()),
        (e: unknown) => {
          assert.ok(e instanceof ConfigError);
          assert.equal(e.message, c.error);
          assert.ok(!e.message.includes("\n"));
          assert.ok(!e.message.includes("hunter22"));
          return true;
        },
      );
    });
  }
});

describe("EXPORTER_HOST_ROOT at start", () => {
  test("a root without proc/meminfo is refused with one line; a disabled host collector needs none", () => {
    assert.throws(
      () => checkEnvironment(loadConfig({ EXPORTER_HOST_ROOT: "/nonexistent" })),
      (e: Error) =>
        e instanceof ConfigError &&
        e.message ===
          'EXPORTER_HOST_ROOT: "/nonexistent" has no readable proc/meminfo (ENOENT): mount the host\'s root there (e.g. /:/host:ro) or disable the host collector',
    );
    checkEnvironment(
      loadConfig({ EXPORTER_HOST_ROOT: "/nonexistent", EXPORTER_COLLECTORS_DISABLED: "host" }),
    );
    checkEnvironment(loadConfig({}));
  });
});

describe("*_FILE variants", () => {
  test("every secret has one", () => {
    for (const v of Object.values(variables)) if ("secret" in v && v.secret) assert.ok(v.file, v.env);
  });
  test("the file's content is the value, less its final newline", () => {
    const c = loadConfig({
      DATABASE_URL_FILE: file("postgres://u:p@db:5432/app\n"),
      REDIS_URL_FILE: file("redis://:p@r:6379/0"),
      MCP_SERVERS_FILE: file("a=http://m:1/h\n"),
    });
    assert.equal(c.databaseUrl, "postgres://u:p@db:5432/app");
    assert.equal(c.redisUrl, "redis://:p@r:6379/0");
    assert.deepEqual(c.mcpServers, [{ name: "a", url: "http://m:1/h", kind: "http" }]);
  });
});

describe("the YAML file", () => {
  test("sets variables; lists are accepted; the environment wins", () => {
    const path = file(
      [
        "EXPORTER_LOG_LEVEL: debug",
        "EXPORTER_SCRAPE_TIMEOUT_SECONDS: 4",
        "MCP_SERVERS:",
        "  - a=http://m:1/h",
        "  - tcp://n:2",
        `DATABASE_URL_FILE: ${file("postgres://db/app")}`,
        "SCANS_TABLE: app.scans",
      ].join("\n"),
    );
    const c = loadConfig({ EXPORTER_CONFIG_FILE: path, SCANS_TABLE: "public.scans" });
    assert.equal(c.configFile, path);
    assert.equal(c.logLevel, "debug");
    assert.equal(c.scrapeTimeoutSeconds, 4);
    assert.deepEqual(
      c.mcpServers.map((t) => t.name),
      ["a", "n:2"],
    );
    assert.equal(c.databaseUrl, "postgres://db/app");
    assert.deepEqual(c.scansTable, { schema: "public", table: "scans" });
  });
  test("an empty file is no configuration", () => {
    assert.equal(loadConfig({ EXPORTER_CONFIG_FILE: file("") }).logLevel, "info");
  });
  const cases: { name: string; content: string; error: (p: string) => string }[] = [
    {
      name: "not YAML",
      content: "a: [1, 2\n",
      error: (p) =>
        `EXPORTER_CONFIG_FILE: ${p} is not valid YAML: Flow sequence in block collection must be sufficiently indented and end with a ] at line 2, column 1`,
    },
    {
      name: "not a mapping",
      content: "- EXPORTER_LOG_LEVEL\n",
      error: (p) => `EXPORTER_CONFIG_FILE: ${p} must be a mapping of variable names to values`,
    },
    {
      name: "an unknown variable",
      content: "EXPORTER_LOG_LEVL: debug\n",
      error: (p) => `EXPORTER_CONFIG_FILE: ${p}: unknown variable "EXPORTER_LOG_LEVL"`,
    },
    {
      name: "EXPORTER_CONFIG_FILE inside itself",
      content: "EXPORTER_CONFIG_FILE: /x.yaml\n",
      error: (p) => `EXPORTER_CONFIG_FILE: ${p}: unknown variable "EXPORTER_CONFIG_FILE"`,
    },
    {
      name: "a nested value",
      content: "SCANS_TABLE:\n  schema: app\n",
      error: (p) =>
        `EXPORTER_CONFIG_FILE: ${p}: SCANS_TABLE must be a string, a number, a boolean or a list of strings`,
    },
    {
      name: "a bad value names the file",
      content: "EXPORTER_LOG_LEVEL: loud\n",
      error: (p) => `EXPORTER_LOG_LEVEL in ${p}: "loud" is not one of debug, info, warn, error`,
    },
    {
      name: "a secret and its _FILE both set in the file",
      content: "REDIS_URL: redis://r\nREDIS_URL_FILE: /run/secrets/r\n",
      error: (p) => `REDIS_URL: both REDIS_URL and REDIS_URL_FILE are set in ${p}; set only one`,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const p = file(c.content);
      assert.throws(() => loadConfig({ EXPORTER_CONFIG_FILE: p }), {
        name: "ConfigError",
        message: c.error(p),
      });
    });
  }
  test("a file that cannot be read", () => {
    const p = join(dir, "nope.yaml");
    assert.throws(() => loadConfig({ EXPORTER_CONFIG_FILE: p }), {
      message: `EXPORTER_CONFIG_FILE: cannot read ${p}: ENOENT: no such file or directory, open '${p}'`,
    });
  });
});

describe("secrets never appear in a log line", () => {
  // Passwords with characters that JSON escapes, so the escaped form must be redacted as well.
  const pgPassword = 'pg"Pass\\word';
  const redisPassword = "r3dis-s3cret";
  const apiToken = "api-t0ken-xyz";
  const config = loadConfig({
    DATABASE_URL_FILE: file(`postgres://kali:${encodeURIComponent(pgPassword)}@db:5432/app`),
    REDIS_URL: `redis://:${redisPassword}@redis:6379/0`,
    API_HEALTH_URL: `http://probe:${apiToken}@api:8000/health`,
  });
  const lines: string[] = [];
  const log = createLogger({ level: "debug", redact: redactor(config), write: (l) => lines.push(l) });
  test("in messages, fields, nested fields and errors, plain and encoded", () => {
    log.info(`connecting to ${config.databaseUrl}`);
    log.warn("redis down", { url: config.redisUrl, nested: { again: config.redisUrl } });
    log.error("postgres failed", {
      err: new Error(`auth failed for ${config.databaseUrl} with ${pgPassword}`),
    });
    log.debug("raw", { pg: pgPassword, redis: redisPassword, api: config.apiHealthUrl });
    log.child("probes").info(`probing ${config.apiHealthUrl}`);
    log.info("any URL with a password", { other: "https://someone:letmein@example.com/x" });
    assert.equal(lines.length, 6);
    const forbidden = [
      pgPassword,
      JSON.stringify(pgPassword).slice(1, -1),
      encodeURIComponent(pgPassword),
      redisPassword,
      apiToken,
      "letmein",
    ];
    for (const line of lines) {
      JSON.parse(line); // still one valid JSON event
      for (const secret of forbidden) assert.ok(!line.includes(secret), `${secret} leaked in ${line}`);
      assert.ok(line.includes("[REDACTED]"), line);
    }
    // What is not secret stays readable.
    assert.match(lines[0]!, /connecting to \[REDACTED\]/);
    assert.match(lines[4]!, /probing http:\/\/probe:\[REDACTED\]@api:8000\/health/);
    assert.match(lines[5]!, /https:\/\/someone:\[REDACTED\]@example.com\/x/);
  });
});
