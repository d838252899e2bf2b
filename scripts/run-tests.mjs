#!/usr/bin/env node
// Runs every *.test.ts in the repository with node's built-in test runner (through tsx).
// Node 20's runner does not expand globs itself, so the files are found here.
// Usage: node scripts/run-tests.mjs [path-substring ...]   (filters the files by substring)
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const skipDirs = new Set(["node_modules", "dist", ".git", ".tmp"]);

function find(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) {
      if (!skipDirs.has(entry.name)) out.push(...find(join(dir, entry.name)));
    } else if (entry.name.endsWith(".test.ts")) {
      out.push(relative(root, join(dir, entry.name)));
    }
  }
  return out;
}

const filters = process.argv.slice(2);
const files = find(root)
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error(`run-tests: no test files match ${filters.join(" ") || "*.test.ts"}`);
  process.exit(1);
}

const concurrency = process.env.TEST_CONCURRENCY ?? "2";
// The stack in containers (test/containers/stack.test.ts) is one compose project that its tests share:
// the file as a whole takes minutes (its RedisDown waits for the rule's `for: 1m`), and it may first wait
// for another run's lock. It runs in a runner of its own, beside the others, with a longer timeout;
// every other file keeps the 5-minute one.
const long = new Set(["test/containers/stack.test.ts"]);
const groups = [
  { files: files.filter((f) => !long.has(f)), timeout: 300_000, concurrency },
  { files: files.filter((f) => long.has(f)), timeout: 1_500_000, concurrency: "1" },
].filter((g) => g.files.length > 0);
const codes = await Promise.all(
  groups.map(
    (g) =>
      new Promise((resolve) => {
        const args = [
          "--import",
          "tsx",
          "--test",
          `--test-concurrency=${g.concurrency}`,
          `--test-timeout=${g.timeout}`,
          ...g.files,
        ];
        const child = spawn(process.execPath, args, { cwd: root, stdio: "inherit" });
        child.on("exit", (code, signal) => resolve(signal ? 1 : (code ?? 1)));
      }),
  ),
);
process.exit(codes.every((c) => c === 0) ? 0 : 1);
