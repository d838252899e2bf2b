// No Docker engine runs where the tests run, so the image is checked by reading its Dockerfile: the
// properties the issue asks for, each a line that must be there. The HEALTHCHECK script it runs is
// executed for real against a running exporter.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, test } from "node:test";
import { exporterCollector } from "../src/collectors/exporter.ts";
import { createLogger } from "../../lib/log.ts";
import { Scraper } from "../src/scrape.ts";
import { createApp } from "../src/server.ts";
import { startHeapFlags } from "../../bench/lib/environment.ts";
import { freePort } from "../../test/support/servers.ts";

const root = new URL("../..", import.meta.url).pathname;
const dockerfile = readFileSync(`${root}exporter/Dockerfile`, "utf8");
const lines = dockerfile.split("\n").filter((l) => l.trim() !== "" && !l.trim().startsWith("#"));
const stages = dockerfile.split(/^FROM /m).slice(1);
const final = stages[stages.length - 1]!;

/** The node flags of the final stage's `CMD ["node", ...flags, "dist/exporter/src/main.js"]`. */
function cmdFlags(stage: string): string[] {
  const m = /^CMD (\[.*\])$/m.exec(stage);
  assert.ok(m, "a CMD in exec form");
  const argv = JSON.parse(m[1]!) as string[];
  assert.equal(argv[0], "node");
  assert.equal(argv[argv.length - 1], "dist/exporter/src/main.js");
  return argv.slice(1, -1);
}

describe("exporter/Dockerfile", () => {
  test("multi-stage, every stage from one pinned Node LTS image", () => {
    assert.ok(stages.length >= 2, "at least a build and a runtime stage");
    const arg = /^ARG NODE_IMAGE=node:(\d+)\.\d+\.\d+-[a-z0-9.-]+$/m.exec(dockerfile);
    assert.ok(arg, "ARG NODE_IMAGE=node:<major.minor.patch>-<variant>");
    // Even majors are the LTS lines; 20 reached its end of life in April 2026.
    assert.ok(Number(arg[1]) % 2 === 0 && Number(arg[1]) >= 22, `node ${arg[1]} is not a current LTS`);
    for (const s of stages) assert.match(s, /^\$\{NODE_IMAGE\}/);
  });
  test("npm ci from the lock file, and the TypeScript build, in a build stage", () => {
    // The npm ci line may trust a proxy's CA first (EXTRA_CA_CERTS, ops/test/dockerfile.test.ts).
    assert.match(stages[0]!, /^\s*(RUN|&&) npm ci --no-audit --no-fund( \\)?$/m);
    assert.ok(lines.some((l) => /^RUN npx tsc -p tsconfig\.build\.json$/.test(l)));
  });
  test("the final stage has production dependencies only and no dev tooling", () => {
    assert.match(dockerfile, /^\s*(RUN|&&) npm ci --omit=dev/m);
    assert.match(final, /^COPY --from=deps \/app\/node_modules \.\/node_modules$/m);
    assert.match(final, /^COPY --from=build \/app\/dist \.\/dist$/m);
    assert.doesNotMatch(final, /^RUN npm (ci|install)(?! --omit=dev)/m);
    assert.doesNotMatch(final, /tsx|typescript|eslint|--from=build \/app\/node_modules/);
    assert.match(final, /^ENV NODE_ENV=production$/m);
  });
  test("runs as a non-root user, exposes 9839, heap flags, healthcheck with node", () => {
    assert.match(final, /^USER node$/m);
    assert.match(final, /^EXPOSE 9839$/m);
    const flags = cmdFlags(final);
    assert.ok(
      flags.some((f) => /^--max-old-space-size=\d+$/.test(f)),
      `CMD flags: ${flags.join(" ")}`,
    );
    assert.ok(
      flags.some((f) => /^--max-semi-space-size=\d+$/.test(f)),
      `CMD flags: ${flags.join(" ")}`,
    );
    assert.match(final, /^HEALTHCHECK .*\\\n\s+CMD \["node", "dist\/exporter\/src\/healthcheck\.js"\]$/m);
    // Nothing downloads tools into the image: the healthcheck is node.
    assert.doesNotMatch(lines.join("\n"), /\b(curl|wget)\b/);
  });
  test("the files the image copies exist, and .dockerignore keeps secrets and local state out", () => {
    for (const m of dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm))
      for (const src of m[1]!.split(" ")) assert.ok(existsSync(`${root}${src}`), src);
    const ignore = readFileSync(`${root}.dockerignore`, "utf8").split("\n");
    for (const p of ["secrets", ".env", "node_modules", "dist", ".git"]) assert.ok(ignore.includes(p), p);
  });
  test("package.json's npm start runs what the image runs", () => {
    // startHeapFlags() is the one reader of npm start's node flags (the benchmark runs ours with them).
    assert.deepEqual(startHeapFlags(), cmdFlags(final));
  });
});

describe("the HEALTHCHECK script", () => {
  const run = (env: Record<string, string>) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = execFile(
        process.execPath,
        ["--import", "tsx", "exporter/src/healthcheck.ts"],
        { cwd: root, env: { PATH: process.env.PATH ?? "", ...env }, timeout: 30_000 },
        (_e, _out, stderr) => resolve({ code: child.exitCode, stderr }),
      );
    });

  test("exit 0 against a running exporter, 1 when nothing listens", { concurrency: true }, async (t) => {
    const log = createLogger({ write: () => {} });
    const scraper = new Scraper({
      collectors: [],
      exporter: exporterCollector.create({ version: "test" }, log),
      defaultTimeoutSeconds: 1,
      marginSeconds: 0,
      log,
    });
    const app = createApp({ scraper, collectors: [], log, healthTimeoutSeconds: 1 });
    const server: Server = await new Promise((resolve) => {
      const s = app.listen(0, "127.0.0.1", () => resolve(s));
    });
    t.after(() => server.close());
    const { port } = server.address() as AddressInfo;
    const closed = await freePort();
    const [up, down] = await Promise.all([
      run({ EXPORTER_LISTEN_ADDRESS: `0.0.0.0:${port}` }),
      run({ EXPORTER_LISTEN_ADDRESS: `127.0.0.1:${closed}` }),
    ]);
    assert.equal(up.code, 0, up.stderr);
    assert.equal(down.code, 1);
    assert.match(down.stderr, /^healthcheck: fetch failed/);
  });
});
