// .gitattributes: every file `npm run generate` writes whole is marked linguist-generated (shown
// collapsed in diffs), listed from what the other generators return, so a new generated file is marked
// the day it appears. Files written by hand with only a block generated (Markdown with
// `<!-- generated: NAME -->` markers, and this file) are not marked: their diffs are reviewed. The list sits between
// the "linguist-generated" markers (scripts/docs/markers.ts); the rest of the file is written by hand.
// The last row of scripts/generators.ts, which hands it the rows before it (so this file imports no
// generator table); test/drift.test.ts asks git which paths carry the attribute.
import { fillFile, hashMarkers, markdownMarkers } from "./docs/markers.ts";

export const path = ".gitattributes";

/** A row of scripts/generators.ts, as far as this file needs it. */
type Load = () => Promise<{ outputs(): Promise<Record<string, string>> | Record<string, string> }>;

/** Whether a generated file is a hand-written file with generated blocks (Markdown, or this file). */
export const hasBlocks = (content: string): boolean =>
  content
    .split("\n")
    .some((l) =>
      [markdownMarkers, hashMarkers].some((m) => m.line.exec(l)?.[1] === undefined && m.line.test(l)),
    );

/** Every path the `generators` write whole, sorted. */
async function wholeFiles(generators: Record<string, Load>): Promise<string[]> {
  const out: string[] = [];
  for (const load of Object.values(generators))
    for (const [p, content] of Object.entries(await (await load()).outputs()))
      if (!hasBlocks(content)) out.push(p);
  return out.sort();
}

/** The .gitattributes generator over the other generators' outputs. */
export const gitattributesOf = (generators: Record<string, Load>) => ({ outputs: () => outputs(generators) });

async function outputs(generators: Record<string, Load>): Promise<Record<string, string>> {
  const paths = await wholeFiles(generators);
  // A pattern in .gitattributes is a glob, unquoted: a generated name must need no escaping.
  const odd = paths.find((p) => /[\s*?[\]\\!#"]/.test(p));
  if (odd)
    throw new Error(
      `${path}: the generated path ${JSON.stringify(odd)} cannot be written as a plain pattern`,
    );
  return {
    [path]: fillFile(
      path,
      { "linguist-generated": paths.map((p) => `${p} linguist-generated=true`).join("\n") },
      { syntax: hashMarkers },
    ),
  };
}
