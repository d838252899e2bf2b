// The upstream Go binaries the tests and the benchmark run (Prometheus, promtool, Alertmanager, amtool,
// and the Go exporters we compare with), built from their modules by tools/upstream/<name>/go.mod at the
// versions in definitions/versions.ts.
//
// The build is kept outside the clone, in a cache folder keyed by upstream, version and a digest of the
// tools module's go.mod and go.sum, so that a fresh clone on the same machine (CI's) finds it and a
// changed pin or dependency builds anew. A build is written to a temporary folder and renamed into
// place when every command of it is built, so a cut build is never taken for a complete one.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { upstream, type GoBuild, type UpstreamName } from "../../definitions/versions.ts";

const root = new URL("../..", import.meta.url).pathname;

/** Every upstream that has a Go build, in the order `versions` prints them. */
export const goUpstreams = (Object.keys(upstream) as UpstreamName[]).filter((n) => "go" in upstream[n]) as (
  "prometheus" | "alertmanager" | "node_exporter" | "postgres_exporter" | "redis_exporter" | "compose"
)[];

export type GoUpstream = (typeof goUpstreams)[number];

function goBuildOf(name: GoUpstream): GoBuild {
  return upstream[name].go;
}

/** The cache folder: KALI_UPSTREAM_CACHE, else $XDG_CACHE_HOME or ~/.cache, /kali-agents-upstream. */
export function cacheRoot(): string {
  const explicit = process.env.KALI_UPSTREAM_CACHE;
  if (explicit) return explicit;
  const base = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  return join(base, "kali-agents-upstream");
}

/** name-version-digest: a new pin or a new go.sum is a new folder. */
export function buildKey(name: GoUpstream): string {
  const go = goBuildOf(name);
  const h = createHash("sha256");
  for (const f of ["go.mod", "go.sum"]) h.update(readFileSync(join(root, go.dir, f)));
  return `${name}-${upstream[name].version}-${h.digest("hex").slice(0, 12)}`;
}

function buildDir(name: GoUpstream): string {
  return join(cacheRoot(), buildKey(name));
}

/** The command names every Go upstream builds, with the upstream that builds each. */
export const upstreamCommands: ReadonlyMap<string, GoUpstream> = new Map(
  goUpstreams.flatMap((u) => goBuildOf(u).commands.map((c) => [c.name, u] as const)),
);

/** The path a command has once built (whether or not it is built yet). */
export function upstreamBinaryPath(command: string): string {
  const u = upstreamCommands.get(command);
  if (!u)
    throw new Error(
      `${command} is not built by tools/upstream (known: ${[...upstreamCommands.keys()].join(", ")})`,
    );
  return join(buildDir(u), "bin", command);
}

/** The path of a built command, or undefined when it is not built. */
export function findUpstreamBinary(command: string): string | undefined {
  const p = upstreamBinaryPath(command);
  return existsSync(p) ? p : undefined;
}

export function isBuilt(name: GoUpstream): boolean {
  return goBuildOf(name).commands.every((c) => existsSync(upstreamBinaryPath(c.name)));
}

function ldflags(name: GoUpstream): string {
  const go = goBuildOf(name);
  const v = upstream[name].version;
  const p = go.versionPackage;
  if (go.versionVariable) return `-s -w -X ${go.versionVariable}=v${v}`;
  if (p === "main") return `-s -w -X main.BuildVersion=${v} -X main.BuildCommitSha=${go.moduleVersion}`;
  return [
    "-s -w",
    `-X ${p}.Version=${v}`,
    `-X ${p}.Revision=${go.moduleVersion}`,
    `-X ${p}.Branch=${go.moduleVersion}`,
    `-X ${p}.BuildUser=kali-agents-tools`,
  ].join(" ");
}

/** Runs the go command in a tools module; throws with the end of its output when it fails. */
function goRun(dir: string, args: string[], what: string): string {
  const r = spawnSync("go", args, {
    cwd: dir,
    encoding: "utf8",
    // The machine's toolchain and cgo setting (the tests run the binaries here only); GOFLAGS from the
    // environment could switch -mod, so it is cleared.
    env: { ...process.env, GOFLAGS: "" },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error || r.status !== 0) {
    const why = r.error
      ? (r.error as NodeJS.ErrnoException).code === "ENOENT"
        ? "no `go` on PATH (Go 1.21 or later is needed to build the pinned upstream binaries)"
        : r.error.message
      : (r.stderr || r.stdout).trim().split("\n").slice(-20).join("\n");
    throw new Error(`${what} failed (go ${args[0]} in ${relativeToRoot(dir)}): ${why}`);
  }
  return r.stdout;
}

const relativeToRoot = (p: string) => (p.startsWith(root) ? p.slice(root.length) : p);

/**
 * The module arguments of `go build` for an upstream whose source needs files its module zip does not
 * carry (Alertmanager embeds its web UI's built assets, app/dist, which are made by npm in its own
 * release process). The module is copied from the module cache into the build folder, a placeholder
 * page is written where the UI would be (the tests never open the UI), and the build uses a copy of the
 * tools module's go.mod with a `replace` to that copy (`-modfile`; go.sum is read beside it).
 */
function withPlaceholderAssets(go: GoBuild, tmp: string): string[] {
  if (!go.placeholderAsset) return [];
  const moduleDir = join(root, go.dir);
  const info = JSON.parse(
    goRun(moduleDir, ["mod", "download", "-json", `${go.module}@${go.moduleVersion}`], "go mod download"),
  ) as { Dir: string };
  const src = join(tmp, "src");
  cpSync(info.Dir, src, { recursive: true });
  chmodTree(src);
  const page = join(src, go.placeholderAsset);
  mkdirSync(join(page, ".."), { recursive: true });
  writeFileSync(page, "<!doctype html><title>Not built</title><p>This test build carries no web UI.</p>\n");
  const modfile = join(tmp, "go.mod");
  writeFileSync(
    modfile,
    `${readFileSync(join(moduleDir, "go.mod"), "utf8")}\nreplace ${go.module} => ${src}\n`,
  );
  copyFileSync(join(moduleDir, "go.sum"), join(tmp, "go.sum"));
  return [`-modfile=${modfile}`];
}

/** The module cache's files are read-only; the copy must take a new file. */
function chmodTree(dir: string): void {
  chmodSync(dir, 0o755);
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) chmodTree(join(dir, e.name));
  }
}

/**
 * Builds one upstream into the cache unless it is there. Returns whether it built. Throws with go's
 * output when the build fails, leaving no folder that could be taken for a build.
 */
export function buildUpstream(name: GoUpstream, log: (line: string) => void = () => {}): boolean {
  if (isBuilt(name)) return false;
  const go = goBuildOf(name);
  const final = buildDir(name);
  const tmp = `${final}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(join(tmp, "bin"), { recursive: true });
  const started = Date.now();
  log(`building ${name} ${upstream[name].version} (${go.module}@${go.moduleVersion}) into ${final}`);
  try {
    const modArgs = withPlaceholderAssets(go, tmp);
    goRun(
      join(root, go.dir),
      [
        "build",
        "-trimpath",
        "-mod=readonly",
        ...modArgs,
        `-ldflags=${ldflags(name)}`,
        "-o",
        // One package is written under its command's name (Compose's is github.com/docker/compose/v5/cmd).
        go.commands.length === 1 ? join(tmp, "bin", go.commands[0]!.name) : join(tmp, "bin") + "/",
        ...go.commands.map((c) => c.pkg),
      ],
      `building ${name}`,
    );
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  for (const f of ["src", "go.mod", "go.sum"]) rmSync(join(tmp, f), { recursive: true, force: true });
  rmSync(final, { recursive: true, force: true });
  renameSync(tmp, final);
  log(`built ${name} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return true;
}

/** What a built binary says its version is (`--version`), for `npm run -s upstream -- versions`. */
export function reportedVersion(command: string): string | undefined {
  const p = findUpstreamBinary(command);
  if (!p) return undefined;
  const r = spawnSync(p, ["--version"], { encoding: "utf8", timeout: 10_000 });
  const text = `${r.stdout}\n${r.stderr}`;
  // "promtool, version 3.14.0 (...)", "alertmanager, version 0.33.0", "Redis Metrics Exporter 1.88.0 ..."
  return /(?:version|exporter)[:\s]+v?(\d+\.\d+\.\d+)/i.exec(text)?.[1];
}
