// The demo workload's entry point: configuration, start, signals. Usage: npm run demo
// (environment variables in docs/getting-started.md and demo/README.md).
import { ConfigError, loadConfig } from "./config.ts";
import { startDemo } from "./demo.ts";
import { processLog } from "./logs.ts";

let config;
try {
  config = loadConfig();
} catch (e) {
  if (!(e instanceof ConfigError)) throw e;
  processLog("error", `configuration: ${e.message}`);
  process.exit(1);
}

let demo;
try {
  demo = await startDemo(config);
} catch (e) {
  processLog("error", `cannot start: ${(e as Error).message}`);
  process.exit(1);
}
processLog("info", "demo workload running", {
  api: demo.apiUrl,
  mcp: demo.mcpUrls,
  log_dir: config.logDir,
  chaos: demo.chaos.current().mode,
});

let stopping = false;
const shutdown = (signal: string) => {
  if (stopping) return;
  stopping = true;
  processLog("info", "stopping", { signal });
  // A shutdown that hangs (a dependency that never answers) must not keep the container alive.
  setTimeout(() => process.exit(1), 10_000).unref();
  demo.stop().then(
    () => process.exit(0),
    (e: Error) => {
      processLog("error", `stop failed: ${e.message}`);
      process.exit(1);
    },
  );
};
process.on("SIGTERM", () => shutdown("SIGTERM"));
process.on("SIGINT", () => shutdown("SIGINT"));
