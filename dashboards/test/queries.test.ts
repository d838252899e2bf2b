// Every query of every generated dashboard: it parses (PromQL with @prometheus-io/lezer-promql, LogQL
// with @grafana/lezer-logql), it names only metrics someone publishes, it selects only Loki labels
// Promtail attaches, and a real Prometheus accepts it.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { knownMetric } from "../../lib/promql.ts";
import { heartbeatAlert, runbookBaseUrl, type RuleGroup } from "../../definitions/rules.ts";
import { logs } from "../../definitions/logs.ts";
import { apiSlo } from "../../definitions/slo.ts";
import { recordings } from "../../definitions/selectors.ts";
import { scorecardRecordings } from "../../definitions/scorecard.ts";
import { startPrometheus, requireBinaries, type HttpServer } from "../../test/support/servers.ts";
import { dashboards } from "../src/index.ts";
import {
  allAnnotationQueries,
  allLokiQueries,
  allPromQueries,
  allQueries,
  panelsOf,
  substitute,
  usesJobMetrics,
} from "../src/queries.ts";
import {
  logqlErrors,
  logqlGroupingLabelsWithoutParser,
  logqlStreamMatchers,
  promqlErrors,
  promqlMetricNames,
  promtailLabels,
} from "./support.ts";

const root = new URL("../..", import.meta.url).pathname;
const alertLike =
  /\b(?:Api|Host|Backup|DrDrill|Cleanup|Postgres|Mcp|Redis|Scans|Exporter|Prometheus|Alertmanager|Logs|Security|Loki)[A-Z][A-Za-z]+/g;
// Annotation queries are checked like panel queries (they are PromQL on the same datasource).
const promQueries = [
  ...allPromQueries(),
  ...allAnnotationQueries().map((a) => ({
    dashboard: a.dashboard,
    panel: `annotation ${a.annotation}`,
    expr: a.expr,
  })),
];
const lokiQueries = allLokiQueries();
const where = (q: { dashboard: string; panel: string; expr: string }) =>
  `${q.dashboard} / "${q.panel}": ${q.expr}`;

/** Recording rule names dashboards may read: every name definitions `recordings` can produce. */
const recordingNames = (): Set<string> => {
  const names = new Set<string>();
  for (const v of [...Object.values(recordings), ...Object.values(scorecardRecordings)]) {
    if (typeof v === "string") names.add(v);
  }
  names.add(recordings.apiErrorRatio(apiSlo.period));
  for (const w of apiSlo.windows) {
    names.add(recordings.apiErrorRatio(w.long));
    names.add(recordings.apiErrorRatio(w.short));
  }
  return names;
};

/** Metric names published by the exporter, the jobs, the API contract or Prometheus itself. */
const unknownMetric = (name: string): boolean => !knownMetric(name) && !recordingNames().has(name);

describe("dashboard queries", () => {
  test("the dashboards have PromQL and LogQL queries to check", () => {
    assert.ok(promQueries.length >= 50, `only ${promQueries.length} PromQL queries`);
    assert.ok(lokiQueries.length >= 5, `only ${lokiQueries.length} LogQL queries`);
  });

  test("the syntax checks catch broken expressions (so the tests below can fail)", () => {
    assert.notDeepEqual(promqlErrors("sum(rate(x[1m])"), []);
    assert.notDeepEqual(
      promqlErrors("rate(x[$__rate_interval])"),
      [],
      "unsubstituted variables do not parse",
    );
    assert.notDeepEqual(logqlErrors('{job="a" | json'), []);
    assert.ok(unknownMetric("kali_agents_no_such_metric"));
    assert.ok(!unknownMetric("kali_agents_scan_duration_seconds_bucket"));
    assert.ok(unknownMetric("kali_agents_active_scans_bucket"), "only histograms have _bucket series");
    assert.throws(() => substitute("rate(x[$unknown])"), /no value for Grafana variable \$unknown/);
    assert.ok(usesJobMetrics("time() - kali_agents_job_last_success_timestamp_seconds{x}"));
    assert.ok(!usesJobMetrics("kali_agents_active_scans"));
  });

  test("every PromQL expression parses", () => {
    const bad = promQueries.flatMap((q) => promqlErrors(q.expr).map((e) => `${where(q)}\n  ${e}`));
    assert.deepEqual(bad, []);
  });

  test("every LogQL expression parses", () => {
    const bad = lokiQueries.flatMap((q) => logqlErrors(q.expr).map((e) => `${where(q)}\n  ${e}`));
    assert.deepEqual(bad, []);
  });

  test("every metric a panel uses is in the catalogue, a recording rule or Prometheus' own metrics", () => {
    const bad = promQueries.flatMap((q) =>
      promqlMetricNames(q.expr)
        .filter(unknownMetric)
        .map((n) => `${n} in ${where(q)}`),
    );
    assert.deepEqual(bad, []);
  });

  test("every recording rule a panel reads is defined by the Prometheus rules", async () => {
    const { ruleGroups } = (await import("../../prometheus/rules/src/index.ts")) as {
      ruleGroups: RuleGroup[];
    };
    const { documentationGroup } = await import("../../scripts/documentation-coverage.ts");
    const recorded = new Set(
      [...ruleGroups, documentationGroup()].flatMap((g) =>
        g.rules.flatMap((r) => ("record" in r ? [r.record] : [])),
      ),
    );
    const used = new Set(
      promQueries.flatMap((q) => promqlMetricNames(q.expr).filter((n) => recordingNames().has(n))),
    );
    assert.ok(used.size > 0, "no panel reads a recording rule");
    const missing = [...used].filter((n) => !recorded.has(n));
    assert.deepEqual(missing, [], "recording rules used by panels but not defined in prometheus/rules");
  });

  test("every alert a panel links a runbook for or names in its description is defined by the rules", async () => {
    const { ruleGroups } = (await import("../../prometheus/rules/src/index.ts")) as {
      ruleGroups: RuleGroup[];
    };
    // Loki's ruler evaluates some; Prometheus evaluates the alerts on Loki's recordings.
    const loki = (await import("../../loki/rules/src/index.ts")) as {
      lokiRuleGroups: RuleGroup[];
      prometheusLogRuleGroups: RuleGroup[];
    };
    const alerts = new Set(
      [...ruleGroups, ...loki.lokiRuleGroups, ...loki.prometheusLogRuleGroups].flatMap((g) =>
        g.rules.flatMap((r) => ("alert" in r ? [r.alert] : [])),
      ),
    );
    const bad: string[] = [];
    let links = 0;
    for (const d of dashboards) {
      for (const p of panelsOf(d.json)) {
        for (const l of p.fieldConfig?.defaults?.links ?? []) {
          if (!l.url?.startsWith(`${runbookBaseUrl}/`)) continue;
          links++;
          const alert = l.url.slice(runbookBaseUrl.length + 1).replace(/\.md$/, "");
          if (!alerts.has(alert)) bad.push(`${d.name} / ${p.title}: runbook link for unknown alert ${alert}`);
        }
        // Alert names follow CamelCase with a component prefix (definitions/rules.ts).
        for (const m of (p.description ?? "").matchAll(alertLike)) {
          if (!alerts.has(m[0])) bad.push(`${d.name} / ${p.title}: description names unknown alert ${m[0]}`);
        }
      }
    }
    assert.ok(links >= 20, `only ${links} runbook links`);
    assert.ok(alerts.has(heartbeatAlert), `the overview leaves out ${heartbeatAlert}, which no rule defines`);
    assert.deepEqual(bad, []);
  });

  test("every Loki label a panel selects or groups on is one the Promtail configuration attaches", () => {
    // The configuration that ships, not a list kept beside it: a label renamed there fails here.
    const attached = promtailLabels(readFileSync(join(root, "promtail/promtail.yaml"), "utf8"));
    for (const l of attached.keys()) {
      assert.ok(
        (logs.labels as readonly string[]).includes(l),
        `Promtail attaches ${l}, not in definitions logs.labels`,
      );
    }
    const bad: string[] = [];
    for (const q of lokiQueries) {
      const matchers = logqlStreamMatchers(q.expr);
      assert.ok(matchers.length > 0, `no stream selector in ${where(q)}`);
      for (const m of matchers) {
        const values = attached.get(m.label);
        if (!values) bad.push(`label ${m.label} in ${where(q)}`);
        // Where Promtail fixes the values (job, stream), an equality matcher must use one of them.
        else if (m.op === "=" && values.size > 0 && !values.has(m.value)) {
          bad.push(`${m.label}="${m.value}" (Promtail sets ${[...values].join(", ")}) in ${where(q)}`);
        }
      }
      for (const l of logqlGroupingLabelsWithoutParser(q.expr)) {
        if (!attached.has(l)) bad.push(`grouping label ${l} in ${where(q)}`);
      }
    }
    assert.deepEqual(bad, []);
  });

  test("every query has its datasource type and a refId unique in its panel", () => {
    const seen = new Set<string>();
    for (const q of allQueries()) {
      assert.match(q.refId, /^[A-Z]$/, where(q));
      const key = `${q.dashboard}/${q.panel}/${q.refId}`;
      assert.ok(!seen.has(key), `refId ${q.refId} twice in ${q.dashboard} / ${q.panel}`);
      seen.add(key);
    }
  });
});

// The grammar accepts some expressions that Prometheus rejects (a rate() of an instant vector, a
// binary operation between a scalar and a range vector...). A real Prometheus type-checks every one.
describe("dashboard queries against a real Prometheus", { skip: requireBinaries("prometheus") }, () => {
  let prom: HttpServer;
  before(async () => {
    prom = await startPrometheus("global:\n  scrape_interval: 15s\nscrape_configs: []\n");
  });
  after(async () => {
    await prom?.cleanup();
  });

  test("Prometheus accepts every PromQL expression of every panel", async () => {
    const bad: string[] = [];
    for (const q of promQueries) {
      const res = await fetch(`${prom.url}/api/v1/query`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ query: q.expr }),
      });
      const body = (await res.json()) as { status: string; error?: string };
      if (body.status !== "success") bad.push(`${where(q)}\n  ${body.error ?? res.status}`);
    }
    assert.deepEqual(bad, []);
  });
});
