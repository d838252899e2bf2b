// Compares this exporter's scrape with a pinned Go exporter's, family by family (issue 26): both are
// scraped twice at the same moments, and every family both publish must have the same type, the same
// label names, the same series (or a verdict in definitions/compat.ts saying why not) and the same
// values within a stated tolerance: gauges by value, counters by value and by their increase between
// the two scrapes (a rate), so a unit error (seconds read as milliseconds, kB as bytes, a factor of
// 1000 or 1024) cannot pass. Pure functions over parsed scrapes: the test of the comparator plants such
// errors in real scrapes and checks that it names them.
import type { SeriesVerdict } from "../../definitions/compat.ts";
import type { Families, MetricFamily, Sample } from "../../test/support/exposition.ts";

/** How far two values of one series may be apart: |a - b| <= abs + rel * max(|a|, |b|). */
export interface Tolerance {
  readonly abs: number;
  readonly rel: number;
  /** For counters: how far the two increases may be apart, relative to the larger (default rel). */
  readonly rateRel?: number;
  /** Why this family needs more than the default, for the reader. */
  readonly reason?: string;
}

/** Values read from the same source at the same moment: equal but for floating point. */
export const exact: Tolerance = { abs: 1e-9, rel: 1e-9 };

export interface ComparePolicy {
  /** The tolerance for a family (default: exact). */
  tolerance(family: string): Tolerance;
  /** Series that one side sees and the other cannot (each exporter's own session): left out of both. */
  ignoreSeries?(family: string, labels: Readonly<Record<string, string>>): boolean;
  /**
   * Where a family's series sets may differ (definitions/compat.ts seriesVerdicts): the Go exporter's
   * series this exporter leaves out by design. Every other series must be on both sides.
   */
  seriesVerdict?(family: string): SeriesVerdict | undefined;
  /** A family that measures the exporter itself (its own scrape time): type and labels compared only. */
  selfMeasured?(family: string): boolean;
  /** Names this exporter publishes (its catalogue): one the Go exporter has and ours lacks is a difference. */
  readonly ourNames?: ReadonlySet<string>;
}

export interface Difference {
  readonly family: string;
  readonly kind: "type" | "labels" | "series" | "value" | "rate";
  readonly detail: string;
}

export interface Scrapes {
  /** Two scrapes of each side; ours[i] and theirs[i] taken at the same moment. */
  readonly ours: readonly [Families, Families];
  readonly theirs: readonly [Families, Families];
}

export interface Comparison {
  /** The families both publish (with samples), sorted. */
  readonly compared: string[];
  /** Families whose series-set verdict let a Go exporter's series pass (a verdict no run uses is stale). */
  readonly verdictsUsed: Set<string>;
  /** Series whose values were compared. */
  readonly seriesCompared: number;
  readonly differences: Difference[];
}

const seriesKey = (s: Sample): string =>
  `${s.name}{${Object.keys(s.labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(s.labels[k])}`)
    .join(",")}}`;

const labelNames = (f: MetricFamily): string =>
  [
    ...new Set(
      f.samples.flatMap((s) =>
        Object.keys(s.labels).filter(
          (l) => !(f.type === "histogram" && s.name.endsWith("_bucket") && l === "le"),
        ),
      ),
    ),
  ]
    .sort()
    .join(",");

const within = (a: number, b: number, t: { abs: number; rel: number }): boolean => {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
  if (a === b) return true;
  return Math.abs(a - b) <= t.abs + t.rel * Math.max(Math.abs(a), Math.abs(b));
};

function bySeries(f: MetricFamily | undefined, keep: (s: Sample) => boolean): Map<string, Sample> {
  const out = new Map<string, Sample>();
  for (const s of f?.samples ?? []) if (keep(s)) out.set(seriesKey(s), s);
  return out;
}

/** Types as both sides write them: untyped and unknown are one thing. */
const typeOf = (f: MetricFamily): string => (f.type === ("unknown" as string) ? "untyped" : f.type);

export function compareScrapes(scrapes: Scrapes, policy: ComparePolicy): Comparison {
  const [ours0, ours1] = scrapes.ours;
  const [theirs0, theirs1] = scrapes.theirs;
  const has = (f: Families, n: string) => (f.get(n)?.samples.length ?? 0) > 0;
  const compared = [...ours1.keys()].filter((n) => has(ours1, n) && has(theirs1, n)).sort();
  const differences: Difference[] = [];
  const verdictsUsed = new Set<string>();
  for (const name of policy.ourNames ?? [])
    if (has(theirs1, name) && !has(ours1, name))
      differences.push({ family: name, kind: "series", detail: "published by theirs, absent from ours" });
  let seriesCompared = 0;
  for (const name of compared) {
    const o1 = ours1.get(name)!;
    const t1 = theirs1.get(name)!;
    if (typeOf(o1) !== typeOf(t1))
      differences.push({ family: name, kind: "type", detail: `ours ${o1.type}, theirs ${t1.type}` });
    const keep = (s: Sample) => !(policy.ignoreSeries?.(name, s.labels) ?? false);
    const ol = labelNames({ ...o1, samples: o1.samples.filter(keep) });
    const tl = labelNames({ ...t1, samples: t1.samples.filter(keep) });
    if (ol !== tl) differences.push({ family: name, kind: "labels", detail: `ours {${ol}}, theirs {${tl}}` });
    if (policy.selfMeasured?.(name)) continue;
    const ours = [bySeries(ours0.get(name), keep), bySeries(o1, keep)] as const;
    const theirs = [bySeries(theirs0.get(name), keep), bySeries(t1, keep)] as const;
    if (ol === tl) {
      const verdict = policy.seriesVerdict?.(name);
      const allowed = (s: Sample) =>
        verdict !== undefined && verdict.theirsOnly.values.includes(s.labels[verdict.theirsOnly.label] ?? "");
      const onlyOurs = [...ours[1].keys()].filter((k) => !theirs[1].has(k));
      const theirsOnly = [...theirs[1]].filter(([k]) => !ours[1].has(k));
      if (theirsOnly.some(([, s]) => allowed(s))) verdictsUsed.add(name);
      const onlyTheirs = theirsOnly.filter(([, s]) => !allowed(s)).map(([k]) => k);
      if (onlyOurs.length > 0 || onlyTheirs.length > 0)
        differences.push({
          family: name,
          kind: "series",
          detail: `only ours: ${onlyOurs.slice(0, 5).join(" ") || "-"}${onlyOurs.length > 5 ? ` (+${onlyOurs.length - 5})` : ""}; only theirs: ${onlyTheirs.slice(0, 5).join(" ") || "-"}${onlyTheirs.length > 5 ? ` (+${onlyTheirs.length - 5})` : ""}`,
        });
    }
    const tol = policy.tolerance(name);
    const counter = o1.type === "counter";
    for (const [key, o] of ours[1]) {
      const t = theirs[1].get(key);
      if (!t) continue;
      seriesCompared++;
      const o0 = ours[0].get(key)?.value;
      const t0 = theirs[0].get(key)?.value;
      if (counter && o0 !== undefined && t0 !== undefined) {
        // A counter moves between the two sides' reads of the same moment by at most what it moved
        // between the two scrapes.
        const slack = Math.abs(o.value - o0) + Math.abs(t.value - t0);
        if (!within(o.value, t.value, { abs: tol.abs + slack, rel: tol.rel }))
          differences.push({
            family: name,
            kind: "value",
            detail: `${key}: ours ${o.value}, theirs ${t.value}`,
          });
        const dOurs = o.value - o0;
        const dTheirs = t.value - t0;
        if (!within(dOurs, dTheirs, { abs: tol.abs, rel: tol.rateRel ?? tol.rel }))
          differences.push({
            family: name,
            kind: "rate",
            detail: `${key}: ours +${dOurs}, theirs +${dTheirs} between the scrapes`,
          });
      } else if (!within(o.value, t.value, tol))
        differences.push({
          family: name,
          kind: "value",
          detail: `${key}: ours ${o.value}, theirs ${t.value}`,
        });
    }
  }
  return { compared, seriesCompared, verdictsUsed, differences };
}

/** A policy from a table of tolerances by family-name pattern (first match wins; default exact). */
export function toleranceTable(
  rows: readonly (readonly [RegExp, Tolerance])[],
): (family: string) => Tolerance {
  return (family) => rows.find(([re]) => re.test(family))?.[1] ?? exact;
}

/** One line per difference, for an assertion message. */
export const showDifferences = (d: readonly Difference[]): string =>
  d.map((x) => `${x.family} [${x.kind}] ${x.detail}`).join("\n");
