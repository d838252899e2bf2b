// Every log-based rule, after the same runbook pass as the Prometheus rules (lib/rules/shape.ts),
// and outputs(): the Loki ruler's files under loki/rules/generated/<tenant>/ (mounted at /etc/loki/rules,
// see loki/loki.yaml) and the Prometheus-side file for the alerts on Loki's recordings.
import { linkRunbooks, renderRuleFile, type LinkedRuleGroup } from "../../../lib/rules/shape.ts";
import { logAlertsGroup } from "./log-alerts.ts";
import { logDerivedAlertsGroup, logRecordingsGroup } from "./log-recordings.ts";

/** With auth_enabled: false, Loki serves the single tenant "fake"; the ruler reads <dir>/fake/*.yaml. */
export const lokiTenant = "fake";

const lokiSources = [
  [logAlertsGroup, "log-alerts.ts"],
  [logRecordingsGroup, "log-recordings.ts"],
] as const;
const prometheusSources = [[logDerivedAlertsGroup, "log-recordings.ts"]] as const;

/** Rule groups the Loki ruler evaluates (LogQL). */
export const lokiRuleGroups: LinkedRuleGroup[] = linkRunbooks(lokiSources.map(([g]) => g));
/** Rule groups Prometheus evaluates on the series Loki's recording rules write (PromQL). */
export const prometheusLogRuleGroups: LinkedRuleGroup[] = linkRunbooks(prometheusSources.map(([g]) => g));

/** Mounted as Loki's rule directory: everything in it must be a tenant's LogQL rules. */
export const generatedDir = "loki/rules/generated";
export const lokiRulePath = (group: string): string => `${generatedDir}/${lokiTenant}/${group}.yaml`;
/**
 * Outside generatedDir (Loki would read a directory in it as another tenant's LogQL rules), and in the
 * folder prometheus.yml already loads (`rules/generated/*.yml`), so Prometheus evaluates these alerts in
 * compose and in the end-to-end test with no extra mount.
 */
export const prometheusRuleDir = "prometheus/rules/generated";
export const prometheusRulePath = (group: string): string => `${prometheusRuleDir}/${group}.yml`;

export function outputs(): Record<string, string> {
  const out: Record<string, string> = {};
  lokiRuleGroups.forEach((g, i) => {
    out[lokiRulePath(g.name)] = renderRuleFile(g, `loki/rules/src/${lokiSources[i]![1]}`);
  });
  prometheusLogRuleGroups.forEach((g, i) => {
    out[prometheusRulePath(g.name)] = renderRuleFile(g, `loki/rules/src/${prometheusSources[i]![1]}`);
  });
  return out;
}
