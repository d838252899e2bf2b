// Generated blocks inside hand-written files. The prose of a page is a committed Markdown file, edited
// as Markdown; what is derived from the code (a table of alerts, of variables, of metrics) sits between
// a pair of markers on lines of their own,
//
//   <!-- generated: NAME -->
//   ...
//   <!-- end generated: NAME -->
//
// and its generator replaces only what is between them (in .gitattributes, `# generated: NAME` and
// `# end generated: NAME`). A marker missing, doubled, out of order, inside another block, or naming no
// block of the generator stops the generation with one line naming the file and the marker
// (test/docs-markers.test.ts).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

export interface MarkerSyntax {
  readonly start: (name: string) => string;
  readonly end: (name: string) => string;
  /** A whole line that is a start or end marker: group 1 is "end " or empty, group 2 the name. */
  readonly line: RegExp;
}

export const markdownMarkers: MarkerSyntax = {
  start: (name) => `<!-- generated: ${name} -->`,
  end: (name) => `<!-- end generated: ${name} -->`,
  line: /^<!-- (end )?generated: (\S*) -->$/,
};

export const hashMarkers: MarkerSyntax = {
  start: (name) => `# generated: ${name}`,
  end: (name) => `# end generated: ${name}`,
  line: /^# (end )?generated: (\S*)$/,
};

const root = new URL("../..", import.meta.url).pathname;

export class MarkerError extends Error {
  override name = "MarkerError";
}

export interface FillOptions {
  readonly syntax?: MarkerSyntax;
  /**
   * Values the prose writes out by hand (outside the blocks) that come from the code: each must appear
   * there as given (white space aside), so a renamed namespace or job stops the generation instead of
   * leaving the page wrong.
   */
  readonly named?: Readonly<Record<string, string>>;
}

/**
 * `text` (the content of `path`) with the lines between each pair of markers replaced by the block of
 * that name, set off by a blank line on each side. Every block must have exactly one pair, and every
 * pair a block.
 */
export function fillBlocks(
  path: string,
  text: string,
  blocks: Readonly<Record<string, string>>,
  { syntax = markdownMarkers, named = {} }: FillOptions = {},
): string {
  const lines = text.split("\n");
  const found = new Map<string, { starts: number[]; ends: number[] }>();
  lines.forEach((l, i) => {
    const m = syntax.line.exec(l);
    if (!m) return;
    const at = found.get(m[2]!) ?? { starts: [], ends: [] };
    (m[1] ? at.ends : at.starts).push(i);
    found.set(m[2]!, at);
  });
  const fail = (name: string, problem: string): never => {
    throw new MarkerError(`${path}: generated block "${name}": ${problem}`);
  };
  const lineList = (ns: number[]) => ns.map((n) => n + 1).join(", ");
  for (const name of found.keys())
    if (!(name in blocks))
      fail(
        name,
        `the file has its marker but the generator makes no such block (it makes ${Object.keys(blocks).join(", ") || "none"}): remove the marker or rename it`,
      );
  const spans: { name: string; from: number; to: number }[] = [];
  for (const name of Object.keys(blocks)) {
    const { starts, ends } = found.get(name) ?? { starts: [], ends: [] };
    if (starts.length === 0)
      fail(name, `"${syntax.start(name)}" is missing: put the pair where the block goes`);
    if (starts.length > 1)
      fail(
        name,
        `"${syntax.start(name)}" appears ${starts.length} times (lines ${lineList(starts)}): keep one`,
      );
    if (ends.length === 0)
      fail(name, `"${syntax.end(name)}" is missing (the block starts on line ${starts[0]! + 1})`);
    if (ends.length > 1)
      fail(name, `"${syntax.end(name)}" appears ${ends.length} times (lines ${lineList(ends)}): keep one`);
    if (ends[0]! < starts[0]!)
      fail(
        name,
        `"${syntax.end(name)}" (line ${ends[0]! + 1}) comes before its start (line ${starts[0]! + 1})`,
      );
    spans.push({ name, from: starts[0]!, to: ends[0]! });
  }
  spans.sort((a, b) => a.from - b.from);
  for (let i = 1; i < spans.length; i++)
    if (spans[i]!.from < spans[i - 1]!.to)
      fail(
        spans[i]!.name,
        `its start (line ${spans[i]!.from + 1}) is inside the block "${spans[i - 1]!.name}" (lines ${spans[i - 1]!.from + 1}-${spans[i - 1]!.to + 1})`,
      );
  // Compared with every run of white space as one space: a name may be wrapped across two lines.
  const words = (t: string) => t.replace(/\s+/g, " ");
  const prose = words(
    spans.reduceRight((kept, s) => [...kept.slice(0, s.from + 1), ...kept.slice(s.to)], lines).join("\n"),
  );
  for (const [what, value] of Object.entries(named))
    if (!prose.includes(words(value)))
      throw new MarkerError(
        `${path}: the prose no longer says ${value} (${what}): write the new value there`,
      );
  const out: string[] = [];
  let next = 0;
  for (const s of spans) {
    out.push(...lines.slice(next, s.from + 1), "", blocks[s.name]!.replace(/\n+$/, ""), "");
    next = s.to;
  }
  out.push(...lines.slice(next));
  return out.join("\n");
}

/** fillBlocks on the committed file at `path` (relative to the repository root). */
export function fillFile(
  path: string,
  blocks: Readonly<Record<string, string>>,
  options: FillOptions = {},
): string {
  const full = join(root, path);
  if (!existsSync(full))
    throw new MarkerError(
      `${path}: missing; it holds the prose around the generated blocks ${Object.keys(blocks).join(", ")}`,
    );
  return fillBlocks(path, readFileSync(full, "utf8"), blocks, options);
}
