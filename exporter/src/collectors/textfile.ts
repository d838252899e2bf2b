// The textfile collector: publishes the metrics in `*.prom` files of one directory, with
// node_exporter's textfile rules. The ops jobs write their results there (definitions/metrics.ts
// jobMetrics), each to a temporary name renamed into place, so a file is never read half-written.
//
// Rules:
// - only `*.prom` files directly in the directory are read, in name order;
// - each file is parsed with the strict exposition parser; a file that does not parse, carries
//   client-side timestamps, redefines a metric another file defined with a different HELP or TYPE,
//   repeats a series another file has, or uses a name the exporter itself publishes, is skipped
//   whole: node_textfile_scrape_error is 1 and one log line names the file and the reason; the other
//   files still publish;
// - node_textfile_mtime_seconds{file} is published for every file read successfully;
// - a directory that cannot be read is an error too (scrape_error 1), not a failed collector: the
//   directory may not exist yet before a job first runs.
// The parser is stricter than node_exporter's (Go's expfmt, which `promtool check metrics` also uses):
// a family split in two groups, a series written twice, and a histogram without an le="+Inf" bucket,
// non-cumulative buckets or a _count that differs from it are rejected here, where expfmt only lints
// them: Prometheus would drop the duplicate samples and compute wrong quantiles from such a histogram,
// so the file is reported instead of being published half right.
// The files' metrics are republished as they are (they are not in the catalogue; only the
// node_textfile_* metrics are).
import { promises as fs } from "node:fs";
import { join } from "node:path";
import { Registry } from "prom-client";
import { exporterCatalogue, textfileMetrics } from "../../../definitions/metrics.ts";
import { parseExposition, type MetricFamily, type Sample } from "../../../lib/exposition.ts";
import { FailureLog } from "../failure-log.ts";
import type { Logger } from "../../../lib/log.ts";
import { createMetrics } from "../metrics.ts";
import type { Collector, CollectorModule } from "./types.ts";

export interface TextfileOptions {
  readonly dir: string;
}

/** Sample names the exporter publishes itself, which a file may not reuse (the output would hold them twice). */
const reservedSampleNames = new Set(
  exporterCatalogue.flatMap((m) =>
    m.type === "histogram" ? [m.name, `${m.name}_bucket`, `${m.name}_sum`, `${m.name}_count`] : [m.name],
  ),
);
// prom-client's default process metrics, published by the exporter collector.
const reservedPrefixes = ["process_", "nodejs_"];
const isReserved = (name: string) =>
  reservedSampleNames.has(name) || reservedPrefixes.some((p) => name.startsWith(p));

/** A parsed family republished through prom-client's metric interface. */
class FileFamily {
  readonly name: string;
  readonly help: string;
  readonly type: string;
  readonly aggregator = "sum";
  constructor(private readonly family: { name: string; help: string; type: string; samples: Sample[] }) {
    this.name = family.name;
    this.help = family.help;
    this.type = family.type;
  }
  get() {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values: this.family.samples.map((s) => ({
        metricName: s.name,
        labels: { ...s.labels },
        value: s.value,
      })),
    };
  }
  reset() {}
}

interface Merged {
  name: string;
  help: string;
  type: string;
  samples: Sample[];
  series: Set<string>;
  from: string;
}

const seriesKey = (s: Sample) =>
  s.name +
  JSON.stringify(
    Object.keys(s.labels)
      .sort()
      .map((k) => [k, s.labels[k]]),
  );

/** Adds one file's families to `merged`, or throws (changing nothing) when the file conflicts. */
function mergeFile(merged: Map<string, Merged>, file: string, families: Iterable<MetricFamily>): void {
  const additions: [MetricFamily, Merged | undefined][] = [];
  for (const fam of families) {
    for (const s of fam.samples) {
      if (s.timestamp !== undefined)
        throw new Error(
          `${s.name} has a client-side timestamp, which the textfile collector does not accept`,
        );
      if (isReserved(s.name)) throw new Error(`${s.name} is a metric the exporter publishes itself`);
    }
    if (isReserved(fam.name)) throw new Error(`${fam.name} is a metric the exporter publishes itself`);
    const prev = merged.get(fam.name);
    if (prev) {
      if (prev.type !== fam.type)
        throw new Error(`${fam.name} has TYPE ${fam.type} here but ${prev.type} in ${prev.from}`);
      if (prev.help !== (fam.help ?? "") && fam.help !== undefined && prev.help !== "")
        throw new Error(`${fam.name} has a different HELP here than in ${prev.from}`);
      for (const s of fam.samples)
        if (prev.series.has(seriesKey(s)))
          throw new Error(`series ${s.name}${JSON.stringify(s.labels)} is already in ${prev.from}`);
    }
    additions.push([fam, prev]);
  }
  for (const [fam, prev] of additions) {
    if (prev) {
      if (prev.help === "" && fam.help) prev.help = fam.help;
      for (const s of fam.samples) {
        prev.samples.push(s);
        prev.series.add(seriesKey(s));
      }
    } else
      merged.set(fam.name, {
        name: fam.name,
        help: fam.help ?? "",
        type: fam.type,
        samples: [...fam.samples],
        series: new Set(fam.samples.map(seriesKey)),
        from: file,
      });
  }
}

function createTextfileCollector(options: TextfileOptions, _log: Logger): Collector {
  const registry = new Registry();
  const m = createMetrics(textfileMetrics, registry);
  let published: string[] = [];
  // A file that stays malformed is logged when it is first skipped, when its error changes, every 5
  // minutes, and when it is read again; not on every scrape.
  const skipped = new FailureLog({
    subject: "file",
    failed: "textfile skipped",
    recovered: "textfile read again",
  });

  return {
    name: "textfile",
    registry,
    async collect(ctx) {
      const errors: { file: string; error: string }[] = [];
      const merged = new Map<string, Merged>();
      const mtimes: { file: string; seconds: number }[] = [];
      let names: string[] = [];
      let dirRead = false;
      try {
        names = (await fs.readdir(options.dir)).filter((n) => n.endsWith(".prom")).sort();
        dirRead = true;
      } catch (e) {
        errors.push({ file: options.dir, error: `cannot read the directory: ${(e as Error).message}` });
      }
      for (const name of names) {
        const path = join(options.dir, name);
        try {
          // stat before reading: a file replaced in between shows the older mtime, never a newer
          // mtime with older content.
          const st = await fs.stat(path);
          if (!st.isFile()) continue;
          const text = await fs.readFile(path, "utf8");
          mergeFile(merged, name, parseExposition(text).values());
          mtimes.push({ file: name, seconds: st.mtimeMs / 1000 });
        } catch (e) {
          errors.push({ file: name, error: (e as Error).message });
        }
      }
      if (ctx.signal.aborted) return;
      for (const e of errors) skipped.failed(ctx.log, e.file, e.error, { dir: options.dir });
      if (dirRead) skipped.succeeded(ctx.log, options.dir);
      for (const t of mtimes) skipped.succeeded(ctx.log, t.file);
      // A file deleted while it was skipped is simply gone: no "read again" line for it.
      for (const name of skipped.failingNames())
        if (name !== options.dir && !names.includes(name)) skipped.forget(name);
      for (const n of published) registry.removeSingleMetric(n);
      published = [];
      for (const fam of merged.values()) {
        registry.registerMetric(new FileFamily(fam) as unknown as Parameters<Registry["registerMetric"]>[0]);
        published.push(fam.name);
      }
      m.node_textfile_mtime_seconds.reset();
      // file: the path, directory included, as node_exporter labels it.
      for (const t of mtimes)
        m.node_textfile_mtime_seconds.set({ file: join(options.dir, t.file) }, t.seconds);
      m.node_textfile_scrape_error.set(errors.length > 0 ? 1 : 0);
    },
    markFailed() {
      m.node_textfile_scrape_error.set(1);
    },
  };
}

export const textfileCollector = {
  name: "textfile",
  metrics: textfileMetrics,
  create: createTextfileCollector,
} as const satisfies CollectorModule<TextfileOptions>;
