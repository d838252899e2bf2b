// Generated files are committed; this fails when regenerating would change any of them.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { generators } from "../scripts/generators.ts";

const root = new URL("..", import.meta.url).pathname;

for (const [name, load] of Object.entries(generators)) {
  test(`generated files of ${name} match their sources (run \`npm run generate\`)`, async () => {
    const files = await (await load()).outputs();
    assert.ok(Object.keys(files).length > 0, `${name} generates nothing`);
    for (const [path, content] of Object.entries(files)) {
      const full = join(root, path);
      assert.ok(existsSync(full), `${path} is missing: run npm run generate and commit it`);
      assert.equal(
        readFileSync(full, "utf8"),
        content,
        `${path} is stale: run npm run generate and commit it`,
      );
    }
  });
}
