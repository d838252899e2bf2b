// Generated blocks in hand-written files (scripts/docs/markers.ts): the prose around a block is kept byte
// for byte, and every way a pair of markers can be wrong stops the generation with one line naming the
// file and the block.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fillBlocks, hashMarkers, MarkerError } from "../scripts/docs/markers.ts";
import { generators } from "../scripts/generators.ts";

const root = new URL("..", import.meta.url).pathname;

const page = [
  "# Title",
  "",
  "Prose | with a pipe, `code`, and <!-- a comment --> kept as written.",
  "<!-- generated: table -->",
  "| stale | table |",
  "<!-- end generated: table -->",
  "More prose.",
  "<!-- generated: list -->",
  "<!-- end generated: list -->",
  "",
].join("\n");

/** The one-line error fillBlocks throws on `text`, or undefined when it fills. */
function error(text: string, blocks: Record<string, string> = { table: "T", list: "L" }): string | undefined {
  try {
    fillBlocks("docs/page.md", text, blocks);
    return undefined;
  } catch (e) {
    assert.ok(e instanceof MarkerError, String(e));
    assert.equal(e.message.split("\n").length, 1, `one line: ${e.message}`);
    return e.message;
  }
}

test("a block replaces only what is between its markers, and filling again changes nothing", () => {
  const filled = fillBlocks("docs/page.md", page, { table: "| a | b |\n| 1 | 2 |\n", list: "- x" });
  assert.equal(
    filled,
    [
      "# Title",
      "",
      "Prose | with a pipe, `code`, and <!-- a comment --> kept as written.",
      "<!-- generated: table -->",
      "",
      "| a | b |",
      "| 1 | 2 |",
      "",
      "<!-- end generated: table -->",
      "More prose.",
      "<!-- generated: list -->",
      "",
      "- x",
      "",
      "<!-- end generated: list -->",
      "",
    ].join("\n"),
  );
  assert.equal(fillBlocks("docs/page.md", filled, { table: "| a | b |\n| 1 | 2 |\n", list: "- x" }), filled);
});

test("a missing, doubled, reversed, nested or unknown marker is one line naming the file and the block", () => {
  const cases: [string, string, RegExp][] = [
    [
      "start missing",
      page.replace("<!-- generated: table -->\n", ""),
      /^docs\/page\.md: generated block "table": "<!-- generated: table -->" is missing/,
    ],
    [
      "end missing",
      page.replace("<!-- end generated: list -->\n", ""),
      /^docs\/page\.md: generated block "list": "<!-- end generated: list -->" is missing \(the block starts on line 8\)$/,
    ],
    [
      "start doubled",
      page + "<!-- generated: table -->\n",
      /^docs\/page\.md: generated block "table": "<!-- generated: table -->" appears 2 times \(lines 4, 10\): keep one$/,
    ],
    [
      "end doubled",
      page.replace("More prose.", "<!-- end generated: table -->"),
      /^docs\/page\.md: generated block "table": "<!-- end generated: table -->" appears 2 times \(lines 6, 7\)/,
    ],
    [
      "end before start",
      page.replace(
        "<!-- generated: list -->\n<!-- end generated: list -->",
        "<!-- end generated: list -->\n<!-- generated: list -->",
      ),
      /^docs\/page\.md: generated block "list": "<!-- end generated: list -->" \(line 8\) comes before its start \(line 9\)$/,
    ],
    [
      "nested",
      page
        .replace("| stale | table |", "<!-- generated: list -->")
        .replace("More prose.\n<!-- generated: list -->\n", ""),
      /^docs\/page\.md: generated block "list": its start \(line 5\) is inside the block "table" \(lines 4-6\)$/,
    ],
    [
      "unknown",
      page + "<!-- generated: tabel -->\n<!-- end generated: tabel -->\n",
      /^docs\/page\.md: generated block "tabel": the file has its marker but the generator makes no such block \(it makes table, list\)/,
    ],
  ];
  for (const [what, text, want] of cases) assert.match(error(text) ?? "(no error)", want, what);
  assert.equal(error(page), undefined);
});

test("a value the prose writes by hand must still be there, wrapped or not, and only in the prose", () => {
  const fill = (text: string, named: Record<string, string>) =>
    fillBlocks("docs/page.md", text, { table: "T", list: "L" }, { named });
  assert.doesNotThrow(() => fill(page, { "a code span": "`code`, and <!-- a" }));
  assert.doesNotThrow(() => fill(page.replace("pipe, `code`", "pipe,\n`code`"), { wrapped: "pipe, `code`" }));
  assert.throws(
    () => fill(page, { "overlay.namespace": "`kali-agents`" }),
    /^MarkerError: docs\/page\.md: the prose no longer says `kali-agents` \(overlay\.namespace\): write the new value there$/,
  );
  // What a block held before filling is not prose.
  assert.throws(
    () => fill(page, { stale: "| stale | table |" }),
    /the prose no longer says \| stale \| table \|/,
  );
});

test(".gitattributes blocks take # markers", () => {
  const text = "* text=auto\n# generated: linguist\nold\n# end generated: linguist\n";
  assert.equal(
    fillBlocks(".gitattributes", text, { linguist: "a linguist-generated=true" }, { syntax: hashMarkers }),
    "* text=auto\n# generated: linguist\n\na linguist-generated=true\n\n# end generated: linguist\n",
  );
  assert.throws(
    () => fillBlocks(".gitattributes", "* text=auto\n", { linguist: "" }, { syntax: hashMarkers }),
    /^MarkerError: \.gitattributes: generated block "linguist": "# generated: linguist" is missing/,
  );
});

test("each generated Markdown page keeps its prose: a committed page with a marker removed fails its generator", async () => {
  // Every page a generator fills: remove its first start marker in a copy and run the same fill.
  let pages = 0;
  for (const [name, load] of Object.entries(generators)) {
    const files = await (await load()).outputs();
    for (const [path, content] of Object.entries(files)) {
      const start = /^<!-- generated: (\S+) -->$/m.exec(content);
      if (!start) continue;
      pages++;
      const committed = readFileSync(join(root, path), "utf8");
      const blocks: Record<string, string> = {};
      for (const m of content.matchAll(
        /^<!-- generated: (\S+) -->\n\n([\s\S]*?)\n\n<!-- end generated: \1 -->$/gm,
      ))
        blocks[m[1]!] = m[2]!;
      assert.equal(fillBlocks(path, committed, blocks), content, `${name}: ${path}`);
      assert.throws(
        () => fillBlocks(path, committed.replace(start[0] + "\n", ""), blocks),
        new RegExp(
          `^MarkerError: ${path.replace(/\./g, "\\.")}: generated block "${start[1]}": ".*" is missing`,
        ),
        path,
      );
    }
  }
  assert.ok(pages >= 5, `only ${pages} pages with generated blocks`);
});
