// One table of the ops jobs: each CLI command, the `job` label it reports under (definitions/metrics/jobs.ts
// jobNames), the settings it reads and what it does. This is the jobs' door: each job's typed settings
// are resolved here once from the configuration (a missing one is one ConfigError naming it), and the
// job's modules get those and nothing else. `runJob` times a job, writes its textfile metrics whatever
// the outcome, and logs one line.
import type { JobName, JobTrigger } from "../../definitions/metrics/jobs.ts";
import type { Logger } from "../../lib/log.ts";
import {
  backup,
  backupKeys,
  OffsiteFailure,
  type BackupOutcome,
  type BackupSettings,
} from "./backup/backup.ts";
import { cleanup, cleanupKeys, type CleanupSettings } from "./backup/cleanup.ts";
import { ConfigError, pick, required, type Config } from "./config.ts";
import { writeJobMetrics, type JobResult } from "./metrics-file.ts";
import { headline } from "./report/report-model.ts";
import { reportKeys, weeklyReport, type ReportOptions, type ReportSettings } from "./report/report.ts";
import {
  drDrill,
  restore,
  restoreKeys,
  verify,
  type DrillSettings,
  type RestoreOptions,
  type RestoreSettings,
  type Source,
} from "./backup/restore.ts";

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

// Each job's settings. Every job reads or writes the application database: DATABASE_URL is the one
// setting without a default they cannot run without; `required` names it (and the command) when unset.
const databaseUrl = (c: Config, command: string) => required(c, "databaseUrl", command);
const backupSettings = (c: Config, command: string): BackupSettings => ({
  ...pick(c, backupKeys),
  databaseUrl: databaseUrl(c, command),
});
/** `job` names the run's scratch databases and begins its refusals. */
const restoreSettings = (c: Config, command: string, job: string): RestoreSettings => ({
  ...pick(c, restoreKeys),
  databaseUrl: databaseUrl(c, command),
  job,
});

/**
 * A command: its settings, resolved from the configuration by `settings` (a ConfigError when one it
 * needs is missing), and the job that `run` makes of them.
 */
interface CommandSpec<S> {
  readonly job: JobName;
  readonly settings: (c: Config, command: string) => S;
  readonly run: (s: S, l: Logger, a: JobArgs) => Promise<Outcome>;
  /** The values recorded when the job fails (a failed verification is a measured 0). */
  readonly onFailure?: Values;
}
/** The settings resolved once, and the job bound to them: what runJob runs. */
type Prepared = (l: Logger, a: JobArgs) => Promise<Outcome>;
const command = <S>(spec: CommandSpec<S>) => ({
  job: spec.job,
  onFailure: spec.onFailure,
  prepare: (c: Config, name: string): Prepared => {
    const s = spec.settings(c, name);
    return (l, a) => spec.run(s, l, a);
  },
});

export const commands = {
  backup: command({
    job: "backup",
    settings: backupSettings,
    run: async (s, l): Promise<Outcome> => {
      let b: BackupOutcome;
      try {
        b = await backup(s, l);
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
  }),
  verify: command({
    job: "verify",
    settings: (c, name) => restoreSettings(c, name, "verify"),
    run: async (s, l, a): Promise<Outcome> => {
      const v = await verify(s, l, {
        file: a.file,
        source: a.source,
        allowUnauthenticated: a.allowUnauthenticated,
        allowOtherPrefix: a.allowOtherPrefix,
      });
      return { summary: v, values: { kali_agents_backup_verification_success: [{ value: 1 }] } };
    },
    // A failed verification is a measured 0, not a missing figure.
    onFailure: { kali_agents_backup_verification_success: [{ value: 0 }] },
  }),
  restore: command({
    job: "restore",
    settings: (c, name) => restoreSettings(c, name, "restore"),
    run: async (s, l, a): Promise<Outcome> => {
      if (!a.restore) throw new Error("restore needs --target <database>");
      return { summary: await restore(s, l, a.restore) };
    },
  }),
  "dr-drill": command({
    job: "dr_drill",
    settings: (c, name): DrillSettings => ({
      ...backupSettings(c, name),
      ...restoreSettings(c, name, "drill"),
    }),
    run: async (s, l, a): Promise<Outcome> => {
      const d = await drDrill(s, l, a.source);
      return {
        summary: d,
        values: { kali_agents_dr_drill_restore_duration_seconds: [{ value: d.restoreSeconds }] },
      };
    },
  }),
  cleanup: command({
    job: "cleanup",
    settings: (c, name): CleanupSettings => ({ ...pick(c, cleanupKeys), databaseUrl: databaseUrl(c, name) }),
    run: async (s, l): Promise<Outcome> => {
      const o = await cleanup(s, l);
      return {
        summary: o,
        values: {
          kali_agents_cleanup_deleted_rows: [
            { labels: { table: s.scansTable.table }, value: o.scansDeleted },
          ],
        },
      };
    },
  }),
  report: command({
    job: "report",
    settings: (c, name): ReportSettings => ({ ...pick(c, reportKeys), databaseUrl: databaseUrl(c, name) }),
    run: async (s, l, a): Promise<Outcome> => {
      const r = await weeklyReport(s, l, a.report);
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
  }),
};
export type Command = keyof typeof commands;
export const isCommand = (s: string): s is Command => Object.hasOwn(commands, s);

/**
 * Throws ConfigError naming the first setting `command` needs and lacks. The CLI calls it before
 * runJob, so a configuration error exits 2 having created nothing and recorded no run.
 */
export function preflight(config: Config, command: Command): void {
  commands[command].prepare(config, command);
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

interface JobRun {
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
    const o = await spec.prepare(config, command)(jlog, args);
    ok = true;
    summary = o.summary;
    values = o.values;
  } catch (e) {
    error = e instanceof Error ? e : new Error(String(e));
    values = e instanceof JobFailure ? e.values : spec.onFailure;
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
