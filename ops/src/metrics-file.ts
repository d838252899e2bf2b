// Writes a job's results as a `<job>.prom` file for the exporter's textfile collector, on the
// job-metric contract (definitions/metrics/jobs.ts `jobMetrics`). The file is written under a temporary
// name in the same folder and renamed, so the collector never reads half a file. A failed run still
// writes its file: last_run_success 0, and the last success time (and the job-specific figures it did
// not measure this time) carried over from the previous file, so a failure never hides when the job
// last worked.
import { promises as fs } from "node:fs";
import { join } from "node:path";
import { jobMetrics, jobTriggers, type JobName, type JobTrigger } from "../../definitions/metrics/jobs.ts";
import { formatExposition, parseExposition, type MetricFamily, type Sample } from "../../lib/exposition.ts";

type JobMetricName = (typeof jobMetrics)[number]["name"];
type GenericName =
  | "kali_agents_job_last_run_timestamp_seconds"
  | "kali_agents_job_last_success_timestamp_seconds"
  | "kali_agents_job_last_run_success"
  | "kali_agents_job_last_run_duration_seconds"
  | "kali_agents_job_runs_total";
type SpecificName = Exclude<JobMetricName, GenericName>;

/** The job-specific metrics each job owns: one file per series, or the collector would skip a file. */
const ownedMetrics: Record<JobName, readonly SpecificName[]> = {
  backup: [
    "kali_agents_backup_last_size_bytes",
    "kali_agents_backup_offsite_success",
    "kali_agents_backup_offsite_last_success_timestamp_seconds",
  ],
  verify: ["kali_agents_backup_verification_success"],
  restore: [],
  dr_drill: ["kali_agents_dr_drill_restore_duration_seconds"],
  cleanup: ["kali_agents_cleanup_deleted_rows"],
  report: ["kali_agents_report_scorecard"],
};

export interface JobResult {
  readonly job: JobName;
  readonly ok: boolean;
  readonly startedAt: number; // ms since the epoch
  readonly finishedAt: number;
  /** Who started the run (default `manual`: a person at the command line). */
  readonly trigger?: JobTrigger;
  /** Job-specific samples measured by this run; the job's others are carried over from the last file. */
  readonly values?: Partial<
    Record<SpecificName, readonly { labels?: Record<string, string>; value: number }[]>
  >;
}

const promFile = (dir: string, job: JobName) => join(dir, `${job}.prom`);

async function previous(dir: string, job: JobName): Promise<ReadonlyMap<string, MetricFamily>> {
  try {
    return parseExposition(await fs.readFile(promFile(dir, job), "utf8"));
  } catch {
    // No file yet, or one that does not parse: nothing to carry over (the new file replaces it).
    return new Map();
  }
}

const runs = "kali_agents_job_runs_total";

/** One run-counter sample per result and trigger, in a fixed order, valued by `count`. */
const runSamples = (job: JobName, count: (result: "success" | "failure", trigger: JobTrigger) => number) =>
  (["success", "failure"] as const).flatMap((result) =>
    jobTriggers.map((trigger): Sample => ({
      name: runs,
      labels: { job, result, trigger },
      value: count(result, trigger),
    })),
  );

function renderJobMetrics(result: JobResult, prev: ReadonlyMap<string, MetricFamily>): string {
  const def = (name: JobMetricName) => jobMetrics.find((m) => m.name === name)!;
  const families: MetricFamily[] = [];
  const add = (name: JobMetricName, samples: Sample[]) => {
    if (samples.length === 0) return;
    const d = def(name);
    families.push({ name, type: d.type === "counter" ? "counter" : "gauge", help: d.help, samples });
  };
  const jobLabel = { job: result.job };
  const end = result.finishedAt / 1000;
  add("kali_agents_job_last_run_timestamp_seconds", [
    { name: "kali_agents_job_last_run_timestamp_seconds", labels: jobLabel, value: end },
  ]);
  const prevSuccess = prev
    .get("kali_agents_job_last_success_timestamp_seconds")
    ?.samples.find((s) => s.labels.job === result.job)?.value;
  const success = result.ok ? end : prevSuccess;
  if (success !== undefined)
    add("kali_agents_job_last_success_timestamp_seconds", [
      { name: "kali_agents_job_last_success_timestamp_seconds", labels: jobLabel, value: success },
    ]);
  add("kali_agents_job_last_run_success", [
    { name: "kali_agents_job_last_run_success", labels: jobLabel, value: result.ok ? 1 : 0 },
  ]);
  add("kali_agents_job_last_run_duration_seconds", [
    {
      name: "kali_agents_job_last_run_duration_seconds",
      labels: jobLabel,
      value: Math.max(0, (result.finishedAt - result.startedAt) / 1000),
    },
  ]);
  // The run counters: the previous file's counts plus this run. A rate over 30 days needs every run,
  // not the last one's gauge; all four series are written from the first run on, so a first failure
  // is an increase from 0, not a new series whose first sample Prometheus cannot count.
  const prevRuns = prev.get(runs)?.samples ?? [];
  const trigger = result.trigger ?? "manual";
  add(
    runs,
    runSamples(result.job, (r, t) => {
      const before =
        prevRuns.find((s) => s.labels.job === result.job && s.labels.result === r && s.labels.trigger === t)
          ?.value ?? 0;
      return before + ((r === "success") === result.ok && t === trigger ? 1 : 0);
    }),
  );
  for (const name of ownedMetrics[result.job]) {
    const given = result.values?.[name];
    const samples: Sample[] = given
      ? given.map((v) => ({ name, labels: v.labels ?? {}, value: v.value }))
      : (prev.get(name)?.samples.map((s) => ({ name, labels: s.labels, value: s.value })) ?? []);
    add(name, samples);
  }
  return formatExposition(families);
}

/** Writes `<dir>/<job>.prom` atomically (temporary name in the same folder, then rename). */
async function writePromFile(dir: string, job: JobName, text: string): Promise<string> {
  const path = promFile(dir, job);
  // The textfile collector reads only `*.prom`: the temporary name must not end so.
  const tmp = join(dir, `.${job}.prom.${process.pid}.tmp`);
  await fs.writeFile(tmp, text, { mode: 0o644 });
  await fs.rename(tmp, path);
  return path;
}

export async function writeJobMetrics(dir: string, result: JobResult): Promise<string> {
  await fs.mkdir(dir, { recursive: true });
  return writePromFile(dir, result.job, renderJobMetrics(result, await previous(dir, result.job)));
}

/**
 * Publishes every job's run counters at 0 where none exist yet: run by `ops schedule` when it starts.
 * Prometheus cannot count a counter's first sample (increase() needs two), so without a 0 scraped
 * before it a job's first run ever, success or failure, would be missing from every rate. A file
 * that has the counters is left alone; one from before the counters keeps its series and gains them.
 */
export async function initRunCounters(dir: string, jobs: readonly JobName[]): Promise<JobName[]> {
  await fs.mkdir(dir, { recursive: true });
  const help = jobMetrics.find((m) => m.name === runs)!.help;
  const written: JobName[] = [];
  for (const job of jobs) {
    const prev = await previous(dir, job);
    if (prev.has(runs)) continue;
    const zeros = { name: runs, type: "counter" as const, help, samples: runSamples(job, () => 0) };
    await writePromFile(dir, job, formatExposition([...prev.values(), zeros]));
    written.push(job);
  }
  return written;
}
