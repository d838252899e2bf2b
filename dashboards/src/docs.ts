// docs/dashboards.md: how the dashboards are made and provisioned, and a reference of every panel,
// generated from the built dashboards so the reference never drifts from what Grafana shows.
import type { Panel, RowPanel } from "@grafana/grafana-foundation-sdk/dashboard";
import { heartbeatAlert, runbookBaseUrl } from "../../definitions/rules.ts";
import { datasourceUids, jobMetricLabel } from "../../definitions/selectors.ts";
import { folders } from "./common.ts";
import { commonTag, dashboards, defaults, type GeneratedDashboard } from "./index.ts";
import { usesJobMetrics } from "./queries.ts";

export const docPath = "docs/dashboards.md";

const cell = (s: string): string => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

function panelTable(d: GeneratedDashboard): string[] {
  const lines: string[] = [];
  for (const p of d.json.panels ?? []) {
    if (p.type === "row") {
      lines.push(
        "",
        `**${p.title}**`,
        "",
        "| Panel | Type | Unit | What it shows | Runbooks |",
        "| --- | --- | --- | --- | --- |",
      );
      for (const inner of (p as RowPanel).panels ?? []) lines.push(row(inner as Panel));
      continue;
    }
    lines.push(row(p as Panel));
  }
  return lines;
}

function row(p: Panel): string {
  const links = (p.fieldConfig?.defaults?.links ?? [])
    .filter((l) => l.url?.startsWith(runbookBaseUrl))
    .map((l) => {
      const alert = (l.url ?? "").slice(runbookBaseUrl.length + 1).replace(/\.md$/, "");
      return `[${alert}](runbooks/${alert}.md)`;
    });
  const exprs = ((p.targets ?? []) as { expr?: string }[]).map((t) => t.expr ?? "");
  const jobNote = exprs.some(usesJobMetrics) ? " *(empty until the operations jobs have run)*" : "";
  return `| ${cell(p.title ?? "")} | ${p.type} | ${p.fieldConfig?.defaults?.unit ?? "-"} | ${cell(p.description ?? "")}${jobNote} | ${links.join(", ")} |`;
}

export function render(): string {
  const out: string[] = [
    "<!-- DO NOT EDIT: generated from dashboards/src/docs.ts and the dashboards by `npm run generate`. -->",
    "",
    "# Dashboards",
    "",
    "Grafana dashboards for Kali Agents, written in TypeScript with",
    "[`@grafana/grafana-foundation-sdk`](https://github.com/grafana/grafana-foundation-sdk) 0.0.21, generated to",
    "JSON under `dashboards/generated/<folder>/<name>.json` and provisioned read-only, with the datasources,",
    "so `docker compose up` shows them with no clicks.",
    "",
    "| Dashboard | Folder | UID | What it shows |",
    "| --- | --- | --- | --- |",
    ...dashboards.map(
      (d) =>
        `| [${d.json.title}](#${anchor(d.json.title ?? "")}) | ${folders[d.folder]} | \`${d.json.uid}\` | ${cell(d.json.description ?? "")} |`,
    ),
    "",
    "Every dashboard links to all the others (the **Kali Agents** menu at the top, keeping the time range",
    "and variables). Panels whose figure an alert watches link to that alert's runbook; the API error",
    "panels link to the Logs dashboard and the log-volume panels back to the metric dashboards.",
    "",
    "## How they are made",
    "",
    "- `dashboards/src/common.ts` holds the panel factories (`timeseries`, `stat`, `gauge`, `table`,",
    "  `histogramHeatmap`, `logsPanel`). Each takes the title, description, unit and queries together, so a",
    "  panel without them does not compile, and each call makes new SDK builders: a builder shared by two",
    "  dashboards would move its panel from one to the other.",
    "- One file per dashboard (`overview.ts`, `scans.ts`, `api-slo.ts`, `logs.ts`, `host.ts`, `postgres.ts`,",
    "  `redis.ts`, `operations.ts`) holds the small factories of its area and the layout; the overview reuses",
    "  the other files' factories.",
    '- Metric names are typed: `series("pg_up", ...)` (lib/promql.ts) only compiles with a name from the',
    "  catalogue (`definitions/metrics/`), so renaming a metric breaks the build where a panel uses it.",
    "  Selectors, thresholds, SLO windows, recording rule names, log labels and datasource UIDs come from",
    "  `definitions/` (`selectors.ts`, `thresholds.ts`, `slo.ts`, `logs.ts`), which the Prometheus and Loki",
    "  rules import too. Thresholds become the panels' threshold steps (dashed lines on graphs), so the",
    "  panel shows where the alert fires. A quantity an alert and a panel both compare with a threshold",
    "  (CPU busy, connections used, ...) is one function of `lib/signals.ts`, called by both.",
    "- `rate()` and `increase()` always use `$__rate_interval` (`rate()` helper); Loki queries use",
    "  `$__interval`.",
    `- \`dashboards/src/index.ts\` applies one defaults pass to every dashboard after building it: UID`,
    `  \`kali-<file name>\`, tags (\`${commonTag}\` and the area's), refresh ${defaults.refresh}, time range`,
    `  ${defaults.time.from} to ${defaults.time.to}, timezone ${defaults.timezone}, read-only, panel ids, the`,
    `  links, and two datasource variables: \`$datasource\` (Prometheus, default \`${datasourceUids.prometheus}\`)`,
    `  and \`$loki_datasource\` (Loki, default \`${datasourceUids.loki}\`). Panels reference only the variables.`,
    `  An annotation marks every firing alert (the ${heartbeatAlert} heartbeat aside) on every graph, red, titled`,
    "  by the alert's name.",
    "",
    "## Changing a dashboard",
    "",
    "1. Edit the TypeScript in `dashboards/src/` (a new dashboard: a new file exporting `dashboard`, and a",
    "   line in `modules` in `index.ts`).",
    "2. `npm run generate` rewrites `dashboards/generated/` and this page.",
    "3. `node scripts/run-tests.mjs dashboards/ test/drift` runs the checks below; commit the TypeScript and",
    "   the generated files together (CI fails when they disagree).",
    "",
    "Editing a dashboard in Grafana's UI cannot be saved (provisioned, `allowUiUpdates: false`): export",
    "the JSON to see what changed, then make the change in TypeScript.",
    "",
    "## What the tests prove",
    "",
    "- `dashboards/test/queries.test.ts`: every PromQL expression parses with `@prometheus-io/lezer-promql`",
    "  and every LogQL expression with `@grafana/lezer-logql` (Grafana variables substituted); a real",
    "  Prometheus (started from the binary) accepts every PromQL expression, which also type-checks it;",
    "  every metric name is in the catalogue, the job-metric or API contract, `platformMetricNames`, or a",
    "  recording rule that `prometheus/rules` defines; every Loki label a query selects or groups on is one",
    "  `promtail/promtail.yaml` attaches (read from the file); every runbook link names a defined alert.",
    "- `dashboards/test/lint.test.ts`, in the spirit of grafana/dashboard-linter: titles, descriptions,",
    "  units and threshold steps everywhere, only the datasource variables, `$__rate_interval` in every",
    "  rate, refIds, unique panel ids and titles, no empty rows, no overlapping panels, the defaults pass",
    "  applied, unique UIDs, deterministic JSON. Each rule is also run on a broken copy to show it fails.",
    "- `dashboards/test/provisioning.test.ts`: the provisioning YAML parses, the datasources carry the UIDs",
    "  from `definitions`, every UID a dashboard references is provisioned, one read-only provider per",
    "  folder, and nothing stale in `dashboards/generated/`.",
    "- The end-to-end test runs every PromQL panel query (`allPromQueries()` in `dashboards/src/queries.ts`)",
    "  against a real Prometheus scraping the exporter and the demo workload.",
    "",
    "## Provisioning",
    "",
    "| file | mount it at | what it does |",
    "| --- | --- | --- |",
    "| `dashboards/provisioning/datasources/datasources.yaml` | `/etc/grafana/provisioning/datasources` | Prometheus (`http://prometheus:9090`), Loki (`http://loki:3100`) and Alertmanager (`http://alertmanager:9093`, Prometheus implementation) with fixed UIDs; `prune: true` |",
    "| `dashboards/provisioning/dashboards/dashboards.yaml` | `/etc/grafana/provisioning/dashboards` | one file provider per folder, read-only |",
    "| `dashboards/generated/` | `/etc/grafana/dashboards` | the dashboards, one directory per folder |",
    "",
    "Folders: " +
      Object.values(folders)
        .map((f) => `**${f}**`)
        .join(", ") +
      ".",
    "",
    "The Prometheus datasource's `timeInterval` is the scrape interval (15s, `prometheus/prometheus.yml`):",
    "Grafana derives `$__rate_interval` from it. For another deployment (Kubernetes with Grafana's sidecar,",
    "another Prometheus URL), change the URLs in the datasources file; the dashboards stay the same since",
    "they only reference the datasource UIDs through their variables.",
    "",
    "## Panels with no data on a fresh stack",
    "",
    `- Panels on the job-metric contract (backups, verification, DR drill, cleanup, jobs) stay empty until`,
    `  the operations jobs have run once. Job metrics carry the job's name in \`${jobMetricLabel}\` after`,
    "  scraping (Prometheus keeps its own `job` label for the scrape job).",
    "- **Memory used of maxmemory** (Redis) is empty when Redis has no `maxmemory`: the ratio means nothing then.",
    "- The error panels of the API are empty while the API has answered no 5xx.",
    "",
    "## Panel reference",
  ];
  for (const d of dashboards) {
    out.push(
      "",
      `### ${d.json.title}`,
      "",
      `${d.json.description ?? ""} UID \`${d.json.uid}\`, file \`${d.path}\`.`,
      "",
      `![Layout of ${d.json.title}](../${layoutPath(d.name)})`,
    );
    out.push(...panelTable(d));
  }
  return `${out.join("\n")}\n`;
}

const anchor = (title: string): string =>
  title
    .toLowerCase()
    .replace(/[^a-z0-9 -]/g, "")
    .replace(/ /g, "-");

export function outputs(): Record<string, string> {
  const out: Record<string, string> = { [docPath]: render() };
  for (const d of dashboards) out[layoutPath(d.name)] = layoutSvg(d);
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Layout wireframes: what each dashboard looks like, drawn from the panels' grid positions, for a
// review without a Grafana at hand (the tests cannot run one). Not a rendering of the data.

const col = 40;
const unit = 24;
const typeColour: Record<string, string> = {
  stat: "#e8f4ea",
  gauge: "#e8f4ea",
  timeseries: "#e6eef9",
  heatmap: "#fdf0e2",
  table: "#f1ecf8",
  logs: "#f4f4f4",
  row: "#ffffff",
};

const escapeXml = (s: string): string =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

export const layoutPath = (name: string): string => `dashboards/layout/${name}.svg`;

export function layoutSvg(d: GeneratedDashboard): string {
  const panels = (d.json.panels ?? []).flatMap((p) => [p, ...((p as RowPanel).panels ?? [])]);
  const height = Math.max(...panels.map((p) => (p.gridPos ? p.gridPos.y + p.gridPos.h : 0))) * unit + 40;
  const width = 24 * col;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    `<!-- DO NOT EDIT: generated from dashboards/src by npm run generate. A wireframe of ${escapeXml(d.json.title ?? "")}. -->`,
    `<rect width="${width}" height="${height}" fill="#fafafa"/>`,
    `<text x="8" y="24" font-size="16" font-weight="bold">${escapeXml(d.json.title ?? "")}</text>`,
  ];
  for (const p of panels) {
    const g = p.gridPos;
    if (!g) continue;
    const x = g.x * col;
    const y = g.y * unit + 40;
    const w = g.w * col;
    const h = g.h * unit;
    if (p.type === "row") {
      parts.push(
        `<text x="${x + 4}" y="${y + 17}" font-size="14" font-weight="bold" fill="#333">▾ ${escapeXml(p.title ?? "")}</text>`,
        `<line x1="${x}" y1="${y + h - 1}" x2="${x + w}" y2="${y + h - 1}" stroke="#999"/>`,
      );
      continue;
    }
    const unitName = (p as Panel).fieldConfig?.defaults?.unit;
    parts.push(
      `<rect x="${x + 2}" y="${y + 2}" width="${w - 4}" height="${h - 4}" rx="3" fill="${typeColour[p.type] ?? "#fff"}" stroke="#bbb"/>`,
      `<text x="${x + 8}" y="${y + 18}" font-size="12" font-weight="bold">${escapeXml(p.title ?? "")}</text>`,
      `<text x="${x + 8}" y="${y + 34}" font-size="10" fill="#666">${escapeXml(`${p.type}${unitName ? ` · ${unitName}` : ""}`)}</text>`,
    );
  }
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}
