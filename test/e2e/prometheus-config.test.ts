// The rewrite of prometheus.yml for the end-to-end test changes only what it lists, and refuses a scrape
// job it does not know (a job added to prometheus.yml must be run or removed there on purpose).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { parse } from "yaml";
import { jobs } from "../../definitions/selectors.ts";
import { rewritePrometheusConfig, type LocalPrometheus } from "./prometheus-config.ts";

const root = new URL("../..", import.meta.url).pathname;
const configPath = join(root, "prometheus/prometheus.yml");
const source = readFileSync(configPath, "utf8");
const options: LocalPrometheus = {
  configPath,
  targets: {
    [jobs.exporter]: "127.0.0.1:1001",
    [jobs.api]: "127.0.0.1:1002",
    [jobs.prometheus]: "127.0.0.1:1003",
    [jobs.alertmanager]: "127.0.0.1:1004",
  },
  removeJobs: [jobs.loki, jobs.promtail, jobs.grafana],
  alertmanager: "127.0.0.1:1004",
  scrapeInterval: "2s",
  evaluationInterval: "1s",
};

type Job = { job_name: string; static_configs?: { targets: string[] }[]; [k: string]: unknown };
type Config = {
  global: Record<string, unknown>;
  scrape_configs: Job[];
  rule_files: string[];
  [k: string]: unknown;
};

test("targets, intervals, rule paths and removed jobs change; nothing else does", () => {
  const before = parse(source) as Config;
  const out = rewritePrometheusConfig(source, options);
  const after = parse(out.yaml) as Config;
  assert.deepEqual(
    after.scrape_configs.map((j) => j.job_name),
    before.scrape_configs.map((j) => j.job_name).filter((n) => !options.removeJobs.includes(n)),
  );
  for (const job of after.scrape_configs) {
    const orig = before.scrape_configs.find((j) => j.job_name === job.job_name)!;
    // Every key but the target lists and basic auth (the local servers take none) is as committed.
    const strip = (j: Job) => ({
      ...j,
      static_configs: undefined,
      file_sd_configs: undefined,
      basic_auth: undefined,
    });
    assert.deepEqual(strip(job), strip(orig), job.job_name);
    assert.equal((job as { basic_auth?: unknown }).basic_auth, undefined, job.job_name);
    for (const sc of job.static_configs ?? []) assert.deepEqual(sc.targets, [options.targets[job.job_name]]);
  }
  assert.equal(after.global.scrape_interval, "2s");
  assert.equal(after.global.evaluation_interval, "1s");
  assert.deepEqual(after.global.external_labels, before.global.external_labels);
  // Rule files are read where they are, but for those with a group interval of their own, which are
  // copied beside the config with the test's evaluation interval.
  const copies = Object.keys(out.files).filter((f) => f.startsWith("rules-"));
  assert.ok(copies.length > 0, "some rule group has an interval of its own");
  for (const f of after.rule_files)
    assert.ok(f.startsWith(join(root, "prometheus")) || copies.includes(f), f);
  for (const f of copies)
    for (const g of (parse(out.files[f]!) as { groups: { interval?: string }[] }).groups)
      assert.ok(g.interval === undefined || g.interval === "1s", `${f}: ${g.interval}`);
  assert.deepEqual(
    Object.entries(out.files)
      .filter(([f]) => !f.startsWith("rules-"))
      .map(([, f]) => parse(f)),
    [[{ targets: ["127.0.0.1:1002"] }]],
  );
  assert.ok(out.changes.some((c) => c.includes("job loki removed")));
  assert.ok(
    out.changes.some(
      (c) => c === "job prometheus: basic_auth removed (the local servers run without --web.config.file)",
    ),
  );
});

test("a scrape job the test neither runs nor removes is an error naming it", () => {
  const extra = source.replace(
    "scrape_configs:\n",
    "scrape_configs:\n  - job_name: new-thing\n    static_configs:\n      - targets: [x:1]\n",
  );
  assert.throws(() => rewritePrometheusConfig(extra, options), /scrape job "new-thing"/);
});
