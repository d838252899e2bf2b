// The table of generators (see scripts/generate.ts). Add a row when an area gains generated files.
export interface Generator {
  outputs(): Promise<Record<string, string>> | Record<string, string>;
}

export const generators: Record<string, () => Promise<Generator>> = {
  "exporter configuration docs": () => import("../exporter/src/config-docs.ts"),
  "metrics catalogue docs": () => import("./docs/metrics.ts"),
  "prometheus rules": () => import("../prometheus/rules/src/index.ts"),
  "loki rules": () => import("../loki/rules/src/index.ts"),
  "log contract docs": () => import("../loki/rules/src/log-contract-doc.ts"),
  "alerting docs": () => import("./docs/alerting.ts"),
  dashboards: () => import("../dashboards/src/index.ts"),
  "dashboards docs": () => import("../dashboards/src/docs.ts"),
  "documentation coverage": () => import("./documentation-coverage.ts"),
  "python logging contract": () => import("../python/contract.ts"),
  "scans DDL for psql": () => import("./scans-sql.ts"),
  // After every rule and dashboard generator: these package their generated files.
  "remote_write configurations": () => import("../deploy/src/remote-write.ts"),
  "kubernetes objects": () => import("../deploy/src/kubernetes.ts"),
};
