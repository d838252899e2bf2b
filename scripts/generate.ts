// Writes every generated file: Prometheus and Loki rules, dashboards, and the generated docs.
// Each generator module exports `outputs(): Promise<Record<string, string>> | Record<string, string>`
// mapping a path relative to the repository root to its exact content; test/drift.test.ts calls the
// same functions and fails when a committed file differs, so CI catches a forgotten regeneration.
//
// Usage: npm run generate
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { generators } from "./generators.ts";

const root = new URL("..", import.meta.url).pathname;
let count = 0;
for (const [name, load] of Object.entries(generators)) {
  const files = await (await load()).outputs();
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
    count++;
  }
  console.log(`generate: ${name}: ${Object.keys(files).length} files`);
}
console.log(`generate: wrote ${count} files`);
