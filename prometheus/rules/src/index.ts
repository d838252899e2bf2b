// Every Prometheus rule group, after the one pass that validates the shape of every alert and adds its
// runbook link; and outputs(): one generated rule file per group (scripts/generators.ts lists it).
import { lokiRuleGroups, prometheusLogRuleGroups } from "../../../loki/rules/src/index.ts";
import { alertingDoc } from "./docs.ts";
import { renderRuleFile, linkRunbooks, type LinkedRuleGroup } from "./shape.ts";
import { apiGroup } from "./api.ts";
import { hostGroup } from "./host.ts";
import { jobsGroup } from "./jobs.ts";
import { postgresGroup } from "./postgres.ts";
import { probesGroup } from "./probes.ts";
import { redisGroup } from "./redis.ts";
import { scansGroup } from "./scans.ts";
import { scorecardGroup } from "./scorecard.ts";
import { stackGroup } from "./stack.ts";

/** Each group with the source file it comes from (named in the generated file's banner). */
const sources = [
  [hostGroup, "host.ts"],
  [postgresGroup, "postgres.ts"],
  [redisGroup, "redis.ts"],
  [scansGroup, "scans.ts"],
  [probesGroup, "probes.ts"],
  [apiGroup, "api.ts"],
  [jobsGroup, "jobs.ts"],
  [stackGroup, "stack.ts"],
  [scorecardGroup, "scorecard.ts"],
] as const;

export const ruleGroups: LinkedRuleGroup[] = linkRunbooks(sources.map(([g]) => g));

/** Where the generated files go, relative to the repository root. */
export const generatedDir = "prometheus/rules/generated";
export const generatedPath = (group: string): string => `${generatedDir}/${group}.yml`;

export function outputs(): Record<string, string> {
  const out: Record<string, string> = {};
  ruleGroups.forEach((g, i) => {
    out[generatedPath(g.name)] = renderRuleFile(g, `prometheus/rules/src/${sources[i]![1]}`);
  });
  out["docs/alerting.md"] = alertingDoc([
    { groups: ruleGroups, engine: "Prometheus" },
    { groups: prometheusLogRuleGroups, engine: "Prometheus (on Loki's recordings)" },
    { groups: lokiRuleGroups, engine: "Loki ruler" },
  ]);
  return out;
}
