// NetworkPolicies for the cluster (docs/operations/security.md): who may reach the exporter,
// kube-prometheus-stack's Prometheus and Alertmanager (base/networkpolicies.yaml), and Loki
// (logs/networkpolicies.yaml), and where the exporter may connect. The same limits as compose's networks:
// the application's pods reach none of them, Prometheus' and Alertmanager's APIs (remote write, silences)
// are reached only by the stack's own parts. kube-prometheus-stack's pods are selected by the
// `app.kubernetes.io/name` its chart gives them (prometheus, alertmanager, grafana). A NetworkPolicy
// takes effect only with a network plugin that enforces them (Calico, Cilium, ...).
import { alloy } from "./alloy.ts";
import { loki } from "./loki.ts";
import { promtail } from "./promtail.ts";

type Obj = Record<string, unknown>;
const partOf = { "app.kubernetes.io/part-of": "kali-agents" } as const;
const pods = (name: string, extra: Record<string, string> = {}) => ({
  podSelector: { matchLabels: { "app.kubernetes.io/name": name, ...extra } },
});
const tcp = (port: number) => ({ protocol: "TCP", port });

/** kube-prometheus-stack's pods, by their chart's app.kubernetes.io/name. */
export const stackPods = {
  prometheus: "prometheus",
  alertmanager: "alertmanager",
  grafana: "grafana",
} as const;

/** Where the exporter may connect: DNS, PostgreSQL, Redis, the API's health endpoint (API_HEALTH_URL). */
export const exporterEgressPorts = { dns: 53, postgres: 5432, redis: 6379, api: 8000 } as const;

function policy(name: string, spec: Obj): Obj {
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name, labels: { ...partOf } },
    spec,
  };
}

export function baseNetworkPolicies(exporter: { name: string; port: number }): Obj[] {
  const lokiBackend = pods(loki.name, { "app.kubernetes.io/component": "backend" });
  return [
    // The exporter: scraped by Prometheus only; it connects to DNS, the database, Redis and the API. The
    // database and Redis may be outside the cluster, so those rules name ports, not pods.
    policy(exporter.name, {
      podSelector: { matchLabels: { "app.kubernetes.io/name": exporter.name } },
      policyTypes: ["Ingress", "Egress"],
      ingress: [{ from: [pods(stackPods.prometheus)], ports: [tcp(exporter.port)] }],
      egress: [
        {
          to: [{ namespaceSelector: {}, podSelector: { matchLabels: { "k8s-app": "kube-dns" } } }],
          ports: [{ protocol: "UDP", port: exporterEgressPorts.dns }, tcp(exporterEgressPorts.dns)],
        },
        {
          ports: [
            tcp(exporterEgressPorts.postgres),
            tcp(exporterEgressPorts.redis),
            tcp(exporterEgressPorts.api),
          ],
        },
      ],
    }),
    // Prometheus: its API (queries, remote write) from Grafana, Loki's ruler and itself only.
    policy("kali-agents-prometheus", {
      ...pods(stackPods.prometheus),
      policyTypes: ["Ingress"],
      ingress: [
        {
          from: [pods(stackPods.grafana), pods(stackPods.prometheus), lokiBackend],
          ports: [tcp(9090)],
        },
      ],
    }),
    // Alertmanager: alerts from Prometheus and Loki's ruler, Grafana's datasource, and its own peers.
    policy("kali-agents-alertmanager", {
      ...pods(stackPods.alertmanager),
      policyTypes: ["Ingress"],
      ingress: [
        {
          from: [
            pods(stackPods.prometheus),
            pods(stackPods.grafana),
            lokiBackend,
            pods(stackPods.alertmanager),
          ],
          ports: [tcp(9093)],
        },
        {
          from: [pods(stackPods.alertmanager)],
          ports: [tcp(9094), { protocol: "UDP", port: 9094 }],
        },
      ],
    }),
  ];
}

/** Loki: pushes from the agents, queries from Grafana, scrapes from Prometheus, and its own pods' traffic. */
export function logsNetworkPolicies(): Obj[] {
  return [
    policy(loki.name, {
      ...pods(loki.name),
      policyTypes: ["Ingress"],
      ingress: [
        { from: [pods(loki.name)] },
        {
          from: [pods(alloy.name), pods(promtail.name), pods(stackPods.grafana), pods(stackPods.prometheus)],
          ports: [tcp(3100)],
        },
      ],
    }),
  ];
}
