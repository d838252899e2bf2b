// Promtail as a DaemonSet, reading the pods' logs on each node, with the pipeline of the compose
// Promtail: the stages are taken from promtail/promtail.yaml as parsed (the file promtail/test checks
// and runs sample lines through), never written a second time. Only discovery changes: Kubernetes'
// pod discovery instead of fixed paths and the Docker API. deploy/test/kubernetes-logs.test.ts holds the
// stages deep-equal to compose's.
//
// The discovery (kubernetesJobs) and the DaemonSet around the agent (logAgentObjects) are shared with
// the Alloy DaemonSet (deploy/src/alloy.ts), which logs/ applies by default: Promtail reached end of
// life on 2026-03-02, and promtail.yaml is there for a cluster that keeps it.
import { readFileSync } from "node:fs";
import { stringify, parse } from "yaml";
import { logs, logStreams, type LogStream } from "../../definitions/logs.ts";
import { hostLabel } from "../../definitions/selectors.ts";
import { upstream } from "../../definitions/versions.ts";
import { loki } from "./loki.ts";

const root = new URL("../..", import.meta.url).pathname;
export const promtailSourcePath = "promtail/promtail.yaml";
type Obj = Record<string, unknown>;

export const promtail = {
  name: "kali-agents-promtail",
  /**
   * The annotation that marks a pod writing the application's four log files, its value the name of
   * the emptyDir volume they are in (the API's pod: `kali-agents/log-volume: logs`).
   */
  logVolumeAnnotation: "kali-agents/log-volume",
  /** On the node, so that a restarted Promtail neither re-sends nor skips lines. */
  positionsDir: "/var/lib/kali-agents-promtail",
} as const;

interface ScrapeConfig {
  job_name: string;
  pipeline_stages?: unknown[];
  static_configs?: { labels: Record<string, string> }[];
  [k: string]: unknown;
}
export interface PromtailSource {
  server: Obj;
  clients: Obj[];
  scrape_configs: ScrapeConfig[];
}

export function readPromtailSource(): PromtailSource {
  return parse(readFileSync(`${root}${promtailSourcePath}`, "utf8")) as PromtailSource;
}

function job(source: PromtailSource, name: string): ScrapeConfig {
  const j = source.scrape_configs.find((s) => s.job_name === name);
  if (!j?.pipeline_stages) throw new Error(`${promtailSourcePath}: no job ${name} with pipeline_stages`);
  return j;
}

/** The application's files: stream -> file name, as compose's Promtail reads them. */
export function appFiles(source: PromtailSource): Record<LogStream, string> {
  const out: Partial<Record<LogStream, string>> = {};
  for (const { labels } of job(source, logs.appJob).static_configs ?? []) {
    const stream = labels.stream as LogStream;
    if (!(stream in logStreams)) throw new Error(`${promtailSourcePath}: unknown stream ${stream}`);
    out[stream] = labels.__path__!.split("/").at(-1)!;
  }
  for (const s of Object.keys(logStreams) as LogStream[])
    if (!out[s]) throw new Error(`${promtailSourcePath}: no file for stream ${s}`);
  return out as Record<LogStream, string>;
}

/** The CRI log format's decoding (`<time> <stdout|stderr> <F|P> <line>`): files under /var/log/pods. */
export const criStage = { cri: {} } as const;

/**
 * Labels only the Kubernetes Promtail attaches, beside definitions/logs.ts `logs.labels`. Promtail keys
 * its file targets by their labels (without `__path__`): two replicas of one Deployment on one node
 * would have the same labels, and the second pod's files would be ignored as "already exists". The
 * pod's name tells them apart; it adds no stream, since `filename` (the path, with the pod's uid)
 * already differs per pod.
 */
export const kubernetesOnlyLabels = ["namespace", "pod"] as const;

/** Relabelling every target gets: its node as `host` (and `__host__`, so each Promtail keeps its own node's pods), its pod. */
const podRelabel = [
  // Promtail drops the targets whose __host__ differs from its HOSTNAME (the node's name, below).
  { source_labels: ["__meta_kubernetes_pod_node_name"], target_label: "__host__" },
  { source_labels: ["__meta_kubernetes_pod_node_name"], target_label: hostLabel },
  { source_labels: ["__meta_kubernetes_namespace"], target_label: kubernetesOnlyLabels[0] },
  { source_labels: ["__meta_kubernetes_pod_name"], target_label: kubernetesOnlyLabels[1] },
];

/** The pod label that names a container's `service` where its container name is not compose's service name. */
export const serviceLabel = "kali-agents/service";

/** A Prometheus relabel rule, in the YAML names Promtail uses (Alloy's rule blocks use the same). */
export interface RelabelConfig {
  readonly source_labels?: readonly string[];
  readonly separator?: string;
  readonly regex?: string;
  readonly target_label?: string;
  readonly replacement?: string;
  readonly action?: "keep" | "replace";
}

/** One source of lines on a node: its discovery's relabelling and whether its files are in the CRI format. */
export interface KubernetesJob {
  readonly name: string;
  readonly relabel: readonly RelabelConfig[];
  /** The job of compose's promtail.yaml whose stages it runs. */
  readonly composeJob: string;
  readonly cri: boolean;
}

/** The jobs of both agents (Promtail here, Alloy in alloy.ts): the application's files, then every container's output. */
export function kubernetesJobs(
  namespace: string,
  source: PromtailSource = readPromtailSource(),
): KubernetesJob[] {
  const files = appFiles(source);
  // One job per stream: a pod's target is one file, and each line carries its file's stream.
  const appJobs = (Object.keys(files) as LogStream[]).map((stream) => ({
    name: `${logs.appJob}-${stream}`,
    composeJob: logs.appJob,
    cri: false,
    relabel: [
      // Only the pods that say where their log files are. Every container of such a pod yields the same
      // target (same labels), which the agent reads once.
      {
        source_labels: ["__meta_kubernetes_pod_annotation_kali_agents_log_volume"],
        regex: ".+",
        action: "keep" as const,
      },
      ...podRelabel,
      { target_label: "job", replacement: logs.appJob },
      { target_label: "stream", replacement: stream },
      // An emptyDir's files, as the kubelet lays them out on the node.
      {
        source_labels: [
          "__meta_kubernetes_pod_uid",
          "__meta_kubernetes_pod_annotation_kali_agents_log_volume",
        ],
        separator: "/",
        regex: "(.+)/(.+)",
        target_label: "__path__",
        replacement: `/var/lib/kubelet/pods/$1/volumes/kubernetes.io~empty-dir/$2/${files[stream]}`,
      },
    ],
  }));
  const containers = {
    name: logs.containerJob,
    composeJob: logs.containerJob,
    // The kubelet writes container logs in the CRI format: decoded first, then the same stages.
    cri: true,
    relabel: [
      // The stack's pods, not the cluster's: those of the monitoring namespace (kube-prometheus-stack,
      // Loki, the agents, the exporter) and those labelled part of Kali Agents anywhere (the API,
      // PostgreSQL, Redis). Loki's limits are sized for a handful of containers, as compose collects.
      {
        source_labels: [
          "__meta_kubernetes_namespace",
          "__meta_kubernetes_pod_label_app_kubernetes_io_part_of",
        ],
        separator: ";",
        regex: `${namespace};.*|.*;kali-agents`,
        action: "keep" as const,
      },
      ...podRelabel,
      { source_labels: ["__meta_kubernetes_pod_container_name"], target_label: "container" },
      // service, as compose's service names that the queries select (service="exporter", "postgres"):
      // the container's name (exporter, loki, prometheus, alertmanager, redis...), or the pod's label
      // kali-agents/service where the container is named otherwise (a chart's "postgresql").
      { source_labels: ["__meta_kubernetes_pod_container_name"], target_label: "service" },
      {
        source_labels: [`__meta_kubernetes_pod_label_${serviceLabel.replace(/[^A-Za-z0-9]/g, "_")}`],
        regex: "(.+)",
        target_label: "service",
      },
      { target_label: "job", replacement: logs.containerJob },
      {
        source_labels: ["__meta_kubernetes_pod_uid", "__meta_kubernetes_pod_container_name"],
        separator: "/",
        target_label: "__path__",
        replacement: "/var/log/pods/*$1/*.log",
      },
    ],
  };
  return [...appJobs, containers];
}

export function promtailConfig(namespace: string, source: PromtailSource = readPromtailSource()): Obj {
  const scrapeConfigs = kubernetesJobs(namespace, source).map((j) => {
    const stages = job(source, j.composeJob).pipeline_stages!;
    return {
      job_name: j.name,
      kubernetes_sd_configs: [{ role: "pod" }],
      relabel_configs: j.relabel,
      pipeline_stages: j.cri ? [criStage, ...stages] : stages,
    };
  });
  return {
    server: source.server,
    positions: { filename: `${promtail.positionsDir}/positions.yaml`, sync_period: "10s" },
    clients: source.clients.map((c) => ({ ...c, url: `http://${loki.write}:3100/loki/api/v1/push` })),
    scrape_configs: scrapeConfigs,
  };
}

const partOf = { "app.kubernetes.io/part-of": "kali-agents" } as const;

/** Not measured here (no Promtail or Alloy binary runs on these machines): requests for a node's few hundred lines a second. */
export const agentResources = {
  requests: { cpu: "50m", memory: "128Mi" },
  limits: { memory: "256Mi" },
} as const;

/** What differs between the two agents' DaemonSets. */
export interface LogAgent {
  readonly name: string;
  readonly image: string;
  readonly args: readonly string[];
  /** The ConfigMap key and where the file is mounted. */
  readonly configFile: string;
  readonly configPath: string;
  readonly configText: string;
  readonly httpPort: number;
  readonly readyPath: string;
  /** On the node, so that a restarted agent neither re-sends nor skips lines. */
  readonly stateDir: string;
  /** The compose file whose pipeline the configuration carries. */
  readonly source: string;
}

/** ServiceAccount, ClusterRole and its binding, the configuration's ConfigMap and the DaemonSet. */
export function logAgentObjects(agent: LogAgent, namespace: string): Obj[] {
  const labels = { "app.kubernetes.io/name": agent.name, ...partOf };
  const meta = (name: string) => ({ name, labels: { ...labels } });
  return [
    { apiVersion: "v1", kind: "ServiceAccount", metadata: meta(agent.name) },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: meta(agent.name),
      // Pod discovery only: which pods run on which node, their labels and annotations.
      rules: [{ apiGroups: [""], resources: ["pods", "nodes"], verbs: ["get", "list", "watch"] }],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: meta(agent.name),
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: agent.name },
      // The overlay's namespace, written out: a ClusterRoleBinding has none of its own to inherit.
      subjects: [{ kind: "ServiceAccount", name: agent.name, namespace }],
    },
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { ...meta(agent.name), annotations: { "kali-agents/source": agent.source } },
      data: { [agent.configFile]: agent.configText },
    },
    {
      apiVersion: "apps/v1",
      kind: "DaemonSet",
      metadata: meta(agent.name),
      spec: {
        selector: { matchLabels: { "app.kubernetes.io/name": agent.name } },
        updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1 } },
        template: {
          metadata: { labels: { ...labels } },
          spec: {
            serviceAccountName: agent.name,
            // Logs of every node, control plane's included.
            tolerations: [{ operator: "Exists" }],
            containers: [
              {
                name: agent.name.replace(/^kali-agents-/, ""),
                image: agent.image,
                args: [...agent.args],
                // The node's name: Promtail keeps the targets whose __host__ is its HOSTNAME, Alloy
                // asks the API server for this node's pods only.
                env: [{ name: "HOSTNAME", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } }],
                ports: [{ name: "http", containerPort: agent.httpPort, protocol: "TCP" }],
                readinessProbe: {
                  httpGet: { path: agent.readyPath, port: "http" },
                  periodSeconds: 10,
                  timeoutSeconds: 2,
                },
                resources: {
                  requests: { ...agentResources.requests },
                  limits: { ...agentResources.limits },
                },
                // Root, as in compose: the kubelet writes /var/log/pods as root with mode 0640, and an
                // application's emptyDir files belong to its own user. Everything else is taken away:
                // no capability but reading any file, a read-only root filesystem, no escalation.
                securityContext: {
                  runAsUser: 0,
                  runAsGroup: 0,
                  readOnlyRootFilesystem: true,
                  allowPrivilegeEscalation: false,
                  capabilities: { drop: ["ALL"], add: ["DAC_READ_SEARCH"] },
                  seccompProfile: { type: "RuntimeDefault" },
                },
                volumeMounts: [
                  { name: "config", mountPath: agent.configPath, subPath: agent.configFile, readOnly: true },
                  { name: "pod-logs", mountPath: "/var/log/pods", readOnly: true },
                  { name: "pod-volumes", mountPath: "/var/lib/kubelet/pods", readOnly: true },
                  { name: "state", mountPath: agent.stateDir },
                  { name: "tmp", mountPath: "/tmp" },
                ],
              },
            ],
            volumes: [
              { name: "config", configMap: { name: agent.name } },
              { name: "pod-logs", hostPath: { path: "/var/log/pods", type: "Directory" } },
              { name: "pod-volumes", hostPath: { path: "/var/lib/kubelet/pods", type: "Directory" } },
              { name: "state", hostPath: { path: agent.stateDir, type: "DirectoryOrCreate" } },
              { name: "tmp", emptyDir: { sizeLimit: "16Mi" } },
            ],
          },
        },
      },
    },
  ];
}

export function promtailObjects(namespace: string): Obj[] {
  const source = readPromtailSource();
  return logAgentObjects(
    {
      name: promtail.name,
      image: `${upstream.promtail.image.repository}:${upstream.promtail.image.tag}`,
      args: ["-config.file=/etc/promtail/promtail.yaml"],
      configFile: "promtail.yaml",
      configPath: "/etc/promtail/promtail.yaml",
      configText:
        `# ${promtailSourcePath}'s pipeline with Kubernetes pod discovery (deploy/src/promtail.ts).\n` +
        stringify(promtailConfig(namespace, source), { aliasDuplicateObjects: false, lineWidth: 0 }),
      httpPort: (source.server.http_listen_port as number | undefined) ?? 9080,
      readyPath: "/ready",
      stateDir: promtail.positionsDir,
      source: promtailSourcePath,
    },
    namespace,
  );
}
