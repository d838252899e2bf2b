// Generates docs/metrics.md from the metric catalogue (definitions/metrics/) alone: it imports no
// collector and no database client, so the documentation cannot drift from what the collectors create
// (they build every metric from the same entries). A row in scripts/generators.ts; test/drift.test.ts
// fails when the committed file differs.
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
  readonly title: string;
  readonly about: string;
  readonly defs: readonly MetricDef[];
  /** Whether the table says which PostgreSQL majors publish each metric. */
  readonly majors?: boolean;
}

const sections: readonly Section[] = [
  {
    collector: "host",
    title: "Host",
    about:
      "node_exporter's names, labels and units, read from `/proc`, `/sys` and `statfs` under `EXPORTER_HOST_ROOT`. Always on (unless disabled). A figure whose source this kernel does not have (pressure files, conntrack, some meminfo fields) is absent, never a false 0; the compatibility section below says which.",
    defs: hostMetrics,
  },
  {
    collector: "inventory",
    title: "Host inventory",
    about:
      "node_exporter's os, dmi and cpu-info families with its label sets: `/etc/os-release` (else `/usr/lib/os-release`), `/sys/class/dmi/id/*` and `/proc/cpuinfo` under `EXPORTER_HOST_ROOT`, read on the first collection and kept (os-release again when it changes). A field the platform does not provide, or that only root may read (DMI serial numbers and UUID), is an empty label, which Prometheus stores as no label, as node_exporter leaves it out. Always on (unless disabled). Why not systeminformation: docs/architecture.md.",
    defs: inventoryMetrics,
  },
  {
    collector: "textfile",
    title: "Textfile",
    about:
      "node_exporter's textfile collector: every `*.prom` file in `EXPORTER_TEXTFILE_DIR` is published as it is (the ops jobs write the job-metric contract below there), plus these two families about the files.",
    defs: textfileMetrics,
  },
  {
    collector: "postgres",
    title: "PostgreSQL",
    about:
      "postgres_exporter's names and labels. On when `DATABASE_URL` is set. `pg_stat_activity_count` and `pg_locks_count` publish every state and every lock mode of every non-template database, 0 when empty. The `pg_stat_database_*` counters keep upstream's names (no `_total`). `pg_database_size_bytes` is recomputed every `EXPORTER_PG_DATABASE_SIZE_INTERVAL_SECONDS`. `pg_settings_*` follow postgres_exporter's names and units (`_bytes`, `_seconds`, booleans as 1/0); a setting or a `pg_stat_bgwriter` column the server's major does not have is absent (PostgreSQL 17 moved the checkpoint columns to `pg_stat_checkpointer`). While PostgreSQL does not answer, only `pg_up 0` is published. The role it needs: `exporter/sql/monitoring-role.sql` (docs/database.md).",
    defs: postgresMetrics,
    majors: true,
  },
  {
    collector: "redis",
    title: "Redis",
    about:
      'redis_exporter\'s names, from INFO (and INFO commandstats for `redis_commands_total` and `redis_commands_duration_seconds_total`, one pipeline). On when `REDIS_URL` is set. `redis_master_last_io_seconds_ago` comes from a replica only. `redis_db_keys{db="db0"}` is always published (0 when empty). `kali_agents_scan_queue_length` is the LLEN of each key of `SCAN_QUEUE_KEYS` (a key that is not a list is left out with a warning). While Redis does not answer, only `redis_up 0` is published.',
    defs: redisMetrics,
  },
  {
    collector: "scans",
    title: "Scans",
    about:
      "From the application's scans table (`SCANS_TABLE`; contract, indexes and how finished scans are counted in docs/database.md). On when `DATABASE_URL` is set. Every known tool has every status, 0 when it has none. `kali_agents_scans_total` starts from the table's totals when the exporter starts and then counts each scan once, when the transaction that finished it commits (however late, whatever its finished_at); deleting old rows never lowers it. A burst larger than a scrape reads is read over the next scrapes, and `kali_agents_scan_rows_to_read` says how many rows are still to read. `kali_agents_scan_rows_past_retention` counts rows whose finished_at is older than `SCANS_RETENTION_DAYS`, up to 10000 (the count stops there, so the query stays cheap).",
    defs: scanMetrics,
  },
  {
    collector: "probes",
    title: "Probes",
    about: `Blackbox-style probes of \`API_HEALTH_URL\` (\`kind="${probeKinds.api}"\`) and each of \`MCP_SERVERS\` (\`kind="${probeKinds.mcp}"\`): an HTTP GET on a new connection (success: a 2xx answer, after at most ${probeMaxRedirects} redirects; https certificates are verified; credentials in the URL go as Basic authorization to its own origin only) or a TCP connect for \`tcp://\`, each with \`EXPORTER_PROBE_TIMEOUT_SECONDS\`, all in parallel. \`target\` is the configured name, else the URL without credentials, query and fragment.`,
    defs: probeMetrics,
  },
  {
    collector: "exporter",
    title: "The exporter itself",
    about:
      "Always on. `kali_agents_exporter_collector_success` and `_duration_seconds` are published for every enabled collector on every scrape: a collector that fails or overruns its deadline shows 0 there, never a failed scrape. prom-client's default `process_*` and `nodejs_*` metrics are published too.",
    defs: exporterMetrics,
  },
];

export function render(): string {
  // A metric added to the catalogue outside these lists would be missing from the page: refuse.
  const listed = new Set(sections.flatMap((s) => s.defs.map((d) => d.name)));
  const missing = exporterCatalogue.filter((d) => !listed.has(d.name) || d.collector === undefined);
  if (missing.length)
    throw new Error(`docs/metrics.md: no section for ${missing.map((d) => d.name).join(", ")}`);
  for (const s of sections)
    for (const d of s.defs)
      if (d.collector !== s.collector)
        throw new Error(`docs/metrics.md: ${d.name} belongs to ${d.collector}, listed under ${s.collector}`);
  const parts: string[] = [
    `<!-- DO NOT EDIT: generated from definitions/metrics/ by \`npm run generate\` (scripts/docs/metrics.ts). -->

# Metrics

Every metric the exporter publishes, every metric the ops jobs write for it, and the metrics expected
from the Kali Agents API. The list is generated from the catalogue in \`definitions/metrics/\`, from
which the collectors create their metrics and against which the rules and dashboards are checked, so a
metric missing here exists nowhere.

Names follow the exporters people already run (node_exporter, postgres_exporter, redis_exporter), so
community dashboards and mixins work unchanged; what is Kali Agents' own starts with \`kali_agents_\`.
Values are in base units (seconds, bytes) and labels are bounded (never a scan id or a target host).

## Exporter metrics by collector

Each collector can be turned off with \`EXPORTER_COLLECTORS_DISABLED\` (docs/configuration.md).`,
  ];
  for (const s of sections) {
    const about = s.majors
      ? `${s.about}\n\nPostgreSQL ${majorList} are supported, each tested (\`test/postgres-majors.test.ts\` runs the postgres and scans collectors and backup, verify and restore against a server of each). Statistics views differ between majors; the PostgreSQL column says which majors publish each metric, and where it is read from when that differs. On another major the metric is absent (no sample), never an error that fails the collector.`
      : s.about;
    parts.push(`### ${s.title} (\`${s.collector}\`)\n\n${about}\n\n${table(s.defs, { majors: s.majors })}`);
  }
  parts.push(`## Job-metric contract (\`source: job\`)

What the ops jobs write into the textfile directory, one file per job, node_exporter's textfile format,
written to a temporary name in the same directory and renamed into place (so the exporter never reads
half a file). The exporter publishes these files as they are. \`job\` is one of ${jobNames.map((j) => `\`${j}\``).join(", ")}.

Once Prometheus has scraped them, the \`job\` label of these series is renamed \`${jobMetricLabel}\`
(Prometheus keeps the scrape's own \`job\`, as \`honor_labels: false\` does): rules and dashboards select
on \`${jobMetricLabel}\`.

${table(jobMetrics)}`);
  parts.push(`## API contract (\`source: api\`)

What the Kali Agents API is expected to publish on its own \`/metrics\`; the SLO, latency and error-rate
rules use them. \`route\` is the route template (\`/scans/{id}\`), never the raw path.

${table(apiMetrics)}`);
  parts.push(compatSection());
  parts.push(`## Other metrics rules and dashboards may use

Besides the catalogue, rules and dashboards may use these metrics of Prometheus, Alertmanager and the
scrape itself: ${platformMetricNames.map((n) => `\`${n}\``).join(", ")}.
`);
  return parts.join("\n\n");
}

/** The community dashboards' metric names and their verdicts (definitions/compat.ts). */
function compatSection(): string {
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
  const table = rows.map(
    (r) =>
      `| \`${r.name}\` | ${r.dashboards.map((id) => dashboardName.get(id)).join(", ")} | ${verdictText(r)} |`,
  );
  const total = rows.length;
  const published = rows.filter((r) => r.verdict.status === "published").length;
  return `## Compatibility with the community dashboards

People who run node_exporter, postgres_exporter and redis_exporter use the community dashboards; this
exporter publishes the names they query with the same labels and units, so their panels show the same
numbers. The list below is extracted from the dashboards' JSON at the commits shown (by
\`scripts/compat-extract.ts\`, into \`definitions/generated/compat-dashboards.ts\`; the dashboards
themselves are not copied), and each name has a verdict in \`definitions/compat.ts\`. \`exporter/test/compat.test.ts\`
checks every published name against a scrape with real PostgreSQL and Redis, and runs the sampled
panels' queries, template variables filled as Grafana fills them, against a real Prometheus scraping
the exporter.

${published} of the ${total} names are published; the others do not apply to a sidecar for one host,
one database and one Redis, for the reason given. Grafana.com's 11835 (763's variant for the
redis-ha Helm chart) is not in the list: no public repository the project can cite at a revision holds
its JSON (helm/charts' stable/redis-ha never did), and grafana.com, which publishes it, is not a
repository revision to extract from.

To follow a newer revision of the dashboards: clone their repositories, run
\`npx tsx scripts/compat-extract.ts rfmoz/grafana-dashboards=<clone>/.git prometheus-community/postgres_exporter=<clone>/.git lstn/misc-grafana-dashboards=<clone>/.git oliver006/redis_exporter=<clone>/.git\`,
give every new name a verdict in \`definitions/compat.ts\` (the tests fail until each has one), publish
what applies, and run \`npm run generate\`.

| dashboard | grafana.com id | source | names | published | sampled panels |
| --- | --- | --- | --- | --- | --- |
${sources.join("\n")}

| metric | dashboards | verdict |
| --- | --- | --- |
${table.join("\n")}

${sideBySideSection()}`;
}

/** The value-by-value comparison with the pinned Go exporters, and its verdicts. */
function sideBySideSection(): string {
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
  return `### Value by value beside the Go exporters

\`exporter/test/upstream-values.test.ts\` runs this exporter beside node_exporter 1.12.1,
postgres_exporter 0.19.1 and redis_exporter 1.88.0 on the same host and the same real servers
(PostgreSQL 14 to 18, a Redis primary and its replica), scrapes both sides twice at the same moments
and compares every family both publish: type (untyped where upstream leaves it untyped), label names,
series and values. Gauges are compared by value, counters by value and by their increase between the
two scrapes; the tolerances, each with its reason, are in the test and stay far below a unit error (a
factor of 1000 or 1024), which the test plants to prove that the comparison fails on one. Families that
measure the exporter itself (\`process_*\`, \`pg_exporter_*\`, \`redis_exporter_*\`) are compared by
type and labels only.

The series sets are the same but for these verdicts (\`definitions/compat.ts\` \`seriesVerdicts\`):

| families | the Go exporter's series left out here, and why |
| --- | --- |
${verdictRows.join("\n")}

Two families are published under two names, the pinned exporter's and the older one a community
dashboard queries, each costing one series more per host or Redis server:
\`node_kernel_hung_tasks_total\` (a counter, node_exporter 1.12) and \`node_kernel_hung_tasks\`;
\`redis_mem_fragmentation_ratio\` (redis_exporter 1.88) and \`redis_memory_fragmentation_ratio\`.

\`pg_settings_*\` are the server's values (pg_settings' \`reset_val\`, what a new session of the exporter's
role starts with), never what the exporter's own session set: it sets its \`statement_timeout\` and
\`lock_timeout\` after connecting, not as startup parameters.

\`pg_stat_activity_count\` and \`pg_stat_activity_max_tx_duration\` are grouped as postgres_exporter 0.19
groups them: a series per database, state, user, \`application_name\`, backend type and wait event seen
(the exporter's own session left out), and for each database and state no session is in, one series of
0 with those labels empty. \`application_name\` is what the clients set: an application that sets a
distinct one per connection makes as many series, as it does with postgres_exporter; sum by
(\`datname\`, \`state\`) for the figures of before.`;
}

export function outputs(): Record<string, string> {
  return { "docs/metrics.md": render() };
}
