// PrometheusTargetDown watches the stack's own scrape jobs: exactly those prometheus.yml defines, the
// exporter aside (ExporterDown pages for it), and nothing else a shared Prometheus scrapes.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { parse } from "yaml";
import { jobs } from "../../definitions/selectors.ts";
import { stackJobs } from "../rules/src/stack.ts";

test("PrometheusTargetDown's jobs are prometheus.yml's scrape jobs but the exporter's", () => {
  const prom = parse(readFileSync(new URL("../prometheus.yml", import.meta.url), "utf8")) as {
    scrape_configs: { job_name: string }[];
  };
  const scraped = prom.scrape_configs.map((c) => c.job_name).filter((j) => j !== jobs.exporter);
  assert.deepEqual([...stackJobs].sort(), scraped.sort());
  const rule = readFileSync(new URL("../rules/generated/stack.yml", import.meta.url), "utf8");
  assert.ok(rule.includes(`up{job=~"${stackJobs.join("|")}"} == 0`), "the generated expression");
});
