// The measured inputs of docs/operations/scaling.md: series per exporter and per API from a real scrape,
// and the demo's log volume per finished scan and per API request. Starts PostgreSQL and Redis (the test
// harness), the demo workload and the exporter (from their entry points), lets the demo run, then
// scrapes both /metrics and reads every log file the demo wrote. Prints the figures; nothing is timed.
//
// Usage: npx tsx bench/scaling.ts [seconds]   (default 60)
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { loggers } from "../definitions/logs.ts";
import {
  freePort,
  sleep,
  startPostgres,
  startPrometheus,
  startRedis,
  tempDir,
  waitFor,
} from "../test/support/servers.ts";
import { demoWiring, startNode } from "../test/e2e/node-process.ts";

const seconds = Number(process.argv[2] ?? 60);
const log = (m: string) => console.log(`scaling: ${m}`);

/** Series in a Prometheus text exposition: every sample line, by metric family prefix. */
function series(text: string): { total: number; byPrefix: Record<string, number> } {
  const byPrefix: Record<string, number> = {};
  let total = 0;
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    total++;
    const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0] ?? "?";
    const prefix = name.startsWith("kali_agents_") ? "kali_agents" : name.split("_")[0]!;
    byPrefix[prefix] = (byPrefix[prefix] ?? 0) + 1;
  }
  return { total, byPrefix };
}

const root = new URL("..", import.meta.url).pathname;
// Prometheus' own series with the generated rules loaded (its self-scrape, per edge and central).
const prom = await startPrometheus(
  `global: {scrape_interval: 5s, evaluation_interval: 5s}\nrule_files: ["${root}prometheus/rules/generated/*.yml"]\nscrape_configs: []\n`,
);
const pg = await startPostgres();
const redis = await startRedis({ args: ["--maxmemory", "256mb"] });
const logDir = tempDir("scaling-logs");
const [apiPort, mcp1, mcp2, exporterPort] = await Promise.all([
  freePort(),
  freePort(),
  freePort(),
  freePort(),
]);
// Traffic at the demo's default (5 requests/s); scans faster than its default (one every 0.5s instead of
// 5s, durations x0.01) so that enough finish in a minute: the lines a scan writes do not depend on pace.
const wiring = demoWiring({
  databaseUrl: pg.url,
  redisUrl: redis.url,
  apiPort,
  mcpPorts: [mcp1, mcp2],
});
const demo = startNode("demo", "demo/src/main.ts", {
  ...wiring.demo,
  DEMO_LOG_DIR: logDir,
  DEMO_SCAN_INTERVAL_SECONDS: "0.5",
  DEMO_SCAN_TIME_SCALE: "0.01",
  // No rotation during the run: every line stays in one file per stream.
  DEMO_LOG_MAX_BYTES: String(512 * 1024 * 1024),
});
const exporter = startNode("exporter", "exporter/src/main.ts", {
  EXPORTER_LISTEN_ADDRESS: `127.0.0.1:${exporterPort}`,
  ...wiring.exporter,
  EXPORTER_TEXTFILE_DIR: tempDir("scaling-textfile"),
});
try {
  await waitFor("the demo", async () => (await fetch(`http://127.0.0.1:${apiPort}/health`)).ok, 60_000, 500);
  await waitFor(
    "the exporter",
    async () => (await fetch(`http://127.0.0.1:${exporterPort}/-/ready`)).ok,
    60_000,
    500,
  );
  log(`running the demo for ${seconds}s`);
  await sleep(seconds * 1000);

  const exp = series(await (await fetch(`http://127.0.0.1:${exporterPort}/metrics`)).text());
  const apiText = await (await fetch(`http://127.0.0.1:${apiPort}/metrics`)).text();
  const api = series(apiText);
  const requests = apiText
    .split("\n")
    .filter((l) => l.startsWith("http_requests_total{"))
    .reduce((n, l) => n + Number(l.split(" ").pop()), 0);
  const [{ finished }] = (await pg.query(
    "SELECT count(*)::int AS finished FROM scans WHERE finished_at IS NOT NULL",
  )) as [{ finished: number }];

  const byLogger: Record<string, { lines: number; bytes: number }> = {};
  const byStream: Record<string, number> = {};
  let bytes = 0;
  for (const f of readdirSync(logDir)) {
    const text = readFileSync(join(logDir, f), "utf8");
    bytes += Buffer.byteLength(text);
    byStream[f] = Buffer.byteLength(text);
    for (const line of text.split("\n")) {
      if (!line) continue;
      const logger = (JSON.parse(line) as { logger?: string }).logger ?? "?";
      const e = (byLogger[logger] ??= { lines: 0, bytes: 0 });
      e.lines++;
      e.bytes += Buffer.byteLength(line) + 1;
    }
  }
  log(`exporter series: ${exp.total} (${JSON.stringify(exp.byPrefix)})`);
  log(`API (demo) series: ${api.total} (${JSON.stringify(api.byPrefix)})`);
  const self = series(await (await fetch(`${prom.url}/metrics`)).text());
  log(`Prometheus 3.14.0 own series, generated rules loaded: ${self.total}`);
  log(`run: ${seconds}s, ${finished} scans finished, ${requests} API requests`);
  log(`log bytes: ${bytes} in all; by file ${JSON.stringify(byStream)}`);
  log(`log lines and bytes by logger: ${JSON.stringify(byLogger)}`);
  // Every stream over the finished scans: the demo's traffic is paced with its scans (its requests
  // create, list and read scans; logins write the security stream), so this is the volume a scan brings.
  log(
    `per finished scan, every stream: ${(bytes / finished).toFixed(0)} bytes, ` +
      `${(Object.values(byLogger).reduce((n, e) => n + e.lines, 0) / finished).toFixed(1)} lines ` +
      `(${loggers.scans} alone: ${((byLogger[loggers.scans]?.bytes ?? 0) / finished).toFixed(0)} bytes)`,
  );
} finally {
  await Promise.allSettled([demo.stop(), exporter.stop()]);
  await Promise.allSettled([pg.cleanup(), redis.cleanup(), prom.cleanup()]);
  rmSync(logDir, { recursive: true, force: true });
}
