// deploy/kubernetes/logs/ as committed: Loki in simple scalable mode and Promtail as a DaemonSet. Every
// object valid against the Kubernetes schema (kubernetes-models); Loki's configuration equal to
// loki/loki.yaml outside the paths deploy/src/loki.ts changes (so retention, limits and the compactor's
// retention are compose's) and passing the checks loki/test applies to loki.yaml; Promtail's pipeline
// stages deep-equal to promtail/promtail.yaml's. No Loki or Promtail binary runs here: these stand in.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { parse, parseAllDocuments } from "yaml";
import { DaemonSet } from "kubernetes-models/apps/v1/DaemonSet";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { StatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { ClusterRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole";
import { ClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Service } from "kubernetes-models/v1/Service";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { logStreams, logs, type LogStream } from "../../definitions/logs.ts";
import { hostLabel } from "../../definitions/selectors.ts";
import {
  generatedDir as lokiRulesDir,
  lokiRuleGroups,
  lokiRulePath,
  lokiTenant,
} from "../../loki/rules/src/index.ts";
import { loadCompose } from "../../loki/test/compose.ts";
import { parseLogQL, selectorProblems } from "../../loki/test/logql.ts";
import { literal, resolveLabel, type RelabelRule } from "../../promtail/test/agent-model.ts";
import { relabel, withoutInternal } from "../../promtail/test/pipeline.ts";
import { expandEnv, readStage } from "../../promtail/test/promtail-config.ts";
import { logsOverlay, outDir, overlay } from "../src/kubernetes.ts";
import { loki, lokiChanges, memberlistPort, s3SecretKeys, setPath } from "../src/loki.ts";
import { kubernetesOnlyLabels, promtail } from "../src/promtail.ts";
import { alloy, alloySourcePath, blockText } from "../src/alloy.ts";
import {
  asList,
  asRef,
  asString,
  attr,
  block,
  blocks,
  parseAlloy,
  type AlloyBlock,
  type AlloyStatement,
  type AlloyValue,
} from "../../alloy/test/alloy-syntax.ts";

const root = new URL("../..", import.meta.url).pathname;
type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const models: Record<string, new (data: never) => { validate(): void }> = {
  "apps/v1/DaemonSet": DaemonSet,
  "apps/v1/Deployment": Deployment,
  "apps/v1/StatefulSet": StatefulSet,
  "networking.k8s.io/v1/NetworkPolicy": NetworkPolicy,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
  "rbac.authorization.k8s.io/v1/ClusterRole": ClusterRole,
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": ClusterRoleBinding,
  "v1/ConfigMap": ConfigMap,
  "v1/Service": Service,
  "v1/ServiceAccount": ServiceAccount,
};

const read = (path: string) => readFileSync(join(root, path), "utf8");
const kustomization = parse(read(`${outDir}/logs/kustomization.yaml`)) as { resources: string[] };
// Every file of logs/, promtail.yaml included (not applied by default: Alloy is).
const files = readdirSync(join(root, outDir, "logs")).filter((f) => f !== "kustomization.yaml");
const all = files.flatMap((f) =>
  parseAllDocuments(read(`${outDir}/logs/${f}`)).map((d) => {
    assert.deepEqual(d.errors, [], f);
    return { file: f, o: d.toJS() as Obj };
  }),
);
const named = (kind: string, name: string): Obj => {
  const o = all.find((x) => x.o.kind === kind && x.o.metadata.name === name)?.o;
  assert.ok(o, `no ${kind} ${name}`);
  return o;
};
const podsOf = (target: string) =>
  all
    .map((x) => x.o)
    .filter((o) => ["Deployment", "StatefulSet", "DaemonSet"].includes(o.kind))
    .filter((o) => o.spec.template.metadata.labels["app.kubernetes.io/component"] === target);

const composeLoki = parse(read("loki/loki.yaml")) as Obj;
const configText = named("ConfigMap", loki.config).data["loki.yaml"] as string;
const k8sLoki = parse(configText) as Obj;
const get = (o: Obj, path: string): any => path.split(".").reduce<any>((v, k) => v?.[k], o); // eslint-disable-line @typescript-eslint/no-explicit-any

/** The paths where a Kubernetes Loki config may differ from compose's; deep-equal everywhere else. */
function differencesOutsideChanges(k8s: Obj, compose: Obj): string | undefined {
  const a = structuredClone(k8s);
  const b = structuredClone(compose);
  for (const c of lokiChanges(compose)) {
    setPath(a, c.path, undefined);
    setPath(b, c.path, undefined);
  }
  try {
    assert.deepEqual(a, b);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

describe("deploy/kubernetes/logs: objects", () => {
  test("the kustomization applies Loki and one agent, Alloy; its overlay takes it into the stack's namespace", () => {
    for (const f of kustomization.resources) assert.ok(existsSync(join(root, outDir, "logs", f)), f);
    // Promtail and Alloy at once would send every line twice.
    assert.deepEqual(kustomization.resources, ["loki.yaml", "alloy.yaml", "networkpolicies.yaml"]);
    assert.deepEqual(files.sort(), ["alloy.yaml", "loki.yaml", "networkpolicies.yaml", "promtail.yaml"]);
    const o = parse(read(`${outDir}/overlays/${logsOverlay}/kustomization.yaml`)) as Obj;
    assert.deepEqual(o.resources, ["../../logs"]);
    assert.equal(o.namespace, overlay.namespace);
  });

  test("Loki's NetworkPolicy: its own pods on every port, 3100 for the agents, Grafana and Prometheus only", () => {
    const [p] = all.filter((x) => x.o.kind === "NetworkPolicy").map((x) => x.o);
    assert.ok(p, "no NetworkPolicy in logs/");
    assert.deepEqual(p.spec.podSelector, { matchLabels: { "app.kubernetes.io/name": "kali-agents-loki" } });
    assert.deepEqual(p.spec.policyTypes, ["Ingress"]);
    const names = (rule: Obj) =>
      (rule.from as Obj[]).map((f) => f.podSelector.matchLabels["app.kubernetes.io/name"] as string).sort();
    assert.deepEqual(names(p.spec.ingress[0]), ["kali-agents-loki"]);
    assert.equal(p.spec.ingress[0].ports, undefined);
    assert.deepEqual(names(p.spec.ingress[1]), [
      "grafana",
      "kali-agents-alloy",
      "kali-agents-promtail",
      "prometheus",
    ]);
    assert.deepEqual(p.spec.ingress[1].ports, [{ protocol: "TCP", port: 3100 }]);
    assert.equal(p.spec.ingress.length, 2);
  });

  test("every object validates against its schema", () => {
    assert.ok(all.length >= 20, `${all.length} objects`);
    for (const { file, o } of all) {
      const Model = models[`${o.apiVersion}/${o.kind}`];
      assert.ok(Model, `${file}: no schema for ${o.apiVersion} ${o.kind}`);
      assert.doesNotThrow(() => new Model(o as never).validate(), `${file}: ${o.kind} ${o.metadata?.name}`);
    }
  });

  test("the schema rejects a wrong object (a DaemonSet without a selector, a role rule without verbs)", () => {
    const ds = structuredClone(named("DaemonSet", promtail.name));
    delete ds.spec.selector;
    assert.throws(() => new DaemonSet(ds as never).validate(), /selector/);
    assert.throws(
      () =>
        new ClusterRole({ metadata: { name: "x" }, rules: [{ resources: ["pods"] }] } as never).validate(),
      /verbs/,
    );
  });

  test("no secret value anywhere: the object storage's settings are Secret references", () => {
    const envs = all
      .map((x) => x.o)
      .filter((o) => o.kind === "StatefulSet" || o.kind === "Deployment")
      .flatMap((o) => o.spec.template.spec.containers.flatMap((c: Obj) => c.env ?? []));
    assert.ok(envs.length > 0);
    for (const e of envs) {
      assert.equal(e.value, undefined, `${e.name} has an inline value`);
      assert.equal(e.valueFrom.secretKeyRef.name, loki.secret, e.name);
    }
    for (const [key, { env }] of Object.entries(s3SecretKeys))
      assert.ok(
        envs.some((e) => e.name === env && e.valueFrom.secretKeyRef.key === key),
        key,
      );
    // Every ${VAR} of the configuration is one of those variables, and no other $ is there (Loki's
    // -config.expand-env=true would rewrite it).
    const refs = [...configText.matchAll(/\$\{(\w+)(?::-[^}]*)?\}/g)].map((m) => m[1]!);
    assert.deepEqual(
      [...new Set(refs)].sort(),
      Object.values(s3SecretKeys)
        .map((v) => v.env)
        .sort(),
    );
    assert.doesNotMatch(configText.replace(/\$\{\w+(?::-[^}]*)?\}/g, ""), /\$/);
  });
});

describe("deploy/kubernetes/logs: Loki's configuration is compose's, for simple scalable mode", () => {
  test("survives -config.expand-env: the Secret's values land in the S3 block, the optional ones default", () => {
    // Loki expands as Promtail does (envsubst over the whole text): expandEnv refuses a backslash or a
    // stray $, which it would rewrite.
    const expanded = parse(
      expandEnv(configText, {
        LOKI_S3_ENDPOINT: "minio.storage:9000",
        LOKI_S3_REGION: "eu-west-1",
        LOKI_S3_BUCKET: "kali-agents-logs",
        LOKI_S3_ACCESS_KEY_ID: "id",
        LOKI_S3_SECRET_ACCESS_KEY: "secret",
      }),
    ) as Obj;
    assert.deepEqual(expanded.common.storage.s3, {
      endpoint: "minio.storage:9000",
      region: "eu-west-1",
      bucketnames: "kali-agents-logs",
      access_key_id: "id",
      secret_access_key: "secret",
      s3forcepathstyle: false,
      insecure: false,
    });
    const minio = parse(
      expandEnv(configText, { LOKI_S3_FORCE_PATH_STYLE: "true", LOKI_S3_INSECURE: "true" }),
    ) as Obj;
    assert.equal(minio.common.storage.s3.s3forcepathstyle, true);
    assert.equal(minio.common.storage.s3.insecure, true);
    // Everything else reads the same before and after.
    const { common: _a, ...rest } = expanded;
    const { common: _b, ...before } = k8sLoki;
    assert.deepEqual(rest, before);
  });

  test("outside the changes deploy/src/loki.ts lists, it deep-equals loki/loki.yaml", () => {
    assert.equal(differencesOutsideChanges(k8sLoki, composeLoki), undefined);
  });

  test("that comparison fails when retention differs (a stream's period changed)", () => {
    const wrong = structuredClone(k8sLoki);
    wrong.limits_config.retention_stream[0].period = "24h";
    assert.match(differencesOutsideChanges(wrong, composeLoki) ?? "", /24h/);
    const noRetention = structuredClone(k8sLoki);
    noRetention.compactor.retention_enabled = false;
    assert.notEqual(differencesOutsideChanges(noRetention, composeLoki), undefined);
  });

  test("no change touches retention: limits_config and the compactor's retention are compose's", () => {
    for (const c of lokiChanges(composeLoki)) {
      const p = c.path.join(".");
      assert.ok(!p.startsWith("limits_config"), p);
      assert.ok(!/^compactor\.retention/.test(p), p);
    }
    assert.deepEqual(k8sLoki.limits_config, composeLoki.limits_config);
    for (const k of [
      "retention_enabled",
      "retention_delete_delay",
      "retention_delete_worker_count",
      "working_directory",
    ])
      assert.deepEqual(k8sLoki.compactor[k], composeLoki.compactor[k], k);
  });

  test("loki/test's checks hold: retention on, its store the chunks' store, v13/tsdb with 24h tables", () => {
    assert.equal(get(k8sLoki, "compactor.retention_enabled"), true);
    const current = (get(k8sLoki, "schema_config.configs") as Obj[]).at(-1)!;
    assert.equal(current.schema, "v13");
    assert.equal(current.store, "tsdb");
    assert.equal(current.object_store, "s3");
    assert.equal(current.index.period, "24h");
    assert.equal(get(k8sLoki, "compactor.delete_request_store"), current.object_store);
    assert.deepEqual(Object.keys(get(k8sLoki, "common.storage")), ["s3"], "one store: object storage only");
    for (const p of [
      "common.path_prefix",
      "storage_config.tsdb_shipper.active_index_directory",
      "storage_config.tsdb_shipper.cache_location",
      "compactor.working_directory",
      "ruler.rule_path",
      "ruler.wal.dir",
    ]) {
      const v = get(k8sLoki, p) as string;
      assert.ok(
        v === "/loki" || v.startsWith("/loki/"),
        `${p}=${v} is not under /loki (the pods' data volume)`,
      );
    }
  });

  test("each application stream keeps the retention definitions/logs.ts gives it", () => {
    const byStream: Record<string, number> = {};
    for (const r of get(k8sLoki, "limits_config.retention_stream") as Obj[]) {
      const [matchers] = parseLogQL(r.selector).selectors;
      const stream = matchers!.find((m) => m.name === "stream")!.value;
      byStream[stream] = Number(/^(\d+)h$/.exec(r.period)![1]);
    }
    assert.deepEqual(
      byStream,
      Object.fromEntries(
        (Object.keys(logStreams) as LogStream[]).map((s) => [s, logStreams[s].retentionDays * 24]),
      ),
    );
  });

  test("one workload per target, each running -target=<it> with the configuration and /loki mounted", () => {
    for (const target of ["read", "write", "backend"]) {
      const [w, ...more] = podsOf(target);
      assert.ok(w, `no ${target} workload`);
      assert.equal(more.length, 0, target);
      const c = w.spec.template.spec.containers[0];
      assert.ok(c.args.includes(`-target=${target}`), target);
      assert.ok(c.args.includes("-config.expand-env=true"), target);
      assert.ok(
        c.volumeMounts.some((m: Obj) => m.mountPath === "/etc/loki/loki.yaml"),
        target,
      );
      assert.ok(
        c.volumeMounts.some((m: Obj) => m.mountPath === get(k8sLoki, "common.path_prefix")),
        target,
      );
      assert.equal(c.securityContext.runAsNonRoot, true);
      assert.equal(c.securityContext.readOnlyRootFilesystem, true);
      // The write and backend pods keep state (WAL, compactor markers) on a claim, not an emptyDir.
      if (target !== "read") assert.equal(w.kind, "StatefulSet", target);
    }
    assert.ok(podsOf("write")[0]!.spec.replicas >= get(k8sLoki, "common.replication_factor"));
    // Each StatefulSet's governing Service is headless and selects its pods.
    for (const target of ["write", "backend"]) {
      const w = podsOf(target)[0]!;
      const svc = named("Service", w.spec.serviceName);
      assert.equal(svc.spec.clusterIP, "None", `${target}: ${w.spec.serviceName}`);
      for (const [k, v] of Object.entries(svc.spec.selector as Obj))
        assert.equal(w.spec.template.metadata.labels[k], v, `${target}: ${k}`);
      // A drain takes one pod at a time, fewer than the replication factor.
      const pdb = named("PodDisruptionBudget", w.metadata.name);
      assert.deepEqual(pdb.spec.selector, w.spec.selector);
      assert.ok(pdb.spec.maxUnavailable < get(k8sLoki, "common.replication_factor"));
    }
  });

  test("the addresses in the configuration name Services that select the right pods on the right ports", () => {
    const grpc = get(k8sLoki, "server.grpc_listen_port");
    const http = get(k8sLoki, "server.http_listen_port");
    const selects = (svc: Obj, target?: string) => {
      for (const [k, v] of Object.entries(svc.spec.selector as Obj)) {
        const pods = target ? podsOf(target) : ["read", "write", "backend"].flatMap(podsOf);
        assert.ok(pods.length > 0);
        for (const p of pods)
          assert.equal(p.spec.template.metadata.labels[k], v, `${svc.metadata.name}: ${k}`);
      }
    };
    const [join] = get(k8sLoki, "memberlist.join_members") as string[];
    assert.equal(join, `dns+${loki.memberlist}:${memberlistPort}`);
    const ml = named("Service", loki.memberlist);
    assert.equal(ml.spec.clusterIP, "None");
    assert.equal(ml.spec.ports[0].port, get(k8sLoki, "memberlist.bind_port"));
    selects(ml);
    assert.equal(get(k8sLoki, "common.compactor_address"), `http://${loki.backend}:${http}`);
    selects(named("Service", loki.backend), "backend");
    const gw = get(k8sLoki, "storage_config.tsdb_shipper.index_gateway_client.server_address");
    assert.equal(gw, `dns+${loki.backendHeadless}:${grpc}`);
    assert.equal(named("Service", loki.backendHeadless).spec.clusterIP, "None");
    selects(named("Service", loki.backendHeadless), "backend");
    selects(named("Service", loki.write), "write");
    selects(named("Service", loki.read), "read");
    for (const t of ["read", "write", "backend"])
      assert.deepEqual(
        podsOf(t)[0]!.spec.template.spec.containers[0].ports.map((p: Obj) => p.containerPort),
        [http, grpc, memberlistPort],
      );
  });

  test("the ruler reads the generated LogQL rule files, byte for byte, from <directory>/<tenant>/ in the backend pods", () => {
    const rules = named("ConfigMap", loki.rules);
    assert.deepEqual(
      Object.keys(rules.data).sort(),
      lokiRuleGroups.map((g) => lokiRulePath(g.name).split("/").at(-1)!).sort(),
    );
    for (const [file, text] of Object.entries(rules.data))
      assert.equal(text, read(`${lokiRulesDir}/${lokiTenant}/${file}`), file);
    const backend = podsOf("backend")[0]!.spec.template.spec;
    const mount = backend.containers[0].volumeMounts.find((m: Obj) => m.name === "rules");
    assert.equal(mount.mountPath, `${get(k8sLoki, "ruler.storage.local.directory")}/${lokiTenant}`);
    assert.equal(backend.volumes.find((v: Obj) => v.name === "rules").configMap.name, loki.rules);
  });
});

describe("deploy/kubernetes/logs: Promtail as a DaemonSet with compose's pipeline", () => {
  const composePromtail = parse(read("promtail/promtail.yaml")) as Obj;
  const config = parse(named("ConfigMap", promtail.name).data["promtail.yaml"]) as Obj;
  const composeJob = (name: string) => composePromtail.scrape_configs.find((j: Obj) => j.job_name === name);
  const appJobs = (config.scrape_configs as Obj[]).filter((j) =>
    j.relabel_configs.some((r: Obj) => r.target_label === "job" && r.replacement === logs.appJob),
  );
  const containerJob = (config.scrape_configs as Obj[]).find((j) => j.job_name === logs.containerJob)!;

  test("the application's files go through compose's stages, deep-equal, and every stage is one Promtail reads", () => {
    assert.equal(appJobs.length, Object.keys(logStreams).length);
    const stages = composeJob(logs.appJob).pipeline_stages;
    assert.ok(stages.length >= 5);
    for (const j of appJobs) assert.deepEqual(j.pipeline_stages, stages, j.job_name);
    for (const [i, s] of (stages as unknown[]).entries()) readStage(s, `stage ${i}`);
  });

  test("container logs: the CRI decoding, then exactly compose's container stages", () => {
    const [cri, ...rest] = containerJob.pipeline_stages as Obj[];
    assert.deepEqual(cri, { cri: {} });
    assert.deepEqual(rest, composeJob(logs.containerJob).pipeline_stages);
  });

  test("each stream's job reads the file compose reads for it, with the same job and stream labels", () => {
    const composeFiles = Object.fromEntries(
      composeJob(logs.appJob).static_configs.map((s: Obj) => [
        s.labels.stream,
        s.labels.__path__.split("/").at(-1),
      ]),
    );
    const k8sFiles = Object.fromEntries(
      appJobs.map((j) => {
        const stream = j.relabel_configs.find((r: Obj) => r.target_label === "stream").replacement;
        const path = j.relabel_configs.find((r: Obj) => r.target_label === "__path__").replacement as string;
        assert.match(path, /^\/var\/lib\/kubelet\/pods\/\$1\/volumes\/kubernetes\.io~empty-dir\/\$2\//);
        return [stream, path.split("/").at(-1)];
      }),
    );
    assert.deepEqual(k8sFiles, composeFiles);
    assert.deepEqual(Object.keys(k8sFiles).sort(), Object.keys(logStreams).sort());
  });

  /** A target's labels after a job's relabelling, as Promtail computes them (null: dropped by a keep). */
  function target(job: Obj, meta: Record<string, string>): Record<string, string> | null {
    let labels = { ...meta };
    for (const r of job.relabel_configs as Obj[]) {
      const rule: RelabelRule = {
        action: "replace",
        sourceLabels: r.source_labels ?? [],
        separator: r.separator ?? ";",
        regex: r.regex ?? "(.*)",
        targetLabel: r.target_label ?? "",
        replacement: literal(r.replacement ?? "$1"),
      };
      if (r.action === "keep") {
        const value = rule.sourceLabels.map((l) => labels[l] ?? "").join(rule.separator);
        if (!new RegExp(`^(?:${rule.regex})$`).test(value)) return null;
        continue;
      }
      assert.equal(
        r.action ?? "replace",
        "replace",
        `${job.job_name}: an action this check does not evaluate`,
      );
      labels = relabel(labels, [rule], (x) => resolveLabel(x.replacement, {}));
    }
    return labels;
  }
  const pod = (name: string, uid: string, annotated: boolean) => ({
    __meta_kubernetes_namespace: "kali-agents",
    __meta_kubernetes_pod_name: name,
    __meta_kubernetes_pod_uid: uid,
    __meta_kubernetes_pod_node_name: "node-1",
    __meta_kubernetes_pod_container_name: "api",
    __meta_kubernetes_pod_label_app_kubernetes_io_name: "kali-agents-api",
    __meta_kubernetes_pod_label_app_kubernetes_io_part_of: "kali-agents",
    __meta_kubernetes_pod_annotation_kali_agents_log_volume: annotated ? "logs" : "",
  });

  test("discovery: an annotated pod's four files and every container's log, with their labels and paths", () => {
    const a = pod("api-7d9f-abcde", "0f0e-11", true);
    const security = target(
      appJobs.find((j) => j.job_name === `${logs.appJob}-security`)!,
      a,
    )!;
    assert.equal(
      security.__path__,
      "/var/lib/kubelet/pods/0f0e-11/volumes/kubernetes.io~empty-dir/logs/security.log",
    );
    assert.equal(security.__host__, "node-1");
    assert.deepEqual(withoutInternal(security), {
      job: logs.appJob,
      stream: "security",
      host: "node-1",
      namespace: "kali-agents",
      pod: "api-7d9f-abcde",
    });
    for (const j of appJobs)
      assert.equal(target(j, pod("worker-1", "22", false)), null, "a pod without the annotation");
    const c = target(containerJob, a)!;
    assert.equal(c.__path__, "/var/log/pods/*0f0e-11/api/*.log");
    assert.deepEqual(withoutInternal(c), {
      job: logs.containerJob,
      container: "api",
      service: "api",
      host: "node-1",
      namespace: "kali-agents",
      pod: "api-7d9f-abcde",
    });
    const chart = { ...a, __meta_kubernetes_pod_container_name: "postgresql" };
    assert.equal(target(containerJob, chart)!.service, "postgresql", "the container's name");
    assert.equal(
      target(containerJob, { ...chart, __meta_kubernetes_pod_label_kali_agents_service: "postgres" })!
        .service,
      "postgres",
      "the pod's kali-agents/service label, where the container is named otherwise",
    );
  });

  test("container logs of the stack's pods only: the monitoring namespace's, and those part of Kali Agents", () => {
    const other = { ...pod("web-1", "33", false), __meta_kubernetes_pod_label_app_kubernetes_io_part_of: "" };
    assert.equal(target(containerJob, other), null, "another application's pod");
    assert.ok(target(containerJob, { ...other, __meta_kubernetes_namespace: overlay.namespace }));
    assert.ok(target(containerJob, pod("api-1", "44", false)), "part of kali-agents, in its own namespace");
  });

  test("the generated pods get compose's service names, which the shipped queries select", () => {
    const compose = loadCompose();
    const repo = (image: string) => image.replace(/^\$\{\w+:-(.*)\}$/, "$1").replace(/:[^:/]*$/, "");
    const ours = [
      ...all.map((x) => x.o),
      ...parseAllDocuments(read(`${outDir}/base/exporter.yaml`)).map((d) => d.toJS() as Obj),
    ].filter((o) => ["Deployment", "StatefulSet", "DaemonSet"].includes(o.kind));
    const services = new Set<string>();
    for (const w of ours) {
      const meta = { ...pod("p", "1", false), __meta_kubernetes_namespace: overlay.namespace };
      for (const c of w.spec.template.spec.containers as Obj[]) {
        const service = target(containerJob, {
          ...meta,
          __meta_kubernetes_pod_container_name: c.name,
        })!.service!;
        const composeService = compose.services[service];
        assert.ok(composeService, `${w.metadata.name}: service="${service}" is no compose service`);
        assert.equal(
          repo(String(composeService.image)),
          repo(c.image),
          `${w.metadata.name}: service="${service}"`,
        );
        services.add(service);
      }
    }
    assert.deepEqual([...services].sort(), ["alloy", "exporter", "loki", "promtail"]);
  });

  test("two replicas of one Deployment on one node are two targets (Promtail keys targets by their labels)", () => {
    for (const j of config.scrape_configs as Obj[]) {
      const [a, b] = [pod("api-7d9f-abcde", "11", true), pod("api-7d9f-fghij", "22", true)].map((m) =>
        JSON.stringify(withoutInternal(target(j, m)!)),
      );
      assert.notEqual(a, b, j.job_name);
    }
  });

  test("the labels it attaches are compose's (definitions/logs.ts logs.labels) and namespace and pod", () => {
    const names = new Set<string>(["filename"]); // the file target adds the path as filename
    for (const j of config.scrape_configs as Obj[]) {
      for (const k of Object.keys(withoutInternal(target(j, pod("p", "1", true))!))) names.add(k);
      for (const s of j.pipeline_stages as Obj[]) {
        if (s.labels) for (const k of Object.keys(s.labels)) names.add(k);
        if (s.cri) names.add("stream"); // the CRI stage labels stdout or stderr
      }
    }
    assert.deepEqual([...names].sort(), [...logs.labels, ...kubernetesOnlyLabels].sort());
  });

  test("Loki's retention selectors select labels and values this Promtail attaches", () => {
    const labels = new Map<string, Set<string> | null>();
    for (const j of config.scrape_configs as Obj[])
      for (const r of j.relabel_configs as Obj[]) {
        if (!r.target_label || r.target_label.startsWith("__")) continue;
        const fixed = !r.source_labels && typeof r.replacement === "string";
        const known = labels.get(r.target_label);
        labels.set(
          r.target_label,
          fixed && known !== null ? new Set([...(known ?? []), r.replacement]) : null,
        );
      }
    for (const r of get(k8sLoki, "limits_config.retention_stream") as Obj[])
      assert.deepEqual(selectorProblems(parseLogQL(r.selector), labels), [], r.selector);
  });

  test("every line carries host = its node's name, and each Promtail reads only its node's pods", () => {
    for (const j of config.scrape_configs as Obj[]) {
      for (const target of [hostLabel, "__host__"])
        assert.ok(
          j.relabel_configs.some(
            (r: Obj) =>
              r.target_label === target &&
              r.source_labels?.length === 1 &&
              r.source_labels[0] === "__meta_kubernetes_pod_node_name",
          ),
          `${j.job_name}: ${target}`,
        );
      assert.deepEqual(j.kubernetes_sd_configs, [{ role: "pod" }]);
    }
    const c = named("DaemonSet", promtail.name).spec.template.spec.containers[0];
    // Promtail drops targets whose __host__ is not its HOSTNAME.
    assert.deepEqual(c.env, [{ name: "HOSTNAME", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } }]);
  });

  test("pushes to the write Service, with compose's retries", () => {
    const [client, ...more] = config.clients as Obj[];
    assert.equal(more.length, 0);
    const url = new URL(client!.url);
    assert.equal(url.hostname, loki.write);
    assert.equal(Number(url.port), named("Service", loki.write).spec.ports[0].port);
    assert.equal(url.pathname, "/loki/api/v1/push");
    assert.deepEqual(client!.backoff_config, composePromtail.clients[0].backoff_config);
  });

  test("the DaemonSet: its own account, read-only host paths, root with nothing else", () => {
    const ds = named("DaemonSet", promtail.name).spec.template.spec;
    assert.equal(ds.serviceAccountName, promtail.name);
    named("ServiceAccount", promtail.name);
    const binding = named("ClusterRoleBinding", promtail.name);
    assert.deepEqual(binding.subjects, [
      { kind: "ServiceAccount", name: promtail.name, namespace: overlay.namespace },
    ]);
    assert.equal(binding.roleRef.name, promtail.name);
    assert.deepEqual(named("ClusterRole", promtail.name).rules, [
      { apiGroups: [""], resources: ["pods", "nodes"], verbs: ["get", "list", "watch"] },
    ]);
    const c = ds.containers[0];
    // The relabelling's $1 would be rewritten by -config.expand-env: Promtail runs without it here.
    assert.ok(!c.args.some((a: string) => a.includes("expand-env")));
    assert.throws(() => expandEnv(named("ConfigMap", promtail.name).data["promtail.yaml"], {}), /\$/);
    const hostPaths = new Map<string, string>(
      ds.volumes.filter((v: Obj) => v.hostPath).map((v: Obj) => [v.name, v.hostPath.path]),
    );
    for (const m of c.volumeMounts as Obj[]) {
      const host = hostPaths.get(m.name);
      if (host && host !== promtail.positionsDir)
        assert.equal(m.readOnly, true, `${host} is mounted writable`);
    }
    assert.deepEqual([...hostPaths.values()].sort(), [
      "/var/lib/kali-agents-promtail",
      "/var/lib/kubelet/pods",
      "/var/log/pods",
    ]);
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.equal(c.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(c.securityContext.capabilities, { drop: ["ALL"], add: ["DAC_READ_SEARCH"] });
    assert.ok(c.resources.requests.memory && c.resources.limits.memory);
    assert.equal(config.positions.filename.startsWith(`${promtail.positionsDir}/`), true);
  });
});

describe("deploy/kubernetes/logs: Alloy as a DaemonSet with compose's pipeline and the Promtail DaemonSet's discovery", () => {
  const text = named("ConfigMap", alloy.name).data["config.alloy"] as string;
  const body = parseAlloy(text, "alloy.yaml config.alloy");
  const compose = parseAlloy(read(alloySourcePath), alloySourcePath);
  const promtailJobs = (parse(named("ConfigMap", promtail.name).data["promtail.yaml"]) as Obj)
    .scrape_configs as Obj[];
  /** A parsed block without its line numbers, to compare two files' blocks. */
  const withoutLines = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(withoutLines)
      : v && typeof v === "object"
        ? Object.fromEntries(
            Object.entries(v)
              .filter(([k]) => k !== "line")
              .map(([k, x]) => [k, withoutLines(x)]),
          )
        : v;
  const components = (b: readonly AlloyStatement[]) => b.filter((s): s is AlloyBlock => s.kind === "block");

  test('the pipeline block is compose\'s loki.process "json", parsed equal and copied byte for byte', () => {
    assert.deepEqual(
      withoutLines(block(body, "loki.process", "json")),
      withoutLines(block(compose, "loki.process", "json")),
    );
    assert.ok(text.includes(blockText(read(alloySourcePath), "loki.process", "json")));
    // The application files' multiline block too, which hands on to the pipeline.
    assert.deepEqual(
      withoutLines(block(body, "loki.process", "files")),
      withoutLines(block(compose, "loki.process", "files")),
    );
    assert.ok(text.includes(blockText(read(alloySourcePath), "loki.process", "files")));
    assert.deepEqual(
      asList(attr(block(body, "loki.process", "files"), "forward_to")!, "forward_to").map((v) =>
        asRef(v, "forward_to"),
      ),
      ["loki.process.json.receiver"],
    );
  });

  test("each discovery.relabel carries exactly the rules of the Promtail DaemonSet's job of the same name", () => {
    const rules = (b: AlloyBlock) =>
      blocks(b.body, "rule").map((r) =>
        Object.fromEntries(
          r.body.map((a) => {
            assert.equal(a.kind, "attribute");
            const v = (a as { value: AlloyValue }).value;
            const name = (a as { name: string }).name;
            return [
              name,
              v.type === "list" ? asList(v, name).map((x) => asString(x, name)) : asString(v, name),
            ];
          }),
        ),
      );
    const relabels = blocks(body, "discovery.relabel");
    assert.equal(relabels.length, promtailJobs.length);
    for (const job of promtailJobs) {
      const b = relabels.find((r) => r.label === (job.job_name as string).replace(/-/g, "_"));
      assert.ok(b, `no discovery.relabel for ${job.job_name}`);
      assert.deepEqual(rules(b), job.relabel_configs, job.job_name);
      assert.equal(asRef(attr(b, "targets")!, "targets"), "discovery.kubernetes.pods.targets");
    }
  });

  test("every line reaches the pipeline: application files directly, container files through the CRI decoding", () => {
    const defined = new Set(components(body).map((b) => `${b.name}.${b.label}`));
    const forwards = (b: AlloyBlock) =>
      asList(attr(b, "forward_to")!, "forward_to").map((v) => asRef(v, "forward_to"));
    for (const b of components(body))
      for (const a of b.body)
        if (a.kind === "attribute" && (a.value.type === "ref" || a.value.type === "list"))
          for (const v of a.value.type === "ref" ? [a.value] : a.value.items)
            if (v.type === "ref") {
              const target = v.path.split(".").slice(0, -1).join(".");
              assert.ok(defined.has(target), `${b.name} "${b.label}": ${v.path} names no component`);
            }
    const sources = blocks(body, "loki.source.file");
    assert.equal(sources.length, promtailJobs.length);
    for (const s of sources)
      assert.deepEqual(
        forwards(s),
        [s.label === logs.containerJob ? "loki.process.cri.receiver" : "loki.process.files.receiver"],
        s.label,
      );
    const cri = block(body, "loki.process", "cri");
    assert.deepEqual(forwards(cri), ["loki.process.json.receiver"]);
    assert.deepEqual(
      components(cri.body).map((b) => b.name),
      ["stage.cri"],
    );
    // The containers' glob is expanded by local.file_match; the application's paths are exact.
    assert.equal(
      asRef(attr(block(body, "loki.source.file", logs.containerJob), "targets")!, "targets"),
      `local.file_match.${logs.containerJob}.targets`,
    );
  });

  test("discovers this node's pods only, and pushes to the write Service", () => {
    const sel = block(block(body, "discovery.kubernetes", "pods").body, "selectors");
    const field = attr(sel, "field")!;
    assert.deepEqual(withoutLines(field), {
      type: "call",
      name: "string.format",
      args: [
        { type: "string", value: "spec.nodeName=%s" },
        { type: "call", name: "sys.env", args: [{ type: "string", value: "HOSTNAME" }] },
      ],
    });
    const c = named("DaemonSet", alloy.name).spec.template.spec.containers[0];
    assert.deepEqual(c.env, [{ name: "HOSTNAME", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } }]);
    assert.ok(c.args.includes(`--storage.path=${alloy.storageDir}`));
    const url = asString(attr(block(block(body, "loki.write", "loki").body, "endpoint"), "url")!, "url");
    assert.equal(
      url,
      `http://${loki.write}:${named("Service", loki.write).spec.ports[0].port}/loki/api/v1/push`,
    );
  });

  test("its DaemonSet is Promtail's but for the image, arguments and configuration", () => {
    const strip = (name: string) => {
      const ds = structuredClone(named("DaemonSet", name));
      const c = ds.spec.template.spec.containers[0];
      for (const k of ["name", "image", "args", "ports", "readinessProbe", "volumeMounts"]) delete c[k];
      return {
        spec: ds.spec.template.spec.containers,
        volumes: ds.spec.template.spec.volumes.filter((v: Obj) => v.name !== "config" && v.name !== "state"),
      };
    };
    assert.deepEqual(strip(alloy.name), strip(promtail.name));
  });
});
