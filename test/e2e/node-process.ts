// The exporter and the demo workload as child processes, started from their TypeScript entry points
// through tsx exactly as `npm run dev` / `npm run demo` start them, so their main.ts (configuration,
// signals, shutdown) is part of the test too.
import { spawnCaptured, type Spawned } from "../support/servers.ts";

const root = new URL("../..", import.meta.url).pathname;

export interface NodeProcess {
  readonly name: string;
  output(): string;
  exited(): boolean;
  stop(): Promise<void>;
}

/** Starts a TypeScript entry point through tsx, keeping the last 100-200 KB it prints. */
function spawnTsx(entry: string, args: string[], env: Record<string, string>): Spawned {
  return spawnCaptured(process.execPath, ["--import", "tsx", entry, ...args], {
    cwd: root,
    // Only what the program needs, plus PATH: no variable of the test run leaks into its configuration.
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env },
    keepChars: 100_000,
  });
}

export function startNode(
  name: string,
  entry: string,
  env: Record<string, string>,
  args: string[] = [],
): NodeProcess {
  const { child, output } = spawnTsx(entry, args, env);
  let done = false;
  const exit = new Promise<void>((r) =>
    child.once("exit", () => {
      done = true;
      r();
    }),
  );
  return {
    name,
    output,
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

export interface NodeRun {
  readonly code: number | null;
  readonly output: string;
  readonly seconds: number;
}

/**
 * Runs a TypeScript entry point to its end (a one-shot command such as the ops CLI) through tsx, as
 * `npm run ops -- <command>` does, with only `env` and PATH; resolves with its exit status and output.
 */
export function runNode(entry: string, args: string[], env: Record<string, string>): Promise<NodeRun> {
  const t0 = Date.now();
  const { child, output } = spawnTsx(entry, args, env);
  // Why the process could not start, if it could not: told after what it printed.
  let failure = "";
  return new Promise((resolve) => {
    const end = (code: number | null) => {
      resolve({ code, output: output() + failure, seconds: (Date.now() - t0) / 1000 });
    };
    // A process that could not start reports here and may never emit "close".
    child.once("error", (e) => {
      failure = `\n${e.message}`;
      end(null);
    });
    child.once("close", end);
  });
}

/**
 * How the demo and the exporter are wired on this machine: the demo's API and two MCP servers on
 * 127.0.0.1, and the exporter probing exactly those, both on the same PostgreSQL and Redis. The callers
 * add what differs: the demo's pace and log folder, the exporter's address and textfile folder.
 */
export function demoWiring(o: {
  readonly databaseUrl: string;
  readonly redisUrl: string;
  readonly apiPort: number;
  readonly mcpPorts: readonly [number, number];
}): { demo: Record<string, string>; exporter: Record<string, string> } {
  const [mcp1, mcp2] = o.mcpPorts;
  const stores = { DATABASE_URL: o.databaseUrl, REDIS_URL: o.redisUrl };
  return {
    demo: {
      ...stores,
      DEMO_LISTEN_HOST: "127.0.0.1",
      DEMO_API_PORT: String(o.apiPort),
      DEMO_MCP_PORTS: `${mcp1},${mcp2}`,
    },
    exporter: {
      ...stores,
      API_HEALTH_URL: `http://127.0.0.1:${o.apiPort}/health`,
      MCP_SERVERS: `nmap-mcp=http://127.0.0.1:${mcp1}/health,web-mcp=http://127.0.0.1:${mcp2}/health`,
    },
  };
}
