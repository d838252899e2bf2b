// main.ts as a real child process: a bad configuration stops it with one line and exit 1; with nothing
// configured it serves host metrics, logs JSON lines, and stops cleanly on SIGTERM.
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { describe, test } from "node:test";
import { sample, scrape } from "../../test/support/exposition.ts";
import { freePort, waitFor } from "../../test/support/servers.ts";

const root = new URL("../..", import.meta.url).pathname;
const main = ["--import", "tsx", "exporter/src/main.ts"];
// Only what a process needs to run: none of the exporter's variables leak in from the test's environment.
const bareEnv = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp" };

/** Runs main.ts to its end (it must exit by itself). */
function run(
  env: Record<string, string>,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      main,
      { cwd: root, env, timeout: 30_000 },
      (_e, stdout, stderr) => resolve({ status: child.exitCode, stdout, stderr }),
    );
  });
}

// The cases run at once: each start loads TypeScript through tsx, which takes seconds.
describe("main.ts with a bad configuration", { concurrency: true }, () => {
  const cases: { env: Record<string, string>; line: string }[] = [
    {
      env: { EXPORTER_LOG_LEVEL: "loud" },
      line: 'kali-agents-exporter: invalid configuration: EXPORTER_LOG_LEVEL: "loud" is not one of debug, info, warn, error',
    },
    {
      env: { DATABASE_URL: "mysql://kali:hunter2secret@db/app" },
      line: "kali-agents-exporter: invalid configuration: DATABASE_URL: the value is not a postgres:// or postgresql:// URL",
    },
    {
      env: { EXPORTER_LISTEN_ADDRESS: "localhost" },
      line: 'kali-agents-exporter: invalid configuration: EXPORTER_LISTEN_ADDRESS: "localhost" is not host:port (e.g. 0.0.0.0:9839, [::]:9839, :9839)',
    },
  ];
  for (const c of cases) {
    test(`${Object.keys(c.env).join(", ")}: one line on stderr naming it, exit 1`, async () => {
      const r = await run({ ...bareEnv, ...c.env });
      assert.equal(r.status, 1);
      assert.equal(r.stderr, `${c.line}\n`);
      assert.equal(r.stdout, "");
      assert.ok(!r.stderr.includes("hunter2secret"));
    });
  }
});

describe("main.ts with nothing configured", () => {
  test("serves host metrics, logs JSON, is ready after the first collection, stops on SIGTERM", async () => {
    const port = await freePort();
    // The listen address is the one variable set: the default port 9839 may be taken on a shared machine.
    const child = spawn(process.execPath, main, {
      cwd: root,
      env: { ...bareEnv, EXPORTER_LISTEN_ADDRESS: `127.0.0.1:${port}` },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      await waitFor(
        "the exporter to be ready",
        async () => (await fetch(`http://127.0.0.1:${port}/-/ready`)).ok,
        30_000,
      );
      const r = await scrape(`http://127.0.0.1:${port}/metrics`);
      assert.equal(r.status, 200);
      assert.ok(sample(r.families, "node_memory_MemTotal_bytes")! > 0);
      assert.equal(sample(r.families, "kali_agents_exporter_collector_success", { collector: "host" }), 1);
      for (const c of ["postgres", "redis", "scans", "probes", "textfile"])
        assert.equal(
          sample(r.families, "kali_agents_exporter_collector_success", { collector: c }),
          undefined,
          `${c} is off`,
        );
    } finally {
      child.kill("SIGTERM");
    }
    assert.equal(await exited, 0, `exit status; stderr: ${stderr}`);
    const events = stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const e of events) {
      assert.equal(typeof e.time, "string");
      assert.equal(e.logger !== undefined && typeof e.level === "string" && typeof e.msg === "string", true);
    }
    const msgs = events.map((e) => e.msg);
    assert.ok(msgs.includes("listening"));
    assert.ok(msgs.includes("first collection completed"));
    assert.deepEqual(msgs.slice(-2), ["shutting down", "stopped"]);
    assert.equal(stderr, "");
  });
});
