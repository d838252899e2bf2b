// The benchmark's world: one throwaway PostgreSQL and one Redis, the three Go exporters and ours
// against them, and a tiny HTTP server standing in for the API and the MCP servers that ours probes.
// Every exporter gets its own PostgreSQL role, so connections and statements can be told apart.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  freePort,
  startPostgres,
  startRedis,
  tempDir,
  type PostgresServer,
  type RedisServer,
} from "../../test/support/servers.ts";
import { upstreamBinaryPath } from "../../test/support/upstream.ts";
import { goExporters, startChild, waitHttp, type Child } from "./processes.ts";

export const repoRoot = new URL("../..", import.meta.url).pathname;

export { goExporters };
export type TargetName = "ours" | (typeof goExporters)[number];

export interface Target {
  readonly name: TargetName;
  readonly url: string;
  child: Child;
  /** The PostgreSQL role it connects as (statements and connections are counted by role). */
  readonly pgRole?: string;
}

export interface OursLaunch {
  /** "build": node dist/exporter/src/main.js (what `npm start` runs); "source": through tsx. */
  mode: "build" | "source";
  /** Node flags; defaults to those of `npm start`. */
  nodeFlags?: string[];
  /** The node executable; defaults to the one running the benchmark. */
  node?: string;
  /** Another script to run instead (to try the benchmark itself out against a stand-in). */
  script?: string;
  /** More environment for it (e.g. EXPORTER_COLLECTORS_DISABLED, to weigh one collector). */
  env?: NodeJS.ProcessEnv;
}

/** The node flags `npm start` runs the exporter with (read from package.json so they cannot drift). */
export function startHeapFlags(): string[] {
  const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as {
    scripts?: Record<string, string>;
  };
  const start = pkg.scripts?.start ?? "";
  const m = /\bnode((?:\s+--[\w-]+(?:=\S+)?)*)\s+dist\/exporter\/src\/main\.js/.exec(start);
  if (!m) throw new Error(`package.json scripts.start does not run node dist/exporter/src/main.js: ${start}`);
  return (m[1] ?? "").trim().split(/\s+/).filter(Boolean);
}

export interface Environment {
  pg: PostgresServer;
  redis: RedisServer;
  /** The database the exporters connect to (it holds the scans table). */
  database: string;
  targets: Record<TargetName, Target>;
  probeTarget: Child;
  /** Starts another instance of our exporter (e.g. without the heap flags); the caller stops it. */
  startOurs(launch: Partial<OursLaunch>, name?: string): Promise<Target>;
  /** Where PostgreSQL writes its log (statements of the exporters' roles, connections). */
  pgLogFile: string;
  close(): Promise<void>;
}

const ourRole = "kali_exporter";
const theirRole = "postgres_exporter";

// The application's tiny stand-in: answers every path with 200 and a small JSON body, in a process
// of its own so that it does not share an event loop with the timing client.
const probeTargetSource = `
const http = require("node:http");
const server = http.createServer((req, res) => {
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify({ status: "ok", path: req.url }));
});
server.listen(Number(process.argv[1]), "127.0.0.1");
process.on("SIGTERM", () => server.close(() => process.exit(0)));
`;

export interface EnvironmentOptions {
  /** Rows in the scans table. */
  scanRows: number;
  ours: OursLaunch;
  log?: (msg: string) => void;
}

export async function startEnvironment(opts: EnvironmentOptions): Promise<Environment> {
  const log = opts.log ?? (() => {});
  const cleanups: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  };
  try {
    log("starting PostgreSQL and Redis");
    const [pgStarted, redisStarted] = await Promise.allSettled([
      startPostgres({
        settings: {
          // Statements are logged only for the exporters' roles (ALTER ROLE below), to a file.
          logging_collector: "on",
          log_directory: "log",
          log_filename: "postgresql.log",
          log_line_prefix: "%u|",
          log_connections: "on",
          max_connections: "200",
        },
      }),
      startRedis(),
    ]);
    if (pgStarted.status === "fulfilled") cleanups.push(() => pgStarted.value.cleanup());
    if (redisStarted.status === "fulfilled") cleanups.push(() => redisStarted.value.cleanup());
    if (pgStarted.status === "rejected") throw pgStarted.reason;
    if (redisStarted.status === "rejected") throw redisStarted.reason;
    const pg = pgStarted.value;
    const redis = redisStarted.value;
    const pgLogFile = join(pg.dir, "data", "log", "postgresql.log");

    const database = "kali";
    const password = `bench-${Math.random().toString(36).slice(2)}`;
    await pg.query(`CREATE DATABASE ${database}`);
    for (const role of [ourRole, theirRole]) {
      await pg.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}' IN ROLE pg_monitor`);
      await pg.query(`ALTER ROLE ${role} SET log_statement = 'all'`);
    }
    await loadScans(pg, database, opts.scanRows);
    await pg.query(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${ourRole}`, [], database);
    await loadRedis(redis);

    log("starting the probe target");
    const probePort = await freePort();
    const probeTarget = startChild("probe-target", process.execPath, [
      "-e",
      probeTargetSource,
      String(probePort),
    ]);
    cleanups.push(() => probeTarget.stop());
    await waitHttp(probeTarget, `http://127.0.0.1:${probePort}/health`);

    const textfileDir = tempDir("bench-textfile");
    writeFileSync(
      join(textfileDir, "backup.prom"),
      [
        "# HELP kali_agents_job_last_run_success Whether the job's last run succeeded (1) or not (0).",
        "# TYPE kali_agents_job_last_run_success gauge",
        'kali_agents_job_last_run_success{job="backup"} 1',
        "",
      ].join("\n"),
    );

    const ourUrl = pg.urlFor({ database, user: ourRole, password });
    const oursEnv = (port: number): NodeJS.ProcessEnv => ({
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      EXPORTER_LISTEN_ADDRESS: `127.0.0.1:${port}`,
      DATABASE_URL: ourUrl,
      REDIS_URL: redis.url,
      API_HEALTH_URL: `http://127.0.0.1:${probePort}/health`,
      // Named: both stand-ins share one host:port, which would otherwise be the `target` label of both.
      MCP_SERVERS: `mcp-a=http://127.0.0.1:${probePort}/mcp-a/health,mcp-b=http://127.0.0.1:${probePort}/mcp-b/health`,
      EXPORTER_TEXTFILE_DIR: textfileDir,
      SCAN_QUEUE_KEYS: "kali:scans:queue:nmap,kali:scans:queue:nuclei",
      // A collection on every scrape, as the Go exporters do: the comparison is like for like. (The
      // default reuses a collection younger than 1 s; the abuse section runs with it.)
      EXPORTER_MIN_COLLECTION_INTERVAL_SECONDS: "0",
    });
    const startOurs = async (overrides: Partial<OursLaunch>, name = "ours"): Promise<Target> => {
      const launch = { ...opts.ours, ...overrides };
      const port = await freePort();
      const flags = launch.nodeFlags ?? startHeapFlags();
      const entry = launch.script
        ? [launch.script]
        : launch.mode === "build"
          ? [join(repoRoot, "dist/exporter/src/main.js")]
          : ["--import", "tsx", join(repoRoot, "exporter/src/main.ts")];
      const script = entry[entry.length - 1] as string;
      if (!existsSync(script))
        throw new Error(`${script} is missing${launch.mode === "build" ? ": run npm run build first" : ""}`);
      const child = startChild(name, launch.node ?? process.execPath, [...flags, ...entry], {
        env: { ...oursEnv(port), ...launch.env },
        cwd: repoRoot,
      });
      const url = `http://127.0.0.1:${port}/metrics`;
      try {
        await waitHttp(child, url, 60_000);
      } catch (e) {
        await child.stop();
        throw e;
      }
      return { name: "ours", url, child, pgRole: ourRole };
    };

    log("starting the exporters");
    const goTarget = async (
      name: Exclude<TargetName, "ours">,
      cmd: string,
      args: (port: number) => string[],
      env: NodeJS.ProcessEnv = {},
      pgRole?: string,
    ): Promise<Target> => {
      const port = await freePort();
      const child = startChild(name, cmd, args(port), { env: { PATH: process.env.PATH, ...env } });
      cleanups.push(() => child.stop());
      const url = `http://127.0.0.1:${port}/metrics`;
      await waitHttp(child, url);
      return { name, url, child, pgRole };
    };
    const listen = (port: number) => `--web.listen-address=127.0.0.1:${port}`;
    // All four at once: ours takes seconds to start (and more through tsx), the Go exporters do not.
    const oursStarting = startOurs({});
    const [nodeExporter, postgresExporter, redisExporter, ours] = await Promise.all([
      goTarget("node_exporter", upstreamBinaryPath("node_exporter"), (p) => [listen(p), "--log.level=warn"]),
      goTarget(
        "postgres_exporter",
        upstreamBinaryPath("postgres_exporter"),
        (p) => [listen(p), "--log.level=warn"],
        {
          DATA_SOURCE_NAME: `postgresql://${theirRole}:${encodeURIComponent(password)}@127.0.0.1:${pg.port}/${database}?sslmode=disable`,
        },
        theirRole,
      ),
      goTarget("redis_exporter", upstreamBinaryPath("redis_exporter"), (p) => [
        `--redis.addr=redis://127.0.0.1:${redis.port}`,
        `-web.listen-address=127.0.0.1:${p}`,
      ]),
      oursStarting,
    ]);
    cleanups.push(() => ours.child.stop());

    return {
      pg,
      redis,
      database,
      targets: {
        ours,
        node_exporter: nodeExporter,
        postgres_exporter: postgresExporter,
        redis_exporter: redisExporter,
      },
      probeTarget,
      startOurs,
      pgLogFile,
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}

/** The scans table from the exporter's own DDL, filled with `rows` finished and active scans. */
async function loadScans(pg: PostgresServer, database: string, rows: number): Promise<void> {
  const ddlFile = join(repoRoot, "exporter/sql/scans.sql");
  await pg.query(readFileSync(ddlFile, "utf8"), [], database);
  await pg.query(
    `INSERT INTO scans (tool, target, status, created_at, started_at, finished_at)
     SELECT (ARRAY['nmap','nuclei','sqlmap','nikto','gobuster'])[1 + i % 5],
            'host-' || (i % 997) || '.example',
            CASE WHEN i % 100 = 0 THEN 'running' WHEN i % 100 = 1 THEN 'queued'
                 WHEN i % 10 = 2 THEN 'failed' WHEN i % 50 = 3 THEN 'cancelled' ELSE 'success' END,
            now() - (i * interval '1 minute') - interval '10 minutes',
            CASE WHEN i % 100 = 1 THEN NULL ELSE now() - (i * interval '1 minute') - interval '9 minutes' END,
            CASE WHEN i % 100 IN (0, 1) THEN NULL ELSE now() - (i * interval '1 minute') - interval '2 minutes' END
     FROM generate_series(1, $1::int) AS i`,
    [rows],
    database,
  );
  await pg.query("ANALYZE scans", [], database);
}

/** Some keys, and the scan queues the exporter measures. */
async function loadRedis(redis: RedisServer): Promise<void> {
  const { Redis } = await import("ioredis");
  const client = new Redis(redis.url, { lazyConnect: true });
  await client.connect();
  try {
    const pipe = client.pipeline();
    for (let i = 0; i < 1000; i++) pipe.set(`kali:cache:item:${i}`, "x".repeat(100), "EX", 3600);
    for (let i = 0; i < 50; i++)
      pipe.rpush(i % 2 ? "kali:scans:queue:nmap" : "kali:scans:queue:nuclei", `job-${i}`);
    await pipe.exec();
  } finally {
    client.disconnect();
  }
}
