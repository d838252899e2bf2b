// Extracts every metric name the community dashboards query, and a sample of their panels' queries,
// from the dashboards' JSON in their public repositories, and writes
// definitions/generated/compat-dashboards.ts (names, sampled queries and the source revision only: the
// dashboards themselves are not copied).
//
// Run by hand, against local git clones (or bare mirrors) of the source repositories; never in the
// tests, which cannot reach the network:
//
//   npx tsx scripts/compat-extract.ts \
//     rfmoz/grafana-dashboards=/path/to/grafana-dashboards/.git \
//     prometheus-community/postgres_exporter=/path/to/postgres_exporter/.git \
//     lstn/misc-grafana-dashboards=/path/to/misc-grafana-dashboards/.git \
//     oliver006/redis_exporter=/path/to/redis_exporter/.git
//
// Each file is read at the clone's HEAD (`git show HEAD:<path>`) and HEAD's commit is recorded, so the
// list can be regenerated from exactly the same text. After a run, give every new name a verdict in
// definitions/compat.ts (test/compat-list.test.ts fails until each has one).
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import type { SyntaxNode } from "@lezer/common";
import { parser } from "@prometheus-io/lezer-promql";

interface Source {
  readonly id: string;
  readonly title: string;
  /** The dashboard's id on grafana.com, when it is published there. */
  readonly grafanaId?: number;
  readonly repo: string;
  readonly path: string;
  /** Whose copy the file is: the publisher's own, or a faithful copy (and how that was established). */
  readonly origin: string;
  /** Panels (by title) whose queries the tests run against a real Prometheus scraping our exporter. */
  readonly samplePanels: readonly string[];
}

const sources: readonly Source[] = [
  {
    id: "node-exporter-full",
    title: "Node Exporter Full",
    grafanaId: 1860,
    repo: "rfmoz/grafana-dashboards",
    path: "prometheus/node-exporter-full.json",
    origin: "the publisher's repository",
    samplePanels: [
      "CPU Basic",
      "Memory Basic",
      "Network Traffic Basic",
      "Disk IOps",
      "Disk Throughput",
      "File Descriptor",
      "Context Switches / Interrupts",
    ],
  },
  {
    id: "postgres-overview",
    title: "Postgres Overview (postgres_exporter's mixin)",
    grafanaId: 455,
    repo: "prometheus-community/postgres_exporter",
    path: "postgres_mixin/dashboards/postgres-overview.json",
    origin: "the publisher's repository",
    samplePanels: ["QPS", "Rows", "Buffers", "Cache hit ratio", "Number of active connections"],
  },
  {
    id: "postgresql-database-9628",
    title: "PostgreSQL Database",
    grafanaId: 9628,
    repo: "lstn/misc-grafana-dashboards",
    path: "dashboards/postgresql-database.json",
    origin: "the publisher's repository (its README links this file as grafana.com's 9628)",
    samplePanels: [
      "Version",
      "Max Connections",
      "Shared Buffers",
      "Random Page Cost",
      "Average CPU Usage",
      "Transactions",
      "Cache Hit Rate",
      "Checkpoint Stats",
    ],
  },
  {
    id: "redis-exporter-763",
    title: "Redis Dashboard for Prometheus Redis Exporter 1.x",
    grafanaId: 763,
    repo: "oliver006/redis_exporter",
    path: "contrib/grafana_prometheus_redis_dashboard.json",
    origin: "the publisher's repository",
    samplePanels: [
      "Max Uptime",
      "Total Commands / sec",
      "Network I/O",
      "Average Time Spent by Command / sec",
    ],
  },
  {
    id: "redis-mixin-overview",
    title: "Redis Overview (redis_exporter's mixin)",
    repo: "oliver006/redis_exporter",
    path: "contrib/redis-mixin/dashboards/redis-overview.json",
    origin: "the publisher's repository",
    samplePanels: [
      "Commands per second",
      "Total Memory Usage",
      "Memory fragmentation ratio per instance",
      "Connected slaves by instance",
    ],
  },
];

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
interface Panel {
  title?: string;
  targets?: { expr?: string; hide?: boolean }[];
  panels?: Panel[];
}

/** Grafana's variables replaced by something that parses; only the metric names are read. */
export function forParsing(expr: string): string {
  return expr
    .replace(/\$__(rate_interval|interval|range)\b/g, "1m")
    .replace(/\$__\w+/g, "1")
    .replace(/\[\[(\w+)(:\w+)?\]\]|\$\{(\w+)(:\w+)?\}|\$(\w+)/g, "x");
}

const children = (n: SyntaxNode, name: string): SyntaxNode[] => {
  const out: SyntaxNode[] = [];
  for (let c = n.firstChild; c; c = c.nextSibling) if (c.name === name) out.push(c);
  return out;
};

/** Metric names of a PromQL expression (vector selectors and `{__name__="..."}`). */
export function metricNames(rawExpr: string): string[] {
  const expr = forParsing(rawExpr);
  const names = new Set<string>();
  const tree = parser.parse(expr);
  tree.iterate({
    enter: (n) => {
      if (n.type.isError) throw new Error(`unparsable PromQL near ${n.from}: ${rawExpr}`);
      if (n.name === "VectorSelector")
        for (const id of children(n.node, "Identifier")) names.add(expr.slice(id.from, id.to));
      if (n.name === "UnquotedLabelMatcher" || n.name === "QuotedLabelMatcher") {
        const m = /^"?__name__"?\s*=\s*"([^"]*)"$/.exec(expr.slice(n.from, n.to));
        if (m?.[1]) names.add(m[1]);
      }
    },
  });
  return [...names];
}

/** A template variable's query: `label_values(metric{...}, label)` names a metric too. */
function variableMetric(query: string): string[] {
  const m = /^\s*(?:label_values|query_result)\((.*)\)\s*$/s.exec(query);
  if (!m) return [];
  const inner = m[1]!;
  if (!/^\s*label_values/.test(query)) return metricNames(inner);
  // label_values(selector, label): the selector is everything before the last comma;
  // label_values(label) names no metric.
  const comma = inner.lastIndexOf(",");
  return comma > 0 ? metricNames(inner.slice(0, comma)) : [];
}

function panelsOf(panels: Panel[] | undefined): Panel[] {
  return (panels ?? []).flatMap((p) => [p, ...panelsOf(p.panels)]);
}

function git(dir: string, ...args: string[]): string {
  return execFileSync("git", ["--git-dir", dir, ...args], { encoding: "utf8", maxBuffer: 64 << 20 });
}

function extract(source: Source, gitDir: string) {
  const commit = git(gitDir, "rev-parse", "HEAD").trim();
  const dashboard = JSON.parse(git(gitDir, "show", `HEAD:${source.path}`)) as {
    panels?: Panel[];
    rows?: { panels?: Panel[] }[];
    templating?: {
      list?: {
        name: string;
        type: string;
        query?: Json;
        regex?: string;
        multi?: boolean;
        includeAll?: boolean;
      }[];
    };
  };
  const panels = panelsOf([
    ...(dashboard.panels ?? []),
    ...(dashboard.rows ?? []).flatMap((r) => r.panels ?? []),
  ]);
  const names = new Set<string>();
  for (const p of panels)
    for (const t of p.targets ?? []) if (t.expr) for (const n of metricNames(t.expr)) names.add(n);
  // multi and includeAll decide how Grafana formats the value in a query (regex-escaped when either is set).
  // regex: Grafana keeps the options it matches, the first group as the value (query_result needs one).
  const variables: { name: string; query: string; regex?: string; multi: boolean; includeAll: boolean }[] =
    [];
  for (const v of dashboard.templating?.list ?? []) {
    if (v.type !== "query") continue;
    const q = v.query;
    const query =
      typeof q === "string" ? q : q && typeof q === "object" && !Array.isArray(q) ? q.query : undefined;
    if (typeof query !== "string") continue;
    variables.push({
      name: v.name,
      query,
      ...(v.regex ? { regex: v.regex } : {}),
      multi: v.multi === true,
      includeAll: v.includeAll === true,
    });
    for (const n of variableMetric(query)) names.add(n);
  }
  const samples = source.samplePanels.map((title) => {
    const p = panels.find((x) => x.title === title);
    if (!p) throw new Error(`${source.repo}/${source.path}: no panel titled "${title}"`);
    const exprs = (p.targets ?? []).filter((t) => t.expr && !t.hide).map((t) => t.expr!);
    return { title, exprs };
  });
  const { samplePanels: _unused, ...rest } = source;
  return { ...rest, commit, variables, metrics: [...names].sort(), samples };
}

const mirrors = new Map(
  process.argv.slice(2).map((a) => {
    const i = a.indexOf("=");
    if (i < 0) throw new Error(`expected owner/name=<git dir>, got ${a}`);
    return [a.slice(0, i), a.slice(i + 1)] as const;
  }),
);
const missing = [...new Set(sources.map((s) => s.repo))].filter((r) => !mirrors.has(r));
if (missing.length) {
  console.error(`compat-extract: give a git directory for ${missing.join(", ")} (owner/name=<git dir>)`);
  process.exit(2);
}
const out = sources.map((s) => extract(s, mirrors.get(s.repo)!));
const target = new URL("../definitions/generated/compat-dashboards.ts", import.meta.url).pathname;
writeFileSync(
  target,
  `// DO NOT EDIT: written by scripts/compat-extract.ts from the dashboards' JSON at the commits below.
// Metric names every query of each community dashboard uses, its template variables, and a sample of
// its panels' queries (run against a real Prometheus in exporter/test/compat.test.ts). Verdicts on
// the names live in definitions/compat.ts.

export interface CompatDashboard {
  readonly id: string;
  readonly title: string;
  readonly grafanaId?: number;
  readonly repo: string;
  readonly path: string;
  /** Whose copy the file is: the publisher's own, or a faithful copy (and how that was established). */
  readonly origin: string;
  readonly commit: string;
  readonly variables: readonly {
    readonly name: string;
    readonly query: string;
    readonly regex?: string;
    readonly multi: boolean;
    readonly includeAll: boolean;
  }[];
  readonly metrics: readonly string[];
  readonly samples: readonly { readonly title: string; readonly exprs: readonly string[] }[];
}

export const compatDashboards: readonly CompatDashboard[] = ${JSON.stringify(out, null, 2)};
`,
);
execFileSync("npx", ["prettier", "--write", target], { stdio: "inherit" });
for (const d of out)
  console.log(`${d.id}: ${d.metrics.length} metric names at ${d.repo}@${d.commit.slice(0, 12)}`);
