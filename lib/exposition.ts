// A strict parser of the Prometheus text exposition format (version 0.0.4). The textfile collector
// uses it to validate the files it republishes, and the tests use it to read /metrics: a test that
// parses our output with a lenient parser would let a malformed line through to Prometheus.
//
// Hand-written because no maintained JavaScript parser is strict. The npm one,
// parse-prometheus-text-format 1.1.1, tried on ten malformed texts (a sample without a value, a value
// that is not a number, a series twice, TYPE after its samples, a family split in two, buckets not
// cumulative, no +Inf bucket, an unterminated label value, a label name twice, a metric name starting
// with a digit) accepted all ten; this parser refuses all ten. promtool check metrics is strict but is
// a Go binary the exporter's image does not carry.
//
// Strict means: every rule of the format is checked and the first violation throws an
// ExpositionError naming the line. The rules, from the format's description:
// - `# HELP name text` and `# TYPE name type`, at most once each per family, TYPE before any sample;
//   other `#` lines are comments;
// - the lines of a family form one group (a family may not reappear after another began);
// - a sample is `name{label="value",...} value [timestamp]`; label values escape `\\`, `\"`, `\n`;
//   HELP text escapes `\\` and `\n`; no label name twice; no series twice;
// - histograms: `_bucket` samples carry a numeric `le`, counts are cumulative, every series has an
//   `le="+Inf"` bucket, and `_count` equals it; summaries: `quantile` on the base samples.

export type FamilyType = "counter" | "gauge" | "histogram" | "summary" | "untyped";

export interface Sample {
  /** The sample's own name (e.g. `x_bucket` in the family `x`). */
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
  /** Milliseconds since the epoch, when the line carries one. */
  readonly timestamp?: number;
}

export interface MetricFamily {
  readonly name: string;
  readonly type: FamilyType;
  readonly help?: string;
  readonly samples: readonly Sample[];
}

/** Families in the order they appear, by name. */
export type Families = ReadonlyMap<string, MetricFamily>;

export class ExpositionError extends Error {
  constructor(
    readonly line: number,
    readonly reason: string,
  ) {
    super(`line ${line}: ${reason}`);
    this.name = "ExpositionError";
  }
}

const metricNameRe = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const types: readonly FamilyType[] = ["counter", "gauge", "histogram", "summary", "untyped"];
const floatRe = /^[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)$/;

/** Parses a sample value as Go's strconv.ParseFloat does for the forms the format allows. */
function parseValue(s: string): number | undefined {
  const lower = s.toLowerCase();
  if (lower === "nan") return NaN;
  if (lower === "+inf" || lower === "inf") return Infinity;
  if (lower === "-inf") return -Infinity;
  return floatRe.test(s) ? Number(s) : undefined;
}

interface Building {
  name: string;
  type?: FamilyType;
  help?: string;
  samples: Sample[];
  /** Whether a sample was seen (TYPE must come before). */
  sampled: boolean;
  series: Set<string>;
  /** The line of each sample, for error messages. */
  lines: number[];
}

function unescapeHelp(text: string, line: number): string {
  return text.replace(/\\(.?)/g, (_m, c: string) => {
    if (c === "\\") return "\\";
    if (c === "n") return "\n";
    throw new ExpositionError(line, `invalid escape sequence "\\${c}" in HELP text`);
  });
}

/** The family a sample name belongs to, given the families already declared. */
function familyNameOf(sampleName: string, declared: Map<string, Building>): string {
  for (const [suffix, kinds] of [
    ["_bucket", ["histogram"]],
    ["_sum", ["histogram", "summary"]],
    ["_count", ["histogram", "summary"]],
  ] as const) {
    if (sampleName.endsWith(suffix)) {
      const base = sampleName.slice(0, -suffix.length);
      const fam = declared.get(base);
      if (fam?.type && (kinds as readonly string[]).includes(fam.type)) return base;
    }
  }
  return sampleName;
}

interface ParsedLine {
  name: string;
  labels: Record<string, string>;
  value: number;
  timestamp?: number;
}

function parseSampleLine(text: string, line: number): ParsedLine {
  let i = 0;
  const fail = (reason: string): never => {
    throw new ExpositionError(line, reason);
  };
  const skipSpace = () => {
    while (text[i] === " " || text[i] === "\t") i++;
  };
  const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(text);
  if (!nameMatch) fail(`invalid metric name at the start of "${text}"`);
  const name = nameMatch![0];
  i = name.length;
  const labels: Record<string, string> = {};
  skipSpace();
  if (text[i] !== "{")
    i = name.length; // keep the space that must precede the value
  else {
    i++;
    skipSpace();
    while (text[i] !== "}") {
      const ln = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(text.slice(i));
      if (!ln) fail(`invalid label name in "${text}"`);
      const labelName = ln![0];
      if (labelName.startsWith("__")) fail(`label name "${labelName}" is reserved (starts with __)`);
      if (Object.hasOwn(labels, labelName)) fail(`label "${labelName}" appears twice`);
      i += labelName.length;
      skipSpace();
      if (text[i] !== "=") fail(`expected "=" after label name "${labelName}"`);
      i++;
      skipSpace();
      if (text[i] !== '"') fail(`expected '"' to open the value of label "${labelName}"`);
      i++;
      let value = "";
      for (;;) {
        const c = text[i];
        if (c === undefined) fail(`unterminated value of label "${labelName}"`);
        if (c === '"') break;
        if (c === "\\") {
          const next = text[i + 1];
          if (next === "\\") value += "\\";
          else if (next === '"') value += '"';
          else if (next === "n") value += "\n";
          else fail(`invalid escape sequence "\\${next ?? ""}" in the value of label "${labelName}"`);
          i += 2;
        } else {
          value += c;
          i++;
        }
      }
      i++; // closing quote
      labels[labelName] = value;
      skipSpace();
      if (text[i] === ",") {
        i++;
        skipSpace();
      } else if (text[i] !== "}") fail(`expected "," or "}" after the value of label "${labelName}"`);
    }
    i++; // closing brace
  }
  const rest = text.slice(i);
  if (rest.length > 0 && rest[0] !== " " && rest[0] !== "\t") fail(`expected a space before the value`);
  const parts = rest.trim().split(/[ \t]+/);
  if (parts.length === 0 || parts[0] === "") fail(`sample "${name}" has no value`);
  if (parts.length > 2) fail(`unexpected text after the timestamp: "${parts.slice(2).join(" ")}"`);
  const value = parseValue(parts[0]!);
  if (value === undefined) fail(`invalid value "${parts[0]}"`);
  let timestamp: number | undefined;
  if (parts[1] !== undefined) {
    if (!/^-?\d+$/.test(parts[1])) fail(`invalid timestamp "${parts[1]}"`);
    timestamp = Number(parts[1]);
  }
  return { name, labels, value: value!, ...(timestamp !== undefined ? { timestamp } : {}) };
}

const seriesKey = (name: string, labels: Record<string, string>): string =>
  name +
  JSON.stringify(
    Object.keys(labels)
      .sort()
      .map((k) => [k, labels[k]]),
  );

function checkHistogram(fam: Building): void {
  // Group by the labels other than `le`.
  const groups = new Map<
    string,
    { buckets: [number, number][]; count?: number; series: string; line: number }
  >();
  fam.samples.forEach((s, idx) => {
    const line = fam.lines[idx] ?? 0;
    const { le, ...rest } = s.labels;
    const key = seriesKey("", rest);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { buckets: [], series: JSON.stringify(rest), line }));
    if (s.name === `${fam.name}_bucket`) {
      const bound = le === undefined ? undefined : parseValue(le);
      if (bound === undefined || Number.isNaN(bound))
        throw new ExpositionError(line, `histogram ${fam.name}: bucket without a numeric "le" label`);
      g.buckets.push([bound, s.value]);
    } else if (s.name === `${fam.name}_count`) g.count = s.value;
  });
  for (const g of groups.values()) {
    if (g.buckets.length === 0) continue; // a histogram with only _sum/_count is legal (no buckets)
    g.buckets.sort((a, b) => a[0] - b[0]);
    const last = g.buckets[g.buckets.length - 1]!;
    if (last[0] !== Infinity)
      throw new ExpositionError(g.line, `histogram ${fam.name}${g.series}: no le="+Inf" bucket`);
    for (let k = 1; k < g.buckets.length; k++) {
      if (g.buckets[k]![1] < g.buckets[k - 1]![1])
        throw new ExpositionError(
          g.line,
          `histogram ${fam.name}${g.series}: bucket counts are not cumulative`,
        );
    }
    if (g.count !== undefined && g.count !== last[1])
      throw new ExpositionError(
        g.line,
        `histogram ${fam.name}${g.series}: _count ${g.count} differs from the +Inf bucket ${last[1]}`,
      );
  }
}

/** Parses a whole exposition; throws ExpositionError at the first violation. */
export function parseExposition(text: string): Families {
  const families = new Map<string, Building>();
  let current: Building | undefined;
  const lines = text.split("\n");
  // A trailing newline gives one empty last element; a missing final newline is tolerated, as
  // Prometheus does.
  lines.forEach((raw, idx) => {
    const line = idx + 1;
    if (raw.includes("\r")) throw new ExpositionError(line, "carriage return in line (use \\n line ends)");
    const text = raw.replace(/^[ \t]+/, "");
    if (text.trim() === "") return;
    const open = (name: string): Building => {
      let fam = families.get(name);
      if (fam && fam !== current)
        throw new ExpositionError(
          line,
          `metric family ${name} appears again after another family began (its lines must be one group)`,
        );
      if (!fam) {
        fam = { name, samples: [], sampled: false, series: new Set(), lines: [] };
        families.set(name, fam);
      }
      current = fam;
      return fam;
    };
    if (text.startsWith("#")) {
      const m =
        /^#[ \t]+(HELP|TYPE)[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(text) ?? /^#[ \t]+(HELP|TYPE)$/.exec(text);
      if (!m) return; // a comment
      const [, keyword, name, arg = ""] = m;
      if (name === undefined) throw new ExpositionError(line, `${keyword} line without a metric name`);
      if (!metricNameRe.test(name)) throw new ExpositionError(line, `invalid metric name "${name}"`);
      const fam = open(name);
      if (keyword === "HELP") {
        if (fam.help !== undefined) throw new ExpositionError(line, `second HELP line for ${name}`);
        fam.help = unescapeHelp(arg, line);
      } else {
        if (fam.type !== undefined) throw new ExpositionError(line, `second TYPE line for ${name}`);
        if (fam.sampled)
          throw new ExpositionError(line, `TYPE line for ${name} must come before its first sample`);
        const t = arg.trim();
        if (!(types as readonly string[]).includes(t))
          throw new ExpositionError(line, `unknown type "${t}" for ${name}`);
        fam.type = t as FamilyType;
      }
      return;
    }
    const s = parseSampleLine(text, line);
    const famName =
      current && familyNameOf(s.name, new Map([[current.name, current]])) === current.name
        ? current.name
        : familyNameOf(s.name, families);
    const fam = open(famName);
    fam.sampled = true;
    const type = fam.type ?? "untyped";
    if (type === "summary" && s.name === fam.name) {
      const q = s.labels.quantile;
      const qv = q === undefined ? undefined : parseValue(q);
      if (qv === undefined || Number.isNaN(qv))
        throw new ExpositionError(line, `summary ${fam.name}: sample without a numeric "quantile" label`);
    }
    if (type === "histogram" && s.name === fam.name)
      throw new ExpositionError(
        line,
        `histogram ${fam.name}: sample without a _bucket, _sum or _count suffix`,
      );
    const key = seriesKey(s.name, s.labels);
    if (fam.series.has(key))
      throw new ExpositionError(line, `duplicate series ${s.name}${JSON.stringify(s.labels)}`);
    fam.series.add(key);
    fam.samples.push(s);
    fam.lines.push(line);
  });
  const out = new Map<string, MetricFamily>();
  for (const fam of families.values()) {
    if (fam.type === "histogram") checkHistogram(fam);
    out.set(fam.name, {
      name: fam.name,
      type: fam.type ?? "untyped",
      ...(fam.help !== undefined ? { help: fam.help } : {}),
      samples: fam.samples,
    });
  }
  return out;
}

const escapeLabel = (v: string): string =>
  v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
const escapeHelp = (v: string): string => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");

export function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

/** Writes families back in the text format (the inverse of parseExposition, timestamps included). */
export function formatExposition(families: Iterable<MetricFamily>): string {
  let out = "";
  for (const fam of families) {
    if (fam.help !== undefined) out += `# HELP ${fam.name} ${escapeHelp(fam.help)}\n`;
    out += `# TYPE ${fam.name} ${fam.type}\n`;
    for (const s of fam.samples) {
      const labels = Object.entries(s.labels)
        .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
        .join(",");
      out += `${s.name}${labels ? `{${labels}}` : ""} ${formatValue(s.value)}`;
      out += s.timestamp !== undefined ? ` ${s.timestamp}\n` : "\n";
    }
  }
  return out;
}
