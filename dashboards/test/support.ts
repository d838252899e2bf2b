// What the dashboard tests read out of queries and configuration: syntax errors, metric names, rate
// ranges and Loki labels from the real PromQL and LogQL grammars (the ones Prometheus' and Grafana's
// editors use), and the labels Promtail attaches from its configuration.
import { parser as logqlParser } from "@grafana/lezer-logql";
import { parser as promqlParser } from "@prometheus-io/lezer-promql";
import { parse as parseYaml } from "yaml";
import { children, syntaxErrors } from "../../test/support/promql.ts";

// The PromQL readers the rule and runbook checks use too live in the shared harness.
export { promqlErrors, promqlMetricNames } from "../../test/support/promql.ts";

/** Syntax errors of a LogQL expression (empty when it parses). */
export const logqlErrors = (expr: string): string[] => syntaxErrors(logqlParser.parse(expr), expr);

/** For every rate-like function call, its function name and the range text of its matrix selector. */
export function promqlRanges(expr: string): { fn: string; range: string }[] {
  const out: { fn: string; range: string }[] = [];
  promqlParser.parse(expr).iterate({
    enter: (n) => {
      if (n.name !== "FunctionCall") return;
      const id = children(n.node, "FunctionIdentifier")[0];
      const body = children(n.node, "FunctionCallBody")[0];
      if (!id || !body) return;
      const fn = expr.slice(id.from, id.to);
      for (const m of children(body, "MatrixSelector")) {
        const vs = children(m, "VectorSelector")[0];
        out.push({ fn, range: expr.slice(vs ? vs.to : m.from, m.to).replace(/^\[|\]$/g, "") });
      }
    },
  });
  return out;
}

/** Label names a LogQL expression selects streams on, and the equality matchers' values. */
export function logqlStreamMatchers(expr: string): { label: string; op: string; value: string }[] {
  const out: { label: string; op: string; value: string }[] = [];
  logqlParser.parse(expr).iterate({
    enter: (n) => {
      if (n.name !== "Selector") return;
      n.node.cursor().iterate((c) => {
        if (c.name !== "Matcher") return;
        const id = children(c.node, "Identifier")[0];
        const str = children(c.node, "String")[0];
        if (!id) return;
        const op = expr.slice(id.to, str ? str.from : c.to).trim();
        out.push({
          label: expr.slice(id.from, id.to),
          op,
          value: str ? JSON.parse(expr.slice(str.from, str.to)) : "",
        });
      });
      return false;
    },
  });
  return out;
}

/**
 * Labels a LogQL metric query groups by (`sum by (x)`) when no parser stage (json, logfmt...) could have
 * extracted them: those must be stream labels.
 */
export function logqlGroupingLabelsWithoutParser(expr: string): string[] {
  const tree = logqlParser.parse(expr);
  let hasParser = false;
  const grouped: string[] = [];
  tree.iterate({
    enter: (n) => {
      if (n.name === "LabelParser" || n.name === "JsonExpressionParser" || n.name === "LogfmtParser")
        hasParser = true;
      if (n.name === "Grouping") {
        n.node.cursor().iterate((c) => {
          if (c.name === "Identifier") grouped.push(expr.slice(c.from, c.to));
        });
      }
    },
  });
  return hasParser ? [] : grouped;
}

interface PromtailScrape {
  job_name?: string;
  static_configs?: { labels?: Record<string, string> }[];
  relabel_configs?: { target_label?: string; replacement?: string; action?: string }[];
  pipeline_stages?: Record<string, unknown>[];
}

/**
 * Labels Promtail attaches, with the literal values it gives them where the configuration fixes them:
 * static labels, relabel target labels (values when a literal replacement), `labels` and
 * `static_labels` pipeline stages, and `filename`, which Promtail adds to every line read from a file.
 * Labels starting with `__` are internal and dropped before sending.
 */
export function promtailLabels(yamlText: string): Map<string, Set<string>> {
  const doc = parseYaml(yamlText, { merge: true }) as { scrape_configs?: PromtailScrape[] };
  const labels = new Map<string, Set<string>>();
  const add = (name: string, value?: string) => {
    if (name.startsWith("__")) return;
    const set = labels.get(name) ?? new Set<string>();
    if (value !== undefined && !value.includes("$")) set.add(value);
    labels.set(name, set);
  };
  if (!doc?.scrape_configs?.length) throw new Error("the Promtail configuration has no scrape_configs");
  for (const sc of doc.scrape_configs) {
    for (const st of sc.static_configs ?? []) {
      for (const [k, v] of Object.entries(st.labels ?? {})) add(k, v);
      if (st.labels?.__path__) add("filename");
    }
    for (const r of sc.relabel_configs ?? []) {
      const action = r.action ?? "replace";
      if (action === "replace" && r.target_label) add(r.target_label, r.replacement);
    }
    for (const stage of sc.pipeline_stages ?? []) {
      const l = stage.labels as Record<string, unknown> | undefined;
      if (l) for (const k of Object.keys(l)) add(k);
      const s = stage.static_labels as Record<string, string> | undefined;
      if (s) for (const [k, v] of Object.entries(s)) add(k, v);
    }
  }
  return labels;
}
