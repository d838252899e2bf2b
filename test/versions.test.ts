// One source of the upstream versions (definitions/versions.ts): compose, .env.example, the Dockerfiles,
// the tools modules and the docs agree with it, and the check fails on a copy where one of them differs.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { upstream } from "../definitions/versions.ts";
import { findBinary, requireBinaries, tempDir } from "./support/servers.ts";
import { disagreements } from "./versions.ts";

const root = new URL("..", import.meta.url).pathname;

/** A copy of the files the check reads, to change one of them. */
function copyOfTree(): string {
  const dir = tempDir("versions");
  for (const p of [
    "compose.yaml",
    ".env.example",
    "README.md",
    "docs",
    "secrets/README.md",
    "exporter/Dockerfile",
    "ops/Dockerfile",
    "demo/Dockerfile",
    "tools/upstream",
    "prometheus/prometheus.yml",
    "alertmanager/alertmanager.yml",
    "promtail/promtail.yaml",
    "loki/loki.yaml",
  ]) {
    cpSync(join(root, p), join(dir, p), { recursive: true });
  }
  return dir;
}

function edit(dir: string, path: string, from: string, to: string): void {
  const text = readFileSync(join(dir, path), "utf8");
  assert.ok(text.includes(from), `${path} has no ${from}`);
  writeFileSync(join(dir, path), text.replaceAll(from, to));
}

describe("upstream versions", () => {
  test("compose, .env.example, the Dockerfiles, the tools modules and the docs agree with versions.ts", () => {
    assert.deepEqual(disagreements(root), []);
  });

  test("a compose pin that differs from the tools module fails the check, naming both", (t) => {
    const dir = copyOfTree();
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    assert.deepEqual(disagreements(dir), [], "the copy starts in step");
    edit(dir, "compose.yaml", "prom/prometheus:v3.14.0", "prom/prometheus:v3.15.0");
    assert.deepEqual(disagreements(dir), [
      "compose.yaml: PROMETHEUS_IMAGE defaults to prom/prometheus:v3.15.0, versions.ts pins prom/prometheus:v3.14.0",
      "compose.yaml: PROMETHEUS_IMAGE defaults to prom/prometheus:v3.15.0, versions.ts pins prom/prometheus:v3.14.0",
    ]);
  });

  test("a tools module at another version, a missing tool directive and a stale doc are each named", (t) => {
    const dir = copyOfTree();
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    edit(dir, "tools/upstream/alertmanager/go.mod", "alertmanager v0.33.0", "alertmanager v0.34.0");
    edit(dir, "tools/upstream/prometheus/go.mod", "\tgithub.com/prometheus/prometheus/cmd/promtool\n", "");
    writeFileSync(join(dir, "docs/extra.md"), "The tests run Prometheus 3.13.\n");
    assert.deepEqual(disagreements(dir), [
      "tools/upstream/prometheus/go.mod: no tool directive for github.com/prometheus/prometheus/cmd/promtool",
      "tools/upstream/alertmanager/go.mod: requires github.com/prometheus/alertmanager v0.34.0, versions.ts pins v0.33.0",
      "docs/extra.md:1: names Prometheus 3.13, versions.ts pins 3.14.0",
    ]);
  });

  test("the ops image's PostgreSQL client major follows the demo server's", (t) => {
    const dir = copyOfTree();
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    edit(dir, "ops/Dockerfile", "ARG PG_MAJOR=16", "ARG PG_MAJOR=15");
    assert.deepEqual(disagreements(dir), [
      "ops/Dockerfile ARG PG_MAJOR is 15, the demo server's major in versions.ts is 16",
    ]);
  });

  test("the ops image's PyPI PostgreSQL client is the demo server's release", (t) => {
    const dir = copyOfTree();
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    edit(dir, "ops/Dockerfile", "ARG PG_CLIENT_VERSION=16.15.0", "ARG PG_CLIENT_VERSION=16.14.0");
    assert.deepEqual(disagreements(dir), [
      "ops/Dockerfile ARG PG_CLIENT_VERSION is 16.14.0, versions.ts pins postgres 16.15.0",
    ]);
  });

  test("every Go build names a module version that matches the release it pins", () => {
    for (const [name, u] of Object.entries(upstream)) {
      if (!("go" in u)) continue;
      // Prometheus 3.x.y is module v0.3xx.y; the others tag their module with the release itself.
      const want =
        name === "prometheus"
          ? `v0.${u.version.split(".")[0]}${u.version.split(".")[1]!.padStart(2, "0")}.${u.version.split(".")[2]}`
          : `v${u.version}`;
      assert.equal(u.go.moduleVersion, want, name);
    }
  });
});

describe(
  "npm run -s upstream -- versions",
  { skip: requireBinaries("prometheus", "promtool", "alertmanager", "amtool") },
  () => {
    test("prints `name version path` for every upstream binary, each the pinned version and the one the harness runs", () => {
      const r = spawnSync(
        process.execPath,
        ["--import", "tsx", join(root, "scripts/upstream.ts"), "versions"],
        {
          cwd: root,
          encoding: "utf8",
          timeout: 60_000,
        },
      );
      assert.equal(r.status, 0, r.stderr);
      const lines = r.stdout.trim().split("\n");
      const pinned = Object.entries(upstream).flatMap(([, u]) =>
        "go" in u ? u.go.commands.map((c) => [c.name, u.version] as const) : [],
      );
      assert.deepEqual(
        lines.map((l) => l.split(" ").slice(0, 2)),
        pinned.map(([n, v]) => [n, v]),
      );
      for (const l of lines) {
        const [name, , path] = l.split(" ");
        assert.ok(path && statSync(path).mode & 0o111, `${name}: ${path} is not an executable`);
        if (name === "prometheus" || name === "promtool" || name === "alertmanager" || name === "amtool") {
          assert.equal(findBinary(name), path, `the harness runs ${name} from the same build`);
        }
      }
    });
  },
);
