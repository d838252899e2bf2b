// Small statistics for benchmark figures. The machine is shared and noisy, so every figure is taken
// several times and reported as median with min and max; comparisons are ratios taken in the same run.

/** The q-quantile (0..1) of the values, nearest-rank on the sorted copy (as wrk and hyperfine report). */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] as number;
}

export interface Spread {
  median: number;
  min: number;
  max: number;
  /** How many runs the spread is over. */
  n: number;
}

export function spread(values: readonly number[]): Spread {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, n: 0 };
  return {
    median: quantile(finite, 0.5),
    min: Math.min(...finite),
    max: Math.max(...finite),
    n: finite.length,
  };
}

/** A number with a sensible count of significant digits for a table cell. */
export function fmt(v: number, digits = 3): string {
  if (!Number.isFinite(v)) return "n/a";
  if (v === 0) return "0";
  const abs = Math.abs(v);
  if (abs >= 1000) return v.toFixed(0);
  return Number(v.toPrecision(digits)).toString();
}

/** "median (min–max)" for a table cell. */
export function fmtSpread(s: Spread, digits = 3): string {
  if (s.n === 0) return "n/a";
  if (s.n === 1 || s.min === s.max) return fmt(s.median, digits);
  return `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`;
}

/** Ratio a/b formatted as "0.42×"; n/a when either side is missing. */
export function fmtRatio(a: number, b: number): string {
  if (!Number.isFinite(a) || !Number.isFinite(b) || b === 0) return "n/a";
  return `${fmt(a / b, 2)}×`;
}
