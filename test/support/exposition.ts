// Reading /metrics in tests: the strict text-format parser (lib/exposition.ts, shared with the
// textfile collector) plus look-up helpers and a scrape helper.
import { gunzipSync } from "node:zlib";
import { parseExposition, type Families, type MetricFamily, type Sample } from "../../lib/exposition.ts";

export {
  ExpositionError,
  formatExposition,
  parseExposition,
  type Families,
  type FamilyType,
  type MetricFamily,
  type Sample,
} from "../../lib/exposition.ts";

const matches = (s: Sample, labels: Record<string, string>): boolean =>
  Object.entries(labels).every(([k, v]) => s.labels[k] === v);

/** Every sample named `name` (e.g. `x_bucket`) whose labels include `labels`. */
export function samples(families: Families, name: string, labels: Record<string, string> = {}): Sample[] {
  const out: Sample[] = [];
  for (const fam of families.values())
    for (const s of fam.samples) if (s.name === name && matches(s, labels)) out.push(s);
  return out;
}

/**
 * The value of the one sample named `name` whose labels include `labels`; undefined when none does.
 * Throws when several do, so that a test never reads an arbitrary one of them.
 */
export function sample(
  families: Families,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const found = samples(families, name, labels);
  if (found.length > 1)
    throw new Error(
      `${found.length} samples of ${name} match ${JSON.stringify(labels)}: ` +
        found.map((s) => JSON.stringify(s.labels)).join(" "),
    );
  return found[0]?.value;
}

/** The family named `name` (its base name: `x`, not `x_bucket`). */
export function family(families: Families, name: string): MetricFamily | undefined {
  return families.get(name);
}

export interface Scrape {
  status: number;
  headers: Headers;
  text: string;
  families: Families;
  /** Wall-clock milliseconds the request took. */
  ms: number;
}

/** GETs a /metrics URL and parses the body (throws on a parse error; a non-200 is returned as is). */
export async function scrape(url: string, headers: Record<string, string> = {}): Promise<Scrape> {
  const started = performance.now();
  const res = await fetch(url, { headers });
  const text = await res.text();
  const ms = performance.now() - started;
  const families = res.status === 200 ? parseExposition(text) : new Map<string, MetricFamily>();
  return { status: res.status, headers: res.headers, text, families, ms };
}

/** Decompresses a gzip body (for tests that fetch with a raw Accept-Encoding). */
export const gunzip = (body: ArrayBuffer): string => gunzipSync(Buffer.from(body)).toString("utf8");
