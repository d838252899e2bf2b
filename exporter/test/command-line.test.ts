// The exporter's command line, run as a person runs it: --help and --version print and exit 0 without
// serving (a process that started serving would never exit by itself, and the run would time out),
// and any other argument is refused with exit 2 before the configuration is read.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { describe, test } from "node:test";
import { variables } from "../src/config.ts";
import { readCommandLine } from "../src/command-line.ts";
import { freePort } from "../../test/support/servers.ts";

const root = new URL("../..", import.meta.url).pathname;
const bareEnv = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp" };

function run(
  args: string[],
  env: Record<string, string>,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      ["--import", "tsx", "exporter/src/main.ts", ...args],
      { cwd: root, env: { ...bareEnv, ...env }, timeout: 30_000 },
      (_e, stdout, stderr) => resolve({ status: child.exitCode, stdout, stderr }),
    );
  });
}

/** Whether something accepts connections on 127.0.0.1:port. */
const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = connect(port, "127.0.0.1");
    s.once("connect", () => (s.destroy(), resolve(true)));
    s.once("error", () => resolve(false));
  });

describe("exporter command line", { concurrency: true }, () => {
  test("--help lists every variable with its default, exits 0 and serves nothing (even with a bad configuration)", async () => {
    const port = await freePort();
    const r = await run(["--help"], {
      EXPORTER_LISTEN_ADDRESS: `127.0.0.1:${port}`,
      EXPORTER_LOG_LEVEL: "loud",
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, "");
    assert.match(r.stdout, /^usage: kali-agents-exporter \[--help \| --version\]\n/);
    for (const v of Object.values(variables)) assert.match(r.stdout, new RegExp(`^  ${v.env}\\b`, "m"));
    assert.match(r.stdout, /^ {2}SCANS_RETENTION_DAYS +90$/m);
    assert.equal(await listening(port), false);
  });

  test("--version prints the package's version and exits 0", async () => {
    const pkg = JSON.parse(readFileSync(`${root}/package.json`, "utf8")) as { version: string };
    const r = await run(["--version"], {});
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `kali-agents-exporter ${pkg.version}\n`);
  });

  test("any other argument exits 2 with one line, before listening", async () => {
    const port = await freePort();
    const r = await run(["--web.listen-address=:9100"], { EXPORTER_LISTEN_ADDRESS: `127.0.0.1:${port}` });
    assert.equal(r.status, 2);
    assert.equal(r.stdout, "");
    assert.equal(
      r.stderr,
      'kali-agents-exporter: unexpected argument "--web.listen-address=:9100": the exporter takes --help or --version only; its settings are environment variables (--help lists them)\n',
    );
    assert.equal(await listening(port), false);
  });

  test("reads its arguments: none runs, -h is --help, two flags are refused", () => {
    assert.deepEqual(readCommandLine([]), { action: "run" });
    assert.equal(readCommandLine(["-h"]).action, "print");
    assert.deepEqual(readCommandLine(["--help", "--version"]), {
      action: "refuse",
      error: "give one of --help or --version, not --help --version",
    });
    assert.equal(readCommandLine(["serve"]).action, "refuse");
  });
});
