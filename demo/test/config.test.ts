// The demo's configuration and chaos requests: table-driven, one mutation of a valid environment per
// case, each bad value rejected with a message naming the variable (or field).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { parseChaosRequest } from "../src/chaos.ts";
import { ConfigError, loadConfig } from "../src/config.ts";
import { logEvents, loggers } from "../../definitions/logs.ts";
import { createStreamLogger } from "../src/logs.ts";

const root = new URL("../..", import.meta.url).pathname;

describe("demo configuration", () => {
  test("defaults match the compose service names and ports", () => {
    const c = loadConfig({});
    assert.equal(c.apiPort, 8000);
    assert.deepEqual(c.mcpPorts, [8101, 8102]);
    assert.deepEqual(c.queueKeys, ["kali:scans:queue"]);
    assert.equal(c.scansTable, "public.scans");
    assert.equal(c.chaosMode, "normal");
    // No DDL file: the demo applies the contract's DDL (definitions/scans-ddl.ts), read from no file.
    assert.equal(c.scansSqlFile, undefined);
    assert.equal(loadConfig({ SCANS_SQL_FILE: "/etc/app/scans.sql" }).scansSqlFile, "/etc/app/scans.sql");
  });

  test("the *_FILE variant reads the URL from a file", () => {
    const dir = mkdtempSync(join(tmpdir(), "kali-demo-cfg-"));
    writeFileSync(join(dir, "db"), "postgres://u:secret@db:5432/x\n");
    assert.equal(
      loadConfig({ DATABASE_URL_FILE: join(dir, "db") }).databaseUrl,
      "postgres://u:secret@db:5432/x",
    );
  });

  const bad: { name: string; env: Record<string, string>; want: RegExp }[] = [
    {
      name: "port not a number",
      env: { DEMO_API_PORT: "http" },
      want: /^DEMO_API_PORT: "http" is not a TCP port/,
    },
    { name: "port out of range", env: { DEMO_MCP_PORTS: "8101,70000" }, want: /^DEMO_MCP_PORTS: "70000"/ },
    { name: "ports collide", env: { DEMO_MCP_PORTS: "8000" }, want: /every port must be different/ },
    {
      name: "failure rate over 1",
      env: { DEMO_FAILURE_RATE: "1.5" },
      want: /^DEMO_FAILURE_RATE: "1.5" must be at most 1/,
    },
    {
      name: "rates sum over 1",
      env: { DEMO_FAILURE_RATE: "0.8", DEMO_CANCEL_RATE: "0.3" },
      want: /their sum must not exceed 1/,
    },
    {
      name: "unknown chaos mode",
      env: { DEMO_CHAOS_MODE: "explode" },
      want: /^DEMO_CHAOS_MODE: "explode" is not one of normal, error-burst/,
    },
    { name: "table with SQL in it", env: { SCANS_TABLE: "scans;drop table x" }, want: /^SCANS_TABLE: / },
    { name: "three-part table", env: { SCANS_TABLE: "a.b.c" }, want: /^SCANS_TABLE: / },
    {
      name: "empty queue list",
      env: { SCAN_QUEUE_KEYS: " , " },
      want: /^SCAN_QUEUE_KEYS: " , " has an empty item/,
    },
    {
      name: "non-integer max running",
      env: { DEMO_MAX_RUNNING_SCANS: "2.5" },
      want: /^DEMO_MAX_RUNNING_SCANS: "2.5" is not an integer/,
    },
    {
      name: "wrong URL scheme",
      env: { REDIS_URL: "http://x" },
      want: /^REDIS_URL: the value is not a redis:\/\/ or rediss:\/\/ URL/,
    },
    {
      name: "both URL and file",
      env: { DATABASE_URL: "postgres://x", DATABASE_URL_FILE: "/x" },
      want: /both DATABASE_URL and DATABASE_URL_FILE are set/,
    },
    {
      name: "unreadable file",
      env: { REDIS_URL_FILE: "/nonexistent/redis-url" },
      want: /^REDIS_URL_FILE: cannot read \/nonexistent/,
    },
    { name: "bad log level", env: { DEMO_LOG_LEVEL: "loud" }, want: /^DEMO_LOG_LEVEL: "loud" is not one of/ },
  ];
  for (const c of bad) {
    test(`rejects: ${c.name}`, () => {
      assert.throws(
        () => loadConfig(c.env),
        (e: Error) => e instanceof ConfigError && c.want.test(e.message),
      );
    });
  }

  test("a URL that does not parse is named but never echoed (it may hold a password)", () => {
    assert.throws(
      () => loadConfig({ DATABASE_URL: "postgres://u:hunter2@[bad" }),
      (e: Error) =>
        e.message === "DATABASE_URL: the value is not a postgres:// or postgresql:// URL" &&
        !e.message.includes("hunter2"),
    );
  });

  test("main exits 1 with one JSON line naming the variable", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", "demo/src/main.ts"], {
      cwd: root,
      env: { ...process.env, DEMO_API_PORT: "99999" },
      encoding: "utf8",
      timeout: 30_000,
    });
    assert.equal(r.status, 1);
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    const event = JSON.parse(lines[0]!) as { level: string; msg: string };
    assert.equal(event.level, "error");
    assert.match(event.msg, /DEMO_API_PORT: "99999" is not a TCP port/);
  });
});

describe("chaos requests", () => {
  test("a valid request sets mode, ratio and expiry", () => {
    const s = parseChaosRequest({ mode: "error-burst", durationSeconds: 10, errorRatio: 0.9 }, 1000);
    assert.deepEqual(s, { mode: "error-burst", errorRatio: 0.9, latencySeconds: 1.5, until: 11_000 });
  });
  const bad: [string, unknown, RegExp][] = [
    ["not an object", "error-burst", /expected a JSON object/],
    ["unknown mode", { mode: "meltdown" }, /^mode: expected one of/],
    ["unknown field", { mode: "slow", latency: 3 }, /unknown field "latency"/],
    ["ratio over 1", { mode: "error-burst", errorRatio: 2 }, /^errorRatio: expected a number from 0 to 1/],
    ["negative duration", { mode: "slow", durationSeconds: -1 }, /^durationSeconds:/],
  ];
  for (const [name, body, want] of bad) {
    test(`rejects: ${name}`, () =>
      assert.throws(
        () => parseChaosRequest(body),
        (e: Error) => want.test(e.message),
      ));
  }
});

describe("log streams", () => {
  test("JSON lines with the contract's fields; errors also in errors.log; size rotation", () => {
    const dir = mkdtempSync(join(tmpdir(), "kali-demo-logs-"));
    const logs = createStreamLogger({ dir, maxBytes: 2048, maxFiles: 2, level: "info" });
    logs.app("debug", "not written", loggers.api);
    logs.app("info", "hello", loggers.api, { n: 1 });
    logs.app("error", "boom", loggers.api);
    logs.event(logEvents.loginFailed, "login failed", { user: "bob", ip: "192.0.2.1" });
    const app = readFileSync(join(dir, "app.log"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.equal(app.length, 2);
    assert.deepEqual(Object.keys(app[0]), ["time", "level", "msg", "logger", "n"]);
    assert.ok(!Number.isNaN(Date.parse(app[0].time)));
    const errors = readFileSync(join(dir, "errors.log"), "utf8").trim().split("\n");
    assert.equal(errors.length, 1);
    assert.equal(JSON.parse(errors[0]!).msg, "boom");
    const sec = JSON.parse(readFileSync(join(dir, "security.log"), "utf8"));
    assert.deepEqual(
      [sec.event, sec.user, sec.ip, sec.level, sec.logger],
      ["login_failed", "bob", "192.0.2.1", "warn", loggers.security],
    );
    assert.equal(
      readFileSync(join(dir, "audit.log"), "utf8"),
      "",
      "every stream's file exists from the start",
    );

    for (let i = 0; i < 100; i++) logs.app("info", "x".repeat(100), loggers.api);
    assert.ok(readFileSync(join(dir, "app.log")).length <= 2048);
    assert.ok(readFileSync(join(dir, "app.log.1")).length > 0);
    assert.ok(readFileSync(join(dir, "app.log.2")).length > 0);
    assert.throws(() => readFileSync(join(dir, "app.log.3")), /ENOENT/, "maxFiles bounds the rotated files");
  });
});
