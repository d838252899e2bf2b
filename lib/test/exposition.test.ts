// lib/exposition.ts, the strict parser of the text exposition format and its writer: what the format
// allows is read (escapes, special values, timestamps, histograms and summaries, prom-client's own output,
// which formatExposition writes back unchanged), and each malformed text Prometheus would refuse is
// refused with its line and the reason. Look-ups through the test harness (test/support/exposition.ts).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Counter, Gauge, Histogram, Registry, Summary } from "prom-client";
import { formatExposition, parseExposition } from "../exposition.ts";
import { family, sample, samples } from "../../test/support/exposition.ts";

describe("parseExposition accepts the format", () => {
  test("HELP, TYPE, labels with escapes, special values, timestamps", () => {
    const fams = parseExposition(
      [
        "# A free comment",
        "# HELP http_requests_total The total \\\\ number\\nof requests.",
        "# TYPE http_requests_total counter",
        'http_requests_total{method="post",code="200"} 1027 1395066363000',
        'http_requests_total{method="post",code="400",} 3 1395066363000',
        'msdos_file_access_time_seconds{path="C:\\\\DIR\\\\FILE.TXT",error="Cannot find file:\\n\\"FILE.TXT\\""} 1.458255915e9',
        "",
        "metric_without_timestamp_and_labels 12.47",
        "x_nan NaN",
        "x_inf +Inf",
        "x_ninf -Inf",
        "  indented_sample 1",
        "no_final_newline\t2",
      ].join("\n"),
    );
    const req = family(fams, "http_requests_total");
    assert.equal(req?.type, "counter");
    assert.equal(req?.help, "The total \\ number\nof requests.");
    assert.equal(sample(fams, "http_requests_total", { code: "400" }), 3);
    assert.equal(samples(fams, "http_requests_total")[0]?.timestamp, 1395066363000);
    assert.deepEqual(samples(fams, "msdos_file_access_time_seconds")[0]?.labels, {
      path: "C:\\DIR\\FILE.TXT",
      error: 'Cannot find file:\n"FILE.TXT"',
    });
    assert.equal(family(fams, "metric_without_timestamp_and_labels")?.type, "untyped");
    assert.ok(Number.isNaN(sample(fams, "x_nan")));
    assert.equal(sample(fams, "x_inf"), Infinity);
    assert.equal(sample(fams, "x_ninf"), -Infinity);
    assert.equal(sample(fams, "indented_sample"), 1);
    assert.equal(sample(fams, "no_final_newline"), 2);
    assert.equal(sample(fams, "absent"), undefined);
    assert.throws(() => sample(fams, "http_requests_total"), /2 samples of http_requests_total match/);
  });

  test("histograms and summaries group their suffixed samples under the base name", () => {
    const fams = parseExposition(
      [
        "# TYPE rpc_duration_seconds summary",
        'rpc_duration_seconds{quantile="0.5"} 4773',
        'rpc_duration_seconds{quantile="0.99"} 76656',
        "rpc_duration_seconds_sum 1.7560473e+07",
        "rpc_duration_seconds_count 2693",
        "# HELP req_seconds A histogram.",
        "# TYPE req_seconds histogram",
        'req_seconds_bucket{le="0.05"} 24054',
        'req_seconds_bucket{le="0.1"} 33444',
        'req_seconds_bucket{le="+Inf"} 144320',
        "req_seconds_sum 53423",
        "req_seconds_count 144320",
      ].join("\n") + "\n",
    );
    assert.equal(family(fams, "rpc_duration_seconds")?.samples.length, 4);
    assert.equal(family(fams, "req_seconds")?.type, "histogram");
    assert.equal(sample(fams, "req_seconds_bucket", { le: "+Inf" }), 144320);
    assert.equal(sample(fams, "req_seconds_count"), 144320);
    assert.equal(family(fams, "req_seconds_count"), undefined);
  });

  test("reads prom-client's own output, and formatExposition round-trips it", async () => {
    const reg = new Registry();
    const c = new Counter({
      name: "c_total",
      help: 'with "quotes" and \\ and\nnewline',
      labelNames: ["l"],
      registers: [reg],
    });
    c.inc({ l: 'a"b\\c\nd' }, 2);
    new Gauge({ name: "g", help: "g", registers: [reg] }).set(-1.5);
    const h = new Histogram({
      name: "h_seconds",
      help: "h",
      labelNames: ["x"],
      buckets: [0.1, 1],
      registers: [reg],
    });
    h.observe({ x: "1" }, 0.5);
    h.observe({ x: "2" }, 5);
    new Summary({ name: "s", help: "s", percentiles: [0.5], registers: [reg] }).observe(3);
    const fams = parseExposition(await reg.metrics());
    assert.equal(sample(fams, "c_total", { l: 'a"b\\c\nd' }), 2);
    assert.equal(family(fams, "c_total")?.help, 'with "quotes" and \\ and\nnewline');
    assert.equal(sample(fams, "g"), -1.5);
    assert.equal(sample(fams, "h_seconds_bucket", { x: "1", le: "1" }), 1);
    assert.equal(sample(fams, "h_seconds_count", { x: "2" }), 1);
    assert.equal(sample(fams, "s", { quantile: "0.5" }), 3);
    assert.deepEqual(parseExposition(formatExposition(fams.values())), fams);
  });
});

describe("parseExposition rejects what Prometheus would reject", () => {
  const cases: { name: string; text: string; error: string }[] = [
    {
      name: "bad metric name",
      text: "0abc 1",
      error: 'line 1: invalid metric name at the start of "0abc 1"',
    },
    { name: "no value", text: "abc", error: 'line 1: sample "abc" has no value' },
    { name: "bad value", text: "abc one", error: 'line 1: invalid value "one"' },
    { name: "bad timestamp", text: "abc 1 1.5", error: 'line 1: invalid timestamp "1.5"' },
    { name: "trailing text", text: "abc 1 2 3", error: 'line 1: unexpected text after the timestamp: "3"' },
    {
      name: "unterminated label value",
      text: 'abc{a="x} 1',
      error: 'line 1: unterminated value of label "a"',
    },
    {
      name: "bad escape",
      text: 'abc{a="\\t"} 1',
      error: 'line 1: invalid escape sequence "\\t" in the value of label "a"',
    },
    { name: "label twice", text: 'abc{a="1",a="2"} 1', error: 'line 1: label "a" appears twice' },
    {
      name: "reserved label",
      text: 'abc{__name__="x"} 1',
      error: 'line 1: label name "__name__" is reserved (starts with __)',
    },
    {
      name: "unquoted label value",
      text: "abc{a=1} 1",
      error: `line 1: expected '"' to open the value of label "a"`,
    },
    {
      name: "missing comma",
      text: 'abc{a="1" b="2"} 1',
      error: 'line 1: expected "," or "}" after the value of label "a"',
    },
    {
      name: "no space before value",
      text: 'abc{a="1"}1',
      error: "line 1: expected a space before the value",
    },
    {
      name: "duplicate series",
      text: 'abc{a="1"} 1\nabc{a="1"} 2',
      error: 'line 2: duplicate series abc{"a":"1"}',
    },
    { name: "second HELP", text: "# HELP a x\n# HELP a y", error: "line 2: second HELP line for a" },
    { name: "second TYPE", text: "# TYPE a gauge\n# TYPE a gauge", error: "line 2: second TYPE line for a" },
    {
      name: "TYPE after a sample",
      text: "a 1\n# TYPE a gauge",
      error: "line 2: TYPE line for a must come before its first sample",
    },
    { name: "unknown type", text: "# TYPE a gaugee", error: 'line 1: unknown type "gaugee" for a' },
    {
      name: "bad HELP escape",
      text: "# HELP a bad \\x",
      error: 'line 1: invalid escape sequence "\\x" in HELP text',
    },
    {
      name: "family split in two groups",
      text: 'a 1\nb 1\na{x="1"} 2',
      error: "line 3: metric family a appears again after another family began (its lines must be one group)",
    },
    {
      name: "carriage return",
      text: "a 1\r\n",
      error: "line 1: carriage return in line (use \\n line ends)",
    },
    {
      name: "histogram without +Inf",
      text: '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1',
      error: 'line 2: histogram h{}: no le="+Inf" bucket',
    },
    {
      name: "histogram not cumulative",
      text: '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1',
      error: "line 2: histogram h{}: bucket counts are not cumulative",
    },
    {
      name: "histogram count differs",
      text: '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_count 3',
      error: "line 2: histogram h{}: _count 3 differs from the +Inf bucket 2",
    },
    {
      name: "histogram bucket without le",
      text: "# TYPE h histogram\nh_bucket 1",
      error: 'line 2: histogram h: bucket without a numeric "le" label',
    },
    {
      name: "histogram plain sample",
      text: "# TYPE h histogram\nh 1",
      error: "line 2: histogram h: sample without a _bucket, _sum or _count suffix",
    },
    {
      name: "summary without quantile",
      text: "# TYPE s summary\ns 1",
      error: 'line 2: summary s: sample without a numeric "quantile" label',
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.throws(() => parseExposition(c.text), { name: "ExpositionError", message: c.error });
    });
  }
});
