// Every place that names an upstream version, held against definitions/versions.ts: compose's image
// defaults, .env.example, the Dockerfiles' NODE_IMAGE and the ops image's PostgreSQL client major, the
// tools modules' go.mod files, and the versions the docs name. `disagreements(root)` reads the files
// under `root`, so a test can run it on a changed copy and see it fail.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { opsClientPgMajor, upstream, type Upstream } from "../definitions/versions.ts";

const entries = Object.entries(upstream) as [string, Upstream][];

function read(root: string, path: string): string {
  return readFileSync(join(root, path), "utf8");
}

/** compose.yaml's `image: ${VAR:-repo:tag}` defaults and NODE_IMAGE build arguments, by variable. */
function composeDefaults(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const m of text.matchAll(/\$\{([A-Z_]+_IMAGE):-([^}]+)\}/g)) {
    out.set(m[1]!, [...(out.get(m[1]!) ?? []), m[2]!]);
  }
  return out;
}

function checkImages(root: string, problems: string[]): void {
  const compose = composeDefaults(read(root, "compose.yaml"));
  const env = new Map(
    [...read(root, ".env.example").matchAll(/^([A-Z_]+_IMAGE)=(\S+)$/gm)].map((m) => [m[1]!, m[2]!]),
  );
  const known = new Set<string>();
  for (const [name, u] of entries) {
    if (!u.image) continue;
    const want = `${u.image.repository}:${u.image.tag}`;
    known.add(u.image.variable);
    if (!u.image.tag.replace(/^v/, "").startsWith(u.version)) {
      problems.push(`definitions/versions.ts: ${name} ${u.version} but its image tag is ${u.image.tag}`);
    }
    const inCompose = compose.get(u.image.variable) ?? [];
    if (inCompose.length === 0)
      problems.push(`compose.yaml: no \${${u.image.variable}:-...} default (${name})`);
    for (const got of inCompose) {
      if (got !== want)
        problems.push(`compose.yaml: ${u.image.variable} defaults to ${got}, versions.ts pins ${want}`);
    }
    const inEnv = env.get(u.image.variable);
    if (inEnv !== want)
      problems.push(`.env.example: ${u.image.variable}=${inEnv ?? "(missing)"}, versions.ts pins ${want}`);
  }
  for (const v of new Set([...compose.keys(), ...env.keys()])) {
    if (!known.has(v)) problems.push(`${v} names an image that definitions/versions.ts does not pin`);
  }
  const node = `${upstream.node.image.repository}:${upstream.node.image.tag}`;
  for (const f of ["exporter/Dockerfile", "ops/Dockerfile", "demo/Dockerfile"]) {
    const m = /^ARG NODE_IMAGE=(\S+)$/m.exec(read(root, f));
    if (m?.[1] !== node)
      problems.push(`${f}: ARG NODE_IMAGE=${m?.[1] ?? "(missing)"}, versions.ts pins ${node}`);
  }
}

function checkPgClientMajor(root: string, problems: string[]): void {
  const found: [string, string | undefined][] = [
    ["ops/Dockerfile ARG PG_MAJOR", /^ARG PG_MAJOR=(\d+)$/m.exec(read(root, "ops/Dockerfile"))?.[1]],
    ["compose.yaml OPS_PG_MAJOR", /\$\{OPS_PG_MAJOR:-(\d+)\}/.exec(read(root, "compose.yaml"))?.[1]],
    [".env.example OPS_PG_MAJOR", /^OPS_PG_MAJOR=(\d+)$/m.exec(read(root, ".env.example"))?.[1]],
  ];
  for (const [where, got] of found) {
    if (got !== opsClientPgMajor) {
      problems.push(
        `${where} is ${got ?? "(missing)"}, the demo server's major in versions.ts is ${opsClientPgMajor}`,
      );
    }
  }
  // The PyPI release of the client (PG_CLIENT_SOURCE=pypi) is the demo server's release.
  const pypi = /^ARG PG_CLIENT_VERSION=(\S+)$/m.exec(read(root, "ops/Dockerfile"))?.[1];
  const wantPypi = `${upstream.postgres.version}.0`;
  if (pypi !== wantPypi) {
    problems.push(
      `ops/Dockerfile ARG PG_CLIENT_VERSION is ${pypi ?? "(missing)"}, versions.ts pins postgres ${wantPypi}`,
    );
  }
}

function checkGoModules(root: string, problems: string[]): void {
  const dirs = new Set<string>();
  for (const [name, u] of entries) {
    if (!u.go) continue;
    dirs.add(u.go.dir);
    const path = join(u.go.dir, "go.mod");
    if (!existsSync(join(root, path))) {
      problems.push(`${path} is missing (${name})`);
      continue;
    }
    const mod = read(root, path);
    const req = new RegExp(`^\\s*(?:require\\s+)?${u.go.module.replace(/[.]/g, "\\.")} (v\\S+)`, "m").exec(
      mod,
    );
    if (req?.[1] !== u.go.moduleVersion) {
      problems.push(
        `${path}: requires ${u.go.module} ${req?.[1] ?? "(missing)"}, versions.ts pins ${u.go.moduleVersion}`,
      );
    }
    for (const c of u.go.commands) {
      if (!new RegExp(`^\\s*(?:tool\\s+)?${c.pkg.replace(/[.]/g, "\\.")}\\s*$`, "m").test(mod)) {
        problems.push(`${path}: no tool directive for ${c.pkg}`);
      }
    }
  }
  const base = join(root, "tools/upstream");
  for (const d of existsSync(base) ? readdirSync(base, { withFileTypes: true }) : []) {
    if (d.isDirectory() && !dirs.has(`tools/upstream/${d.name}`)) {
      problems.push(`tools/upstream/${d.name} builds something definitions/versions.ts does not name`);
    }
  }
}

/** How the docs write each upstream's name. */
const docNames: Record<string, string> = {
  prometheus: "Prometheus",
  alertmanager: "Alertmanager",
  loki: "Loki",
  promtail: "Promtail",
  grafana: "Grafana",
  alloy: "Alloy",
  node_exporter: "node_exporter",
  postgres_exporter: "postgres_exporter",
  redis_exporter: "redis_exporter",
};

function markdownFiles(root: string, dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...markdownFiles(root, p));
    else if (e.name.endsWith(".md")) out.push(p);
  }
  return out;
}

/**
 * A version the docs name ("Prometheus 3.14", "Alertmanager 0.33.0") must be the pin or a prefix of it.
 * A line that speaks of history says so with "was", "before" or "until" and is left alone, and so is
 * docs/performance.md's record of what a past benchmark run measured.
 */
function checkDocs(root: string, problems: string[]): void {
  const files = [
    "README.md",
    ...markdownFiles(root, "docs").filter((f) => f !== "docs/performance.md"),
    "secrets/README.md",
    "prometheus/prometheus.yml",
    "alertmanager/alertmanager.yml",
    "promtail/promtail.yaml",
    "loki/loki.yaml",
  ].filter((f) => existsSync(join(root, f)));
  const names = Object.entries(docNames);
  const re = new RegExp(`\\b(${names.map(([, n]) => n).join("|")})\\s+v?(\\d+\\.\\d+(?:\\.\\d+)?)\\b`, "g");
  for (const f of files) {
    read(root, f)
      .split("\n")
      .forEach((line, i) => {
        if (/\b(was|were|before|until|used to)\b/i.test(line)) return;
        for (const m of line.matchAll(re)) {
          const key = names.find(([, n]) => n === m[1])![0];
          const pin = (upstream as Record<string, Upstream>)[key]!.version;
          if (pin !== m[2] && !pin.startsWith(`${m[2]}.`)) {
            problems.push(
              `${relative(root, join(root, f))}:${i + 1}: names ${m[1]} ${m[2]}, versions.ts pins ${pin}`,
            );
          }
        }
      });
  }
}

/** Every disagreement between definitions/versions.ts and the files under `root`; empty when in step. */
export function disagreements(root: string): string[] {
  const problems: string[] = [];
  checkImages(root, problems);
  checkPgClientMajor(root, problems);
  checkGoModules(root, problems);
  checkDocs(root, problems);
  return problems;
}
