// The AlertmanagerConfig's receivers in a cluster: the Operator skips an AlertmanagerConfig as a whole when
// a Secret key it references is missing, so the base references none, and each receiver a team has is
// turned on by its Kustomize Component (deploy/kubernetes/components/receivers/<name>/). The components'
// JSON patches are applied here as Kustomize applies them (RFC 6902: test, add, replace, remove, in order:
// the components, then the overlay's own patches); with kubectl installed, `kubectl kustomize` builds the
// same overlays and must give the same objects.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { parse, parseAllDocuments, stringify } from "yaml";
import { AlertmanagerConfig } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1alpha1/AlertmanagerConfig";
import {
  alertmanagerConfig,
  alertmanagerSecret,
  exampleOverlay,
  receiverComponents,
  receiverComponentsDir,
  secretKeys,
} from "../src/alertmanager-config.ts";
import { outDir, overlay } from "../src/kubernetes.ts";

const root = new URL("../..", import.meta.url).pathname;
type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
interface Op {
  op: "test" | "add" | "replace" | "remove";
  path: string;
  value?: unknown;
}

const read = (path: string) => readFileSync(join(root, outDir, path), "utf8");
const base = (): Obj =>
  parseAllDocuments(read("base/alertmanager-config.yaml"))
    .map((d) => d.toJS() as Obj)
    .find((o) => o.kind === "AlertmanagerConfig")!;

/** RFC 6902 on a copy of `doc`; a failed `test` or a missing path throws, as Kustomize's build fails. */
function applyPatch(doc: Obj, ops: Op[]): Obj {
  const out = structuredClone(doc);
  for (const o of ops) {
    const parts = o.path
      .split("/")
      .slice(1)
      .map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
    const last = parts.pop()!;
    let parent: Obj = out;
    for (const p of parts) {
      parent = parent[p] as Obj;
      if (parent === undefined || parent === null) throw new Error(`${o.op} ${o.path}: no such path`);
    }
    const isArray = Array.isArray(parent);
    const has = isArray ? Number(last) < parent.length : Object.hasOwn(parent, last);
    if (o.op === "test") {
      assert.deepEqual(parent[last], o.value, `test ${o.path} failed`);
    } else if (o.op === "add") {
      if (isArray) (parent as unknown[]).splice(last === "-" ? parent.length : Number(last), 0, o.value);
      else parent[last] = structuredClone(o.value);
    } else {
      if (!has) throw new Error(`${o.op} ${o.path}: no such path`);
      if (o.op === "remove") {
        if (isArray) (parent as unknown[]).splice(Number(last), 1);
        else delete parent[last];
      } else parent[last] = structuredClone(o.value);
    }
  }
  return out;
}

const componentPatch = (name: string): Op[] =>
  parse(read(`${receiverComponentsDir}/${name}/patch.yaml`)) as Op[];

/** The base's AlertmanagerConfig with the named components, then an overlay's patches. */
function withComponents(names: string[], overlayPatch: Op[] = []): Obj {
  return applyPatch(
    names.reduce((doc, n) => applyPatch(doc, componentPatch(n)), base()),
    overlayPatch,
  );
}

/** Every `{name: <the Secret>, key}` reference in an object. */
function secretRefs(o: unknown): string[] {
  const keys: string[] = [];
  JSON.stringify(o, (_k, v: unknown) => {
    if (v && typeof v === "object" && (v as Obj).name === alertmanagerSecret && "key" in (v as Obj))
      keys.push(String((v as Obj).key));
    return v;
  });
  return keys.sort();
}

const validate = (o: Obj) => new AlertmanagerConfig(o as never).validate();

/** `kubectl kustomize` of an overlay written into a copy of deploy/kubernetes, when kubectl is here. */
function kustomize(overlayObj: Obj): Obj | undefined {
  const which = spawnSync("kubectl", ["version", "--client"], { encoding: "utf8" });
  if (which.status !== 0) return undefined;
  const dir = mkdtempSync(join(tmpdir(), "kali-kustomize-"));
  try {
    cpSync(join(root, outDir), dir, { recursive: true });
    mkdirSync(join(dir, "overlays/test-cluster"));
    writeFileSync(join(dir, "overlays/test-cluster/kustomization.yaml"), stringify(overlayObj));
    const r = spawnSync("kubectl", ["kustomize", join(dir, "overlays/test-cluster")], {
      encoding: "utf8",
      maxBuffer: 64 << 20,
    });
    assert.equal(r.status, 0, r.stderr);
    return parseAllDocuments(r.stdout)
      .map((d) => d.toJS() as Obj)
      .find((o) => o.kind === "AlertmanagerConfig");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("the AlertmanagerConfig's receivers in a cluster", () => {
  const names = receiverComponents().map((c) => c.name);

  test("the base references no Secret key (the Operator would skip it whole for a missing one): receivers by name, routes and inhibitions as alertmanager.yml's", () => {
    const b = base();
    validate(b);
    assert.deepEqual(secretRefs(b), []);
    assert.deepEqual(
      b.spec.receivers,
      names.map((name) => ({ name })),
    );
    const full = alertmanagerConfig() as Obj;
    assert.deepEqual(b.spec.route, full.spec.route);
    assert.deepEqual(b.spec.inhibitRules, full.spec.inhibitRules);
    assert.deepEqual(names, ["pagerduty", "slack", "email", "heartbeat"]);
  });

  test("each component adds its receiver's integration and references only its own keys; all four give alertmanager.yml's conversion", () => {
    for (const c of receiverComponents()) {
      const one = withComponents([c.name]);
      validate(one);
      assert.deepEqual(secretRefs(one), c.secretKeys, c.name);
      assert.ok(c.secretKeys.length > 0, c.name);
      const configured = (one.spec.receivers as Obj[]).filter((r) => Object.keys(r).length > 1);
      assert.deepEqual(
        configured.map((r) => r.name),
        [c.name],
      );
    }
    const all = withComponents([...names].reverse());
    assert.deepEqual(all, alertmanagerConfig());
    assert.deepEqual([...new Set(secretRefs(all))], secretKeys());
  });

  test("a component applied to a reordered receiver list fails (its `test`), instead of configuring another receiver", () => {
    const b = base();
    b.spec.receivers.reverse();
    assert.throws(() => applyPatch(b, componentPatch("email")), /test \/spec\/receivers\/2\/name failed/);
  });

  test("the README's overlay: email and the heartbeat configured with the team's addresses, only their two keys referenced", () => {
    const ex = exampleOverlay(`../${overlay.name}`, `../../${receiverComponentsDir}`);
    assert.ok(
      read("README.md").includes(stringify(ex, { aliasDuplicateObjects: false, lineWidth: 0 }).trimEnd()),
      "the README shows this overlay",
    );
    const components = (ex.components as string[]).map((c) => c.split("/").pop()!);
    const patch = parse((ex.patches as { patch: string }[])[0]!.patch) as Op[];
    const built = withComponents(components, patch);
    validate(built);
    assert.deepEqual([...new Set(secretRefs(built))], ["heartbeat_api_key", "smtp_password"]);
    const by = Object.fromEntries((built.spec.receivers as Obj[]).map((r) => [r.name, r]));
    assert.deepEqual(by.pagerduty, { name: "pagerduty" });
    assert.deepEqual(by.slack, { name: "slack" });
    assert.equal(by.email.emailConfigs[0].to, "oncall@team.example.org");
    assert.equal(by.email.emailConfigs[0].smarthost, "smtp.team.example.org:587");
    assert.equal(
      by.heartbeat.webhookConfigs[0].url,
      "https://api.opsgenie.com/v2/heartbeats/team-alerting/ping",
    );
    // kubectl's Kustomize, where installed, builds the same object (namespace and label of the overlay).
    const real = kustomize(ex);
    if (real) {
      const { metadata, ...rest } = real;
      assert.equal(metadata.namespace, overlay.namespace);
      assert.deepEqual(rest.spec, built.spec);
      const plain = kustomize({ ...ex, components: [], patches: [] });
      assert.deepEqual(plain!.spec, base().spec);
    }
  });
});
