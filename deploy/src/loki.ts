// Loki in simple scalable mode (read, write and backend targets) on object storage, for Kubernetes:
// the configuration is loki/loki.yaml, the file compose runs and loki/test checks, read as parsed
// YAML with the few changes below applied, each with its reason. Everything else (retention per stream,
// limits, the compactor's retention settings, the schema's 24h index period, the ruler) is the compose
// file's, and deploy/test/kubernetes.test.ts proves it: the two configurations with the changed paths
// removed are deep-equal.
//
// Why plain manifests and not a values file for the grafana/loki Helm chart: the chart builds Loki's
// configuration from its own template merged with `loki.structuredConfig`, so the configuration Loki
// would run could only be known by rendering the chart (there is no helm here to do it, and no Loki
// binary to run). Here the ConfigMap holds the exact configuration Loki reads, which the tests check
// with the same rules as compose's, and every object validates against the Kubernetes schema.
import { readFileSync } from "node:fs";
import { parse, stringify } from "yaml";
import { upstream } from "../../definitions/versions.ts";
import {
  generatedDir as lokiRulesDir,
  lokiTenant,
  outputs as lokiRuleOutputs,
} from "../../loki/rules/src/index.ts";

const root = new URL("../..", import.meta.url).pathname;
export const lokiSourcePath = "loki/loki.yaml";
type Obj = Record<string, unknown>;

/** Names of the objects, prefixed so that they sit beside a Loki the cluster may already run. */
export const loki = {
  name: "kali-agents-loki",
  read: "kali-agents-loki-read",
  write: "kali-agents-loki-write",
  backend: "kali-agents-loki-backend",
  backendHeadless: "kali-agents-loki-backend-headless",
  memberlist: "kali-agents-loki-memberlist",
  config: "kali-agents-loki",
  rules: "kali-agents-loki-rules",
  /** Created by the operator, never generated: the object storage's address and credentials. */
  secret: "kali-agents-loki-s3",
} as const;

/** The keys of the Secret `kali-agents-loki-s3`, and the variable each becomes in Loki's environment. */
export const s3SecretKeys = {
  endpoint: { env: "LOKI_S3_ENDPOINT", optional: false },
  region: { env: "LOKI_S3_REGION", optional: false },
  bucket: { env: "LOKI_S3_BUCKET", optional: false },
  access_key_id: { env: "LOKI_S3_ACCESS_KEY_ID", optional: false },
  secret_access_key: { env: "LOKI_S3_SECRET_ACCESS_KEY", optional: false },
  // MinIO and most S3-compatible stores without wildcard DNS need path-style addressing.
  force_path_style: { env: "LOKI_S3_FORCE_PATH_STYLE", optional: true },
  // "true" for a plain-HTTP endpoint (a MinIO inside the cluster without TLS).
  insecure: { env: "LOKI_S3_INSECURE", optional: true },
} as const;

export const memberlistPort = 7946;

/**
 * kube-prometheus-stack's Services for release `kube-prometheus-stack` (the overlay's), which the
 * ruler sends alerts and recording rules to; other release names change them with a patch.
 */
export const stackServices = {
  alertmanager: "http://kube-prometheus-stack-alertmanager:9093",
  prometheusWrite: "http://kube-prometheus-stack-prometheus:9090/api/v1/write",
} as const;

/** What differs from loki/loki.yaml, and why: the README's table and the test's list of allowed differences. */
export interface ConfigChange {
  readonly path: readonly (string | number)[];
  /** undefined: removed. */
  readonly value: unknown;
  readonly why: string;
}

const env = (key: keyof typeof s3SecretKeys, def?: string) =>
  `\${${s3SecretKeys[key].env}${def === undefined ? "" : `:-${def}`}}`;

export function lokiChanges(source: Obj): ConfigChange[] {
  const periods = (source.schema_config as { configs: unknown[] }).configs;
  return [
    {
      path: ["common", "instance_addr"],
      value: undefined,
      why: "each pod advertises its own address in the rings; 127.0.0.1 is right only for one process",
    },
    {
      path: ["common", "storage"],
      value: {
        s3: {
          endpoint: env("endpoint"),
          region: env("region"),
          bucketnames: env("bucket"),
          access_key_id: env("access_key_id"),
          secret_access_key: env("secret_access_key"),
          s3forcepathstyle: env("force_path_style", "false"),
          insecure: env("insecure", "false"),
        },
      },
      why: `chunks and the TSDB index on object storage, shared by every pod; the address and credentials are variables (\`-config.expand-env=true\`) set from the Secret \`${loki.secret}\``,
    },
    {
      path: ["common", "replication_factor"],
      value: 3,
      why: "each stream is written to three of the write pods, so that one pod lost loses no line",
    },
    {
      path: ["common", "ring", "kvstore", "store"],
      value: "memberlist",
      why: "the pods find one another by gossip, through the headless Service of every Loki pod",
    },
    {
      path: ["common", "compactor_address"],
      value: `http://${loki.backend}:3100`,
      why: "the read pods forward delete requests to the compactor, which runs in the backend pods",
    },
    {
      path: ["memberlist"],
      value: { join_members: [`dns+${loki.memberlist}:${memberlistPort}`], bind_port: memberlistPort },
      why: "the Service every Loki pod joins the gossip through",
    },
    {
      path: ["query_scheduler"],
      value: { use_scheduler_ring: true },
      why: "the read pods' query frontends find the backend pods' schedulers in the ring, with no address to configure",
    },
    {
      path: ["storage_config", "tsdb_shipper", "index_gateway_client"],
      value: { server_address: `dns+${loki.backendHeadless}:${grpcPort(source)}` },
      why: "the read pods ask the backend pods' index gateways for the index instead of each downloading it",
    },
    {
      path: ["schema_config", "configs", periods.length - 1, "object_store"],
      value: "s3",
      why: "the same period (v13, tsdb, 24h index) with its chunks on object storage",
    },
    {
      path: ["compactor", "delete_request_store"],
      value: "s3",
      why: "the store of the chunks, as Loki requires with retention on",
    },
    {
      path: ["ruler", "alertmanager_url"],
      value: stackServices.alertmanager,
      why: "kube-prometheus-stack's Alertmanager",
    },
    {
      path: ["ruler", "remote_write", "clients", "prometheus", "url"],
      value: stackServices.prometheusWrite,
      why: "kube-prometheus-stack's Prometheus, with `prometheus.prometheusSpec.enableRemoteWriteReceiver: true`",
    },
    {
      path: ["ruler", "remote_write", "clients", "prometheus", "basic_auth"],
      value: undefined,
      why: "kube-prometheus-stack's Prometheus takes no basic auth (compose's does); in the cluster the NetworkPolicies (`kubernetes/base/networkpolicies.yaml`) decide who reaches it",
    },
    {
      path: ["ruler", "alertmanager_client"],
      value: undefined,
      why: "kube-prometheus-stack's Alertmanager takes no basic auth (compose's does); the NetworkPolicies decide who reaches it",
    },
    {
      path: ["ruler", "ring", "kvstore", "store"],
      value: "memberlist",
      why: "the backend pods share the rule groups between them through the ring",
    },
  ];
}

function grpcPort(source: Obj): number {
  const port = (source.server as Obj | undefined)?.grpc_listen_port;
  if (typeof port !== "number") throw new Error(`${lokiSourcePath}: server.grpc_listen_port is not set`);
  return port;
}

export function readLokiSource(): Obj {
  return parse(readFileSync(`${root}${lokiSourcePath}`, "utf8")) as Obj;
}

/** Sets (or with undefined, removes) the value at a path, creating objects on the way. */
export function setPath(target: Obj, path: readonly (string | number)[], value: unknown): void {
  let o: Record<string | number, unknown> = target;
  for (const k of path.slice(0, -1)) {
    if (o[k] === undefined) o[k] = {};
    const next = o[k];
    if (!next || typeof next !== "object")
      throw new Error(`${lokiSourcePath}: ${path.join(".")} crosses ${String(k)}, which is not an object`);
    o = next as Record<string | number, unknown>;
  }
  const last = path.at(-1)!;
  if (value === undefined) delete o[last];
  else o[last] = value;
}

/** loki/loki.yaml with the changes for simple scalable mode on object storage. */
export function lokiConfig(source: Obj = readLokiSource()): Obj {
  const config = structuredClone(source);
  for (const c of lokiChanges(source)) setPath(config, c.path, c.value);
  return config;
}

const partOf = { "app.kubernetes.io/part-of": "kali-agents" } as const;
const lokiUid = 10001; // the image's user; compose runs it as 10001:10001 too
export type LokiTarget = "read" | "write" | "backend";
const labelsOf = (target: LokiTarget) =>
  ({ "app.kubernetes.io/name": loki.name, "app.kubernetes.io/component": target, ...partOf }) as const;

/**
 * Replicas and resources. Not measured here (no Loki binary runs on these machines): starting points
 * for the compose stack's volume (docs/operations/scaling.md), where one pod of each would do, with
 * three write pods for the replication factor of 3. Scale read and write on their own; backend holds
 * the compactor, of which one instance works at a time whatever the replicas.
 */
export const lokiTargets = {
  write: {
    replicas: 3,
    requests: { cpu: "100m", memory: "256Mi" },
    limits: { memory: "1Gi" },
    storage: "10Gi",
  },
  read: { replicas: 2, requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "1Gi" } },
  backend: {
    replicas: 2,
    requests: { cpu: "100m", memory: "256Mi" },
    limits: { memory: "1Gi" },
    storage: "10Gi",
  },
} as const;

function container(target: LokiTarget, source: Obj): Obj {
  const t = lokiTargets[target];
  const http = ((source.server as Obj).http_listen_port as number | undefined) ?? 3100;
  return {
    name: "loki",
    image: `${upstream.loki.image.repository}:${upstream.loki.image.tag}`,
    args: ["-config.file=/etc/loki/loki.yaml", "-config.expand-env=true", `-target=${target}`],
    ports: [
      { name: "http", containerPort: http, protocol: "TCP" },
      { name: "grpc", containerPort: grpcPort(source), protocol: "TCP" },
      { name: "memberlist", containerPort: memberlistPort, protocol: "TCP" },
    ],
    env: Object.entries(s3SecretKeys).map(([key, { env, optional }]) => ({
      name: env,
      valueFrom: { secretKeyRef: { name: loki.secret, key, ...(optional ? { optional: true } : {}) } },
    })),
    readinessProbe: {
      httpGet: { path: "/ready", port: "http" },
      initialDelaySeconds: 15,
      periodSeconds: 10,
      timeoutSeconds: 2,
    },
    resources: { requests: { ...t.requests }, limits: { ...t.limits } },
    securityContext: {
      runAsNonRoot: true,
      runAsUser: lokiUid,
      runAsGroup: lokiUid,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    },
    volumeMounts: [
      { name: "config", mountPath: "/etc/loki/loki.yaml", subPath: "loki.yaml", readOnly: true },
      { name: "data", mountPath: "/loki" },
      ...(target === "backend"
        ? [{ name: "rules", mountPath: `/etc/loki/rules/${lokiTenant}`, readOnly: true }]
        : []),
    ],
  };
}

function podTemplate(target: LokiTarget, source: Obj): Obj {
  const labels = labelsOf(target);
  return {
    metadata: { labels: { ...labels } },
    spec: {
      automountServiceAccountToken: false,
      securityContext: { runAsNonRoot: true, fsGroup: lokiUid },
      // A write pod lost with its node must not take a second replica of the same streams with it.
      topologySpreadConstraints: [
        {
          maxSkew: 1,
          topologyKey: "kubernetes.io/hostname",
          whenUnsatisfiable: "ScheduleAnyway",
          labelSelector: { matchLabels: { ...labels } },
        },
      ],
      // Leaving the memberlist ring and flushing the write pods' chunks takes its time.
      terminationGracePeriodSeconds: target === "write" ? 300 : 30,
      containers: [container(target, source)],
      volumes: [
        { name: "config", configMap: { name: loki.config } },
        ...(target === "backend" ? [{ name: "rules", configMap: { name: loki.rules } }] : []),
        // The read pods keep only caches: no volume claim.
        ...(target === "read" ? [{ name: "data", emptyDir: { sizeLimit: "2Gi" } }] : []),
      ],
    },
  };
}

function workload(target: LokiTarget, source: Obj): Obj {
  const name = loki[target];
  const t = lokiTargets[target];
  const selector = {
    matchLabels: { "app.kubernetes.io/name": loki.name, "app.kubernetes.io/component": target },
  };
  if (target === "read")
    return {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name, labels: { ...labelsOf(target) } },
      spec: { replicas: t.replicas, selector, template: podTemplate(target, source) },
    };
  // write: the ingesters' WAL; backend: the compactor's marker files and the ruler's WAL. On a volume
  // claim each, so that a restart neither loses unflushed lines nor forgets chunks marked for deletion.
  return {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: { name, labels: { ...labelsOf(target) } },
    spec: {
      replicas: t.replicas,
      // The governing Service must be headless: the memberlist one selects every Loki pod.
      serviceName: target === "backend" ? loki.backendHeadless : loki.memberlist,
      podManagementPolicy: "Parallel",
      selector,
      template: podTemplate(target, source),
      volumeClaimTemplates: [
        {
          metadata: { name: "data" },
          spec: {
            accessModes: ["ReadWriteOnce"],
            resources: { requests: { storage: (t as { storage: string }).storage } },
          },
        },
      ],
    },
  };
}

function service(name: string, target: LokiTarget | undefined, source: Obj, headless = false): Obj {
  const http = ((source.server as Obj).http_listen_port as number | undefined) ?? 3100;
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, labels: { "app.kubernetes.io/name": loki.name, ...partOf } },
    spec: {
      ...(headless ? { clusterIP: "None" } : {}),
      selector: {
        "app.kubernetes.io/name": loki.name,
        ...(target ? { "app.kubernetes.io/component": target } : {}),
      },
      ports: [
        { name: "http", port: http, targetPort: "http", protocol: "TCP" },
        { name: "grpc", port: grpcPort(source), targetPort: "grpc", protocol: "TCP" },
      ],
    },
  };
}

/** The generated LogQL rule files of the tenant, as the ruler reads them: one key per file. */
export function lokiRuleFiles(): Record<string, string> {
  const prefix = `${lokiRulesDir}/${lokiTenant}/`;
  return Object.fromEntries(
    Object.entries(lokiRuleOutputs())
      .filter(([p]) => p.startsWith(prefix))
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([p, text]) => [p.slice(prefix.length), text]),
  );
}

export function lokiObjects(): Obj[] {
  const source = readLokiSource();
  const configText =
    `# ${lokiSourcePath} with the changes of deploy/src/loki.ts for simple scalable mode on object storage.\n` +
    stringify(lokiConfig(source), { aliasDuplicateObjects: false, lineWidth: 0 });
  const memberlist = {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: loki.memberlist, labels: { "app.kubernetes.io/name": loki.name, ...partOf } },
    spec: {
      clusterIP: "None",
      // A pod joins the gossip before it is ready: ready comes after joining.
      publishNotReadyAddresses: true,
      selector: { "app.kubernetes.io/name": loki.name },
      ports: [{ name: "memberlist", port: memberlistPort, targetPort: "memberlist", protocol: "TCP" }],
    },
  };
  return [
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: {
        name: loki.config,
        labels: { ...partOf },
        annotations: { "kali-agents/source": lokiSourcePath },
      },
      data: { "loki.yaml": configText },
    },
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: {
        name: loki.rules,
        labels: { ...partOf },
        annotations: { "kali-agents/source": `${lokiRulesDir}/${lokiTenant}/` },
      },
      data: lokiRuleFiles(),
    },
    memberlist,
    service(loki.write, "write", source),
    service(loki.read, "read", source),
    service(loki.backend, "backend", source),
    service(loki.backendHeadless, "backend", source, true),
    workload("write", source),
    workload("read", source),
    workload("backend", source),
    // A drained node takes one write pod at a time: with a replication factor of 3, two lost at
    // once could hold the only unflushed copies of some streams. One backend too, for the compactor's
    // and the ruler's handover.
    ...(["write", "backend"] as const).map((target) => ({
      apiVersion: "policy/v1",
      kind: "PodDisruptionBudget",
      metadata: { name: loki[target], labels: { ...labelsOf(target) } },
      spec: {
        maxUnavailable: 1,
        selector: {
          matchLabels: { "app.kubernetes.io/name": loki.name, "app.kubernetes.io/component": target },
        },
      },
    })),
  ];
}
