// The log-based rules: every LogQL expression (Loki rules, docs/operations/logging.md, the runbooks of
// these alerts, the generated dashboards) parses and selects only on labels that promtail.yaml AND
// config.alloy attach, with values they give; each alert has its runbook; the Prometheus-side alerts on
// Loki's recordings pass `promtool check rules` and their promtool tests.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import YAML from "yaml";
import { isAlert, runbookPath } from "../../definitions/rules.ts";
import { logEvents, loggers, logs } from "../../definitions/logs.ts";
import { recordings } from "../../definitions/selectors.ts";
import { loadAlloy } from "../../alloy/test/alloy-config.ts";
import { loadPromtail } from "../../promtail/test/promtail-config.ts";
import { requireBinaries, run } from "../../test/support/servers.ts";
import { alertsOf } from "../../lib/rules/shape.ts";
import { lokiRuleGroups, outputs, prometheusLogRuleGroups, prometheusRulePath } from "../rules/src/index.ts";
import {
  attachedLabels,
  dashboardLokiQueries,
  logPipelines,
  logqlBlocks,
  parseLogQL,
  selectorProblems,
  withoutGrafanaMacros,
} from "./logql.ts";

const root = new URL("../..", import.meta.url).pathname;
const agents = [
  ["promtail.yaml", attachedLabels(loadPromtail())],
  ["config.alloy", attachedLabels(loadAlloy())],
] as const;

/** Parses and checks one query against both agents; the message names where it came from. */
function checkLogQL(query: string, where: string): void {
  let parsed;
  try {
    parsed = parseLogQL(query);
  } catch (e) {
    assert.fail(`${where}: ${(e as Error).message}`);
  }
  for (const [agent, labels] of agents)
    assert.deepEqual(selectorProblems(parsed, labels), [], `${where}: ${query}\n  against ${agent}`);
  assert.deepEqual(levelProblems(query), [], `${where}: ${query}`);
  assert.deepEqual(contractProblems(query), [], `${where}: ${query}`);
}

/**
 * On the application's streams, an `event` or `logger` compared for equality must be one the log
 * contract (definitions/logs.ts) names: a query for a name nobody writes never returns a line (the
 * SecurityAuthFailureSpike that matched auth_failure while the application wrote login_failed).
 * loki/test/demo-logs.test.ts checks the same queries against the lines the demo really writes.
 */
function contractProblems(query: string): string[] {
  const events = new Set<string>(Object.values(logEvents).map((e) => e.name));
  const names = new Set<string>(Object.values(loggers));
  const problems: string[] = [];
  for (const p of logPipelines(query)) {
    if (!p.selector.some((m) => m.name === "job" && m.op === "=" && m.value === logs.appJob)) continue;
    const matchers = [...p.selector, ...p.stages.flatMap((s) => (s.kind === "label" ? [s.matcher] : []))];
    for (const m of matchers) {
      if (m.op !== "=" && m.op !== "!=") continue;
      if (m.name === "event" && !events.has(m.value)) problems.push(`event "${m.value}" is not in logEvents`);
      if (m.name === "logger" && !names.has(m.value)) problems.push(`logger "${m.value}" is not in loggers`);
    }
  }
  return problems;
}

/**
 * Our services log warnings as `warn`, PostgreSQL and others as `warning` (the pipelines lower-case the
 * level but keep the word): a level matcher, in the selector or after a parser, that takes one of
 * the two and not the other misses half of the warnings.
 */
function levelProblems(query: string): string[] {
  const problems: string[] = [];
  for (const m of query.matchAll(/\blevel\s*(=~|!~)\s*"([^"]*)"/g)) {
    const re = new RegExp(`^(?:${m[2]})$`);
    if (re.test("warn") !== re.test("warning"))
      problems.push(`level${m[1]}"${m[2]}" takes one of warn and warning and not the other`);
  }
  return problems;
}

const lokiAlerts = alertsOf(lokiRuleGroups);
const promAlerts = alertsOf(prometheusLogRuleGroups);

describe("LogQL of the Loki rules", () => {
  for (const g of lokiRuleGroups)
    for (const r of g.rules) {
      const name = isAlert(r) ? r.alert : r.record;
      test(`${g.name}/${name} parses and selects on attached labels`, () => checkLogQL(r.expr, name));
    }

  test("the checks can fail: a label no agent attaches, a value none gives, a syntax error", () => {
    const [, labels] = agents[0];
    assert.deepEqual(selectorProblems(parseLogQL('{job="kali-agents", user="bob"}'), labels), [
      "label user is not attached by the agent",
    ]);
    assert.match(
      selectorProblems(parseLogQL('{job="kali-agents", stream="debug"}'), labels)[0]!,
      /matches nothing/,
    );
    assert.match(
      selectorProblems(parseLogQL('sum by (ip) (rate({job="containers"}[5m]))'), labels)[0]!,
      /grouping label ip/,
    );
    assert.throws(() => parseLogQL('sum(rate({job="kali-agents"}[5m])'), /does not parse/);
    assert.throws(() => parseLogQL('{job=~".*"}'), /excludes the empty value/);
    assert.deepEqual(levelProblems('{job="containers"} | json | level=~"error|warning"'), [
      'level=~"error|warning" takes one of warn and warning and not the other',
    ]);
    assert.deepEqual(levelProblems('{job="containers", level=~"warn|warning|error"}'), []);
    assert.deepEqual(
      contractProblems(
        '{job="kali-agents", stream="errors", logger="api.scans"} | json | event="auth_failure"',
      ),
      ['logger "api.scans" is not in loggers', 'event "auth_failure" is not in logEvents'],
    );
    assert.deepEqual(contractProblems('{job="containers"} | json | event="anything"'), []);
  });
});

describe("the generated rule files", () => {
  test("are what the ruler reads: one group per file, DO NOT EDIT banner, runbook link on every alert", () => {
    for (const [path, text] of Object.entries(outputs())) {
      assert.match(text.split("\n")[0]!, /DO NOT EDIT/, path);
      const doc = YAML.parse(text) as { groups: { name: string; rules: Record<string, unknown>[] }[] };
      assert.equal(doc.groups.length, 1, path);
      for (const r of doc.groups[0]!.rules)
        if ("alert" in r) {
          const ann = r.annotations as Record<string, string>;
          assert.deepEqual(Object.keys(ann).sort(), ["description", "runbook_url", "summary"], path);
          assert.equal(ann.runbook_url, `${String(r.alert)}.md`, "relative to the runbook base");
          assert.ok(["critical", "warning", "info"].includes((r.labels as Record<string, string>).severity!));
        }
    }
  });

  test("the recording Prometheus alerts on is the one Loki records", () => {
    const recorded = lokiRuleGroups.flatMap((g) =>
      g.rules.filter((r) => !isAlert(r)).map((r) => ("record" in r ? r.record : "")),
    );
    assert.deepEqual(recorded, [recordings.logLinesRate]);
    for (const a of promAlerts) assert.ok(a.expr.includes(recordings.logLinesRate), a.alert);
  });
});

describe("runbooks of the log alerts", () => {
  const sections = ["Meaning", "Impact", "Diagnosis", "Mitigation", "Escalation"];
  for (const a of [...lokiAlerts, ...promAlerts])
    test(`${a.alert}: docs/runbooks/${a.alert}.md has every section, and its LogQL checks out`, () => {
      const path = join(root, runbookPath(a.alert));
      assert.ok(existsSync(path), `${runbookPath(a.alert)} is missing`);
      const text = readFileSync(path, "utf8");
      assert.match(text, new RegExp(`^# ${a.alert}$`, "m"));
      for (const s of sections)
        assert.match(text, new RegExp(`^## ${s}`, "m"), `${a.alert}: no ## ${s} section`);
      const blocks = logqlBlocks(text);
      assert.ok(blocks.length > 0, `${a.alert}: the diagnosis has no \`\`\`logql block`);
      blocks.forEach((q, i) => checkLogQL(q, `${runbookPath(a.alert)} logql block ${i + 1}`));
    });
});

describe("LogQL in every runbook (the Prometheus alerts' too)", () => {
  test("every ```logql line parses and selects on attached labels", () => {
    const dir = join(root, "docs/runbooks");
    let count = 0;
    for (const f of readdirSync(dir).filter((n) => n.endsWith(".md")))
      logqlBlocks(readFileSync(join(dir, f), "utf8")).forEach((q, i) => {
        count++;
        checkLogQL(q, `docs/runbooks/${f} logql line ${i + 1}`);
      });
    assert.ok(count > lokiAlerts.length + promAlerts.length, `only ${count} LogQL lines in the runbooks`);
  });
});

describe("LogQL in docs/operations/logging.md", () => {
  test("every ```logql example parses and selects on attached labels", () => {
    const blocks = logqlBlocks(readFileSync(join(root, "docs/operations/logging.md"), "utf8"));
    assert.ok(blocks.length >= 8, `expected the query examples, found ${blocks.length}`);
    blocks.forEach((q, i) => checkLogQL(q, `logging.md logql block ${i + 1}`));
  });
});

describe("LogQL of the generated dashboards", () => {
  test("every Loki panel query parses and selects on attached labels", () => {
    const queries = dashboardLokiQueries(join(root, "dashboards/generated"));
    // The logs dashboard has Loki panels: none found means the reader is broken, not that all is well.
    assert.ok(queries.length >= 3, `only ${queries.length} Loki queries found in dashboards/generated`);
    for (const { file, expr } of queries) checkLogQL(withoutGrafanaMacros(expr), file.slice(root.length));
  });
});

describe("Prometheus-side alerts on Loki's recordings", { skip: requireBinaries("promtool") }, () => {
  test("promtool check rules accepts the generated file", () => {
    for (const g of prometheusLogRuleGroups) {
      const r = run("promtool", ["check", "rules", join(root, prometheusRulePath(g.name))]);
      assert.equal(r.status, 0, r.stdout + r.stderr);
    }
  });

  test("promtool test rules: each alert fires when it should and stays quiet when it should not", () => {
    const file = join(root, "loki/test/promtool/logs-derived.test.yml");
    const tests = YAML.parse(readFileSync(file, "utf8")) as {
      rule_files: string[];
      tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[];
    };
    // The test loads the generated file, never a copy.
    assert.deepEqual(
      tests.rule_files,
      prometheusLogRuleGroups.map((g) => `../../../prometheus/rules/generated/${g.name}.yml`),
    );
    for (const a of promAlerts) {
      const cases = tests.tests
        .flatMap((t) => t.alert_rule_test ?? [])
        .filter((c) => c.alertname === a.alert);
      assert.ok(
        cases.some((c) => c.exp_alerts.length > 0),
        `${a.alert} has no case where it fires`,
      );
      assert.ok(
        cases.some((c) => c.exp_alerts.length === 0),
        `${a.alert} has no case where it stays quiet`,
      );
    }
    const r = run("promtool", ["test", "rules", file]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });
});
