// Cron schedules for the `schedule` command: five fields `minute hour day-of-month month day-of-week`,
// evaluated in UTC (a server's local time zone would move the runs twice a year), with Vixie cron's
// syntax: `*`, numbers, ranges `a-b`, lists `a,b`, steps `*/n` or `a-b/n`, names (`jan`, `mon`) in the
// month and day-of-week fields; day-of-week 0 or 7 is Sunday.
//
// The next-run arithmetic is croner's (a maintained, dependency-free library), not ours. Vixie cron's
// day rule is configured explicitly, because no library follows it by default (croner, cron-parser and
// cron-schedule all fire `0 0 */2 * 1` on every odd day and every Monday; measured, see the test): when
// day-of-month and day-of-week are both restricted a day matching either one is due, and a day field
// whose text starts with `*` (`*`, `*/2`) does not count as restricted, so the two are then ANDed
// (`0 0 */2 * 1` fires on Mondays that are odd days). croner's `domAndDow` picks AND or OR per schedule.
//
// What stays hand-written is a check of each field's shape and bounds before croner sees it: croner also
// accepts Quartz extensions (`L`, `W`, `#`, `?`, a `+` before day-of-week) that Vixie cron does not, and
// names a day-of-month of 0 "day: -1"; the check refuses the extensions and names the field and its range.
import { Cron } from "croner";

export interface Schedule {
  readonly text: string;
  readonly cron: Cron;
}

const monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const dayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

const fields = [
  { name: "minute", min: 0, max: 59, names: [] as string[] },
  { name: "hour", min: 0, max: 23, names: [] as string[] },
  { name: "day-of-month", min: 1, max: 31, names: [] as string[] },
  { name: "month", min: 1, max: 12, names: monthNames },
  { name: "day-of-week", min: 0, max: 7, names: dayNames },
] as const;

function checkField(text: string, f: (typeof fields)[number]): void {
  for (const part of text.split(",")) {
    const m = /^(?:\*|([0-9]+|[a-z]{3})(?:-([0-9]+|[a-z]{3}))?)(?:\/([0-9]+))?$/i.exec(part);
    // `5/15` is refused too: Vixie cron reads it as 5 alone, later crons as 5-59/15.
    if (!m || (m[1] !== undefined && m[2] === undefined && m[3] !== undefined))
      throw new Error(`${f.name} field ${JSON.stringify(part)} is not *, n, a-b, a,b, */n or a-b/n`);
    for (const v of [m[1], m[2]]) {
      if (v === undefined) continue;
      if (/^[0-9]/.test(v)) {
        if (Number(v) < f.min || Number(v) > f.max)
          throw new Error(`${f.name} field ${JSON.stringify(part)} is outside ${f.min}-${f.max}`);
      } else if (!(f.names as readonly string[]).includes(v.toLowerCase()))
        throw new Error(
          `${f.name} field ${JSON.stringify(part)} is not a number` +
            (f.names.length ? ` nor one of ${f.names.join(", ")}` : ""),
        );
    }
    if (m[3] !== undefined && Number(m[3]) < 1)
      throw new Error(`${f.name} field ${JSON.stringify(part)} has a step below 1`);
  }
}

export function parseSchedule(text: string): Schedule {
  const parts = text.trim().split(/\s+/);
  if (parts.length !== 5)
    throw new Error(
      `${JSON.stringify(text)} is not a cron schedule of 5 fields (minute hour day-of-month month day-of-week)`,
    );
  parts.forEach((p, i) => checkField(p, fields[i]!));
  let cron: Cron;
  try {
    cron = new Cron(parts.join(" "), {
      mode: "5-part",
      timezone: "UTC",
      domAndDow: parts[2]!.startsWith("*") || parts[4]!.startsWith("*"),
    });
  } catch (e) {
    // What the shape check lets through and croner refuses, e.g. a range running backwards (`5-1`).
    throw new Error(`${JSON.stringify(text)}: ${(e as Error).message.replace(/^CronPattern: /, "")}`);
  }
  // `0 0 30 2 *` parses but never comes: refused with the configuration instead of when first planned.
  if (cron.nextRun() === null) throw new Error(`${JSON.stringify(text)} is never due (no such date)`);
  return { text, cron };
}

/** The first minute strictly after `after` at which the schedule is due (UTC). */
export function nextRun(s: Schedule, after: Date): Date {
  const at = s.cron.nextRun(after);
  if (!at) throw new Error(`schedule ${JSON.stringify(s.text)} is never due`);
  return at;
}

export interface ScheduledJob {
  readonly name: string;
  readonly schedule: Schedule;
}

interface SchedulerOptions {
  readonly jobs: readonly ScheduledJob[];
  /** Runs one job to its end; the scheduler never runs two at once. */
  readonly run: (name: string) => Promise<unknown>;
  readonly signal: AbortSignal;
  readonly now?: () => Date;
  /** Called with each job's next run time when it is (re)computed. */
  readonly onPlan?: (name: string, at: Date) => void;
}

/** Sleeps until `ms` have passed or the signal aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

/**
 * Runs each job when due, one at a time, until the signal aborts; a job running then finishes first
 * (SIGTERM is graceful). A job that came due while another ran runs right after it; runs missed while
 * the scheduler was down are not caught up (the next due time counts from the start).
 */
export async function runScheduler(opts: SchedulerOptions): Promise<void> {
  const now = opts.now ?? (() => new Date());
  const plan = new Map<string, Date>();
  const planNext = (job: ScheduledJob, after: Date) => {
    const at = nextRun(job.schedule, after);
    plan.set(job.name, at);
    opts.onPlan?.(job.name, at);
  };
  for (const job of opts.jobs) planNext(job, now());
  while (!opts.signal.aborted && opts.jobs.length > 0) {
    const due = opts.jobs
      .filter((j) => plan.get(j.name)!.getTime() <= now().getTime())
      .sort((a, b) => plan.get(a.name)!.getTime() - plan.get(b.name)!.getTime());
    const job = due[0];
    if (job) {
      const scheduled = plan.get(job.name)!;
      await opts.run(job.name).catch(() => undefined);
      // From the later of its due time and now: a job that overran its own period skips the runs it
      // missed instead of running back to back.
      const t = now();
      planNext(job, t > scheduled ? t : scheduled);
      continue;
    }
    const earliest = Math.min(...opts.jobs.map((j) => plan.get(j.name)!.getTime()));
    // At most a minute at a time: a clock that jumps (suspend, NTP) is noticed within a minute.
    await sleep(Math.max(0, Math.min(earliest - now().getTime(), 60_000)), opts.signal);
  }
}
