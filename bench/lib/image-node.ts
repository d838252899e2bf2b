// The Node.js the exporter's image runs (exporter/Dockerfile's NODE_IMAGE), fetched for the memory
// figures: the machine's own node (Debian's) is not the runtime we ship, and a Node.js process's RSS
// depends on its version more than on anything the exporter does (docs/performance.md). Node.js
// publishes its release binaries to the npm registry as node-<platform>-<arch> packages, so the
// benchmark takes the exact version from there, once, into node_modules/.cache.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "./environment.ts";

export interface NodeBinary {
  /** The executable. */
  path: string;
  /** As `node --version` prints it (v24.20.0). */
  version: string;
}

/** The Node.js version of exporter/Dockerfile's default NODE_IMAGE (node:24.20.0-trixie-slim: 24.20.0). */
export function imageNodeVersion(dockerfile = join(repoRoot, "exporter/Dockerfile")): string {
  const text = readFileSync(dockerfile, "utf8");
  const m = /^ARG NODE_IMAGE=node:(\d+\.\d+\.\d+)\S*$/m.exec(text);
  if (!m?.[1])
    throw new Error(`${dockerfile}: no "ARG NODE_IMAGE=node:<x.y.z>..." line to take the version from`);
  return m[1];
}

export function nodeVersionOf(path: string): string {
  const r = spawnSync(path, ["--version"], { encoding: "utf8", timeout: 10_000 });
  const v = r.stdout?.trim() ?? "";
  if (r.status !== 0 || !/^v\d+\.\d+\.\d+$/.test(v))
    throw new Error(
      `${path} --version did not print a Node.js version: ${r.error?.message ?? (r.stderr || v)}`,
    );
  return v;
}

/**
 * The image's Node.js: BENCH_IMAGE_NODE=<path> names a binary; otherwise the npm registry's
 * node-<platform>-<arch>@<version> package is unpacked into node_modules/.cache/kali-bench (once).
 */
export function imageNode(log: (msg: string) => void, env = process.env): NodeBinary {
  const given = env.BENCH_IMAGE_NODE;
  if (given) return { path: given, version: nodeVersionOf(given) };
  const version = imageNodeVersion();
  const pkg = `node-${process.platform}-${process.arch}`;
  const dir = join(repoRoot, "node_modules/.cache/kali-bench", `${pkg}-${version}`);
  const bin = join(dir, "package/bin/node");
  if (!existsSync(bin)) {
    log(`fetching Node.js ${version} (the image's) from the npm registry: ${pkg}@${version}`);
    const tmp = `${dir}.tmp`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    const pack = spawnSync("npm", ["pack", "--silent", `${pkg}@${version}`, "--pack-destination", tmp], {
      encoding: "utf8",
      timeout: 300_000,
    });
    const tarball = readdirSync(tmp).find((f) => f.endsWith(".tgz"));
    if (pack.status !== 0 || !tarball)
      throw new Error(
        `could not fetch ${pkg}@${version} from the npm registry (set BENCH_IMAGE_NODE to a Node.js ${version} binary, or BENCH_IMAGE_NODE=0 to leave it out): ${(pack.stderr || pack.error?.message || "no tarball").trim()}`,
      );
    const tar = spawnSync("tar", ["-xzf", join(tmp, tarball), "-C", tmp], { encoding: "utf8" });
    if (tar.status !== 0) throw new Error(`could not unpack ${tarball}: ${tar.stderr.trim()}`);
    rmSync(join(tmp, tarball));
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  }
  const found = nodeVersionOf(bin);
  if (found !== `v${version}`) throw new Error(`${bin} is ${found}, not v${version}`);
  return { path: bin, version: found };
}
