// The operations scorecard: the targets of its figures and the names of the recording rules that
// measure them, read by the weekly report, the scorecard rules and the "Operations scorecard" dashboard.
import { apiSlo } from "./slo.ts";

/**
 * The operations plan's success metrics (docs/operations/scorecard.md defines each): the targets the
 * weekly report, the "Operations scorecard" dashboard and the scorecard alerts compare against.
 */
export const scorecardTargets = {
  /** API availability over 30 days (the SLO). */
  uptimeRatio: apiSlo.target,
  /** Mean time from an incident firing to its resolution, per week: below. */
  meanTimeToRecoverySeconds: 3600,
  /** Share of backup runs that succeeded over 30 days: at least. */
  backupSuccessRatio: 1,
  /** Mean time from an alert firing to its acknowledgement (a silence), per week: below. */
  alertResponseSeconds: 15 * 60,
  /** Share of ops runs started by the scheduler, per week: above. */
  automatedShareRatio: 0.8,
  /** Manual ops runs plus silences created by people, over 30 days: below. */
  manualInterventions30d: 5,
  /** Alerts with a runbook, variables in a configuration table, metrics in the catalogue: above. */
  documentationCoverageRatio: 0.9,
} as const;

/**
 * The side of its target each figure must be on to meet it: `atLeast` (≥), `above` (>) or `below` (<).
 * The report's judgment and its table, the dashboard's colours and the alert all read it from here.
 */
export const scorecardTargetSides = {
  uptimeRatio: "atLeast",
  meanTimeToRecoverySeconds: "below",
  backupSuccessRatio: "atLeast",
  alertResponseSeconds: "below",
  automatedShareRatio: "above",
  manualInterventions30d: "below",
  documentationCoverageRatio: "above",
} as const satisfies Record<keyof typeof scorecardTargets, "atLeast" | "above" | "below">;

/** Recording rules of the scorecard (prometheus/rules/src/scorecard.ts defines them). */
export const scorecardRecordings = {
  /** Share of backup runs that succeeded over 30 days. */
  backupSuccessRatio30d: "kali_agents:backup_success:ratio30d",
  /** Ops runs over 7 days by `trigger` (scheduler, manual). */
  jobRuns7d: "kali_agents:job_runs:increase7d",
  /** Share of ops runs over 7 days started by the scheduler. */
  automatedShare7d: "kali_agents:job_runs_automated:ratio7d",
  /** Manual ops runs over 30 days. */
  manualRuns30d: "kali_agents:job_runs_manual:increase30d",
  /** Documentation coverage by `kind`, measured by `npm run generate` (constant between generations). */
  documentationCoverage: "kali_agents:documentation_coverage:ratio",
} as const;
