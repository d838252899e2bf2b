// Operations scorecard: the operations plan's success metrics against their targets
// (docs/operations/scorecard.md). Live figures come from Prometheus' recording rules (uptime, backup
// success rate, automated share, manual runs, documentation coverage); recovery and alert response
// are the last weekly report's, published by the report job as kali_agents_report_scorecard{figure}.
import { DashboardBuilder } from "@grafana/grafana-foundation-sdk/dashboard";
import {
  scorecardRecordings as rec,
  scorecardTargetSides as side,
  scorecardTargets as target,
} from "../../definitions/scorecard.ts";
import { selectors } from "../../definitions/selectors.ts";
import { availabilityStat } from "./api-slo.ts";
import { platformSeries, series } from "../../lib/promql.ts";
import { above, below, prom, row, stat, timeseries, type DashboardModule } from "./common.ts";

const exp = selectors.exporter;
const figure = (name: string) => series("kali_agents_report_scorecard", exp, `figure="${name}"`);
const minutes = (s: number) => `${s / 60} minutes`;
/** Red on the side where a figure misses its target (scorecardTargetSides): above it, or below it. */
const redWhenMissed = (key: keyof typeof target) =>
  side[key] === "below" ? above(target[key]) : below(target[key]);

const recoveryStat = () =>
  stat({
    title: "Mean time to recovery (last report)",
    description: `Mean time from a critical or warning alert firing to its resolution, over the incidents resolved in the last weekly report's period. Target: under ${minutes(target.meanTimeToRecoverySeconds)}; red above.`,
    unit: "s",
    queries: [prom(`max(${figure("mean_recovery_seconds")})`, "mean")],
    thresholds: redWhenMissed("meanTimeToRecoverySeconds"),
  });

const recoveryP90Stat = () =>
  stat({
    title: "p90 time to recovery (last report)",
    description:
      "Nearest-rank 90th percentile of the times to recovery in the last weekly report's period; the report compares it with the previous weeks.",
    unit: "s",
    queries: [prom(`max(${figure("p90_recovery_seconds")})`, "p90")],
  });

const responseStat = () =>
  stat({
    title: "Mean alert response (last report)",
    description: `Mean time the alerts of the last weekly report waited for an answer: from firing to their acknowledgement (a silence created in Alertmanager covering it), or, never acknowledged, to their resolution (or the period's end). Target: under ${minutes(target.alertResponseSeconds)} and none missed (next panel); red above.`,
    unit: "s",
    queries: [prom(`max(${figure("mean_response_seconds")})`, "mean")],
    thresholds: redWhenMissed("alertResponseSeconds"),
  });

const neverAckStat = () =>
  stat({
    title: "Alerts never acknowledged (last report)",
    description:
      "Share of the critical and warning alerts that fired in the last weekly report's period without a silence created while they fired. Each is a missed response, counted against the response target: the target is none (red from the first).",
    unit: "percentunit",
    queries: [prom(`max(${figure("never_acknowledged_share")})`, "never acknowledged")],
    thresholds: above(0.001),
  });

const interventionsStat = () =>
  stat({
    title: "Manual interventions, 30 days (last report)",
    description: `Ops runs started by a person plus silences created by people, over the 30 days up to the last weekly report. Target: fewer than ${target.manualInterventions30d}; red from it.`,
    unit: "none",
    queries: [prom(`max(${figure("manual_interventions_30d")})`, "interventions")],
    thresholds: redWhenMissed("manualInterventions30d"),
  });

const backupRateStat = () =>
  stat({
    title: "Backup success rate, 30 days",
    alerts: ["BackupSuccessRateBelowTarget"],
    description: `Successful backup runs over all backup runs in the last 30 days (the run counters). Target: ${target.backupSuccessRatio * 100}%; red below.`,
    unit: "percentunit",
    decimals: 2,
    queries: [prom(`min(${rec.backupSuccessRatio30d})`, "success rate")],
    thresholds: redWhenMissed("backupSuccessRatio"),
  });

const automatedStat = () =>
  stat({
    title: "Automated share of ops runs, 7 days",
    description: `Ops runs started by the scheduler over all ops runs in the last 7 days. Target: above ${target.automatedShareRatio * 100}%; red below.`,
    unit: "percentunit",
    decimals: 1,
    queries: [prom(`min(${rec.automatedShare7d})`, "automated")],
    thresholds: redWhenMissed("automatedShareRatio"),
  });

const manualRunsStat = () =>
  stat({
    title: "Manual ops runs, 30 days",
    description: `Ops runs a person started in the last 30 days (the interventions also count silences; see the report's figure). Red from ${target.manualInterventions30d}.`,
    unit: "none",
    queries: [prom(`max(${rec.manualRuns30d})`, "manual runs")],
    thresholds: redWhenMissed("manualInterventions30d"),
  });

const documentationStat = () =>
  stat({
    title: "Documentation coverage",
    description: `Alerts with a runbook, variables in a configuration table, metrics in the catalogue, as measured by npm run generate. Target: above ${target.documentationCoverageRatio * 100}%; red below.`,
    unit: "percentunit",
    width: 8,
    queries: [prom(`min by (kind) (${rec.documentationCoverage})`, "{{kind}}")],
    thresholds: redWhenMissed("documentationCoverageRatio"),
  });

const runsByTrigger = () =>
  timeseries({
    title: "Ops runs by trigger, 7 days",
    description: "Ops runs over the last 7 days started by the scheduler and by people.",
    unit: "none",
    queries: [prom(`sum by (trigger) (${rec.jobRuns7d})`, "{{trigger}}")],
  });

const backupRateSeries = () =>
  timeseries({
    title: "Backup success rate, 30 days, over time",
    alerts: ["BackupSuccessRateBelowTarget"],
    description: `The 30-day backup success rate as it moves; the dashed line is the target (${target.backupSuccessRatio * 100}%).`,
    unit: "percentunit",
    min: 0,
    max: 1,
    queries: [prom(`min(${rec.backupSuccessRatio30d})`, "success rate")],
    thresholds: redWhenMissed("backupSuccessRatio"),
  });

const firingIncidents = () =>
  timeseries({
    title: "Critical and warning alerts firing",
    description:
      "Alerts of severity critical or warning firing: the incidents whose recovery and response the weekly report measures.",
    unit: "none",
    queries: [
      prom(
        // `or on() vector(0)`: no incident is a 0 on the graph, not "No data".
        `count by (severity) (${platformSeries("ALERTS", 'alertstate="firing"', 'severity=~"critical|warning"')}) or on() vector(0)`,
        "{{severity}}",
      ),
    ],
  });

export const dashboard: DashboardModule = {
  name: "scorecard",
  title: "Kali Agents / Operations scorecard",
  description:
    "The operations plan's success metrics against their targets: uptime, recovery, alert response, backups, automation, interventions, documentation.",
  folder: "operations",
  tags: ["operations", "scorecard"],
  build: () =>
    new DashboardBuilder("Kali Agents / Operations scorecard")
      .withRow(row("Live (Prometheus)"))
      .withPanel(availabilityStat())
      .withPanel(backupRateStat())
      .withPanel(automatedStat())
      .withPanel(manualRunsStat())
      .withPanel(documentationStat())
      .withRow(row("Last weekly report"))
      .withPanel(recoveryStat())
      .withPanel(recoveryP90Stat())
      .withPanel(responseStat())
      .withPanel(neverAckStat())
      .withPanel(interventionsStat())
      .withRow(row("Trends"))
      .withPanel(firingIncidents())
      .withPanel(runsByTrigger())
      .withPanel(backupRateSeries().span(24)),
};
