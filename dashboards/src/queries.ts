// Every query of every generated dashboard, with Grafana's variables substituted, for the tests that
// parse them and for the end-to-end test that runs each PromQL query against a real Prometheus.
import type { Dashboard, Panel, RowPanel } from "@grafana/grafana-foundation-sdk/dashboard";
import { jobMetrics } from "../../definitions/metrics/jobs.ts";
import { dashboards, type GeneratedDashboard } from "./index.ts";

/** Values for Grafana's built-in variables, as Grafana would expand them for a 1h range. */
export const defaultVariableValues: Readonly<Record<string, string>> = {
  // Grafana: max(4 x scrape interval, $__interval + scrape interval); 1m for a 15s scrape interval.
  __rate_interval: "1m",
  __interval: "1m",
  __interval_ms: "60000",
  __range: "1h",
  __range_s: "3600",
  __range_ms: "3600000",
  __auto: "1m",
  // The host variable's "All" (dashboards/src/host-variable.ts).
  host: ".*",
};

/**
 * Replaces `$name`, `${name}`, `${name:format}` and `[[name]]` by their values. An unknown variable is an
 * error, so a query using a variable nobody gave a value for fails loudly instead of being run half-done.
 */
export function substitute(
  expr: string,
  values: Readonly<Record<string, string>> = defaultVariableValues,
): string {
  const lookup = (name: string): string => {
    const v = values[name];
    if (v === undefined) throw new Error(`no value for Grafana variable $${name} in: ${expr}`);
    return v;
  };
  return expr
    .replace(/\$\{(\w+)(?::[^}]*)?\}/g, (_, n: string) => lookup(n))
    .replace(/\[\[(\w+)\]\]/g, (_, n: string) => lookup(n))
    .replace(/\$(\w+)/g, (_, n: string) => lookup(n));
}

export interface PanelQuery {
  readonly dashboard: string;
  readonly panel: string;
  readonly refId: string;
  readonly datasource: "prometheus" | "loki";
  /** The expression as written in the dashboard, variables unexpanded. */
  readonly raw: string;
  /** The expression with variables substituted. */
  readonly expr: string;
}

/** Every panel of a dashboard, rows' nested panels included, rows themselves excluded. */
export function panelsOf(d: Dashboard): Panel[] {
  const out: Panel[] = [];
  for (const p of d.panels ?? []) {
    if (p.type === "row") out.push(...((p as RowPanel).panels ?? []));
    else out.push(p as Panel);
  }
  return out;
}

interface Target {
  expr?: unknown;
  refId?: unknown;
  datasource?: { type?: unknown };
}

export function allQueries(
  values: Readonly<Record<string, string>> = defaultVariableValues,
  from: readonly GeneratedDashboard[] = dashboards,
): PanelQuery[] {
  const out: PanelQuery[] = [];
  for (const d of from) {
    for (const p of panelsOf(d.json)) {
      for (const t of (p.targets ?? []) as Target[]) {
        const type = t.datasource?.type ?? p.datasource?.type;
        if (type !== "prometheus" && type !== "loki") {
          throw new Error(
            `${d.name} / ${p.title}: query ${String(t.refId)} has no prometheus or loki datasource`,
          );
        }
        if (typeof t.expr !== "string")
          throw new Error(`${d.name} / ${p.title}: query without an expression`);
        out.push({
          dashboard: d.name,
          panel: p.title ?? "",
          refId: typeof t.refId === "string" ? t.refId : "",
          datasource: type,
          raw: t.expr,
          expr: substitute(t.expr, values),
        });
      }
    }
  }
  return out;
}

/**
 * The dashboards' annotation queries (PromQL), variables substituted. Not panel queries: the firing
 * alerts annotation is empty while nothing is wrong, so the end-to-end test does not expect data.
 */
export function allAnnotationQueries(
  values: Readonly<Record<string, string>> = defaultVariableValues,
  from: readonly GeneratedDashboard[] = dashboards,
): { dashboard: string; annotation: string; datasource: string; expr: string }[] {
  return from.flatMap((d) =>
    (d.json.annotations.list ?? []).flatMap((a) => {
      const expr = (a.target as { expr?: unknown } | undefined)?.expr ?? a.expr;
      if (typeof expr !== "string") return [];
      return [
        {
          dashboard: d.name,
          annotation: a.name,
          datasource: a.datasource?.uid ?? "",
          expr: substitute(expr, { ...defaultVariableValues, ...values }),
        },
      ];
    }),
  );
}

/**
 * Every PromQL query with its dashboard and panel title, Grafana variables substituted (pass other
 * values, e.g. a shorter $__rate_interval for a short test run).
 */
export function allPromQueries(
  values: Readonly<Record<string, string>> = defaultVariableValues,
): { dashboard: string; panel: string; expr: string; onJobMetrics: boolean }[] {
  return allQueries({ ...defaultVariableValues, ...values })
    .filter((q) => q.datasource === "prometheus")
    .map(({ dashboard, panel, expr }) => ({ dashboard, panel, expr, onJobMetrics: usesJobMetrics(expr) }));
}

const jobMetricName = new RegExp(`\\b(?:${jobMetrics.map((m) => m.name).join("|")})\\b`);
/**
 * Whether an expression reads a metric of the job-metric contract (definitions `jobMetrics`): such a
 * query has no data on a fresh stack until the operations jobs have run once (the end-to-end test runs
 * them first, so every panel there has data; it uses this flag only to report those queries).
 */
export const usesJobMetrics = (expr: string): boolean => jobMetricName.test(expr);

/** Every LogQL query, likewise. */
export function allLokiQueries(
  values: Readonly<Record<string, string>> = defaultVariableValues,
): { dashboard: string; panel: string; expr: string }[] {
  return allQueries({ ...defaultVariableValues, ...values })
    .filter((q) => q.datasource === "loki")
    .map(({ dashboard, panel, expr }) => ({ dashboard, panel, expr }));
}
