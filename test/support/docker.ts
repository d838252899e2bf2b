// The Docker engine, for the tests that build and run the stack's images (test/images/). Like
// requireBinaries(): outside CI a missing daemon skips them with the reason; under CI=true it fails.
import { spawnSync, type SpawnSyncOptions } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const hint = "install docker.io and start dockerd (bash scripts/test.sh does both, as root)";

export function dockerAnswers(): boolean {
  const r = spawnSync("docker", ["version", "--format", "{{.Server.Version}}"], {
    encoding: "utf8",
    timeout: 20_000,
  });
  return r.status === 0 && r.stdout.trim() !== "";
}

/** For `describe(name, { skip: requireDocker() }, ...)`. Throws under CI=true when no daemon answers. */
export function requireDocker(): false | string {
  if (dockerAnswers()) return false;
  const reason = `no Docker daemon answers; ${hint}`;
  if (process.env.CI === "true") throw new Error(`CI=true and ${reason}`);
  return reason;
}

export interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the docker CLI (classic builder: Debian's docker.io has no buildx). */
export function docker(args: string[], opts: SpawnSyncOptions = {}): Run {
  const r = spawnSync("docker", args, {
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
    timeout: 300_000,
    ...opts,
    env: { ...process.env, DOCKER_BUILDKIT: "0", ...opts.env },
  });
  return { status: r.status, stdout: String(r.stdout ?? ""), stderr: String(r.stderr ?? "") };
}

/** Like docker(), but throws with its output when it fails; returns stdout. */
export function dockerOk(args: string[], opts: SpawnSyncOptions = {}): string {
  const r = docker(args, opts);
  if (r.status !== 0)
    throw new Error(
      `docker ${args.slice(0, 4).join(" ")} failed (${r.status}): ${(r.stderr || r.stdout).slice(-2000)}`,
    );
  return r.stdout;
}

/**
 * The CA certificates added to this machine's trust store (Debian: /usr/local/share/ca-certificates),
 * as PEM text: what a build behind this machine's TLS-intercepting proxy passes as EXTRA_CA_CERTS.
 * EXTRA_CA_CERTS in the environment wins; empty when there are none.
 */
export function localExtraCaCerts(): string {
  if (process.env.EXTRA_CA_CERTS !== undefined) return process.env.EXTRA_CA_CERTS;
  const dir = "/usr/local/share/ca-certificates";
  let files: string[] = [];
  try {
    files = readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".crt"));
  } catch {
    return "";
  }
  return files
    .sort()
    .map((f) => readFileSync(join(dir, f), "utf8").trim())
    .filter((t) => t.includes("BEGIN CERTIFICATE"))
    .join("\n");
}
