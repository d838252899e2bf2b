// Docs are part of the product: every relative link in every Markdown file of the repository must
// point at a file (or folder) that exists, and every `#anchor` into a Markdown file at one of its
// headings, so a renamed runbook or section cannot leave a dead link behind.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { test } from "node:test";

const root = new URL("..", import.meta.url).pathname;
const skip = new Set(["node_modules", "dist", ".git", ".tmp"]);

function markdownFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (e.isDirectory()) return skip.has(e.name) ? [] : markdownFiles(join(dir, e.name));
    return e.name.endsWith(".md") ? [join(dir, e.name)] : [];
  });
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes. */
export function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/`/g, "")
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

function anchors(file: string): Set<string> {
  const text = readFileSync(file, "utf8").replace(/```[\s\S]*?```/g, "");
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const m of text.matchAll(/^#{1,6}\s+(.+?)\s*#*$/gm)) {
    const base = anchorOf(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  for (const m of text.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) out.add(m[1]!);
  return out;
}

/** Relative link targets of a Markdown text, code blocks and inline code left out. */
export function links(markdown: string): string[] {
  const text = markdown.replace(/```[\s\S]*?```/g, "").replace(/`[^`\n]*`/g, "");
  const out: string[] = [];
  for (const m of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) out.push(m[1]!);
  for (const m of text.matchAll(/^\[[^\]]+\]:\s+(\S+)/gm)) out.push(m[1]!);
  return out.filter((l) => !/^[a-z][a-z0-9+.-]*:/i.test(l)); // http:, https:, mailto: are not ours
}

test("link extraction skips code and absolute URLs", () => {
  assert.deepEqual(
    links("see [a](docs/a.md) and [b](https://x.y/z)\n```\n[c](nope.md)\n```\n`[d](nope.md)` [e](#top)"),
    ["docs/a.md", "#top"],
  );
  assert.equal(anchorOf("Step 2: restore `scans` (by hand)"), "step-2-restore-scans-by-hand");
});

const files = markdownFiles(root);

test("the repository has its documentation", () => {
  for (const doc of ["README.md", "docs/configuration.md", "docs/metrics.md", "docs/alerting.md"]) {
    assert.ok(existsSync(join(root, doc)), `${doc} is missing`);
  }
});

for (const file of files) {
  const rel = relative(root, file);
  test(`every relative link in ${rel} resolves`, () => {
    const dead: string[] = [];
    for (const link of links(readFileSync(file, "utf8"))) {
      const [pathPart, anchor] = link.split("#", 2) as [string, string | undefined];
      const target = pathPart === "" ? file : join(dirname(file), decodeURIComponent(pathPart));
      if (!existsSync(target)) {
        dead.push(`${link} (no such file)`);
        continue;
      }
      if (anchor && target.endsWith(".md") && statSync(target).isFile() && !anchors(target).has(anchor)) {
        dead.push(`${link} (no heading #${anchor})`);
      }
    }
    assert.deepEqual(dead, [], `${rel} has dead links`);
  });
}
