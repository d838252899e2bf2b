// Every dashboard, with ONE defaults pass applied after building (kubernetes-mixin's
// dashboards/defaults.libsonnet plays this part there): stable UID from the file name, tags, refresh,
// time range, timezone, the Prometheus and Loki datasource variables (defaulting to the provisioned
// UIDs), links between all dashboards, read-only, and panel ids. The dashboard files never set these.
//
// outputs() writes dashboards/generated/<folder>/<name>.json; the provisioning provider maps each folder
// directory to a Grafana folder.
import {
  DashboardCursorSync,
  DashboardLinkBuilder,
  DashboardLinkType,
  DatasourceVariableBuilder,
  type Dashboard,
  type Panel,
  type RowPanel,
} from "@grafana/grafana-foundation-sdk/dashboard";
import { datasourceUids } from "../../definitions/selectors.ts";
import * as apiSlo from "./api-slo.ts";
import type { folders } from "./common.ts";
import {
  dashboardUid,
  firingAlertsAnnotation,
  lokiVariable,
  promVariable,
  type DashboardModule,
} from "./common.ts";
import * as host from "./host.ts";
import { applyHostVariable } from "./host-variable.ts";
import * as logs from "./logs.ts";
import * as operations from "./operations.ts";
import * as overview from "./overview.ts";
import * as postgres from "./postgres.ts";
import * as redis from "./redis.ts";
import * as scans from "./scans.ts";
import * as scorecard from "./scorecard.ts";

/** The dashboards in the order of the links between them. */
export const modules: readonly DashboardModule[] = [
  overview.dashboard,
  scans.dashboard,
  apiSlo.dashboard,
  logs.dashboard,
  host.dashboard,
  postgres.dashboard,
  redis.dashboard,
  operations.dashboard,
  scorecard.dashboard,
];

/** The tag every generated dashboard carries; the "Kali Agents" link menu lists dashboards by it. */
export const commonTag = "kali-agents";
export const defaults = {
  refresh: "30s",
  time: { from: "now-6h", to: "now" },
  timezone: "utc",
} as const;

export interface GeneratedDashboard {
  readonly name: string;
  readonly folder: keyof typeof folders;
  /** Repository-relative path of the generated JSON. */
  readonly path: string;
  readonly json: Dashboard;
}

function withDefaults(m: DashboardModule): Dashboard {
  const b = m
    .build()
    .uid(dashboardUid(m.name))
    .title(m.title)
    .description(m.description)
    .tags([commonTag, ...m.tags])
    .refresh(defaults.refresh)
    .time(defaults.time)
    .timezone(defaults.timezone)
    .tooltip(DashboardCursorSync.Crosshair)
    .readonly()
    .withVariable(
      new DatasourceVariableBuilder(promVariable)
        .label("Prometheus")
        .type("prometheus")
        .current({ selected: true, text: "Prometheus", value: datasourceUids.prometheus }),
    )
    .withVariable(
      new DatasourceVariableBuilder(lokiVariable)
        .label("Loki")
        .type("loki")
        .current({ selected: true, text: "Loki", value: datasourceUids.loki }),
    )
    .annotation(firingAlertsAnnotation())
    .link(
      new DashboardLinkBuilder("Kali Agents")
        .type(DashboardLinkType.Dashboards)
        .tags([commonTag])
        .asDropdown(true)
        .includeVars(true)
        .keepTime(true),
    );
  // After the datasource variables; every PromQL query gets the host matcher (host-variable.ts).
  const json = applyHostVariable(b.build());
  // The SDK defaults links to the controls menu (hidden behind a dropdown in Grafana 12); the on-call
  // engineer should see the way to the other dashboards at the top of every one.
  for (const l of json.links ?? []) delete l.placement;
  for (const a of json.annotations.list ?? []) delete a.placement;
  // Panel ids: 1, 2, 3... in layout order, rows included. Grafana needs them unique per dashboard to
  // address panels (view, links, library panels); the SDK leaves them unset.
  let id = 0;
  for (const p of json.panels ?? []) {
    p.id = ++id;
    for (const inner of (p as RowPanel).panels ?? []) (inner as Panel).id = ++id;
  }
  return json;
}

const build = (): GeneratedDashboard[] =>
  modules.map((m) => ({
    name: m.name,
    folder: m.folder,
    path: `dashboards/generated/${m.folder}/${m.name}.json`,
    json: withDefaults(m),
  }));

/** The built dashboards (a fresh build on every import of this module). */
export const dashboards: readonly GeneratedDashboard[] = build();

/** JSON with object keys sorted, 2-space indent and a trailing newline: byte-stable across runs. */
export function stableJson(value: unknown): string {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (v !== null && typeof v === "object") {
      return Object.fromEntries(
        Object.keys(v as Record<string, unknown>)
          .sort()
          .map((k) => [k, sort((v as Record<string, unknown>)[k])]),
      );
    }
    return v;
  };
  return `${JSON.stringify(sort(value), null, 2)}\n`;
}

export function outputs(): Record<string, string> {
  const names = new Set<string>();
  const out: Record<string, string> = {};
  for (const d of build()) {
    if (names.has(d.name)) throw new Error(`two dashboards are named ${d.name}`);
    names.add(d.name);
    out[d.path] = stableJson(d.json);
  }
  return out;
}
