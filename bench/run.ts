// `npm run bench`: our exporter against node_exporter, postgres_exporter and redis_exporter on the
// same throwaway PostgreSQL and Redis; prints the figures and writes them into docs/performance.md.
//
//   npm run bench                 full figures (about 25 minutes on 2 cores), written to the docs
//   BENCH_SMOKE=1 npm run bench   a few iterations, nothing written (what bench/bench.test.ts runs)
//   BENCH_RUNS, BENCH_LATENCY_ROUNDS, BENCH_WRK_SECONDS, BENCH_MEMORY_SCRAPES, BENCH_HUNG_RUNS,
//   BENCH_HUNG_CLIENT_TIMEOUT_S, BENCH_SCAN_ROWS override the full run's counts;
//   BENCH_WRITE_DOCS=0 prints without writing; BENCH_JSON=<file> also saves the raw figures;
//   BENCH_IMAGE_NODE=<path> is the Node.js the memory phase also runs ours under (default: the version
//   of exporter/Dockerfile, fetched once from the npm registry), BENCH_IMAGE_NODE=0 leaves it out.
//   BENCH_ONLY=abuse runs only the abuse section (bench/lib/abuse.ts, under the image's Node.js),
//   BENCH_ONLY=comparison only the comparison; BENCH_ABUSE_* override the abuse section's counts.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { abuseOptions, renderAbuse, runAbuse, spliceAbuse } from "./lib/abuse.ts";
import { benchOptions, runBench } from "./lib/bench.ts";
import { repoRoot, startEnvironment } from "./lib/environment.ts";
import { imageNode } from "./lib/image-node.ts";
import { requireBenchBinaries } from "./lib/processes.ts";
import { renderTables, spliceSection } from "./lib/report.ts";
import { fmt } from "./lib/stats.ts";

const smoke = process.env.BENCH_SMOKE === "1";
const log = (msg: string) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}`);

const missing = requireBenchBinaries();
if (missing) {
  console.error(`bench: ${missing}`);
  process.exit(1);
}

// Ours runs from the build, as `npm start` runs it.
log("npm run build");
const build = spawnSync("npm", ["run", "--silent", "build"], { cwd: repoRoot, stdio: "inherit" });
if (build.status !== 0) process.exit(build.status ?? 1);

const only = process.env.BENCH_ONLY;
if (only !== undefined && only !== "abuse" && only !== "comparison") {
  console.error(`bench: BENCH_ONLY=${JSON.stringify(only)} is not abuse or comparison`);
  process.exit(1);
}
const rev = spawnSync("git", ["rev-parse", "--short", "HEAD"], {
  cwd: repoRoot,
  encoding: "utf8",
}).stdout.trim();
const dirty = spawnSync("git", ["status", "--porcelain", "--", "exporter", "definitions"], {
  cwd: repoRoot,
  encoding: "utf8",
}).stdout.trim();
const at = rev
  ? ` at commit ${rev}${dirty ? " (with uncommitted changes under exporter/ or definitions/)" : ""}`
  : "";
const command = smoke ? "BENCH_SMOKE=1 npm run bench" : "npm run bench";
const overrides = Object.entries(process.env)
  .filter(([k]) => k.startsWith("BENCH_") && k !== "BENCH_WRITE_DOCS" && k !== "BENCH_JSON")
  .map(([k, v]) => `${k}=${v}`)
  .join(" ");
const file = join(repoRoot, "docs/performance.md");
const writeDocs = !smoke && process.env.BENCH_WRITE_DOCS !== "0";

if (only !== "comparison") {
  const node = process.env.BENCH_IMAGE_NODE === "0" ? undefined : imageNode(log);
  const env = await startEnvironment({
    scanRows: smoke ? 1000 : Number(process.env.BENCH_SCAN_ROWS ?? 10_000),
    ours: { mode: "build" },
    log,
  });
  let abuse;
  try {
    abuse = await runAbuse(env, abuseOptions(smoke, log, node));
  } finally {
    await env.close();
  }
  const section = renderAbuse(
    abuse,
    `${overrides ? `${overrides} ` : ""}${command}`,
    `${at} on ${new Date().toISOString().slice(0, 16).replace("T", " at ")} UTC`,
  );
  console.log(section);
  if (writeDocs) {
    writeFileSync(file, spliceAbuse(existsSync(file) ? readFileSync(file, "utf8") : "", section));
    log(`wrote the abuse section of ${file}`);
  }
  if (only === "abuse") process.exit(0);
}

const opts = benchOptions(smoke, log);
const results = await runBench(opts, { mode: "build" });
const { markdown, verdicts } = renderTables(results);
const m = results.machine;
const section = [
  "## Against the exporters it replaces",
  "",
  `Produced by \`${overrides ? `${overrides} ` : ""}${command}\` (bench/run.ts)${at} on ${results.date.slice(0, 10)} at ${results.date.slice(11, 16)} UTC.`,
  `Machine: ${m.nproc} CPUs (${m.cpuModel}), ${fmt(m.memoryBytes / 1024 ** 3)} GB memory, Linux ${m.kernel}, Node.js ${m.node}.`,
  "The machine is shared with other engineers running test suites, so absolute figures are noisy: each figure is taken several times and given as the median with min–max, and the comparisons are ratios taken within the same run.",
  "Everything runs on 127.0.0.1: one throwaway PostgreSQL 15 and one Redis 7 (test/support/servers.ts), the three Go exporters at their current releases, built from their Go modules (tools/upstream/, versions in definitions/versions.ts), with their default collectors, and ours from the build (`node " +
    "<npm start's flags> dist/exporter/src/main.js`) with PostgreSQL, Redis, a scans table of " +
    `${results.options.scanRows} rows, the API health probe and two MCP probes (a local HTTP server) and one textfile configured.`,
  "Each exporter connects to PostgreSQL with a role of its own, so connections and statements are counted per exporter.",
  "",
  markdown,
].join("\n");

console.log(section);
if (process.env.BENCH_JSON) writeFileSync(process.env.BENCH_JSON, JSON.stringify(results, null, 2));
if (writeDocs) {
  const doc = existsSync(file) ? readFileSync(file, "utf8") : "";
  writeFileSync(file, spliceSection(doc, section));
  log(`wrote ${file}`);
}
const unmet = verdicts.filter((v) => !v.met);
if (unmet.length) log(`targets not met: ${unmet.map((v) => `${v.target} (${v.figure})`).join("; ")}`);
