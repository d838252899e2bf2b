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
const args = [
  "--import",
  "tsx",
  "--test",
  `--test-concurrency=${concurrency}`,
  // Per test file: the container tests (test/containers/stack.test.ts) start and stop the whole stack
  // under compose several times, about 5 minutes on a quiet machine; 15 leaves room for a loaded one.
  "--test-timeout=900000",
  ...files,
];
const child = spawn(process.execPath, args, { cwd: root, stdio: "inherit" });
child.on("exit", (code, signal) => process.exit(signal ? 1 : (code ?? 1)));
