// docs/metrics.md: its prose is written in the Markdown file; its tables are written here from the
// metric catalogue in definitions/ alone, one between each pair of markers: it imports no
// collector and no database client, so the documentation cannot drift from what the collectors create
// (they build every metric from the same entries). The names the prose writes out (job names, labels,
// probe kinds, PostgreSQL majors) are checked against the catalogue. A row in scripts/generators.ts;
// test/drift.test.ts fails when the committed file differs.
import { apiMetrics } from "../../definitions/metrics/api.ts";
import { exporterCatalogue } from "../../definitions/metrics/catalogue.ts";
import { exporterMetrics } from "../../definitions/metrics/exporter.ts";
import { hostMetrics } from "../../definitions/metrics/host.ts";
import { inventoryMetrics } from "../../definitions/metrics/inventory.ts";
import { jobMetrics, jobNames } from "../../definitions/metrics/jobs.ts";
import { platformMetricNames } from "../../definitions/metrics/platform.ts";
import { postgresMetrics } from "../../definitions/metrics/postgres.ts";
import { probeMetrics } from "../../definitions/metrics/probes.ts";
import { redisMetrics } from "../../definitions/metrics/redis.ts";
import { scanMetrics } from "../../definitions/metrics/scans.ts";
import {
  supportedPostgresMajors,
  type CollectorName,
  type MetricDef,
} from "../../definitions/metrics/metric.ts";
import { textfileMetrics } from "../../definitions/metrics/textfile.ts";
import { jobMetricLabel, probeKinds } from "../../definitions/selectors.ts";
import { probeMaxRedirects } from "../../definitions/thresholds.ts";
import { compatDashboards } from "../../definitions/generated/compat-dashboards.ts";
import { compatList, seriesVerdicts } from "../../definitions/compat.ts";
import { fillFile } from "./markers.ts";

export const path = "docs/metrics.md";

const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");
const labels = (d: MetricDef) => (d.labels.length ? d.labels.map((l) => `\`${l}\``).join(", ") : "");
const buckets = (d: MetricDef) => (d.buckets ? ` Buckets: ${d.buckets.join(", ")}.` : "");

const firstMajor = supportedPostgresMajors[0];
const lastMajor = supportedPostgresMajors[supportedPostgresMajors.length - 1]!;
const majorList = `${supportedPostgresMajors.slice(0, -1).join(", ")} and ${lastMajor}`;

/** The supported majors that publish a metric ("14–18", "14–16"), and where from when that differs. */
function majors(d: MetricDef): string {
  const since = Math.max(d.postgres?.since ?? firstMajor, firstMajor);
  const until = Math.min(d.postgres?.until ?? lastMajor, lastMajor);
  const range = since === until ? String(since) : `${since}–${until}`;
  return d.postgres?.note ? `${range}: ${cell(d.postgres.note)}` : range;
}

function table(defs: readonly MetricDef[], opts: { majors?: boolean } = {}): string {
  if (opts.majors) {
    const head = "| metric | type | labels | PostgreSQL | help |\n| --- | --- | --- | --- | --- |";
    const rows = defs.map(
      (d) => `| \`${d.name}\` | ${d.type} | ${labels(d)} | ${majors(d)} | ${cell(d.help + buckets(d))} |`,
    );
    return [head, ...rows].join("\n");
  }
  const head = "| metric | type | labels | help |\n| --- | --- | --- | --- |";
  const rows = defs.map((d) => `| \`${d.name}\` | ${d.type} | ${labels(d)} | ${cell(d.help + buckets(d))} |`);
  return [head, ...rows].join("\n");
}

interface Section {
  readonly collector: CollectorName;
  readonly defs: readonly MetricDef[];
  /** Whether the table says which PostgreSQL majors publish each metric. */
  readonly majors?: boolean;
}

/** One table per collector, each between the markers named after the collector (the prose is the page's). */
const sections: readonly Section[] = [
  { collector: "host", defs: hostMetrics },
  { collector: "inventory", defs: inventoryMetrics },
  { collector: "textfile", defs: textfileMetrics },
  { collector: "postgres", defs: postgresMetrics, majors: true },
  { collector: "redis", defs: redisMetrics },
  { collector: "scans", defs: scanMetrics },
  { collector: "probes", defs: probeMetrics },
  { collector: "exporter", defs: exporterMetrics },
];

export function render(): string {
  // A metric added to the catalogue outside these lists would be missing from the page: refuse.
  const listed = new Set(sections.flatMap((s) => s.defs.map((d) => d.name)));
  const missing = exporterCatalogue.filter((d) => !listed.has(d.name) || d.collector === undefined);
  if (missing.length) throw new Error(`${path}: no section for ${missing.map((d) => d.name).join(", ")}`);
  for (const s of sections)
    for (const d of s.defs)
      if (d.collector !== s.collector)
        throw new Error(`${path}: ${d.name} belongs to ${d.collector}, listed under ${s.collector}`);
  const code = (s: string) => `\`${s}\``;
  return fillFile(
    path,
    {
      ...Object.fromEntries(sections.map((s) => [s.collector, table(s.defs, { majors: s.majors })])),
      jobs: table(jobMetrics),
      api: table(apiMetrics),
      ...compatBlocks(),
      "platform-metrics": `${platformMetricNames.map(code).join(", ")}.`,
    },
    {
      named: {
        jobNames: `\`job\` is one of ${jobNames.map(code).join(", ")}.`,
        jobMetricLabel: `renamed ${code(jobMetricLabel)}`,
        "probeKinds.api": `\`kind="${probeKinds.api}"\``,
        "probeKinds.mcp": `\`kind="${probeKinds.mcp}"\``,
        probeMaxRedirects: `after at most ${probeMaxRedirects} redirects`,
        supportedPostgresMajors: `PostgreSQL ${majorList} are supported`,
      },
    },
  );
}

/** The community dashboards' metric names and their verdicts (definitions/compat.ts). */
function compatBlocks(): Record<string, string> {
  const rows = compatList();
  const dashboardName = new Map(compatDashboards.map((d) => [d.id, d.grafanaId ? `${d.grafanaId}` : d.id]));
  const sources = compatDashboards.map((d) => {
    const mine = rows.filter((r) => r.dashboards.includes(d.id));
    const published = mine.filter((r) => r.verdict.status === "published").length;
    return `| ${cell(d.title)} | ${d.grafanaId ?? ""} | [\`${d.repo}\` \`${d.path}\`](https://github.com/${d.repo}/blob/${d.commit}/${d.path}) at \`${d.commit.slice(0, 12)}\`, ${cell(d.origin)} | ${mine.length} | ${published} | ${d.samples.map((s) => cell(s.title)).join(", ")} |`;
  });
  const verdictText = (r: (typeof rows)[number]): string => {
    const v = r.verdict;
    if (v.status === "not-applicable") return `does not apply here: ${cell(v.reason)}`;
    const by =
      v.by === "prom-client" ? " (prom-client's process metrics, for the exporter's own process)" : "";
    return v.when ? `published when ${cell(v.when.when)}${by}` : `published${by}`;
  };
  const metricRows = rows.map(
    (r) =>
      `| \`${r.name}\` | ${r.dashboards.map((id) => dashboardName.get(id)).join(", ")} | ${verdictText(r)} |`,
  );
  const total = rows.length;
  const published = rows.filter((r) => r.verdict.status === "published").length;
  const byReason = new Map<string, string[]>();
  for (const [name, v] of Object.entries(seriesVerdicts))
    byReason.set(v.reason, [...(byReason.get(v.reason) ?? []), name]);
  const verdictRows = [...byReason].map(
    ([reason, names]) =>
      `| ${names
        .sort()
        .map((n) => `\`${n}\``)
        .join(", ")} | ${cell(reason)} |`,
  );
  return {
    "compat-dashboards": [
      "| dashboard | grafana.com id | source | names | published | sampled panels |",
      "| --- | --- | --- | --- | --- | --- |",
      ...sources,
      `| all, each name counted once | | | ${total} | ${published} | |`,
    ].join("\n"),
    "compat-metrics": ["| metric | dashboards | verdict |", "| --- | --- | --- |", ...metricRows].join("\n"),
    "series-verdicts": [
      "| families | the Go exporter's series left out here, and why |",
      "| --- | --- |",
      ...verdictRows,
    ].join("\n"),
  };
}

export function outputs(): Record<string, string> {
  return { [path]: render() };
}
