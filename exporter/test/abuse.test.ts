// The exporter under abuse, as anyone on its network could send it: the real process as `npm start`
// runs it (tsc's build, `node --max-semi-space-size=1 --max-old-space-size=48 .../main.js`), fully
// configured against a real PostgreSQL 15 and Redis 7, a textfile folder and a probe target.
//
// Each case attacks it while a well-behaved client (Prometheus: its timeout header, gzip) scrapes
// every 200 ms, and then checks the same things: the process lives and answers /-/healthy; its RSS
// (sampled every 50 ms from /proc) stays under RSS_CEILING_MB; every one of the well-behaved client's
// scrapes is complete and correct (200, pg_up 1, redis_up 1, every collector's success 1, the ops job's
// textfile published); the offending input is reported as a metric, and logged at a bounded rate
// without its contents. Every case fails on the code before these guards (eabf991): the process dies
// of heap exhaustion, hangs on a FIFO, publishes pg_up 0, or publishes 15,000 series.
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import http from "node:http";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { after, before, describe, test } from "node:test";
import { sample, samples, scrape, type Scrape } from "../../test/support/exposition.ts";
import {
  freePort,
  requireBinaries,
  sleep,
  startPostgres,
  startRedis,
  tempDir,
  waitFor,
  type PostgresServer,
  type RedisServer,
} from "../../test/support/servers.ts";
import { pipelinedStatuses } from "../../test/support/pipelined.ts";
import { scansDdl } from "../../definitions/scans-ddl.ts";

/**
 * The RSS the exporter stays under whatever it is sent (docs/performance.md "Under abuse"; compose.yaml
 * sets the container's memory limit from it, with headroom).
 */
export const RSS_CEILING_MB = 128;

const root = new URL("../..", import.meta.url).pathname;
// ABUSE_EXPORTER_DIST names another build to attack instead (e.g. an older commit's, built with
// `tsc -p tsconfig.build.json --outDir ...`, to see the cases fail there); by default the worktree is
// built into .tmp/abuse-dist.
const givenDist = process.env.ABUSE_EXPORTER_DIST;
const distDir = givenDist ?? join(root, ".tmp", "abuse-dist");
const nodeFlags = ["--max-semi-space-size=1", "--max-old-space-size=48"];
// ABUSE_NODE names another node binary to run it with (e.g. the image's Node.js 24, which
// bench/lib/image-node.ts fetches); by default the one running the tests.
const nodeBinary = process.env.ABUSE_NODE ?? process.execPath;
const skip = requireBinaries("postgres", "redis-server");

interface Exporter {
  readonly url: string;
  readonly child: ChildProcess;
  readonly lines: string[];
  exited(): boolean;
  peakRssMb(): number;
  stop(): Promise<number | null>;
}

function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** Every exporter started, killed at the end whatever failed (a hung one would outlive the test). */
const started: ChildProcess[] = [];

async function startExporter(env: Record<string, string>): Promise<Exporter> {
  const port = await freePort();
  const child = spawn(nodeBinary, [...nodeFlags, join(distDir, "exporter/src/main.js")], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: process.env.HOME ?? "/tmp",
      EXPORTER_LISTEN_ADDRESS: `127.0.0.1:${port}`,
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  started.push(child);
  const lines: string[] = [];
  let partial = "";
  child.stdout!.on("data", (d: Buffer) => {
    const parts = (partial + d.toString()).split("\n");
    partial = parts.pop() ?? "";
    lines.push(...parts);
  });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  let exitCode: number | null | undefined;
  const exit = new Promise<number | null>((resolve) =>
    child.on("exit", (code) => {
      exitCode = code;
      resolve(code);
    }),
  );
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, rssMb(child.pid!))), 50);
  void exit.then(() => clearInterval(sampler));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    "the exporter to be ready",
    async () => {
      if (exitCode !== undefined) throw new Error(`the exporter exited (${exitCode}): ${stderr}`);
      return (await fetch(`${url}/-/ready`).catch(() => undefined))?.ok === true;
    },
    60_000,
  );
  return {
    url,
    child,
    lines,
    exited: () => exitCode !== undefined,
    peakRssMb: () => peak,
    async stop() {
      if (exitCode !== undefined) return exitCode;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      const code = await exit;
      clearTimeout(timer);
      return code;
    },
  };
}

interface WellBehaved {
  readonly scrapes: Scrape[];
  readonly errors: string[];
  stop(): Promise<void>;
}

/** Prometheus: a scrape every 200 ms with its timeout header and gzip, one at a time. */
function wellBehaved(url: string): WellBehaved {
  const scrapes: Scrape[] = [];
  const errors: string[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        scrapes.push(
          await scrape(`${url}/metrics`, {
            "X-Prometheus-Scrape-Timeout-Seconds": "10",
            "Accept-Encoding": "gzip",
          }),
        );
      } catch (e) {
        errors.push((e as Error).message);
      }
      await sleep(200);
    }
  })();
  return {
    scrapes,
    errors,
    async stop() {
      running = false;
      await loop;
    },
  };
}

/** What every case checks after its attack. */
/** Peak RSS and the well-behaved client's scrapes per case, printed at the end (docs/performance.md). */
const figures: string[] = [];

async function assertHeld(ex: Exporter, client: WellBehaved, what: string): Promise<void> {
  const ms = client.scrapes.map((s) => s.ms).sort((a, b) => a - b);
  figures.push(
    `${what}: peak RSS ${ex.peakRssMb().toFixed(1)} MB; well-behaved scrapes ${ms.length}, ` +
      `max ${(ms[ms.length - 1] ?? 0).toFixed(0)} ms`,
  );
  assert.ok(!ex.exited(), `${what}: the exporter died`);
  const healthy = await fetch(`${ex.url}/-/healthy`);
  assert.equal(healthy.status, 200, `${what}: /-/healthy`);
  assert.ok(
    ex.peakRssMb() < RSS_CEILING_MB,
    `${what}: peak RSS ${ex.peakRssMb().toFixed(1)} MB, ceiling ${RSS_CEILING_MB} MB`,
  );
  assert.deepEqual(client.errors, [], `${what}: the well-behaved client's requests failed`);
  assert.ok(client.scrapes.length >= 3, `${what}: only ${client.scrapes.length} well-behaved scrapes`);
  for (const [i, s] of client.scrapes.entries()) {
    const where = `${what}: well-behaved scrape ${i + 1} of ${client.scrapes.length}`;
    assert.equal(s.status, 200, `${where}: status ${s.status} ${s.text.slice(0, 200)}`);
    assert.equal(sample(s.families, "pg_up"), 1, `${where}: pg_up`);
    assert.equal(sample(s.families, "redis_up"), 1, `${where}: redis_up`);
    for (const c of samples(s.families, "kali_agents_exporter_collector_success"))
      assert.equal(c.value, 1, `${where}: collector ${c.labels.collector} failed`);
    assert.equal(
      sample(s.families, "kali_agents_job_last_run_success", { job: "backup" }),
      1,
      `${where}: the ops job's textfile`,
    );
  }
}

const events = (ex: Exporter) =>
  ex.lines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);

describe("the exporter under abuse", { skip, concurrency: false }, () => {
  let pg: PostgresServer;
  let redis: RedisServer;
  let probeTarget: Server;
  let probeUrl: string;
  const secret = "hunter2-abuse-Zq8";

  before(async () => {
    // The build `npm start` runs, into a folder of its own (the worktree's dist/ is left alone).
    if (!givenDist) {
      const tsc = spawnSync(
        process.execPath,
        [join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json", "--outDir", distDir],
        { cwd: root, encoding: "utf8", timeout: 300_000 },
      );
      assert.equal(tsc.status, 0, `tsc: ${tsc.stdout}${tsc.stderr}`);
    }
    [pg, redis] = await Promise.all([startPostgres(), startRedis()]);
    for (const db of ["kali", "kali_tools"]) {
      await pg.query(`CREATE DATABASE ${db}`);
      await pg.query(scansDdl, [], db);
    }
    await pg.query(
      `INSERT INTO scans (tool, target, status, created_at, started_at, finished_at)
       SELECT (ARRAY['nmap','nuclei','sqlmap'])[1 + i % 3], 'h', 'success',
              now() - interval '1 hour', now() - interval '50 minutes', now() - interval '40 minutes'
       FROM generate_series(1, 300) AS i`,
      [],
      "kali",
    );
    // 5,000 distinct tools, one finished scan each, and one of them running.
    await pg.query(
      `INSERT INTO scans (tool, target, status, created_at, started_at, finished_at)
       SELECT 'tool-' || i || '-' || md5(i::text), 'h', CASE WHEN i % 7 = 0 THEN 'failed' ELSE 'success' END,
              now() - interval '1 hour', now() - interval '50 minutes', now() - interval '40 minutes'
       FROM generate_series(1, 5000) AS i`,
      [],
      "kali_tools",
    );
    probeTarget = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end('{"status":"ok"}');
    });
    await new Promise<void>((r) => probeTarget.listen(0, "127.0.0.1", r));
    const addr = probeTarget.address() as { port: number };
    probeUrl = `http://127.0.0.1:${addr.port}`;
  });
  after(async () => {
    for (const f of figures) process.stdout.write(`${f}\n`);
    for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    probeTarget?.close();
    await Promise.all([pg?.cleanup(), redis?.cleanup()]);
    if (!givenDist) rmSync(distDir, { recursive: true, force: true });
  });

  /** The full configuration, with a textfile folder holding the ops job's result. */
  function fullConfig(database = "kali"): { env: Record<string, string>; textfileDir: string } {
    const textfileDir = tempDir("abuse-textfile");
    writeFileSync(
      join(textfileDir, "backup.prom"),
      '# TYPE kali_agents_job_last_run_success gauge\nkali_agents_job_last_run_success{job="backup"} 1\n',
    );
    return {
      textfileDir,
      env: {
        DATABASE_URL: pg.urlFor({ database }),
        REDIS_URL: redis.url,
        API_HEALTH_URL: `${probeUrl}/health`,
        MCP_SERVERS: `mcp-a=${probeUrl}/a,mcp-b=${probeUrl}/b`,
        EXPORTER_TEXTFILE_DIR: textfileDir,
      },
    };
  }

  /** Runs `attack` against a fresh exporter while the well-behaved client scrapes, then checks it held. */
  async function underAttack(
    what: string,
    env: Record<string, string>,
    attack: (ex: Exporter) => Promise<void>,
  ): Promise<Exporter> {
    const ex = await startExporter(env);
    const client = wellBehaved(ex.url);
    try {
      await attack(ex);
      await sleep(500);
    } finally {
      await client.stop();
    }
    try {
      await assertHeld(ex, client, what);
    } catch (e) {
      await ex.stop();
      throw e;
    }
    return ex;
  }

  test("2,000 requests pipelined on one connection: answered one after the other", async () => {
    const { env } = fullConfig();
    const ex = await underAttack("pipelined", env, async (ex) => {
      const statuses = await pipelinedStatuses(ex.url, 2000, 60_000);
      assert.equal(statuses.length, 2000, "every pipelined request is answered");
      assert.ok(statuses.every((s) => s === "200"));
    });
    // One collection a second at most, however fast the requests come.
    const r = await scrape(`${ex.url}/metrics`);
    const collections = sample(r.families, "kali_agents_exporter_collections_total")!;
    assert.ok(collections < 80, `${collections} collections for 2,000 requests`);
    assert.equal(await ex.stop(), 0);
  });

  test("1,000 concurrent connections: bounded in flight, 503 with Retry-After beyond", async () => {
    const { env } = fullConfig();
    const statuses = new Map<number, number>();
    let retryAfter: string | undefined;
    const ex = await underAttack("1,000 connections", env, async (ex) => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1000 });
      const one = () =>
        new Promise<void>((resolve) => {
          const req = http.get(
            `${ex.url}/metrics`,
            { agent, headers: { "Accept-Encoding": "gzip" } },
            (res) => {
              statuses.set(res.statusCode!, (statuses.get(res.statusCode!) ?? 0) + 1);
              if (res.statusCode === 503) retryAfter = res.headers["retry-after"];
              res.resume();
              res.on("end", resolve);
              res.on("error", () => resolve());
            },
          );
          req.on("error", () => {
            statuses.set(0, (statuses.get(0) ?? 0) + 1);
            resolve();
          });
        });
      // Three waves of 1,000 requests at once, each on its own connection.
      for (let wave = 0; wave < 3; wave++) await Promise.all(Array.from({ length: 1000 }, one));
      agent.destroy();
    });
    assert.equal(statuses.get(0) ?? 0, 0, "no connection refused or reset");
    const rejected = statuses.get(503) ?? 0;
    assert.equal((statuses.get(200) ?? 0) + rejected, 3000);
    if (rejected > 0) assert.equal(retryAfter, "1");
    const r = await scrape(`${ex.url}/metrics`);
    assert.equal(sample(r.families, "kali_agents_exporter_requests_rejected_total"), rejected);
    assert.equal(await ex.stop(), 0);
  });

  test("a 20 MB textfile of a million series, and one of 20,000: skipped, the others publish", async () => {
    const { env, textfileDir } = fullConfig();
    const big = Array.from({ length: 1_000_000 }, (_, i) => `abuse_big{i="${i}"} 1\n`).join("");
    assert.ok(big.length > 20_000_000);
    writeFileSync(join(textfileDir, "big.prom"), big);
    writeFileSync(
      join(textfileDir, "many.prom"),
      Array.from({ length: 20_000 }, (_, i) => `abuse_many{i="${i}"} 1\n`).join(""),
    );
    const ex = await underAttack("big textfiles", env, () => sleep(3000));
    const r = await scrape(`${ex.url}/metrics`);
    assert.equal(sample(r.families, "kali_agents_exporter_textfile_skipped", { reason: "too_large" }), 1);
    assert.equal(
      sample(r.families, "kali_agents_exporter_textfile_skipped", { reason: "too_many_series" }),
      1,
    );
    assert.equal(sample(r.families, "node_textfile_scrape_error"), 1);
    assert.equal(samples(r.families, "abuse_big").length, 0);
    assert.equal(samples(r.families, "abuse_many").length, 0);
    const skipped = events(ex).filter((e) => e.msg === "textfile skipped");
    assert.deepEqual(skipped.map((e) => e.file).sort(), ["big.prom", "many.prom"], "one line per file");
    assert.equal(await ex.stop(), 0);
  });

  test("a FIFO, a symlink and a directory swapped in under a .prom name: skipped, never followed or blocked on", async () => {
    const { env, textfileDir } = fullConfig();
    const secretFile = join(tempDir("abuse-secret"), "redis.conf");
    writeFileSync(secretFile, `requirepass ${secret}\n`);
    // A secret dropped into the folder by mistake, as a regular file: skipped without being quoted.
    writeFileSync(join(textfileDir, "pgpass.prom"), `db:5432:app:kali:${secret}\n`);
    const swap = join(textfileDir, "swap.prom");
    const staging = join(textfileDir, ".staging");
    const ex = await underAttack("swapped files", env, async () => {
      const until = Date.now() + 6000;
      for (let i = 0; Date.now() < until; i++) {
        rmSync(staging, { recursive: true, force: true });
        const kind = i % 3;
        if (kind === 0) spawnSync("mkfifo", [staging]);
        else if (kind === 1) symlinkSync(secretFile, staging);
        else mkdirSync(staging);
        rmSync(swap, { recursive: true, force: true });
        renameSync(staging, swap);
        await sleep(30);
      }
      // Left a FIFO: the exporter must still stop on SIGTERM (the old collector blocked on it for good).
      rmSync(swap, { recursive: true, force: true });
      spawnSync("mkfifo", [swap]);
      await sleep(1500);
    });
    // The content of what the links point to, or of a secret file, never reaches the log.
    const all = ex.lines.join("\n");
    assert.ok(!all.includes(secret), "a secret file's content reached the log");
    assert.ok(!all.includes("requirepass"), "a secret file's content reached the log");
    const r = await scrape(`${ex.url}/metrics`);
    assert.equal(sample(r.families, "kali_agents_exporter_textfile_skipped", { reason: "not_regular" }), 1);
    assert.equal(sample(r.families, "kali_agents_exporter_textfile_skipped", { reason: "invalid" }), 1);
    // Logged as state changes: one line for the FIFO/symlink/directory whatever it is swapped to.
    const swapLines = events(ex).filter((e) => e.file === "swap.prom");
    assert.ok(swapLines.length <= 2, `${swapLines.length} lines about swap.prom`);
    assert.equal(await ex.stop(), 0, "stops on SIGTERM with a FIFO in the folder");
  });

  test("a client sending X-Prometheus-Scrape-Timeout-Seconds: 0.000001 shortens only its own wait", async () => {
    const { env } = fullConfig();
    let hostile = 0;
    const ex = await underAttack("hostile timeout header", env, async (ex) => {
      const until = Date.now() + 7000;
      while (Date.now() < until && hostile < 3000) {
        const res = await fetch(`${ex.url}/metrics`, {
          headers: { "X-Prometheus-Scrape-Timeout-Seconds": "0.000001" },
        });
        await res.arrayBuffer();
        hostile++;
      }
    });
    assert.ok(hostile > 20, `only ${hostile} hostile requests were answered`);
    const failures = events(ex).filter((e) => e.level === "warn" || e.level === "error");
    assert.deepEqual(failures, [], "nothing failed, so nothing is logged");
    const health = await fetch(`${ex.url}/health`);
    assert.equal(health.status, 200);
    assert.equal(await ex.stop(), 0);
  });

  test("5,000 distinct scans.tool values: the top tools and `other`, with the overflow counted", async () => {
    const { env } = fullConfig("kali_tools");
    const ex = await underAttack("5,000 tools", env, async (ex) => {
      const statuses = await pipelinedStatuses(ex.url, 20, 30_000);
      assert.equal(statuses.length, 20);
      await sleep(2000);
    });
    // The finished scans are read a few pages a collection: wait until all are counted.
    let r = await scrape(`${ex.url}/metrics`);
    const counted = (s: Scrape) =>
      samples(s.families, "kali_agents_scans_total").reduce((a, x) => a + x.value, 0);
    await waitFor(
      "every scan counted",
      async () => counted((r = await scrape(`${ex.url}/metrics`))) === 5000,
    );
    const tools = new Set(samples(r.families, "kali_agents_scans_total").map((s) => s.labels.tool));
    assert.equal(tools.size, 101, "100 named tools and other");
    assert.ok(tools.has("other"));
    assert.equal(sample(r.families, "kali_agents_scan_tools_folded"), 4900);
    assert.equal(await ex.stop(), 0);
  });

  test("compose's memory limit for the exporter leaves headroom over the ceiling", () => {
    const compose = parseYaml(readFileSync(join(root, "compose.yaml"), "utf8")) as {
      services: Record<string, { mem_limit?: string }>;
    };
    const limit = /^(\d+)m$/.exec(compose.services.exporter?.mem_limit ?? "")?.[1];
    assert.ok(limit, "compose.yaml: the exporter has a mem_limit in megabytes");
    // compose's "m" is MiB.
    assert.ok(Number(limit) * 1.048576 >= 1.25 * RSS_CEILING_MB, `mem_limit ${limit}m`);
  });
});
