// Generated files are committed; this fails when regenerating would change any of them.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { generators } from "../scripts/generators.ts";
import { hasBlocks } from "../scripts/gitattributes.ts";

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

test("git marks every file a generator writes whole linguist-generated, and no page with hand-written prose", async () => {
  const whole: string[] = [];
  const withProse: string[] = [];
  for (const load of Object.values(generators))
    for (const [path, content] of Object.entries(await (await load()).outputs()))
      (hasBlocks(content) ? withProse : whole).push(path);
  assert.ok(
    whole.length >= 50 && withProse.length >= 8,
    `${whole.length} whole, ${withProse.length} with prose`,
  );
  // What git itself reads from .gitattributes, not a parse of ours.
  const attribute = new Map(
    execFileSync("git", ["check-attr", "linguist-generated", "--", ...whole, ...withProse], {
      cwd: root,
      encoding: "utf8",
    })
      .trim()
      .split("\n")
      .map((l) => {
        const m = /^(.*): linguist-generated: (\S+)$/.exec(l);
        assert.ok(m, l);
        return [m[1]!, m[2]!] as const;
      }),
  );
  assert.deepEqual(
    whole.filter((p) => attribute.get(p) !== "true"),
    [],
    "generated but not marked linguist-generated in .gitattributes (run npm run generate)",
  );
  assert.deepEqual(
    withProse.filter((p) => attribute.get(p) !== "unspecified"),
    [],
    "hand-written prose marked generated",
  );
});

// definitions/ is read by hand: what a tool writes there sits in definitions/generated/, apart from the
// hand-written modules. The files there are `npm run generate`'s outputs, and the community dashboards'
// names that scripts/compat-extract.ts writes when run by hand against the dashboards' repositories.
test("the generated files of definitions/ are in definitions/generated/, and only those", async () => {
  const outputs = (
    await Promise.all(
      Object.values(generators).map(async (load) => Object.keys(await (await load()).outputs())),
    )
  ).flat();
  const misplaced = outputs.filter(
    (p) => p.startsWith("definitions/") && !p.startsWith("definitions/generated/"),
  );
  assert.deepEqual(misplaced, [], "generated into definitions/ beside the hand-written modules");
  const doNotEdit = (path: string) =>
    readFileSync(join(root, path), "utf8").slice(0, 300).includes("DO NOT EDIT");
  const generated = readdirSync(join(root, "definitions/generated")).map((f) => `definitions/generated/${f}`);
  assert.ok(generated.includes("definitions/generated/compat-dashboards.ts"));
  assert.deepEqual(
    generated.filter((p) => !doNotEdit(p)),
    [],
    "files in definitions/generated/ that do not say they are generated",
  );
  const handWritten = readdirSync(join(root, "definitions"), { recursive: true, encoding: "utf8" })
    .map((f) => `definitions/${f}`)
    .filter((p) => !p.startsWith("definitions/generated") && /\.(ts|json)$/.test(p));
  assert.ok(handWritten.length > 10, `only ${handWritten.length} hand-written files found`);
  assert.deepEqual(
    handWritten.filter(doNotEdit),
    [],
    "files that say they are generated among the hand-written modules of definitions/",
  );
});
