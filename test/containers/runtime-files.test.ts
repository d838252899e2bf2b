// Every file our programs read beside their code at run time is in their image, where the compiled
// code looks (test/containers/runtime-files.ts says how the images are modelled). Static: it needs no
// Docker; test/containers/stack.test.ts checks the same paths inside the built images.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { ignored, imageFiles, ourImages, repoRoot, runtimeReads } from "./runtime-files.ts";

describe("files read at run time through import.meta.url", () => {
  for (const { dockerfile } of ourImages) {
    test(`${dockerfile}: every one is in the image`, () => {
      const r = runtimeReads(repoRoot, dockerfile);
      assert.deepEqual(r.problems, []);
    });
  }

  test("the reads found are the ones the code makes (none: the demo's scans DDL is a module)", () => {
    for (const { dockerfile } of ourImages)
      assert.deepEqual(
        runtimeReads(repoRoot, dockerfile).reads.map((r) => [r.source, r.imagePath]),
        [],
        dockerfile,
      );
    // The DDL the demo applies is compiled into dist/ with the other definitions.
    const demo = imageFiles(repoRoot, "demo/Dockerfile");
    assert.equal(demo.files.get("/app/dist/definitions/scans-ddl.js"), "definitions/scans-ddl.ts");
    assert.ok(!demo.files.has("/app/dist/exporter/sql/scans.sql"), "the demo image copies no DDL file");
    // The ops report's coverage is imported, so tsc emits it into dist/ beside the code.
    const ops = imageFiles(repoRoot, "ops/Dockerfile");
    assert.equal(
      ops.files.get("/app/dist/definitions/generated/documentation-coverage.json"),
      "definitions/generated/documentation-coverage.json",
    );
    assert.ok(ops.files.has("/app/dist/ops/src/cli.js"));
    assert.ok(!ops.files.has("/app/dist/exporter/src/main.js"), "the ops image compiles no exporter code");
    assert.ok(!ops.compiled.some((f) => f.endsWith(".test.ts")));
  });

  // The defect this guards against, on a copy of the repository: the ops report read its JSON
  // through import.meta.url, and the demo read its DDL file beside its code, which its image lacks.
  test("a read of a file the image lacks is found, with where the code looks for it", () => {
    const copy = mkdtempSync(join(tmpdir(), "runtime-files-"));
    try {
      for (const p of [
        "package.json",
        "package-lock.json",
        "tsconfig.json",
        "tsconfig.build.json",
        ".dockerignore",
        ".gitignore",
      ])
        cpSync(join(repoRoot, p), join(copy, p));
      for (const d of ["definitions", "lib", "ops", "demo", "exporter"])
        cpSync(join(repoRoot, d), join(copy, d), { recursive: true });
      const scorecard = join(copy, "ops/src/report/scorecard.ts");
      const text = readFileSync(scorecard, "utf8");
      writeFileSync(
        scorecard,
        text
          .replace(/^import documentationCoverage from .*$/m, "")
          .replace(
            "return documentationCoverage satisfies DocumentationCoverage;",
            'return JSON.parse(readFileSync(new URL("../../../definitions/generated/documentation-coverage.json", import.meta.url), "utf8"));',
          ),
      );
      const scans = join(copy, "demo/src/scans.ts");
      writeFileSync(
        scans,
        readFileSync(scans, "utf8").replace(
          "let sql = scansDdl;",
          'let sql = readFileSync(new URL("../../exporter/sql/scans.sql", import.meta.url), "utf8");',
        ),
      );
      // The helper lists files through git; the copy is a repository of its own.
      assert.equal(spawnSync("git", ["init", "-q"], { cwd: copy }).status, 0);
      const line =
        readFileSync(scorecard, "utf8")
          .split("\n")
          .findIndex((l) => l.includes("JSON.parse(readFileSync(new URL(")) + 1;
      assert.deepEqual(runtimeReads(copy, "ops/Dockerfile").problems, [
        `ops/Dockerfile: ops/src/report/scorecard.ts:${line} reads ../../../definitions/generated/documentation-coverage.json beside its code, /app/dist/definitions/generated/documentation-coverage.json in the image, which the image does not hold`,
      ]);
      const scansLine =
        readFileSync(scans, "utf8")
          .split("\n")
          .findIndex((l) => l.includes("readFileSync(new URL(")) + 1;
      assert.ok(scansLine > 0, "the injected read is in the copy");
      assert.deepEqual(runtimeReads(copy, "demo/Dockerfile").problems, [
        `demo/Dockerfile: demo/src/scans.ts:${scansLine} reads ../../exporter/sql/scans.sql beside its code, /app/dist/exporter/sql/scans.sql in the image, which the image does not hold`,
      ]);
      // A use of import.meta the test cannot resolve is a problem too, not a pass.
      writeFileSync(join(copy, "exporter/src/where.ts"), "export const here = import.meta.dirname;\n");
      assert.deepEqual(runtimeReads(copy, "exporter/Dockerfile").problems, [
        'exporter/src/where.ts:1: import.meta used other than as new URL("<literal path>", import.meta.url); the test cannot tell what it reads',
      ]);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });

  test(".dockerignore patterns: last match wins, a folder's pattern covers its files", () => {
    const demo = ["*", "!demo/src/", "!exporter/sql/scans.sql", "**/*.test.ts"];
    assert.equal(ignored(demo, "demo/src/main.ts"), false);
    assert.equal(ignored(demo, "demo/src/main.test.ts"), true);
    assert.equal(ignored(demo, "exporter/sql/scans.sql"), false);
    assert.equal(ignored(demo, "exporter/sql/scans-finish-xid.sql"), true);
    assert.equal(ignored([".git", "secrets", "**/node_modules"], "secrets/ops/x"), true);
    assert.equal(ignored([".git", "secrets", "**/node_modules"], "lib/node_modules/a/b.js"), true);
    assert.equal(ignored([".git", "secrets"], "lib/secrets.ts"), false);
  });
});
