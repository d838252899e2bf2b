// The container tests' compose project: compose.yaml, byte for byte, run with `docker compose` in a
// copy of the repository (so its secrets/ and the receivers' test wiring never touch the clone's),
// under a compose project name of its own, with the one service the tests add (the receivers' sink,
// sink.compose.yaml) given as a second -f file. A lock under /tmp keeps two runs on one machine (other
// engineers' or CI's) from reaching for compose.yaml's fixed ports at the same time.
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parse } from "yaml";
import { repoRoot, repositoryFiles } from "./runtime-files.ts";

/** compose.yaml's services the tests cannot start here, each with the reason, printed when left out. */
export const leftOut: Readonly<Record<string, string>> = {
  grafana: "no image: Grafana's modules are AGPL and refused here, and no registry ships its binaries",
  loki: "no image: Loki's modules are AGPL and refused here, and no registry ships its binaries",
  promtail: "no image: Promtail's modules are AGPL and refused here, and no registry ships its binaries",
  alloy: "no image: Alloy's modules are AGPL and refused here, and no registry ships its binaries",
};

interface ComposeFile {
  services: Record<string, { image?: string; profiles?: string[]; healthcheck?: unknown; ports?: string[] }>;
}

export const composeText = readFileSync(join(repoRoot, "compose.yaml"), "utf8");
export const composeDoc = parse(composeText) as ComposeFile;

/** The default and demo-profile services the tests start: every one but leftOut. */
export const startedServices = Object.entries(composeDoc.services)
  .filter(([name, s]) => !(name in leftOut) && (!s.profiles || s.profiles.includes("demo")))
  .map(([name]) => name);

/** The image compose runs for a service (its `${VAR:-default}` default). */
export function imageOf(service: string): string {
  const s = composeDoc.services[service];
  if (!s?.image) throw new Error(`compose.yaml: ${service} has no image`);
  return /^\$\{[A-Z_]+:-([^}]+)\}$/.exec(s.image)?.[1] ?? s.image;
}

/** The host ports compose.yaml publishes for the started services (all fixed, on BIND_ADDRESS). */
export const publishedPorts = startedServices.flatMap((s) =>
  (composeDoc.services[s]!.ports ?? []).map((p) => {
    const port = Number(/:(\d+):\d+$/.exec(p)?.[1]);
    if (!Number.isInteger(port))
      throw new Error(`compose.yaml: ${s}: cannot read the published port of ${p}`);
    return port;
  }),
);

/** Fails naming the first published port another program holds on 127.0.0.1. */
export async function checkPortsFree(): Promise<void> {
  for (const p of publishedPorts)
    if (!(await portFree(p)))
      throw new Error(`127.0.0.1:${p}, which compose.yaml publishes, is in use by another program`);
}

/** What `docker compose` needs here; false when it is all there (for `describe(..., { skip })`). */
export function requireDocker(): false | string {
  const reason = dockerProblem();
  if (reason === undefined) return false;
  if (process.env.CI === "true") throw new Error(`CI=true and ${reason}`);
  return reason;
}

function dockerProblem(): string | undefined {
  const info = spawnSync("docker", ["info", "--format", "{{.ServerVersion}}"], { encoding: "utf8" });
  if (info.error || info.status !== 0)
    return `no Docker daemon answers (${(info.stderr || String(info.error)).trim().split("\n")[0]}); bash scripts/test.sh installs and starts one`;
  const compose = spawnSync("docker", ["compose", "version", "--short"], { encoding: "utf8" });
  if (compose.status !== 0)
    return "the docker compose plugin is missing; bash scripts/test.sh builds it (npm run -s upstream -- build)";
  return undefined;
}

export class CommandError extends Error {}

export interface Run {
  readonly stdout: string;
  readonly stderr: string;
  readonly status: number;
}

function check(what: string, r: SpawnSyncReturns<string>, ok = true): Run {
  if (r.error) throw new CommandError(`${what}: ${r.error.message}`);
  const out = { stdout: r.stdout ?? "", stderr: r.stderr ?? "", status: r.status ?? -1 };
  if (ok && out.status !== 0) {
    const tail = (out.stderr + out.stdout).trim().split("\n").slice(-25).join("\n");
    throw new CommandError(`${what} exited ${out.status}:\n${tail}`);
  }
  return out;
}

export function docker(args: string[], opts: { ok?: boolean; timeoutMs?: number; input?: string } = {}): Run {
  const r = spawnSync("docker", args, {
    encoding: "utf8",
    timeout: opts.timeoutMs ?? 120_000,
    maxBuffer: 64 << 20,
    input: opts.input,
  });
  return check(`docker ${args.join(" ")}`, r, opts.ok ?? true);
}

export const defaultLockDir = join(tmpdir(), "kali-agents-container-tests.lock");

function lockHolder(lockDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(lockDir, "pid"), "utf8"));
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

/** Waits for the machine-wide lock (a directory holding the holder's pid; a dead holder's is taken over). */
export async function acquireLock(timeoutMs: number, lockDir = defaultLockDir): Promise<() => void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      mkdirSync(lockDir);
      writeFileSync(join(lockDir, "pid"), String(process.pid));
      return () => rmSync(lockDir, { recursive: true, force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const holder = lockHolder(lockDir);
      // A directory just made may not hold its pid yet: only one older than 10 s without a live pid is stale.
      if (holder === undefined && Date.now() - statSync(lockDir).mtimeMs > 10_000) {
        rmSync(lockDir, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline)
        throw new Error(`another container test run (pid ${holder ?? "?"}) holds ${lockDir}`);
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}

/** Whether 127.0.0.1:port can be listened on now. */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

/**
 * Removes the projects of earlier runs whose process is gone (a run killed before its cleanup leaves
 * its containers holding compose.yaml's ports): kali-containers-<pid> and kali-bench-images-<pid>.
 */
export function removeStaleProjects(): void {
  const out = docker(["compose", "ls", "--all", "--format", "json"], { ok: false }).stdout.trim();
  const rows = out.startsWith("[") ? (JSON.parse(out) as { Name: string; ConfigFiles: string }[]) : [];
  for (const row of rows) {
    const pid = Number(/^kali-(?:containers|bench-images)-(\d+)$/.exec(row.Name)?.[1]);
    if (!pid) continue;
    try {
      process.kill(pid, 0);
      continue; // still running: not ours to touch
    } catch {
      /* gone */
    }
    const files = row.ConfigFiles.split(",").flatMap((f) => ["-f", f]);
    docker(
      ["compose", "-p", row.Name, ...files, "--profile", "demo", "down", "--volumes", "--timeout", "5"],
      {
        ok: false,
        timeoutMs: 300_000,
      },
    );
    const dir = dirname(row.ConfigFiles.split(",")[0]!);
    if (dir.startsWith(tmpdir() + "/kali-")) rmSync(dir, { recursive: true, force: true });
  }
}

export class Project {
  readonly files: string[];

  constructor(
    /** The copy of the repository compose runs in. */
    readonly dir: string,
    /** The compose project name: containers, networks and volumes are prefixed with it. */
    readonly name: string,
    /** compose files after compose.yaml (the tests' sink.compose.yaml). */
    extraFiles: readonly string[] = [],
  ) {
    this.files = ["compose.yaml", ...extraFiles].flatMap((f) => ["-f", f]);
  }

  /** `docker compose` with this project's name, files and the demo profile, in its folder. */
  compose(
    args: string[],
    opts: { ok?: boolean; timeoutMs?: number; env?: Record<string, string> } = {},
  ): Run {
    const r = spawnSync("docker", ["compose", "-p", this.name, ...this.files, "--profile", "demo", ...args], {
      cwd: this.dir,
      encoding: "utf8",
      timeout: opts.timeoutMs ?? 180_000,
      maxBuffer: 64 << 20,
      // Published ports on 127.0.0.1, as compose.yaml does by default, whatever the caller's shell sets.
      env: { ...process.env, BIND_ADDRESS: "127.0.0.1", ...opts.env },
    });
    return check(`docker compose ${args.join(" ")}`, r, opts.ok ?? true);
  }

  /** The services' states (`docker compose ps --all --format json`), by service. */
  ps(): Map<string, { State: string; Health: string; ExitCode: number; ID: string; Name: string }> {
    const out = this.compose(["ps", "--all", "--format", "json"]).stdout.trim();
    // One JSON object per line (compose v2.21+), or one array (older).
    const rows = (
      out.startsWith("[")
        ? JSON.parse(out)
        : out
            .split("\n")
            .filter(Boolean)
            .map((l) => JSON.parse(l))
    ) as {
      Service: string;
      State: string;
      Health: string;
      ExitCode: number;
      ID: string;
      Name: string;
    }[];
    return new Map(rows.map((r) => [r.Service, r]));
  }

  /** The host port a service's container port is published on. */
  port(service: string, containerPort: number): number {
    const out = this.compose(["port", service, String(containerPort)]).stdout.trim();
    const port = Number(/:(\d+)$/.exec(out)?.[1]);
    if (!Number.isInteger(port))
      throw new Error(`no published port for ${service}:${containerPort} (${out})`);
    return port;
  }

  remove(): void {
    this.compose(["--profile", "alloy", "down", "--volumes", "--remove-orphans", "--timeout", "10"], {
      ok: false,
      timeoutMs: 300_000,
    });
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A copy of the repository's files (tracked and new ones, not ignored by git; no secrets/, node_modules
 * or dist/) in a new folder under the system's temporary folder, with compose.yaml unchanged.
 */
export function copyRepository(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  for (const f of repositoryFiles(repoRoot)) {
    if (f.startsWith("secrets/") || f.startsWith(".env")) continue;
    const to = join(dir, f);
    mkdirSync(dirname(to), { recursive: true });
    cpSync(join(repoRoot, f), to);
  }
  if (!existsSync(join(dir, "compose.yaml"))) throw new Error(`copyRepository: no compose.yaml in ${dir}`);
  return dir;
}
