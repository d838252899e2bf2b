// The operations scorecard's figures that Prometheus computes (docs/operations/scorecard.md): backup
// success rate over 30 days, ops runs by trigger, the automated share, manual runs; and the one alert
// of the scorecard a person acts on: a backup run failed within 30 days. The other scorecard figures
// (recovery, response, documentation coverage) come from the weekly report and from `npm run generate`.
import type { RuleGroup } from "../../../definitions/rules.ts";
import { jobMetricLabel, selectors } from "../../../definitions/selectors.ts";
import { scorecardRecordings as rec, scorecardTargets } from "../../../definitions/scorecard.ts";
import { eq, num, percent, series } from "../../../lib/promql.ts";

const runs = (...m: string[]) => series("kali_agents_job_runs_total", selectors.exporter, ...m);
const backupRuns = (...m: string[]) => runs(eq(jobMetricLabel, "backup"), ...m);

export const scorecardGroup: RuleGroup = {
  name: "scorecard",
  // Windows of 7 and 30 days over textfile counters: once a minute is plenty.
  interval: "1m",
  rules: [
    {
      // Every result series exists from the first run (ops/src/metrics-file.ts), so both sides
      // extrapolate alike and the ratio is exact.
      record: rec.backupSuccessRatio30d,
      expr: `sum(increase(${backupRuns(eq("result", "success"))}[30d])) / sum(increase(${backupRuns()}[30d])) > -1`,
    },
    {
      record: rec.jobRuns7d,
      expr: `sum by (trigger) (increase(${runs()}[7d]))`,
    },
    {
      record: rec.automatedShare7d,
      expr: `sum(increase(${runs(eq("trigger", "scheduler"))}[7d])) / sum(increase(${runs()}[7d])) > -1`,
    },
    {
      record: rec.manualRuns30d,
      expr: `sum(increase(${runs(eq("trigger", "manual"))}[30d]))`,
    },
    {
      alert: "BackupSuccessRateBelowTarget",
      // Rounded below 1 (not `< 1`): increase() of two equal counters can differ in the last digit.
      expr: `${rec.backupSuccessRatio30d} < ${num(scorecardTargets.backupSuccessRatio - 0.0001)}`,
      for: "15m",
      severity: "warning",
      summary: "Backup success rate over 30 days is below target",
      description: `{{ $value | humanizePercentage }} of backup runs succeeded over the last 30 days (target ${percent(scorecardTargets.backupSuccessRatio)}): find the failed runs and why, before a restore needs the missing day.`,
    },
  ],
};
