// Metrics built from the catalogue (exporter/src/metrics.ts), and the CumulativeCounter that exposes
// upstream cumulative values with TYPE counter.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { Registry } from "prom-client";
import { exporterCatalogue } from "../../definitions/metrics/catalogue.ts";
import { hostMetrics } from "../../definitions/metrics/host.ts";
import { scanMetrics } from "../../definitions/metrics/scans.ts";
import { exporterVersion } from "../src/collectors/index.ts";
import { createMetrics, CumulativeCounter } from "../src/metrics.ts";
import { family, parseExposition, sample } from "../../test/support/exposition.ts";

describe("createMetrics", () => {
  test("every catalogue metric of the exporter can be created, with its name, type and help", async () => {
    const reg = new Registry();
    const m = createMetrics(exporterCatalogue, reg);
    assert.equal(Object.keys(m).length, exporterCatalogue.length);
    const fams = parseExposition(await reg.metrics());
    for (const def of exporterCatalogue) {
      const fam = family(fams, def.name);
      assert.ok(fam, def.name);
      assert.equal(fam.type, def.type, def.name);
      assert.equal(fam.help, def.help, def.name);
    }
  });

  test("a counter mirrors an upstream cumulative value with set(), and counts with inc()", async () => {
    const reg = new Registry();
    const m = createMetrics(hostMetrics, reg);
    m.node_cpu_seconds_total.set({ cpu: "0", mode: "user" }, 12.5);
    m.node_cpu_seconds_total.set({ cpu: "0", mode: "user" }, 13);
    m.node_cpu_seconds_total.inc({ cpu: "0", mode: "idle" }, 2);
    m.node_cpu_seconds_total.inc({ cpu: "0", mode: "idle" });
    const fams = parseExposition(await reg.metrics());
    assert.equal(family(fams, "node_cpu_seconds_total")?.type, "counter");
    assert.equal(sample(fams, "node_cpu_seconds_total", { mode: "user" }), 13);
    assert.equal(sample(fams, "node_cpu_seconds_total", { mode: "idle" }), 3);
    m.node_cpu_seconds_total.reset();
    assert.equal(parseExposition(await reg.metrics()).get("node_cpu_seconds_total")?.samples.length, 0);
  });

  test("labels must be exactly the catalogue's", () => {
    const c = new CumulativeCounter({ name: "x_total", help: "x", labels: ["a", "b"] });
    assert.throws(
      () => c.set({ a: "1" }, 1),
      /x_total: labels \["a"\] differ from the catalogue's \["a","b"\]/,
    );
    assert.throws(() => c.set({ a: "1", c: "2" }, 1), /differ from the catalogue's/);
    assert.throws(() => c.inc({ a: "1", b: "2" }, -1), /a counter cannot decrease/);
    c.set({ b: "2", a: "1" }, 5);
    assert.equal(c.value({ a: "1", b: "2" }), 5);
  });

  test("an unlabelled counter starts at 0, as prom-client's does", async () => {
    const reg = new Registry();
    new CumulativeCounter({ name: "y_total", help: "y", labels: [] }, reg);
    assert.equal(sample(parseExposition(await reg.metrics()), "y_total"), 0);
  });

  test("histograms take their buckets from the catalogue", async () => {
    const reg = new Registry();
    const m = createMetrics(scanMetrics, reg);
    m.kali_agents_scan_duration_seconds.observe({ tool: "nmap" }, 42);
    const fams = parseExposition(await reg.metrics());
    const les = fams
      .get("kali_agents_scan_duration_seconds")!
      .samples.filter((s) => s.name.endsWith("_bucket"))
      .map((s) => s.labels.le);
    const def = scanMetrics.find((d) => d.name === "kali_agents_scan_duration_seconds")!;
    assert.deepEqual(les, [...def.buckets!.map(String), "+Inf"]);
    assert.equal(sample(fams, "kali_agents_scan_duration_seconds_bucket", { le: "60" }), 1);
  });
});

test("the exporter's version is package.json's", () => {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  assert.equal(exporterVersion, pkg.version);
});
