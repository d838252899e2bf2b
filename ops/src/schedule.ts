// Cron-like schedules for the `schedule` command: five fields `minute hour day-of-month month
// day-of-week`, evaluated in UTC (a server's local time zone would move the runs twice a year). Each
// field takes `*`, numbers, ranges `a-b`, lists `a,b` and steps `*/n` or `a-b/n`; day-of-week 0 or 7 is
// Sunday. As in Vixie cron, when both day-of-month and day-of-week are restricted a day matching either
// one is due.

export interface Schedule {
  readonly text: string;
  readonly minutes: ReadonlySet<number>;
  readonly hours: ReadonlySet<number>;
  readonly days: ReadonlySet<number>;
  readonly months: ReadonlySet<number>;
  readonly weekdays: ReadonlySet<number>;
  readonly daysRestricted: boolean;
  readonly weekdaysRestricted: boolean;
}

const fields = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day-of-month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12 },
  { name: "day-of-week", min: 0, max: 7 },
] as const;

function parseField(text: string, f: (typeof fields)[number]): Set<number> {
  const out = new Set<number>();
  for (const part of text.split(",")) {
    const m = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
    if (!m) throw new Error(`${f.name} field ${JSON.stringify(part)} is not *, n, a-b, a,b or */n`);
    const step = m[4] === undefined ? 1 : Number(m[4]);
    let lo: number = f.min;
    let hi: number = f.max;
    if (m[1] !== "*") {
      lo = Number(m[2]);
      // `5/15` means from 5 to the end in steps of 15, as in cron.
      hi = m[3] !== undefined ? Number(m[3]) : m[4] !== undefined ? f.max : lo;
    }
    if (lo < f.min || hi > f.max || lo > hi)
      throw new Error(`${f.name} field ${JSON.stringify(part)} is outside ${f.min}-${f.max}`);
    if (step < 1) throw new Error(`${f.name} field ${JSON.stringify(part)} has a step below 1`);
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return out;
}

export function parseSchedule(text: string): Schedule {
  const parts = text.trim().split(/\s+/);
  if (parts.length !== 5)
    throw new Error(
      `${JSON.stringify(text)} is not a cron schedule of 5 fields (minute hour day-of-month month day-of-week)`,
    );
  const sets = parts.map((p, i) => parseField(p, fields[i]!));
  const weekdays = sets[4]!;
  if (weekdays.has(7)) {
    weekdays.delete(7);
    weekdays.add(0);
  }
  return {
    text,
    minutes: sets[0]!,
    hours: sets[1]!,
    days: sets[2]!,
    months: sets[3]!,
    weekdays,
    daysRestricted: parts[2] !== "*",
    weekdaysRestricted: parts[4] !== "*",
  };
}

function dayMatches(s: Schedule, d: Date): boolean {
  const dom = s.days.has(d.getUTCDate());
  const dow = s.weekdays.has(d.getUTCDay());
  if (s.daysRestricted && s.weekdaysRestricted) return dom || dow;
  return dom && dow;
}

/** The first minute strictly after `after` at which the schedule is due (UTC). */
export function nextRun(s: Schedule, after: Date): Date {
  const t = new Date(after.getTime());
  t.setUTCSeconds(0, 0);
  t.setUTCMinutes(t.getUTCMinutes() + 1);
  // Five years covers every valid schedule (29 February with a weekday restriction aside, which
  // still recurs within 28 years; such a schedule is reported instead of looping).
  const limit = after.getTime() + 5 * 366 * 24 * 3600 * 1000;
  while (t.getTime() <= limit) {
    if (!s.months.has(t.getUTCMonth() + 1)) {
      t.setUTCMonth(t.getUTCMonth() + 1, 1);
      t.setUTCHours(0, 0, 0, 0);
    } else if (!dayMatches(s, t)) {
      t.setUTCDate(t.getUTCDate() + 1);
      t.setUTCHours(0, 0, 0, 0);
    } else if (!s.hours.has(t.getUTCHours())) {
      t.setUTCHours(t.getUTCHours() + 1, 0, 0, 0);
    } else if (!s.minutes.has(t.getUTCMinutes())) {
      t.setUTCMinutes(t.getUTCMinutes() + 1, 0, 0);
    } else return t;
  }
  throw new Error(`schedule ${JSON.stringify(s.text)} is never due within five years`);
}

export interface ScheduledJob {
  readonly name: string;
  readonly schedule: Schedule;
}

export interface SchedulerOptions {
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
