// `npx tsx bench/memory-variants.ts`: the memory section of issue 15, side by side in one run. Under the
// image's Node.js (bench/lib/image-node.ts) with npm start's flags, against the benchmark's PostgreSQL,
// Redis and probe target, it starts the exporter as
//   build   node dist/exporter/src/main.js (what npm start and the image's CMD run)
//   bundle  one file, esbuild's bundle of what exporter/src/main.ts reaches (our code and node_modules)
//   bundle-min  the same, minified
// in turns (BENCH_VARIANT_ROUNDS rounds, default 2), and for each prints the start time (spawn to the
// first 200 from /metrics), RSS and anonymous RSS after start and after BENCH_VARIANT_SCRAPES scrapes
// (default 3000) one after the other, and CPU per scrape. What lazy imports could save is measured the
// same way: the RSS and time of importing yaml, pg and ioredis alone into the same Node.js with the same
// flags, against a process that imports nothing (a deployment without a config file, or with the
// collector off, would not load that module at all; that is the most a lazy import can save).
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { build } from "esbuild";
import { sleep, tempDir } from "../test/support/servers.ts";
import { repoRoot, startEnvironment, startHeapFlags } from "./lib/environment.ts";
import { imageNode } from "./lib/image-node.ts";
import { cpuSeconds, memoryOf } from "./lib/processes.ts";
import { scrape } from "./lib/scrape.ts";
import { quantile } from "./lib/stats.ts";

const log = (msg: string) => process.stderr.write(`[memory-variants] ${msg}\n`);
const scrapes = Number(process.env.BENCH_VARIANT_SCRAPES ?? 3000);
const rounds = Number(process.env.BENCH_VARIANT_ROUNDS ?? 2);
const MB = 1024 * 1024;
const mb = (b: number) => (b / MB).toFixed(1);

const node = imageNode(log);
const flags = startHeapFlags();
log(`Node.js ${node.version}, flags ${flags.join(" ")}`);

log("npm run build");
const tsc = spawnSync("npm", ["run", "build", "--silent"], { cwd: repoRoot, encoding: "utf8" });
if (tsc.status !== 0) throw new Error(`npm run build failed: ${tsc.stdout}${tsc.stderr}`);

const dir = tempDir("bundle");
const bundles: Record<string, string> = {};
for (const minify of [false, true]) {
  const outfile = join(dir, minify ? "main.min.mjs" : "main.mjs");
  const r = await build({
    entryPoints: [join(repoRoot, "exporter/src/main.ts")],
    bundle: true,
    platform: "node",
    format: "esm",
    target: `node${node.version.slice(1).split(".")[0]}`,
    outfile,
    minify,
    metafile: true,
    logLevel: "warning",
    // CommonJS dependencies (pg, express) call require(): give the ES module one.
    banner: {
      js: 'import { createRequire as __cr } from "node:module"; const require = __cr(import.meta.url);',
    },
  });
  const out = Object.values(r.metafile.outputs)[0]!;
  log(
    `${minify ? "minified " : ""}bundle: ${(out.bytes / 1024).toFixed(0)} KiB from ${Object.keys(r.metafile.inputs).length} files`,
  );
  bundles[minify ? "bundle-min" : "bundle"] = outfile;
}

interface Run {
  variant: string;
  startMs: number;
  rssStart: number;
  anonStart: number;
  rssEnd: number;
  anonEnd: number;
  cpuPerScrapeMs: number;
}

const env = await startEnvironment({ scanRows: 10_000, ours: { mode: "build", node: node.path }, log });
const runs: Run[] = [];
try {
  // The environment's own instance is not measured: each variant starts fresh.
  await env.targets.ours.child.stop();
  const variants: [string, string | undefined][] = [
    ["build", undefined],
    ["bundle", bundles.bundle],
    ["bundle-min", bundles["bundle-min"]],
  ];
  for (let round = 1; round <= rounds; round++)
    for (const [variant, script] of variants) {
      const t0 = performance.now();
      const target = await env.startOurs(
        { mode: "build", node: node.path, nodeFlags: flags, ...(script ? { script } : {}) },
        `ours-${variant}`,
      );
      const startMs = performance.now() - t0;
      try {
        const pid = target.child.pid;
        await sleep(500); // as memoryRun: start-up timers and JIT settle before the baseline
        const start = memoryOf(pid);
        const cpu0 = cpuSeconds(pid);
        for (let i = 1; i <= scrapes; i++) {
          const r = await scrape(target.url);
          if (r.status !== 200) throw new Error(`${variant} answered ${r.status} at scrape ${i}`);
        }
        const cpuPerScrapeMs = ((cpuSeconds(pid) - cpu0) / scrapes) * 1000;
        const end = memoryOf(pid);
        const run = {
          variant,
          startMs,
          rssStart: start.rss,
          anonStart: start.anon,
          rssEnd: end.rss,
          anonEnd: end.anon,
          cpuPerScrapeMs,
        };
        runs.push(run);
        log(
          `round ${round} ${variant}: start ${startMs.toFixed(0)} ms, RSS ${mb(run.rssStart)} -> ${mb(run.rssEnd)} MB, anon ${mb(run.anonStart)} -> ${mb(run.anonEnd)} MB, ${cpuPerScrapeMs.toFixed(2)} ms CPU/scrape`,
        );
      } finally {
        await target.child.stop();
      }
    }
} finally {
  await env.close();
}

// What a lazy import could save: a process importing the exporter's runtime dependencies (express,
// prom-client, pg, ioredis, yaml) against one importing all but one of them. The difference is that
// module's own cost once Node.js's internals (net, tls, crypto, http) are loaded anyway, which is what a
// deployment that never loads it would save.
// Beside node_modules, so that the bare specifiers resolve to the project's packages.
const probe = join(repoRoot, "node_modules/.cache/kali-bench/import-some.mjs");
mkdirSync(dirname(probe), { recursive: true });
writeFileSync(
  probe,
  `const t = performance.now();
for (const m of process.argv.slice(2)) await import(m);
const ms = performance.now() - t;
await new Promise((r) => setTimeout(r, 200));
const status = (await import("node:fs")).readFileSync("/proc/self/status", "utf8");
const kb = (f) => parseInt(status.split("\\n").find((l) => l.startsWith(f + ":")).slice(f.length + 1).trim(), 10) * 1024;
console.log(JSON.stringify({ ms, rss: kb("VmRSS"), anon: kb("RssAnon") }));
`,
);
const deps = ["express", "prom-client", "pg", "ioredis", "yaml"];
const lazyCandidates = ["yaml", "pg", "ioredis"];
const imports = new Map<string, { ms: number; rss: number; anon: number }[]>();
for (let i = 0; i < 7; i++)
  for (const left of ["(none)", ...lazyCandidates]) {
    const r = spawnSync(node.path, [...flags, probe, ...deps.filter((d) => d !== left)], {
      cwd: repoRoot,
      encoding: "utf8",
    });
    if (r.status !== 0) throw new Error(`importing all but ${left}: ${r.stderr}`);
    imports.set(left, [
      ...(imports.get(left) ?? []),
      JSON.parse(r.stdout) as { ms: number; rss: number; anon: number },
    ]);
  }

const med = (xs: number[]) => quantile(xs, 0.5);
const mean = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / xs.length;
const lines: string[] = [];
lines.push(
  `Node.js ${node.version} (the image's), \`${flags.join(" ")}\`, ${scrapes} scrapes one after the other, ${rounds} rounds in turns; the mean of the rounds, each round's figure in brackets.`,
  "",
  "| variant | start (ms) | RSS after start (MB) | RSS after scrapes (MB) | anon RSS after start / scrapes (MB) | CPU per scrape (ms) |",
  "| --- | --- | --- | --- | --- | --- |",
);
for (const v of ["build", "bundle", "bundle-min"]) {
  const rs = runs.filter((r) => r.variant === v);
  const col = (f: (r: Run) => number, d: (x: number) => string) =>
    `${d(mean(rs.map(f)))} [${rs.map((r) => d(f(r))).join(", ")}]`;
  lines.push(
    `| ${v} | ${col(
      (r) => r.startMs,
      (x) => x.toFixed(0),
    )} | ${col((r) => r.rssStart, mb)} | ${col((r) => r.rssEnd, mb)} | ${mb(mean(rs.map((r) => r.anonStart)))} / ${mb(mean(rs.map((r) => r.anonEnd)))} | ${col(
      (r) => r.cpuPerScrapeMs,
      (x) => x.toFixed(2),
    )} |`,
  );
}
const all = imports.get("(none)")!;
lines.push(
  "",
  `All of ${deps.join(", ")} imported by one process, against the same with one left out (7 runs each, medians): what leaving that module unloaded saves.`,
  "",
  "| left out | import time saved (ms) | RSS saved (MB) | anon RSS saved (MB) |",
  "| --- | --- | --- | --- |",
);
for (const m of lazyCandidates) {
  const xs = imports.get(m)!;
  const d = (f: (x: { ms: number; rss: number; anon: number }) => number) => med(all.map(f)) - med(xs.map(f));
  lines.push(`| ${m} | ${d((x) => x.ms).toFixed(0)} | ${mb(d((x) => x.rss))} | ${mb(d((x) => x.anon))} |`);
}
console.log(lines.join("\n"));
