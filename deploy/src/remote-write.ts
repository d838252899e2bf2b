// Many hosts, one view: each host keeps its Prometheus (the "edge", prometheus/prometheus.yml) and sends
// every sample with remote_write to one store, where the generated rules run once for all hosts and
// Grafana reads. Three stores speak the same protocol (Prometheus remote write 1.0): a central
// Prometheus started with --web.enable-remote-write-receiver, Grafana Mimir and Thanos Receive. What
// differs is the endpoint path and the tenant header, so one generator writes the three variants.
//
// outputs():
// - deploy/remote-write/edge-<store>.yml: prometheus/prometheus.yml for an edge host, plus the host
//   label and the remote_write block; rule_files and alerting removed (the store's side evaluates them,
//   once, so an alert does not arrive twice).
// - deploy/remote-write/central-prometheus.yml: the receiving Prometheus (rules, Alertmanager, itself).
// deploy/remote-write/README.md, how to use them, is filled from the same data by scripts/docs/remote-write.ts.
import { readFileSync } from "node:fs";
import { parse, stringify } from "yaml";
import { hostLabel, jobs } from "../../definitions/selectors.ts";

const root = new URL("../..", import.meta.url).pathname;
export const sourceConfigPath = "prometheus/prometheus.yml";
export const outputDir = "deploy/remote-write";

/**
 * Prometheus 3 expands ${VAR} in external label values from its environment (2.x needed
 * --enable-feature=expand-external-labels): one file serves every host, each sets HOST_NAME.
 */
export const hostNameVariable = "HOST_NAME";

export interface RemoteWriteStore {
  /** File name part and remote_write `name` (shown in Prometheus' own metrics as remote_name). */
  readonly name: string;
  readonly title: string;
  /** The push endpoint, with the store's default host name and port. */
  readonly url: string;
  /** Fixed headers (a tenant); Prometheus refuses to let remote_write set auth headers this way. */
  readonly headers?: Readonly<Record<string, string>>;
  /** What the store needs on its side. */
  readonly receiverNotes: string;
}

/** The tenant (Mimir's org, Thanos' tenant) the stack writes as. */
export const tenant = "kali-agents";

/** The central Prometheus' host name: in its certificate, and in the edges' URL. */
export const centralHost = "prometheus-central";

/**
 * An edge's credentials for the store, as files (compose: secrets/prometheus/, mounted at /run/secrets in
 * Prometheus): its own user name and password (basic auth), and the CA that signed the store's
 * certificate. Files, so no secret is in the configuration and a rotation needs no edit of it.
 */
export const edgeSecretFiles = {
  username: "/run/secrets/remote_write_username",
  password: "/run/secrets/remote_write_password",
  ca: "/run/secrets/remote_write_ca.crt",
} as const;

export const stores: readonly RemoteWriteStore[] = [
  {
    name: "central-prometheus",
    title: "A central Prometheus",
    url: `https://${centralHost}:9090/api/v1/write`,
    receiverNotes:
      "Start it with `--web.enable-remote-write-receiver`, `central-prometheus.yml` (the generated rules and Alertmanager) and a `--web.config.file` with its certificate and a basic-auth user per edge (below). No tenants: one stack per central Prometheus.",
  },
  {
    name: "mimir",
    title: "Grafana Mimir",
    url: "https://mimir:8080/api/v1/push",
    headers: { "X-Scope-OrgID": tenant },
    receiverNotes:
      "Mimir is multi-tenant: `X-Scope-OrgID` names the tenant (with `-auth.multitenancy-enabled=false` Mimir ignores it and uses `anonymous`). Load the generated rules into Mimir's ruler for that tenant (`mimirtool rules sync --id kali-agents prometheus/rules/generated/*.yml`) and point its Alertmanager at the same routing.",
  },
  {
    name: "thanos-receive",
    title: "Thanos Receive",
    url: "https://thanos-receive:19291/api/v1/receive",
    headers: { "THANOS-TENANT": tenant },
    receiverNotes:
      "Thanos Receive takes the tenant from `THANOS-TENANT` (its `--receive.tenant-header` default) and stores it as the `tenant_id` label. Run the generated rules in Thanos Ruler (`--rule-file=prometheus/rules/generated/*.yml`) against the Querier.",
  },
];

type Obj = Record<string, unknown>;

/** The remote_write entry for one store. */
export function remoteWriteEntry(store: RemoteWriteStore): Obj {
  return {
    name: store.name,
    url: store.url,
    ...(store.headers ? { headers: { ...store.headers } } : {}),
    // Over TLS, with this edge's own user: any host that can reach the store could otherwise write any
    // series under any host label.
    basic_auth: { username_file: edgeSecretFiles.username, password_file: edgeSecretFiles.password },
    tls_config: { ca_file: edgeSecretFiles.ca },
    // A store that is away for a while loses nothing: the edge's WAL keeps about two hours, and the
    // queue retries with backoff. Defaults otherwise (they suit a few thousand series per host).
    queue_config: { max_backoff: "30s" },
  };
}

function readSource(): Obj {
  return parse(readFileSync(`${root}${sourceConfigPath}`, "utf8")) as Obj;
}

/**
 * Jobs of what runs once, beside the store (Alertmanager, Loki, Grafana): the central Prometheus scrapes
 * them; an edge scrapes what runs on its host (exporter, API, itself, Promtail).
 */
export const centralJobs: readonly string[] = [jobs.alertmanager, jobs.loki, jobs.grafana];

const jobsOf = (source: Obj, keep: (name: string) => boolean): Obj[] =>
  ((source.scrape_configs ?? []) as Obj[])
    .filter((j) => keep(String(j.job_name)))
    .map((j) => structuredClone(j));

/** prometheus.yml as an edge of `store`: host label, remote_write, no rules and no alerting. */
export function edgeConfig(store: RemoteWriteStore, source: Obj = readSource()): Obj {
  const doc = structuredClone(source);
  const global = (doc.global ?? {}) as Obj;
  global.external_labels = {
    ...((global.external_labels ?? {}) as Obj),
    [hostLabel]: `\${${hostNameVariable}}`,
  };
  doc.global = global;
  delete doc.rule_files;
  delete doc.alerting;
  doc.scrape_configs = jobsOf(source, (n) => !centralJobs.includes(n));
  doc.remote_write = [remoteWriteEntry(store)];
  return doc;
}

/** The receiving Prometheus: the generated rules, Alertmanager, and the jobs of what runs beside it. */
export function centralConfig(source: Obj = readSource()): Obj {
  const global = structuredClone((source.global ?? {}) as Obj);
  const scrapeConfigs = jobsOf(source, (n) => n === jobs.prometheus || centralJobs.includes(n));
  // It serves TLS (its --web.config.file): it scrapes itself over TLS, by the name in its certificate.
  for (const j of scrapeConfigs.filter((x) => x.job_name === jobs.prometheus)) {
    j.scheme = "https";
    j.tls_config = { ca_file: edgeSecretFiles.ca, server_name: centralHost };
  }
  return {
    global,
    storage: structuredClone(source.storage),
    rule_files: structuredClone(source.rule_files),
    alerting: structuredClone(source.alerting),
    scrape_configs: scrapeConfigs,
  };
}

const banner = (what: string) =>
  `# Generated from deploy/src/remote-write.ts and ${sourceConfigPath} by \`npm run generate\`. DO NOT EDIT.\n# ${what}\n`;

const yaml = (doc: Obj) => stringify(doc, { aliasDuplicateObjects: false, lineWidth: 0 });

export function outputs(): Record<string, string> {
  const source = readSource();
  const out: Record<string, string> = {};
  for (const s of stores) {
    out[`${outputDir}/edge-${s.name}.yml`] =
      banner(
        `prometheus.yml for an edge host sending to ${s.title}; set ${hostNameVariable} per host and the URL to your store.`,
      ) + yaml(edgeConfig(s, source));
  }
  out[`${outputDir}/central-prometheus.yml`] =
    banner(
      "The central Prometheus; run with --web.enable-remote-write-receiver, mounted where prometheus.yml goes.",
    ) + yaml(centralConfig(source));
  return out;
}
