// Wiring: read the command line (--help, --version; any other argument: exit 2), load the
// configuration (a bad value: one line on stderr, exit 1), build the exporter
// (build.ts: collectors, orchestrator, app), listen, and shut down cleanly on SIGTERM/SIGINT.
import type { AddressInfo } from "node:net";
import { createLogger } from "../../lib/log.ts";
import { buildExporter } from "./build.ts";
import { readCommandLine } from "./command-line.ts";
import { exporterVersion } from "./collectors/index.ts";
import { checkEnvironment, ConfigError, loadConfig, redactor, type Config } from "./config.ts";

/** How long in-flight requests may take to finish after a shutdown signal. */
const SHUTDOWN_GRACE_MS = 5_000;

const commandLine = readCommandLine(process.argv.slice(2));
if (commandLine.action === "print") {
  process.stdout.write(`${commandLine.text}\n`);
  process.exit(0);
}
if (commandLine.action === "refuse") {
  process.stderr.write(`kali-agents-exporter: ${commandLine.error}\n`);
  process.exit(2);
}

let config: Config;
try {
  config = loadConfig();
  checkEnvironment(config);
} catch (e) {
  if (!(e instanceof ConfigError)) throw e;
  process.stderr.write(`kali-agents-exporter: invalid configuration: ${e.message}\n`);
  process.exit(1);
}

const log = createLogger({ level: config.logLevel, redact: redactor(config), logger: "exporter" });
process.on("uncaughtException", (e) => {
  log.error("uncaught exception, exiting", { error: e, stack: e.stack });
  process.exit(1);
});
process.on("unhandledRejection", (e) => {
  log.error("unhandled promise rejection, exiting", { error: e });
  process.exit(1);
});

const { app, scraper, collectors } = buildExporter(config, log);

const { host, port } = config.listenAddress;
const server = app.listen(port, host);
server.on("error", (e) => {
  log.error("cannot listen", { address: `${host}:${port}`, error: e });
  process.exit(1);
});
server.on("listening", () => {
  const addr = server.address() as AddressInfo;
  log.info("listening", {
    address: `${addr.address}:${addr.port}`,
    version: exporterVersion,
    collectors: collectors.map((c) => c.name),
  });
  // The warm-up collection: /-/ready answers 200 once it has completed.
  void scraper.collect(Date.now() + config.scrapeTimeoutSeconds * 1000).then((r) =>
    log.info("first collection completed", {
      duration_seconds: (r.finishedAt - r.startedAt) / 1000,
      failed: Object.values(r.collectors)
        .filter((c) => !c.success)
        .map((c) => c.collector),
    }),
  );
});

let stopping = false;
function shutdown(signal: NodeJS.Signals): void {
  if (stopping) {
    log.warn("second signal, exiting now", { signal });
    process.exit(1);
  }
  stopping = true;
  log.info("shutting down", { signal });
  const force = setTimeout(() => {
    log.warn("requests still open after the grace period, closing them", { grace_ms: SHUTDOWN_GRACE_MS });
    server.closeAllConnections();
  }, SHUTDOWN_GRACE_MS);
  force.unref();
  server.close(() => {
    void scraper.close().then(() => {
      log.info("stopped");
      process.exit(0);
    });
  });
  // Idle keep-alive connections (Prometheus keeps one open) would hold close() for their timeout.
  server.closeIdleConnections();
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
