// The redis collector against a real Redis 7: redis_exporter's names with the values of a known state,
// the queue depth of configured list keys, one connection, and a wrong password.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { family, sample, samples } from "../../test/support/exposition.ts";
import { requireBinaries, startRedis, type RedisServer } from "../../test/support/servers.ts";
import { parseInfo, parseKeyspace, redisCollector, type RedisOptions } from "../src/collectors/redis.ts";
import { captureLog, collectOnce } from "./collector-support.ts";

const options = (url: string, queueKeys: string[] = []): RedisOptions => ({
  url,
  connectTimeoutMs: 500,
  commandTimeoutMs: 500,
  queueKeys,
  reconnectMaxDelayMs: 200,
});

test("INFO parsing: fields, sections skipped, keyspace per db", () => {
  const info = parseInfo(
    "# Server\r\nredis_version:7.0.15\r\nos:Linux\r\n\r\n# Keyspace\r\ndb0:keys=3,expires=1,avg_ttl=0\r\ndb2:keys=7,expires=0,avg_ttl=0\r\n",
  );
  assert.equal(info.get("redis_version"), "7.0.15");
  assert.deepEqual(parseKeyspace(info), [
    { db: "db0", keys: 3, expires: 1 },
    { db: "db2", keys: 7, expires: 0 },
  ]);
});

describe("redis collector", { skip: requireBinaries("redis-server", "redis-cli") }, () => {
  let server: RedisServer;
  before(async () => {
    server = await startRedis();
  });
  after(async () => {
    await server?.cleanup();
  });

  test("publishes redis_exporter's families with the values of a known state, and the queue depths", async () => {
    server.cli("FLUSHALL");
    server.cli("SET", "plain", "1");
    server.cli("SET", "expiring", "1", "EX", "600");
    for (let i = 0; i < 5; i++) server.cli("RPUSH", "kali:scans:queue", `job-${i}`);
    server.cli("RPUSH", "kali:scans:priority", "a", "b");
    server.cli("SET", "not-a-list", "x");
    server.cli("GET", "plain"); // a hit
    server.cli("GET", "absent"); // a miss
    const { log, lines } = captureLog();
    const collector = redisCollector.create(
      options(server.url, ["kali:scans:queue", "kali:scans:priority", "kali:scans:empty", "not-a-list"]),
      log,
    );
    try {
      const out = await collectOnce(collector, log);
      assert.ok(out.ok, out.error?.message);
      const f = out.families;
      assert.equal(sample(f, "redis_up"), 1);
      assert.equal(sample(f, "redis_db_keys", { db: "db0" }), 5);
      assert.equal(sample(f, "redis_db_keys_expiring", { db: "db0" }), 1);
      assert.equal(sample(f, "kali_agents_scan_queue_length", { queue: "kali:scans:queue" }), 5);
      assert.equal(sample(f, "kali_agents_scan_queue_length", { queue: "kali:scans:priority" }), 2);
      // An absent list is an empty queue (LLEN answers 0).
      assert.equal(sample(f, "kali_agents_scan_queue_length", { queue: "kali:scans:empty" }), 0);
      // A key of another type is left out, with one warning naming it.
      assert.equal(sample(f, "kali_agents_scan_queue_length", { queue: "not-a-list" }), undefined);
      assert.equal(lines.filter((l) => l.includes("not a Redis list") && l.includes("not-a-list")).length, 1);
      assert.ok(sample(f, "redis_keyspace_hits_total")! >= 1);
      assert.ok(sample(f, "redis_keyspace_misses_total")! >= 1);
      assert.equal(family(f, "redis_keyspace_hits_total")?.type, "counter");
      assert.equal(family(f, "redis_commands_processed_total")?.type, "counter");
      assert.ok(sample(f, "redis_commands_processed_total")! > 10);
      assert.ok(sample(f, "redis_memory_used_bytes")! > 100_000);
      assert.equal(sample(f, "redis_memory_max_bytes"), 0);
      assert.ok(sample(f, "redis_connected_clients")! >= 1);
      assert.equal(sample(f, "redis_blocked_clients"), 0);
      assert.ok(sample(f, "redis_uptime_in_seconds")! >= 0);
      assert.ok(sample(f, "redis_connections_received_total")! >= 1);
      assert.equal(sample(f, "redis_rejected_connections_total"), 0);
      const info = samples(f, "redis_instance_info")[0]!;
      assert.match(info.labels.redis_version ?? "", /^7\./);
      assert.equal(info.labels.role, "master");
      assert.equal(info.labels.redis_mode, "standalone");
      assert.ok((sample(f, "redis_exporter_ping_duration_seconds") ?? -1) > 0);

      // The queue moves; a flushed database keeps db0 at 0 instead of vanishing.
      server.cli("LPOP", "kali:scans:queue");
      assert.equal(
        sample((await collectOnce(collector, log)).families, "kali_agents_scan_queue_length", {
          queue: "kali:scans:queue",
        }),
        4,
      );
      server.cli("FLUSHALL");
      const empty = await collectOnce(collector, log);
      assert.equal(sample(empty.families, "redis_db_keys", { db: "db0" }), 0);
      assert.equal(sample(empty.families, "redis_db_keys_expiring", { db: "db0" }), 0);
      assert.equal(lines.filter((l) => l.includes("not a Redis list")).length, 1, "warned once");

      // One connection, named, whatever the number of concurrent collections.
      await Promise.all(Array.from({ length: 10 }, () => collectOnce(collector, log)));
      const clients = server
        .cli("CLIENT", "LIST")
        .split("\n")
        .filter((l) => l.includes("name=kali-agents-exporter"));
      assert.equal(clients.length, 1, server.cli("CLIENT", "LIST"));
    } finally {
      await collector.close?.();
    }
  });

  test("redis_db_keys: every database the server has, as redis_exporter; 16 when CONFIG is renamed away", async () => {
    const eight = await startRedis({ args: ["--databases", "8"] });
    const noConfig = await startRedis({ args: ["--rename-command", "CONFIG", ""] });
    const { log } = captureLog();
    const collectors = [eight, noConfig].map((s) => redisCollector.create(options(s.url), log));
    try {
      eight.cli("-n", "5", "SET", "k", "v");
      const dbs = async (i: number) => {
        const out = await collectOnce(collectors[i]!, log);
        assert.ok(out.ok, out.error?.message);
        return samples(out.families, "redis_db_keys").map((x) => [x.labels.db, x.value]);
      };
      const sorted = (x: (string | number | undefined)[][]) =>
        x.sort((a, b) => Number(String(a[0]).slice(2)) - Number(String(b[0]).slice(2)));
      assert.deepEqual(
        sorted(await dbs(0)),
        Array.from({ length: 8 }, (_, i) => [`db${i}`, i === 5 ? 1 : 0]),
      );
      // CONFIG refused: Redis' default number of databases, and the collection still succeeds.
      assert.equal((await dbs(1)).length, 16);
    } finally {
      for (const c of collectors) await c.close?.();
      await Promise.all([eight.cleanup(), noConfig.cleanup()]);
    }
  });

  test("a wrong password gives redis_up 0 and one clear log line without the password", async () => {
    const guarded = await startRedis({ password: "right-password-123" });
    const secret = "wrong-password-9931";
    const { log, lines } = captureLog();
    const collector = redisCollector.create(options(`redis://:${secret}@127.0.0.1:${guarded.port}/0`), log);
    try {
      const a = await collectOnce(collector, log);
      const b = await collectOnce(collector, log);
      assert.equal(a.ok, false);
      assert.equal(b.ok, false);
      assert.equal(sample(a.families, "redis_up"), 0);
      assert.equal(sample(b.families, "redis_up"), 0);
      assert.match(a.error!.message, /authentication failed/);
      const text = lines.join("\n");
      assert.ok(!text.includes(secret), text);
      assert.ok(!a.error!.message.includes(secret));
      assert.equal(lines.filter((l) => l.includes("authentication failed")).length, 1, text);
    } finally {
      await collector.close?.();
      await guarded.cleanup();
    }
  });
});
