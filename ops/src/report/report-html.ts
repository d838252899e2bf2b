// The weekly report as a page people read: one self-contained HTML file (inline styles, inline SVG
// charts drawn here on the server, no script, no external resource), readable in a mail client, and
// the plain-text alternative of the mail. The scorecard's rows are built once (scorecardRows) and
// printed by the HTML, the Markdown and the text alike, so the three never disagree.
//
// Charts are hand-written SVG rather than a library: five line charts and a bar chart need scales, a
// path and a few labels (about 150 lines here), while the server-side SVG libraries (D3 with a DOM
// shim, Vega's node renderer, ECharts' SSR mode) bring a DOM emulation or a canvas and megabytes of
// dependency for the same six pictures, and mail clients ignore the CSS and fonts they rely on.
import { scorecardTargetSides } from "../../../definitions/scorecard.ts";
import type { Capacity, Charts, Headline, Point, Report } from "./report-model.ts";
import { headline } from "./report-model.ts";

/** How each side of a target (scorecardTargetSides) reads in the target column. */
const sideSymbol = { atLeast: "≥", above: ">", below: "<" } as const;

type Unit = "duration" | "ratio" | "count";

interface ScorecardRow {
  /** Stable key: the `data-figure` attribute of its cell in the HTML. */
  readonly key: keyof Headline;
  readonly label: string;
  readonly value: number | null;
  readonly target: string;
  readonly met: boolean | null;
  readonly unit: Unit;
  /** The same figure in the previous weeks' reports, newest first. */
  readonly previous: readonly (number | null)[];
}

/** A period's length as people say it: "7 days", "1 day", "6 hours", "15 minutes", "1.5 hours". */
export function periodLength(period: { readonly days: number; readonly seconds?: number }): string {
  const seconds = period.seconds ?? period.days * 86_400;
  const say = (n: number, unit: string) => `${Number(n.toFixed(2))} ${unit}${n === 1 ? "" : "s"}`;
  if (seconds % 86_400 === 0) return say(seconds / 86_400, "day");
  if (seconds >= 3600) return say(seconds / 3600, "hour");
  return say(seconds / 60, "minute");
}

/** What the tables call the period: "week" for the weekly report's 7 days, else "period". */
export function periodNoun(period: { readonly days: number; readonly seconds?: number }): string {
  return (period.seconds ?? period.days * 86_400) === 7 * 86_400 ? "week" : "period";
}

export function formatValue(v: number | null, unit: Unit): string {
  if (v === null) return "no data";
  if (unit === "ratio") return `${Number((v * 100).toFixed(2))}%`;
  if (unit === "count") return Number.isInteger(v) ? String(v) : v.toFixed(2);
  const s = Math.round(v);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h
    ? `${h}h ${String(m).padStart(2, "0")}m`
    : m
      ? `${m}m ${String(sec).padStart(2, "0")}s`
      : `${sec}s`;
}

export function scorecardRows(r: Report): ScorecardRow[] {
  const s = r.scorecard;
  if (!s) return [];
  const h = headline(s);
  // A report written before a figure existed has no value for it: no data, not undefined.
  const prev = (k: keyof Headline) => (r.history ?? []).map((e) => e.figures[k] ?? null);
  const row = (
    key: keyof Headline,
    label: string,
    unit: Unit,
    target: string,
    met: boolean | null,
  ): ScorecardRow => ({ key, label, value: h[key], target, met, unit, previous: prev(key) });
  // The target as `≥ 99.9%`, on the side definitions/scorecard.ts scorecardTargetSides gives.
  const t = (key: keyof typeof scorecardTargetSides, f: { target: number }, unit: Unit) =>
    `${sideSymbol[scorecardTargetSides[key]]} ${formatValue(f.target, unit)}`;
  const earlier = (r.history ?? []).map((e) => e.figures.mean_recovery_seconds).filter((v) => v !== null);
  const decreasing =
    h.mean_recovery_seconds === null || earlier.length === 0
      ? null
      : h.mean_recovery_seconds < earlier.reduce((a, b) => a + b, 0) / earlier.length;
  return [
    row(
      "uptime",
      "Uptime (API availability)",
      "ratio",
      t("uptimeRatio", s.uptime.availability, "ratio"),
      s.uptime.availability.met,
    ),
    row(
      "uptime_30d",
      "Uptime over 30 days (the SLO)",
      "ratio",
      t("uptimeRatio", s.uptime.availability_30d, "ratio"),
      s.uptime.availability_30d.met,
    ),
    row(
      "mean_recovery_seconds",
      "Mean time to recovery",
      "duration",
      t("meanTimeToRecoverySeconds", s.recovery.mean_seconds, "duration"),
      s.recovery.mean_seconds.met,
    ),
    row("p90_recovery_seconds", "p90 time to recovery", "duration", "mean below previous weeks'", decreasing),
    row(
      "mean_response_seconds",
      "Mean alert response",
      "duration",
      `${t("alertResponseSeconds", s.response.mean_seconds, "duration")}, none missed`,
      s.response.mean_seconds.met,
    ),
    // Each alert never acknowledged is a missed response (docs/operations/scorecard.md).
    row(
      "never_acknowledged_share",
      "Alerts never acknowledged",
      "ratio",
      "none",
      s.response.alerts ? s.response.missed === 0 : null,
    ),
    row(
      "backup_success_rate_30d",
      "Backup success rate (30 days)",
      "ratio",
      t("backupSuccessRatio", s.backups.success_rate_30d, "ratio"),
      s.backups.success_rate_30d.met,
    ),
    row(
      "automated_share",
      "Automated share of ops runs",
      "ratio",
      t("automatedShareRatio", s.automation.automated_share, "ratio"),
      s.automation.automated_share.met,
    ),
    row(
      "manual_interventions_30d",
      "Manual interventions (30 days)",
      "count",
      t("manualInterventions30d", s.interventions.total_30d, "count"),
      s.interventions.total_30d.met,
    ),
    row(
      "documentation_coverage",
      "Documentation coverage",
      "ratio",
      t("documentationCoverageRatio", s.documentation.coverage, "ratio"),
      s.documentation.coverage.met,
    ),
  ];
}

const esc = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const metText = (m: boolean | null) => (m === null ? "–" : m ? "met" : "missed");

/** The scorecard as plain text lines (the mail's text part and the Markdown use it). */
function scorecardText(r: Report): string[] {
  return scorecardRows(r).map(
    (x) =>
      `${x.label}: ${formatValue(x.value, x.unit)} (target ${x.target}: ${metText(x.met)})` +
      (x.previous.length
        ? `; previous weeks ${x.previous.map((v) => formatValue(v, x.unit)).join(", ")}`
        : ""),
  );
}

// ------------------------------------------------------------------ charts

const W = 640;
const H = 200;
const PAD = { left: 64, right: 16, top: 16, bottom: 28 };

interface Line {
  readonly name: string;
  readonly color: string;
  readonly points: readonly Point[];
}

const colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"];
const dateLabel = (t: number) => new Date(t * 1000).toISOString().slice(5, 16).replace("T", " ");

/** A line chart of series over [from, to] (unix seconds); y from 0 to the maximum (1 for ratios). */
function lineChart(
  id: string,
  title: string,
  lines: readonly Line[],
  from: number,
  to: number,
  yFormat: (v: number) => string,
  yMax?: number,
): string {
  const all = lines.flatMap((l) => l.points.map(([, v]) => v));
  const top = yMax ?? (Math.max(0, ...all) * 1.1 || 1);
  const x = (t: number) => PAD.left + ((t - from) / Math.max(1, to - from)) * (W - PAD.left - PAD.right);
  const y = (v: number) => H - PAD.bottom - (v / top) * (H - PAD.top - PAD.bottom);
  const parts: string[] = [];
  for (const f of [0, 0.5, 1]) {
    const v = top * f;
    parts.push(
      `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#ddd"/>`,
      `<text x="${PAD.left - 6}" y="${(y(v) + 4).toFixed(1)}" font-size="11" text-anchor="end" fill="#555">${esc(yFormat(v))}</text>`,
    );
  }
  parts.push(
    `<text x="${PAD.left}" y="${H - 8}" font-size="11" fill="#555">${dateLabel(from)}</text>`,
    `<text x="${W - PAD.right}" y="${H - 8}" font-size="11" text-anchor="end" fill="#555">${dateLabel(to)}</text>`,
  );
  lines.forEach((l) => {
    if (l.points.length === 0) return;
    // A line of one point (a success rate on the one day of the period with scans) would be a bare
    // move-to, which draws nothing: a zero-length segment with round caps draws it as a dot.
    const points = l.points.length === 1 ? [l.points[0]!, l.points[0]!] : l.points;
    const d = points
      .map(([t, v], i) => `${i ? "L" : "M"}${x(t).toFixed(1)} ${y(Math.min(v, top)).toFixed(1)}`)
      .join(" ");
    parts.push(
      `<path d="${d}" fill="none" stroke="${l.color}" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" data-series="${esc(l.name)}"/>`,
    );
  });
  if (all.length === 0)
    parts.push(
      `<text x="${W / 2}" y="${H / 2}" font-size="13" text-anchor="middle" fill="#888">no data</text>`,
    );
  const legend = lines
    .map((l) => `<span style="color:${l.color};font-weight:bold">&#9632;</span> ${esc(l.name)}`)
    .join(" &nbsp; ");
  return figure(id, title, parts.join(""), legend);
}

/** A bar chart: one bar per label, stacked parts. */
export function barChart(
  id: string,
  title: string,
  bars: readonly {
    label: string;
    /** The text under the bar (the date without its year for a day). */
    tick: string;
    parts: readonly { name: string; value: number; color: string }[];
  }[],
): string {
  const top = Math.max(1, ...bars.map((b) => b.parts.reduce((a, p) => a + p.value, 0))) * 1.1;
  const slot = (W - PAD.left - PAD.right) / Math.max(1, bars.length);
  const y = (v: number) => H - PAD.bottom - (v / top) * (H - PAD.top - PAD.bottom);
  const out: string[] = [
    `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y(0)}" y2="${y(0)}" stroke="#999"/>`,
    `<text x="${PAD.left - 6}" y="${y(top / 1.1) + 4}" font-size="11" text-anchor="end" fill="#555">${Math.round(top / 1.1)}</text>`,
  ];
  // A tick text is about 35 px wide: under every bar up to 12 bars, under every 2nd of 13-24, ...
  const tickEvery = Math.ceil(bars.length / 12);
  bars.forEach((b, i) => {
    let base = 0;
    const x0 = PAD.left + i * slot + slot * 0.15;
    for (const p of b.parts) {
      if (p.value <= 0) continue;
      const y1 = y(base + p.value);
      const y0 = y(base);
      // A path, not a rect, so every chart is drawn with paths alike.
      out.push(
        `<path d="M${x0.toFixed(1)} ${y0.toFixed(1)} V${y1.toFixed(1)} H${(x0 + slot * 0.7).toFixed(1)} V${y0.toFixed(1)} Z" fill="${p.color}" data-series="${esc(p.name)}"><title>${esc(`${b.label} ${p.name}: ${p.value}`)}</title></path>`,
      );
      base += p.value;
    }
    if (i % tickEvery === 0)
      out.push(
        `<text x="${(x0 + slot * 0.35).toFixed(1)}" y="${H - 8}" font-size="11" text-anchor="middle" fill="#555" data-tick="">${esc(b.tick)}</text>`,
      );
  });
  const legend = (bars[0]?.parts ?? [])
    .map((p) => `<span style="color:${p.color};font-weight:bold">&#9632;</span> ${esc(p.name)}`)
    .join(" &nbsp; ");
  return figure(id, title, out.join(""), legend);
}

function figure(id: string, title: string, body: string, legend: string): string {
  return `<div style="margin:16px 0">
<h3 style="font-size:15px;margin:0 0 4px">${esc(title)}</h3>
<svg id="${id}" data-chart="${id}" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}" style="max-width:100%;height:auto;background:#fff">${body}</svg>
<div style="font-size:12px;color:#333">${legend}</div>
</div>`;
}

const pct = (v: number) => `${Math.round(v * 100)}%`;
const bytes = (v: number) => {
  const u = ["B", "kB", "MB", "GB", "TB"];
  let i = 0;
  while (Math.abs(v) >= 1000 && i < u.length - 1) {
    v /= 1000;
    i++;
  }
  return `${Number(v.toFixed(1))} ${u[i]}`;
};
const seconds = (v: number) => (v < 1 ? `${Math.round(v * 1000)} ms` : `${v.toFixed(1)} s`);

function capacityCharts(kind: "fs" | "db", title: string, cs: readonly Capacity[], from: number, to: number) {
  const chart = lineChart(
    `capacity-${kind}`,
    title,
    cs.map((c, i) => ({ name: c.name, color: colors[i % colors.length]!, points: c.used_bytes })),
    from,
    to,
    bytes,
  );
  const rows = cs
    .map(
      (c) =>
        `<tr><td style="padding:2px 8px">${esc(c.name)}</td><td style="padding:2px 8px" data-capacity="${kind}:${esc(c.name)}:growth">${c.growth_bytes_per_day === null ? "no data" : `${bytes(c.growth_bytes_per_day)}/day`}</td><td style="padding:2px 8px">${c.free_bytes === null ? "no data" : bytes(c.free_bytes)}</td><td style="padding:2px 8px" data-capacity="${kind}:${esc(c.name)}:fills">${c.fills_at ? c.fills_at.slice(0, 10) : "not at this trend"}</td></tr>`,
    )
    .join("");
  return `${chart}<table style="border-collapse:collapse;font-size:13px"><tr><th style="text-align:left;padding:2px 8px">${kind === "fs" ? "mount point" : "database"}</th><th style="text-align:left;padding:2px 8px">growth</th><th style="text-align:left;padding:2px 8px">free</th><th style="text-align:left;padding:2px 8px">full on</th></tr>${rows}</table>`;
}

/**
 * The scans charts' bars: per day, or per interval when the report has them (a period under a day).
 * A bar's `middle` (where the success-rate line puts its point) is the middle of the part of its day or
 * interval inside the period: the first and last days of a period that starts or ends mid-day are
 * partial, and their calendar noon can lie outside the chart (a report made at 19:30 drew its first
 * point left of the frame).
 */
function scanBars(
  c: Charts,
  from: number,
  to: number,
): {
  per: string;
  bars: { label: string; tick: string; middle: number; total: number; successful: number; failed: number }[];
} {
  const i = c.scans_per_interval;
  if (i) {
    const minutes = i.bucket_seconds / 60;
    return {
      per:
        minutes === 1
          ? "minute"
          : minutes < 60
            ? `${minutes} minutes`
            : minutes === 60
              ? "hour"
              : `${minutes / 60} hours`,
      bars: i.buckets.map((b) => ({
        ...b,
        label: b.start.slice(0, 16).replace("T", " "),
        tick: b.start.slice(11, 16),
        middle: inside(Date.parse(b.start) / 1000, i.bucket_seconds, from, to),
      })),
    };
  }
  return {
    per: "day",
    bars: c.scans_per_day.map((d) => ({
      ...d,
      label: d.date,
      tick: d.date.slice(5),
      middle: inside(Date.parse(`${d.date}T00:00:00Z`) / 1000, 86_400, from, to),
    })),
  };
}

/** The middle of [start, start + seconds) cut to the period [from, to] (unix seconds). */
function inside(start: number, seconds: number, from: number, to: number): number {
  const a = Math.max(start, from);
  const b = Math.min(start + seconds, to);
  return a <= b ? (a + b) / 2 : Math.min(Math.max(start + seconds / 2, from), to);
}

function charts(c: Charts, from: number, to: number): string {
  const { per, bars } = scanBars(c, from, to);
  const rate = bars
    .filter((d) => d.successful + d.failed > 0)
    .map((d): Point => [d.middle, d.successful / (d.successful + d.failed)]);
  return [
    barChart(
      "scans-per-day",
      `Scans finished per ${per}`,
      bars.map((d) => ({
        label: d.label,
        tick: d.tick,
        parts: [
          { name: "successful", value: d.successful, color: "#2ca02c" },
          { name: "failed", value: d.failed, color: "#d62728" },
          { name: "other", value: d.total - d.successful - d.failed, color: "#999" },
        ],
      })),
    ),
    lineChart(
      "success-rate",
      `Scan success rate per ${per}`,
      [{ name: "success rate", color: colors[2]!, points: rate }],
      from,
      to,
      pct,
      1,
    ),
    lineChart(
      "api-p95",
      "API p95 response time",
      [{ name: "p95", color: colors[0]!, points: c.api_p95_seconds }],
      from,
      to,
      seconds,
    ),
    lineChart(
      "api-errors",
      "API error rate (5xx)",
      [{ name: "error rate", color: colors[1]!, points: c.api_error_rate }],
      from,
      to,
      pct,
    ),
    lineChart(
      "cpu-memory",
      "CPU busy and memory used",
      [
        { name: "CPU", color: colors[0]!, points: c.cpu_ratio },
        { name: "memory", color: colors[3]!, points: c.memory_ratio },
      ],
      from,
      to,
      pct,
      1,
    ),
    capacityCharts("fs", "Disk used by filesystem", c.filesystems, from, to),
    capacityCharts("db", "Database size", c.database, from, to),
  ].join("\n");
}

export function renderHtml(r: Report, performanceRows: readonly [string, string, string, string][]): string {
  const from = Date.parse(r.period.start) / 1000;
  const to = Date.parse(r.period.end) / 1000;
  const th = (s: string) =>
    `<th style="text-align:left;padding:4px 8px;border-bottom:1px solid #999">${s}</th>`;
  const td = (s: string, attrs = "") =>
    `<td style="padding:4px 8px;border-bottom:1px solid #eee"${attrs}>${s}</td>`;
  const rows = scorecardRows(r);
  const noun = periodNoun(r.period);
  const weeks = Math.max(0, ...rows.map((x) => x.previous.length));
  const scorecard = rows.length
    ? `<table style="border-collapse:collapse;font-size:14px">
<tr>${th("Metric")}${th(`This ${noun}`)}${th("Target")}${th("")}${Array.from({ length: weeks }, (_, i) => th(i === 0 ? `Last ${noun}` : `${i + 1} ${noun}s ago`)).join("")}</tr>
${rows
  .map(
    (x) =>
      `<tr>${td(esc(x.label))}${td(esc(formatValue(x.value, x.unit)), ` data-figure="${x.key}" data-value="${x.value ?? ""}"`)}${td(esc(x.target))}${td(
        metText(x.met),
        ` style="padding:4px 8px;border-bottom:1px solid #eee;font-weight:bold;color:${x.met === null ? "#555" : x.met ? "#2ca02c" : "#d62728"}"`,
      )}${x.previous.map((v) => td(esc(formatValue(v, x.unit)))).join("")}</tr>`,
  )
  .join("\n")}
</table>`
    : "<p>No scorecard in this report.</p>";
  const s = r.scorecard;
  const incidents = s?.incidents.length
    ? `<table style="border-collapse:collapse;font-size:13px"><tr>${th("Alert")}${th("Severity")}${th("Fired")}${th("Resolved")}${th("Recovery")}${th("Response")}</tr>${s.incidents
        .map(
          (i) =>
            `<tr>${td(esc(i.alertname))}${td(esc(i.severity))}${td(i.fired_at.slice(0, 16).replace("T", " "))}${td(i.resolved_at ? i.resolved_at.slice(0, 16).replace("T", " ") : "still firing")}${td(formatValue(i.recovery_seconds, "duration"))}${td(i.response_seconds === null ? "never acknowledged" : formatValue(i.response_seconds, "duration"))}</tr>`,
        )
        .join("")}</table>`
    : `<p>No incident this ${noun}.</p>`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Kali Agents weekly report ${esc(r.period.end.slice(0, 10))}</title>
</head>
<body style="margin:0;padding:16px;font-family:Arial,Helvetica,sans-serif;color:#222;background:#fafafa">
<div style="max-width:680px;margin:0 auto;background:#fff;padding:16px">
<h1 style="font-size:20px;margin:0 0 4px">Kali Agents weekly report</h1>
<p style="margin:0 0 12px;color:#555">${esc(r.period.start.slice(0, 16).replace("T", " "))} to ${esc(r.period.end.slice(0, 16).replace("T", " "))} UTC (${esc(periodLength(r.period))})</p>
<h2 style="font-size:17px">Operations scorecard</h2>
${scorecard}
<h2 style="font-size:17px">Incidents</h2>
${incidents}
<h2 style="font-size:17px">Performance</h2>
<table style="border-collapse:collapse;font-size:14px"><tr>${th("Figure")}${th(`This ${noun}`)}${th(`Previous ${noun}`)}${th("Change")}</tr>
${performanceRows.map(([a, b, c, d]) => `<tr>${td(esc(a))}${td(esc(b))}${td(esc(c))}${td(esc(d))}</tr>`).join("\n")}
</table>
<h2 style="font-size:17px">Charts</h2>
${r.charts ? charts(r.charts, from, to) : "<p>No chart data in this report.</p>"}
<p style="font-size:12px;color:#777">Definitions of every figure: docs/operations/scorecard.md. Generated by <code>ops report</code>.</p>
</div>
</body>
</html>
`;
}

/** The mail's plain-text alternative: the same figures as the page, without the charts. */
export function renderText(r: Report, performanceRows: readonly [string, string, string, string][]): string {
  const s = r.scorecard;
  return [
    `Kali Agents weekly report`,
    `${r.period.start} to ${r.period.end} (${periodLength(r.period)}, UTC)`,
    ``,
    `Operations scorecard`,
    ...scorecardText(r).map((l) => `- ${l}`),
    ``,
    `Incidents`,
    ...(s?.incidents.length
      ? s.incidents.map(
          (i) =>
            `- ${i.alertname} (${i.severity}) fired ${i.fired_at}, ${i.resolved_at ? `resolved after ${formatValue(i.recovery_seconds, "duration")}` : "still firing"}, ${i.response_seconds === null ? "never acknowledged" : `acknowledged after ${formatValue(i.response_seconds, "duration")}`}`,
        )
      : ["- none"]),
    ``,
    `Performance (this ${periodNoun(r.period)}; previous ${periodNoun(r.period)}; change)`,
    ...performanceRows.map(([a, b, c, d]) => `- ${a}: ${b}${c ? `; ${c}` : ""}${d ? `; ${d}` : ""}`),
    ``,
    `The charts are in the HTML version of this mail. Definitions: docs/operations/scorecard.md.`,
    ``,
  ].join("\n");
}
