// deploy/kubernetes/README.md: how to apply the Kubernetes objects. Its prose is written in the Markdown
// file; the commands, the tables of files, the example overlay, the chart's values, Loki's changes from
// compose and its sizes, between its markers, are written here from deploy/src, and the names and
// figures the prose writes out (namespace, Secrets, jobs, labels, resources, paths) are checked against
// deploy/src. A row in scripts/generators.ts; test/drift.test.ts fails when the committed file differs.
import { stringify } from "yaml";
import { datasourceUids, hostLabel, jobs } from "../../definitions/selectors.ts";
import { logs } from "../../definitions/logs.ts";
import { lokiVariable as lokiDatasourceVariable } from "../../dashboards/src/common.ts";
import {
  alertmanagerSecret,
  exampleOverlay,
  receiverComponents,
  receiverComponentsDir,
} from "../../deploy/src/alertmanager-config.ts";
import { alloy, alloySourcePath } from "../../deploy/src/alloy.ts";
import {
  disabledCollectors,
  exporterResources,
  exporterSecret,
  folderAnnotation,
  logsOverlay,
  nodeUid,
  outDir,
  overlay,
  prometheusRules,
} from "../../deploy/src/kubernetes.ts";
import {
  loki,
  lokiChanges,
  lokiSourcePath,
  lokiTargets,
  readLokiSource,
  s3SecretKeys,
  stackServices,
} from "../../deploy/src/loki.ts";
import {
  kubernetesOnlyLabels,
  promtail,
  promtailSourcePath,
  serviceLabel,
} from "../../deploy/src/promtail.ts";
import { fillFile } from "./markers.ts";

export const path = `${outDir}/README.md`;

const code = (s: string | number) => `\`${s}\``;

function blocks(): Record<string, string> {
  const rules = prometheusRules()
    .map((r) => code((r.metadata as { name: string }).name))
    .join(", ");
  const receivers = receiverComponents()
    .map(
      (c) =>
        `${code(c.name)} (key${c.secretKeys.length > 1 ? "s" : ""} ${c.secretKeys.map(code).join(", ")})`,
    )
    .join(", ");
  return {
    install: [
      "```sh",
      `kubectl -n ${overlay.namespace} create secret generic ${exporterSecret.name} \\`,
      "  --from-file=database_url=./database_url --from-file=redis_url=./redis_url",
      `kubectl apply -k ${outDir}/overlays/${overlay.name}`,
      "```",
    ].join("\n"),
    files: [
      "| file | what |",
      "| --- | --- |",
      `| \`base/prometheus-rules.yaml\` | one \`PrometheusRule\` per generated rule file (${rules}), the groups exactly those of \`prometheus/rules/generated/\` that promtool tests |`,
      `| \`base/exporter.yaml\` | the exporter: \`Deployment\` (one replica), \`Service\` named \`${jobs.exporter}\` (the Operator names the job after it, and the rules select \`job="${jobs.exporter}"\`), \`ServiceMonitor\` (15s, timeout 10s) |`,
      `| \`base/dashboards.yaml\` | one \`ConfigMap\` per dashboard, labelled \`grafana_dashboard: "1"\` for Grafana's sidecar, the folder in the \`${folderAnnotation}\` annotation; the JSON is the generated file, byte for byte |`,
      "| `base/alertmanager-config.yaml` | `AlertmanagerConfig` with the routing tree and inhibitions of `alertmanager/alertmanager.yml` (deploy/src/alertmanager-config.ts), and its receivers by name only, delivering nothing: it references no Secret key, so the Operator applies it as is |",
      `| \`${receiverComponentsDir}/<receiver>/\` | one Kustomize Component per receiver, which adds its integration as alertmanager.yml has it, credentials as references to the Secret \`${alertmanagerSecret}\`: ${receivers} |`,
      "| `base/networkpolicies.yaml` | `NetworkPolicy` objects (deploy/src/network-policies.ts, docs/operations/security.md): only Prometheus reaches the exporter, which connects only to DNS and the ports of PostgreSQL, Redis and the API (5432, 6379, 8000); kube-prometheus-stack's Prometheus (9090) is reached only by Grafana, itself and Loki's backend (the ruler's remote write), its Alertmanager (9093) only by Prometheus, Grafana, Loki's backend and its peers. They need a network plugin that enforces NetworkPolicies; `kubectl port-forward` to Prometheus or Alertmanager is not subject to them with most plugins |",
      `| \`snippets/exporter-sidecar.yaml\` | the same container and volumes, to run the exporter in the API's pod instead, with the API Service's port and a ServiceMonitor that keeps its series' \`job="${jobs.exporter}"\` |`,
      `| \`overlays/${overlay.name}/\` | namespace \`${overlay.namespace}\`, label \`release: ${overlay.labels.release}\` (the chart's default rule and ServiceMonitor selectors) |`,
    ].join("\n"),
    "example-overlay": [
      "```yaml",
      stringify(exampleOverlay(`../${overlay.name}`, `../../${receiverComponentsDir}`), {
        aliasDuplicateObjects: false,
        lineWidth: 0,
      }).trimEnd(),
      "```",
    ].join("\n"),
    "logs-install": [
      "```sh",
      `kubectl -n ${overlay.namespace} create secret generic ${loki.secret} \\`,
      Object.keys(s3SecretKeys)
        .map((k) => `  --from-literal=${k}=...`)
        .join(" \\\n"),
      `kubectl apply -k ${outDir}/overlays/${logsOverlay}`,
      "```",
    ].join("\n"),
    "logs-files": [
      "| file | what |",
      "| --- | --- |",
      `| \`logs/loki.yaml\` | Loki in simple scalable mode: the \`ConfigMap\` \`${loki.config}\` (the configuration), the \`ConfigMap\` \`${loki.rules}\` (the generated LogQL rule files of \`loki/rules/generated/\`, mounted in the backend pods where the ruler runs), the \`write\` and \`backend\` \`StatefulSet\`s (a \`PodDisruptionBudget\` each: one pod at a time), the \`read\` \`Deployment\`, their \`Service\`s and the headless \`${loki.memberlist}\` for the gossip ring |`,
      "| `logs/networkpolicies.yaml` | a `NetworkPolicy` for Loki: its pods reach one another on every port; on 3100 only the agents, Grafana and Prometheus: the application's pods cannot push |",
      "| `logs/alloy.yaml` | Grafana Alloy as a `DaemonSet` with its `ServiceAccount`, `ClusterRole` (get, list, watch pods and nodes), `ClusterRoleBinding` and `ConfigMap`: applied |",
      "| `logs/promtail.yaml` | the same for Promtail, same discovery, same pipeline: not applied (Promtail reached end of life on 2026-03-02); to keep Promtail, put it in place of `alloy.yaml` in `logs/kustomization.yaml`. Never both: every line would be sent twice |",
    ].join("\n"),
    "chart-values": [
      "```yaml",
      "prometheus:",
      "  prometheusSpec:",
      "    enableRemoteWriteReceiver: true # the ruler's recording rules (kali_agents:log_*)",
      "grafana:",
      "  additionalDataSources:",
      "    - name: Loki",
      "      type: loki",
      `      uid: ${datasourceUids.loki} # the dashboards' default; their $${lokiDatasourceVariable} variable lists every Loki datasource`,
      `      url: http://${loki.read}.${overlay.namespace}:3100`,
      "```",
    ].join("\n"),
    "loki-changes": [
      "| path | value | why |",
      "| --- | --- | --- |",
      ...lokiChanges(readLokiSource()).map(
        (c) =>
          `| \`${c.path.join(".")}\` | ${c.value === undefined ? "removed" : `\`${JSON.stringify(c.value)}\``} | ${c.why} |`,
      ),
    ].join("\n"),
    "loki-sizes": [
      "| target | replicas | requests | memory limit | volume claim each |",
      "| --- | --- | --- | --- | --- |",
      ...Object.entries(lokiTargets).map(
        ([t, v]) =>
          `| \`${t}\` | ${v.replicas} | ${v.requests.cpu} CPU, ${v.requests.memory} | ${v.limits.memory} | ${"storage" in v ? v.storage : "none"} |`,
      ),
    ].join("\n"),
  };
}

/** What the prose writes out by hand, each as it must read there. */
function named(): Record<string, string> {
  const r = exporterResources;
  return {
    "exporterResources.requests": `requests ${code(r.requests.cpu)} CPU and ${code(r.requests.memory)}`,
    "exporterResources.limits": `memory limit ${code(r.limits.memory)}`,
    nodeUid: `uid ${nodeUid}`,
    exporterSecret: `the Secret ${code(exporterSecret.name)} as files`,
    disabledCollectors: `${disabledCollectors.map(code).join(" and ")} collectors are off`,
    folderAnnotation: `folderAnnotation: ${folderAnnotation}\``,
    alertmanagerSecret: `create secret generic ${alertmanagerSecret} --from-file`,
    "overlay.namespace": `kubectl -n ${overlay.namespace} create secret generic ${alertmanagerSecret}`,
    "namespace label": `\`namespace: ${overlay.namespace}\``,
    "namespace matcher": `\`namespace="${overlay.namespace}"\``,
    "overlay.labels.release": `\`release: ${overlay.labels.release}\` there`,
    "receivers' order": `alertmanager.yml's order: ${receiverComponents()
      .map((c, i) => `${i} ${code(c.name)}`)
      .join(", ")})`,
    "jobs.api": `The API rules select \`job="${jobs.api}"\`: the API's own Service must be named ${code(jobs.api)}`,
    "jobs.prometheus, jobs.alertmanager": `select \`job="${jobs.prometheus}"\` and \`job="${jobs.alertmanager}"\``,
    logsOverlay: `applied by the overlay \`overlays/${logsOverlay}/\``,
    lokiSourcePath: `derived from ${code(lokiSourcePath)}`,
    "lokiSourcePath (changes)": `The configuration is ${code(lokiSourcePath)} with these changes only`,
    "loki.write": `Pushes go to \`http://${loki.write}:3100\``,
    "loki.read": `reads \`http://${loki.read}:3100\``,
    "loki.secret": `from the Secret ${code(loki.secret)} as environment variables`,
    s3SecretKeys: `(keys ${Object.entries(s3SecretKeys)
      .map(([k, v]) => `${code(k)}${v.optional ? " (optional)" : ""}`)
      .join(", ")})`,
    "stackServices.alertmanager": `its alerts go to ${code(stackServices.alertmanager)}`,
    alloySourcePath: `blocks of ${code(alloySourcePath)} as they are`,
    promtailSourcePath: `the stages of ${code(promtailSourcePath)}, taken as parsed`,
    "promtail.logVolumeAnnotation": `\`${promtail.logVolumeAnnotation}: <volume name>\``,
    "logs.appJob": `with \`job="${logs.appJob}"\``,
    "namespace of the stack's pods": `the pods of the ${code(overlay.namespace)} namespace`,
    "logs.containerJob": `Labels: \`job="${logs.containerJob}"\``,
    serviceLabel: `label ${code(serviceLabel)} where the container is named otherwise`,
    hostLabel: `${code(hostLabel)}: the node's name, as the metrics' ${code(hostLabel)} label`,
    kubernetesOnlyLabels: `Two labels are added to compose's, ${kubernetesOnlyLabels.map(code).join(" and ")}:`,
    "alloy.storageDir, promtail.positionsDir": `(${code(alloy.storageDir)}, ${code(promtail.positionsDir)})`,
    "restart namespace": `(\`kubectl -n ${overlay.namespace} rollout restart`,
  };
}

export function render(): string {
  return fillFile(path, blocks(), { named: named() });
}

export function outputs(): Record<string, string> {
  return { [path]: render() };
}
