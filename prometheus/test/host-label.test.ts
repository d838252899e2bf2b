// Many hosts, one store: every aggregation in a generated rule keeps the host label, so that on a central
// Prometheus (deploy/remote-write/) one result is still one host. Read from the generated YAML with the
// PromQL parser: each `by (...)` / `on (...)` that keeps `job` or `instance` must keep `host` too.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { parser } from "@prometheus-io/lezer-promql";
import { parse } from "yaml";
import { aggregationLabels, hostLabel } from "../../definitions/selectors.ts";

const root = new URL("../..", import.meta.url).pathname;
const dir = join(root, "prometheus/rules/generated");

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
}

function rules(): { file: string; name: string; expr: string }[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".yml"))
    .sort()
    .flatMap((file) =>
      (parse(readFileSync(join(dir, file), "utf8")) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) =>
        g.rules.map((r) => ({ file, name: r.alert ?? r.record ?? "?", expr: r.expr })),
      ),
    );
}

/** Each grouping clause of an expression: its keyword (by, without, on, ignoring) and its labels. */
function groupings(expr: string): { keyword: string; labels: string[] }[] {
  const out: { keyword: string; labels: string[] }[] = [];
  parser.parse(expr).iterate({
    enter(n) {
      if (n.name !== "GroupingLabels") return;
      const keyword = expr.slice(n.node.prevSibling?.from ?? n.from, n.node.prevSibling?.to ?? n.from).trim();
      const labels: string[] = [];
      for (let c = n.node.firstChild; c; c = c.nextSibling)
        if (c.name === "LabelName") labels.push(expr.slice(c.from, c.to));
      out.push({ keyword, labels });
    },
  });
  return out;
}

test("the grouping parser reads by/on clauses", () => {
  assert.deepEqual(groupings("sum by (job, instance) (x) / on (job) group_left max without (le) (y)"), [
    { keyword: "by", labels: ["job", "instance"] },
    { keyword: "on", labels: ["job"] },
    { keyword: "without", labels: ["le"] },
  ]);
});

test("every aggregation or join on job/instance in a generated rule keeps the host label", () => {
  const all = rules();
  assert.ok(all.length > 40, `${all.length} rules`);
  const dropping: string[] = [];
  const keeping = new Set<string>();
  for (const r of all) {
    for (const g of groupings(r.expr)) {
      if (g.keyword !== "by" && g.keyword !== "on") continue;
      if (!g.labels.some((l) => l === "job" || l === "instance")) continue;
      if (g.labels.includes(hostLabel)) keeping.add(`${r.file}: ${r.name}`);
      else dropping.push(`${r.file}: ${r.name}: ${g.keyword} (${g.labels.join(", ")})`);
    }
  }
  assert.deepEqual(dropping, [], "rules that would merge hosts on a central Prometheus");
  // The rules that needed it (those that aggregate): the API recordings, host CPU, PostgreSQL
  // connections, the scan failure ratio, ScansNotFinishing's join, and the log-derived ratio.
  assert.deepEqual([...keeping].sort(), [
    "api.yml: kali_agents:api_error_ratio:rate1d",
    "api.yml: kali_agents:api_error_ratio:rate1h",
    "api.yml: kali_agents:api_error_ratio:rate2h",
    "api.yml: kali_agents:api_error_ratio:rate30d",
    "api.yml: kali_agents:api_error_ratio:rate30m",
    "api.yml: kali_agents:api_error_ratio:rate3d",
    "api.yml: kali_agents:api_error_ratio:rate5m",
    "api.yml: kali_agents:api_error_ratio:rate6h",
    "api.yml: kali_agents:api_request_duration_seconds:p95_5m",
    "api.yml: kali_agents:api_requests:rate5m",
    "host.yml: HostHighCpuUsage",
    "logs-derived.yml: LogsErrorRatioHigh",
    "postgres.yml: PostgresTooManyConnections",
    "scans.yml: ScansHighFailureRatio",
    "scans.yml: ScansNotFinishing",
  ]);
});

test("aggregationLabels name the host label", () => {
  for (const [k, v] of Object.entries(aggregationLabels))
    assert.ok(v.split(", ").includes(hostLabel), `aggregationLabels.${k} = ${v}`);
});
