// The overview: the seed's four panels (active scans, scan success rate, API p95, error rate) and the
// state of everything at a glance: SLO and budget, firing alerts, targets, components, last backup.
// Its panels come from the area files' factories, each call a fresh builder.
import { DashboardBuilder } from "@grafana/grafana-foundation-sdk/dashboard";
import { heartbeatAlert } from "../../definitions/rules.ts";
import { probeKinds, selectors } from "../../definitions/selectors.ts";
import * as api from "./api-slo.ts";
import { platformSeries, series } from "../../lib/promql.ts";
import { above, prom, promTable, row, stat, table, upDownMapping, type DashboardModule } from "./common.ts";
import * as operations from "./operations.ts";
import * as postgres from "./postgres.ts";
import * as redis from "./redis.ts";
import * as scans from "./scans.ts";

const firing = (...m: string[]) => platformSeries("ALERTS", `alertstate="firing"`, ...m);

const firingCount = () =>
  stat({
    title: "Firing alerts",
    description: `Alerts firing now in Prometheus, pending ones and the ${heartbeatAlert} heartbeat left out. Details in the table beside it.`,
    unit: "short",
    queries: [prom(`count(${firing(`alertname!="${heartbeatAlert}"`)}) or vector(0)`, "firing")],
    thresholds: above(1),
    height: 6,
  });

const firingTable = () =>
  table({
    title: "Firing alerts by name and severity",
    description: `Every firing alert with its severity; the runbook link is in the notification and in docs/runbooks. ${heartbeatAlert} (info) always fires: it shows the alerting pipeline is alive.`,
    unit: "none",
    width: 8,
    height: 6,
    queries: [promTable(`sum by (alertname, severity) (${firing()})`)],
  }).withTransformation({
    // An instant table query has Time and Value columns that mean nothing here.
    id: "organize",
    options: { excludeByName: { Time: true, Value: true }, indexByName: { alertname: 0, severity: 1 } },
  });

const probe = (title: string, kind: string, description: string, legend: string, alert: string) =>
  stat({
    title,
    description,
    unit: "none",
    queries: [
      prom(
        `min by (target) (${series("kali_agents_probe_success", selectors.exporter, `kind="${kind}"`)})`,
        legend,
      ),
    ],
    mappings: upDownMapping,
    thresholds: { base: "red", steps: [["green", 1]] },
    alerts: [alert],
  });

export const dashboard: DashboardModule = {
  name: "overview",
  title: "Kali Agents / Overview",
  description: "Scans, API, SLO, alerts and the state of every component at a glance.",
  folder: "kali-agents",
  tags: ["overview"],
  build: () =>
    new DashboardBuilder("Kali Agents / Overview")
      .withRow(row("Scans and API"))
      .withPanel(scans.activeScansStat())
      .withPanel(scans.successRateStat())
      .withPanel(scans.queueDepthStat())
      .withPanel(scans.oldestRunningStat())
      .withPanel(api.p95Stat())
      .withPanel(api.errorRateStat())
      .withRow(row("SLO and alerts"))
      .withPanel(api.availabilityStat().span(6).height(6))
      .withPanel(api.budgetLeftStat().span(6).height(6))
      .withPanel(firingCount())
      .withPanel(firingTable())
      .withRow(row("Components"))
      .withPanel(postgres.upStat())
      .withPanel(redis.upStat())
      .withPanel(
        probe(
          "API",
          probeKinds.api,
          "Whether the exporter's probe of the API health URL succeeded.",
          "API",
          "ApiDown",
        ),
      )
      .withPanel(
        probe(
          "MCP servers",
          probeKinds.mcp,
          "Whether the exporter's probe of each MCP server succeeded.",
          "{{target}}",
          "McpServerDown",
        ).span(8),
      )
      .withPanel(operations.lastBackupAgeStat())
      .withPanel(operations.targetsUpStat().span(24)),
};
