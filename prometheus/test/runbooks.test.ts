// Every alert has a runbook and every runbook has an alert: the Prometheus rule groups and the Loki ones
// (loki/rules/src/index.ts: lokiRuleGroups, and the Prometheus-side rules it owns). The runbooks'
// PromQL and LogQL examples must parse, so the on-call engineer can paste them as they are.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { parser as logqlParser } from "@grafana/lezer-logql";
import { parser as promqlParser } from "@prometheus-io/lezer-promql";
import { runbookPath, type RuleGroup } from "../../definitions/rules.ts";
import { knownMetric } from "../../lib/promql.ts";
import { promqlMetricNames } from "../../test/support/promql.ts";
import { lokiRuleGroups, prometheusLogRuleGroups } from "../../loki/rules/src/index.ts";
import { ruleGroups } from "../rules/src/index.ts";
import { alertNamesOf } from "../../lib/rules/shape.ts";

const repo = new URL("../..", import.meta.url).pathname;
const runbookDir = join(repo, "docs/runbooks");
// The Loki groups, and the rules about logs that Prometheus evaluates (on the ruler's recordings).
const lokiGroups: RuleGroup[] = [...lokiRuleGroups, ...prometheusLogRuleGroups];

const sections = ["## Meaning", "## Impact", "## Diagnosis", "## Mitigation", "## Escalation"];

/** The fenced code blocks of one language in a markdown text. */
const blocks = (md: string, lang: string) =>
  [...md.matchAll(new RegExp("```" + lang + "\\n([\\s\\S]*?)```", "g"))].map((m) => m[1] ?? "");

/** One expression per line; `#` starts a comment (in our examples never inside a string). */
const expressions = (block: string) =>
  block
    .split("\n")
    .map((l) =>
      l
        .replace(/\s+#.*$/, "")
        .replace(/^#.*$/, "")
        .trim(),
    )
    .filter((l) => l !== "");

function parseError(p: typeof promqlParser | typeof logqlParser, expr: string): number | undefined {
  let at: number | undefined;
  p.parse(expr).iterate({
    enter(n) {
      if (n.type.isError) at ??= n.from;
    },
  });
  return at;
}

describe("runbooks", () => {
  test("every alert has docs/runbooks/<alert>.md, and every runbook names an alert", () => {
    const groups = [...ruleGroups, ...lokiGroups];
    const alerts = alertNamesOf(groups);
    assert.ok(alerts.length >= 30, `only ${alerts.length} alerts found`);
    const missing = alerts.filter((a) => !existsSync(join(repo, runbookPath(a))));
    assert.deepEqual(missing, [], "alerts without a runbook");
    const files = readdirSync(runbookDir).filter((f) => f.endsWith(".md") && f !== "README.md");
    const orphans = files.filter((f) => !alerts.includes(f.replace(/\.md$/, "")));
    assert.deepEqual(orphans, [], "runbooks without an alert");
  });

  test("every runbook of a Prometheus alert has its sections and its title", () => {
    for (const a of alertNamesOf(ruleGroups)) {
      const md = readFileSync(join(repo, runbookPath(a)), "utf8");
      assert.equal(md.split("\n")[0], `# ${a}`, runbookPath(a));
      for (const s of sections) assert.ok(md.includes(`\n${s}\n`), `${runbookPath(a)} lacks ${s}`);
    }
  });

  test("the PromQL and LogQL in every runbook parse", () => {
    const bad: string[] = [];
    let count = 0;
    for (const f of readdirSync(runbookDir).filter((x) => x.endsWith(".md"))) {
      const md = readFileSync(join(runbookDir, f), "utf8");
      for (const [lang, p] of [
        ["promql", promqlParser],
        ["logql", logqlParser],
      ] as const)
        for (const b of blocks(md, lang))
          for (const e of expressions(b)) {
            count++;
            const at = parseError(p, e);
            if (at !== undefined) bad.push(`${f} ${lang} at ${at}: ${e}`);
          }
    }
    assert.ok(count > 50, `only ${count} expressions found`);
    assert.deepEqual(bad, []);
  });

  // The same check the PromQL builder (lib/promql.ts) makes when a rule or a panel is built: an example
  // the on-call engineer pastes must read a series that exists, not one renamed since.
  test("every metric the runbooks' PromQL reads is published, or recorded by a rule", () => {
    const recorded = new Set(
      [...ruleGroups, ...lokiGroups].flatMap((g) =>
        g.rules.flatMap((r) => ("record" in r ? [r.record] : [])),
      ),
    );
    const unknown: string[] = [];
    let names = 0;
    for (const f of readdirSync(runbookDir).filter((x) => x.endsWith(".md"))) {
      const md = readFileSync(join(runbookDir, f), "utf8");
      for (const b of blocks(md, "promql"))
        for (const e of expressions(b))
          for (const n of promqlMetricNames(e)) {
            names++;
            if (!knownMetric(n) && !recorded.has(n)) unknown.push(`${f}: ${n} in ${e}`);
          }
    }
    assert.ok(names > 50, `only ${names} metric names found`);
    assert.deepEqual(unknown, []);
  });
});
