// The import boundaries of eslint.boundaries.js (drawn in docs/architecture.md), run through ESLint's
// Node API as `npm run lint` runs them: each deliberate violation below is reported with the area's
// message, each allowed import is not, and the tree as committed has no violation.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ESLint } from "eslint";
import tseslint from "typescript-eslint";

const root = new URL("..", import.meta.url).pathname;
// Without type information: the fixtures pretend to be files that are not in tsconfig.json's program
// (the type-aware rules of eslint.config.js would stop at a parse error before the boundary rules ran),
// and the boundaries need none.
const eslint = new ESLint({ cwd: root, overrideConfig: tseslint.configs.disableTypeChecked });
const boundaryRules = new Set(["no-restricted-imports", "no-restricted-syntax"]);

/** The boundary messages ESLint reports for `code` as if it were the file at `path`. */
async function violations(path: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: `${root}${path}` });
  assert.ok(result, path);
  return result.messages.filter((m) => boundaryRules.has(m.ruleId ?? "")).map((m) => m.message);
}

// Fixtures: [the file the code pretends to be, the code, the start of the expected message or "allowed"].
const cases: [string, string, RegExp | "allowed"][] = [
  // The import ops had before lib/ existed.
  [
    "ops/src/cli.ts",
    'import { createLogger } from "../../exporter/src/log.ts";\nexport const l = createLogger;\n',
    /ops\/src is a program: it imports lib\/ and definitions\/ only/,
  ],
  [
    "ops/src/cli.ts",
    'import type { Logger } from "../../exporter/src/log.ts";\nexport type L = Logger;\n',
    /ops\/src is a program/,
  ],
  [
    "demo/src/api.ts",
    'export { startPostgres } from "../../test/support/servers.ts";\n',
    /demo\/src is a program/,
  ],
  ["exporter/src/collectors/x.ts", 'import "../../../bench/lib/stats.ts";\n', /exporter\/src is a program/],
  ["exporter/src/collectors/x.ts", 'import "../../test/helper.ts";\n', /exporter\/src is a program/],
  [
    "exporter/src/main.ts",
    'export const m = await import("../../ops/src/cli.ts");\n',
    /exporter\/src is a program/,
  ],
  // The folder cycle there was between the rule generators.
  [
    "prometheus/rules/src/index.ts",
    'export { lokiRuleGroups } from "../../../loki/rules/src/index.ts";\n',
    /prometheus\/rules\/src is a generator/,
  ],
  ["dashboards/src/x.ts", 'import "../../exporter/src/config.ts";\n', /dashboards\/src is a generator/],
  [
    "lib/config/x.ts",
    'import "../../exporter/src/config.ts";\n',
    /lib\/ \(the shared runtime layer\) imports only definitions\//,
  ],
  ["definitions/x.ts", 'import "../lib/log.ts";\n', /definitions\/ is plain data/],
  // The docs generators read what they document, and nothing else of the programs.
  ["scripts/docs/x.ts", 'import "../../ops/src/config.ts";\n', /scripts\/docs \(the docs generators\)/],
  ["scripts/docs/x.ts", 'import "../../exporter/src/config.ts";\n', "allowed"],
  // Deeper than the table of depths reaches, nothing may climb.
  ["lib/a/b/c/d/e/f/g/x.ts", 'import "../y.ts";\n', /lib is nested more than 6 folders deep/],
  // Allowed directions.
  [
    "ops/src/cli.ts",
    'import "../../lib/log.ts";\nimport "../../definitions/metrics/jobs.ts";\nimport "./config.ts";\n',
    "allowed",
  ],
  ["exporter/src/collectors/x.ts", 'import "../../../lib/redact.ts";\nimport "../metrics.ts";\n', "allowed"],
  ["lib/config/x.ts", 'import "../../definitions/application.ts";\nimport "../log.ts";\n', "allowed"],
  ["prometheus/rules/src/x.ts", 'import "../../../lib/promql.ts";\n', "allowed"],
  ["definitions/x.ts", 'import "./thresholds.ts";\n', "allowed"],
  // Tests and benchmarks wire programs together and are not restricted.
  ["ops/test/x.test.ts", 'import "../../test/support/servers.ts";\n', "allowed"],
  // An area's own tests are tests too (lib/test/exposition.test.ts reads /metrics through the harness)...
  ["lib/test/x.test.ts", 'import "../../test/support/exposition.ts";\n', "allowed"],
  // ...but only its tests: the runtime layer beside them may not.
  [
    "lib/x.ts",
    'import "../test/support/exposition.ts";\n',
    /lib\/ \(the shared runtime layer\) imports only/,
  ],
  ["lib/testing.ts", 'import "../test/support/exposition.ts";\n', /lib\/ \(the shared runtime layer\)/],
];

describe("import boundaries (eslint.boundaries.js)", () => {
  for (const [path, code, want] of cases) {
    test(`${path}: ${code.split("\n")[0]} is ${want === "allowed" ? "allowed" : "refused"}`, async () => {
      const got = await violations(path, code);
      if (want === "allowed") assert.deepEqual(got, []);
      else {
        assert.equal(got.length, 1, got.join("\n"));
        assert.match(got[0]!, want);
      }
    });
  }

  test("the committed tree has no boundary violation", async () => {
    const results = await eslint.lintFiles([
      "definitions",
      "lib",
      "exporter/src",
      "ops/src",
      "demo/src",
      "prometheus/rules/src",
      "loki/rules/src",
      "dashboards/src",
      "scripts/docs",
    ]);
    assert.ok(results.length > 60, `only ${results.length} files linted`);
    const found = results.flatMap((r) =>
      r.messages
        .filter((m) => boundaryRules.has(m.ruleId ?? ""))
        .map((m) => `${r.filePath.slice(root.length)}:${m.line}: ${m.message}`),
    );
    assert.deepEqual(found, []);
  });
});
