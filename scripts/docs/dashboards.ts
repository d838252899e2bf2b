// docs/dashboards.md: how the dashboards are made and provisioned (the prose, written in the Markdown
// file), and between its markers the index of dashboards and a reference of every panel, written here
// from the built dashboards so the reference never drifts from what Grafana shows; and the layout
// pictures under dashboards/layout/. A row in scripts/generators.ts; test/drift.test.ts fails when a
// committed file differs.
import type { Panel, RowPanel } from "@grafana/grafana-foundation-sdk/dashboard";
import { heartbeatAlert, runbookBaseUrl } from "../../definitions/rules.ts";
import { datasourceUids, jobMetricLabel } from "../../definitions/selectors.ts";
import { folders } from "../../dashboards/src/common.ts";
import { commonTag, dashboards, defaults, type GeneratedDashboard } from "../../dashboards/src/index.ts";
import { usesJobMetrics } from "../../dashboards/src/queries.ts";
import { fillFile } from "./markers.ts";

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
  const index = [
    "| Dashboard | Folder | UID | What it shows |",
    "| --- | --- | --- | --- |",
    ...dashboards.map(
      (d) =>
        `| [${d.json.title}](#${anchor(d.json.title ?? "")}) | ${folders[d.folder]} | \`${d.json.uid}\` | ${cell(d.json.description ?? "")} |`,
    ),
  ];
  const panels: string[] = [];
  for (const d of dashboards) {
    if (panels.length) panels.push("");
    panels.push(
      `### ${d.json.title}`,
      "",
      `${d.json.description ?? ""} UID \`${d.json.uid}\`, file \`${d.path}\`.`,
      "",
      `![Layout of ${d.json.title}](../${layoutPath(d.name)})`,
    );
    panels.push(...panelTable(d));
  }
  return fillFile(
    docPath,
    {
      dashboards: index.join("\n"),
      folders: `${Object.values(folders)
        .map((f) => `**${f}**`)
        .join(", ")}.`,
      panels: panels.join("\n"),
    },
    {
      named: {
        commonTag: `tags (\`${commonTag}\` and the area's)`,
        "defaults.refresh": `refresh ${defaults.refresh}`,
        "defaults.time": `time range ${defaults.time.from} to ${defaults.time.to}`,
        "defaults.timezone": `timezone ${defaults.timezone}`,
        "datasourceUids.prometheus": `(Prometheus, default \`${datasourceUids.prometheus}\`)`,
        "datasourceUids.loki": `(Loki, default \`${datasourceUids.loki}\`)`,
        heartbeatAlert: `(the ${heartbeatAlert} heartbeat aside)`,
        jobMetricLabel: `the job's name in \`${jobMetricLabel}\``,
      },
    },
  );
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
