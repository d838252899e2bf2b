// Grafana provisioning: the files parse, the datasources carry the UIDs the dashboards use, every
// generated folder has a read-only provider, and nothing stale sits in dashboards/generated.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, test } from "node:test";
import { parseDocument } from "yaml";
import { datasourceUids } from "../../definitions/selectors.ts";
import { folders } from "../src/common.ts";
import { dashboards, outputs } from "../src/index.ts";
import { panelsOf } from "../src/queries.ts";

const root = new URL("../..", import.meta.url).pathname;
const datasourcesFile = "dashboards/provisioning/datasources/datasources.yaml";
const providersFile = "dashboards/provisioning/dashboards/dashboards.yaml";
/** Where compose mounts dashboards/generated inside the Grafana container. */
const mountedAt = "/etc/grafana/dashboards";

/** Parses strictly: a syntax error, a duplicate key or an unresolved alias fails with its position. */
function load(path: string): Record<string, unknown> {
  const doc = parseDocument(readFileSync(join(root, path), "utf8"), { uniqueKeys: true, prettyErrors: true });
  assert.deepEqual(
    doc.errors.map((e) => e.message),
    [],
    `${path} is not valid YAML`,
  );
  const value = doc.toJS() as unknown;
  assert.ok(value && typeof value === "object", `${path} is not a mapping`);
  return value as Record<string, unknown>;
}

interface Datasource {
  name: string;
  uid: string;
  type: string;
  url: string;
  access?: string;
  jsonData?: Record<string, unknown>;
}

interface Provider {
  name: string;
  type: string;
  folder?: string;
  folderUid?: string;
  allowUiUpdates?: boolean;
  options?: { path?: string; foldersFromFilesStructure?: boolean };
}

describe("Grafana provisioning", () => {
  const ds = load(datasourcesFile);
  const datasources = (ds.datasources ?? []) as Datasource[];

  test("datasources: Prometheus, Loki and Alertmanager with the fixed UIDs from definitions", () => {
    assert.equal(ds.apiVersion, 1);
    const expected: [keyof typeof datasourceUids, string, string][] = [
      ["prometheus", "prometheus", "http://prometheus:9090"],
      ["loki", "loki", "http://loki:3100"],
      ["alertmanager", "alertmanager", "http://alertmanager:9093"],
    ];
    for (const [key, type, url] of expected) {
      const d = datasources.find((x) => x.uid === datasourceUids[key]);
      assert.ok(d, `no datasource with uid ${datasourceUids[key]}`);
      assert.equal(d.type, type);
      assert.equal(d.url, url);
      assert.equal(d.access ?? "proxy", "proxy");
    }
    const am = datasources.find((x) => x.type === "alertmanager");
    assert.equal(am?.jsonData?.implementation, "prometheus");
    const names = datasources.map((d) => d.name);
    assert.equal(new Set(names).size, names.length, "datasource names must be unique");
    assert.equal(
      datasources.filter((d) => (d as { isDefault?: boolean }).isDefault).length,
      1,
      "one default datasource",
    );
  });

  test("every datasource UID a dashboard references is provisioned", () => {
    const provisioned = new Map(datasources.map((d) => [d.uid, d.type]));
    const bad: string[] = [];
    for (const d of dashboards) {
      // The datasource variables' defaults are the only fixed UIDs; panels reference the variables.
      for (const v of d.json.templating.list ?? []) {
        if (v.type !== "datasource") continue;
        const uid = (v.current as { value?: unknown } | undefined)?.value;
        if (typeof uid !== "string" || provisioned.get(uid) !== v.query) {
          bad.push(
            `${d.name}: variable ${v.name} defaults to ${String(uid)} (type ${JSON.stringify(v.query)})`,
          );
        }
      }
      for (const p of panelsOf(d.json)) {
        for (const ref of [
          p.datasource,
          ...((p.targets ?? []) as { datasource?: { uid?: string } }[]).map((t) => t.datasource),
        ]) {
          const uid = ref?.uid ?? "";
          if (!uid.startsWith("$") && !provisioned.has(uid))
            bad.push(`${d.name} / ${p.title}: datasource ${uid}`);
        }
      }
    }
    assert.deepEqual(bad, []);
  });

  test("one read-only file provider per generated folder, at the path compose mounts", () => {
    const doc = load(providersFile);
    assert.equal(doc.apiVersion, 1);
    const providers = (doc.providers ?? []) as Provider[];
    const used = new Set(dashboards.map((d) => d.folder));
    for (const folder of used) {
      const matching = providers.filter((p) => p.options?.path === `${mountedAt}/${folder}`);
      assert.equal(matching.length, 1, `folder ${folder}: ${matching.length} providers`);
      const p = matching[0]!;
      assert.equal(p.type, "file");
      assert.equal(p.folder, folders[folder], `provider ${p.name}: folder title`);
      assert.equal(p.allowUiUpdates, false, `provider ${p.name} lets the UI save over generated dashboards`);
    }
    for (const p of providers) {
      const folder = p.options?.path?.slice(mountedAt.length + 1) ?? "";
      assert.ok(
        used.has(folder as keyof typeof folders),
        `provider ${p.name} reads ${p.options?.path}, which nothing generates`,
      );
    }
    const names = providers.map((p) => p.name);
    assert.equal(new Set(names).size, names.length, "provider names must be unique");
    const uids = providers.map((p) => p.folderUid);
    assert.equal(new Set(uids).size, uids.length, "folder UIDs must be unique");
  });

  test("dashboards/generated holds exactly the generated dashboards (no stale file is provisioned)", () => {
    const dir = join(root, "dashboards/generated");
    const walk = (d: string): string[] =>
      readdirSync(d, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? walk(join(d, e.name)) : [relative(root, join(d, e.name))],
      );
    assert.deepEqual(walk(dir).sort(), Object.keys(outputs()).sort());
  });
});
