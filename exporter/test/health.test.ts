// /health through the whole exporter against real PostgreSQL and Redis and local API and MCP servers:
// healthy, degraded and unhealthy with the seed's figures, and the report built from the last
// collection instead of a new one.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { after, before, describe, test } from "node:test";
import { sample } from "../../test/support/exposition.ts";
import {
  requireBinaries,
  startPostgres,
  startRedis,
  type PostgresServer,
  type RedisServer,
} from "../../test/support/servers.ts";
import { startApp, type App } from "./collector-support.ts";
import { scansDdl } from "../../definitions/scans-ddl.ts";

describe("/health", { skip: requireBinaries("postgres", "initdb", "redis-server", "redis-cli") }, () => {
  let pg: PostgresServer;
  let redis: RedisServer;
  let http: Server;
  let base = "";
  /** The status code each path of the fake API and MCP servers answers. */
  const statusOf = new Map<string, number>();
  let env: Record<string, string>;

  before(async () => {
    [pg, redis] = await Promise.all([startPostgres(), startRedis()]);
    await pg.query(scansDdl);
    http = createServer((req, res) => res.writeHead(statusOf.get(req.url ?? "") ?? 404).end());
    await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(http.address() as { port: number }).port}`;
    env = {
      DATABASE_URL: pg.url,
      REDIS_URL: redis.url,
      API_HEALTH_URL: `${base}/api/health`,
      MCP_SERVERS: `nmap=${base}/mcp1/health,nikto=${base}/mcp2/health`,
      EXPORTER_PG_CONNECT_TIMEOUT_SECONDS: "1",
      EXPORTER_PG_STATEMENT_TIMEOUT_SECONDS: "1",
      EXPORTER_REDIS_CONNECT_TIMEOUT_SECONDS: "0.5",
      EXPORTER_REDIS_COMMAND_TIMEOUT_SECONDS: "0.5",
      EXPORTER_PROBE_TIMEOUT_SECONDS: "1",
      EXPORTER_SCRAPE_TIMEOUT_SECONDS: "3",
      // The host checks (disk, memory, cpu) depend on the machine the test runs on: they are left out
      // here, so that every status below is the data checks' doing (the last test includes them).
      EXPORTER_COLLECTORS_DISABLED: "host",
      // The figures below include the strings (targets, errors); the default hides them (last tests).
      EXPORTER_HEALTH_DETAILS: "true",
    };
  });
  after(async () => {
    await new Promise((r) => http?.close(r));
    await Promise.all([pg?.cleanup(), redis?.cleanup()]);
  });

  const allUp = () => {
    statusOf.set("/api/health", 200);
    statusOf.set("/mcp1/health", 200);
    statusOf.set("/mcp2/health", 200);
  };
  let app: App;
  before(async () => {
    allUp();
    app = await startApp(env);
  });
  after(() => app?.close());

  test("healthy: every check ok with its figures; 200", async () => {
    allUp();
    await app.scrape(3);
    const { status, body } = await app.health();
    assert.equal(status, 200);
    assert.equal(body.status, "healthy");
    assert.deepEqual(Object.keys(body.checks), ["api", "database", "redis", "mcp_servers"]);
    const { api, database, redis: r, mcp_servers: mcp } = body.checks;
    assert.equal(api?.status, "ok");
    assert.equal(api?.http_status, 200);
    assert.equal(typeof api?.response_time_ms, "number");
    assert.equal(database?.status, "ok");
    assert.equal(typeof database?.query_time_ms, "number");
    assert.equal(database?.max_connections, 50);
    assert.ok((database?.connections as number) >= 1);
    assert.equal(typeof database?.connections_used_percent, "number");
    assert.match(String(database?.exporter_pool), /^[0-2]\/2 in use$/);
    assert.equal(r?.status, "ok");
    assert.equal(typeof r?.response_time_ms, "number");
    assert.equal(typeof r?.used_memory_mb, "number");
    assert.equal(mcp?.status, "ok");
    assert.equal(mcp?.up, 2);
    assert.equal(mcp?.total, 2);
    assert.deepEqual(Object.keys(mcp?.servers as object), ["nmap", "nikto"]);
    assert.ok(!Number.isNaN(Date.parse(body.timestamp)));
  });

  test("degraded: one MCP server of two down is a warning; 200", async () => {
    allUp();
    statusOf.set("/mcp2/health", 503);
    await app.scrape(3);
    const { status, body } = await app.health();
    assert.equal(status, 200);
    assert.equal(body.status, "degraded");
    const mcp = body.checks.mcp_servers!;
    assert.equal(mcp.status, "warning");
    assert.equal(mcp.up, 1);
    const servers = mcp.servers as Record<string, Record<string, unknown>>;
    assert.equal(servers.nikto?.status, "down");
    assert.equal(servers.nikto?.http_status, 503);
    assert.equal(servers.nmap?.status, "up");
    assert.equal(body.checks.database?.status, "ok");
  });

  test("unhealthy: the API down, or PostgreSQL down, or Redis down; 503, and back to healthy", async () => {
    allUp();
    statusOf.set("/api/health", 500);
    await app.scrape(3);
    let h = await app.health();
    assert.equal(h.status, 503);
    assert.equal(h.body.status, "unhealthy");
    assert.equal(h.body.checks.api?.status, "down");
    assert.equal(h.body.checks.api?.error, "HTTP 500");

    allUp();
    await pg.stop();
    await app.scrape(3);
    h = await app.health();
    assert.equal(h.status, 503);
    assert.equal(h.body.checks.database?.status, "down");
    assert.match(String(h.body.checks.database?.error), /connection refused/);
    assert.equal(h.body.checks.redis?.status, "ok");
    await pg.restart();

    await redis.stop();
    await app.scrape(3);
    h = await app.health();
    assert.equal(h.status, 503);
    assert.equal(h.body.checks.redis?.status, "down");
    assert.equal(h.body.checks.database?.status, "ok");
    await redis.restart();

    // Recovery needs no restart of the exporter (Redis reconnects on its own backoff).
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      await app.scrape(3);
      h = await app.health();
      if (h.status === 200) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(h.status, 200);
    assert.equal(h.body.status, "healthy");
  });

  test("/health reuses the last collection instead of querying everything again", async () => {
    allUp();
    const collections = async () =>
      sample((await app.scrape(3)).families, "kali_agents_exporter_collections_total")!;
    const first = await collections();
    for (let i = 0; i < 5; i++) assert.equal((await app.health()).status, 200);
    // Only the second scrape's own collection was added.
    assert.equal(await collections(), first + 1);
  });

  test("with the host collector, the report has the seed's seven checks in its order", async () => {
    const full = await startApp({ ...env, EXPORTER_COLLECTORS_DISABLED: "" });
    try {
      allUp();
      const { body } = await full.health();
      assert.deepEqual(Object.keys(body.checks), [
        "api",
        "database",
        "redis",
        "mcp_servers",
        "disk",
        "memory",
        "cpu",
      ]);
      for (const c of Object.values(body.checks)) assert.ok(["ok", "warning"].includes(c.status));
    } finally {
      await full.close();
    }
  });

  test("by default: statuses and figures only, no hosts, targets, users or errors", async () => {
    const plain = await startApp({ ...env, EXPORTER_HEALTH_DETAILS: "" });
    try {
      allUp();
      statusOf.set("/api/health", 500);
      const { status, body } = await plain.health();
      assert.equal(status, 503);
      assert.deepEqual(Object.keys(body.checks.api ?? {}), ["status", "response_time_ms", "http_status"]);
      assert.equal(body.checks.api?.status, "down");
      assert.equal(body.checks.api?.http_status, 500);
      assert.equal(typeof body.checks.api?.response_time_ms, "number");
      assert.equal(body.checks.mcp_servers?.servers, undefined, "the MCP servers by name");
      assert.equal(body.checks.database?.exporter_pool, undefined);
      const text = JSON.stringify(body);
      for (const leak of ["127.0.0.1", "nmap", "nikto", "HTTP 500", "postgres"])
        assert.ok(!text.includes(leak), `${leak} in ${text}`);
    } finally {
      await plain.close();
    }
  });

  test("fails closed: a collector that fails contributes its checks as down", async () => {
    // A host root without /proc: the host collector fails on every collection (main.ts refuses it at
    // start; here the app is built directly). /health used to say healthy, with no host checks.
    const broken = await startApp({
      ...env,
      EXPORTER_COLLECTORS_DISABLED: "",
      EXPORTER_HOST_ROOT: "/nonexistent",
    });
    try {
      allUp();
      const { status, body } = await broken.health();
      assert.equal(status, 503);
      assert.equal(body.status, "unhealthy");
      assert.equal(body.checks.memory?.status, "down");
      assert.equal(body.checks.database?.status, "ok");
    } finally {
      await broken.close();
    }
  });
});
