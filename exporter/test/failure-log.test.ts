// The failure log on its own, with a clock the test moves: what is written, and when.
import assert from "node:assert/strict";
import { test } from "node:test";
import { FailureLog } from "../src/failure-log.ts";
import { createLogger } from "../../lib/log.ts";

function harness(repeatSeconds: number) {
  let now = Date.parse("2026-11-29T03:00:00Z");
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({
    level: "debug",
    write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>),
  });
  const fl = new FailureLog({ repeatMs: repeatSeconds * 1000, now: () => now });
  return {
    fl,
    log,
    lines,
    advance: (seconds: number) => {
      now += seconds * 1000;
    },
  };
}

test("the first failure is logged at once, with its fields", () => {
  const h = harness(300);
  h.fl.failed(h.log, "postgres", "connect ECONNREFUSED 127.0.0.1:5432", { duration_seconds: 0.002 });
  assert.equal(h.lines.length, 1);
  assert.deepEqual(
    { level: h.lines[0]?.level, msg: h.lines[0]?.msg, collector: h.lines[0]?.collector },
    { level: "warn", msg: "collector failed", collector: "postgres" },
  );
  assert.equal(h.lines[0]?.error, "connect ECONNREFUSED 127.0.0.1:5432");
  assert.equal(h.lines[0]?.duration_seconds, 0.002);
});

test("the same reason is folded until the repeat interval, then one line says how many it stood for", () => {
  const h = harness(300);
  h.fl.failed(h.log, "postgres", "timeout");
  for (let i = 0; i < 19; i++) {
    h.advance(15);
    h.fl.failed(h.log, "postgres", "timeout");
  }
  assert.equal(h.lines.length, 1, "20 failures within 285 s: one line");
  h.advance(15);
  h.fl.failed(h.log, "postgres", "timeout");
  assert.equal(h.lines.length, 2, "the failure at 300 s is a reminder");
  assert.equal(h.lines[1]?.repeated, 19);
  assert.equal(h.lines[1]?.failures, 21);
  assert.equal(h.lines[1]?.failing_since, "2026-11-29T03:00:00.000Z");
});

test("numbers do not make a new reason; another reason does", () => {
  const h = harness(300);
  h.fl.failed(h.log, "postgres", "overran its deadline of 0.993 s");
  h.fl.failed(h.log, "postgres", "overran its deadline of 1.000 s");
  assert.equal(h.lines.length, 1);
  h.fl.failed(h.log, "postgres", 'password authentication failed for user "kali_exporter"');
  assert.equal(h.lines.length, 2);
  assert.equal(h.lines[1]?.error, 'password authentication failed for user "kali_exporter"');
  assert.equal(h.lines[1]?.repeated, 1);
});

test("recovery is logged once, with how long and how many; a success without a failure logs nothing", () => {
  const h = harness(300);
  h.fl.succeeded(h.log, "redis");
  assert.equal(h.lines.length, 0);
  h.fl.failed(h.log, "redis", "connection refused");
  h.advance(45);
  h.fl.failed(h.log, "redis", "connection refused");
  h.advance(15);
  h.fl.succeeded(h.log, "redis");
  h.fl.succeeded(h.log, "redis");
  assert.equal(h.lines.length, 2);
  assert.deepEqual(
    {
      level: h.lines[1]?.level,
      msg: h.lines[1]?.msg,
      s: h.lines[1]?.failed_for_seconds,
      n: h.lines[1]?.failures,
    },
    { level: "info", msg: "collector recovered", s: 60, n: 2 },
  );
  h.fl.failed(h.log, "redis", "connection refused");
  assert.equal(h.lines.length, 3, "a failure after recovery is a first failure again");
  assert.equal(h.lines[2]?.failures, undefined);
});

test("collectors are tracked apart", () => {
  const h = harness(300);
  h.fl.failed(h.log, "postgres", "timeout");
  h.fl.failed(h.log, "redis", "timeout");
  h.fl.failed(h.log, "postgres", "timeout");
  assert.deepEqual(
    h.lines.map((l) => l.collector),
    ["postgres", "redis"],
  );
});

test("another subject: its field name and its two messages", () => {
  let now = 0;
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) });
  const fl = new FailureLog({
    repeatMs: 300_000,
    subject: "mountpoint",
    failed: "filesystem statistics unavailable",
    recovered: "filesystem statistics available again",
    now: () => now,
  });
  fl.failed(log, "/nfs", "statfs timed out after 1000 ms", { device: "nfs:/x" });
  now += 15_000;
  fl.succeeded(log, "/nfs");
  assert.deepEqual(
    lines.map((l) => [l.level, l.msg, l.mountpoint, l.collector]),
    [
      ["warn", "filesystem statistics unavailable", "/nfs", undefined],
      ["info", "filesystem statistics available again", "/nfs", undefined],
    ],
  );
  assert.equal(lines[0]?.device, "nfs:/x");
  assert.equal(lines[1]?.failed_for_seconds, 15);
});
