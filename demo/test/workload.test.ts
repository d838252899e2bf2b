// The demo workload against a real PostgreSQL and Redis: scans go through their life cycle, the queue
// is pushed and popped, /metrics follows the API contract, each chaos mode changes what it should,
// and the four log streams receive JSON lines.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import pgLib from "pg";
import { apiMetrics } from "../../definitions/metrics/api.ts";
import { family, sample, samples, scrape } from "../../test/support/exposition.ts";
import {
  freePort,
  requireBinaries,
  startPostgres,
  startRedis,
  tempDir,
  waitFor,
  type PostgresServer,
  type RedisServer,
} from "../../test/support/servers.ts";
import { loadConfig } from "../src/config.ts";
import { startDemo, type Demo } from "../src/demo.ts";
import { applySchema } from "../src/scans.ts";

const queue = "kali:scans:queue";

describe(
  "demo workload",
  { skip: requireBinaries("postgres", "initdb", "redis-server", "redis-cli") },
  () => {
    let pg: PostgresServer;
    let redis: RedisServer;
    let demo: Demo;
    let logDir: string;

    const counts = async () => {
      const rows = await pg.query<{ status: string; n: string }>(
        "SELECT status, count(*)::text AS n FROM scans GROUP BY status",
      );
      return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)])) as Record<string, number>;
    };
    const setChaos = async (body: unknown) => {
      const res = await fetch(`${demo.apiUrl}/chaos`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };

    before(async () => {
      [pg, redis] = await Promise.all([startPostgres(), startRedis()]);
      logDir = tempDir("demo-logs");
      const config = loadConfig({
        DATABASE_URL: pg.url,
        REDIS_URL: redis.url,
        DEMO_LISTEN_HOST: "127.0.0.1",
        DEMO_API_PORT: String(await freePort()),
        DEMO_MCP_PORTS: `${await freePort()},${await freePort()}`,
        DEMO_LOG_DIR: logDir,
        // Fast: a scan every 50 ms that lasts 0.05-6 s, with every outcome frequent.
        DEMO_SCAN_INTERVAL_SECONDS: "0.05",
        DEMO_SCAN_TIME_SCALE: "0.002",
        DEMO_MAX_RUNNING_SCANS: "8",
        DEMO_FAILURE_RATE: "0.3",
        DEMO_CANCEL_RATE: "0.2",
        DEMO_TRAFFIC_RPS: "40",
      });
      demo = await startDemo(config);
    });

    after(async () => {
      await demo?.stop();
      await Promise.all([pg?.cleanup(), redis?.cleanup()]);
    });

    test("scans reach every final status, with timestamps in order", async () => {
      await waitFor(
        "success, failed and cancelled scans",
        async () => {
          const c = await counts();
          return (c.success ?? 0) > 0 && (c.failed ?? 0) > 0 && (c.cancelled ?? 0) > 0;
        },
        30_000,
        200,
      );
      const wrong = await pg.query(
        `SELECT id FROM scans WHERE
         (status = 'queued' AND (started_at IS NOT NULL OR finished_at IS NOT NULL))
      OR (status = 'running' AND (started_at IS NULL OR finished_at IS NOT NULL))
      OR (status IN ('success', 'failed') AND (started_at IS NULL OR finished_at < started_at OR started_at < created_at))
      OR (status IN ('success', 'failed', 'cancelled') AND finished_at IS NULL)`,
      );
      assert.deepEqual(wrong, [], "rows whose timestamps contradict their status");
      const tools = await pg.query<{ tool: string }>("SELECT DISTINCT tool FROM scans");
      assert.ok(tools.length >= 3, `several tools: ${tools.map((t) => t.tool).join(", ")}`);
    });

    test("the table has the exporter's indexes (the DDL came from definitions/scans-ddl.ts)", async () => {
      const idx = await pg.query<{ indexdef: string }>(
        "SELECT indexdef FROM pg_indexes WHERE tablename = 'scans'",
      );
      assert.ok(
        idx.some((i) => /finished_at/.test(i.indexdef)),
        JSON.stringify(idx),
      );
      assert.ok(
        idx.some((i) => /WHERE/.test(i.indexdef)),
        "a partial index on active statuses",
      );
    });

    test("SCANS_SQL_FILE: a DDL file of one's own replaces the contract's; an unreadable one is named in one line", async () => {
      const dir = tempDir("demo-ddl");
      const file = join(dir, "own.sql");
      writeFileSync(file, "CREATE TABLE IF NOT EXISTS own_ddl_marker (id int);\n");
      const pool = new pgLib.Pool({ connectionString: pg.url, max: 1 });
      try {
        await applySchema(pool, file, "public.scans");
        const [made] = await pg.query<{ t: string | null }>(
          "SELECT to_regclass('own_ddl_marker')::text AS t",
        );
        assert.equal(made?.t, "own_ddl_marker");
        await assert.rejects(applySchema(pool, join(dir, "missing.sql"), "public.scans"), (e: Error) => {
          assert.match(e.message, /^cannot read the scans DDL .*missing\.sql \(SCANS_SQL_FILE\): ENOENT/);
          assert.ok(!e.message.includes("\n"), e.message);
          return true;
        });
      } finally {
        await pool.end();
        await pg.query("DROP TABLE IF EXISTS own_ddl_marker");
      }
    });

    test("POST /api/scans queues a scan on the Redis list and a worker pops it", async () => {
      await setChaos({ mode: "stuck-scans" }); // workers stop popping: the pushed id stays visible
      const res = await fetch(`${demo.apiUrl}/api/scans`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-user": "alice" },
        body: JSON.stringify({ tool: "nmap", target: "192.0.2.1" }),
      });
      assert.equal(res.status, 201);
      const { id } = (await res.json()) as { id: string };
      assert.ok(redis.cli("LRANGE", queue, "0", "-1").split("\n").includes(id), "id pushed onto the queue");
      await setChaos({ mode: "normal" });
      await waitFor("the scan to be popped and started", async () => {
        const [row] = await pg.query<{ status: string }>("SELECT status FROM scans WHERE id = $1", [id]);
        return row?.status !== "queued";
      });
      assert.ok(!redis.cli("LRANGE", queue, "0", "-1").split("\n").includes(id), "id popped");
      const bad = await fetch(`${demo.apiUrl}/api/scans`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ tool: "rm -rf", target: "x" }),
      });
      assert.equal(bad.status, 400);
      assert.match(((await bad.json()) as { error: string }).error, /^tool: expected one of nmap/);
    });

    test("/metrics follows the API contract: names, types, labels and buckets", async () => {
      await waitFor("some traffic", async () => {
        const s = await scrape(`${demo.apiUrl}/metrics`);
        return samples(s.families, "http_requests_total").length >= 4;
      });
      const s = await scrape(`${demo.apiUrl}/metrics`); // the strict parser throws on any format error
      assert.equal(s.status, 200);
      for (const def of apiMetrics) {
        const fam = family(s.families, def.name);
        assert.ok(fam, `${def.name} published`);
        assert.equal(fam.type, def.type);
        assert.equal(fam.help, def.help);
        for (const smp of fam.samples) {
          const labels = Object.keys(smp.labels).filter((l) => l !== "le");
          assert.deepEqual(labels.sort(), [...def.labels].sort(), `${smp.name} labels`);
        }
      }
      const buckets = samples(s.families, "http_request_duration_seconds_bucket", {
        method: "GET",
        route: "/api/tools",
      }).map((b) => b.labels.le);
      const want = [...(apiMetrics[1].buckets ?? []).map(String), "+Inf"];
      assert.deepEqual(buckets, want);
      const routes = new Set(samples(s.families, "http_requests_total").map((x) => x.labels.route));
      for (const r of routes) assert.ok(r === "unmatched" || r?.startsWith("/"), `route template ${r}`);
      assert.ok(!routes.has("/metrics"), "scrapes are not counted");
    });

    test("error-burst: the API answers 500 to the share asked for, and back to normal after it", async () => {
      const r = await setChaos({ mode: "error-burst", errorRatio: 1, durationSeconds: 2 });
      assert.equal(r.status, 200);
      assert.equal(r.body.mode, "error-burst");
      const before = sample((await scrape(`${demo.apiUrl}/metrics`)).families, "http_requests_total", {
        method: "GET",
        route: "/api/tools",
        code: "500",
      });
      const res = await fetch(`${demo.apiUrl}/api/tools`);
      assert.equal(res.status, 500);
      const afterBurst = sample((await scrape(`${demo.apiUrl}/metrics`)).families, "http_requests_total", {
        method: "GET",
        route: "/api/tools",
        code: "500",
      });
      assert.ok((afterBurst ?? 0) >= (before ?? 0) + 1);
      assert.equal((await fetch(`${demo.apiUrl}/health`)).status, 200, "health is outside the burst");
      await waitFor("the burst to end", async () => (await fetch(`${demo.apiUrl}/api/tools`)).status === 200);
      assert.equal(
        ((await fetch(`${demo.apiUrl}/chaos`).then((x) => x.json())) as { mode: string }).mode,
        "normal",
      );
    });

    test("slow: API requests take the added latency", async () => {
      await setChaos({ mode: "slow", latencySeconds: 1.5 });
      const started = performance.now();
      assert.equal((await fetch(`${demo.apiUrl}/api/tools`)).status, 200);
      assert.ok(performance.now() - started >= 1500);
      await setChaos({ mode: "normal" });
      const quick = performance.now();
      await fetch(`${demo.apiUrl}/api/tools`);
      assert.ok(
        performance.now() - quick < 1500,
        "normal again (a loaded machine still answers well under the added latency)",
      );
    });

    test("stuck-scans: nothing finishes and the queue grows; normal releases them", async () => {
      await setChaos({ mode: "stuck-scans" });
      // Finishes already being written when the mode changed land; none starts after it (a scan whose
      // time is up is held), so once none is being written the counts can only stay.
      await waitFor("the finishes under way to land", () => demo.scans.stats().finishing === 0, 10_000, 20);
      const before = await counts();
      const len0 = Number(redis.cli("LLEN", queue));
      await waitFor("the queue to grow", () => Number(redis.cli("LLEN", queue)) >= len0 + 10, 10_000);
      const during = await counts();
      for (const s of ["success", "failed"]) {
        assert.equal(during[s] ?? 0, before[s] ?? 0, `no ${s} while stuck`);
      }
      await setChaos({ mode: "normal" });
      await waitFor("held scans to finish", async () => {
        const c = await counts();
        return (c.success ?? 0) + (c.failed ?? 0) > (during.success ?? 0) + (during.failed ?? 0);
      });
    });

    test("unhealthy and mcp-down turn the health endpoints to 503", async () => {
      await setChaos({ mode: "unhealthy" });
      assert.equal((await fetch(`${demo.apiUrl}/health`)).status, 503);
      assert.equal((await fetch(`${demo.mcpUrls[0]}/health`)).status, 200);
      await setChaos({ mode: "mcp-down" });
      for (const u of demo.mcpUrls) assert.equal((await fetch(`${u}/health`)).status, 503);
      await setChaos({ mode: "normal" });
      for (const u of demo.mcpUrls) {
        const res = await fetch(`${u}/health`);
        assert.equal(res.status, 200);
        assert.equal(((await res.json()) as { status: string }).status, "ok");
      }
      const bad = await setChaos({ mode: "meltdown" });
      assert.equal(bad.status, 400);
      assert.match(String(bad.body.error), /^mode: expected one of/);
    });

    test("the four streams hold JSON lines with the contract's fields", async () => {
      // One failed login of our own, so the check does not depend on the random traffic's luck.
      const login = await fetch(`${demo.apiUrl}/api/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-forwarded-for": "192.0.2.99" },
        body: JSON.stringify({ user: "mallory", password: "wrong" }),
      });
      assert.equal(login.status, 401);
      const read = (f: string) =>
        readFileSync(join(logDir, f), "utf8")
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l) as Record<string, unknown>);
      for (const f of ["app.log", "security.log", "audit.log", "errors.log"]) {
        const lines = read(f);
        assert.ok(lines.length > 0, `${f} has lines`);
        for (const l of lines) {
          for (const k of ["time", "level", "msg", "logger"])
            assert.equal(typeof l[k], "string", `${f}: ${k}`);
        }
      }
      const security = read("security.log");
      assert.ok(
        security.some((l) => l.event === "login_failed" && l.user === "mallory" && l.ip === "192.0.2.99"),
        "the failed login, with user and client address",
      );
      for (const l of security) for (const k of ["event", "user", "ip"]) assert.equal(typeof l[k], "string");
      assert.ok(read("errors.log").every((l) => l.level === "error"));
      assert.ok(read("audit.log").some((l) => l.event === "scan_created" && typeof l.user === "string"));
    });

    test("Redis down: scan creation answers 500 and health says degraded; recovers when Redis is back", async () => {
      await redis.stop();
      const res = await fetch(`${demo.apiUrl}/api/scans`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ tool: "nmap", target: "192.0.2.1" }),
      });
      assert.equal(res.status, 500);
      const health = (await (await fetch(`${demo.apiUrl}/health`)).json()) as { status: string };
      assert.equal(health.status, "degraded");
      await redis.restart();
      await waitFor(
        "scans to be queued again",
        async () =>
          (
            await fetch(`${demo.apiUrl}/api/scans`, {
              method: "POST",
              headers: { "content-type": "application/json" },
              body: JSON.stringify({ tool: "nmap", target: "192.0.2.1" }),
            })
          ).status === 201,
        15_000,
        200,
      );
    });
  },
);
