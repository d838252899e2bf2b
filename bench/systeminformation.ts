// `npx tsx bench/systeminformation.ts`: what systeminformation would cost the exporter, against what it
// does instead (exporter/src/collectors/host.ts and inventory.ts). Prints the figures that
// docs/performance.md ("systeminformation, measured for the host collectors") records, on which
// docs/decisions.md ("Host metrics without systeminformation") rests.
//
// Each variant runs in a fresh Node.js process with the exporter's heap flags (bench/lib/environment.ts
// startHeapFlags), which first loads what the exporter always loads (prom-client, express), then:
//   none          nothing more: the baseline
//   ours          the inventory collector's readInventory() (the build in dist/, as npm start runs it)
//   si-import     require("systeminformation") only
//   si-inventory  the import, then osInfo(), cpu(), system(), bios(), baseboard(), chassis() once
//   si-dropped    si-inventory, then every reference dropped and the module evicted from require.cache
// and reports its RSS after two forced GCs, the time taken, the child processes started (child_process
// is wrapped before anything loads it) and the longest the event loop was blocked meanwhile.
// A second part times one host collection per scrape: si's per-scrape calls against host.ts.
//
//   BENCH_SI_RUNS (default 5) processes per variant; BENCH_SI_SCRAPES (default 20) timed scrapes.
import { spawnSync } from "node:child_process";
import { repoRoot, startHeapFlags } from "./lib/environment.ts";
import { fmt, spread } from "./lib/stats.ts";

const runs = Number(process.env.BENCH_SI_RUNS ?? 5);
const scrapes = Number(process.env.BENCH_SI_SCRAPES ?? 20);

const build = spawnSync("npm", ["run", "--silent", "build"], { cwd: repoRoot, stdio: "inherit" });
if (build.status !== 0) process.exit(build.status ?? 1);

/** The child: plain JavaScript, so no loader (tsx) sits in the memory it measures. */
const child = String.raw`
import cp from "node:child_process";
import { createRequire } from "node:module";
const require = createRequire(process.cwd() + "/package.json");
const spawned = [];
// exec() calls execFile() and execSync() spawnSync(): count the outermost call only.
let depth = 0;
for (const fn of ["exec", "execSync", "execFile", "execFileSync", "spawn", "spawnSync", "fork"]) {
  const orig = cp[fn];
  cp[fn] = function (...args) {
    if (depth === 0) spawned.push(fn + " " + String(args[0]).replace(/\s+/g, " ").slice(0, 60));
    depth++;
    try {
      return orig.apply(this, args);
    } finally {
      depth--;
    }
  };
}
const variant = process.argv[1];
const scrapes = Number(process.argv[2]);
const mb = () => process.memoryUsage().rss / 2 ** 20;
const settle = async () => { for (let i = 0; i < 2; i++) { global.gc(); await new Promise((r) => setTimeout(r, 50)); } };
await import("prom-client");
await import("express");
await settle();
const base = mb();
// The longest gap between 1 ms timer ticks while the work runs: how long the event loop was blocked.
let lastTick = performance.now(), maxGap = 0;
const ticker = setInterval(() => { const t = performance.now(); maxGap = Math.max(maxGap, t - lastTick); lastTick = t; }, 1);
const t0 = performance.now();
let importMs = 0;
const out = {};
if (variant === "ours") {
  const { readInventory } = await import(process.cwd() + "/dist/exporter/src/collectors/inventory.js");
  out.cpus = (await readInventory("/")).cpus.length;
} else if (variant.startsWith("si-")) {
  const t = performance.now();
  let si = require("systeminformation");
  importMs = performance.now() - t;
  if (variant !== "si-import") {
    const r = await Promise.all([si.osInfo(), si.cpu(), si.system(), si.bios(), si.baseboard(), si.chassis()]);
    out.cpu = r[1].brand; out.distro = r[0].distro;
  }
  if (variant === "si-dropped") {
    si = undefined;
    for (const k of Object.keys(require.cache)) if (k.includes("/node_modules/systeminformation/")) delete require.cache[k];
  }
} else if (variant === "scrape-si" || variant === "scrape-ours") {
  const times = [];
  let run;
  if (variant === "scrape-si") {
    const si = require("systeminformation");
    run = () => Promise.all([si.currentLoad(), si.mem(), si.fsSize(), si.networkStats("*"), si.time()]);
  } else {
    const { hostCollector } = await import(process.cwd() + "/dist/exporter/src/collectors/host.js");
    const { createLogger } = await import(process.cwd() + "/dist/lib/log.js");
    const log = createLogger({ logger: "bench", write: () => {} });
    const c = hostCollector.create({ hostRoot: "/", statfsTimeoutMs: 1000, diskWarnPercent: 90, memoryWarnPercent: 90, cpuWarnPercent: 80 }, log);
    run = () => c.collect({ signal: new AbortController().signal, deadline: Date.now() + 5000, log });
  }
  await run(); await run(); // warm-up (si's first currentLoad() is its slowest)
  const before = spawned.length;
  maxGap = 0;
  for (let i = 0; i < scrapes; i++) { lastTick = performance.now(); const t = performance.now(); await run(); times.push(performance.now() - t); }
  out.scrapeMs = times; out.perScrapeChildren = (spawned.length - before) / scrapes;
}
const ms = performance.now() - t0;
clearInterval(ticker);
await settle();
console.log(JSON.stringify({ variant, base, rss: mb(), ms, importMs, maxGap, spawned, ...out }));
`;

interface ChildResult {
  variant: string;
  base: number;
  rss: number;
  ms: number;
  importMs: number;
  maxGap: number;
  spawned: string[];
  scrapeMs?: number[];
  perScrapeChildren?: number;
}

function runChild(variant: string): ChildResult {
  const r = spawnSync(
    process.execPath,
    [...startHeapFlags(), "--expose-gc", "--input-type=module", "-e", child, variant, String(scrapes)],
    { cwd: repoRoot, encoding: "utf8", timeout: 120_000 },
  );
  if (r.status !== 0) throw new Error(`${variant}: exit ${r.status}\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as ChildResult;
}

const cell = (values: number[]) => {
  const s = spread(values);
  return `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})`;
};

console.log(
  `\nStart-up inventory, ${runs} processes each (node ${process.version}, ${startHeapFlags().join(" ")})\n`,
);
console.log(
  "| variant | RSS over baseline, MiB | time, ms | of which import, ms | event loop blocked, ms | child processes |",
);
console.log("| --- | --- | --- | --- | --- | --- |");
let baseline: number[] = [];
for (const variant of ["none", "ours", "si-import", "si-inventory", "si-dropped"]) {
  const results = Array.from({ length: runs }, () => runChild(variant));
  if (variant === "none") baseline = results.map((r) => r.rss);
  const over = results.map((r) => r.rss - r.base);
  console.log(
    `| ${variant} | ${cell(over)} | ${cell(results.map((r) => r.ms))} | ${cell(results.map((r) => r.importMs))} | ${cell(results.map((r) => r.maxGap))} | ${results[0]!.spawned.length} |`,
  );
  if (variant === "si-inventory") console.error(`  si-inventory started: ${results[0]!.spawned.join("; ")}`);
}
console.log(`\nbaseline RSS (prom-client and express loaded): ${cell(baseline)} MiB`);

console.log(`\nOne host collection per scrape, ${scrapes} scrapes after two warm-ups\n`);
console.log(
  "| variant | ms per scrape, median (min–max) | p95 ms | child processes per scrape | event loop blocked, ms |",
);
console.log("| --- | --- | --- | --- | --- |");
for (const variant of ["scrape-ours", "scrape-si"]) {
  const r = runChild(variant);
  const t = r.scrapeMs!;
  const sorted = [...t].sort((a, b) => a - b);
  console.log(
    `| ${variant} | ${cell(t)} | ${fmt(sorted[Math.ceil(0.95 * sorted.length) - 1]!)} | ${fmt(r.perScrapeChildren!)} | ${fmt(r.maxGap)} |`,
  );
}
