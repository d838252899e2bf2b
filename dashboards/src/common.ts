// Shared panel factories and query helpers for every dashboard. Each factory returns a NEW builder on
// every call: an SDK builder reused in two places would move its panel (and its queries) between them.
//
// Every factory takes the title, description and unit together, so a panel without them does not
// compile. Queries are declared as plain data (`prom(...)`, `loki(...)`) and turned into fresh dataquery
// builders with refIds A, B, C... by the factory.
import * as common from "@grafana/grafana-foundation-sdk/common";
import * as dashboard from "@grafana/grafana-foundation-sdk/dashboard";
import { PanelBuilder as GaugeBuilder } from "@grafana/grafana-foundation-sdk/gauge";
import * as heatmap from "@grafana/grafana-foundation-sdk/heatmap";
import { PanelBuilder as LogsBuilder } from "@grafana/grafana-foundation-sdk/logs";
import * as lokiSdk from "@grafana/grafana-foundation-sdk/loki";
import * as prometheus from "@grafana/grafana-foundation-sdk/prometheus";
import { PanelBuilder as StatBuilder } from "@grafana/grafana-foundation-sdk/stat";
import { PanelBuilder as TableBuilder } from "@grafana/grafana-foundation-sdk/table";
import { PanelBuilder as TimeseriesBuilder } from "@grafana/grafana-foundation-sdk/timeseries";
import type { MetricName } from "../../definitions/metrics/catalogue.ts";
import { heartbeatAlert, runbookUrl } from "../../definitions/rules.ts";
import { logs, logStreams, type LogStream } from "../../definitions/logs.ts";
import { increase as promqlIncrease, platformSeries, rate as promqlRate } from "../../lib/promql.ts";

// ---------------------------------------------------------------------------------------------------
// Names

export type { MetricName };

// The selectors and numbers come from the one PromQL builder (lib/promql.ts), which the panels import
// under its own names; only the range of a rate is Grafana's own.

/** `rate(selector[$__rate_interval])`: $__rate_interval is never less than four scrape intervals. */
export const rate = (selector: string): string => promqlRate(selector, "$__rate_interval");
/** `increase(selector[$__rate_interval])`. */
export const increase = (selector: string): string => promqlIncrease(selector, "$__rate_interval");

// ---------------------------------------------------------------------------------------------------
// Datasources: panels only reference the dashboard variables; the defaults pass defines them.

export const promVariable = "datasource";
export const lokiVariable = "loki_datasource";
export const promDatasource = { type: "prometheus", uid: `\${${promVariable}}` } as const;
export const lokiDatasource = { type: "loki", uid: `\${${lokiVariable}}` } as const;

// ---------------------------------------------------------------------------------------------------
// Queries as data

export interface PromQuery {
  readonly kind: "prometheus";
  readonly expr: string;
  readonly legend?: string;
  readonly format?: "time_series" | "table" | "heatmap";
  readonly instant?: boolean;
}
export interface LokiQuery {
  readonly kind: "loki";
  readonly expr: string;
  readonly legend?: string;
}
export type Query = PromQuery | LokiQuery;

export const prom = (expr: string, legend?: string, extra: Partial<PromQuery> = {}): PromQuery => ({
  kind: "prometheus",
  expr,
  ...(legend !== undefined ? { legend } : {}),
  ...extra,
});
/** An instant query in table format, for tables of current state. */
export const promTable = (expr: string): PromQuery => ({
  kind: "prometheus",
  expr,
  format: "table",
  instant: true,
});
export const loki = (expr: string, legend?: string): LokiQuery => ({
  kind: "loki",
  expr,
  ...(legend !== undefined ? { legend } : {}),
});

/** A Loki stream selector on the application's log files: `{job="kali-agents", stream="errors"}`. */
export function logSelector(stream?: LogStream, ...matchers: string[]): string {
  if (stream !== undefined && !(stream in logStreams))
    throw new Error(`unknown log stream ${String(stream)}`);
  const all = [`job="${logs.appJob}"`, ...(stream ? [`stream="${stream}"`] : []), ...matchers];
  return `{${all.join(", ")}}`;
}

const refId = (i: number): string => {
  if (i >= 26) throw new Error("more than 26 queries in one panel");
  return String.fromCharCode(65 + i);
};

function target(q: Query, i: number): prometheus.DataqueryBuilder | lokiSdk.DataqueryBuilder {
  if (q.kind === "loki") {
    const b = new lokiSdk.DataqueryBuilder().datasource(lokiDatasource).expr(q.expr).refId(refId(i));
    return q.legend !== undefined ? b.legendFormat(q.legend) : b;
  }
  const b = new prometheus.DataqueryBuilder()
    .datasource(promDatasource)
    .editorMode(prometheus.QueryEditorMode.Code)
    .expr(q.expr)
    .refId(refId(i));
  if (q.legend !== undefined) b.legendFormat(q.legend);
  if (q.format) b.format(q.format as prometheus.PromQueryFormat);
  if (q.instant) b.instant();
  else b.range();
  return b;
}

// ---------------------------------------------------------------------------------------------------
// Thresholds, mappings, links

/** A threshold step: the colour from `value` upwards (the first step starts at -infinity). */
export type Step = readonly [color: string, value: number];

/** Green below, red from `red` (and orange from `orange` when given). */
export const above = (red: number, orange?: number): Step[] =>
  orange !== undefined
    ? [
        ["orange", orange],
        ["red", red],
      ]
    : [["red", red]];
/** Red below `green` (for ratios where lower is worse, e.g. success rate or budget left). */
export const below = (green: number): { base: string; steps: Step[] } => ({
  base: "red",
  steps: [["green", green]],
});

function thresholdsBuilder(steps: readonly Step[], base = "green"): dashboard.ThresholdsConfigBuilder {
  return new dashboard.ThresholdsConfigBuilder()
    .mode(dashboard.ThresholdsMode.Absolute)
    .steps([{ value: null, color: base }, ...steps.map(([color, value]) => ({ color, value }))]);
}

/** 1 = UP (green), 0 = DOWN (red): for up, pg_up, redis_up and probe results. */
export const upDownMapping: dashboard.ValueMapping[] = [
  {
    type: dashboard.MappingType.ValueToText,
    options: {
      "0": { text: "DOWN", color: "red", index: 0 },
      "1": { text: "UP", color: "green", index: 1 },
    },
  },
];
/** 1 = OK, 0 = FAILED: for success flags. */
export const okFailedMapping: dashboard.ValueMapping[] = [
  {
    type: dashboard.MappingType.ValueToText,
    options: {
      "0": { text: "FAILED", color: "red", index: 0 },
      "1": { text: "OK", color: "green", index: 1 },
    },
  },
];

/** A link from a panel to another generated dashboard, keeping the time range and variables. */
export interface PanelLink {
  readonly title: string;
  /** File name (without .ts) of the target dashboard. */
  readonly dashboard: string;
}

/** The stable UID of a dashboard, from its file name. Grafana allows at most 40 characters. */
export const dashboardUid = (name: string): string => `kali-${name}`;

function dataLink(l: PanelLink): dashboard.DashboardLinkBuilder {
  return new dashboard.DashboardLinkBuilder(l.title)
    .type(dashboard.DashboardLinkType.Link)
    .url(`/d/${dashboardUid(l.dashboard)}?\${__url_time_range}&\${__all_variables}`)
    .targetBlank(false);
}

function runbookLink(alert: string): dashboard.DashboardLinkBuilder {
  return new dashboard.DashboardLinkBuilder(`Runbook: ${alert}`)
    .type(dashboard.DashboardLinkType.Link)
    .url(runbookUrl(alert))
    .targetBlank(true);
}

// ---------------------------------------------------------------------------------------------------
// Panel factories

export interface PanelSpec {
  readonly title: string;
  readonly description: string;
  /** A Grafana unit id: "s", "bytes", "percentunit", "reqps", "short", "none"... */
  readonly unit: string;
  readonly queries: readonly Query[];
  /** Threshold steps above a green base, or a base colour with steps. */
  readonly thresholds?: readonly Step[] | { base: string; steps: readonly Step[] };
  readonly mappings?: dashboard.ValueMapping[];
  readonly min?: number;
  readonly max?: number;
  readonly decimals?: number;
  /** Grid width (of 24) and height. */
  readonly width?: number;
  readonly height?: number;
  readonly links?: readonly PanelLink[];
  /** Alerts this panel shows the figure of: each gets a link to its runbook. */
  readonly alerts?: readonly string[];
}

interface CommonPanel {
  title(t: string): this;
  description(d: string): this;
  unit(u: string): this;
  datasource(d: common.DataSourceRef): this;
  withTarget(t: prometheus.DataqueryBuilder | lokiSdk.DataqueryBuilder): this;
  thresholds(t: dashboard.ThresholdsConfigBuilder): this;
  mappings(m: dashboard.ValueMapping[]): this;
  min(n: number): this;
  max(n: number): this;
  decimals(n: number): this;
  span(w: number): this;
  height(h: number): this;
  dataLinks(l: dashboard.DashboardLinkBuilder[]): this;
}

function apply<B extends CommonPanel>(b: B, spec: PanelSpec, defaults: { width: number; height: number }): B {
  if (!spec.title.trim()) throw new Error("a panel needs a title");
  if (!spec.description.trim()) throw new Error(`panel "${spec.title}" needs a description`);
  if (!spec.unit.trim()) throw new Error(`panel "${spec.title}" needs a unit`);
  if (spec.queries.length === 0) throw new Error(`panel "${spec.title}" has no query`);
  const kinds = new Set(spec.queries.map((q) => q.kind));
  if (kinds.size > 1) throw new Error(`panel "${spec.title}" mixes Prometheus and Loki queries`);
  b.title(spec.title)
    .description(spec.description)
    .unit(spec.unit)
    .datasource(kinds.has("loki") ? lokiDatasource : promDatasource)
    .span(spec.width ?? defaults.width)
    .height(spec.height ?? defaults.height);
  spec.queries.forEach((q, i) => b.withTarget(target(q, i)));
  const t = spec.thresholds;
  if (t) b.thresholds("base" in t ? thresholdsBuilder(t.steps, t.base) : thresholdsBuilder(t));
  else b.thresholds(thresholdsBuilder([]));
  if (spec.mappings) b.mappings(spec.mappings);
  if (spec.min !== undefined) b.min(spec.min);
  if (spec.max !== undefined) b.max(spec.max);
  if (spec.decimals !== undefined) b.decimals(spec.decimals);
  const links = [...(spec.links ?? []).map(dataLink), ...(spec.alerts ?? []).map(runbookLink)];
  if (links.length) b.dataLinks(links);
  return b;
}

export function timeseries(spec: PanelSpec): TimeseriesBuilder {
  const b = new TimeseriesBuilder()
    .lineWidth(1)
    .fillOpacity(10)
    .showPoints(common.VisibilityMode.Never)
    .legend(
      new common.VizLegendOptionsBuilder()
        .showLegend(true)
        .displayMode(common.LegendDisplayMode.List)
        .placement(common.LegendPlacement.Bottom),
    )
    .tooltip(
      new common.VizTooltipOptionsBuilder()
        .mode(common.TooltipDisplayMode.Multi)
        .sort(common.SortOrder.Descending),
    );
  // Draw the thresholds as dashed lines where a panel has them, so the alerting level is visible.
  b.thresholdsStyle(
    new common.GraphThresholdsStyleConfigBuilder().mode(
      spec.thresholds ? common.GraphThresholdsStyleMode.Dashed : common.GraphThresholdsStyleMode.Off,
    ),
  );
  return apply(b, spec, { width: 12, height: 8 });
}

export function stat(spec: PanelSpec): StatBuilder {
  const b = new StatBuilder()
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(["lastNotNull"]).values(false))
    .colorMode(common.BigValueColorMode.Value)
    .graphMode(common.BigValueGraphMode.None)
    .textMode(common.BigValueTextMode.Auto);
  return apply(b, spec, { width: 4, height: 4 });
}

export function gauge(spec: PanelSpec): GaugeBuilder {
  const b = new GaugeBuilder()
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(["lastNotNull"]).values(false))
    .showThresholdMarkers(true);
  return apply(b, spec, { width: 4, height: 6 });
}

export function table(spec: PanelSpec): TableBuilder {
  return apply(new TableBuilder(), spec, { width: 12, height: 8 });
}

/**
 * A heatmap of a Prometheus histogram's buckets (format heatmap, so Grafana does not re-bucket).
 * `unit` is the unit of the buckets (the y axis).
 */
export function histogramHeatmap(spec: PanelSpec): heatmap.PanelBuilder {
  const b = new heatmap.PanelBuilder()
    .calculate(false)
    .yAxis(new heatmap.YAxisConfigBuilder().unit(spec.unit))
    .color(
      new heatmap.HeatmapColorOptionsBuilder()
        .mode(heatmap.HeatmapColorMode.Scheme)
        .scheme("Oranges")
        .scale(heatmap.HeatmapColorScale.Exponential)
        .exponent(0.5)
        .steps(64),
    )
    .cellGap(1)
    .showLegend();
  // spec.unit is the buckets' unit (the y axis); the cells count observations per second.
  return apply(b, spec, { width: 12, height: 8 }).unit("short");
}

export interface LogsSpec {
  readonly title: string;
  readonly description: string;
  readonly query: LokiQuery;
  readonly width?: number;
  readonly height?: number;
}

/** A logs panel: newest first, with details. Logs have no unit, the linter knows that. */
export function logsPanel(spec: LogsSpec): LogsBuilder {
  if (!spec.description.trim()) throw new Error(`panel "${spec.title}" needs a description`);
  return new LogsBuilder()
    .title(spec.title)
    .description(spec.description)
    .datasource(lokiDatasource)
    .withTarget(target(spec.query, 0))
    .showTime(true)
    .wrapLogMessage(true)
    .enableLogDetails(true)
    .sortOrder(common.LogsSortOrder.Descending)
    .dedupStrategy(common.LogsDedupStrategy.None)
    .span(spec.width ?? 24)
    .height(spec.height ?? 10);
}

export const row = (title: string): dashboard.RowBuilder => new dashboard.RowBuilder(title);

/**
 * Firing alerts (the heartbeat aside) as annotations on every graph: when something broke shows on the
 * graph that explains it. Red, titled by alert name, tagged with the severity.
 */
export function firingAlertsAnnotation(): dashboard.AnnotationQueryBuilder {
  const expr = `${platformSeries("ALERTS", `alertstate="firing"`, `alertname!="${heartbeatAlert}"`)}`;
  return (
    new dashboard.AnnotationQueryBuilder()
      .name("Firing alerts")
      .datasource(promDatasource)
      .enable(true)
      .iconColor("red")
      // Grafana 12 reads the query from `target`; the top-level fields are what older versions read.
      .target(new prometheus.DataqueryBuilder().datasource(promDatasource).expr(expr).refId("Anno"))
      .expr(expr)
      .step("60s")
      .titleFormat("{{alertname}}")
      .tagKeys("severity")
      .useValueForTime(false)
  );
}

/** What one dashboard file exports. */
export interface DashboardModule {
  /** File name without .ts; the UID and the generated file name come from it. */
  readonly name: string;
  readonly title: string;
  readonly description: string;
  /** Grafana folder (one per area). */
  readonly folder: Folder;
  readonly tags: readonly string[];
  build(): dashboard.DashboardBuilder;
}

/** The folders, one per area: directory name under dashboards/generated/ and the title in Grafana. */
export const folders = {
  "kali-agents": "Kali Agents",
  infrastructure: "Kali Agents Infrastructure",
  logs: "Kali Agents Logs",
  operations: "Kali Agents Operations",
} as const;
export type Folder = keyof typeof folders;
