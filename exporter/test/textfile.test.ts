// The textfile collector with real files in a temporary directory: node_exporter's textfile rules.
import assert from "node:assert/strict";
import { mkdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { MAX_SKIP_LINES, textfileCollector } from "../src/collectors/textfile.ts";
import type { Collector } from "../src/collectors/types.ts";
import { createLogger } from "../../lib/log.ts";
import { family, parseExposition, sample, samples } from "../../test/support/exposition.ts";
import { tempDir } from "../../test/support/servers.ts";

async function collect(c: Collector) {
  const lines: string[] = [];
  const log = createLogger({ write: (l) => lines.push(l) });
  await c.collect({ signal: new AbortController().signal, deadline: Date.now() + 5000, log });
  return {
    families: parseExposition(await c.registry.metrics()),
    logged: lines.map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

const job = (name: string, ok: number) =>
  `# HELP kali_agents_job_last_run_success Whether the job's last run succeeded (1) or failed (0).
# TYPE kali_agents_job_last_run_success gauge
kali_agents_job_last_run_success{job="${name}"} ${ok}
`;

function setup(files: Record<string, string>): { dir: string; collector: Collector } {
  const dir = tempDir("textfile");
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  after(() => rmSync(dir, { recursive: true, force: true }));
  return { dir, collector: textfileCollector.create({ dir }, createLogger({ write: () => {} })) };
}

describe("textfile collector", () => {
  test("families are merged across files; mtimes published; other names ignored; a directory reported", async () => {
    const { dir, collector } = setup({
      "backup.prom": job("backup", 1),
      "cleanup.prom":
        job("cleanup", 0) +
        '# TYPE kali_agents_cleanup_deleted_rows gauge\nkali_agents_cleanup_deleted_rows{table="scans"} 42\n',
      "notes.txt": "not a metric file",
      "backup.prom.tmp": "half-written {",
    });
    mkdirSync(join(dir, "sub.prom"));
    utimesSync(join(dir, "backup.prom"), 1700000000, 1700000000);
    const { families: f, logged } = await collect(collector);
    assert.equal(sample(f, "kali_agents_job_last_run_success", { job: "backup" }), 1);
    assert.equal(sample(f, "kali_agents_job_last_run_success", { job: "cleanup" }), 0);
    assert.equal(
      family(f, "kali_agents_job_last_run_success")?.help,
      "Whether the job's last run succeeded (1) or failed (0).",
    );
    assert.equal(family(f, "kali_agents_job_last_run_success")?.type, "gauge");
    assert.equal(sample(f, "kali_agents_cleanup_deleted_rows", { table: "scans" }), 42);
    // file: the path, as node_exporter labels it.
    assert.equal(sample(f, "node_textfile_mtime_seconds", { file: join(dir, "backup.prom") }), 1700000000);
    assert.deepEqual(
      samples(f, "node_textfile_mtime_seconds")
        .map((s) => s.labels.file)
        .sort(),
      [join(dir, "backup.prom"), join(dir, "cleanup.prom")],
    );
    // A directory under a .prom name is not read, and reported (node_exporter reports it too: reading
    // it fails there).
    assert.equal(sample(f, "node_textfile_scrape_error"), 1);
    assert.equal(sample(f, "kali_agents_exporter_textfile_skipped", { reason: "not_regular" }), 1);
    assert.deepEqual(
      logged.map((l) => [l.msg, l.file, l.reason]),
      [["textfile skipped", "sub.prom", "not_regular"]],
    );
  });

  test("histograms and summaries are republished as they are", async () => {
    const { collector } = setup({
      "h.prom": `# HELP job_seconds A histogram.
# TYPE job_seconds histogram
job_seconds_bucket{le="1"} 1
job_seconds_bucket{le="+Inf"} 3
job_seconds_sum 7.5
job_seconds_count 3
# TYPE s summary
s{quantile="0.5"} 2
s_sum 4
s_count 2
untyped_one 1
`,
    });
    const { families: f } = await collect(collector);
    assert.equal(family(f, "job_seconds")?.type, "histogram");
    assert.equal(sample(f, "job_seconds_bucket", { le: "+Inf" }), 3);
    assert.equal(sample(f, "job_seconds_sum"), 7.5);
    assert.equal(family(f, "s")?.type, "summary");
    assert.equal(sample(f, "s", { quantile: "0.5" }), 2);
    assert.equal(family(f, "untyped_one")?.type, "untyped");
  });

  const bad: { name: string; files: Record<string, string>; file: string; error: RegExp }[] = [
    {
      name: "a malformed file",
      files: { "a.prom": job("backup", 1), "b.prom": "broken{ 1\n" },
      file: "b.prom",
      // The line number only: the reason would quote the file (a secret dropped there by mistake).
      error:
        /^line 1 is not in the Prometheus text format \(run promtool check metrics on it; its content is not logged\)$/,
    },
    {
      name: "timestamps are not accepted",
      files: { "a.prom": job("backup", 1), "b.prom": "x 1 1700000000000\n" },
      file: "b.prom",
      error: /^x has a client-side timestamp/,
    },
    {
      name: "the same metric with another TYPE",
      files: {
        "a.prom": job("backup", 1),
        "b.prom":
          '# TYPE kali_agents_job_last_run_success counter\nkali_agents_job_last_run_success{job="x"} 1\n',
      },
      file: "b.prom",
      error: /^kali_agents_job_last_run_success has TYPE counter here but gauge in a\.prom$/,
    },
    {
      name: "the same metric with another HELP",
      files: { "a.prom": job("backup", 1), "b.prom": job("verify", 1).replace("Whether", "If") },
      file: "b.prom",
      error: /^kali_agents_job_last_run_success has a different HELP here than in a\.prom$/,
    },
    {
      name: "the same series in two files",
      files: { "a.prom": job("backup", 1), "b.prom": job("backup", 0) },
      file: "b.prom",
      error: /^series kali_agents_job_last_run_success\{"job":"backup"\} is already in a\.prom$/,
    },
    {
      name: "a name the exporter publishes itself",
      files: { "a.prom": job("backup", 1), "b.prom": "node_load1 99\n" },
      file: "b.prom",
      error: /^node_load1 is a metric the exporter publishes itself$/,
    },
  ];
  for (const c of bad) {
    test(`${c.name}: scrape_error 1, one log line naming the file, the other files still publish`, async () => {
      const { dir, collector } = setup(c.files);
      const { families: f, logged } = await collect(collector);
      assert.equal(sample(f, "node_textfile_scrape_error"), 1);
      assert.equal(sample(f, "kali_agents_job_last_run_success", { job: "backup" }), 1);
      assert.equal(sample(f, "node_textfile_mtime_seconds", { file: join(dir, c.file) }), undefined);
      assert.ok(sample(f, "node_textfile_mtime_seconds", { file: join(dir, "a.prom") })! > 0);
      assert.equal(logged.length, 1);
      assert.equal(logged[0]!.msg, "textfile skipped");
      assert.equal(logged[0]!.file, c.file);
      assert.match(String(logged[0]!.error), c.error);
    });
  }

  test("a file that stays malformed is logged once, and once more when it is read again", async () => {
    const { dir, collector } = setup({ "a.prom": job("backup", 1), "b.prom": "not a metric line\n" });
    const first = await collect(collector);
    assert.deepEqual(
      first.logged.map((l) => [l.msg, l.file]),
      [["textfile skipped", "b.prom"]],
    );
    for (let i = 0; i < 3; i++) {
      const next = await collect(collector);
      assert.equal(sample(next.families, "node_textfile_scrape_error"), 1);
      assert.deepEqual(next.logged, [], "the same malformed file logged again on the next scrape");
    }
    writeFileSync(join(dir, "b.prom"), job("cleanup", 1));
    const fixed = await collect(collector);
    assert.equal(sample(fixed.families, "node_textfile_scrape_error"), 0);
    assert.deepEqual(
      fixed.logged.map((l) => [l.level, l.msg, l.file, l.failures]),
      [["info", "textfile read again", "b.prom", 4]],
    );
    // Broken again, then deleted while broken: one line for the breakage, none for the deletion.
    writeFileSync(join(dir, "b.prom"), "still not a metric\n");
    assert.equal((await collect(collector)).logged.length, 1);
    rmSync(join(dir, "b.prom"));
    assert.deepEqual((await collect(collector)).logged, []);
    writeFileSync(join(dir, "b.prom"), "broken a third time\n");
    assert.equal((await collect(collector)).logged[0]?.failures, undefined, "a first failure again");
  });

  test("thousands of files skipped together: at most MAX_SKIP_LINES lines a collection, their reminders too", async () => {
    // 40 malformed files at once (a job writing into the wrong folder): their first failures, and five
    // minutes later their reminders, come due together. Each collection writes MAX_SKIP_LINES lines and
    // one counting the rest; before, the reminders were one line per file.
    const dir = tempDir("textfile");
    after(() => rmSync(dir, { recursive: true, force: true }));
    const files = Array.from({ length: 40 }, (_, i) => `bad-${String(i).padStart(2, "0")}.prom`);
    for (const f of files) writeFileSync(join(dir, f), "not a metric line\n");
    writeFileSync(join(dir, "good.prom"), job("backup", 1));
    let clock = Date.parse("2026-12-07T23:58:00Z");
    const collector = textfileCollector.create({ dir, now: () => clock }, createLogger({ write: () => {} }));
    const summary = (logged: Record<string, unknown>[]) =>
      logged.map((l) => [l.msg, l.file ?? l.files] as [unknown, unknown]);
    const skipped = (n: number, rest: number) => [
      ...files.slice(0, n).map((f) => ["textfile skipped", f]),
      ["more textfiles skipped", rest],
    ];

    const first = await collect(collector);
    assert.equal(sample(first.families, "kali_agents_exporter_textfile_skipped", { reason: "invalid" }), 40);
    assert.equal(sample(first.families, "kali_agents_job_last_run_success", { job: "backup" }), 1);
    assert.deepEqual(summary(first.logged), skipped(MAX_SKIP_LINES, 40 - MAX_SKIP_LINES));
    clock += 15_000;
    assert.deepEqual((await collect(collector)).logged, [], "nothing new 15 s later");

    // Five minutes on (past midnight): the reminders, bounded the same way, folded scrapes counted.
    clock += 300_000;
    const reminded = await collect(collector);
    assert.deepEqual(summary(reminded.logged), skipped(MAX_SKIP_LINES, 40 - MAX_SKIP_LINES));
    assert.equal(reminded.logged[0]!.failures, 3);
    clock += 15_000;
    assert.deepEqual((await collect(collector)).logged, [], "the folded files count as reminded");

    // A changed reason is a line too, under the same bound: every file now too large.
    for (const f of files) writeFileSync(join(dir, f), "x".repeat(64));
    const small = textfileCollector.create(
      { dir, maxBytes: 32, now: () => clock },
      createLogger({ write: () => {} }),
    );
    await collect(small);
    for (const f of files) writeFileSync(join(dir, f), "still not a metric line\n");
    clock += 15_000;
    const changed = await collect(small);
    assert.equal(changed.logged.filter((l) => l.msg === "textfile skipped").length, MAX_SKIP_LINES);
    assert.equal(changed.logged.length, MAX_SKIP_LINES + 1);
  });

  test("a missing directory is reported, not fatal; metrics of files that vanish vanish", async () => {
    const { dir, collector } = setup({ "a.prom": job("backup", 1) });
    assert.equal(
      sample((await collect(collector)).families, "kali_agents_job_last_run_success", { job: "backup" }),
      1,
    );
    rmSync(dir, { recursive: true, force: true });
    const { families: f, logged } = await collect(collector);
    assert.equal(sample(f, "node_textfile_scrape_error"), 1);
    assert.equal(family(f, "kali_agents_job_last_run_success"), undefined);
    assert.equal(samples(f, "node_textfile_mtime_seconds").length, 0);
    assert.match(String(logged[0]!.error), /^cannot read the directory: ENOENT/);
  });
});
