// `npm run bench:profile`: where a scrape of our exporter spends its time and what it allocates.
// Runs ours from the build (npm start's flags) against the benchmark's PostgreSQL, Redis and probe
// target with --cpu-prof, scrapes it BENCH_PROFILE_SCRAPES times (default 2000) one after the other,
// then again with --heap-prof, and prints the self time and the sampled allocations by function and
// by module. The raw .cpuprofile and .heapprofile files stay in the printed folder (open them in
// Chrome DevTools or speedscope).
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../test/support/servers.ts";
import { repoRoot, startEnvironment, startHeapFlags } from "./lib/environment.ts";
import { cpuSeconds } from "./lib/processes.ts";
import { scrape } from "./lib/scrape.ts";
import { fmt } from "./lib/stats.ts";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface CpuNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  children?: number[];
}
interface CpuProfile {
  nodes: CpuNode[];
  samples: number[];
  timeDeltas: number[];
}
interface HeapNode {
  callFrame: CallFrame;
  selfSize: number;
  children: HeapNode[];
}

/** "express", "pg", "prom-client", "exporter/src/scrape.ts:42 render", "(garbage collector)", ... */
function moduleOf(url: string): string {
  if (!url) return "(native / V8)";
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1] as string;
  if (url.startsWith("node:")) return url;
  const repo = url.replace(/^file:\/\//, "").replace(repoRoot, "");
  return repo.replace(/^dist\//, "");
}

function frameName(f: CallFrame): string {
  const where = f.url ? `${moduleOf(f.url)}:${f.lineNumber + 1}` : "";
  return `${f.functionName || "(anonymous)"} ${where}`.trim();
}

function top(map: Map<string, number>, n: number, total: number, unit: (v: number) => string): string {
  return [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, v]) => `  ${fmt((v / total) * 100, 3).padStart(5)}%  ${unit(v).padStart(10)}  ${k}`)
    .join("\n");
}

function summariseCpu(file: string, scrapes: number): string {
  const p = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  p.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const byFn = new Map<string, number>();
  const byModule = new Map<string, number>();
  let total = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node || node.callFrame.functionName === "(idle)") continue;
    total += us;
    const f = frameName(node.callFrame);
    byFn.set(f, (byFn.get(f) ?? 0) + us);
    const m = node.callFrame.url ? moduleOf(node.callFrame.url) : node.callFrame.functionName;
    byModule.set(m, (byModule.get(m) ?? 0) + us);
  }
  // Inclusive time of the exporter's own functions (a function on the stack twice counts once).
  const inclusive = new Map<string, number>();
  const walk = (id: number, onStack: Set<string>): number => {
    const node = byId.get(id);
    if (!node) return 0;
    let t = node.callFrame.functionName === "(idle)" ? 0 : (selfUs.get(id) ?? 0);
    const name = node.callFrame.url.includes("/exporter/src/") ? frameName(node.callFrame) : undefined;
    const fresh = name !== undefined && !onStack.has(name);
    if (fresh) onStack.add(name);
    for (const c of node.children ?? []) t += walk(c, onStack);
    if (fresh) {
      onStack.delete(name);
      inclusive.set(name, (inclusive.get(name) ?? 0) + t);
    }
    return t;
  };
  const root = p.nodes[0];
  if (root) walk(root.id, new Set());
  const perScrape = (us: number) => `${fmt(us / scrapes / 1000, 3)} ms`;
  return [
    `CPU profile ${file}: ${fmt(total / 1000)} ms busy (idle left out) over ${scrapes} scrapes = ${perScrape(total)} per scrape`,
    "self time by module (per scrape):",
    top(byModule, 15, total, perScrape),
    "self time by function (per scrape):",
    top(byFn, 30, total, perScrape),
    "the exporter's own functions, inclusive (per scrape):",
    top(inclusive, 25, total, perScrape),
  ].join("\n");
}

function summariseHeap(file: string): string {
  const p = JSON.parse(readFileSync(file, "utf8")) as { head: HeapNode };
  const byFn = new Map<string, number>();
  const byModule = new Map<string, number>();
  let total = 0;
  const walk = (n: HeapNode) => {
    if (n.selfSize > 0) {
      total += n.selfSize;
      const f = frameName(n.callFrame);
      byFn.set(f, (byFn.get(f) ?? 0) + n.selfSize);
      const m = n.callFrame.url ? moduleOf(n.callFrame.url) : n.callFrame.functionName;
      byModule.set(m, (byModule.get(m) ?? 0) + n.selfSize);
    }
    n.children.forEach(walk);
  };
  walk(p.head);
  const kb = (b: number) => `${fmt(b / 1024)} KB`;
  return [
    `heap profile ${file}: ${kb(total)} sampled live at exit`,
    "by module:",
    top(byModule, 12, total, kb),
    "by function:",
    top(byFn, 20, total, kb),
  ].join("\n");
}

const scrapes = Number(process.env.BENCH_PROFILE_SCRAPES ?? 2000);
const log = (msg: string) => console.error(`[profile] ${msg}`);
log("npm run build");
const build = spawnSync("npm", ["run", "--silent", "build"], { cwd: repoRoot, stdio: "inherit" });
if (build.status !== 0) process.exit(build.status ?? 1);

const dir = tempDir("bench-profile");
const env = await startEnvironment({ scanRows: 10_000, ours: { mode: "build" }, log });
try {
  for (const [kind, flag] of [
    ["cpu", "--cpu-prof"],
    ["heap", "--heap-prof"],
  ] as const) {
    const sub = join(dir, kind);
    const target = await env.startOurs(
      {
        nodeFlags: [
          ...startHeapFlags(),
          flag,
          `${flag}-dir=${sub}`,
          // Sample every 8 KB allocated instead of every 512 KB, so small per-scrape allocations show.
          ...(kind === "heap" ? ["--heap-prof-interval=8192"] : []),
        ],
      },
      `ours-${kind}-profile`,
    );
    const cpu0 = cpuSeconds(target.child.pid);
    const t0 = performance.now();
    for (let i = 0; i < scrapes; i++) await scrape(target.url);
    const ms = performance.now() - t0;
    const cpu = cpuSeconds(target.child.pid) - cpu0;
    log(
      `${kind}: ${scrapes} scrapes, ${fmt(ms / scrapes)} ms each on average, ${fmt((cpu * 1000) / scrapes)} ms CPU each`,
    );
    await target.child.stop();
    const file = readdirSync(sub).find((f) => f.endsWith(kind === "cpu" ? ".cpuprofile" : ".heapprofile"));
    if (!file) throw new Error(`no ${kind} profile written in ${sub}`);
    console.log(kind === "cpu" ? summariseCpu(join(sub, file), scrapes) : summariseHeap(join(sub, file)));
  }
} finally {
  await env.close();
}
console.log(`profiles kept in ${dir}`);
