// The textfile collector: publishes the metrics in `*.prom` files of one directory, with
// node_exporter's textfile rules. The ops jobs write their results there (definitions/metrics/jobs.ts
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
// Against whatever lands in the directory (anyone who can write there, or a job gone wrong):
// - each file is opened with O_NOFOLLOW | O_NONBLOCK and checked with fstat on the open descriptor:
//   a symlink, FIFO, directory, socket or device swapped in under a `.prom` name is skipped
//   (`not_regular`) without being followed, blocked on, or read; a FIFO cannot hang the collector;
// - a file over maxBytes (EXPORTER_TEXTFILE_MAX_BYTES) is skipped without being read (`too_large`),
//   and a file that would take the published series past maxSeries (EXPORTER_TEXTFILE_MAX_SERIES) is
//   skipped whole (`too_many_series`): one file cannot exhaust the exporter's memory;
// - a file is parsed again only when it changed (device, inode, size, mtime), so a large valid file
//   costs one parse, not one a collection;
// - a skipped file is counted in kali_agents_exporter_textfile_skipped{reason} and logged as a state
//   change (failure-log.ts), with at most MAX_SKIP_LINES such lines per collection, reminders included;
//   a line never quotes the file: a parse error gives its line number only (a secret file dropped there
//   by mistake, a pgpass line or a key, must not reach the log).
// The parser is stricter than node_exporter's (Go's expfmt, which `promtool check metrics` also uses):
// a family split in two groups, a series written twice, and a histogram without an le="+Inf" bucket,
// non-cumulative buckets or a _count that differs from it are rejected here, where expfmt only lints
// them: Prometheus would drop the duplicate samples and compute wrong quantiles from such a histogram,
// so the file is reported instead of being published half right.
// The files' metrics are republished as they are (they are not in the catalogue; only the
// node_textfile_* metrics are).
import { constants, promises as fs } from "node:fs";
import { join } from "node:path";
import { Registry } from "prom-client";
import { exporterCatalogue } from "../../../definitions/metrics/catalogue.ts";
import { textfileMetrics } from "../../../definitions/metrics/textfile.ts";
import { ExpositionError, parseExposition, type MetricFamily, type Sample } from "../../../lib/exposition.ts";
import { FailureLog } from "../failure-log.ts";
import type { Logger } from "../../../lib/log.ts";
import { createMetrics } from "../metrics.ts";
import type { Collector, CollectorModule } from "./types.ts";

export interface TextfileOptions {
  readonly dir: string;
  /** Largest file read, in bytes (default 1 MiB). */
  readonly maxBytes?: number;
  /** Most series published from all files together (default 10,000). */
  readonly maxSeries?: number;
  /** The clock of the skipped files' log lines (tests set it; default Date.now). */
  readonly now?: () => number;
}

export const skipReasons = ["not_regular", "too_large", "too_many_series", "invalid", "unreadable"] as const;
export type SkipReason = (typeof skipReasons)[number];

/**
 * "textfile skipped" lines written in one collection at most (first failures, changed reasons and
 * 5-minute reminders alike); the rest are counted in one line.
 */
export const MAX_SKIP_LINES = 5;

class Skip extends Error {
  constructor(
    readonly reason: SkipReason,
    message: string,
    /** What it is, for the log line (kept out of the message: a file swapped between kinds is one reason). */
    readonly kind?: string,
  ) {
    super(message);
  }
}

/** A file removed between readdir and open: simply gone, not an error. */
class Vanished extends Error {}

const NOT_REGULAR = "not a regular file (a symbolic link, FIFO, directory, socket or device): not read";

/** A parsed file, kept while it does not change. */
interface Parsed {
  readonly key: string;
  readonly mtimeSeconds: number;
  readonly families?: MetricFamily[];
  readonly series: number;
  readonly skip?: Skip;
}

const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/** The file's parse, or a Skip: opened without following links or blocking, regular files only. */
async function readOne(path: string, maxBytes: number, cached: Parsed | undefined): Promise<Parsed> {
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(path, OPEN_FLAGS);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ELOOP" || code === "EMLINK") throw new Skip("not_regular", NOT_REGULAR, "symbolic link");
    if (code === "ENOENT") throw new Vanished();
    throw new Skip("unreadable", `cannot open it (${code ?? "error"})`);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) {
      const kind = st.isFIFO()
        ? "FIFO"
        : st.isDirectory()
          ? "directory"
          : st.isSocket()
            ? "socket"
            : "device";
      throw new Skip("not_regular", NOT_REGULAR, kind);
    }
    const key = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
    if (cached?.key === key) return cached;
    const mtimeSeconds = st.mtimeMs / 1000;
    const tooLarge = () =>
      new Skip("too_large", `larger than EXPORTER_TEXTFILE_MAX_BYTES (${maxBytes} bytes): not read`);
    if (st.size > maxBytes) return { key, mtimeSeconds, series: 0, skip: tooLarge() };
    // Read at most maxBytes + 1: a file growing after fstat is still cut.
    const buf = Buffer.alloc(st.size + 1 > maxBytes + 1 ? maxBytes + 1 : st.size + 1);
    let n = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
      if (n === buf.length) break;
    }
    if (n > maxBytes) return { key, mtimeSeconds, series: 0, skip: tooLarge() };
    let families: MetricFamily[];
    try {
      families = [...parseExposition(buf.toString("utf8", 0, n)).values()];
    } catch (e) {
      // The line number only: the reason would quote the file.
      const where = e instanceof ExpositionError ? `line ${e.line}` : "the file";
      return {
        key,
        mtimeSeconds,
        series: 0,
        skip: new Skip(
          "invalid",
          `${where} is not in the Prometheus text format (run promtool check metrics on it; its content is not logged)`,
        ),
      };
    }
    const series = families.reduce((sum, f) => sum + f.samples.length, 0);
    return { key, mtimeSeconds, families, series };
  } finally {
    await fh.close();
  }
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
  const maxBytes = options.maxBytes ?? 1024 * 1024;
  const maxSeries = options.maxSeries ?? 10_000;
  let published: string[] = [];
  let parsedFiles = new Map<string, Parsed>();
  // A file that stays malformed is logged when it is first skipped, when its error changes, every 5
  // minutes, and when it is read again; not on every scrape.
  const skipped = new FailureLog({
    subject: "file",
    failed: "textfile skipped",
    recovered: "textfile read again",
    ...(options.now ? { now: options.now } : {}),
  });

  return {
    name: "textfile",
    registry,
    async collect(ctx) {
      const errors: { file: string; error: string; reason: SkipReason; kind?: string }[] = [];
      const nextParsed = new Map<string, Parsed>();
      let series = 0;
      const merged = new Map<string, Merged>();
      const mtimes: { file: string; seconds: number }[] = [];
      let names: string[] = [];
      let dirRead = false;
      try {
        names = (await fs.readdir(options.dir)).filter((n) => n.endsWith(".prom")).sort();
        dirRead = true;
      } catch (e) {
        errors.push({
          file: options.dir,
          error: `cannot read the directory: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
          reason: "unreadable",
        });
      }
      for (const name of names) {
        const path = join(options.dir, name);
        if (ctx.signal.aborted) return;
        try {
          // fstat on the descriptor read: the mtime is the content's, whatever is renamed meanwhile.
          const p = await readOne(path, maxBytes, parsedFiles.get(name));
          nextParsed.set(name, p);
          if (p.skip) throw p.skip;
          if (series + p.series > maxSeries)
            throw new Skip(
              "too_many_series",
              `its ${p.series} series would take the textfiles past EXPORTER_TEXTFILE_MAX_SERIES (${maxSeries})`,
            );
          try {
            mergeFile(merged, name, p.families ?? []);
          } catch (e) {
            throw new Skip("invalid", (e as Error).message);
          }
          series += p.series;
          mtimes.push({ file: name, seconds: p.mtimeSeconds });
        } catch (e) {
          if (e instanceof Vanished) continue;
          const skip = e instanceof Skip ? e : new Skip("unreadable", (e as Error).message);
          errors.push({
            file: name,
            error: skip.message,
            reason: skip.reason,
            ...(skip.kind ? { kind: skip.kind } : {}),
          });
        }
      }
      if (ctx.signal.aborted) return;
      parsedFiles = nextParsed;
      let lines = 0;
      let unlogged = 0;
      const present = new Set(names);
      for (const e of errors) {
        // A file already failing for the same reason writes no new line until its reminder is due
        // (failure-log.ts). Whatever the lines are (new files, changed reasons, reminders: thousands of
        // files skipped together come due together), one collection writes MAX_SKIP_LINES of them, then
        // one line counting the rest, which then count as logged.
        const line = skipped.wouldLog(e.file, e.error);
        if (line && lines >= MAX_SKIP_LINES) {
          unlogged++;
          skipped.failedQuietly(e.file, e.error);
          continue;
        }
        if (line) lines++;
        skipped.failed(ctx.log, e.file, e.error, {
          dir: options.dir,
          reason: e.reason,
          ...(e.kind ? { kind: e.kind } : {}),
        });
      }
      if (unlogged > 0)
        ctx.log.warn("more textfiles skipped", {
          dir: options.dir,
          files: unlogged,
          note: `at most ${MAX_SKIP_LINES} skipped files are logged per collection; see kali_agents_exporter_textfile_skipped`,
        });
      if (dirRead) skipped.succeeded(ctx.log, options.dir);
      for (const t of mtimes) skipped.succeeded(ctx.log, t.file);
      // A file deleted while it was skipped is simply gone: no "read again" line for it.
      for (const name of skipped.failingNames())
        if (name !== options.dir && !present.has(name)) skipped.forget(name);
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
      for (const reason of skipReasons)
        m.kali_agents_exporter_textfile_skipped.set(
          { reason },
          errors.filter((e) => e.reason === reason && e.file !== options.dir).length,
        );
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
