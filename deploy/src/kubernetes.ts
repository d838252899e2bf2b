// Kubernetes output from the same sources, for a cluster running kube-prometheus-stack (the Prometheus
// Operator, Grafana with its dashboard sidecar, Alertmanager). `npm run generate` writes
// deploy/kubernetes/: a Kustomize base and an overlay (why Kustomize and not a Helm chart: its README.md,
// whose tables scripts/docs/kubernetes.ts fills), built here from what the other generators produce,
// never from a second copy:
// - PrometheusRule objects: one per generated rule file, its groups parsed from that file's text;
// - the exporter as a Deployment, a Service named as the scrape job the rules select, a ServiceMonitor,
//   and the same container as a sidecar snippet for the API's pod;
// - the dashboards as ConfigMaps for Grafana's sidecar, the generated JSON as is, folder annotated;
// - apart, in logs/ with its own overlay: Loki in simple scalable mode (loki.ts) and the log agents as
//   DaemonSets (alloy.ts, promtail.ts), from loki.yaml, config.alloy and promtail.yaml.
// deploy/test/kubernetes.test.ts validates every object against the Kubernetes and Prometheus Operator
// schemas (kubernetes-models) and holds the rules and dashboards equal to the generated files;
// deploy/test/kubernetes-logs.test.ts does the same for logs/.
import { parse, stringify } from "yaml";
import { jobs } from "../../definitions/selectors.ts";
import type { CollectorName } from "../../definitions/metrics/metric.ts";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { folders } from "../../dashboards/src/common.ts";
import {
  baseAlertmanagerConfig,
  receiverComponents,
  receiverComponentsDir,
  stackAlertLabels,
} from "./alertmanager-config.ts";
import { outputs as dashboardOutputs, dashboards } from "../../dashboards/src/index.ts";
import { outputs as lokiRuleOutputs } from "../../loki/rules/src/index.ts";
import { generatedDir, outputs as ruleOutputs } from "../../prometheus/rules/src/index.ts";
import { lokiObjects } from "./loki.ts";
import { promtailObjects } from "./promtail.ts";
import { alloyObjects } from "./alloy.ts";
import { baseNetworkPolicies, logsNetworkPolicies } from "./network-policies.ts";

export const outDir = "deploy/kubernetes";
const root = new URL("../..", import.meta.url).pathname;

/**
 * The exporter's image as exporter/Dockerfile builds it (compose tags it kali-agents-exporter:local),
 * tagged with the package version; the overlay's `images` entry says where your registry has it.
 */
export const exporterImageName = "kali-agents-exporter";
const version = (JSON.parse(readFileSync(`${root}package.json`, "utf8")) as { version: string }).version;
export const exporterImage = `${exporterImageName}:${version}`;
type Obj = Record<string, unknown>;

/** Labels every object carries. */
export const partOf = { "app.kubernetes.io/part-of": "kali-agents" } as const;
const exporterName = jobs.exporter;
const exporterLabels = { "app.kubernetes.io/name": exporterName, ...partOf } as const;
export const exporterPort = 9839;

/**
 * Resources from the measured RSS: `measured` copies docs/performance.md's "with heap flags, the image's
 * Node.js" line (deploy/test/kubernetes.test.ts holds the two equal; the figures are read there). The
 * request is the RSS after start, rounded up; the limit leaves about half again above the peak (V8's old
 * space is capped at 48 MB by the image's flags, so growth past that is not the heap). CPU: one scrape
 * per 15 s is about 1 millicore; the request covers start-up's JIT and a burst of concurrent scrapes
 * without a limit (a CPU limit throttles scrapes into timeouts).
 */
export const exporterResources = {
  measured: { rssAfterStartMB: 83.3, rssPeakMB: 113 },
  requests: { cpu: "50m", memory: "96Mi" },
  limits: { memory: "160Mi" },
} as const;

/** The image's `USER node`: uid and gid 1000 in the official Node.js images. */
export const nodeUid = 1000;

/** The collectors that read the host: in a pod, /proc is the node's and kube-prometheus-stack's node_exporter covers nodes. */
export const disabledCollectors = ["host", "inventory"] as const satisfies readonly CollectorName[];

/** The Secret the exporter reads its URLs from (keys database_url, redis_url); never generated. */
export const exporterSecret = { name: "kali-agents-exporter", keys: ["database_url", "redis_url"] } as const;

export function exporterContainer(): Obj {
  return {
    name: "exporter",
    image: exporterImage,
    ports: [{ name: "metrics", containerPort: exporterPort, protocol: "TCP" }],
    env: [
      { name: "EXPORTER_LISTEN_ADDRESS", value: `0.0.0.0:${exporterPort}` },
      { name: "EXPORTER_COLLECTORS_DISABLED", value: disabledCollectors.join(",") },
      { name: "DATABASE_URL_FILE", value: "/run/secrets/kali-agents/database_url" },
      { name: "REDIS_URL_FILE", value: "/run/secrets/kali-agents/redis_url" },
      { name: "API_HEALTH_URL", value: "http://kali-agents-api:8000/health" },
      { name: "MCP_SERVERS", value: "" },
    ],
    // Liveness: the process serves HTTP. Readiness: the first collection has completed.
    livenessProbe: {
      httpGet: { path: "/-/healthy", port: "metrics" },
      periodSeconds: 10,
      timeoutSeconds: 2,
      failureThreshold: 3,
    },
    readinessProbe: {
      httpGet: { path: "/-/ready", port: "metrics" },
      periodSeconds: 5,
      timeoutSeconds: 2,
      failureThreshold: 2,
    },
    resources: { requests: { ...exporterResources.requests }, limits: { ...exporterResources.limits } },
    securityContext: {
      runAsNonRoot: true,
      runAsUser: nodeUid,
      runAsGroup: nodeUid,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    },
    volumeMounts: [
      { name: "exporter-secrets", mountPath: "/run/secrets/kali-agents", readOnly: true },
      // Node.js may write temporary files; the root filesystem is read-only.
      { name: "tmp", mountPath: "/tmp" },
    ],
  };
}

const exporterVolumes = (): Obj[] => [
  { name: "exporter-secrets", secret: { secretName: exporterSecret.name, defaultMode: 0o440 } },
  { name: "tmp", emptyDir: { sizeLimit: "16Mi" } },
];

function exporterObjects(): Obj[] {
  const deployment = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: exporterName, labels: { ...exporterLabels } },
    spec: {
      // One replica: two would query PostgreSQL and Redis twice and publish every series twice.
      replicas: 1,
      selector: { matchLabels: { "app.kubernetes.io/name": exporterName } },
      template: {
        metadata: { labels: { ...exporterLabels } },
        spec: {
          automountServiceAccountToken: false,
          securityContext: { runAsNonRoot: true, fsGroup: nodeUid },
          containers: [exporterContainer()],
          volumes: exporterVolumes(),
        },
      },
    },
  };
  // The Operator names the scrape job after the Service: the rules select job="kali-agents-exporter".
  const service = {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: exporterName, labels: { ...exporterLabels } },
    spec: {
      selector: { "app.kubernetes.io/name": exporterName },
      ports: [{ name: "metrics", port: exporterPort, targetPort: "metrics", protocol: "TCP" }],
    },
  };
  const serviceMonitor = {
    apiVersion: "monitoring.coreos.com/v1",
    kind: "ServiceMonitor",
    metadata: { name: exporterName, labels: { ...exporterLabels } },
    spec: {
      selector: { matchLabels: { "app.kubernetes.io/name": exporterName } },
      endpoints: [
        {
          port: "metrics",
          path: "/metrics",
          interval: "15s",
          scrapeTimeout: "10s",
          // The textfile metrics' own `job` becomes exported_job, as in prometheus.yml.
          honorLabels: false,
        },
      ],
    },
  };
  return [deployment, service, serviceMonitor];
}

/**
 * An alerting rule as the cluster runs it: the stack's labels (stackAlertLabels: only its own alerts
 * reach its receivers, and under the namespace matcher the Operator adds by default), and the Watchdog's
 * severity `none`, as the chart's own Watchdog: kube-prometheus-stack's InfoInhibitor mutes
 * `severity="info"` alerts of a namespace where nothing worse fires, which an always-firing info
 * Watchdog would always be, and the heartbeat would stop for good.
 */
export function clusterAlert(rule: Obj): Obj {
  rule.labels = { ...(rule.labels as Obj), ...stackAlertLabels(overlay.namespace) };
  if (rule.alert === "Watchdog") (rule.labels as Obj).severity = "none";
  return rule;
}

/** One PrometheusRule per generated rule file, its groups exactly those of the file. */
export function prometheusRules(): Obj[] {
  // Every file there, whichever generator wrote it (the Loki generator writes logs-derived.yml, the
  // documentation coverage its constant recordings): read as generated, since this generator runs
  // after them (scripts/generators.ts), and held to them by the drift test.
  const files = { ...ruleOutputs(), ...lokiRuleOutputs() };
  const onDisk = readdirSync(join(root, generatedDir))
    .filter((f) => f.endsWith(".yml"))
    .map((f) => `${generatedDir}/${f}`);
  return [...new Set([...Object.keys(files).filter((p) => p.startsWith(`${generatedDir}/`)), ...onDisk])]
    .filter((p) => p.endsWith(".yml"))
    .sort()
    .map((path) => {
      const name = path.slice(generatedDir.length + 1, -".yml".length);
      const { groups } = parse(files[path] ?? readFileSync(join(root, path), "utf8")) as {
        groups: { rules: Obj[] }[];
      };
      for (const g of groups) for (const r of g.rules) if (r.alert) clusterAlert(r);
      return {
        apiVersion: "monitoring.coreos.com/v1",
        kind: "PrometheusRule",
        metadata: {
          name: `kali-agents-${name}`,
          labels: { ...partOf },
          annotations: { "kali-agents/source": path },
        },
        spec: { groups },
      };
    });
}

/** The label kube-prometheus-stack's Grafana sidecar watches (grafana.sidecar.dashboards.label). */
export const dashboardLabel = { grafana_dashboard: "1" } as const;
/** The annotation the sidecar reads a folder from (grafana.sidecar.dashboards.folderAnnotation). */
export const folderAnnotation = "grafana_folder";

export function dashboardConfigMaps(): Obj[] {
  const files = dashboardOutputs();
  return dashboards.map((d) => ({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: `kali-agents-dashboard-${d.name}`,
      labels: { ...partOf, ...dashboardLabel },
      annotations: { [folderAnnotation]: folders[d.folder], "kali-agents/source": d.path },
    },
    data: { [`${d.name}.json`]: files[d.path]! },
  }));
}

const banner = "# Generated by deploy/src/kubernetes.ts (`npm run generate`). DO NOT EDIT.\n";
/**
 * YAML 1.1 tools (PyYAML, older Go yaml) read a bare `=` as the value-type tag, not a string: every
 * matcher operator is written quoted.
 */
export const quoteMatchTypes = (text: string) =>
  text.replace(/^(\s*(?:- )?matchType: )(=~|!~|!=|=)$/gm, '$1"$2"');
const docs = (objects: Obj[]) =>
  banner +
  objects
    .map((o) => quoteMatchTypes(stringify(o, { aliasDuplicateObjects: false, lineWidth: 0 })))
    .join("---\n");

export const baseFiles = {
  "prometheus-rules.yaml": prometheusRules,
  "exporter.yaml": exporterObjects,
  "dashboards.yaml": dashboardConfigMaps,
  "alertmanager-config.yaml": () => [baseAlertmanagerConfig()],
  "networkpolicies.yaml": () => baseNetworkPolicies({ name: exporterName, port: exporterPort }),
} as const;

/**
 * Loki and the log agents, apart from the base: a cluster that already runs a Loki (or another log store)
 * takes the metrics part alone. Applied through their own overlay, into the same namespace.
 */
export const logsFiles = {
  "loki.yaml": () => lokiObjects(),
  "alloy.yaml": () => alloyObjects(overlay.namespace),
  "promtail.yaml": () => promtailObjects(overlay.namespace),
  "networkpolicies.yaml": () => logsNetworkPolicies(),
} as const;
/**
 * What logs/ applies: Loki and one agent. Alloy, maintained (Promtail's end of life was 2026-03-02);
 * promtail.yaml is the same discovery and pipeline for a cluster that keeps Promtail: swap the two.
 * Both at once would send every line twice.
 */
export const logsResources = ["loki.yaml", "alloy.yaml", "networkpolicies.yaml"] as const;
export const logsOverlay = "kube-prometheus-stack-logs";

/** The overlay for kube-prometheus-stack installed as release `kube-prometheus-stack` in `monitoring`. */
export const overlay = {
  name: "kube-prometheus-stack",
  namespace: "monitoring",
  // The chart's default ruleSelector and serviceMonitorSelector match release=<release name>.
  labels: { release: "kube-prometheus-stack" },
} as const;

function kustomizations(): Record<string, string> {
  const base = {
    apiVersion: "kustomize.config.k8s.io/v1beta1",
    kind: "Kustomization",
    resources: Object.keys(baseFiles),
  };
  const over = {
    apiVersion: "kustomize.config.k8s.io/v1beta1",
    kind: "Kustomization",
    namespace: overlay.namespace,
    resources: ["../../base"],
    // Push the image built from exporter/Dockerfile to your registry and name it here.
    images: [
      {
        name: exporterImageName,
        newName: `registry.example.com/kali-agents/${exporterImageName}`,
        newTag: version,
      },
    ],
    // includeSelectors false: the Deployment's selector stays what the Service selects.
    labels: [{ pairs: { ...overlay.labels }, includeSelectors: false }],
  };
  const logs = {
    apiVersion: "kustomize.config.k8s.io/v1beta1",
    kind: "Kustomization",
    resources: [...logsResources],
  };
  const logsOver = {
    apiVersion: "kustomize.config.k8s.io/v1beta1",
    kind: "Kustomization",
    namespace: overlay.namespace,
    resources: ["../../logs"],
  };
  return {
    [`${outDir}/base/kustomization.yaml`]: banner + stringify(base),
    [`${outDir}/overlays/${overlay.name}/kustomization.yaml`]: banner + stringify(over),
    [`${outDir}/logs/kustomization.yaml`]: banner + stringify(logs),
    [`${outDir}/overlays/${logsOverlay}/kustomization.yaml`]: banner + stringify(logsOver),
  };
}

/** The API Service's port the sidecar is scraped on (beside the API's own). */
export const sidecarPortName = "exporter";

/**
 * The sidecar's ServiceMonitor: the Operator names a target's job after its Service, here the API's,
 * which would give the exporter's series job="kali-agents-api" and silence every rule selecting
 * job="kali-agents-exporter". A relabeling (applied after the Operator's own) gives them back that job.
 */
function sidecarServiceMonitor(): Obj {
  return {
    apiVersion: "monitoring.coreos.com/v1",
    kind: "ServiceMonitor",
    metadata: { name: `${exporterName}-sidecar`, labels: { ...exporterLabels } },
    spec: {
      selector: { matchLabels: { "app.kubernetes.io/name": jobs.api } },
      endpoints: [
        {
          port: sidecarPortName,
          path: "/metrics",
          interval: "15s",
          scrapeTimeout: "10s",
          honorLabels: false,
          relabelings: [{ action: "replace", targetLabel: "job", replacement: jobs.exporter }],
        },
      ],
    },
  };
}

function sidecarSnippet(): string {
  return (
    banner +
    `# The exporter as a sidecar of the Kali Agents API's pod, instead of its own Deployment (base/exporter.yaml;
# one of the two, not both): add \`containers\` to the API Deployment's spec.template.spec.containers,
# \`volumes\` to its spec.template.spec.volumes, \`servicePort\` to the API Service's spec.ports, and apply
# \`serviceMonitor\` (in place of base/exporter.yaml's). It scrapes the exporter through the API's
# Service and keeps its series' job="${jobs.exporter}", which the rules and dashboards select: without its
# relabeling the Operator would name the job after the API's Service (${jobs.api}).
` +
    stringify(
      {
        containers: [exporterContainer()],
        volumes: exporterVolumes(),
        servicePort: { name: sidecarPortName, port: exporterPort, targetPort: "metrics", protocol: "TCP" },
        serviceMonitor: sidecarServiceMonitor(),
      },
      { lineWidth: 0 },
    )
  );
}

export function outputs(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [file, make] of Object.entries(baseFiles)) out[`${outDir}/base/${file}`] = docs(make());
  for (const [file, make] of Object.entries(logsFiles)) out[`${outDir}/logs/${file}`] = docs(make());
  Object.assign(out, kustomizations());
  for (const c of receiverComponents()) {
    const dir = `${outDir}/${receiverComponentsDir}/${c.name}`;
    out[`${dir}/kustomization.yaml`] = docs([c.kustomization]);
    out[`${dir}/patch.yaml`] = docs([c.patch as unknown as Obj]);
  }
  out[`${outDir}/snippets/exporter-sidecar.yaml`] = sidecarSnippet();
  return out;
}
