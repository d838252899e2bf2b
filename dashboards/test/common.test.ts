// The panel factories refuse what would make a bad panel, with an error naming the panel and the problem.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Panel } from "@grafana/grafana-foundation-sdk/dashboard";
import type { LogStream } from "../../definitions/logs.ts";
import { histogramSeries, num, platformSeries, series } from "../../lib/promql.ts";
import {
  logSelector,
  loki,
  prom,
  rate,
  stat,
  timeseries,
  type MetricName,
  type PanelSpec,
} from "../src/common.ts";

const ok: PanelSpec = {
  title: "Active scans",
  description: "Scans queued or running.",
  unit: "short",
  queries: [prom("sum(kali_agents_active_scans)")],
};

describe("panel factories", () => {
  const cases: { name: string; mutate: Partial<PanelSpec>; error: RegExp }[] = [
    { name: "empty title", mutate: { title: " " }, error: /a panel needs a title/ },
    {
      name: "empty description",
      mutate: { description: "" },
      error: /panel "Active scans" needs a description/,
    },
    { name: "empty unit", mutate: { unit: "" }, error: /panel "Active scans" needs a unit/ },
    { name: "no query", mutate: { queries: [] }, error: /panel "Active scans" has no query/ },
    {
      name: "Prometheus and Loki queries mixed",
      mutate: { queries: [prom("up"), loki('{job="kali-agents"}')] },
      error: /panel "Active scans" mixes Prometheus and Loki queries/,
    },
    {
      name: "more queries than refIds",
      mutate: { queries: Array.from({ length: 27 }, () => prom("up")) },
      error: /more than 26 queries/,
    },
  ];
  for (const c of cases) {
    test(`refuses a panel with ${c.name}`, () => {
      assert.throws(() => stat({ ...ok, ...c.mutate }), c.error);
      assert.throws(() => timeseries({ ...ok, ...c.mutate }), c.error);
    });
  }

  test("gives refIds A, B, C... and the datasource variable to every query", () => {
    const p = timeseries({ ...ok, queries: [prom("up"), prom("up"), prom("up")] }).build() as Panel;
    const targets = p.targets as unknown as { refId: string; datasource: { uid: string } }[];
    assert.deepEqual(
      targets.map((t) => t.refId),
      ["A", "B", "C"],
    );
    assert.ok(targets.every((t) => t.datasource.uid === "${datasource}"));
  });

  test("makes a new builder on every call (a shared builder would move its panel)", () => {
    const a = stat(ok);
    const b = stat(ok);
    assert.notEqual(a, b);
    assert.notEqual(a.build(), b.build());
  });

  test("threshold steps start from a base colour, then the given steps", () => {
    const p = stat({ ...ok, thresholds: [["red", 100]] }).build() as Panel;
    assert.deepEqual(p.fieldConfig?.defaults?.thresholds?.steps, [
      { value: null, color: "green" },
      { value: 100, color: "red" },
    ]);
  });
});

describe("query helpers", () => {
  test("series writes a selector and refuses a name outside the catalogue", () => {
    assert.equal(series("pg_up", 'job="x"', undefined), 'pg_up{job="x"}');
    assert.equal(series("pg_up"), "pg_up");
    assert.throws(() => series("pg_down" as MetricName), /metric pg_down is not in the catalogue/);
  });

  test("histogramSeries only takes histograms", () => {
    assert.equal(
      histogramSeries("kali_agents_scan_duration_seconds", "bucket", 'job="x"'),
      'kali_agents_scan_duration_seconds_bucket{job="x"}',
    );
    assert.throws(() => histogramSeries("pg_up", "bucket"), /pg_up is not a histogram/);
  });

  test("platformSeries only takes Prometheus' own metrics listed in definitions", () => {
    assert.equal(platformSeries("up", 'job="x"'), 'up{job="x"}');
    assert.throws(() => platformSeries("go_goroutines"), /go_goroutines is not in platformMetricNames/);
  });

  test("rate always uses $__rate_interval", () => {
    assert.equal(rate("x_total"), "rate(x_total[$__rate_interval])");
  });

  test("num writes numbers without floating-point noise", () => {
    assert.equal(num(1 - 0.999), "0.001");
    assert.equal(num(14.4), "14.4");
  });

  test("logSelector selects the application's streams and refuses an unknown one", () => {
    assert.equal(logSelector("errors"), '{job="kali-agents", stream="errors"}');
    assert.equal(logSelector(), '{job="kali-agents"}');
    assert.throws(() => logSelector("debug" as LogStream), /unknown log stream debug/);
  });
});
