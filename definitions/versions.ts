// Every upstream version the stack pins, in one place: compose's image tags (and the defaults in
// .env.example), the Go modules under tools/upstream/ that build the binaries the tests run, the
// PostgreSQL client major of the ops image, and the versions the docs name. test/versions.test.ts fails
// when any of those disagrees with this file, so an update is one edit here plus the files it names.
//
// Pin only versions for which there is public evidence that they exist (a release, an image tag).

/** A Go command built from its module by tools/upstream/<dir>/go.mod. */
export interface GoCommand {
  /** The binary's name, as the harness and `npm run -s upstream -- versions` call it. */
  readonly name: string;
  /** Its package path (the `tool` directive in the module's go.mod). */
  readonly pkg: string;
}

export interface GoBuild {
  /** The folder of the tools module, relative to the repository root. */
  readonly dir: string;
  /** The upstream module and its module version (Prometheus 3.x is published as v0.3XX.Y). */
  readonly module: string;
  readonly moduleVersion: string;
  readonly commands: readonly GoCommand[];
  /**
   * The Go package whose variables `-ldflags -X` sets so that `--version` and `*_build_info` report
   * the release (the upstream Makefiles do the same through promu).
   */
  readonly versionPackage: string;
  /**
   * A file the module's source embeds but its module zip lacks (a web UI's built assets): the build
   * writes a placeholder there in a copy of the module (test/support/upstream.ts).
   */
  readonly placeholderAsset?: string;
  /**
   * When the module keeps its version in one variable set to the tag (Compose's internal.Version, set
   * to `v<version>` by its Makefile) rather than in prometheus/common's package: that variable.
   */
  readonly versionVariable?: string;
}

export interface Upstream {
  /** The release, as its project names it (no leading v). */
  readonly version: string;
  /** The compose image (repository and tag) when compose runs it. */
  readonly image?: { readonly repository: string; readonly tag: string; readonly variable: string };
  /** The Go build, for what the tests or the benchmark run as real processes. */
  readonly go?: GoBuild;
}

const promCommon = "github.com/prometheus/common/version";

export const upstream = {
  prometheus: {
    version: "3.14.0",
    image: { repository: "prom/prometheus", tag: "v3.14.0", variable: "PROMETHEUS_IMAGE" },
    go: {
      dir: "tools/upstream/prometheus",
      module: "github.com/prometheus/prometheus",
      moduleVersion: "v0.314.0",
      commands: [
        { name: "prometheus", pkg: "github.com/prometheus/prometheus/cmd/prometheus" },
        { name: "promtool", pkg: "github.com/prometheus/prometheus/cmd/promtool" },
      ],
      versionPackage: promCommon,
    },
  },
  alertmanager: {
    version: "0.33.0",
    image: { repository: "prom/alertmanager", tag: "v0.33.0", variable: "ALERTMANAGER_IMAGE" },
    go: {
      dir: "tools/upstream/alertmanager",
      module: "github.com/prometheus/alertmanager",
      moduleVersion: "v0.33.0",
      commands: [
        { name: "alertmanager", pkg: "github.com/prometheus/alertmanager/cmd/alertmanager" },
        { name: "amtool", pkg: "github.com/prometheus/alertmanager/cmd/amtool" },
      ],
      versionPackage: promCommon,
      // ui/web.go embeds app/dist, which Alertmanager's release builds with npm; the tests need no UI.
      placeholderAsset: "ui/app/dist/index.html",
    },
  },
  loki: {
    version: "3.7.6",
    image: { repository: "grafana/loki", tag: "3.7.6", variable: "LOKI_IMAGE" },
  },
  promtail: {
    version: "3.6.11",
    image: { repository: "grafana/promtail", tag: "3.6.11", variable: "PROMTAIL_IMAGE" },
  },
  grafana: {
    version: "12.4.2",
    image: { repository: "grafana/grafana", tag: "12.4.2", variable: "GRAFANA_IMAGE" },
  },
  alloy: {
    version: "1.18.1",
    image: { repository: "grafana/alloy", tag: "v1.18.1", variable: "ALLOY_IMAGE" },
  },
  /** The demo profile's server; users bring their own (the tests run every supported major). */
  postgres: {
    version: "16.15",
    image: { repository: "postgres", tag: "16.15", variable: "POSTGRES_IMAGE" },
  },
  redis: {
    version: "7.4.11",
    image: { repository: "redis", tag: "7.4.11-alpine", variable: "REDIS_IMAGE" },
  },
  /** The runtime of the exporter, ops and demo images (their Dockerfiles' NODE_IMAGE). */
  node: {
    version: "24.20.0",
    image: { repository: "node", tag: "24.20.0-trixie-slim", variable: "NODE_IMAGE" },
  },
  // The Go exporters `npm run bench` compares ours with, built like Prometheus from their modules.
  node_exporter: {
    version: "1.12.1",
    go: {
      dir: "tools/upstream/node_exporter",
      module: "github.com/prometheus/node_exporter",
      moduleVersion: "v1.12.1",
      commands: [{ name: "node_exporter", pkg: "github.com/prometheus/node_exporter" }],
      versionPackage: promCommon,
    },
  },
  postgres_exporter: {
    version: "0.19.1",
    go: {
      dir: "tools/upstream/postgres_exporter",
      module: "github.com/prometheus-community/postgres_exporter",
      moduleVersion: "v0.19.1",
      commands: [
        {
          name: "postgres_exporter",
          pkg: "github.com/prometheus-community/postgres_exporter/cmd/postgres_exporter",
        },
      ],
      versionPackage: promCommon,
    },
  },
  redis_exporter: {
    version: "1.88.0",
    go: {
      dir: "tools/upstream/redis_exporter",
      module: "github.com/oliver006/redis_exporter",
      moduleVersion: "v1.88.0",
      commands: [{ name: "redis_exporter", pkg: "github.com/oliver006/redis_exporter" }],
      // redis_exporter keeps its version in its main package, not in prometheus/common.
      versionPackage: "main",
    },
  },
  /**
   * The Docker Compose CLI plugin (`docker compose`) that runs compose.yaml in the image tests: Debian's
   * docker.io has none, so scripts/test.sh builds it here and installs it in ~/.docker/cli-plugins.
   */
  compose: {
    version: "5.6.0",
    go: {
      dir: "tools/upstream/compose",
      module: "github.com/docker/compose/v5",
      moduleVersion: "v5.6.0",
      commands: [{ name: "docker-compose", pkg: "github.com/docker/compose/v5/cmd" }],
      versionPackage: "github.com/docker/compose/v5/internal",
      versionVariable: "github.com/docker/compose/v5/internal.Version",
    },
  },
} as const satisfies Record<string, Upstream>;

export type UpstreamName = keyof typeof upstream;

/** The PostgreSQL client major the ops image installs (ops/Dockerfile's PG_MAJOR): the demo server's. */
export const opsClientPgMajor = upstream.postgres.version.split(".")[0]!;
