// LogQL checks shared by the rule, docs and dashboard tests: parse with @grafana/lezer-logql (the grammar
// Grafana's editor uses), refuse any error node, and check every stream selector against the labels the
// agents attach (read from promtail.yaml and config.alloy, not from a list written here).
import { parser } from "@grafana/lezer-logql";
import type { SyntaxNode } from "@lezer/common";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { resolveLabel, type AgentModel } from "../../promtail/test/agent-model.ts";
import { compileRe2, relabel, withoutInternal } from "../../promtail/test/pipeline.ts";

export interface Matcher {
  readonly name: string;
  readonly op: "=" | "!=" | "=~" | "!~";
  readonly value: string;
}

export interface ParsedLogQL {
  /** Matchers of every stream selector `{...}` in the query (not label filters after a parser). */
  readonly selectors: readonly (readonly Matcher[])[];
  /** Labels named in `by (...)` / `without (...)` groupings. */
  readonly grouping: readonly string[];
  /** Whether a parser stage (json, logfmt, regexp, pattern, unpack) can add labels at query time. */
  readonly extractsLabels: boolean;
}

const opOf: Record<string, Matcher["op"]> = { Eq: "=", Neq: "!=", Re: "=~", Nre: "!~" };

/** Grafana's range macros and the host variable, replaced as Grafana does before the query reaches Loki. */
export const withoutGrafanaMacros = (q: string): string =>
  q
    .replace(/\$__(?:rate_interval|interval|auto|range)\b/g, "5m")
    // The dashboards' host variable at its default, All (dashboards/src/host-variable.ts).
    .replace(/\$host\b/g, ".*");

function hasAncestor(node: SyntaxNode, name: string, stopAt: string): boolean {
  for (let p = node.parent; p; p = p.parent) {
    if (p.name === name) return true;
    if (p.name === stopAt) return false;
  }
  return false;
}

/** Parses a LogQL query; throws naming the position of the first syntax error. */
export function parseLogQL(query: string): ParsedLogQL {
  const tree = parser.parse(query);
  const selectors: Matcher[][] = [];
  const grouping: string[] = [];
  let extractsLabels = false;
  let error: number | undefined;
  tree.iterate({
    enter(ref) {
      if (ref.type.isError && error === undefined) error = ref.from;
      const node = ref.node;
      if (ref.name === "Selector") selectors.push([]);
      if (ref.name === "LabelParser" || ref.name === "JsonExpressionParser" || ref.name === "LogfmtParser")
        extractsLabels = true;
      if (ref.name === "Matcher" && hasAncestor(node, "Selector", "PipelineExpr")) {
        const id = node.getChild("Identifier");
        const str = node.getChild("String");
        const op = ["Eq", "Neq", "Re", "Nre"].map((n) => node.getChild(n)).find((n) => n !== null);
        if (!id || !str || !op) throw new Error(`LogQL ${JSON.stringify(query)}: unreadable matcher`);
        selectors[selectors.length - 1]!.push({
          name: query.slice(id.from, id.to),
          op: opOf[op.name]!,
          value: JSON.parse(query.slice(str.from, str.to).replace(/^`|`$/g, '"')) as string,
        });
      }
      if (ref.name === "Identifier" && hasAncestor(node, "Grouping", "Expr"))
        grouping.push(query.slice(ref.from, ref.to));
    },
  });
  // Lezer recovers from errors and still builds a tree: an error node anywhere means Loki would refuse it.
  if (error !== undefined)
    throw new Error(
      `LogQL does not parse at offset ${error}: ${query.slice(0, error)} ⟨here⟩ ${query.slice(error)}`,
    );
  if (selectors.length === 0) throw new Error(`LogQL ${JSON.stringify(query)} has no stream selector`);
  for (const s of selectors)
    if (!s.some((m) => m.op === "=" || (m.op === "=~" && !new RegExp(`^(?:${m.value})$`).test(""))))
      throw new Error(
        `LogQL ${JSON.stringify(query)}: a selector needs a matcher that excludes the empty value`,
      );
  return { selectors, grouping, extractsLabels };
}

/** Every label an agent attaches to a line, with every value it can give it (null: open-ended). */
export function attachedLabels(
  model: AgentModel,
  env: Record<string, string> = {},
): Map<string, Set<string> | null> {
  const out = new Map<string, Set<string> | null>();
  const add = (name: string, value: string | null) => {
    if (value === null || out.get(name) === null) out.set(name, null);
    else out.set(name, new Set([...(out.get(name) ?? []), value]));
  };
  for (const f of model.files) {
    // A value from the environment (host) can be anything: open-ended.
    for (const [k, v] of Object.entries(f.labels)) add(k, v.kind === "env" ? null : resolveLabel(v, env));
    add("filename", f.path); // both agents add the file's path as `filename`
  }
  // Container labels: relabel a container with every meta label the rules read, and see what comes out.
  const meta: Record<string, string> = {};
  for (const r of model.docker.relabel) for (const l of r.sourceLabels) meta[l] = `/sample-${l}`;
  const containerLabels = withoutInternal(
    relabel(meta, model.docker.relabel, (r) => resolveLabel(r.replacement, env)),
  );
  for (const [k, v] of Object.entries(containerLabels)) {
    const rule = model.docker.relabel.find((r) => r.targetLabel === k)!;
    // A fixed value, or one taken from the container or the environment.
    add(k, rule.sourceLabels.length === 0 && rule.replacement.kind === "literal" ? v : null);
  }
  for (const stage of [...model.filePipeline, ...model.dockerPipeline]) {
    if (stage.type === "labels") for (const k of Object.keys(stage.values)) add(k, null);
    if (stage.type === "static_labels") for (const [k, v] of Object.entries(stage.values)) add(k, v);
  }
  return out;
}

/** Problems with a query's selectors against the labels an agent attaches (empty when fine). */
export function selectorProblems(parsed: ParsedLogQL, labels: Map<string, Set<string> | null>): string[] {
  const problems: string[] = [];
  for (const sel of parsed.selectors)
    for (const m of sel) {
      if (!labels.has(m.name)) {
        problems.push(`label ${m.name} is not attached by the agent`);
        continue;
      }
      const known = labels.get(m.name);
      if (!known) continue;
      if (m.op === "=" && !known.has(m.value))
        problems.push(
          `${m.name}="${m.value}" matches nothing: the agent gives ${m.name} only ${[...known].join(", ")}`,
        );
      if (m.op === "=~") {
        const re = new RegExp(`^(?:${m.value})$`);
        if (![...known].some((v) => re.test(v)))
          problems.push(`${m.name}=~"${m.value}" matches no value the agent gives`);
      }
    }
  if (!parsed.extractsLabels)
    for (const g of parsed.grouping)
      if (!labels.has(g)) problems.push(`grouping label ${g} is neither attached by the agent nor extracted`);
  return problems;
}

/**
 * The LogQL expressions of a Markdown file's ```logql blocks: one per line, `#` starting a comment (the
 * convention every runbook follows, so each line can be pasted as it is).
 */
export function logqlBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```logql\n([\s\S]*?)^```$/gm)].flatMap((m) =>
    m[1]!
      .split("\n")
      .map((l) =>
        l
          .replace(/^#.*$/, "")
          .replace(/\s+#.*$/, "")
          .trim(),
      )
      .filter((l) => l !== ""),
  );
}

/** Loki queries of the generated dashboards (targets whose datasource is a Loki one). */
export function dashboardLokiQueries(dir: string): { file: string; expr: string }[] {
  const out: { file: string; expr: string }[] = [];
  const walkFiles = (d: string): string[] =>
    readdirSync(d).flatMap((n) =>
      statSync(join(d, n)).isDirectory() ? walkFiles(join(d, n)) : [join(d, n)],
    );
  const visit = (file: string, node: unknown, inheritedLoki: boolean): void => {
    if (Array.isArray(node)) return node.forEach((n) => visit(file, n, inheritedLoki));
    if (node === null || typeof node !== "object") return;
    const o = node as Record<string, unknown>;
    const ds = o.datasource as { type?: string } | undefined;
    const isLoki = ds && typeof ds === "object" && "type" in ds ? ds.type === "loki" : inheritedLoki;
    if (isLoki && typeof o.expr === "string" && o.expr.trim() !== "") out.push({ file, expr: o.expr });
    for (const v of Object.values(o)) visit(file, v, isLoki);
  };
  for (const f of walkFiles(dir).filter((f) => f.endsWith(".json")))
    visit(f, JSON.parse(readFileSync(f, "utf8")) as unknown, false);
  return out;
}

// ---------------------------------------------------------------- evaluating log pipelines on lines

/** One stage of a log pipeline, in the order the query applies them. */
export type LogStage =
  | { readonly kind: "line"; readonly op: "|=" | "!=" | "|~" | "!~"; readonly value: string }
  | { readonly kind: "json" }
  | { readonly kind: "label"; readonly matcher: Matcher }
  | { readonly kind: "line_format" };

/** A log query or the log part of a metric query: a stream selector and its pipeline. */
export interface LogPipeline {
  readonly text: string;
  readonly selector: readonly Matcher[];
  readonly stages: readonly LogStage[];
}

const lineOps: Record<string, "|=" | "!=" | "|~" | "!~"> = {
  PipeExact: "|=",
  Neq: "!=",
  PipeMatch: "|~",
  Nre: "!~",
};

const stringValue = (query: string, node: SyntaxNode): string =>
  JSON.parse(query.slice(node.from, node.to).replace(/^`|`$/g, '"')) as string;

function readMatcher(query: string, node: SyntaxNode): Matcher {
  const id = node.getChild("Identifier");
  const str = node.getChild("String");
  const op = ["Eq", "Neq", "Re", "Nre"].map((n) => node.getChild(n)).find((n) => n !== null);
  if (!id || !str || !op) throw new Error(`LogQL ${JSON.stringify(query)}: unreadable matcher`);
  return { name: query.slice(id.from, id.to), op: opOf[op.name]!, value: stringValue(query, str) };
}

/**
 * The log pipelines of a query (one per `{...}` with what follows it), with the stages this interpreter
 * evaluates: line filters, `| json`, label filters and `| line_format`. Any other stage (logfmt, regexp,
 * unwrap, label_format, compound label filters...) is an error, so nothing passes by being skipped.
 */
export function logPipelines(query: string): LogPipeline[] {
  parseLogQL(query); // the syntax and selector checks first
  const out: LogPipeline[] = [];
  const tree = parser.parse(query);
  tree.iterate({
    enter(ref) {
      if (ref.name !== "LogExpr" && ref.name !== "LogRangeExpr") return;
      const node = ref.node;
      const sel = node.getChild("Selector");
      if (!sel) throw new Error(`LogQL ${JSON.stringify(query)}: a log expression without selector`);
      const selector: Matcher[] = [];
      const stages: LogStage[] = [];
      let formatted = false;
      const end = node.to;
      const cursor = node.cursor();
      do {
        if (cursor.from >= end) break;
        const n = cursor.node;
        if (n.name === "Matcher" && hasAncestor(n, "Selector", "LogRangeExpr")) {
          selector.push(readMatcher(query, n));
        } else if (n.name === "LineFilter") {
          const f = n.getChild("Filter")?.firstChild;
          const str = n.getChild("String");
          const op = f ? lineOps[f.name] : undefined;
          if (!op || !str)
            throw new Error(`${query}: line filter ${query.slice(n.from, n.to)} not interpreted`);
          if (formatted)
            throw new Error(
              `${query}: a line filter after line_format is not interpreted (it sees the new line)`,
            );
          stages.push({ kind: "line", op, value: stringValue(query, str) });
        } else if (n.name === "LabelParser") {
          if (!n.getChild("Json") || n.getChild("String"))
            throw new Error(`${query}: parser ${query.slice(n.from, n.to)} not interpreted`);
          stages.push({ kind: "json" });
        } else if (n.name === "LabelFilter") {
          const m = n.firstChild;
          if (!m || m.name !== "Matcher" || m.nextSibling)
            throw new Error(`${query}: label filter ${query.slice(n.from, n.to)} not interpreted`);
          stages.push({ kind: "label", matcher: readMatcher(query, m) });
        } else if (n.name === "LineFormatExpr") {
          formatted = true;
          stages.push({ kind: "line_format" });
        } else if (
          n.name === "PipelineStage" &&
          !["LineFilters", "LabelParser", "LabelFilter", "LineFormatExpr"].some((c) => n.getChild(c))
        ) {
          throw new Error(`${query}: stage ${query.slice(n.from, n.to)} not interpreted`);
        }
      } while (cursor.next() && cursor.from < end);
      out.push({ text: query.slice(node.from, node.to), selector, stages });
      return false;
    },
  });
  if (out.length === 0) throw new Error(`LogQL ${JSON.stringify(query)} has no log expression`);
  return out;
}

/** A Go (RE2) regular expression, with a leading `(?i)` read as JavaScript's `i` flag. */
export function goRegExp(expression: string, anchored: boolean): RegExp {
  const insensitive = expression.startsWith("(?i)");
  const body = insensitive ? expression.slice(4) : expression;
  const re = compileRe2(anchored ? `^(?:${body})$` : body);
  return insensitive ? new RegExp(re.source, re.flags + "i") : re;
}

const matches = (m: Matcher, value: string): boolean => {
  switch (m.op) {
    case "=":
      return value === m.value;
    case "!=":
      return value !== m.value;
    case "=~":
      return goRegExp(m.value, true).test(value);
    case "!~":
      return !goRegExp(m.value, true).test(value);
  }
};

/**
 * Loki's `| json` without parameters: every field of a JSON object becomes a label (nested objects
 * flattened with `_`, arrays skipped, names sanitised); a field whose name is already a stream label is
 * added as `<name>_extracted`; a line that is not a JSON object gets `__error__="JSONParserErr"`.
 */
function jsonLabels(line: string, labels: Record<string, string>): Record<string, string> {
  const out = { ...labels };
  let data: unknown;
  try {
    data = JSON.parse(line);
  } catch {
    data = undefined;
  }
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    out.__error__ = "JSONParserErr";
    return out;
  }
  const add = (prefix: string, obj: Record<string, unknown>) => {
    for (const [k, v] of Object.entries(obj)) {
      const name = prefix + k.replace(/[^a-zA-Z0-9_]/g, "_");
      if (Array.isArray(v)) continue;
      if (v !== null && typeof v === "object") add(`${name}_`, v as Record<string, unknown>);
      else
        out[name in labels ? `${name}_extracted` : name] =
          v === null ? "" : String(v as string | number | boolean);
    }
  };
  add("", data as Record<string, unknown>);
  return out;
}

/** The stage at which a line fails a pipeline (index into stages, -1 for the selector), or null when it passes. */
export function failingStage(
  p: LogPipeline,
  entry: { labels: Record<string, string>; line: string },
): number | null {
  if (!p.selector.every((m) => matches(m, entry.labels[m.name] ?? ""))) return -1;
  let labels = entry.labels;
  for (const [i, s] of p.stages.entries()) {
    if (s.kind === "json") labels = jsonLabels(entry.line, labels);
    else if (s.kind === "label") {
      if (!matches(s.matcher, labels[s.matcher.name] ?? "")) return i;
    } else if (s.kind === "line") {
      const hit =
        s.op === "|=" || s.op === "!="
          ? entry.line.includes(s.value)
          : goRegExp(s.value, false).test(entry.line);
      if (hit !== (s.op === "|=" || s.op === "|~")) return i;
    }
  }
  return null;
}

/** How a stage reads in a report. */
export const stageText = (p: LogPipeline, i: number): string => {
  if (i < 0) return `{${p.selector.map((m) => `${m.name}${m.op}${JSON.stringify(m.value)}`).join(", ")}}`;
  const s = p.stages[i]!;
  if (s.kind === "line") return `${s.op} ${JSON.stringify(s.value)}`;
  if (s.kind === "label") return `| ${s.matcher.name}${s.matcher.op}${JSON.stringify(s.matcher.value)}`;
  return `| ${s.kind}`;
};
