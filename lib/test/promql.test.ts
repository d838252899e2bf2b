// The one PromQL builder: what rules, dashboards and the ops report all write through it.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { MetricName } from "../../definitions/metrics/catalogue.ts";
import { histogramSeries, increase, num, platformSeries, rate, series } from "../promql.ts";

describe("lib/promql.ts", () => {
  test("series: catalogue names, optional matchers left out", () => {
    assert.equal(series("pg_up"), "pg_up");
    assert.equal(series("pg_up", 'job="x"', undefined, ""), 'pg_up{job="x"}');
    assert.throws(() => series("pg_down" as MetricName), /metric pg_down is not in the catalogue/);
  });

  test("a histogram's _bucket/_sum/_count, and only a histogram's", () => {
    assert.equal(
      histogramSeries("http_request_duration_seconds", "bucket", 'job="api"'),
      'http_request_duration_seconds_bucket{job="api"}',
    );
    assert.equal(series("http_request_duration_seconds_count"), "http_request_duration_seconds_count");
    // A counter has no _sum series; a name that merely ends in _count is not taken apart.
    assert.throws(() => series("http_requests_total_sum" as MetricName), /not a histogram/);
    assert.equal(series("pg_stat_activity_count"), "pg_stat_activity_count");
  });

  test("platform series must be listed in definitions", () => {
    assert.equal(platformSeries("up", 'job="x"'), 'up{job="x"}');
    assert.throws(() => platformSeries("made_up_metric"), /not in platformMetricNames/);
  });

  test("ranges", () => {
    assert.equal(rate("x_total", "5m"), "rate(x_total[5m])");
    assert.equal(increase("x_total", "604800s"), "increase(x_total[604800s])");
  });

  // The rules wrote String(n) and the dashboards 12 significant digits: a threshold computed from
  // others (1 - 0.999) came out as 0.0010000000000000009 in one and 0.001 in the other.
  test("num: one rounding for rules and dashboards, finite numbers only", () => {
    assert.equal(num(1 - 0.999), "0.001");
    assert.equal(num(14.4 * (1 - 0.999)), "0.0144");
    assert.equal(num(0.1 + 0.2), "0.3");
    assert.equal(num(93600), "93600");
    assert.equal(num(0.8), "0.8");
    assert.throws(() => num(Infinity), /not a finite number/);
    assert.throws(() => num(NaN), /not a finite number/);
  });
});
