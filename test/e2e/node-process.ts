// The exporter and the demo workload as child processes, started from their TypeScript entry points
// through tsx exactly as `npm run dev` / `npm run demo` start them, so their main.ts (configuration,
// signals, shutdown) is part of the test too.
import { spawn, type ChildProcess } from "node:child_process";

const root = new URL("../..", import.meta.url).pathname;

export interface NodeProcess {
  readonly name: string;
  output(): string;
  exited(): boolean;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.on("exit", () => {
  for (const c of live) c.kill("SIGKILL");
});

export function startNode(name: string, entry: string, env: Record<string, string>): NodeProcess {
  const child = spawn(process.execPath, ["--import", "tsx", entry], {
    cwd: root,
    // Only what the program needs, plus PATH: no variable of the test run leaks into its configuration.
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  live.add(child);
  let out = "";
  const keep = (b: Buffer) => {
    out += b.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  let done = false;
  const exit = new Promise<void>((r) =>
    child.once("exit", () => {
      done = true;
      live.delete(child);
      r();
    }),
  );
  return {
    name,
    output: () => out,
    exited: () => done,
    async stop() {
      if (done) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exit;
      clearTimeout(timer);
    },
  };
}
