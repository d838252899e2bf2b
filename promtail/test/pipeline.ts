// A small interpreter of the pipeline stages the agent configs declare (read from the files, see
// agent-model.ts), written from Promtail's documented and coded behaviour (clients/pkg/logentry/stages in
// grafana/loki 3.6; Alloy's loki.process stages are ports of them):
// - json: the line (or an extracted value) must be a JSON object, else the stage extracts nothing and the
//   line goes on (dropped only with drop_malformed); each expression's result is stored, a missing key as
//   null, an object or array as its JSON text;
// - template: Go text/template over the extracted values (as strings), `.Value` being the source's; an
//   empty result deletes the key; a failing template changes nothing;
// - labels: a label for each extracted key that is present and convertible to a string (null is not);
// - static_labels: fixed labels;
// - timestamp: parse the extracted value; on failure "skip" keeps the read time, "fudge" takes the last
//   good timestamp of the same label set plus 1ns (or keeps the read time when there is none).
// Only what the configs use is implemented; anything else is an error, never a silent pass.
import type { RelabelRule, Stage } from "./agent-model.ts";

export type Extracted = Map<string, unknown>;

export interface LogEntry {
  line: string;
  labels: Record<string, string>;
  /** Unix time in nanoseconds. */
  timestampNs: bigint;
}

/** What a pipeline remembers between lines (the fudge and duplicate-timestamp state). */
export interface PipelineState {
  lastGoodTimestamp: Map<string, bigint>;
  lastEmitted: Map<string, bigint>;
}
export const newState = (): PipelineState => ({ lastGoodTimestamp: new Map(), lastEmitted: new Map() });

const labelsKey = (labels: Record<string, string>): string =>
  JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)));

// ---------------------------------------------------------------- Go conversions

/** Promtail's getString(): numbers, strings and booleans convert; null and anything else do not. */
export function goString(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (typeof v === "boolean") return v ? "true" : "false";
  if (typeof v === "number") return formatFloat(v);
  return undefined;
}

/** strconv.FormatFloat(f, 'f', -1, 64): never an exponent. */
function formatFloat(f: number): string {
  if (!Number.isFinite(f)) return String(f);
  if (Number.isInteger(f)) return BigInt(f).toString();
  const s = String(f);
  if (!/e/i.test(s)) return s;
  // Small magnitudes: JavaScript writes 1e-7; Go writes 0.0000001.
  const [mant, exp] = s.split(/e/i) as [string, string];
  const e = Number(exp);
  const neg = mant.startsWith("-");
  const digits = mant.replace("-", "").replace(".", "");
  const intLen = mant.replace("-", "").split(".")[0]!.length;
  const point = intLen + e;
  const out =
    point <= 0 ? `0.${"0".repeat(-point)}${digits}` : `${digits.slice(0, point)}.${digits.slice(point)}`;
  return (neg ? "-" : "") + out.replace(/\.$/, "");
}

/** encoding/json.Marshal of a decoded value: map keys sorted, <, > and & escaped. */
function goJsonMarshal(v: unknown): string {
  const sortKeys = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(sortKeys);
    if (x !== null && typeof x === "object")
      return Object.fromEntries(
        Object.keys(x as object)
          .sort()
          .map((k) => [k, sortKeys((x as Record<string, unknown>)[k])]),
      );
    return x;
  };
  return JSON.stringify(sortKeys(v))
    .replace(/</g, "\\u003c")
    .replace(/>/g, "\\u003e")
    .replace(/&/g, "\\u0026")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

// ---------------------------------------------------------------- JMESPath (the subset the configs use)

type Path = string[];

/** `field`, `a.b`, `"quoted-field"`: identifiers and sub-expressions only. */
export function compileJmesPath(expr: string): Path {
  const parts: string[] = [];
  let rest = expr.trim();
  for (;;) {
    const m = /^(?:([A-Za-z_][A-Za-z0-9_]*)|"((?:[^"\\]|\\.)*)")/.exec(rest);
    if (!m)
      throw new Error(`JMESPath ${JSON.stringify(expr)}: only identifiers and a.b paths are interpreted`);
    parts.push(m[1] ?? (JSON.parse(`"${m[2]!}"`) as string));
    rest = rest.slice(m[0].length);
    if (rest === "") return parts;
    if (!rest.startsWith("."))
      throw new Error(`JMESPath ${JSON.stringify(expr)}: unsupported syntax at ${rest}`);
    rest = rest.slice(1);
  }
}

function searchPath(data: unknown, path: Path): unknown {
  let cur = data;
  for (const p of path) {
    if (cur === null || typeof cur !== "object" || Array.isArray(cur)) return null;
    cur = Object.prototype.hasOwnProperty.call(cur, p) ? (cur as Record<string, unknown>)[p] : null;
  }
  return cur === undefined ? null : cur;
}

// ---------------------------------------------------------------- Go regular expressions

/**
 * A Go (RE2) expression as a JavaScript one, for the syntax both share. What RE2 has and JavaScript reads
 * differently, or what JavaScript has and RE2 refuses, is an error: flags groups, \A \z, classes like
 * [[:alpha:]], lookaround and backreferences.
 */
export function compileRe2(expression: string): RegExp {
  // A leading (?s) (dot matches a newline, for a multi-line entry) is JavaScript's `s` flag.
  const dotAll = expression.startsWith("(?s)");
  const body = dotAll ? expression.slice(4) : expression;
  if (/\(\?(?!P<)[a-zA-Z]|\\[Azp]|\[\[:|\(\?<?[=!]|\\[1-9]/.test(body))
    throw new Error(`regex ${JSON.stringify(expression)}: syntax outside what this interpreter translates`);
  return new RegExp(body.replace(/\(\?P</g, "(?<"), dotAll ? "us" : "u");
}

// ---------------------------------------------------------------- Go templates (a small subset)

type TNode =
  | { t: "text"; text: string }
  | { t: "print"; pipe: TPipe }
  | { t: "if"; cond: TPipe; then: TNode[]; else: TNode[] };
interface TPipe {
  field: string;
  funcs: string[];
}

const templateFuncs: Record<string, (s: string) => string> = {
  ToLower: (s) => s.toLowerCase(),
  ToUpper: (s) => s.toUpperCase(),
  TrimSpace: (s) => s.trim(),
};

function parsePipe(src: string, template: string): TPipe {
  const fail = (): never => {
    throw new Error(`template ${JSON.stringify(template)}: {{ ${src} }} is not in the interpreted subset`);
  };
  const words = src.trim().split(/\s+/);
  // `.Field`, `Func .Field`, `.Field | Func`
  if (words.length === 1 && /^\.[A-Za-z_][A-Za-z0-9_]*$/.test(words[0]!))
    return { field: words[0]!.slice(1), funcs: [] };
  if (words.length === 2 && templateFuncs[words[0]!] && /^\.[A-Za-z_]\w*$/.test(words[1]!))
    return { field: words[1]!.slice(1), funcs: [words[0]!] };
  if (
    words.length === 3 &&
    words[1] === "|" &&
    /^\.[A-Za-z_]\w*$/.test(words[0]!) &&
    templateFuncs[words[2]!]
  )
    return { field: words[0]!.slice(1), funcs: [words[2]!] };
  return fail();
}

export function compileTemplate(template: string): TNode[] {
  const tokens: ({ kind: "text"; text: string } | { kind: "action"; src: string })[] = [];
  let rest = template;
  while (rest !== "") {
    const open = rest.indexOf("{{");
    if (open < 0) {
      tokens.push({ kind: "text", text: rest });
      break;
    }
    if (open > 0) tokens.push({ kind: "text", text: rest.slice(0, open) });
    const close = rest.indexOf("}}", open);
    if (close < 0) throw new Error(`template ${JSON.stringify(template)}: unclosed {{`);
    const src = rest.slice(open + 2, close);
    if (src.startsWith("-") || src.endsWith("-"))
      throw new Error(`template ${JSON.stringify(template)}: trim markers are not interpreted`);
    tokens.push({ kind: "action", src: src.trim() });
    rest = rest.slice(close + 2);
  }
  let i = 0;
  const parseList = (stopAt: readonly string[]): { nodes: TNode[]; stop: string } => {
    const nodes: TNode[] = [];
    while (i < tokens.length) {
      const tok = tokens[i++]!;
      if (tok.kind === "text") {
        nodes.push({ t: "text", text: tok.text });
        continue;
      }
      if (stopAt.includes(tok.src)) return { nodes, stop: tok.src };
      if (tok.src.startsWith("if ")) {
        const cond = parsePipe(tok.src.slice(3), template);
        const a = parseList(["else", "end"]);
        const b = a.stop === "else" ? parseList(["end"]) : { nodes: [], stop: "end" };
        if (b.stop !== "end") throw new Error(`template ${JSON.stringify(template)}: if without end`);
        nodes.push({ t: "if", cond, then: a.nodes, else: b.nodes });
        continue;
      }
      if (tok.src === "else" || tok.src === "end")
        throw new Error(`template ${JSON.stringify(template)}: {{ ${tok.src} }} without if`);
      nodes.push({ t: "print", pipe: parsePipe(tok.src, template) });
    }
    if (stopAt.length > 0) throw new Error(`template ${JSON.stringify(template)}: missing {{ end }}`);
    return { nodes, stop: "" };
  };
  return parseList([]).nodes;
}

class TemplateExecError extends Error {}

function evalPipe(p: TPipe, data: Record<string, string>): string | undefined {
  let v: string | undefined = Object.prototype.hasOwnProperty.call(data, p.field) ? data[p.field] : undefined;
  for (const f of p.funcs) {
    // Go: calling a string function with a missing (nil) value is an execution error.
    if (v === undefined) throw new TemplateExecError(`${f} of a missing value`);
    v = templateFuncs[f]!(v);
  }
  return v;
}

function execTemplate(nodes: readonly TNode[], data: Record<string, string>): string {
  let out = "";
  for (const n of nodes) {
    if (n.t === "text") out += n.text;
    else if (n.t === "print") out += evalPipe(n.pipe, data) ?? "<no value>";
    else {
      const c = evalPipe(n.cond, data);
      out += execTemplate(c !== undefined && c !== "" ? n.then : n.else, data);
    }
  }
  return out;
}

// ---------------------------------------------------------------- timestamps

const rfc3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|([+-])(\d{2}):(\d{2}))$/;

/** Go's time.Parse(time.RFC3339Nano, s) as Unix nanoseconds, or undefined when Go would refuse it. */
export function parseRfc3339Nano(s: string): bigint | undefined {
  const m = rfc3339.exec(s);
  if (!m) return undefined;
  const [y, mo, d, h, mi, se] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as number[];
  const daysIn = new Date(Date.UTC(2000, mo!, 0)).getUTCDate(); // month length in a leap year
  const leap = (y! % 4 === 0 && y! % 100 !== 0) || y! % 400 === 0;
  if (mo! < 1 || mo! > 12 || d! < 1 || d! > daysIn || (mo === 2 && d === 29 && !leap)) return undefined;
  if (h! > 23 || mi! > 59 || se! > 59) return undefined;
  let offsetMin = 0;
  if (m[8] !== "Z") {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) return undefined;
    offsetMin = (m[9] === "-" ? -1 : 1) * (oh * 60 + om);
  }
  const date = new Date(0);
  date.setUTCFullYear(y!, mo! - 1, d!);
  date.setUTCHours(h!, mi!, se!, 0);
  const frac = (m[7] ?? "").slice(0, 9).padEnd(9, "0");
  return BigInt(date.getTime()) * 1_000_000n + BigInt(frac) - BigInt(offsetMin) * 60_000_000_000n;
}

/**
 * Go's time.Parse("2006-01-02 15:04:05,000", s): Python logging's asctime (a comma before exactly three
 * digits of milliseconds), a layout without a zone, so read as UTC (no `location` set).
 */
export function parsePythonAsctime(s: string): bigint | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2}),(\d{3})$/.exec(s);
  if (!m) return undefined;
  return parseRfc3339Nano(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}.${m[7]}Z`);
}

const timestampParsers: Record<string, (s: string) => bigint | undefined> = {
  // Go's parser reads fractional seconds after the seconds field even when the layout has none.
  RFC3339: parseRfc3339Nano,
  RFC3339Nano: parseRfc3339Nano,
  "2006-01-02 15:04:05,000": parsePythonAsctime,
};

/** Unix nanoseconds as RFC 3339 with nine fractional digits, for readable assertions. */
export function formatNs(ns: bigint): string {
  const ms = ns / 1_000_000n;
  const iso = new Date(Number(ms)).toISOString();
  const frac = (((ns % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n).toString().padStart(9, "0");
  return `${iso.slice(0, 19)}.${frac}Z`;
}

// ---------------------------------------------------------------- relabelling

const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Prometheus relabelling, action replace: what both agents do to discovered targets. */
export function relabel(
  labels: Readonly<Record<string, string>>,
  rules: readonly RelabelRule[],
  resolve: (r: RelabelRule) => string,
): Record<string, string> {
  const out = { ...labels };
  for (const r of rules) {
    const value = r.sourceLabels.map((l) => out[l] ?? "").join(r.separator);
    const m = compileRe2(`^(?:${r.regex})$`).exec(value);
    if (!m) continue;
    const target = resolve(r).replace(/\$(?:\{(\w+)\}|(\d+))/g, (_x, a?: string, b?: string) => {
      const g = a ?? b!;
      return /^\d+$/.test(g) ? (m[Number(g)] ?? "") : (m.groups?.[g] ?? "");
    });
    if (!labelName.test(r.targetLabel)) continue;
    if (target === "") delete out[r.targetLabel];
    else out[r.targetLabel] = target;
  }
  return out;
}

/** Labels starting with `__` are internal: the agents drop them before sending. */
export const withoutInternal = (labels: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(labels).filter(([k]) => !k.startsWith("__")));

// ---------------------------------------------------------------- the pipeline

type Compiled = (entry: LogEntry, extracted: Extracted, state: PipelineState) => "drop" | void;

function compileStage(stage: Stage): Compiled {
  switch (stage.type) {
    // Applied by assemble() to a file's lines, before an entry reaches run().
    case "multiline":
      compileRe2(stage.firstline);
      return () => undefined;
    case "json": {
      const exprs = Object.entries(stage.expressions).map(([k, e]) => [k, compileJmesPath(e)] as const);
      return (entry, extracted) => {
        let input: string | undefined = entry.line;
        if (stage.source !== undefined) {
          if (!extracted.has(stage.source)) return;
          input = goString(extracted.get(stage.source));
          if (input === undefined) return;
        }
        let data: unknown;
        try {
          data = JSON.parse(input);
        } catch {
          return stage.dropMalformed ? "drop" : undefined;
        }
        // json.Unmarshal into a map: an object, or null (which leaves the map empty); anything else fails.
        if (data !== null && (typeof data !== "object" || Array.isArray(data)))
          return stage.dropMalformed ? "drop" : undefined;
        for (const [k, path] of exprs) {
          const r = searchPath(data, path);
          extracted.set(k, r !== null && typeof r === "object" ? goJsonMarshal(r) : r);
        }
      };
    }
    case "regex": {
      const re = compileRe2(stage.expression);
      return (entry, extracted) => {
        let input: string | undefined = entry.line;
        if (stage.source !== undefined) {
          if (!extracted.has(stage.source)) return;
          input = goString(extracted.get(stage.source));
          if (input === undefined) return;
        }
        const m = re.exec(input);
        // Every named group is stored, an empty match as "" (FindStringSubmatch, SubexpNames).
        if (m) for (const [name, value] of Object.entries(m.groups ?? {})) extracted.set(name, value ?? "");
      };
    }
    case "template": {
      const nodes = compileTemplate(stage.template);
      return (entry, extracted) => {
        const data: Record<string, string> = {};
        for (const [k, v] of extracted) {
          const s = goString(v);
          if (s === undefined) continue;
          data[k] = s;
          if (k === stage.source) data.Value = s;
        }
        data.Entry = entry.line;
        let result: string;
        try {
          result = execTemplate(nodes, data);
        } catch (e) {
          if (e instanceof TemplateExecError) return;
          throw e;
        }
        if (result === "") extracted.delete(stage.source);
        else extracted.set(stage.source, result);
      };
    }
    case "labels":
      for (const name of Object.keys(stage.values))
        if (!labelName.test(name)) throw new Error(`labels stage: ${name} is not a valid label name`);
      return (entry, extracted) => {
        for (const [name, source] of Object.entries(stage.values)) {
          if (!extracted.has(source)) continue;
          const s = goString(extracted.get(source));
          if (s !== undefined) entry.labels[name] = s;
        }
      };
    case "static_labels":
      return (entry) => {
        Object.assign(entry.labels, stage.values);
      };
    case "timestamp": {
      const parse = timestampParsers[stage.format];
      if (!parse) throw new Error(`timestamp stage: format ${stage.format} is not interpreted`);
      return (entry, extracted, state) => {
        const key = labelsKey(entry.labels);
        const raw = extracted.has(stage.source) ? goString(extracted.get(stage.source)) : undefined;
        const ts = raw === undefined ? undefined : parse(raw);
        if (ts === undefined) {
          if (stage.actionOnFailure === "fudge") {
            const last = state.lastGoodTimestamp.get(key);
            if (last !== undefined) {
              entry.timestampNs = last + 1n;
              state.lastGoodTimestamp.set(key, entry.timestampNs);
            }
          }
          return;
        }
        let t = ts;
        if (stage.actionOnDuplicate === "fudge" && state.lastEmitted.get(key) === t) t += 1n;
        entry.timestampNs = t;
        state.lastEmitted.set(key, t);
        if (stage.actionOnFailure === "fudge") state.lastGoodTimestamp.set(key, t);
      };
    }
  }
}

export interface Pipeline {
  /**
   * Runs one entry (a line, or the lines a multiline stage joined: see assemble); null when a stage
   * dropped it. `extracted` is what the stages extracted.
   */
  run(entry: LogEntry, state?: PipelineState): { entry: LogEntry; extracted: Extracted } | null;
  /**
   * The entries a file's lines (read in one go, so max_wait_time never expires) make: without a
   * multiline stage one per line; with one, a line that does not match its firstline is joined to the
   * entry before it with "\n" (a line with no entry before it starts one), and an entry of max_lines
   * lines is sent as it is, the next line starting another (Promtail's multiline stage).
   */
  assemble(lines: readonly string[]): string[];
}

export function compilePipeline(stages: readonly Stage[]): Pipeline {
  const multiline = stages.findIndex((s) => s.type === "multiline");
  if (multiline > 0) throw new Error("a multiline stage is interpreted as the first stage only");
  const ml = stages[0]?.type === "multiline" ? stages[0] : undefined;
  const firstline = ml ? compileRe2(ml.firstline) : undefined;
  const compiled = stages.map(compileStage);
  const defaultState = newState();
  return {
    assemble(lines) {
      if (!ml || !firstline) return [...lines];
      const out: string[] = [];
      let block: string[] = [];
      const flush = () => {
        if (block.length > 0) out.push(block.join("\n"));
        block = [];
      };
      for (const line of lines) {
        if (firstline.test(line)) flush();
        block.push(line);
        if (block.length >= ml.maxLines) flush();
      }
      flush();
      return out;
    },
    run(input, state = defaultState) {
      const entry: LogEntry = {
        line: input.line,
        labels: { ...input.labels },
        timestampNs: input.timestampNs,
      };
      const extracted: Extracted = new Map();
      for (const stage of compiled) if (stage(entry, extracted, state) === "drop") return null;
      entry.labels = withoutInternal(entry.labels);
      return { entry, extracted };
    },
  };
}
