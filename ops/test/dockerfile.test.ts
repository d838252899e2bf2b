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
    // Fetched in the pgclient stage (from PGDG by default), copied whole into the runtime stage.
    const pgclient = stages.find((s) => / AS pgclient\n/.test(s.split("\n")[0]! + "\n"));
    assert.ok(pgclient, "a pgclient stage");
    assert.equal(/^ARG PG_MAJOR=(\d+)$/m.exec(pgclient)?.[1], arg[1]);
    assert.match(pgclient, /^ARG PG_CLIENT_SOURCE=pgdg$/m, "users get the PostgreSQL project's packages");
    assert.match(pgclient, /packages="postgresql-client-\$\{PG_MAJOR\}"/);
    assert.match(pgclient, /https:\/\/apt\.postgresql\.org\/pub\/repos\/apt/);
    assert.match(final, /^COPY --from=pgclient \/out\/ \/$/m);
    assert.match(final, /OPS_PG_BIN_DIR=\/usr\/lib\/postgresql\/\$\{PG_MAJOR\}\/bin/);
    const compose = parse(readFileSync(join(repoRoot, "compose.yaml"), "utf8")) as {
      services: Record<string, { image?: string; build?: { args?: Record<string, string> } }>;
    };
    const serverMajor = /:-postgres:(\d+)\./.exec(compose.services.postgres!.image!)?.[1];
    assert.equal(compose.services.ops!.build!.args!.PG_MAJOR, `\${OPS_PG_MAJOR:-${serverMajor}}`);
    assert.equal(compose.services.ops!.build!.args!.PG_CLIENT_SOURCE, "${OPS_PG_CLIENT_SOURCE:-pgdg}");
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

describe("the proxy CA opt-in (EXTRA_CA_CERTS) of the three Dockerfiles", () => {
  for (const file of ["exporter/Dockerfile", "ops/Dockerfile", "demo/Dockerfile"]) {
    test(`${file}: declared in build stages only, never in the runtime stage`, () => {
      const text = readFileSync(join(repoRoot, file), "utf8");
      const all = text.split(/^FROM /m).slice(1);
      const runtime = all[all.length - 1]!;
      // A build argument declared in the runtime stage is written into its history (docker history).
      assert.doesNotMatch(runtime, /EXTRA_CA_CERTS|extra-ca/, `${file}: the runtime stage names the CA`);
      const withCa = all.filter((s) => /^ARG EXTRA_CA_CERTS=""$/m.test(s));
      assert.ok(withCa.length >= 2, `${file}: every npm ci stage takes EXTRA_CA_CERTS`);
      for (const s of all.slice(0, -1))
        if (/npm ci/.test(s))
          assert.match(s, /NODE_EXTRA_CA_CERTS=\/tmp\/extra-ca\.pem/, `${file}: ${s.split("\n")[0]}`);
      const compose = parse(readFileSync(join(repoRoot, "compose.yaml"), "utf8")) as {
        services: Record<string, { build?: { dockerfile?: string; args?: Record<string, string> } }>;
      };
      const service = Object.values(compose.services).find((sv) => sv.build?.dockerfile === file);
      assert.equal(
        service?.build?.args?.EXTRA_CA_CERTS,
        "${EXTRA_CA_CERTS:-}",
        `compose passes it to ${file}`,
      );
    });
  }
});
