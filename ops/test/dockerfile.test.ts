// No Docker engine runs where the tests run, so ops/Dockerfile is checked by reading it: what it copies
// holds every module the CLI imports, the pg client it installs is the demo server's major version (as
// compose passes it), and it runs the built CLI as an unprivileged user.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, test } from "node:test";
import { parse } from "yaml";
import { repoRoot } from "./support.ts";

const dockerfile = readFileSync(join(repoRoot, "ops/Dockerfile"), "utf8");
const stages = dockerfile.split(/^FROM /m).slice(1);
const final = stages[stages.length - 1]!;

/** Every repository file reachable through relative imports from `entry`. */
function importClosure(entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(/^(?:import|export)[^;]*?from\s+"(\.[^"]+)"/gms))
      visit(resolve(dirname(file), m[1]!));
  };
  visit(entry);
  return seen;
}

describe("ops/Dockerfile", () => {
  test("the build stage copies every module the CLI imports", () => {
    const copied = [...dockerfile.matchAll(/^COPY (?!--from)(\S+) \.\/\S+$/gm)].map((m) =>
      m[1]!.replace(/\/$/, ""),
    );
    for (const c of copied) assert.ok(existsSync(join(repoRoot, c)), `${c} exists`);
    const files = [...importClosure(join(repoRoot, "ops/src/cli.ts"))].map((f) => relative(repoRoot, f));
    assert.ok(files.length > 8, files.join(", "));
    for (const f of files)
      assert.ok(
        copied.some((c) => f.startsWith(`${c}/`)),
        `${f} is imported by the CLI but not copied into the image`,
      );
  });

  test("installs the PostgreSQL client of the demo server's major version, as compose builds it", () => {
    const arg = /^ARG PG_MAJOR=(\d+)$/m.exec(final);
    assert.ok(arg, "ARG PG_MAJOR=<major> in the runtime stage");
    assert.match(final, /postgresql-client-\$\{PG_MAJOR\}/);
    assert.match(final, /OPS_PG_BIN_DIR=\/usr\/lib\/postgresql\/\$\{PG_MAJOR\}\/bin/);
    const compose = parse(readFileSync(join(repoRoot, "compose.yaml"), "utf8")) as {
      services: Record<string, { image?: string; build?: { args?: Record<string, string> } }>;
    };
    const serverMajor = /:-postgres:(\d+)\./.exec(compose.services.postgres!.image!)?.[1];
    assert.equal(compose.services.ops!.build!.args!.PG_MAJOR, `\${OPS_PG_MAJOR:-${serverMajor}}`);
    assert.equal(arg[1], serverMajor);
  });

  test("runs the built CLI (schedule by default) as the unprivileged node user", () => {
    assert.match(final, /^USER node$/m);
    assert.match(final, /^ENTRYPOINT \["node", "dist\/ops\/src\/cli\.js"\]$/m);
    assert.match(final, /^CMD \["schedule"\]$/m);
    assert.match(final, /^COPY --from=deps \/app\/node_modules \.\/node_modules$/m);
    assert.doesNotMatch(final, /tsx|--from=build \/app\/node_modules/);
    // The CLI's "run when executed" check must recognise the built path.
    assert.match("/app/dist/ops/src/cli.js", /ops\/src\/cli\.(ts|js)$/);
    assert.match(
      readFileSync(join(repoRoot, "ops/src/cli.ts"), "utf8"),
      /\/ops\\\/src\\\/cli\\\.\(ts\|js\)\$\//,
    );
  });
});
