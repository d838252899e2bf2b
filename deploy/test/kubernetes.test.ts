// deploy/kubernetes/ as committed: every object valid against the Kubernetes and Prometheus Operator
// schemas (kubernetes-models, @kubernetes-models/prometheus-operator), the rules inside the
// PrometheusRules equal to the rule files promtool tests, the dashboards inside the ConfigMaps equal
// to the generated JSON, and the exporter's container as promised (probes, resources, security).
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { parse, parseAllDocuments } from "yaml";
import { AlertmanagerConfig } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1alpha1/AlertmanagerConfig";
import { PrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Container } from "kubernetes-models/v1/Container";
import { Service } from "kubernetes-models/v1/Service";
import { Volume } from "kubernetes-models/v1/Volume";
import { folders } from "../../dashboards/src/common.ts";
import { jobs } from "../../definitions/selectors.ts";
import { alertmanagerSecret, matcher, secretRef, sourcePath } from "../src/alertmanager-config.ts";
import {
  clusterAlert,
  exporterResources,
  folderAnnotation,
  logsOverlay,
  outDir,
  overlay,
} from "../src/kubernetes.ts";

const root = new URL("../..", import.meta.url).pathname;
type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const models: Record<string, new (data: never) => { validate(): void }> = {
  "monitoring.coreos.com/v1/PrometheusRule": PrometheusRule,
  "monitoring.coreos.com/v1/ServiceMonitor": ServiceMonitor,
  "monitoring.coreos.com/v1alpha1/AlertmanagerConfig": AlertmanagerConfig,
  "apps/v1/Deployment": Deployment,
  "networking.k8s.io/v1/NetworkPolicy": NetworkPolicy,
  "v1/ConfigMap": ConfigMap,
  "v1/Service": Service,
};

const read = (path: string) => readFileSync(join(root, path), "utf8");
function objects(file: string): Obj[] {
  return parseAllDocuments(read(`${outDir}/base/${file}`)).map((d) => {
    assert.deepEqual(d.errors, [], file);
    return d.toJS() as Obj;
  });
}
const base = parse(read(`${outDir}/base/kustomization.yaml`)) as { resources: string[] };
const all = base.resources.flatMap((f) => objects(f).map((o) => ({ file: f, o })));
const ofKind = (kind: string) => all.filter((x) => x.o.kind === kind).map((x) => x.o);

describe("deploy/kubernetes", () => {
  test("every resource the base lists exists, and the overlay builds on the base (the logs overlay: kubernetes-logs.test.ts)", () => {
    for (const f of base.resources) assert.ok(existsSync(join(root, outDir, "base", f)), f);
    const overlays = readdirSync(join(root, outDir, "overlays"));
    assert.deepEqual(overlays.sort(), [overlay.name, logsOverlay].sort());
    const k = parse(read(`${outDir}/overlays/${overlay.name}/kustomization.yaml`)) as { resources: string[] };
    assert.deepEqual(k.resources, ["../../base"]);
  });

  test("every object validates against its schema", () => {
    assert.ok(all.length > 10, `${all.length} objects`);
    for (const { file, o } of all) {
      const Model = models[`${o.apiVersion}/${o.kind}`];
      assert.ok(Model, `${file}: no schema for ${o.apiVersion} ${o.kind}`);
      assert.doesNotThrow(() => new Model(o as never).validate(), `${file}: ${o.kind} ${o.metadata?.name}`);
    }
  });

  test("the schemas do reject a wrong object (a rule without expr, a container without image)", () => {
    const rule = { ...ofKind("PrometheusRule")[0]! };
    rule.spec = { groups: [{ name: "g", rules: [{ alert: "A" }] }] };
    assert.throws(() => new PrometheusRule(rule as never).validate(), /expr/);
    assert.throws(() => new Container({ name: "x", image: 1 } as never).validate(), /image/);
  });

  test("NetworkPolicies: only Prometheus reaches the exporter, which reaches only DNS, the database, Redis and the API; Prometheus' and Alertmanager's APIs only from the stack", () => {
    const policies = new Map(ofKind("NetworkPolicy").map((p) => [p.metadata.name as string, p.spec as Obj]));
    const from = (rule: Obj) =>
      (rule.from as Obj[]).map((f) => Object.values(f.podSelector.matchLabels as object).join("/")).sort();
    const exporter = policies.get(jobs.exporter)!;
    assert.ok(exporter, "no NetworkPolicy for the exporter");
    // The policy selects the pods of the exporter's Deployment.
    const deployment = ofKind("Deployment").find((d) => d.metadata.name === jobs.exporter)!;
    for (const [k, v] of Object.entries(exporter.podSelector.matchLabels as object))
      assert.equal(deployment.spec.template.metadata.labels[k], v, k);
    assert.deepEqual(exporter.policyTypes, ["Ingress", "Egress"]);
    assert.equal(exporter.ingress.length, 1);
    assert.deepEqual(from(exporter.ingress[0]), ["prometheus"]);
    const service = ofKind("Service").find((x) => x.metadata.name === jobs.exporter)!;
    assert.deepEqual(exporter.ingress[0].ports, [{ protocol: "TCP", port: service.spec.ports[0].port }]);
    const egressPorts = (exporter.egress as Obj[]).flatMap((r) =>
      (r.ports as Obj[]).map((p) => `${p.protocol}/${p.port}`),
    );
    assert.deepEqual(egressPorts.sort(), ["TCP/53", "TCP/5432", "TCP/6379", "TCP/8000", "UDP/53"]);
    // The API the exporter probes is on a port it may reach.
    const api = (deployment.spec.template.spec.containers[0].env as { name: string; value: string }[]).find(
      (e) => e.name === "API_HEALTH_URL",
    )!;
    assert.ok(egressPorts.includes(`TCP/${new URL(api.value).port}`), api.value);
    assert.deepEqual(from(policies.get("kali-agents-prometheus")!.ingress[0]), [
      "grafana",
      "kali-agents-loki/backend",
      "prometheus",
    ]);
    const am = policies.get("kali-agents-alertmanager")!;
    assert.deepEqual(from(am.ingress[0]), [
      "alertmanager",
      "grafana",
      "kali-agents-loki/backend",
      "prometheus",
    ]);
    assert.deepEqual(from(am.ingress[1]), ["alertmanager"]);
    // The schema is not vacuous for them: a port that is no port is refused.
    const wrong = structuredClone(ofKind("NetworkPolicy")[0]!);
    wrong.spec.ingress[0].ports[0].protocol = 7;
    assert.throws(() => new NetworkPolicy(wrong as never).validate(), /protocol/);
  });

  test("the PrometheusRules carry exactly the groups of prometheus/rules/generated/", () => {
    const dir = "prometheus/rules/generated";
    const files = readdirSync(join(root, dir))
      .filter((f) => f.endsWith(".yml"))
      .sort();
    const rules = ofKind("PrometheusRule");
    assert.deepEqual(
      rules.map((r) => r.metadata.annotations["kali-agents/source"]).sort(),
      files.map((f) => `${dir}/${f}`),
    );
    let alerts = 0;
    for (const r of rules) {
      const source = r.metadata.annotations["kali-agents/source"] as string;
      // The generated rules, each alert with the cluster's labels (and the Watchdog's severity none).
      const groups = (parse(read(source)) as Obj).groups as { rules: Obj[] }[];
      for (const g of groups)
        for (const rule of g.rules)
          if (rule.alert) {
            alerts++;
            clusterAlert(rule);
          }
      assert.deepEqual(r.spec.groups, groups, source);
    }
    const clusterAlerts = rules
      .flatMap((r) => r.spec.groups.flatMap((g: Obj) => g.rules))
      .filter((x: Obj) => x.alert);
    assert.equal(clusterAlerts.length, alerts);
    assert.ok(alerts >= 40, `${alerts} alerts`);
    for (const a of clusterAlerts) {
      assert.equal(a.labels.stack, "kali-agents", a.alert);
      assert.equal(a.labels.namespace, overlay.namespace, a.alert);
      assert.equal(a.labels.severity, a.alert === "Watchdog" ? "none" : a.labels.severity);
      assert.ok(["critical", "warning", "info", "none"].includes(a.labels.severity), a.alert);
    }
  });

  test("the dashboard ConfigMaps carry the generated JSON byte for byte, in their folder", () => {
    const maps = ofKind("ConfigMap");
    const generated = Object.keys(folders).flatMap((folder) =>
      readdirSync(join(root, "dashboards/generated", folder))
        .filter((f) => f.endsWith(".json"))
        .map((f) => ({ folder, path: `dashboards/generated/${folder}/${f}`, file: f })),
    );
    assert.equal(maps.length, generated.length);
    for (const g of generated) {
      const m = maps.find((x) => x.metadata.annotations["kali-agents/source"] === g.path);
      assert.ok(m, `no ConfigMap for ${g.path}`);
      assert.equal(m.metadata.labels.grafana_dashboard, "1");
      assert.equal(m.metadata.annotations[folderAnnotation], folders[g.folder as keyof typeof folders]);
      assert.deepEqual(Object.keys(m.data), [g.file]);
      assert.equal(m.data[g.file], read(g.path), g.path);
      // kubectl apply keeps a copy in an annotation limited to 256 KiB.
      assert.ok(Buffer.byteLength(m.data[g.file]) < 256 * 1024, `${g.path} is too large for kubectl apply`);
    }
  });

  test("the exporter: a Service named as the job the rules select, a ServiceMonitor on its port", () => {
    const [svc] = ofKind("Service");
    const [sm] = ofKind("ServiceMonitor");
    const [dep] = ofKind("Deployment");
    assert.equal(svc!.metadata.name, jobs.exporter, "the Operator names the scrape job after the Service");
    for (const [k, v] of Object.entries(sm!.spec.selector.matchLabels))
      assert.equal(svc!.metadata.labels[k], v);
    for (const [k, v] of Object.entries(svc!.spec.selector))
      assert.equal(dep!.spec.template.metadata.labels[k], v);
    const ports = svc!.spec.ports.map((p: Obj) => p.name);
    for (const e of sm!.spec.endpoints) assert.ok(ports.includes(e.port), e.port);
  });

  test("the sidecar snippet's ServiceMonitor keeps the exporter's job (not the API Service's name)", () => {
    const snippet = parse(read(`${outDir}/snippets/exporter-sidecar.yaml`)) as Obj;
    new ServiceMonitor(snippet.serviceMonitor).validate();
    const [endpoint] = snippet.serviceMonitor.spec.endpoints as Obj[];
    assert.equal(endpoint!.port, snippet.servicePort.name, "scraped on the port the snippet adds");
    assert.equal(snippet.servicePort.targetPort, snippet.containers[0].ports[0].name);
    assert.deepEqual(endpoint!.relabelings, [
      { action: "replace", targetLabel: "job", replacement: jobs.exporter },
    ]);
    assert.equal(snippet.serviceMonitor.spec.selector.matchLabels["app.kubernetes.io/name"], jobs.api);
  });

  const containers = () => [
    { where: "Deployment", c: ofKind("Deployment")[0]!.spec.template.spec.containers[0] as Obj },
    {
      where: "sidecar snippet",
      c: (parse(read(`${outDir}/snippets/exporter-sidecar.yaml`)) as Obj).containers[0] as Obj,
    },
  ];

  test("the exporter's container, in the Deployment and in the sidecar snippet: probes, non-root, read-only", () => {
    const snippet = parse(read(`${outDir}/snippets/exporter-sidecar.yaml`)) as Obj;
    for (const v of snippet.volumes) new Volume(v).validate();
    for (const { where, c } of containers()) {
      new Container(c as never).validate();
      assert.equal(c.livenessProbe.httpGet.path, "/-/healthy", where);
      assert.equal(c.readinessProbe.httpGet.path, "/-/ready", where);
      assert.equal(c.securityContext.readOnlyRootFilesystem, true, where);
      assert.equal(c.securityContext.runAsNonRoot, true, where);
      assert.ok(c.securityContext.runAsUser > 0, where);
      assert.equal(c.securityContext.allowPrivilegeEscalation, false, where);
    }
    assert.deepEqual(containers()[0]!.c, containers()[1]!.c, "one container, two placements");
  });

  test("the exporter's resources come from docs/performance.md's measured RSS", () => {
    // The line for the image's Node.js with the image's heap flags.
    const line = read("docs/performance.md")
      .split("\n")
      .find((l) => l.startsWith("| with heap flags, the image's Node.js |"));
    assert.ok(line, "docs/performance.md has the image's Node.js line");
    const cells = line.split("|").map((c) => c.trim());
    const [afterStart, , , , peak] = cells.slice(4, 9).map(Number);
    assert.equal(exporterResources.measured.rssAfterStartMB, afterStart);
    assert.equal(exporterResources.measured.rssPeakMB, peak);
    const mib = (q: string) => Number(/^(\d+)Mi$/.exec(q)?.[1]) * 1.048576; // MiB -> MB
    for (const { where, c } of containers()) {
      assert.ok(mib(c.resources.requests.memory) >= afterStart!, `${where}: request below RSS after start`);
      assert.ok(
        mib(c.resources.limits.memory) >= 1.25 * peak!,
        `${where}: limit without headroom over the peak`,
      );
      assert.equal(c.resources.limits.cpu, undefined, `${where}: no CPU limit (throttled scrapes time out)`);
    }
  });

  test("the AlertmanagerConfig routes, inhibits and receives as alertmanager.yml does", () => {
    const [amc] = ofKind("AlertmanagerConfig");
    const source = parse(read(sourcePath)) as Obj;
    // The route tree read back into alertmanager.yml's form equals the source's.
    const back = (r: Obj): Obj => {
      const out: Obj = {};
      if (r.receiver) out.receiver = r.receiver;
      if (r.matchers)
        out.matchers = r.matchers.map((m: Obj) => `${m.name}${m.matchType}${JSON.stringify(m.value)}`);
      if (r.groupBy) out.group_by = r.groupBy;
      if (r.groupWait) out.group_wait = r.groupWait;
      if (r.groupInterval) out.group_interval = r.groupInterval;
      if (r.repeatInterval) out.repeat_interval = r.repeatInterval;
      if (r.continue !== undefined) out.continue = r.continue;
      if (r.routes) out.routes = r.routes.map(back);
      return out;
    };
    // The top route takes the stack's alerts only (stackAlertLabels), else it is the source's.
    const { matchers: top, ...rest } = back(amc!.spec.route);
    assert.deepEqual(top, ['stack="kali-agents"']);
    assert.deepEqual(rest, source.route);
    assert.deepEqual(
      amc!.spec.inhibitRules.map((i: Obj) => ({
        source_matchers: i.sourceMatch.map((m: Obj) => `${m.name}${m.matchType}${JSON.stringify(m.value)}`),
        target_matchers: i.targetMatch.map((m: Obj) => `${m.name}${m.matchType}${JSON.stringify(m.value)}`),
        ...(i.equal ? { equal: i.equal } : {}),
      })),
      source.inhibit_rules,
    );
    assert.deepEqual(
      amc!.spec.receivers.map((r: Obj) => r.name),
      (source.receivers as Obj[]).map((r) => r.name),
    );
  });

  test("every secret file of alertmanager.yml is a Secret reference, and no secret value is inline", () => {
    const text = read(sourcePath);
    const files = [...text.matchAll(/_file:\s*(\S+)/g)].map((m) => m[1]!);
    assert.ok(files.length >= 4, files.join());
    // The references are in the receivers' components (the base has none: receivers.test.ts).
    const yamlText = ["pagerduty", "slack", "email", "heartbeat"]
      .map((r) => read(`${outDir}/components/receivers/${r}/patch.yaml`))
      .join("");
    for (const f of files) {
      const ref = secretRef(f);
      assert.equal(ref.name, alertmanagerSecret);
      assert.match(yamlText, new RegExp(`key: ${ref.key}\\b`), `${f} -> ${ref.key}`);
    }
    assert.doesNotMatch(yamlText, /_file:|\/run\/secrets/);
  });

  test('matcher operators are quoted (`matchType: "="`): YAML 1.1 tools read a bare = as a tag', () => {
    const text = read(`${outDir}/base/alertmanager-config.yaml`);
    const quoted = [...text.matchAll(/^\s*(?:- )?matchType: (.*)$/gm)].map((m) => m[1]);
    assert.ok(quoted.length >= 10, `${quoted.length} matchers`);
    assert.deepEqual(
      quoted.filter((q) => !/^"(=|!=|=~|!~)"$/.test(q!)),
      [],
    );
    // As a YAML 1.1 reader sees it: strings, the operator itself.
    const doc = parse(text, { version: "1.1" }) as Obj;
    assert.equal(doc.spec.route.matchers[0].matchType, "=");
  });

  test("matchers: every operator, escapes, and an unreadable one is an error naming it", () => {
    assert.deepEqual(matcher('collector=~"postgres|scans"'), {
      name: "collector",
      matchType: "=~",
      value: "postgres|scans",
    });
    assert.deepEqual(matcher('a!="x\\"y"'), { name: "a", matchType: "!=", value: 'x"y' });
    assert.throws(() => matcher("severity=critical"), /severity=critical/);
    assert.throws(() => secretRef("/etc/key"), /outside \/run\/secrets/);
  });

  test("the README says what the chart's defaults would break: 30 days' retention, restarts after a subPath ConfigMap edit", () => {
    const readme = read(`${outDir}/README.md`);
    assert.match(readme, /prometheus\.prometheusSpec\.retention: 30d/);
    // Every workload that mounts a file with subPath is named in the restart command.
    const restart = /rollout\s+restart ([^`]+)`/.exec(readme.replace(/\n/g, " "));
    assert.ok(restart, "a rollout restart command");
    const named = restart[1]!.trim().split(/\s+/);
    const withSubPath: string[] = [];
    for (const file of readdirSync(join(root, outDir, "logs")).filter((f) => f.endsWith(".yaml"))) {
      if (file === "kustomization.yaml") continue;
      const applied = (parse(read(`${outDir}/logs/kustomization.yaml`)) as { resources: string[] }).resources;
      if (!applied.includes(file)) continue;
      for (const d of parseAllDocuments(read(`${outDir}/logs/${file}`))) {
        const o = d.toJS() as Obj;
        if (!["StatefulSet", "Deployment", "DaemonSet"].includes(o?.kind)) continue;
        const mounts = (o.spec.template.spec.containers as Obj[]).flatMap(
          (c) => (c.volumeMounts ?? []) as Obj[],
        );
        if (mounts.some((m) => m.subPath)) withSubPath.push(`${o.kind.toLowerCase()}/${o.metadata.name}`);
      }
    }
    assert.ok(withSubPath.length >= 4, withSubPath.join());
    assert.deepEqual([...named].sort(), withSubPath.sort());
  });
});
