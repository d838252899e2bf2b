// One pass over every rule group, after the groups are built (kubernetes-mixin's add-runbook-links):
// it checks the shape every alert must have and adds the runbook link, so no rule file copies either.
// The Loki rule generator uses the same pass, so both engines' alerts look alike to Alertmanager.
import YAML from "yaml";
import {
  heartbeatAlert,
  isAlert,
  runbookRef,
  type AlertRule,
  type RecordingRule,
  type RuleGroup,
} from "../../definitions/rules.ts";

/** An alert after the pass: its runbook link is set (relative to the runbook base: runbookRef). */
export interface LinkedAlertRule extends AlertRule {
  readonly runbookUrl: string;
}

export interface LinkedRuleGroup extends RuleGroup {
  readonly rules: readonly (LinkedAlertRule | RecordingRule)[];
}

/**
 * Component prefixes an alert name may start with. A new component is a new entry here, on purpose:
 * the prefix is what the on-call engineer reads first, and Alertmanager groups by it.
 */
const componentPrefixes = [
  "Host",
  "Postgres",
  "Redis",
  "Scans",
  "Api",
  "Mcp",
  "Backup",
  "DrDrill",
  "Cleanup",
  "Exporter",
  "Prometheus",
  "Alertmanager",
  "Loki",
  "Promtail",
  "Logs",
  "Security",
] as const;

/** Alerts whose conventional name is the whole name (the dead man's switch). */
const standaloneNames = new Set([heartbeatAlert]);

const severities = new Set(["critical", "warning", "info"]);
const camelCase = /^[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)*$/;
const recordName = /^[a-z_]+:[a-z0-9_]+:[a-z0-9_]+$/;
// Labels the pass owns, or that Prometheus and Alertmanager set themselves.
const reservedLabels = new Set(["severity", "alertname", "__name__"]);

/** The problems with one alert's shape, each naming the alert and what is wrong (empty when fine). */
export function alertProblems(rule: AlertRule, prefixes: readonly string[] = componentPrefixes): string[] {
  const p: string[] = [];
  const name = rule.alert;
  const say = (what: string) => p.push(`alert ${JSON.stringify(name)}: ${what}`);
  if (!camelCase.test(name)) say("name must be CamelCase (letters and digits, starting upper-case)");
  else if (!standaloneNames.has(name) && !prefixes.some((c) => name.startsWith(c) && name.length > c.length))
    say(`name must start with a component prefix (${prefixes.join(", ")})`);
  if (!severities.has(rule.severity))
    say(`severity ${JSON.stringify(rule.severity)} is not critical, warning or info`);
  if (rule.expr.trim() === "") say("expr is empty");
  if (rule.summary.trim() === "") say("summary is empty");
  if (/\{\{|\}\}|\$labels|\$value/.test(rule.summary))
    say("summary must be static (no template markers): put the figures in the description");
  if (!/\{\{-?\s*(\$labels\.|\$value)/.test(rule.description))
    say("description must be templated with {{ $labels.<name> }} or {{ $value }}");
  for (const k of Object.keys(rule.labels ?? {}))
    if (reservedLabels.has(k)) say(`label ${k} is set by the pass or by Prometheus, not by the rule`);
  if ("runbookUrl" in rule) say("runbook_url is added by the runbook pass, not written in the rule");
  return p;
}

/** Validates every group and rule, then adds each alert's runbook link. Throws with every problem at once. */
export function linkRunbooks(
  groups: readonly RuleGroup[],
  prefixes: readonly string[] = componentPrefixes,
): LinkedRuleGroup[] {
  const problems: string[] = [];
  const groupNames = new Set<string>();
  for (const g of groups) {
    if (!/^[a-z][a-z0-9-]*$/.test(g.name))
      problems.push(`group ${JSON.stringify(g.name)}: name must be kebab-case`);
    if (groupNames.has(g.name)) problems.push(`group ${JSON.stringify(g.name)} is defined twice`);
    groupNames.add(g.name);
    if (g.rules.length === 0) problems.push(`group ${g.name} has no rules`);
    for (const r of g.rules) {
      if (isAlert(r)) problems.push(...alertProblems(r, prefixes));
      else if (!recordName.test(r.record))
        problems.push(`recording rule ${JSON.stringify(r.record)}: name must follow level:metric:operations`);
    }
  }
  if (problems.length > 0) throw new Error(`invalid rules:\n  ${problems.join("\n  ")}`);
  return groups.map((g) => ({
    ...g,
    rules: g.rules.map((r) => (isAlert(r) ? { ...r, runbookUrl: runbookRef(r.alert) } : r)),
  }));
}

/** The alerts of some groups, flattened (one entry per rule: an alert name can have several rules). */
export const alertsOf = (groups: readonly RuleGroup[]): AlertRule[] =>
  groups.flatMap((g) => g.rules.filter(isAlert));

/** The distinct alert names of some groups, sorted. */
export const alertNamesOf = (groups: readonly RuleGroup[]): string[] =>
  [...new Set(alertsOf(groups).map((a) => a.alert))].sort();

/** Prometheus' rule-file form of one group (Loki's ruler reads the same form). */
function toRuleFileObject(group: LinkedRuleGroup): Record<string, unknown> {
  return {
    groups: [
      {
        name: group.name,
        ...(group.interval ? { interval: group.interval } : {}),
        rules: group.rules.map((r) =>
          isAlert(r)
            ? {
                alert: r.alert,
                expr: r.expr,
                ...(r.for ? { for: r.for } : {}),
                labels: { severity: r.severity, ...r.labels },
                annotations: {
                  summary: r.summary,
                  description: r.description,
                  runbook_url: (r as LinkedAlertRule).runbookUrl,
                },
              }
            : { record: r.record, expr: r.expr, ...(r.labels ? { labels: { ...r.labels } } : {}) },
        ),
      },
    ],
  };
}

/** The YAML text of one rule file, with its banner; deterministic (key order is the code's). */
export function renderRuleFile(group: LinkedRuleGroup, source: string): string {
  const banner =
    `# Generated from ${source} by \`npm run generate\`. DO NOT EDIT: change the TypeScript and regenerate.\n` +
    "# Thresholds come from definitions/thresholds.ts, selectors from definitions/selectors.ts.\n";
  return banner + YAML.stringify(toRuleFileObject(group), { aliasDuplicateObjects: false, lineWidth: 0 });
}
