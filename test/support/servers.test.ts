// The harness itself: each server starts on its own port, answers, can be hung and resumed, and stops.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import pg from "pg";
import {
  requireBinaries,
  requirePostgresMajors,
  sleep,
  startAlertmanager,
  startPostgres,
  startPrometheus,
  startRedis,
} from "./servers.ts";

describe("test harness", { skip: requireBinaries("postgres", "initdb", "redis-server", "redis-cli") }, () => {
  test("PostgreSQL starts, answers, survives a pause and restarts on the same port", async () => {
    const pg = await startPostgres();
    try {
      const rows = await pg.query<{ v: string }>("SELECT current_setting($1) AS v", ["server_version"]);
      assert.match(rows[0]?.v ?? "", /^\d+/);
      pg.pause();
      const hung = pg.query("SELECT 1").then(
        () => "answered",
        () => "failed",
      );
      const raced = await Promise.race([hung, sleep(500).then(() => "hung")]);
      assert.equal(raced, "hung");
      pg.resume();
      assert.equal(await hung, "answered");
      await pg.stop();
      await assert.rejects(pg.query("SELECT 1"));
      await pg.restart();
      assert.equal((await pg.query<{ one: number }>("SELECT 1 AS one"))[0]?.one, 1);
    } finally {
      await pg.cleanup();
    }
  });

  test("two PostgreSQL servers run side by side", async () => {
    const [a, b] = await Promise.all([startPostgres(), startPostgres()]);
    try {
      assert.notEqual(a.port, b.port);
      await a.query("CREATE TABLE only_in_a (x int)");
      await assert.rejects(b.query("SELECT * FROM only_in_a"), /does not exist/);
    } finally {
      await Promise.all([a.cleanup(), b.cleanup()]);
    }
  });

  test("Redis starts with a password and answers", async () => {
    const r = await startRedis({ password: "s3cret" });
    try {
      assert.equal(r.cli("SET", "k", "v"), "OK");
      assert.equal(r.cli("GET", "k"), "v");
      assert.match(r.url, /^redis:\/\/:s3cret@127\.0\.0\.1:\d+\/0$/);
    } finally {
      await r.cleanup();
    }
  });
});

describe("test harness: PostgreSQL of a given major", { skip: requirePostgresMajors(14) }, () => {
  test("starts from the npm package with its own password, restarts with it, and has that major's client tools", async () => {
    const [a, b] = await Promise.all([startPostgres({ major: 14 }), startPostgres({ major: 14 })]);
    try {
      assert.equal(a.major, 14);
      assert.notEqual(a.password, b.password);
      // Each copy of the shared cluster has its own password: the other's is refused.
      await assert.rejects(
        new pg.Client({ connectionString: a.urlFor({ password: b.password }) }).connect(),
        /password authentication failed/,
      );
      await a.query("CREATE TABLE kept (x int)");
      await a.stop();
      await a.restart();
      assert.deepEqual(await a.query("SELECT count(*)::int AS n FROM kept"), [{ n: 0 }]);
      for (const tool of ["pg_dump", "pg_restore", "psql"]) {
        const r = spawnSync(join(a.clientDir!, tool), ["--version"], { encoding: "utf8" });
        assert.match(r.stdout, new RegExp(`^${tool} \\(PostgreSQL\\) 14\\.`), tool);
      }
    } finally {
      await Promise.all([a.cleanup(), b.cleanup()]);
    }
  });
});

describe(
  "test harness: Prometheus and Alertmanager",
  { skip: requireBinaries("prometheus", "alertmanager") },
  () => {
    test("both start and report ready", async () => {
      const am = await startAlertmanager("route:\n  receiver: none\nreceivers:\n  - name: none\n");
      const prom = await startPrometheus("global:\n  scrape_interval: 1s\nscrape_configs: []\n");
      try {
        const status = (await (await fetch(`${am.url}/api/v2/status`)).json()) as { config: unknown };
        assert.ok(status.config);
        const q = (await (await fetch(`${prom.url}/api/v1/query?query=1%2B1`)).json()) as {
          data: { result: [number, string] };
        };
        assert.equal(q.data.result[1], "2");
      } finally {
        await Promise.all([am.cleanup(), prom.cleanup()]);
      }
    });
  },
);
