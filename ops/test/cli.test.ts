// The ops CLI's command line (node:util parseArgs underneath): what each command takes, table-driven,
// and the exit status and one-line error of a refused command line, run as a person runs it.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { helpRequest, readCommandLine } from "../src/cli.ts";
import { commands } from "../src/jobs.ts";
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
    [["backups"], /^unknown command "backups"$/],
    // The hand-written reader turned force on for any `--force…`, `--force=false` included.
    [["restore", "--target", "scratch", "--force=false"], /^Option '--force' does not take an argument$/],
    [
      ["restore", "--target", "scratch", "--forse"],
      /^restore does not take --forse: it takes --target, --file, --force, --from, --replace-live-database, --allow-unauthenticated, --allow-other-prefix$/,
    ],
    [
      ["restore", "--target", "scratch", "-f"],
      /^restore does not take -f: it takes --target, --file, --force, --from, --replace-live-database, --allow-unauthenticated, --allow-other-prefix$/,
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

const cli = (argv: string[], env: Record<string, string | undefined> = process.env) =>
  spawnSync(join(repoRoot, "node_modules/.bin/tsx"), [join(repoRoot, "ops/src/cli.ts"), ...argv], {
    env: env as NodeJS.ProcessEnv,
    encoding: "utf8",
    timeout: 60_000,
  });
const allCommands = [...Object.keys(commands), "schedule"];

describe("ops CLI: --help and --version", () => {
  test("--help, -h and help print the usage of every command on stdout and exit 0", () => {
    for (const argv of [["--help"], ["-h"], ["help"]]) {
      const r = cli(argv);
      assert.equal(r.status, 0, `${argv.join(" ")}: ${r.stderr}`);
      assert.equal(r.stderr, "");
      assert.match(r.stdout, /^usage: npm run ops -- <command> \[options\]\n/);
      for (const c of allCommands) assert.match(r.stdout, new RegExp(`^  ${c}\\b`, "m"), `${c} listed`);
      assert.match(r.stdout, /Exit status: 0 done, 1 the job failed, 2 a usage or configuration error/);
    }
  });

  test("every command's --help prints that command alone (no configuration read, nothing run)", () => {
    for (const c of allCommands) {
      const text = helpRequest([c, "--help"]);
      assert.ok(text, `${c} --help`);
      assert.match(text, new RegExp(`^usage: npm run ops -- ${c}\\b`));
      for (const other of allCommands.filter((o) => o !== c && !o.startsWith(c) && !c.startsWith(o)))
        assert.doesNotMatch(text, new RegExp(`^  ${other}\\b`, "m"), `${c} --help lists ${other}`);
      // Among other options too, and before `--` only.
      assert.equal(helpRequest([c, "--from", "local", "-h"]), text);
    }
    assert.equal(helpRequest(["verify", "--", "--help"]), undefined);
    assert.equal(helpRequest(["restore", "--target", "help"]), undefined, "a database named help");
    // As run: a broken configuration does not stop --help, and the job does not run.
    const r = cli(["backup", "--help"], { ...process.env, OPS_BACKUP_RETENTION_DAYS: "soon" });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^usage: npm run ops -- backup\n/);
  });

  test("--version prints the package's version, alone or after a command", () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { version: string };
    for (const argv of [["--version"], ["report", "--version"]]) {
      const r = cli(argv);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, `ops ${pkg.version}\n`);
    }
  });
});

describe("ops CLI: a configuration error exits 2, creates nothing and records no run", () => {
  test("each job without DATABASE_URL (and the scheduler with a job scheduled): exit 2, one line, no folder created", () => {
    const dir = mkdtempSync(join(tmpdir(), "kali-ops-unconfigured-"));
    try {
      const env: Record<string, string | undefined> = {
        ...process.env,
        DATABASE_URL: undefined,
        DATABASE_URL_FILE: undefined,
        OPS_TEXTFILE_DIR: join(dir, "textfile"),
        OPS_BACKUP_DIR: join(dir, "backups"),
        OPS_REPORT_DIR: join(dir, "reports"),
        OPS_LOG_DIR: join(dir, "logs"),
      };
      for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
      const runs: [string[], string][] = [
        ...Object.keys(commands).map((c): [string[], string] => [
          c === "restore" ? [c, "--target", "scratch"] : [c],
          c,
        ]),
        [["schedule"], "backup"],
      ];
      // Half of the off-site store's key pair: refused before the dump is made.
      const half = cli(["backup"], {
        ...env,
        DATABASE_URL: "postgres://u:p@127.0.0.1:1/app",
        OPS_S3_BUCKET: "kali-backups",
        OPS_S3_ACCESS_KEY_ID: "AKIAEXAMPLE",
      });
      assert.equal(half.status, 2, half.stderr);
      assert.equal(
        half.stderr,
        "ops: configuration error: OPS_S3_ACCESS_KEY_ID and OPS_S3_SECRET_ACCESS_KEY go together: set both or neither (or their *_FILE)\n",
      );
      for (const [argv, job] of runs) {
        const r = cli(argv, env);
        assert.equal(r.status, 2, `${argv.join(" ")}: exit ${r.status}\n${r.stderr}`);
        assert.equal(r.stdout, "");
        assert.equal(
          r.stderr,
          `ops: configuration error: DATABASE_URL is not set (${job} needs it; or set DATABASE_URL_FILE)\n`,
        );
        for (const d of ["textfile", "backups", "reports", "logs"])
          assert.equal(existsSync(join(dir, d)), false, `${argv.join(" ")} created ${d}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
