// Renovate, installed for the tests that check renovate.json (test/renovate.test.ts): the `renovate`
// npm package at a pinned version, into a cache folder outside the clone (like tools/upstream's
// builds): $XDG_CACHE_HOME or ~/.cache, /kali-agents-renovate/<version>. Renovate needs Node.js 24;
// the tests run it with the images' Node.js (bench/lib/image-node.ts), so the install skips the
// engine check of the machine's own Node.js.
//   npx tsx tools/renovate.ts install     (scripts/test.sh runs it; a no-op once installed)
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

/** The Renovate release the tests validate with; Renovate updates it (renovate.json's custom manager). */
export const renovateVersion = "44.121.2"; // renovate: datasource=npm depName=renovate

export function renovateDir(version = renovateVersion): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  return join(base, "kali-agents-renovate", version);
}

const packageDir = () => join(renovateDir(), "node_modules", "renovate");

export function renovateInstalled(): boolean {
  return existsSync(join(renovateDir(), ".complete"));
}

/** The script of one of the package's commands (`renovate`, `renovate-config-validator`). */
export function renovateScript(command: string): string {
  const pkg = JSON.parse(readFileSync(join(packageDir(), "package.json"), "utf8")) as {
    bin: Record<string, string>;
  };
  const rel = pkg.bin[command];
  if (!rel) throw new Error(`renovate ${renovateVersion} has no command ${command}`);
  return join(packageDir(), rel);
}

export function installRenovate(log: (msg: string) => void = console.log): void {
  if (renovateInstalled()) return;
  const dir = renovateDir();
  const tmp = `${dir}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  log(`installing renovate@${renovateVersion} into ${dir} (from the npm registry)`);
  const r = spawnSync(
    "npm",
    [
      "install",
      "--prefix",
      tmp,
      "--no-save",
      "--no-fund",
      "--no-audit",
      "--ignore-scripts",
      "--engine-strict=false",
      "--loglevel=error",
      `renovate@${renovateVersion}`,
    ],
    { encoding: "utf8", timeout: 900_000, stdio: ["ignore", "inherit", "inherit"] },
  );
  if (r.status !== 0) throw new Error(`npm install renovate@${renovateVersion} failed (exit ${r.status})`);
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  writeFileSync(join(dir, ".complete"), `renovate@${renovateVersion}\n`);
}

if (process.argv[1] && /tools\/renovate\.(ts|js)$/.test(process.argv[1])) {
  const [command] = process.argv.slice(2);
  if (command !== "install") {
    process.stderr.write("usage: npx tsx tools/renovate.ts install\n");
    process.exitCode = 2;
  } else installRenovate();
}
