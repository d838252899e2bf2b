// What one collection of the host, postgres and redis collectors costs, to compare two revisions of the
// collectors (issue 14 added the community dashboards' families to all three). Starts a throwaway
// PostgreSQL and Redis, runs each collector's collect() in turn, and prints the median, p95 and the
// size of the output per collector.
//
//   npx tsx bench/collector-cost.ts [source root] [runs]
//
// `source root` is a folder holding `exporter/`, `definitions/` and `lib/` (default: this checkout), so that an
// older revision can be measured on the same servers, e.g.
//   mkdir -p .tmp/base && git archive <rev> exporter definitions lib | tar -x -C .tmp/base
//   npx tsx bench/collector-cost.ts .tmp/base 200
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { startPostgres, startRedis } from "../test/support/servers.ts";
import { quantile } from "./lib/stats.ts";

const root = resolve(process.argv[2] ?? new URL("..", import.meta.url).pathname);
const runs = Number(process.argv[3] ?? 200);
const load = <T>(path: string) => import(pathToFileURL(resolve(root, path)).href) as Promise<T>;

type Collector = {
  registry: { metrics(): Promise<string> };
  collect(ctx: { signal: AbortSignal; deadline: number; log: unknown }): Promise<void>;
  close?(): Promise<void>;
};
type Module<O> = { create(options: O, log: unknown): Collector };

const { hostCollector } = await load<{ hostCollector: Module<object> }>("exporter/src/collectors/host.ts");
const { postgresCollector } = await load<{ postgresCollector: Module<object> }>(
  "exporter/src/collectors/postgres.ts",
);
const { redisCollector } = await load<{ redisCollector: Module<object> }>("exporter/src/collectors/redis.ts");
const { createLogger } = await load<{ createLogger(o: object): unknown }>("lib/log.ts");

const log = createLogger({ level: "error", write: () => {} });
const [pg, redis] = await Promise.all([startPostgres(), startRedis()]);
try {
  for (let i = 0; i < 100; i++) redis.cli("SET", `k${i}`, "v");
  const collectors: [string, Collector][] = [
    [
      "host",
      hostCollector.create(
        {
          hostRoot: "/",
          statfsTimeoutMs: 1000,
          diskWarnPercent: 90,
          memoryWarnPercent: 90,
          cpuWarnPercent: 90,
        },
        log,
      ),
    ],
    [
      "postgres",
      postgresCollector.create(
        {
          url: pg.url,
          connectTimeoutMs: 2000,
          statementTimeoutMs: 2000,
          lockTimeoutMs: 1000,
          idleTimeoutMs: 30000,
          databaseSizeIntervalMs: 60000,
        },
        log,
      ),
    ],
    [
      "redis",
      redisCollector.create(
        { url: redis.url, connectTimeoutMs: 1000, commandTimeoutMs: 1000, queueKeys: [] },
        log,
      ),
    ],
  ];
  console.log(`collector cost, ${runs} collections each, sources from ${root}`);
  console.log("collector  median ms  p95 ms  cpu ms (median)  series  bytes");
  for (const [name, c] of collectors) {
    const times: number[] = [];
    const cpu: number[] = [];
    for (let i = 0; i < runs + 10; i++) {
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      await c.collect({ signal: new AbortController().signal, deadline: Date.now() + 5000, log });
      // The first collections open connections and prepare statements: left out.
      if (i >= 10) {
        times.push(performance.now() - t0);
        // The exporter's own CPU (user + system), which the machine's load does not inflate as much as
        // the wall time, queued behind other processes.
        const d = process.cpuUsage(c0);
        cpu.push((d.user + d.system) / 1000);
      }
    }
    const text = await c.registry.metrics();
    const series = text.split("\n").filter((l) => l && !l.startsWith("#")).length;
    console.log(
      `${name.padEnd(10)} ${quantile(times, 0.5).toFixed(2).padStart(9)} ${quantile(times, 0.95).toFixed(2).padStart(7)} ${quantile(cpu, 0.5).toFixed(2).padStart(15)} ${String(series).padStart(7)} ${String(text.length).padStart(6)}`,
    );
    await c.close?.();
  }
} finally {
  await Promise.all([pg.cleanup(), redis.cleanup()]);
}
