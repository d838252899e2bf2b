// LogQL checks shared by the rule, docs and dashboard tests: parse with @grafana/lezer-logql (the grammar
// Grafana's editor uses), refuse any error node, and check every stream selector against the labels the
// agents attach (read from promtail.yaml and config.alloy, not from a list written here).
import { parser } from "@grafana/lezer-logql";
import type { SyntaxNode } from "@lezer/common";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { resolveLabel, type AgentModel } from "../../promtail/test/agent-model.ts";
import { relabel, withoutInternal } from "../../promtail/test/pipeline.ts";

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

/** Grafana's range macros, replaced as Grafana does before the query reaches Loki. */
export const withoutGrafanaMacros = (q: string): string =>
  q.replace(/\$__(?:rate_interval|interval|auto|range)\b/g, "5m");

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
