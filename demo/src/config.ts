// The demo workload's configuration: environment variables only (with `*_FILE` variants for the two
// connection URLs, which may hold passwords), validated once at start. A bad value stops the start
// with one line naming the variable. Only this module reads process.env.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const chaosModes = [
  "normal",
  "error-burst",
  "slow",
  "stuck-scans",
  "unhealthy",
  "mcp-down",
  "brute-force",
] as const;
export type ChaosMode = (typeof chaosModes)[number];

export interface DemoConfig {
  readonly databaseUrl: string;
  readonly redisUrl: string;
  /** `table` or `schema.table`, as the exporter's SCANS_TABLE. */
  readonly scansTable: string;
  /** The DDL file the demo applies at start (the exporter's, so the schema is written once). */
  readonly scansSqlFile: string;
  /** Redis lists the demo pushes queued scan ids onto (the exporter's SCAN_QUEUE_KEYS). */
  readonly queueKeys: readonly string[];
  /** Prefix of the cache keys the API writes (the application's cache contract). */
  readonly cacheKeyPrefix: string;
  readonly listenHost: string;
  readonly apiPort: number;
  /** One MCP-like health server per port. */
  readonly mcpPorts: readonly number[];
  readonly logDir: string;
  readonly logMaxBytes: number;
  readonly logMaxFiles: number;
  /** Mean seconds between two new scans (exponentially distributed, like independent users). */
  readonly scanIntervalSeconds: number;
  /** Multiplies every tool's scan duration: 1 is realistic, 0.01 is a test. */
  readonly scanTimeScale: number;
  readonly maxRunningScans: number;
  readonly failureRate: number;
  readonly cancelRate: number;
  /** Simulated API requests per second (0 turns the internal traffic off). */
  readonly trafficRps: number;
  readonly chaosMode: ChaosMode;
  /** How long the start-up chaos mode lasts (0: until changed through POST /chaos). */
  readonly chaosDurationSeconds: number;
  /** How long the demo waits for PostgreSQL and Redis at start before giving up. */
  readonly startupTimeoutSeconds: number;
  readonly logLevel: "debug" | "info" | "warn" | "error";
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

type Env = Readonly<Record<string, string | undefined>>;

const defaultSqlFile = fileURLToPath(new URL("../../exporter/sql/scans.sql", import.meta.url));

function secret(env: Env, name: string, fallback: string): string {
  const file = env[`${name}_FILE`];
  if (file !== undefined && file !== "") {
    if (env[name] !== undefined && env[name] !== "") {
      throw new ConfigError(`${name} and ${name}_FILE are both set: set only one`);
    }
    try {
      return readFileSync(file, "utf8").trim();
    } catch (e) {
      throw new ConfigError(`${name}_FILE: cannot read ${file}: ${(e as Error).message}`);
    }
  }
  return env[name] || fallback;
}

function num(env: Env, name: string, fallback: number, min: number, max: number, integer = false): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min || n > max) {
    throw new ConfigError(
      `${name}=${JSON.stringify(raw)}: expected ${integer ? "an integer" : "a number"} from ${min} to ${max}`,
    );
  }
  return n;
}

const port = (env: Env, name: string, raw: string): number => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65535) {
    throw new ConfigError(`${name}: ${JSON.stringify(raw)} is not a TCP port (1-65535)`);
  }
  return n;
};

function url(name: string, value: string, protocols: readonly string[]): string {
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    // The value may hold a password: never echo it.
    throw new ConfigError(`${name} is not a URL`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(`${name}: expected a ${protocols.join(" or ")} URL, got ${parsed.protocol}`);
  }
  return value;
}

const identifier = /^[a-z_][a-z0-9_]*$/;

export function loadConfig(env: Env = process.env): DemoConfig {
  const databaseUrl = url(
    "DATABASE_URL",
    secret(env, "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/kali_agents"),
    ["postgres:", "postgresql:"],
  );
  const redisUrl = url("REDIS_URL", secret(env, "REDIS_URL", "redis://127.0.0.1:6379/0"), [
    "redis:",
    "rediss:",
  ]);

  const scansTable = env.SCANS_TABLE || "public.scans";
  const parts = scansTable.split(".");
  if (parts.length > 2 || !parts.every((p) => identifier.test(p))) {
    throw new ConfigError(
      `SCANS_TABLE=${JSON.stringify(scansTable)}: expected table or schema.table in lower-case letters, digits and _`,
    );
  }

  const queueKeys = (env.SCAN_QUEUE_KEYS || "kali:scans:queue")
    .split(",")
    .map((k) => k.trim())
    .filter((k) => k !== "");
  if (queueKeys.length === 0) throw new ConfigError("SCAN_QUEUE_KEYS: no key given");

  const mcpPorts = (env.DEMO_MCP_PORTS || "8101,8102")
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p !== "")
    .map((p) => port(env, "DEMO_MCP_PORTS", p));
  const apiPort = port(env, "DEMO_API_PORT", env.DEMO_API_PORT || "8000");
  if (new Set([apiPort, ...mcpPorts]).size !== mcpPorts.length + 1) {
    throw new ConfigError("DEMO_API_PORT and DEMO_MCP_PORTS: every port must be different");
  }

  const chaosMode = (env.DEMO_CHAOS_MODE || "normal") as ChaosMode;
  if (!chaosModes.includes(chaosMode)) {
    throw new ConfigError(
      `DEMO_CHAOS_MODE=${JSON.stringify(chaosMode)}: expected one of ${chaosModes.join(", ")}`,
    );
  }

  const logLevel = (env.DEMO_LOG_LEVEL || "info") as DemoConfig["logLevel"];
  if (!["debug", "info", "warn", "error"].includes(logLevel)) {
    throw new ConfigError(`DEMO_LOG_LEVEL=${JSON.stringify(logLevel)}: expected debug, info, warn or error`);
  }

  const failureRate = num(env, "DEMO_FAILURE_RATE", 0.1, 0, 1);
  const cancelRate = num(env, "DEMO_CANCEL_RATE", 0.03, 0, 1);
  if (failureRate + cancelRate > 1) {
    throw new ConfigError("DEMO_FAILURE_RATE + DEMO_CANCEL_RATE: their sum must not exceed 1");
  }

  return Object.freeze({
    databaseUrl,
    redisUrl,
    scansTable,
    scansSqlFile: env.SCANS_SQL_FILE || defaultSqlFile,
    queueKeys: Object.freeze(queueKeys),
    cacheKeyPrefix: env.REDIS_CACHE_PREFIX || "kali:cache:",
    listenHost: env.DEMO_LISTEN_HOST || "0.0.0.0",
    apiPort,
    mcpPorts: Object.freeze(mcpPorts),
    logDir: env.DEMO_LOG_DIR || "logs",
    logMaxBytes: num(env, "DEMO_LOG_MAX_BYTES", 10 * 1024 * 1024, 1024, 1024 ** 3, true),
    logMaxFiles: num(env, "DEMO_LOG_MAX_FILES", 3, 0, 100, true),
    scanIntervalSeconds: num(env, "DEMO_SCAN_INTERVAL_SECONDS", 5, 0.01, 3600),
    scanTimeScale: num(env, "DEMO_SCAN_TIME_SCALE", 1, 0.0001, 100),
    maxRunningScans: num(env, "DEMO_MAX_RUNNING_SCANS", 4, 1, 1000, true),
    failureRate,
    cancelRate,
    trafficRps: num(env, "DEMO_TRAFFIC_RPS", 5, 0, 1000),
    chaosMode,
    chaosDurationSeconds: num(env, "DEMO_CHAOS_DURATION_SECONDS", 0, 0, 7 * 24 * 3600),
    startupTimeoutSeconds: num(env, "DEMO_STARTUP_TIMEOUT_SECONDS", 60, 0, 3600),
    logLevel,
  });
}

/** The URL with its password replaced, for log lines and errors. */
export function redactUrl(value: string): string {
  try {
    const u = new URL(value);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(invalid URL)";
  }
}
