// The host variable: one dashboard for one host or for many. A pass over every built dashboard (like the
// defaults pass in index.ts) adds the `host` query variable and a `host=~"$host"` matcher to every
// series selector of every PromQL query, so no panel writes it and none can forget it.
//
// On one compose host the series carry no host label (an edge Prometheus sets it in external_labels,
// which apply on the way out, not to its own TSDB): the variable then lists no value and "All" (.*)
// matches the empty label, so every panel shows what it showed before. On a central Prometheus fed by
// remote_write (deploy/remote-write/) the variable lists the hosts, and picking one narrows every panel.
import { parser } from "@prometheus-io/lezer-promql";
import type { SyntaxNode } from "@lezer/common";
import {
  QueryVariableBuilder,
  VariableRefresh,
  VariableSort,
  type Dashboard,
  type RowPanel,
} from "@grafana/grafana-foundation-sdk/dashboard";
import { hostLabel, selectors } from "../../definitions/selectors.ts";
import { promDatasource } from "./common.ts";

/** The dashboard variable's name (`$host`). */
export const hostVariable = hostLabel;
/** The matcher added to every selector. A regex: "All" and multi-value selections expand to one. */
export const hostMatcher = `${hostLabel}=~"$${hostVariable}"`;
/** The variable's query: the hosts whose exporter Prometheus has data for. */
export const hostValuesQuery = `label_values(up{${selectors.exporter}}, ${hostLabel})`;

export function hostVariableBuilder(): QueryVariableBuilder {
  return (
    new QueryVariableBuilder(hostVariable)
      .label("Host")
      .description(
        "The host (the edge Prometheus' external label host). Empty on a single compose host, where All matches every series.",
      )
      .datasource(promDatasource)
      // A query string: Grafana reads label_values(...) from it in every version (the object form's
      // fields changed between Grafana's Prometheus variable editors).
      .query(hostValuesQuery)
      .definition(hostValuesQuery)
      .refresh(VariableRefresh.OnTimeRangeChanged)
      .sort(VariableSort.AlphabeticalAsc)
      .multi(true)
      .includeAll(true)
      // ".*", not Grafana's default of every listed value joined: it matches series without a host label.
      .allValue(".*")
      .current({ selected: true, text: "All", value: "$__all" })
  );
}

/**
 * Grafana variables replaced by digits of the same length, so the parser sees valid PromQL (a number is
 * valid where a variable stands: a range `[999]`, an operand) and the positions stay those of `expr`.
 */
const neutralised = (expr: string): string =>
  expr.replace(/\$\{\w+(?::[^}]*)?\}|\[\[\w+\]\]|\$\w+/g, (m) => "9".repeat(m.length));

function vectorSelectors(expr: string): SyntaxNode[] {
  const text = neutralised(expr);
  const tree = parser.parse(text);
  const out: SyntaxNode[] = [];
  let error: number | undefined;
  tree.iterate({
    enter(n) {
      if (n.type.isError) error ??= n.from;
      if (n.name === "VectorSelector") out.push(n.node);
    },
  });
  if (error !== undefined)
    throw new Error(`cannot add the host matcher: PromQL does not parse at ${error}: ${expr}`);
  return out;
}

/** `expr` with `host=~"$host"` in every series selector (those that already match on host are left). */
export function withHostMatcher(expr: string): string {
  const inserts: { at: number; text: string }[] = [];
  for (const sel of vectorSelectors(expr)) {
    const matchers = sel.getChild("LabelMatchers");
    if (matchers) {
      const inside = expr.slice(matchers.from + 1, matchers.to - 1);
      if (new RegExp(`(^|[{,\\s])${hostLabel}\\s*(=|!=|=~|!~)`).test(inside)) continue;
      inserts.push({ at: matchers.to - 1, text: inside.trim() === "" ? hostMatcher : `, ${hostMatcher}` });
    } else {
      inserts.push({ at: sel.to, text: `{${hostMatcher}}` });
    }
  }
  let out = expr;
  for (const i of inserts.sort((a, b) => b.at - a.at)) out = out.slice(0, i.at) + i.text + out.slice(i.at);
  return out;
}

/**
 * `expr` (LogQL) with `host=~"$host"` in every stream selector. Compose's Promtail and Alloy attach
 * `host` (HOST_NAME, the variable the edge Prometheus' external label takes too), the Kubernetes
 * Promtail the node's name. "All" (.*) also matches streams without the label, as in PromQL; Loki
 * requires a matcher that does not match the empty string, which every selector here already has (a
 * `job` or a `service`), and this pass only adds. Outside string literals and Grafana's `${...}`, a
 * `{` in LogQL opens a stream selector: the scan skips strings (`"..."` with escapes, `` `...` ``).
 */
export function withLogHostMatcher(expr: string): string {
  const inserts: { at: number; text: string }[] = [];
  let i = 0;
  while (i < expr.length) {
    const c = expr[i]!;
    if (c === '"' || c === "`") {
      let j = i + 1;
      while (j < expr.length && expr[j] !== c) j += c === '"' && expr[j] === "\\" ? 2 : 1;
      if (j >= expr.length) throw new Error(`cannot add the host matcher: unterminated string in ${expr}`);
      i = j + 1;
    } else if (c === "$" && expr[i + 1] === "{") {
      const end = expr.indexOf("}", i);
      if (end < 0) throw new Error(`cannot add the host matcher: unterminated \${ in ${expr}`);
      i = end + 1;
    } else if (c === "{") {
      let j = i + 1;
      while (j < expr.length && expr[j] !== "}") {
        if (expr[j] === '"' || expr[j] === "`") {
          const q = expr[j]!;
          j++;
          while (j < expr.length && expr[j] !== q) j += q === '"' && expr[j] === "\\" ? 2 : 1;
        }
        j++;
      }
      if (j >= expr.length) throw new Error(`cannot add the host matcher: unclosed selector in ${expr}`);
      const inside = expr.slice(i + 1, j);
      if (!new RegExp(`(^|[{,\\s])${hostLabel}\\s*(=|!=|=~|!~)`).test(inside))
        inserts.push({ at: j, text: inside.trim() === "" ? hostMatcher : `, ${hostMatcher}` });
      i = j + 1;
    } else i++;
  }
  let out = expr;
  for (const ins of inserts.sort((a, b) => b.at - a.at))
    out = out.slice(0, ins.at) + ins.text + out.slice(ins.at);
  return out;
}

interface PromTarget {
  expr?: unknown;
  datasource?: { type?: unknown };
}

/** Adds the variable (after the datasource variables) and the matcher to every PromQL and LogQL panel query and annotation. */
export function applyHostVariable(json: Dashboard): Dashboard {
  const vars = json.templating.list ?? [];
  const afterDatasources = vars.filter((v) => v.type === "datasource").length;
  vars.splice(afterDatasources, 0, hostVariableBuilder().build());
  json.templating.list = vars;
  const isProm = (t: PromTarget, panelType?: unknown) => (t.datasource?.type ?? panelType) === "prometheus";
  const panels = (json.panels ?? []).flatMap((p) => [p, ...((p as RowPanel).panels ?? [])]);
  for (const p of panels) {
    const targets = ((p as { targets?: PromTarget[] }).targets ?? []) as PromTarget[];
    for (const t of targets) {
      if (
        isProm(t, (p as { datasource?: { type?: unknown } }).datasource?.type) &&
        typeof t.expr === "string"
      )
        t.expr = withHostMatcher(t.expr);
      else if (
        (t.datasource?.type ?? (p as { datasource?: { type?: unknown } }).datasource?.type) === "loki" &&
        typeof t.expr === "string"
      )
        t.expr = withLogHostMatcher(t.expr);
    }
  }
  for (const a of json.annotations.list ?? []) {
    const type = a.datasource?.type;
    if (type !== "prometheus" && type !== "loki") continue;
    const add = type === "prometheus" ? withHostMatcher : withLogHostMatcher;
    const target = a.target as PromTarget | undefined;
    if (target && typeof target.expr === "string") target.expr = add(target.expr);
    if (typeof (a as { expr?: unknown }).expr === "string")
      (a as { expr?: string }).expr = add((a as { expr: string }).expr);
  }
  return json;
}
