// Kubernetes output from the same sources, for a cluster running kube-prometheus-stack (the Prometheus
// Operator, Grafana with its dashboard sidecar, Alertmanager). `npm run generate` writes
// deploy/kubernetes/: a Kustomize base and an overlay (why Kustomize and not a Helm chart: README.md
// below), built here from what the other generators produce, never from a second copy:
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
import type { CollectorName } from "../../definitions/metrics/metric.ts";
import { datasourceUids, hostLabel, jobs } from "../../definitions/selectors.ts";
import { logs } from "../../definitions/logs.ts";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { folders, lokiVariable as lokiDatasourceVariable } from "../../dashboards/src/common.ts";
import {
  alertmanagerSecret,
  baseAlertmanagerConfig,
  exampleOverlay,
  receiverComponents,
  receiverComponentsDir,
  stackAlertLabels,
} from "./alertmanager-config.ts";
import { outputs as dashboardOutputs, dashboards } from "../../dashboards/src/index.ts";
import { outputs as lokiRuleOutputs } from "../../loki/rules/src/index.ts";
import { generatedDir, outputs as ruleOutputs } from "../../prometheus/rules/src/index.ts";
import {
  loki,
  lokiChanges,
  lokiObjects,
  lokiSourcePath,
  lokiTargets,
  readLokiSource,
  s3SecretKeys,
  stackServices,
} from "./loki.ts";
import {
  kubernetesOnlyLabels,
  promtail,
  promtailObjects,
  promtailSourcePath,
  serviceLabel,
} from "./promtail.ts";
import { alloy, alloyObjects, alloySourcePath } from "./alloy.ts";
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
 * Resources from the measured RSS (docs/performance.md, "with heap flags, the image's Node.js" line:
 * 83.3 MB after start, 113 MB peak over 4000 scrapes, 20.6 ms CPU per scrape, in the 2026-12-02 run).
 * The request is the RSS
 * after start, rounded up; the limit leaves half again above the peak (V8's old space is capped at
 * 48 MB by the image's flags, so growth past that is not the heap). CPU: one scrape per 15 s is about
 * 1 millicore; the request covers start-up's JIT and a burst of concurrent scrapes without a limit
 * (a CPU limit throttles scrapes into timeouts).
 */
export const exporterResources = {
  measured: { rssAfterStartMB: 83.3, rssPeakMB: 113 },
  requests: { cpu: "50m", memory: "96Mi" },
  limits: { memory: "160Mi" },
} as const;

/** The image's `USER node`: uid and gid 1000 in the official Node.js images. */
const nodeUid = 1000;

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

function readme(): string {
  const rules = prometheusRules()
    .map((r) => `\`${(r.metadata as { name: string }).name}\``)
    .join(", ");
  return `<!-- Generated from deploy/src/kubernetes.ts by \`npm run generate\`. DO NOT EDIT. -->
# Kubernetes: kube-prometheus-stack

The same sources as the compose stack, as objects for a cluster running
[kube-prometheus-stack](https://github.com/prometheus-community/helm-charts/tree/main/charts/kube-prometheus-stack)
(the Prometheus Operator, Grafana with its dashboard sidecar, Alertmanager).

\`\`\`sh
kubectl -n ${overlay.namespace} create secret generic ${exporterSecret.name} \\
  --from-file=database_url=./database_url --from-file=redis_url=./redis_url
kubectl apply -k deploy/kubernetes/overlays/${overlay.name}
\`\`\`

| file | what |
| --- | --- |
| \`base/prometheus-rules.yaml\` | one \`PrometheusRule\` per generated rule file (${rules}), the groups exactly those of \`prometheus/rules/generated/\` that promtool tests |
| \`base/exporter.yaml\` | the exporter: \`Deployment\` (one replica), \`Service\` named \`${jobs.exporter}\` (the Operator names the job after it, and the rules select \`job="${jobs.exporter}"\`), \`ServiceMonitor\` (15s, timeout 10s) |
| \`base/dashboards.yaml\` | one \`ConfigMap\` per dashboard, labelled \`grafana_dashboard: "1"\` for Grafana's sidecar, the folder in the \`${folderAnnotation}\` annotation; the JSON is the generated file, byte for byte |
| \`base/alertmanager-config.yaml\` | \`AlertmanagerConfig\` with the routing tree and inhibitions of \`alertmanager/alertmanager.yml\` (deploy/src/alertmanager-config.ts), and its receivers by name only, delivering nothing: it references no Secret key, so the Operator applies it as is |
| \`${receiverComponentsDir}/<receiver>/\` | one Kustomize Component per receiver, which adds its integration as alertmanager.yml has it, credentials as references to the Secret \`${alertmanagerSecret}\`: ${receiverComponents()
    .map(
      (c) =>
        `\`${c.name}\` (key${c.secretKeys.length > 1 ? "s" : ""} ${c.secretKeys.map((k) => `\`${k}\``).join(", ")})`,
    )
    .join(", ")} |
| \`base/networkpolicies.yaml\` | \`NetworkPolicy\` objects (deploy/src/network-policies.ts, docs/operations/security.md): only Prometheus reaches the exporter, which connects only to DNS and the ports of PostgreSQL, Redis and the API (5432, 6379, 8000); kube-prometheus-stack's Prometheus (9090) is reached only by Grafana, itself and Loki's backend (the ruler's remote write), its Alertmanager (9093) only by Prometheus, Grafana, Loki's backend and its peers. They need a network plugin that enforces NetworkPolicies; \`kubectl port-forward\` to Prometheus or Alertmanager is not subject to them with most plugins |
| \`snippets/exporter-sidecar.yaml\` | the same container and volumes, to run the exporter in the API's pod instead, with the API Service's port and a ServiceMonitor that keeps its series' \`job="${jobs.exporter}"\` |
| \`overlays/${overlay.name}/\` | namespace \`${overlay.namespace}\`, label \`release: ${overlay.labels.release}\` (the chart's default rule and ServiceMonitor selectors) |

**The exporter's container**: probes on \`/-/healthy\` (liveness) and \`/-/ready\` (readiness: first
collection done); requests \`${exporterResources.requests.cpu}\` CPU and \`${exporterResources.requests.memory}\`, memory limit \`${exporterResources.limits.memory}\`, from the
measured RSS of the image's Node.js (${exporterResources.measured.rssAfterStartMB} MB after start,
${exporterResources.measured.rssPeakMB} MB peak over 4,000 scrapes, [docs/performance.md](../../docs/performance.md)); no CPU limit (throttling
turns scrapes into timeouts); read-only root filesystem with an \`emptyDir\` on \`/tmp\`, uid ${nodeUid} (the
image's \`node\` user), no capabilities, no privilege escalation, RuntimeDefault seccomp; the database
and Redis URLs from the Secret \`${exporterSecret.name}\` as files (\`*_FILE\` variables). The
\`${disabledCollectors.join("` and `")}\` collectors are off: a pod's \`/proc\` is its node's, and kube-prometheus-stack's
node_exporter already covers nodes. Set \`API_HEALTH_URL\` and \`MCP_SERVERS\` with a patch in your overlay.

Grafana's sidecar must be told to use folders: \`grafana.sidecar.dashboards.folderAnnotation: ${folderAnnotation}\` and
\`grafana.sidecar.dashboards.provider.foldersFromFilesStructure: true\` in the chart's values. The
dashboards' \`datasource\` variable lists the Prometheus datasources, so the chart's own works unchanged.

**Why Kustomize and not a Helm chart.** Everything here is generated from TypeScript, which already
plays the part of Helm's templates and values; a chart would add a second templating layer over
generated text, and its rendered output could no longer be compared byte for byte with the rule
files and dashboards the tests run. Kustomize applies plain, committed YAML that the tests validate
as is, and an overlay per cluster changes namespaces, labels, images and settings without copying.
kube-prometheus-stack itself stays a Helm release; these objects sit beside it.

**Alertmanager.** Create the Secret
(\`kubectl -n ${overlay.namespace} create secret generic ${alertmanagerSecret} --from-file=...\`, one file per key,
the same files as compose's \`secrets/\`). The receivers use the templates of \`alertmanager/templates/\`:
give them to the chart (\`alertmanager.templateFiles\`, e.g. \`--set-file\` per file), \`settings.tmpl\`
with your Grafana's address and your runbooks' base URL written in (\`kali.runbook.base\`: the rules'
\`runbook_url\` is \`<AlertName>.md\`, relative to it; the file compose writes from \`GRAFANA_ROOT_URL\` and
\`RUNBOOK_BASE_URL\` at start: \`alertmanager/render-config.sh\`).

**Receivers: only those the team has.** The Operator skips an AlertmanagerConfig as a whole when a key it
references is missing from the Secret (its log says \`skipping alertmanagerconfig\` with the error, and
the object gets a Warning event, "was rejected due to invalid configuration"): no route of it reaches
Alertmanager.
So the base's receivers deliver nothing, as compose's are off until configured, and reference no key;
each receiver is turned on by its component, which needs its key in the Secret (the table above).
Turn on the ones you have in an overlay of your own, and set their addresses there (the components
carry alertmanager.yml's examples: \`to\`, the SMTP relay, the Slack channel, the heartbeat URL). For a
team with email and the heartbeat only (the Secret holds \`smtp_password\` and \`heartbeat_api_key\`),
\`overlays/my-cluster/kustomization.yaml\`:

\`\`\`yaml
${stringify(exampleOverlay(`../${overlay.name}`, `../../${receiverComponentsDir}`), { aliasDuplicateObjects: false, lineWidth: 0 }).trimEnd()}
\`\`\`

Each \`test\` checks the receiver's index before the patch touches it (receivers are in
alertmanager.yml's order: ${receiverComponents()
    .map((c, i) => `${i} \`${c.name}\``)
    .join(", ")}). A relay without authentication: \`op: remove\` of \`emailConfigs/0/authUsername\`
and \`authPassword\` (then \`smtp_password\` is not needed). Routes are unchanged: an alert still goes
to every receiver its route names, and a receiver left off drops it, as in compose (an email-only team
gets every critical and warning alert by email). Apply with \`kubectl apply -k overlays/my-cluster\`;
deploy/test/receivers.test.ts applies these patches as Kustomize does (and builds the overlay with
\`kubectl kustomize\` where kubectl is installed) and checks it references exactly those two keys.
The chart selects
AlertmanagerConfigs by \`alertmanager.alertmanagerSpec.alertmanagerConfigSelector\`: match
\`release: ${overlay.labels.release}\` there. Only the stack's own alerts reach its receivers, whatever
\`alertmanager.alertmanagerSpec.alertmanagerConfigMatcherStrategy\` says: every alert of its
PrometheusRules carries \`stack: kali-agents\` and \`namespace: ${overlay.namespace}\`, and the
AlertmanagerConfig's top route matches \`stack="kali-agents"\`. With the chart's default strategy
(\`OnNamespace\`) the Operator adds \`namespace="${overlay.namespace}"\`, which they carry (the Watchdog
and the \`absent()\` alerts have no namespace of their own); with \`None\` it adds nothing, and the
cluster's other alerts (\`KubeAPIDown\`, ...) still go to the chart's receivers, not to these. An
overlay in another namespace changes that label too (a patch of the PrometheusRules). The Watchdog's
severity is \`none\` here, as the chart's own: the chart's \`InfoInhibitor\` mutes the \`info\`
alerts of a namespace where nothing worse fires, and would mute an \`info\` Watchdog for good; the
other \`info\` alerts are muted so, as the chart means them to be. deploy/test/operator-routing.test.ts
proves this routing on the configuration the Operator generates from this AlertmanagerConfig and the
chart's default one, under both strategies, with amtool and a real Alertmanager.

**Prometheus' retention: 30 days.** The SLO's error budget (\`kali_agents:api_slo_*\`, 30 days), the
backup success rate and the scorecard's 30-day figures read 30 days of history; the chart keeps 10
(\`prometheus.prometheusSpec.retention: 10d\`). Set \`prometheus.prometheusSpec.retention: 30d\` (and a
\`retentionSize\` and volume for it) in the chart's values, or those rules answer for the days kept only.

**What differs from compose, for the rules.** The API rules select \`job="${jobs.api}"\`: the
API's own Service must be named \`${jobs.api}\` and scraped by a ServiceMonitor of yours. The stack
rules on Prometheus' and Alertmanager's own metrics select \`job="${jobs.prometheus}"\` and
\`job="${jobs.alertmanager}"\`, which the chart names after its release
(\`kube-prometheus-stack-prometheus\`, ...): the chart ships its own rules for those, so ours stay
silent there rather than wrong.

${logsReadme()}
Not generated yet: the ops jobs as CronJobs.
`;
}

function logsReadme(): string {
  const changes = lokiChanges(readLokiSource())
    .map(
      (c) =>
        `| \`${c.path.join(".")}\` | ${c.value === undefined ? "removed" : `\`${JSON.stringify(c.value)}\``} | ${c.why} |`,
    )
    .join("\n");
  const targets = Object.entries(lokiTargets)
    .map(
      ([t, v]) =>
        `\`${t}\` ${v.replicas} replicas, requests ${v.requests.cpu} CPU and ${v.requests.memory}, memory limit ${v.limits.memory}${"storage" in v ? `, a ${v.storage} volume claim each` : ""}`,
    )
    .join("; ");
  return `## Logs: Loki (simple scalable) and Alloy (or Promtail)

\`\`\`sh
kubectl -n ${overlay.namespace} create secret generic ${loki.secret} \\
${Object.keys(s3SecretKeys)
  .map((k) => `  --from-literal=${k}=...`)
  .join(" \\\n")}
kubectl apply -k deploy/kubernetes/overlays/${logsOverlay}
\`\`\`

Apart from the base (\`logs/\`, applied by the overlay \`overlays/${logsOverlay}/\`): a cluster that
already runs a Loki, or another log store, takes the metrics part alone.

| file | what |
| --- | --- |
| \`logs/loki.yaml\` | Loki in simple scalable mode: the \`ConfigMap\` \`${loki.config}\` (the configuration), the \`ConfigMap\` \`${loki.rules}\` (the generated LogQL rule files of \`loki/rules/generated/\`, mounted in the backend pods where the ruler runs), the \`write\` and \`backend\` \`StatefulSet\`s (a \`PodDisruptionBudget\` each: one pod at a time), the \`read\` \`Deployment\`, their \`Service\`s and the headless \`${loki.memberlist}\` for the gossip ring |
| \`logs/networkpolicies.yaml\` | a \`NetworkPolicy\` for Loki: its pods reach one another on every port; on 3100 only the agents, Grafana and Prometheus: the application's pods cannot push |
| \`logs/alloy.yaml\` | Grafana Alloy as a \`DaemonSet\` with its \`ServiceAccount\`, \`ClusterRole\` (get, list, watch pods and nodes), \`ClusterRoleBinding\` and \`ConfigMap\`: applied |
| \`logs/promtail.yaml\` | the same for Promtail, same discovery, same pipeline: not applied (Promtail reached end of life on 2026-03-02); to keep Promtail, put it in place of \`alloy.yaml\` in \`logs/kustomization.yaml\`. Never both: every line would be sent twice |

**Why plain manifests and not the grafana/loki chart's values.** The chart builds Loki's configuration
from its own templates merged with \`loki.structuredConfig\`: what Loki would run is known only once the
chart is rendered. Here the ConfigMap holds the exact configuration Loki reads, derived from
\`${lokiSourcePath}\` (deploy/src/loki.ts) and checked by the same rules as compose's; every object
validates against the Kubernetes schema. Pushes go to \`http://${loki.write}:3100\`, Grafana's Loki
datasource reads \`http://${loki.read}:3100\` (no gateway in front). In kube-prometheus-stack's values:

\`\`\`yaml
prometheus:
  prometheusSpec:
    enableRemoteWriteReceiver: true # the ruler's recording rules (kali_agents:log_*)
grafana:
  additionalDataSources:
    - name: Loki
      type: loki
      uid: ${datasourceUids.loki} # the dashboards' default; their $${lokiDatasourceVariable} variable lists every Loki datasource
      url: http://${loki.read}.${overlay.namespace}:3100
\`\`\`

**The same retention, provably.** The configuration is \`${lokiSourcePath}\` with these changes only
(deploy/test/kubernetes-logs.test.ts removes these paths from both and finds the rest deep-equal):
\`limits_config\` (retention per stream, limits) and the compactor's retention settings are
compose's.

| path | value | why |
| --- | --- | --- |
${changes}

Everything Loki keeps locally stays under \`/loki\`: on a volume claim in the write pods (the WAL)
and the backend pods (compactor markers, ruler WAL), an \`emptyDir\` in the read pods (caches). The
object storage's address and credentials come from the Secret \`${loki.secret}\` as environment
variables (keys ${Object.entries(s3SecretKeys)
    .map(([k, v]) => `\`${k}\`${v.optional ? " (optional)" : ""}`)
    .join(", ")}), never from a file here. For the ruler's recording rules, kube-prometheus-stack's Prometheus
must accept remote write (\`prometheus.prometheusSpec.enableRemoteWriteReceiver: true\`); its alerts go to
\`${stackServices.alertmanager}\` (another release name: patch \`ruler.alertmanager_url\` and
\`ruler.remote_write\` in the ConfigMap). Sizes: ${targets}. These are not measured (no Loki binary
runs where this is generated): starting points for the volume of docs/operations/scaling.md.

**The agents, with compose's pipeline.** Alloy's configuration carries the \`loki.process "files"\`
(the application's files: a traceback's lines joined to the line that logged it) and
\`loki.process "json"\` blocks of \`${alloySourcePath}\` as they are; Promtail's the stages of \`${promtailSourcePath}\`, taken as
parsed (deploy/src/alloy.ts, deploy/src/promtail.ts; the test holds both equal to compose's, and
Alloy's relabel rules equal to Promtail's). Only discovery is Kubernetes', the same for both:

- the application's four files: a pod that writes them into an \`emptyDir\` says so with the annotation
  \`${promtail.logVolumeAnnotation}: <volume name>\`; one job per stream reads that file on the node
  (\`/var/lib/kubelet/pods/<uid>/volumes/kubernetes.io~empty-dir/<volume>/\`), with \`job="${logs.appJob}"\`
  and the stream's \`stream\` label, as compose's job does, so the retention per stream applies;
- the output of the stack's containers from \`/var/log/pods\`: the pods of the \`${overlay.namespace}\` namespace
  (kube-prometheus-stack, Loki, the agents, the exporter) and those labelled
  \`app.kubernetes.io/part-of: kali-agents\` anywhere (label your API's, PostgreSQL's and Redis' pods so),
  not every pod of the cluster: as compose collects one host's stack, and Loki's limits (3,000 streams)
  are sized for that. Labels: \`job="${logs.containerJob}"\`, \`container\`, and \`service\`, the
  container's name, which is compose's service name for the stack's images (\`exporter\`, \`loki\`,
  \`prometheus\`, \`alertmanager\`, \`redis\`: the queries of the runbooks select on it), or the pod's
  label \`${serviceLabel}\` where the container is named otherwise (a chart's \`postgresql\`: set
  \`${serviceLabel}: postgres\`). The kubelet writes these files in the CRI format, so a \`cri\` stage
  decodes each line first (it also sets \`stream\` to \`stdout\` or \`stderr\` on these lines), then the
  same stages as compose's;
- \`${hostLabel}\`: the node's name, as the metrics' \`${hostLabel}\` label in the multi-host setup. Each
  agent reads its own node's pods only (\`HOSTNAME\` is the node's name: Alloy asks the API server for
  that node's pods, Promtail drops the targets whose \`__host__\` differs).

Two labels are added to compose's, ${kubernetesOnlyLabels.map((l) => `\`${l}\``).join(" and ")}: Promtail keys its file targets by their
labels alone, so two replicas of one Deployment on one node would otherwise be one target, and the
second pod's lines would never be read (Alloy keys them by path and labels, and carries the same
labels so that both agents attach the same). They add no stream: \`filename\`, the file's path, already
names the pod's uid (a new value per pod, where compose's is fixed). The queries, rules and
dashboards select only the labels compose's agents attach, so they run unchanged.

The agents run as **root**, as in compose: the kubelet writes \`/var/log/pods\` as root with mode
0640, and an application's files belong to its own user. They keep only the capability to read any
file, a read-only root filesystem and read-only \`hostPath\` mounts; their read positions live on
the node (\`${alloy.storageDir}\`, \`${promtail.positionsDir}\`), so a restarted pod neither re-sends
nor skips lines. Requests and limits are starting points, not measured. On nodes whose runtime is
Docker (\`/var/log/pods\` entries are links into \`/var/lib/docker/containers\`), mount that directory too.

**After editing a ConfigMap, restart its pods.** Loki's and the agents' configuration files are mounted
with \`subPath\` (one file into a folder the image owns), and the kubelet never updates a \`subPath\`
mount: a changed ConfigMap reaches them only through new pods (\`kubectl -n ${overlay.namespace} rollout
restart statefulset/kali-agents-loki-write statefulset/kali-agents-loki-backend
deployment/kali-agents-loki-read daemonset/kali-agents-alloy\`). The Loki rules' ConfigMap is mounted
whole: the kubelet updates it in place (within a minute or so) and the ruler picks it up at its next poll.
`;
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
  out[`${outDir}/README.md`] = readme();
  return out;
}
