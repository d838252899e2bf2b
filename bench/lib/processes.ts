// Long-running children of the benchmark (the exporters under test) and what /proc says about them.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { requireBinaries, spawnCaptured, waitFor, which } from "../../test/support/servers.ts";
import { findUpstreamBinary } from "../../test/support/upstream.ts";

/** The Go exporters the benchmark compares ours with (their builds: definitions/versions.ts). */
export const goExporters = ["node_exporter", "postgres_exporter", "redis_exporter"] as const;

/**
 * Like the harness's requireBinaries (false when all is there, else a reason to skip; throws under
 * CI=true), for the harness's servers plus the Go exporters (built from their modules at the versions
 * definitions/versions.ts pins: test/support/upstream.ts) and wrk, which the harness does not know.
 */
export function requireBenchBinaries(): false | string {
  const harness = requireBinaries("postgres", "initdb", "redis-server", "redis-cli");
  const missing = [...goExporters.filter((b) => !findUpstreamBinary(b)), ...(which("wrk") ? [] : ["wrk"])];
  if (missing.length === 0) return harness;
  const reason = `missing binaries: ${missing.join(", ")}; run \`bash scripts/test.sh\` (it installs wrk with apt-get and builds the Go exporters with \`npm run -s upstream -- build\`)`;
  if (process.env.CI === "true") throw new Error(`CI=true and ${reason}`);
  return harness ? `${harness}; ${reason}` : reason;
}

export interface Child {
  readonly name: string;
  readonly pid: number;
  /** The last 32-64 KB it printed, for error messages. */
  output(): string;
  exited(): boolean;
  stop(): Promise<void>;
}

export function startChild(
  name: string,
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Child {
  // The harness's spawn: the child dies with the benchmark, even on a crash, so no exporter outlives it.
  const { child, output } = spawnCaptured(cmd, args, opts);
  if (child.pid === undefined) throw new Error(`${name}: could not start ${cmd}`);
  let gone = false;
  const exit = new Promise<void>((resolve) =>
    child.once("exit", () => {
      gone = true;
      resolve();
    }),
  );
  return {
    name,
    pid: child.pid,
    output,
    exited: () => gone,
    async stop() {
      if (gone) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exit;
      clearTimeout(timer);
    },
  };
}

/** Waits until `url` answers 200, failing early with the child's output if it exits. */
export async function waitHttp(child: Child, url: string, timeoutMs = 30_000): Promise<void> {
  await waitFor(
    `${child.name} at ${url}`,
    async () => {
      if (child.exited()) throw new Error(`${child.name} exited early:\n${child.output()}`);
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      return res.ok;
    },
    timeoutMs,
  );
}

const clockTicks = (() => {
  const r = spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" });
  const n = Number(r.stdout.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

/** CPU seconds (user + system) the process has used, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name (field 2) may contain spaces and parentheses: count fields after the last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / clockTicks;
}

/** Resident set size in bytes, from /proc/<pid>/status. */
export function rssBytes(pid: number): number {
  return memoryOf(pid).rss;
}

/**
 * RSS and its anonymous part (heap, stacks, malloc: what the process itself allocated), in bytes. The
 * rest is mostly file-backed pages of the executable and libraries, shared with every other process
 * running the same binary: a large share of a Node.js process's RSS is the node binary's own code.
 */
export function memoryOf(pid: number): { rss: number; anon: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => {
    const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, "m").exec(status);
    if (!m) throw new Error(`no ${field} for pid ${pid}`);
    return Number(m[1]) * 1024;
  };
  return { rss: kb("VmRSS"), anon: kb("RssAnon") };
}

/** The pids of every descendant of `pid` (children, their children, ...), from /proc. */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {
      /* gone meanwhile */
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

/**
 * SIGSTOPs a process and all its descendants; returns what to call to resume them. For PostgreSQL this
 * matters: stopping the postmaster alone (the harness's pause()) hangs new connections only, while
 * the backends of connections already open keep answering.
 */
export function pauseTree(pid: number): () => void {
  const pids = [pid, ...descendants(pid)];
  for (const p of pids) {
    try {
      process.kill(p, "SIGSTOP");
    } catch {
      /* gone meanwhile */
    }
  }
  return () => {
    for (const p of pids) {
      try {
        process.kill(p, "SIGCONT");
      } catch {
        /* gone meanwhile */
      }
    }
  };
}
