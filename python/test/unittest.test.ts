// The Python package's own tests (python/kali_agents_logging/tests, unittest from the standard library),
// run by `npm test` with the machine's python3: this file fails when they fail, and under CI=true when
// python3 is missing.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, test } from "node:test";
import { requirePython } from "./support.ts";

const root = new URL("../..", import.meta.url).pathname;

describe("python/kali_agents_logging", { skip: requirePython() }, () => {
  test("its unittest suite passes", () => {
    const r = spawnSync(
      "python3",
      ["-m", "unittest", "discover", "-v", "-s", "python/kali_agents_logging/tests"],
      { cwd: root, encoding: "utf8", timeout: 60_000, env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" } },
    );
    const out = `${r.stdout}${r.stderr}`;
    assert.equal(r.status, 0, out);
    const ran = Number(/^Ran (\d+) tests?/m.exec(out)?.[1] ?? 0);
    assert.ok(ran >= 13, `only ${ran} tests ran:\n${out}`);
    assert.match(out, /^OK$/m);
  });
});
