// The ops CLI's command line (node:util parseArgs underneath): what each command takes, table-driven,
// and the exit status and one-line error of a refused command line, run as a person runs it.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, test } from "node:test";
import { readCommandLine } from "../src/cli.ts";
import { repoRoot } from "./support.ts";

describe("ops CLI: command line", () => {
  const accepted: { argv: string[]; want: ReturnType<typeof readCommandLine> }[] = [
    { argv: ["backup"], want: { command: "backup", args: {} } },
    { argv: ["schedule"], want: { command: "schedule", args: {} } },
    { argv: ["verify", "--file", "/b/x.dump"], want: { command: "verify", args: { file: "/b/x.dump" } } },
    { argv: ["verify", "--file=/b/x.dump"], want: { command: "verify", args: { file: "/b/x.dump" } } },
    {
      argv: ["restore", "--target", "scratch"],
      want: { command: "restore", args: { restore: { target: "scratch", from: undefined, force: false } } },
    },
    {
      argv: ["restore", "--force", "--target=scratch", "--file", "f.dump"],
      want: {
        command: "restore",
        args: { file: "f.dump", restore: { target: "scratch", from: "f.dump", force: true } },
      },
    },
    {
      argv: [
        "restore",
        "--target",
        "kali",
        "--replace-live-database",
        "--from=remote",
        "--allow-unauthenticated",
      ],
      want: {
        command: "restore",
        args: {
          source: "remote",
          allowUnauthenticated: true,
          restore: {
            target: "kali",
            from: undefined,
            force: false,
            replaceLive: true,
            allowUnauthenticated: true,
            source: "remote",
          },
        },
      },
    },
    {
      argv: ["verify", "--from", "remote", "--allow-unauthenticated"],
      want: { command: "verify", args: { source: "remote", allowUnauthenticated: true } },
    },
    {
      argv: ["report", "--until", "2026-11-30T00:00:00Z", "--days=7"],
      want: { command: "report", args: { report: { until: new Date("2026-11-30T00:00:00Z"), days: 7 } } },
    },
    {
      argv: ["report"],
      want: { command: "report", args: { report: { until: undefined, days: undefined } } },
    },
    {
      argv: ["report", "--until", "2026-12-02T04:00:00Z", "--hours", "0.25"],
      want: {
        command: "report",
        args: { report: { until: new Date("2026-12-02T04:00:00Z"), days: undefined, hours: 0.25 } },
      },
    },
    {
      argv: ["report", "--hours=6"],
      want: { command: "report", args: { report: { until: undefined, days: undefined, hours: 6 } } },
    },
    {
      // One minute: 1/60 of an hour, to the digits given.
      argv: ["report", "--hours", "0.0167"],
      want: { command: "report", args: { report: { until: undefined, days: undefined, hours: 0.0167 } } },
    },
  ];
  for (const c of accepted)
    test(`reads ${c.argv.join(" ")}`, () => assert.deepEqual(readCommandLine(c.argv), c.want));

  const refused: [string[], RegExp][] = [
    [[], /^no command given$/],
    [["--help"], /^no command given$/],
    [["backups"], /^unknown command "backups"$/],
    // The hand-written reader turned force on for any `--force…`, `--force=false` included.
    [["restore", "--target", "scratch", "--force=false"], /^Option '--force' does not take an argument$/],
    [
      ["restore", "--target", "scratch", "--forse"],
      /^restore does not take --forse: it takes --target, --file, --force, --from, --replace-live-database, --allow-unauthenticated$/,
    ],
    [
      ["restore", "--target", "scratch", "-f"],
      /^restore does not take -f: it takes --target, --file, --force, --from, --replace-live-database, --allow-unauthenticated$/,
    ],
    [["backup", "--file", "x"], /^backup does not take --file: it takes no options$/],
    [["verify", "x.dump"], /^unexpected argument "x.dump"$/],
    [["verify", "--", "x.dump"], /^unexpected argument "x.dump"$/],
    [["verify", "--file"], /^Option '--file <value>' argument missing$/],
    [["verify", "--file="], /^--file needs a value that is not empty$/],
    [["restore", "--target", "--force"], /^Option '--target' argument is ambiguous\. Did you forget/],
    [["restore", "--target", "a", "--target", "b"], /^--target is given twice$/],
    [["restore", "--file", "f.dump"], /^restore needs --target <database>$/],
    [["report", "--until", "last monday"], /^--until "last monday" is not a date$/],
    [["report", "--days", "0"], /^--days "0" is not a whole number above 0$/],
    [["report", "--days", "7.5"], /^--days "7.5" is not a whole number above 0$/],
    ...["0", "0.0166", "-1", "+1", ".5", "1.", "1e-1", "0x10", "6h", " 6", "Infinity", "NaN"].map(
      (h): [string[], RegExp] => [
        ["report", `--hours=${h}`],
        new RegExp(
          `^--hours ${JSON.stringify(h).replace(/[.+*]/g, "\\$&")} is not a number of hours of at least one minute \\(e\\.g\\. 0\\.25, 6\\)$`,
        ),
      ],
    ),
    [
      ["report", "--days", "1", "--hours", "6"],
      /^--days and --hours both give the period's length: give one of them$/,
    ],
    [["report", "--hours", "6", "--hours", "7"], /^--hours is given twice$/],
  ];
  for (const [argv, want] of refused)
    test(`refuses ${JSON.stringify(argv)}`, () => {
      const r = readCommandLine(argv);
      assert.ok("usageError" in r, `refused, not read as ${JSON.stringify(r)}`);
      assert.match(r.usageError, want);
    });

  test("a refused command line exits 2 with the error and the usage, before any configuration is read", () => {
    const r = spawnSync(
      join(repoRoot, "node_modules/.bin/tsx"),
      [join(repoRoot, "ops/src/cli.ts"), "restore", "--target", "scratch", "--force=false"],
      // A bad configuration too: the command line is judged first, and nothing is run.
      { env: { ...process.env, OPS_BACKUP_RETENTION_DAYS: "soon" }, encoding: "utf8" },
    );
    assert.equal(r.status, 2);
    assert.equal(r.stdout, "");
    const [first, second] = r.stderr.split("\n");
    assert.equal(first, "ops: Option '--force' does not take an argument");
    assert.match(second!, /^usage: npm run ops -- <command> \[options\]$/);
  });
});
