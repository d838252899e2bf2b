// The scans-at-scale benchmark's smoke mode, so that the script cannot rot: the same code as
// `npx tsx bench/scans-scale.ts` with 1k rows and 3 scrapes against a real PostgreSQL, checking that
// every figure is produced and sane, the connection bound holds, and the report splices into
// docs/performance.md without touching the other sections.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { requireBinaries } from "../test/support/servers.ts";
import {
  measureScansScale,
  median,
  optionsFromEnv,
  renderSection,
  spliceScansSection,
} from "./scans-scale.ts";
import { measureMigration } from "./scans-migrate.ts";

test("options: smoke and full sizes, and a clear error for a bad size list", () => {
  assert.deepEqual(optionsFromEnv({ BENCH_SMOKE: "1" }, () => {}).sizes, [1000]);
  assert.deepEqual(optionsFromEnv({}, () => {}).sizes, [10_000, 1_000_000, 10_000_000]);
  assert.throws(() => optionsFromEnv({ BENCH_SCANS_SIZES: "10k" }, () => {}), /BENCH_SCANS_SIZES/);
  assert.deepEqual(optionsFromEnv({}, () => {}).bursts, [10_000, 100_000, 1_000_000]);
  assert.deepEqual(optionsFromEnv({}, () => {}).burstTables, [10_000, 10_000_000]);
  assert.throws(
    () => optionsFromEnv({ BENCH_SCANS_BURST_TABLES: "5000" }, () => {}),
    /BENCH_SCANS_BURST_TABLES: 5000 is not one of the sizes/,
  );
});

test("the section replaces its own block of docs/performance.md and keeps the others", () => {
  const other = "<!-- bench/run.ts: begin -->\n\nTheirs\n\n<!-- bench/run.ts: end -->";
  const once = spliceScansSection(`# Performance\n\n${other}\n`, "## Scans collector at scale\n\nv1");
  assert.ok(once.includes(other) && once.includes("v1"));
  const twice = spliceScansSection(once, "## Scans collector at scale\n\nv2");
  assert.ok(twice.includes(other) && twice.includes("v2") && !twice.includes("v1"));
  assert.equal(spliceScansSection("", "x").startsWith("# Performance\n\n"), true);
});

describe("scans-scale smoke run", { skip: requireBinaries("postgres", "initdb") }, () => {
  test("measures every size and the connection bound", async () => {
    const results = await measureScansScale(optionsFromEnv({ BENCH_SMOKE: "1" }, () => {}));
    assert.equal(results.sizes.length, 1);
    const s = results.sizes[0]!;
    assert.equal(s.rows, 1000);
    assert.equal(s.scrapeMs.length, 3);
    for (const t of [...s.scrapeMs, s.firstScrapeMs]) assert.ok(Number.isFinite(t) && t > 0, `time ${t}`);
    assert.ok(s.tableBytes > 0);
    assert.ok(median(s.scrapeMs) < 5000);
    assert.ok(results.connections.samples > 0);
    assert.ok(results.connections.max >= 1, "the sampler saw the exporter's sessions");
    assert.ok(results.connections.max <= 2, `the exporter held ${results.connections.max} connections`);
    const md = renderSection(results, "BENCH_SMOKE=1 npx tsx bench/scans-scale.ts");
    assert.match(md, /^## Scans collector at scale/);
    assert.match(md, /\| 1k \|/);
    // The burst: read in full, within the deadline, and said so.
    assert.equal(results.bursts.length, 1);
    const b = results.bursts[0]!;
    assert.equal(b.burst, 2000);
    assert.ok(b.exact, "the counters equal the table after the burst");
    assert.ok(b.scrapes.length >= 1 && b.scrapes.every((x) => x.ok), JSON.stringify(b.scrapes));
    assert.equal(b.scrapes[b.scrapes.length - 1]!.toRead, 0);
    assert.equal(b.steadyBeforeMs.length, 3);
    assert.match(md, /### Bursts/);
  });
});

describe("scans-migrate smoke run", { skip: requireBinaries("postgres", "initdb", "psql") }, () => {
  test("migrates a table of the DDL of before while the application writes, twice", async () => {
    const r = await measureMigration(20_000, () => {});
    assert.equal(r.indexValid, true);
    assert.equal(r.triggers, 2);
    assert.equal(r.stampedAfter, true, "finishes after the migration are stamped");
    assert.ok(r.writes > 0 && Number.isFinite(r.longestWriteMs), `${r.writes} writes`);
    assert.ok(r.scriptMs > 0 && r.againMs > 0);
  });
});
