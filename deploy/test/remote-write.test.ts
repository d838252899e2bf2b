// The generated remote_write configurations (deploy/remote-write/): what each changes from
// prometheus.yml, the stores' endpoints and headers, and promtool's verdict on every file.
import assert from "node:assert/strict";
import {
  cpSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { parse } from "yaml";
import { hostLabel, jobs } from "../../definitions/selectors.ts";
import { generators } from "../../scripts/generators.ts";
import { outputs as readmeOutputs } from "../../scripts/docs/remote-write.ts";
import { requireBinaries, run, tempDir } from "../../test/support/servers.ts";
import {
  centralJobs,
  hostNameVariable,
  outputDir,
  outputs,
  sourceConfigPath,
  stores,
  tenant,
} from "../src/remote-write.ts";

const root = new URL("../..", import.meta.url).pathname;
type Obj = Record<string, unknown>;
const source = parse(readFileSync(join(root, sourceConfigPath), "utf8")) as Obj;
const files = outputs();
const doc = (name: string) => parse(files[`${outputDir}/${name}`]!) as Obj;
const jobNames = (d: Obj) => (d.scrape_configs as Obj[]).map((j) => String(j.job_name));

describe("deploy/remote-write", () => {
  test("one edge file per store, a central file and a README", () => {
    assert.deepEqual(
      Object.keys({ ...files, ...readmeOutputs() }).sort(),
      [
        `${outputDir}/README.md`,
        `${outputDir}/central-prometheus.yml`,
        ...stores.map((s) => `${outputDir}/edge-${s.name}.yml`),
      ].sort(),
    );
  });

  test("the stores' endpoints and tenant headers", () => {
    const byName = Object.fromEntries(stores.map((s) => [s.name, s]));
    assert.match(byName["central-prometheus"]!.url, /\/api\/v1\/write$/);
    assert.equal(byName["central-prometheus"]!.headers, undefined);
    assert.match(byName.mimir!.url, /\/api\/v1\/push$/);
    assert.deepEqual(byName.mimir!.headers, { "X-Scope-OrgID": tenant });
    assert.match(byName["thanos-receive"]!.url, /:19291\/api\/v1\/receive$/);
    assert.deepEqual(byName["thanos-receive"]!.headers, { "THANOS-TENANT": tenant });
  });

  for (const s of stores) {
    test(`edge-${s.name}.yml is prometheus.yml with the host label, remote_write, and no rules or alerting`, () => {
      const edge = doc(`edge-${s.name}.yml`);
      const global = edge.global as { external_labels: Record<string, string> };
      const srcGlobal = source.global as { external_labels: Record<string, string> };
      assert.deepEqual(global.external_labels, {
        ...srcGlobal.external_labels,
        [hostLabel]: `\${${hostNameVariable}}`,
      });
      assert.equal(edge.rule_files, undefined);
      assert.equal(edge.alerting, undefined);
      assert.deepEqual(edge.storage, source.storage);
      assert.deepEqual(
        jobNames(edge),
        jobNames(source).filter((j) => !centralJobs.includes(j)),
      );
      const [rw, ...more] = edge.remote_write as Obj[];
      assert.equal(more.length, 0);
      assert.equal(rw!.url, s.url);
      assert.deepEqual(rw!.headers, s.headers);
      // Every job the edge keeps is the source's own, unchanged.
      for (const j of edge.scrape_configs as Obj[])
        assert.deepEqual(
          j,
          (source.scrape_configs as Obj[]).find((x) => x.job_name === j.job_name),
        );
    });
  }

  test("central-prometheus.yml keeps the rules, Alertmanager and the jobs that run once", () => {
    const central = doc("central-prometheus.yml");
    assert.deepEqual(central.rule_files, source.rule_files);
    assert.deepEqual(central.alerting, source.alerting);
    assert.deepEqual(jobNames(central).sort(), [jobs.prometheus, ...centralJobs].sort());
    assert.equal(central.remote_write, undefined);
  });

  test(
    "promtool check config accepts every generated file, placed where prometheus.yml goes",
    { skip: requireBinaries("promtool") },
    () => {
      const dir = tempDir("remote-write");
      try {
        // The layout of the prometheus/ folder: targets/ and rules/ beside the configuration.
        cpSync(join(root, "prometheus/targets"), join(dir, "targets"), { recursive: true });
        mkdirSync(join(dir, "rules"));
        symlinkSync(join(root, "prometheus/rules/generated"), join(dir, "rules/generated"));
        for (const [path, content] of Object.entries(files)) {
          if (!path.endsWith(".yml")) continue;
          const file = join(dir, path.split("/").pop()!);
          writeFileSync(file, content);
          const r = run("promtool", ["check", "config", file]);
          assert.equal(r.status, 0, `${path}:\n${r.stdout}\n${r.stderr}`);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});

test("deploy/ holds only generated files besides its sources and tests (a file no generator writes is stale)", async () => {
  const generated = new Set<string>();
  for (const load of Object.values(generators))
    for (const p of Object.keys(await (await load()).outputs())) generated.add(p);
  const walk = (dir: string): string[] =>
    readdirSync(join(root, dir)).flatMap((f) =>
      statSync(join(root, dir, f)).isDirectory() ? walk(`${dir}/${f}`) : [`${dir}/${f}`],
    );
  const stray = walk("deploy").filter((p) => !/^deploy\/(src|test)\//.test(p) && !generated.has(p));
  assert.deepEqual(stray, []);
});
