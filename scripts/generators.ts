// The table of generators (see scripts/generate.ts). Add a row when an area gains generated files.
export interface Generator {
  outputs(): Promise<Record<string, string>> | Record<string, string>;
}

const writers: Record<string, () => Promise<Generator>> = {
  "exporter configuration docs": () => import("./docs/configuration.ts"),
  "metrics catalogue docs": () => import("./docs/metrics.ts"),
  "prometheus rules": () => import("../prometheus/rules/src/index.ts"),
  "loki rules": () => import("../loki/rules/src/index.ts"),
  "log contract docs": () => import("./docs/log-contract.ts"),
  "alerting docs": () => import("./docs/alerting.ts"),
  dashboards: () => import("../dashboards/src/index.ts"),
  "dashboards docs": () => import("./docs/dashboards.ts"),
  "documentation coverage": () => import("./documentation-coverage.ts"),
  "python logging contract": () => import("../python/contract.ts"),
  "scans DDL for psql": () => import("./scans-sql.ts"),
  // After every rule and dashboard generator: these package their generated files.
  "remote_write configurations": () => import("../deploy/src/remote-write.ts"),
  "remote_write README": () => import("./docs/remote-write.ts"),
  "kubernetes objects": () => import("../deploy/src/kubernetes.ts"),
  "kubernetes README": () => import("./docs/kubernetes.ts"),
};

export const generators: Record<string, () => Promise<Generator>> = {
  ...writers,
  // Last: lists every file the rows above write whole.
  gitattributes: async () => (await import("./gitattributes.ts")).gitattributesOf(writers),
};
