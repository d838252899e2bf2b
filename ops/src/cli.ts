// The ops CLI: `npm run ops -- <command> [options]`. Wiring only (config, logger, signals, exit
// status); the jobs live in their own modules. Exit status 0 on success (and for --help, --version),
// 1 on failure with one error line on stderr, 2 on a usage or configuration error, which is found
// before the job starts: nothing is created (no textfile folder) and no run is recorded.
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { createLogger } from "../../lib/log.ts";
import { ConfigError, loadConfig, redactor, type Config } from "./config.ts";
import { commands, isCommand, preflight, runJob, type Command, type JobArgs } from "./jobs.ts";
import { runScheduler, type ScheduledJob } from "./schedule.ts";
import { initRunCounters } from "./metrics-file.ts";
import { jobNames } from "../../definitions/metrics/jobs.ts";
import { stackVersion } from "../../lib/version.ts";

// Each command's help (`ops <command> --help`); the general usage lists them all.
const commandHelp: Record<Command | "schedule", string> = {
  backup: `  backup                         pg_dump DATABASE_URL into OPS_BACKUP_DIR (+ .sha256, .json), apply retention;
                                 with OPS_S3_BUCKET, upload it off-site (encrypted with a key) and apply retention there`,
  verify: `  verify [--from local|remote] [--file F] [--allow-unauthenticated] [--allow-other-prefix]
                                 restore the newest backup (or F) into a scratch database and check it`,
  restore: `  restore --target DB [--from local|remote] [--file F] [--force] [--replace-live-database]
          [--allow-unauthenticated] [--allow-other-prefix]
                                 restore the newest backup (or F) into a scratch database, check it, then
                                 rename it to DB; an existing DB is kept as DB_before_<time>; a non-empty
                                 DB only with --force (which also ends its sessions); DATABASE_URL's own
                                 database only with --replace-live-database as well
                                 --allow-unauthenticated: with OPS_BACKUP_ENCRYPTION_KEY set, accept an
                                 off-site copy the key does not authenticate (plain, or written before
                                 copies were authenticated); refused otherwise
                                 --allow-other-prefix: accept an authenticated off-site copy uploaded
                                 under another OPS_S3_PREFIX (one you moved yourself); refused otherwise`,
  "dr-drill": `  dr-drill [--from local|remote]
                                 backup, restore into a scratch database (from the off-site copy when
                                 OPS_S3_BUCKET is set), check, time it (the RTO, download included)`,
  cleanup: `  cleanup                        old scans (batched), rotated logs, stale cache keys`,
  report: `  report [--until ISO] [--days N | --hours H]
                                 weekly performance report into OPS_REPORT_DIR: the N days (default 7)
                                 before --until (default now), or a shorter period of H hours (a decimal
                                 of at least a minute, e.g. 0.25 for 15 minutes, 6 for a shift)`,
  schedule: `  schedule                       run the jobs on their OPS_SCHEDULE_* times until SIGTERM`,
};
const footer = `Settings are environment variables (docs/operations/backup-and-recovery.md, maintenance.md).
Exit status: 0 done, 1 the job failed, 2 a usage or configuration error (nothing was run or recorded).
  --help, -h                     this help (after a command: that command's)
  --version                      the version`;
const usage = `usage: npm run ops -- <command> [options]
${Object.values(commandHelp).join("\n")}`;

class UsageError extends Error {}

/** `--hours`: a plain decimal (`6`, `0.25`), one minute at least; no sign, exponent or unit. */
function parseHours(text: string): number {
  const h = Number(text);
  if (!/^\d+(?:\.\d+)?$/.test(text) || !(h * 60 >= 1))
    throw new UsageError(
      `--hours ${JSON.stringify(text)} is not a number of hours of at least one minute (e.g. 0.25, 6)`,
    );
  return h;
}

/** Touched every 30 s by `schedule`; compose's healthcheck wants it younger than two minutes. */
export const heartbeatFile = join(tmpdir(), "kali-ops-scheduler.alive");

// Each command's options, read by node:util's parseArgs: `--name value` or `--name=value` for a string,
// a bare `--force` for a switch (`--force=false` is refused, not read as on).
const commandOptions = {
  backup: {},
  verify: {
    file: { type: "string" },
    from: { type: "string" },
    "allow-unauthenticated": { type: "boolean" },
    "allow-other-prefix": { type: "boolean" },
  },
  restore: {
    target: { type: "string" },
    file: { type: "string" },
    force: { type: "boolean" },
    from: { type: "string" },
    "replace-live-database": { type: "boolean" },
    "allow-unauthenticated": { type: "boolean" },
    "allow-other-prefix": { type: "boolean" },
  },
  "dr-drill": { from: { type: "string" } },
  cleanup: {},
  report: { until: { type: "string" }, days: { type: "string" }, hours: { type: "string" } },
  schedule: {},
} as const satisfies Record<Command | "schedule", ParseArgsConfig["options"]>;

/**
 * `--help`/`-h` or `--version` anywhere before `--`: the text to print on stdout (exit 0), else
 * undefined. After a known command, that command's help.
 */
export function helpRequest(argv: string[]): string | undefined {
  const end = argv.indexOf("--");
  const words = end < 0 ? argv : argv.slice(0, end);
  if (words.includes("--version")) return `ops ${stackVersion}`;
  if (!(words[0] === "help" || words.some((w) => w === "--help" || w === "-h"))) return undefined;
  const command = words[0];
  if (command === "schedule" || (command !== undefined && isCommand(command))) {
    const synopsis = commandHelp[command].trim().split(/\s{2,}/)[0];
    return `usage: npm run ops -- ${synopsis}\n${commandHelp[command]}\n${footer}`;
  }
  return `${usage}\n${footer}`;
}

function parseCommandLine(argv: string[]): { command: Command | "schedule"; args: JobArgs } {
  const [command, ...rest] = argv;
  if (!command) throw new UsageError("no command given");
  if (command !== "schedule" && !isCommand(command))
    throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  const options: ParseArgsConfig["options"] = commandOptions[command];
  const names = Object.keys(options);
  const takes = names.length ? `it takes ${names.map((n) => `--${n}`).join(", ")}` : "it takes no options";
  // A first, lenient pass names what the command does not take, and an option given twice (the strict
  // pass would keep the last one silently).
  const seen = new Set<string>();
  for (const t of parseArgs({ args: rest, options, strict: false, allowPositionals: true, tokens: true })
    .tokens) {
    if (t.kind === "positional") throw new UsageError(`unexpected argument ${JSON.stringify(t.value)}`);
    if (t.kind !== "option") continue;
    if (!Object.hasOwn(options, t.name))
      throw new UsageError(`${command} does not take ${t.rawName}: ${takes}`);
    if (seen.has(t.name)) throw new UsageError(`${t.rawName} is given twice`);
    seen.add(t.name);
  }
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args: rest, options, strict: true, allowPositionals: false })
      .values as typeof values;
  } catch (e) {
    // "Option '--force' does not take an argument", "Option '--target <value>' argument missing", …
    throw new UsageError((e as Error).message.replace(/\s*\n\s*/g, " "));
  }
  for (const [k, v] of Object.entries(values))
    if (v === "") throw new UsageError(`--${k} needs a value that is not empty`);
  const str = (k: string) => values[k] as string | undefined;
  const args: { -readonly [K in keyof JobArgs]: JobArgs[K] } = {};
  if (str("file") !== undefined) args.file = str("file");
  const from = str("from");
  if (from !== undefined && from !== "local" && from !== "remote")
    throw new UsageError(`--from ${JSON.stringify(from)} is not local or remote`);
  if (from) args.source = from;
  const allowUnauthenticated = values["allow-unauthenticated"] === true;
  if (allowUnauthenticated) args.allowUnauthenticated = true;
  const allowOtherPrefix = values["allow-other-prefix"] === true;
  if (allowOtherPrefix) args.allowOtherPrefix = true;
  if (command === "restore") {
    const target = str("target");
    if (!target) throw new UsageError("restore needs --target <database>");
    args.restore = {
      target,
      from: str("file"),
      force: values.force === true,
      ...(values["replace-live-database"] === true ? { replaceLive: true } : {}),
      ...(allowUnauthenticated ? { allowUnauthenticated } : {}),
      ...(allowOtherPrefix ? { allowOtherPrefix } : {}),
      ...(args.source ? { source: args.source } : {}),
    };
  }
  if (command === "report") {
    const until = str("until");
    const days = str("days");
    const u = until !== undefined ? new Date(until) : undefined;
    if (u && Number.isNaN(u.getTime()))
      throw new UsageError(`--until ${JSON.stringify(until)} is not a date`);
    if (days !== undefined && !/^[1-9]\d*$/.test(days))
      throw new UsageError(`--days ${JSON.stringify(days)} is not a whole number above 0`);
    const hours = str("hours");
    if (hours !== undefined && days !== undefined)
      throw new UsageError("--days and --hours both give the period's length: give one of them");
    args.report = { until: u, days: days !== undefined ? Number(days) : undefined };
    if (hours !== undefined) args.report = { ...args.report, hours: parseHours(hours) };
  }
  return { command, args };
}

/** The command line as the CLI reads it, or the usage error it prints (exported for the tests). */
export function readCommandLine(
  argv: string[],
): { command: Command | "schedule"; args: JobArgs } | { usageError: string } {
  try {
    return parseCommandLine(argv);
  } catch (e) {
    if (e instanceof UsageError) return { usageError: e.message };
    throw e;
  }
}

function scheduledJobs(config: Config): ScheduledJob[] {
  const table: [Command, Config[keyof Config]][] = [
    ["backup", config.scheduleBackup],
    ["verify", config.scheduleVerify],
    ["cleanup", config.scheduleCleanup],
    ["dr-drill", config.scheduleDrDrill],
    ["report", config.scheduleReport],
  ];
  return table.flatMap(([name, s]) => (s ? [{ name, schedule: s as ScheduledJob["schedule"] }] : []));
}

export async function main(
  argv: string[],
  env: Record<string, string | undefined> = process.env,
): Promise<number> {
  const help = helpRequest(argv);
  if (help !== undefined) {
    process.stdout.write(`${help}\n`);
    return 0;
  }
  let parsed: ReturnType<typeof parseCommandLine>;
  let config: Config;
  try {
    parsed = parseCommandLine(argv);
    config = loadConfig(env);
    // What the command (or every scheduled job) needs, before anything is created or recorded.
    if (parsed.command === "schedule")
      for (const j of scheduledJobs(config)) preflight(config, j.name as Command);
    else preflight(config, parsed.command);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`ops: ${e.message}\n${usage}\n`);
      return 2;
    }
    if (e instanceof ConfigError) {
      process.stderr.write(`ops: configuration error: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const redact = redactor(config);
  const log = createLogger({ level: config.logLevel, logger: "ops", redact });

  if (parsed.command === "schedule") {
    const jobs = scheduledJobs(config);
    const stop = new AbortController();
    const onSignal = (sig: string) => {
      log.info("stopping after the running job, if any", { signal: sig });
      stop.abort();
    };
    process.once("SIGTERM", () => onSignal("SIGTERM"));
    process.once("SIGINT", () => onSignal("SIGINT"));
    log.info("scheduler started", { jobs: jobs.map((j) => `${j.name}: ${j.schedule.text}`) });
    // The container's healthcheck reads this file's age: the scheduler has no HTTP port to probe.
    const beat = () => writeFile(heartbeatFile, new Date().toISOString() + "\n").catch(() => undefined);
    void beat();
    const heartbeat = setInterval(() => void beat(), 30_000);
    // Every job's run counters at 0 before its first run, so that run is counted (metrics-file.ts).
    try {
      const zeroed = await initRunCounters(config.textfileDir, jobNames);
      if (zeroed.length) log.info("run counters published at 0", { jobs: zeroed });
    } catch (e) {
      log.error("run counters could not be published", { dir: config.textfileDir, error: e });
    }
    await runScheduler({
      jobs,
      signal: stop.signal,
      // runJob reports a job's own failure; what escapes it (the metrics file could not be written) is
      // logged here, and the scheduler carries on with the next job.
      run: (name) =>
        runJob(config, log, name as Command, { trigger: "scheduler" }).catch((e: unknown) =>
          log.error("job could not record its result", { job: name, error: e }),
        ),
      onPlan: (name, at) => log.info("next run planned", { job: name, at: at.toISOString() }),
    });
    clearInterval(heartbeat);
    log.info("scheduler stopped");
    return 0;
  }

  const result = await runJob(config, log, parsed.command, parsed.args);
  if (!result.ok) {
    process.stderr.write(
      redact(`ops ${parsed.command}: ${result.error?.message ?? "failed"}`).replace(/[\r\n]+/g, " ") + "\n",
    );
    return 1;
  }
  return 0;
}

// Run when executed, not when imported by a test.
if (process.argv[1] && /ops\/src\/cli\.(ts|js)$/.test(process.argv[1])) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (e: unknown) => {
      process.stderr.write(`ops: ${(e as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
export { commands };
