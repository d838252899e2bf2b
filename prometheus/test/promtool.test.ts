// The artefacts as Prometheus itself reads them: `promtool check config` on prometheus.yml (which also
// checks every rule file it names), `promtool check rules` on each generated rule file, and
// `promtool test rules` on each test file in prometheus/test/promtool/ (which load the generated YAML,
// not the TypeScript). promtool is the pinned 3.14.0 (test/support/upstream.ts); each test file runs as
// its own process, in parallel, so a failure names its file.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { findBinary, requireBinaries, run, tempDir } from "../../test/support/servers.ts";

const promDir = new URL("..", import.meta.url).pathname;
const generatedDir = join(promDir, "rules", "generated");
const testsDir = join(promDir, "test", "promtool");
const ymlIn = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.endsWith(".yml"))
    .sort();

/** Runs promtool asynchronously, so the test files' runs overlap on the machine's cores. */
function promtool(args: string[]): Promise<{ status: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const bin = findBinary("promtool");
    if (!bin) return reject(new Error("promtool is not installed"));
    const child = spawn(bin, args, { cwd: promDir, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    child.stderr.on("data", (b: Buffer) => (out += b.toString()));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, out }));
  });
}

describe("promtool", { skip: requireBinaries("promtool") }, () => {
  test("prometheus.yml passes promtool check config (with its rule files and file_sd targets)", () => {
    const r = run("promtool", ["check", "config", "prometheus.yml"], { cwd: promDir });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    // The rule_files glob must find every generated file, not silently none.
    const found = /SUCCESS: (\d+) rule files found/.exec(r.stdout + r.stderr);
    assert.equal(Number(found?.[1]), ymlIn(generatedDir).length, r.stdout + r.stderr);
  });

  test("every generated rule file passes promtool check rules", () => {
    const files = ymlIn(generatedDir);
    assert.ok(files.length >= 8, `expected the generated rule files, found ${files.join(", ")}`);
    for (const f of files) {
      const r = run("promtool", ["check", "rules", join(generatedDir, f)]);
      assert.equal(r.status, 0, `${f}:\n${r.stdout}${r.stderr}`);
    }
  });

  test("every promtool test file passes promtool test rules", async () => {
    const files = ymlIn(testsDir);
    assert.ok(files.length >= 8, `expected the promtool test files, found ${files.join(", ")}`);
    const results = await Promise.all(
      files.map((f) => promtool(["test", "rules", join("test", "promtool", f)])),
    );
    const failed = results
      .map((r, i) => ({ ...r, file: files[i] }))
      .filter((r) => r.status !== 0 || !/SUCCESS/.test(r.out));
    assert.deepEqual(
      failed.map((r) => r.file),
      [],
      failed.map((r) => `${r.file}:\n${r.out}`).join("\n"),
    );
  });

  test("a wrong expectation makes promtool test rules fail (the harness can fail)", () => {
    const dir = tempDir("promtool");
    try {
      const file = join(dir, "wrong.yml");
      writeFileSync(
        file,
        [
          `rule_files: [${JSON.stringify(join(generatedDir, "stack.yml"))}]`,
          "tests:",
          "  - alert_rule_test:",
          "      - eval_time: 0m",
          "        alertname: Watchdog",
          "        exp_alerts: []",
        ].join("\n"),
      );
      const r = run("promtool", ["test", "rules", file]);
      assert.notEqual(r.status, 0, r.stdout + r.stderr);
      // It failed on the expectation (the Watchdog did fire), not on a missing file.
      assert.match(r.stdout + r.stderr, /got:[\s\S]*alertname="Watchdog"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
