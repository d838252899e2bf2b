// One table of the ops jobs: each CLI command, the `job` label it reports under (definitions/metrics/jobs.ts
// jobNames) and what it does. `runJob` times a job, writes its textfile metrics whatever the outcome,
// and logs one line.
import type { JobName, JobTrigger } from "../../definitions/metrics/jobs.ts";
import type { Logger } from "../../lib/log.ts";
import { backup, OffsiteFailure, type BackupOutcome } from "./backup.ts";
import { cleanup } from "./cleanup.ts";
import { ConfigError, required, type Config } from "./config.ts";
import { writeJobMetrics, type JobResult } from "./metrics-file.ts";
import { headline } from "./report-model.ts";
import { weeklyReport, type ReportOptions } from "./report.ts";
import { drDrill, restore, verify, type RestoreOptions, type Source } from "./restore.ts";

export interface JobArgs {
  readonly file?: string;
  /** verify, dr-drill: the local backups or the off-site copy. */
  readonly source?: Source;
  /** verify: accept an off-site copy the key does not authenticate (--allow-unauthenticated). */
  readonly allowUnauthenticated?: boolean;
  /** verify: accept an authenticated off-site copy uploaded under another prefix (--allow-other-prefix). */
  readonly allowOtherPrefix?: boolean;
  readonly restore?: RestoreOptions;
  readonly report?: ReportOptions;
  /** Who started the run (default `manual`); `ops schedule` passes `scheduler`. */
  readonly trigger?: JobTrigger;
}

type Values = JobResult["values"];

/** A job that failed but measured something worth keeping (the local backup of a failed upload). */
class JobFailure extends Error {
  constructor(
    message: string,
    readonly values: Values,
  ) {
    super(message);
  }
}

const sizeOf = (b: BackupOutcome): NonNullable<Values> => ({
  kali_agents_backup_last_size_bytes: [{ labels: { kind: "postgres" }, value: b.manifest.sizeBytes }],
});
interface Outcome {
  readonly summary: unknown;
  readonly values?: Values;
}

export const commands = {
  backup: {
    job: "backup",
    run: async (c: Config, l: Logger): Promise<Outcome> => {
      let b: BackupOutcome;
      try {
        b = await backup(c, l);
      } catch (e) {
        if (!(e instanceof OffsiteFailure)) throw e;
        // The local backup stands; the off-site copy's failure is a measured 0 (its last success is
        // carried over from the previous file, so BackupOffsiteTooOld sees its true age).
        throw new JobFailure(e.message, {
          ...sizeOf(e.local),
          kali_agents_backup_offsite_success: [{ value: 0 }],
        });
      }
      return {
        summary: { file: b.file, size_bytes: b.manifest.sizeBytes, deleted: b.deleted, offsite: b.offsite },
        values: {
          ...sizeOf(b),
          ...(b.offsite
            ? {
                kali_agents_backup_offsite_success: [{ value: 1 }],
                kali_agents_backup_offsite_last_success_timestamp_seconds: [{ value: Date.now() / 1000 }],
              }
            : {}),
        },
      };
    },
  },
  verify: {
    job: "verify",
    run: async (c: Config, l: Logger, a: JobArgs): Promise<Outcome> => {
      const v = await verify(c, l, a.file, "verify", a.source, a.allowUnauthenticated, a.allowOtherPrefix);
      return { summary: v, values: { kali_agents_backup_verification_success: [{ value: 1 }] } };
    },
    // A failed verification is a measured 0, not a missing figure.
    onFailure: { kali_agents_backup_verification_success: [{ value: 0 }] } as Values,
  },
  restore: {
    job: "restore",
    run: async (c: Config, l: Logger, a: JobArgs): Promise<Outcome> => {
      if (!a.restore) throw new Error("restore needs --target <database>");
      return { summary: await restore(c, l, a.restore) };
    },
  },
  "dr-drill": {
    job: "dr_drill",
    run: async (c: Config, l: Logger, a: JobArgs): Promise<Outcome> => {
      const d = await drDrill(c, l, a.source);
      return {
        summary: d,
        values: { kali_agents_dr_drill_restore_duration_seconds: [{ value: d.restoreSeconds }] },
      };
    },
  },
  cleanup: {
    job: "cleanup",
    run: async (c: Config, l: Logger): Promise<Outcome> => {
      const o = await cleanup(c, l);
      return {
        summary: o,
        values: {
          kali_agents_cleanup_deleted_rows: [
            { labels: { table: c.scansTable.table }, value: o.scansDeleted },
          ],
        },
      };
    },
  },
  report: {
    job: "report",
    run: async (c: Config, l: Logger, a: JobArgs): Promise<Outcome> => {
      const r = await weeklyReport(c, l, a.report);
      const figures = r.report.scorecard ? Object.entries(headline(r.report.scorecard)) : [];
      return {
        summary: { json: r.json, markdown: r.markdown, html: r.html },
        // The scorecard as metrics, for the Operations scorecard dashboard (no data: no sample).
        values: {
          kali_agents_report_scorecard: figures.flatMap(([figure, value]) =>
            value === null ? [] : [{ labels: { figure }, value }],
          ),
        },
      };
    },
  },
} as const satisfies Record<
  string,
  {
    job: JobName;
    run: (c: Config, l: Logger, a: JobArgs) => Promise<Outcome>;
    onFailure?: Values;
  }
>;
export type Command = keyof typeof commands;
export const isCommand = (s: string): s is Command => Object.hasOwn(commands, s);

/** The settings each job cannot run without (every job reads or writes the application database). */
const needs: Record<Command, readonly (keyof Config)[]> = {
  backup: ["databaseUrl"],
  verify: ["databaseUrl"],
  restore: ["databaseUrl"],
  "dr-drill": ["databaseUrl"],
  cleanup: ["databaseUrl"],
  report: ["databaseUrl"],
};

/**
 * Throws ConfigError naming the first setting `command` needs and lacks. The CLI calls it before
 * runJob, so a configuration error exits 2 having created nothing and recorded no run.
 */
export function preflight(config: Config, command: Command): void {
  for (const key of needs[command]) required(config, key, command);
  // The off-site store's keys go in pairs (offsite.ts would refuse them mid-run, after a dump).
  if (
    command !== "cleanup" &&
    command !== "report" &&
    config.s3Bucket &&
    !config.s3AccessKeyId !== !config.s3SecretAccessKey
  )
    throw new ConfigError(
      "OPS_S3_ACCESS_KEY_ID and OPS_S3_SECRET_ACCESS_KEY go together: set both or neither (or their *_FILE)",
    );
}

export interface JobRun {
  readonly ok: boolean;
  readonly summary?: unknown;
  readonly error?: Error;
  readonly metricsFile: string;
}

export async function runJob(
  config: Config,
  log: Logger,
  command: Command,
  args: JobArgs = {},
): Promise<JobRun> {
  const spec = commands[command];
  const jlog = log.child(spec.job);
  const startedAt = Date.now();
  let ok = false;
  let summary: unknown;
  let values: Values;
  let error: Error | undefined;
  jlog.info("job started", { job: spec.job, trigger: args.trigger ?? "manual" });
  try {
    const o = await spec.run(config, jlog, args);
    ok = true;
    summary = o.summary;
    values = o.values;
  } catch (e) {
    error = e instanceof Error ? e : new Error(String(e));
    values = e instanceof JobFailure ? e.values : "onFailure" in spec ? spec.onFailure : undefined;
  }
  const finishedAt = Date.now();
  const metricsFile = await writeJobMetrics(config.textfileDir, {
    job: spec.job,
    ok,
    startedAt,
    finishedAt,
    trigger: args.trigger ?? "manual",
    values,
  });
  const duration = (finishedAt - startedAt) / 1000;
  if (ok) jlog.info("job succeeded", { job: spec.job, duration_seconds: duration });
  else jlog.error("job failed", { job: spec.job, duration_seconds: duration, error: error?.message });
  return { ok, summary, error, metricsFile };
}
