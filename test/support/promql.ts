// Reading written PromQL in tests (dashboard queries, rules, runbook examples) with the real grammar,
// the one Prometheus' own editor uses: syntax errors and the metric names an expression reads. What a
// name must be is lib/promql.ts's knownMetric, the check the builder makes.
import type { SyntaxNode, Tree } from "@lezer/common";
import { parser as promqlParser } from "@prometheus-io/lezer-promql";

/** Syntax errors in a parsed expression (empty when it parses). */
export function syntaxErrors(tree: Tree, text: string): string[] {
  const out: string[] = [];
  tree.iterate({
    enter: (n) => {
      if (n.type.isError)
        out.push(`syntax error at ${n.from}: "${text.slice(Math.max(0, n.from - 10), n.to + 10)}"`);
    },
  });
  return out;
}

/** Syntax errors of a PromQL expression (empty when it parses). */
export const promqlErrors = (expr: string): string[] => syntaxErrors(promqlParser.parse(expr), expr);

export const children = (n: SyntaxNode, name: string): SyntaxNode[] => {
  const out: SyntaxNode[] = [];
  for (let c = n.firstChild; c; c = c.nextSibling) if (c.name === name) out.push(c);
  return out;
};

/** Metric names in a PromQL expression's vector selectors (`name{...}`). */
export function promqlMetricNames(expr: string): string[] {
  const names = new Set<string>();
  promqlParser.parse(expr).iterate({
    enter: (n) => {
      if (n.name === "VectorSelector") {
        for (const id of children(n.node, "Identifier")) names.add(expr.slice(id.from, id.to));
      }
      // {__name__="..."} selects a metric by its name as well.
      if (n.name === "UnquotedLabelMatcher" || n.name === "QuotedLabelMatcher") {
        const text = expr.slice(n.from, n.to);
        const m = /^"?__name__"?\s*=\s*"([^"]*)"$/.exec(text);
        if (m?.[1]) names.add(m[1]);
      }
    },
  });
  return [...names];
}
