// The rule groups as data: the shape pass, the generated files, and two coverage proofs read from the
// artefacts: every alert has a quiet and a firing promtool case (parsed from
// prometheus/test/promtool/*.yml), and every metric a rule reads is one that the exporter, the job or
// API contract, or the platform publishes.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { parser } from "@prometheus-io/lezer-promql";
import YAML from "yaml";
import { knownMetric } from "../../lib/promql.ts";
import { isAlert, runbookRef, type AlertRule, type RuleGroup } from "../../definitions/rules.ts";
import { ruleGroups, outputs } from "../rules/src/index.ts";
import { alertNamesOf, alertProblems, linkRunbooks } from "../../lib/rules/shape.ts";
import { outputs as alertingOutputs } from "../../scripts/docs/alerting.ts";

const promDir = new URL("..", import.meta.url).pathname;
const testsDir = join(promDir, "test", "promtool");

const good: AlertRule = {
  alert: "HostThingBroken",
  expr: "up == 0",
  for: "5m",
  severity: "warning",
  summary: "Thing is broken",
  description: "{{ $labels.instance }} is broken ({{ $value }}).",
};

describe("the shape pass", () => {
  test("a well-formed alert has no problems", () => {
    assert.deepEqual(alertProblems(good), []);
  });

  // Each row breaks one rule of the shape; the pass must name the alert and the problem.
  const cases: { name: string; mutate: Partial<AlertRule> & Record<string, unknown>; want: RegExp }[] = [
    { name: "not CamelCase", mutate: { alert: "host_thing_broken" }, want: /CamelCase/ },
    { name: "no component prefix", mutate: { alert: "ThingBroken" }, want: /component prefix/ },
    { name: "severity outside the set", mutate: { severity: "page" as never }, want: /severity "page"/ },
    {
      name: "templated summary",
      mutate: { summary: "{{ $labels.instance }} broken" },
      want: /summary must be static/,
    },
    {
      name: "static description",
      mutate: { description: "It is broken." },
      want: /description must be templated/,
    },
    { name: "severity as a label", mutate: { labels: { severity: "critical" } }, want: /label severity/ },
    { name: "runbook written by hand", mutate: { runbookUrl: "x" }, want: /runbook pass/ },
    { name: "empty expr", mutate: { expr: " " }, want: /expr is empty/ },
  ];
  for (const c of cases)
    test(`rejects an alert with ${c.name}`, () => {
      const problems = alertProblems({ ...good, ...c.mutate } as AlertRule);
      assert.ok(
        problems.some((p) => c.want.test(p) && p.includes(JSON.stringify({ ...good, ...c.mutate }.alert))),
        problems.join("; "),
      );
    });

  test("linkRunbooks throws with every problem at once, and links every alert otherwise", () => {
    const bad: RuleGroup = {
      name: "bad",
      rules: [
        { ...good, alert: "x" },
        { ...good, summary: "{{ $value }}" },
      ],
    };
    assert.throws(
      () => linkRunbooks([bad]),
      (e: Error) => /CamelCase/.test(e.message) && /static/.test(e.message),
    );
    assert.throws(
      () =>
        linkRunbooks([
          { name: "a", rules: [good] },
          { name: "a", rules: [good] },
        ]),
      /twice/,
    );
    const [linked] = linkRunbooks([{ name: "ok", rules: [good, { record: "a:b:c", expr: "1" }] }]);
    assert.deepEqual(
      linked?.rules.map((r) => ("runbookUrl" in r ? r.runbookUrl : null)),
      ["HostThingBroken.md", null],
    );
  });
});

describe("the rule groups", () => {
  test("every alert carries its runbook link, a severity in the set and a `for` unless it is an event", () => {
    // Alerts without `for` on purpose: events (a reboot, deadlocks, evictions, rejections) and the Watchdog.
    const events = new Set([
      "HostRebooted",
      "PostgresDeadlocks",
      "RedisEvictingKeys",
      "RedisRejectedConnections",
      "Watchdog",
    ]);
    for (const g of ruleGroups)
      for (const r of g.rules)
        if (isAlert(r)) {
          // Relative to the runbook base the deployment sets (RUNBOOK_BASE_URL), never a guessed address.
          assert.equal((r as { runbookUrl?: string }).runbookUrl, `${r.alert}.md`);
          assert.equal(r.for === undefined, events.has(r.alert), `${r.alert}: for=${r.for}`);
        }
  });

  test("outputs() is deterministic: one rule file per group with a DO NOT EDIT banner, and the alert table", () => {
    const a = outputs();
    assert.deepEqual(a, outputs());
    assert.deepEqual(
      Object.keys(a).sort(),
      ruleGroups.map((g) => `prometheus/rules/generated/${g.name}.yml`).sort(),
    );
    for (const [path, text] of Object.entries(a)) {
      assert.match(text.split("\n")[0] ?? "", /DO NOT EDIT/, path);
      if (!path.endsWith(".yml")) continue;
      const parsed = YAML.parse(text) as { groups: { name: string; rules: unknown[] }[] };
      assert.equal(parsed.groups.length, 1, path);
    }
    // The alert table (scripts/docs/alerting.ts) lists every alert with its runbook.
    const doc = alertingOutputs()["docs/alerting.md"];
    for (const name of alertNamesOf(ruleGroups))
      assert.ok(doc?.includes(`[${name}](runbooks/${name}.md)`), name);
  });
});

// ------------------------------------------------------------------ promtool test coverage

interface ExpAlert {
  exp_labels?: Record<string, string>;
  exp_annotations?: Record<string, string>;
}
interface TestFile {
  rule_files: string[];
  tests: { name?: string; alert_rule_test?: { alertname: string; exp_alerts?: ExpAlert[] }[] }[];
}
const testFiles = readdirSync(testsDir)
  .filter((f) => f.endsWith(".yml"))
  .sort()
  .map((f) => ({ file: f, doc: YAML.parse(readFileSync(join(testsDir, f), "utf8")) as TestFile }));

describe("promtool test coverage", () => {
  test("the test files load the generated rule files, not hand-written copies", () => {
    for (const { file, doc } of testFiles)
      for (const r of doc.rule_files)
        assert.match(r, /^\.\.\/\.\.\/rules\/generated\/[a-z-]+\.yml$/, `${file} loads ${r}`);
  });

  test("every alert has a quiet case and a firing case with labels and the exact annotations", () => {
    const quiet = new Set<string>();
    const firing = new Set<string>();
    const rulesByName = new Map<string, AlertRule[]>();
    for (const g of ruleGroups)
      for (const r of g.rules)
        if (isAlert(r)) rulesByName.set(r.alert, [...(rulesByName.get(r.alert) ?? []), r]);
    for (const { file, doc } of testFiles)
      for (const t of doc.tests)
        for (const a of t.alert_rule_test ?? []) {
          const exp = a.exp_alerts ?? [];
          if (exp.length === 0) quiet.add(a.alertname);
          else firing.add(a.alertname);
          const rules = rulesByName.get(a.alertname);
          assert.ok(rules, `${file} "${t.name}" tests ${a.alertname}, which no rule defines`);
          for (const e of exp) {
            const where = `${file} "${t.name}" ${a.alertname}`;
            const ann = e.exp_annotations ?? {};
            assert.equal(ann.runbook_url, runbookRef(a.alertname), `${where}: runbook_url`);
            assert.ok(
              rules.some((r) => r.summary === ann.summary),
              `${where}: summary ${ann.summary}`,
            );
            assert.ok(ann.description && !ann.description.includes("{{"), `${where}: rendered description`);
            assert.ok(e.exp_labels?.severity, `${where}: exp_labels without severity`);
          }
        }
    // The Watchdog fires always, by design: it has no quiet case to test.
    const alwaysFiring = new Set(["Watchdog"]);
    const names = alertNamesOf(ruleGroups);
    assert.deepEqual(
      names.filter((n) => !firing.has(n)),
      [],
      "alerts without a firing case in prometheus/test/promtool",
    );
    assert.deepEqual(
      names.filter((n) => !quiet.has(n) && !alwaysFiring.has(n)),
      [],
      "alerts without a quiet case in prometheus/test/promtool",
    );
  });

  test("every rule of an alert with several rules fires in some case (told apart by their labels)", () => {
    // ApiErrorBudgetBurn has one rule per window, BackupTooOld one per reason: each must be shown firing.
    const fired = testFiles.flatMap(({ doc }) =>
      doc.tests.flatMap((t) =>
        (t.alert_rule_test ?? []).flatMap((a) => (a.exp_alerts ?? []).map((e) => ({ a, e }))),
      ),
    );
    for (const g of ruleGroups)
      for (const r of g.rules)
        if (isAlert(r) && r.labels) {
          const want = { severity: r.severity, ...r.labels };
          assert.ok(
            fired.some(
              ({ a, e }) =>
                a.alertname === r.alert && Object.entries(want).every(([k, v]) => e.exp_labels?.[k] === v),
            ),
            `${r.alert} ${JSON.stringify(want)} has no firing case`,
          );
        }
  });
});

// ------------------------------------------------------------------ metric names

/** Metric names read by a PromQL expression (vector selectors, by name or by __name__ matcher). */
export function metricNamesIn(expr: string): string[] {
  const names: string[] = [];
  const tree = parser.parse(expr);
  let error: number | undefined;
  tree.iterate({
    enter(node) {
      if (node.type.isError) error ??= node.from;
      if (node.name !== "VectorSelector") return;
      const id = node.node.getChild("Identifier");
      if (id) {
        names.push(expr.slice(id.from, id.to));
        return;
      }
      const m = /__name__\s*=\s*"([^"]+)"/.exec(expr.slice(node.from, node.to));
      if (m?.[1]) names.push(m[1]);
      else throw new Error(`a selector without a metric name in ${expr}`);
    },
  });
  if (error !== undefined) throw new Error(`PromQL does not parse at ${error}: ${expr}`);
  return names;
}

describe("metric names", () => {
  test("the parser finds names, including histogram series and __name__ matchers", () => {
    assert.deepEqual(metricNamesIn('sum(rate(a_total{x="1"}[5m])) / on() b and {__name__="c"}'), [
      "a_total",
      "b",
      "c",
    ]);
    assert.throws(() => metricNamesIn("sum(rate(a[5m])"), /does not parse/);
  });

  test("every metric a rule reads is in the catalogue, the job or API contract, or platformMetricNames", () => {
    const recorded = new Set(
      ruleGroups.flatMap((g) => g.rules.flatMap((r) => ("record" in r ? [r.record] : []))),
    );
    const unknown: string[] = [];
    for (const g of ruleGroups)
      for (const r of g.rules)
        for (const n of metricNamesIn(r.expr))
          if (!knownMetric(n) && !recorded.has(n))
            unknown.push(`${g.name}/${"alert" in r ? r.alert : r.record}: ${n}`);
    assert.deepEqual(unknown, []);
  });
});
