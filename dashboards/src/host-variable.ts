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
import { hostLabel, selectors } from "../../definitions/thresholds.ts";
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

interface PromTarget {
  expr?: unknown;
  datasource?: { type?: unknown };
}

/** Adds the variable (after the datasource variables) and the matcher to every PromQL panel query and annotation. */
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
    }
  }
  for (const a of json.annotations.list ?? []) {
    if (a.datasource?.type !== "prometheus") continue;
    const target = a.target as PromTarget | undefined;
    if (target && typeof target.expr === "string") target.expr = withHostMatcher(target.expr);
    if (typeof (a as { expr?: unknown }).expr === "string")
      (a as { expr?: string }).expr = withHostMatcher((a as { expr: string }).expr);
  }
  return json;
}
