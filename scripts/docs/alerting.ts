// docs/alerting.md: the alerting guide. Its prose is written in the Markdown file; its table of alerts,
// between the "alerts" markers, is written here from the rule groups (the Prometheus ones and the Loki
// ones), so the table can never disagree with the rules. It joins the two rule generators, so it sits
// above both (scripts/docs/), and neither imports the other.
import { isAlert, runbookPath, type RuleGroup } from "../../definitions/rules.ts";
import { apiSlo } from "../../definitions/slo.ts";
import { percent } from "../../lib/promql.ts";
import { lokiRuleGroups, prometheusLogRuleGroups } from "../../loki/rules/src/index.ts";
import { ruleGroups } from "../../prometheus/rules/src/index.ts";
import { fillFile } from "./markers.ts";

export const path = "docs/alerting.md";

interface Source {
  readonly groups: readonly RuleGroup[];
  readonly engine: string;
}

const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

function alertTable(sources: readonly Source[]): string {
  const rows = [
    "| alert | severity | for | group | evaluated by | summary |",
    "| --- | --- | --- | --- | --- | --- |",
  ];
  for (const { groups, engine } of sources)
    for (const g of groups)
      for (const r of g.rules)
        if (isAlert(r)) {
          const labels = Object.entries(r.labels ?? {})
            .map(([k, v]) => `${k}=${v}`)
            .join(", ");
          rows.push(
            `| [${r.alert}](${runbookPath(r.alert).replace(/^docs\//, "")})${labels ? ` (${labels})` : ""} | ${r.severity} | ${r.for ?? "-"} | \`${g.name}\` | ${engine} | ${cell(r.summary)} |`,
          );
        }
  return rows.join("\n");
}

export function alertingDoc(sources: readonly Source[]): string {
  return fillFile(
    path,
    { alerts: alertTable(sources) },
    { named: { "apiSlo (target and period)": `${percent(apiSlo.target)} over ${apiSlo.period}` } },
  );
}

export function outputs(): Record<string, string> {
  return {
    [path]: alertingDoc([
      { groups: ruleGroups, engine: "Prometheus" },
      { groups: prometheusLogRuleGroups, engine: "Prometheus (on Loki's recordings)" },
      { groups: lokiRuleGroups, engine: "Loki ruler" },
    ]),
  };
}
