// The benchmark's smoke mode, so that the scripts cannot rot: the same code as `npm run bench`, with a
// few iterations, against real PostgreSQL, Redis, the three Go exporters and ours (from source, to
// spare the build). It checks that every figure is produced and sane, and holds ours to the targets a
// smoke run can judge: at most 2 PostgreSQL connections, a scrape within its deadline while a
// dependency is hung.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { abuseOptions, renderAbuse, runAbuse, spliceAbuse, type AbuseResults } from "./lib/abuse.ts";
import { benchOptions, runBench, type Results } from "./lib/bench.ts";
import { goExporters, startEnvironment, startHeapFlags } from "./lib/environment.ts";
import { imageNodeVersion, nodeVersionOf } from "./lib/image-node.ts";
import { requireBenchBinaries } from "./lib/processes.ts";
import { renderTables, spliceSection } from "./lib/report.ts";
import { quantile, spread } from "./lib/stats.ts";
import { parseWrk } from "./lib/wrk.ts";

const positive = (what: string, v: number | undefined) =>
  assert.ok(v !== undefined && Number.isFinite(v) && v > 0, `${what} should be a positive number, got ${v}`);

describe("bench smoke run", { skip: requireBenchBinaries() }, () => {
  let results: Results;

  test("runs every phase against the real exporters", async () => {
    const log: string[] = [];
    // The memory phase's instance under another Node.js binary (the image's, in a full run; here the
    // same one, to spare the download) is started as the full run starts it.
    const imageNode = { path: process.execPath, version: process.version };
    results = await runBench({ ...benchOptions(true, (m) => log.push(m)), imageNode }, { mode: "source" });
    assert.ok(
      log.some((l) => l.startsWith("hung redis")),
      `phases logged: ${log.join("; ")}`,
    );
  });

  test("what a scrape holds, latency and CPU are measured for all four", () => {
    for (const name of ["ours", ...goExporters] as const) {
      positive(`${name} samples`, results.shapes[name].series);
      positive(`${name} gzip bytes`, results.shapes[name].gzipBytes);
      for (const run of results.latency) {
        positive(`${name} p50`, run.p50[name]);
        assert.ok(run.p99[name] >= run.p50[name], `${name} p99 >= p50`);
        assert.ok(run.cpuPerScrape[name] >= 0, `${name} CPU per scrape`);
      }
      positive(`${name} RSS at start`, results.rss[name].atStart);
    }
    for (const run of results.latency)
      assert.ok(run.p50.sum_of_three >= Math.max(...goExporters.map((g) => run.p50[g])) * 0.5);
  });

  test("concurrent scrapers: answered, and ours holds at most 2 PostgreSQL connections", () => {
    const runs = results.concurrency.flat();
    assert.equal(runs.length, 4 * results.options.concurrency.length * results.options.runs);
    for (const r of runs) {
      positive(`${r.target} requests`, r.wrk.requests);
      positive(`${r.target} p99`, r.wrk.p99);
    }
    const ours = runs.filter((r) => r.target === "ours");
    for (const r of ours) {
      assert.ok((r.pgConnectionsPeak ?? 99) <= 2, `ours held ${r.pgConnectionsPeak} PostgreSQL connections`);
      // Concurrent scrapes share one collection: never more collections than answered scrapes.
      assert.ok((r.collections ?? 0) <= r.wrk.requests);
    }
    // The counting works: postgres_exporter's statements are seen in the log.
    for (const r of runs.filter((x) => x.target === "postgres_exporter"))
      positive("postgres_exporter statements", r.pgStatements);
  });

  test("memory of a fresh instance is sampled", () => {
    const m = results.memory[0];
    assert.ok(m);
    positive("RSS after start", m.rssAtStart);
    positive("RSS at end", m.rssAtEnd);
    assert.ok(m.rssSamples.length >= 1);
    assert.deepEqual(m.nodeFlags, startHeapFlags(), "the node flags of npm start");
    assert.ok(
      m.nodeFlags.some((f) => f.startsWith("--max-old-space-size=")),
      "npm start bounds the heap",
    );
    const image = results.memory.find((x) => x.label.includes("image"));
    assert.ok(image, `memory lines: ${results.memory.map((x) => x.label).join(", ")}`);
    assert.equal(image.node, process.version);
    positive("RSS under the image's Node.js", image.rssAtEnd);
    assert.deepEqual(image.nodeFlags, startHeapFlags());
  });

  test("a hung PostgreSQL or Redis: our scrape answers within its deadline + 1 s", () => {
    const deadlineMs = results.options.scrapeTimeoutSeconds * 1000;
    assert.equal(results.hung.length, 2);
    for (const h of results.hung) {
      for (const ms of h.oursMs)
        assert.ok(ms <= deadlineMs + 1000, `ours took ${ms} ms with ${h.dependency} hung`);
      // Ours never claims a hung dependency is up.
      for (const up of h.oursUp) assert.notEqual(up, 1, `${h.dependency} reported up while hung`);
      positive(`${h.theirs} time`, h.theirsMs);
    }
  });

  test("the report renders every section with numbers", () => {
    const { markdown, verdicts } = renderTables(results);
    for (const heading of [
      "one scraper",
      "CPU per scrape",
      "Concurrent scrapers",
      "Memory",
      "A hung dependency",
    ])
      assert.match(markdown, new RegExp(`### [^\\n]*${heading}`, "i"));
    assert.doesNotMatch(markdown, /NaN|undefined/);
    // Every row of a table has as many cells as its header.
    for (const block of markdown.split(/\n\n+/).filter((b) => b.startsWith("|"))) {
      const widths = block.split("\n").map((row) => row.split(" | ").length);
      assert.ok(
        widths.every((w) => w === widths[0]),
        `ragged table:\n${block}`,
      );
    }
    assert.ok(verdicts.length >= 6);
  });
});

describe("bench smoke run: the abuse section", { skip: requireBenchBinaries() }, () => {
  test("every attack is measured, ours lives through each, and the section renders", async () => {
    const log: string[] = [];
    const env = await startEnvironment({ scanRows: 1000, ours: { mode: "source" }, log: (m) => log.push(m) });
    let r: AbuseResults;
    try {
      r = await runAbuse(
        env,
        abuseOptions(true, (m) => log.push(m)),
      );
    } finally {
      await env.close();
    }
    assert.equal(r.cases.length, 5, log.join("; "));
    for (const c of r.cases) {
      assert.ok(c.alive, `${c.name}: ours died`);
      positive(`${c.name} peak RSS`, c.peakRssMb);
      positive(`${c.name} well-behaved scrapes`, c.wellBehavedScrapes);
      assert.equal(c.wellBehavedIncomplete, 0, `${c.name}: incomplete well-behaved scrapes`);
      positive(`${c.name} p99`, c.wellBehavedP99Ms);
      assert.ok(
        c.collectionsPerSecond >= 0 && c.collectionsPerSecond < 5,
        `${c.name}: ${c.collectionsPerSecond}`,
      );
    }
    assert.equal(r.steady.length, 2);
    for (const s of r.steady) positive(`steady RSS (${s.label})`, s.rssAtEndMb);
    const md = renderAbuse(r, "BENCH_SMOKE=1 npm run bench", "");
    assert.match(md, /^## Under abuse/);
    assert.ok(!md.includes("NaN"));
    const doc = spliceAbuse(
      "# Performance\n\n<!-- bench/run.ts: begin -->\nx\n<!-- bench/run.ts: end -->\n",
      md,
    );
    assert.ok(doc.indexOf("Under abuse") > doc.indexOf("bench/run.ts: end"));
    assert.equal(spliceAbuse(doc, md), doc);
  });
});

describe("bench helpers", () => {
  test("the image's Node.js version is read from exporter/Dockerfile, and a binary's from --version", (t) => {
    assert.match(imageNodeVersion(), /^\d+\.\d+\.\d+$/);
    const dir = mkdtempSync(join(tmpdir(), "bench-dockerfile-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, "Dockerfile");
    writeFileSync(file, "# a comment\nARG NODE_IMAGE=node:22.1.0-bookworm-slim\nFROM ${NODE_IMAGE}\n");
    assert.equal(imageNodeVersion(file), "22.1.0");
    writeFileSync(file, "FROM node:lts\n");
    assert.throws(() => imageNodeVersion(file), /no "ARG NODE_IMAGE=node:<x\.y\.z>\.\.\." line/);
    assert.equal(nodeVersionOf(process.execPath), process.version);
    assert.throws(() => nodeVersionOf("/bin/true"), /did not print a Node\.js version/);
  });

  test("quantile and spread", () => {
    assert.equal(quantile([5, 1, 3, 2, 4], 0.5), 3);
    assert.equal(quantile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.99), 10);
    assert.deepEqual(spread([3, 1, 2]), { median: 2, min: 1, max: 3, n: 3 });
  });

  test("parseWrk reads percentiles, counts and errors in every unit", () => {
    const out = `Running 1s test @ http://127.0.0.1:1/metrics
  2 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    12.34ms    2.00ms    1.20s    80.00%
    Req/Sec    10.00      1.00     12.00     50.00%
  Latency Distribution
     50%  850.00us
     75%   12.00ms
     90%   20.00ms
     99%    1.10s
  40 requests in 2.00s, 1.00MB read
  Socket errors: connect 0, read 1, write 0, timeout 2
  Non-2xx or 3xx responses: 3
Requests/sec:     20.00
`;
    const r = parseWrk(out, 8);
    assert.equal(r.p50, 0.85);
    assert.equal(r.p99, 1100);
    assert.equal(r.max, 1200);
    assert.equal(r.requests, 40);
    assert.equal(r.requestsPerSecond, 20);
    assert.equal(r.errors, 6);
    assert.throws(() => parseWrk("nonsense", 8), /wrk: no request count/);
  });

  test("spliceSection replaces only the benchmark's own section", () => {
    const other = "## Scans collector at scale\n\nfigures of bench/scans-scale.ts\n";
    const first = spliceSection(`# Performance\n\n${other}`, "## Against\n\nold");
    assert.ok(first.includes(other));
    const second = spliceSection(first, "## Against\n\nnew");
    assert.ok(second.includes(other) && second.includes("new") && !second.includes("old"));
    assert.equal(spliceSection(second, "## Against\n\nnew"), second);
    assert.match(spliceSection("", "x"), /^# Performance\n/);
    assert.throws(() => spliceSection("<!-- bench/run.ts: end -->", "x"), /one benchmark marker/);
  });
});

// The scripts run by hand (their figures are in docs/performance.md with their commands): started with a
// few iterations, so that a moved import fails here, not the day someone measures again.
describe("benchmark scripts run by hand", () => {
  test("bench/collector-cost.ts prints a row per collector", () => {
    const script = join(import.meta.dirname, "collector-cost.ts");
    const r = spawnSync(process.execPath, ["--import", "tsx", script, ".", "2"], {
      encoding: "utf8",
      timeout: 120_000,
    });
    assert.equal(r.status, 0, r.stderr);
    for (const c of ["host", "postgres", "redis"])
      assert.match(r.stdout, new RegExp(`^${c}\\s+[\\d.]+`, "m"));
  });
});
