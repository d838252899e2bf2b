// The host variable pass (dashboards/src/host-variable.ts): the matcher lands in every series selector,
// once, without breaking the expression; every generated dashboard has the variable.
import assert from "node:assert/strict";
import { test } from "node:test";
import { parser } from "@prometheus-io/lezer-promql";
import { dashboards } from "../src/index.ts";
import { hostMatcher, hostVariable, withHostMatcher, withLogHostMatcher } from "../src/host-variable.ts";
import { dashboardLokiQueries, parseLogQL, withoutGrafanaMacros } from "../../loki/test/logql.ts";
import { allAnnotationQueries, allQueries } from "../src/queries.ts";

const cases: [string, string][] = [
  ["up", `up{${hostMatcher}}`],
  [`up{job="x"}`, `up{job="x", ${hostMatcher}}`],
  ["ALERTS{}", `ALERTS{${hostMatcher}}`],
  [
    `sum by (le) (rate(a_bucket{job="x"}[$__rate_interval])) / b`,
    `sum by (le) (rate(a_bucket{job="x", ${hostMatcher}}[$__rate_interval])) / b{${hostMatcher}}`,
  ],
  [`rate(x[\${__rate_interval}]) * $__range_s`, `rate(x{${hostMatcher}}[\${__rate_interval}]) * $__range_s`],
  [`kali_agents:api_requests:rate5m offset 5m`, `kali_agents:api_requests:rate5m{${hostMatcher}} offset 5m`],
  // Already narrowed to a host: left alone.
  [`up{host="a"}`, `up{host="a"}`],
  [`time() - 1`, `time() - 1`],
];

for (const [input, want] of cases) {
  test(`withHostMatcher(${input})`, () => assert.equal(withHostMatcher(input), want));
}

test("an expression that does not parse is an error naming it, not a half-rewritten query", () => {
  assert.throws(() => withHostMatcher("sum(rate(x[5m])"), /does not parse .*sum\(rate/);
});

test("every generated dashboard has the host variable after the datasource variables", () => {
  for (const d of dashboards) {
    const vars = d.json.templating.list ?? [];
    const i = vars.findIndex((v) => v.name === hostVariable);
    assert.ok(i >= 0, `${d.name} has no $${hostVariable}`);
    assert.ok(
      vars.slice(0, i).every((v) => v.type === "datasource"),
      d.name,
    );
    assert.equal(vars[i]!.allValue, ".*", "All matches series without a host label (one compose host)");
  }
});

test("every series selector of every PromQL query and annotation matches on the host variable", () => {
  const exprs = [
    ...allQueries()
      .filter((q) => q.datasource === "prometheus")
      .map((q) => q.raw),
    ...allAnnotationQueries({ host: "$host" }).map((a) => a.expr),
  ];
  assert.ok(exprs.length > 100, `${exprs.length} queries`);
  const without: string[] = [];
  for (const e of exprs) {
    const neutral = e.replace(/\$\{\w+(?::[^}]*)?\}|\[\[\w+\]\]|\$\w+/g, (m) => "9".repeat(m.length));
    parser.parse(neutral).iterate({
      enter(n) {
        if (n.name === "VectorSelector" && !e.slice(n.from, n.to).includes(hostMatcher))
          without.push(`${e.slice(n.from, n.to)} in ${e}`);
      },
    });
  }
  assert.deepEqual(without, []);
});

const logCases: [string, string][] = [
  [`{job="x"}`, `{job="x", ${hostMatcher}}`],
  [
    `sum by (level) (count_over_time({job="x", stream="errors"} |= "a{b}" | json [$__interval]))`,
    `sum by (level) (count_over_time({job="x", stream="errors", ${hostMatcher}} |= "a{b}" | json [$__interval]))`,
  ],
  // Braces inside strings (a line_format template, an escaped quote) and Grafana's ${...} are not selectors.
  [
    `{job="x"} | line_format "{{.msg}} \\"}{\\"" [\${__interval}]`,
    `{job="x", ${hostMatcher}} | line_format "{{.msg}} \\"}{\\"" [\${__interval}]`,
  ],
  [`{job="x"} | line_format \`{{.msg}}\``, `{job="x", ${hostMatcher}} | line_format \`{{.msg}}\``],
  [`{job="a"} or {job="b"}`, `{job="a", ${hostMatcher}} or {job="b", ${hostMatcher}}`],
  [`{job="x", host="a"}`, `{job="x", host="a"}`],
];
for (const [input, want] of logCases) {
  test(`withLogHostMatcher(${input})`, () => assert.equal(withLogHostMatcher(input), want));
}

test("a LogQL query cut short is an error naming it, not a half-rewritten query", () => {
  assert.throws(() => withLogHostMatcher('{job="x"'), /unclosed selector in \{job="x"/);
  assert.throws(() => withLogHostMatcher('{job="x"} |= "a'), /unterminated string/);
});

test("every stream selector of every LogQL panel query matches on the host variable, and still parses", () => {
  const queries = dashboardLokiQueries(new URL("../generated", import.meta.url).pathname);
  assert.ok(queries.length >= 5, `${queries.length} LogQL queries`);
  for (const { file, expr } of queries) {
    const parsed = parseLogQL(withoutGrafanaMacros(expr));
    assert.ok(parsed.selectors.length > 0, expr);
    for (const sel of parsed.selectors) {
      assert.ok(
        sel.some((m) => m.name === "host" && m.op === "=~" && m.value === ".*"),
        `${file}: ${expr}`,
      );
      // Loki refuses a selector whose every matcher matches the empty string: another one must not.
      assert.ok(
        sel.some(
          (m) => m.name !== "host" && !new RegExp(`^(?:${m.op.startsWith("=") ? m.value : ""})$`).test(""),
        ),
        `${file}: ${expr} would match every stream`,
      );
    }
  }
});
