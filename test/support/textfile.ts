// The contract between the ops jobs and the exporter, as the tests read it: what the exporter's textfile
// collector publishes from a folder the jobs write. It lives in the shared harness because it joins two
// programs, which never import each other (eslint.boundaries.js keeps them apart).
import { textfileCollector } from "../../exporter/src/collectors/textfile.ts";
import { parseExposition, type Families } from "../../lib/exposition.ts";
import { createLogger } from "../../lib/log.ts";

/** What the exporter's textfile collector publishes from `dir`, and the files it skipped. */
export async function publishedFrom(dir: string): Promise<{ families: Families; skipped: string[] }> {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({
    level: "debug",
    write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>),
  });
  const c = textfileCollector.create({ dir }, log);
  await c.collect({ signal: new AbortController().signal, deadline: Date.now() + 5000, log });
  return {
    families: parseExposition(await c.registry.metrics()),
    skipped: lines
      .filter((l) => l.msg === "textfile skipped")
      .map((l) => `${String(l.file)}: ${String(l.error)}`),
  };
}
