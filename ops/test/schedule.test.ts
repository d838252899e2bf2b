// The scheduler: next run times (table-driven, UTC), bad schedules named, a due job run, one job at a
// time, and the CLI's `schedule` stopping on SIGTERM.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { parse } from "yaml";
import { jobNames } from "../../definitions/metrics/jobs.ts";
import { parseExposition } from "../../lib/exposition.ts";
import { tempDir, waitFor } from "../../test/support/servers.ts";
import { initRunCounters, writeJobMetrics } from "../src/metrics-file.ts";
import { heartbeatFile } from "../src/cli.ts";
import { loadConfig } from "../src/config.ts";
import { nextRun, parseSchedule, runScheduler } from "../src/schedule.ts";
import { repoRoot } from "./support.ts";

describe("schedule: next run", () => {
  const cases: { name: string; cron: string; after: string; want: string }[] = [
    {
      name: "daily 02:00, before it",
      cron: "0 2 * * *",
      after: "2026-11-27T01:59:30Z",
      want: "2026-11-27T02:00:00.000Z",
    },
    {
      name: "daily 02:00, exactly at it: strictly after",
      cron: "0 2 * * *",
      after: "2026-11-27T02:00:00Z",
      want: "2026-11-28T02:00:00.000Z",
    },
    {
      name: "daily 02:00, across a month end",
      cron: "0 2 * * *",
      after: "2026-11-30T03:00:00Z",
      want: "2026-12-01T02:00:00.000Z",
    },
    {
      name: "daily 02:00, across a year end",
      cron: "0 2 * * *",
      after: "2026-12-31T23:00:00Z",
      want: "2027-01-01T02:00:00.000Z",
    },
    {
      name: "weekly Monday 06:00 from a Friday",
      cron: "0 6 * * 1",
      after: "2026-11-27T12:00:00Z",
      want: "2026-11-30T06:00:00.000Z",
    },
    {
      name: "Sunday written 7",
      cron: "0 0 * * 7",
      after: "2026-11-27T12:00:00Z",
      want: "2026-11-29T00:00:00.000Z",
    },
    {
      name: "monthly on the 1st",
      cron: "30 4 1 * *",
      after: "2026-11-27T12:00:00Z",
      want: "2026-12-01T04:30:00.000Z",
    },
    {
      name: "every 15 minutes",
      cron: "*/15 * * * *",
      after: "2026-11-27T12:07:00Z",
      want: "2026-11-27T12:15:00.000Z",
    },
    {
      name: "list and range of hours",
      cron: "0 1,13-14 * * *",
      after: "2026-11-27T13:30:00Z",
      want: "2026-11-27T14:00:00.000Z",
    },
    {
      name: "31st skips short months",
      cron: "0 0 31 * *",
      after: "2026-11-01T00:00:00Z",
      want: "2026-12-31T00:00:00.000Z",
    },
    {
      name: "29 February",
      cron: "0 0 29 2 *",
      after: "2026-03-01T00:00:00Z",
      want: "2028-02-29T00:00:00.000Z",
    },
    {
      name: "day-of-month OR day-of-week when both are set",
      cron: "0 0 15 * 1",
      after: "2026-11-27T00:00:00Z",
      want: "2026-11-30T00:00:00.000Z",
    },
    {
      // Vixie cron: a day field starting with `*` is not restricted, so the two day fields are ANDed:
      // Mondays that are odd days (30 November is even, 7 December odd), not every odd day and Monday.
      name: "`*/2` day-of-month with a weekday: odd days that are Mondays",
      cron: "0 0 */2 * 1",
      after: "2026-11-27T00:00:00Z",
      want: "2026-12-07T00:00:00.000Z",
    },
    {
      name: "`*/2` day-of-month with a weekday, the one after",
      cron: "0 0 */2 * 1",
      after: "2026-12-07T00:00:00Z",
      want: "2026-12-21T00:00:00.000Z",
    },
    {
      // The same days written as a range do count as restricted: odd days OR Mondays.
      name: "`1-31/2` day-of-month with a weekday: odd days or Mondays",
      cron: "0 0 1-31/2 * 1",
      after: "2026-11-29T00:00:00Z",
      want: "2026-11-30T00:00:00.000Z",
    },
    {
      // And the other way round: the 1st and 15th that fall on Sunday, Tuesday, Thursday or Saturday.
      name: "day-of-month with a `*/2` weekday: ANDed",
      cron: "0 0 1,15 * */2",
      after: "2026-12-15T00:00:00Z",
      want: "2027-04-01T00:00:00.000Z",
    },
    {
      name: "names of weekdays and months",
      cron: "0 6 * jan mon",
      after: "2026-11-27T12:00:00Z",
      want: "2027-01-04T06:00:00.000Z",
    },
    {
      name: "seconds of `after` are dropped",
      cron: "* * * * *",
      after: "2026-11-27T12:00:59.900Z",
      want: "2026-11-27T12:01:00.000Z",
    },
  ];
  for (const c of cases)
    test(c.name, () => {
      assert.equal(nextRun(parseSchedule(c.cron), new Date(c.after)).toISOString(), c.want);
    });

  const bad: [string, RegExp][] = [
    ["0 2 * *", /not a cron schedule of 5 fields/],
    ["60 2 * * *", /minute field "60" is outside 0-59/],
    ["0 24 * * *", /hour field "24" is outside 0-23/],
    ["0 2 0 * *", /day-of-month field "0" is outside 1-31/],
    ["0 2 * * 8", /day-of-week field "8" is outside 0-7/],
    ["0 2 * 13 *", /month field "13" is outside 1-12/],
    ["0 2 * * mo", /day-of-week field "mo" is not \*, n, a-b/],
    ["0 2 * * mun", /day-of-week field "mun" is not a number nor one of sun, mon/],
    ["0 2 jan * *", /day-of-month field "jan" is not a number$/],
    ["*/0 * * * *", /step below 1/],
    // Quartz extensions croner would take and Vixie cron does not.
    ["0 2 L * *", /day-of-month field "L" is not/],
    ["0 2 * * 1#2", /day-of-week field "1#2" is not/],
    ["0 2 ? * 1", /day-of-month field "\?" is not/],
    ["0 2 1W * *", /day-of-month field "1W" is not/],
    // Vixie cron reads `5/15` as 5 alone, later crons as 5-59/15: refused rather than guessed.
    ["5/15 * * * *", /minute field "5\/15" is not/],
    ["0 2 ,1 * *", /day-of-month field "" is not/],
    ["0 2 5-1 * *", /^Error: "0 2 5-1 \* \*": .*larger/],
    ["0 0 30 2 *", /"0 0 30 2 \*" is never due/],
  ];
  for (const [cron, want] of bad)
    test(`rejects ${JSON.stringify(cron)}`, () => assert.throws(() => parseSchedule(cron), want));

  test("configuration names the variable of a bad schedule; `off` disables a job", () => {
    assert.throws(
      () => loadConfig({ OPS_SCHEDULE_BACKUP: "25 * * * * *" }),
      /^ConfigError: OPS_SCHEDULE_BACKUP: "25 \* \* \* \* \*" is not a cron schedule/,
    );
    assert.equal(loadConfig({ OPS_SCHEDULE_REPORT: "off" }).scheduleReport, undefined);
    assert.equal(loadConfig({}).scheduleBackup?.text, "0 2 * * *");
  });
});

describe("schedule: running", () => {
  test("runs a job when it is due, one job at a time, and stops when aborted", async () => {
    // A clock 300 ms before a minute boundary, so an every-minute job comes due at once.
    const realNow = Date.now();
    const shift = 60_000 - (realNow % 60_000) - 300;
    const now = () => new Date(Date.now() + shift);
    const every = parseSchedule("* * * * *");
    const stop = new AbortController();
    const ran: string[] = [];
    let running = 0;
    let maxRunning = 0;
    const done = runScheduler({
      jobs: [
        { name: "a", schedule: every },
        { name: "b", schedule: every },
        { name: "never", schedule: parseSchedule("0 0 1 1 *") },
      ],
      now,
      signal: stop.signal,
      run: async (name) => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await new Promise((r) => setTimeout(r, 50));
        ran.push(name);
        running--;
      },
    });
    await waitFor("both due jobs to run", () => ran.length >= 2, 5000, 20);
    stop.abort();
    await done;
    assert.deepEqual([...ran].sort(), ["a", "b"]);
    assert.equal(maxRunning, 1, "never two jobs at once");
  });

  test("`npm run ops -- schedule` logs its plan, publishes every job's run counters at 0, and exits 0 on SIGTERM", async () => {
    const started = Date.now() - 1000;
    const textfile = tempDir("ops-schedule-textfile");
    // A file from before the run counters: its series are kept and the counters added.
    writeFileSync(
      join(textfile, "verify.prom"),
      '# TYPE kali_agents_job_last_run_success gauge\nkali_agents_job_last_run_success{job="verify"} 1\n',
    );
    const child = spawn(
      join(repoRoot, "node_modules/.bin/tsx"),
      [join(repoRoot, "ops/src/cli.ts"), "schedule"],
      {
        // The scheduler refuses to start without what its scheduled jobs need (DATABASE_URL): a URL
        // nobody answers is enough, since no job is due while the test runs.
        env: {
          ...process.env,
          OPS_SCHEDULE_REPORT: "off",
          OPS_TEXTFILE_DIR: textfile,
          DATABASE_URL: "postgres://nobody@127.0.0.1:1/none",
        },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    await waitFor(
      "the scheduler's plan",
      () => out.split("\n").filter((l) => l.includes("next run planned")).length === 4,
      20_000,
    );
    // The compose healthcheck, run as compose runs it: passes while the scheduler is alive.
    const compose = parse(readFileSync(join(repoRoot, "compose.yaml"), "utf8")) as {
      services: { ops: { healthcheck: { test: string[] } } };
    };
    const [cmd, node, flag, script] = compose.services.ops.healthcheck.test;
    assert.deepEqual([cmd, node, flag], ["CMD", "node", "-e"]);
    assert.ok(script!.includes(heartbeatFile), `the healthcheck reads ${heartbeatFile}`);
    await waitFor("the heartbeat", () => statSync(heartbeatFile).mtimeMs >= started, 10_000);
    assert.equal(spawnSync(process.execPath, ["-e", script!]).status, 0, "healthy while the scheduler runs");
    child.kill("SIGTERM");
    assert.equal(await exited, 0);
    const events = out
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(
      events.filter((e) => e.msg === "next run planned").map((e) => e.job),
      ["backup", "verify", "cleanup", "dr-drill"],
    );
    assert.equal(events.at(-1)?.msg, "scheduler stopped");
    assert.equal(events[0]?.logger, "ops");
    assert.deepEqual(events.find((e) => e.msg === "run counters published at 0")?.jobs, [...jobNames]);
    for (const job of jobNames) {
      const families = parseExposition(readFileSync(join(textfile, `${job}.prom`), "utf8"));
      assert.deepEqual(
        families
          .get("kali_agents_job_runs_total")!
          .samples.map((x) => [x.labels.result, x.labels.trigger, x.value]),
        [
          ["success", "scheduler", 0],
          ["success", "manual", 0],
          ["failure", "scheduler", 0],
          ["failure", "manual", 0],
        ],
        job,
      );
    }
    const verify = parseExposition(readFileSync(join(textfile, "verify.prom"), "utf8"));
    assert.equal(verify.get("kali_agents_job_last_run_success")?.samples[0]?.value, 1, "kept");
    rmSync(textfile, { recursive: true, force: true });
  });

  test("run counters at 0: a file that has them is left alone, and the first run after counts 1", async () => {
    const dir = tempDir("ops-run-counters");
    try {
      assert.deepEqual(await initRunCounters(dir, ["backup"]), ["backup"]);
      const zero = readFileSync(join(dir, "backup.prom"), "utf8");
      await writeJobMetrics(dir, {
        job: "backup",
        ok: true,
        startedAt: 1e12,
        finishedAt: 1e12 + 5000,
        trigger: "scheduler",
      });
      const once = readFileSync(join(dir, "backup.prom"), "utf8");
      assert.notEqual(once, zero);
      // The scheduler restarts: nothing is reset or rewritten.
      assert.deepEqual(await initRunCounters(dir, ["backup"]), []);
      assert.equal(readFileSync(join(dir, "backup.prom"), "utf8"), once);
      const runs = parseExposition(once).get("kali_agents_job_runs_total")!.samples;
      assert.equal(
        runs.find((x) => x.labels.result === "success" && x.labels.trigger === "scheduler")?.value,
        1,
      );
      assert.equal(
        runs.reduce((a, x) => a + x.value, 0),
        1,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
