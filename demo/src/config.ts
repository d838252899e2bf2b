// The demo workload's configuration: environment variables only (with `*_FILE` variants for the two
// connection URLs, which may hold passwords), validated once at start by the machinery the exporter and
// the ops jobs use (lib/config/config.ts). The variables the three programs share are the rows of
// lib/config/shared.ts, spread into this table, so one .env means the same to all of them. A bad value
// stops the start with one line naming the variable. Only this module reads process.env.
import {
  ConfigError,
  Invalid,
  integer,
  list,
  number,
  oneOf,
  optional,
  parseVariables,
  pickSource,
  show,
  withDefault,
} from "../../lib/config/config.ts";
import { logLevel, shared } from "../../lib/config/shared.ts";

export { ConfigError } from "../../lib/config/config.ts";

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
  /** A DDL file to apply at start instead of the contract's (definitions/scans-ddl.ts); unset: that one. */
  readonly scansSqlFile: string | undefined;
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

function port(raw: string): number {
  if (!/^\d+$/.test(raw.trim()) || Number(raw) < 1 || Number(raw) > 65535)
    throw new Invalid(`${show(raw)} is not a TCP port (1-65535)`);
  return Number(raw);
}

export const variables = {
  // DATABASE_URL, REDIS_URL, SCANS_TABLE, SCANS_RETENTION_DAYS, SCAN_QUEUE_KEYS, REDIS_CACHE_PREFIX.
  ...shared,
  // The demo needs both stores (it is the application), so unlike the exporter and ops it gives them
  // defaults: the servers of `npm run demo` on this machine. Validation is the shared rows'.
  databaseUrl: withDefault({
    ...shared.databaseUrl,
    default: "postgres://postgres@127.0.0.1:5432/kali_agents",
  }),
  redisUrl: withDefault({ ...shared.redisUrl, default: "redis://127.0.0.1:6379/0" }),
  scansSqlFile: optional({
    env: "SCANS_SQL_FILE",
    description:
      "A DDL file the demo applies at start instead of the scans table's contract (definitions/scans-ddl.ts, also exporter/sql/scans.sql).",
    parse: (raw: string) => raw,
  }),
  listenHost: withDefault({
    env: "DEMO_LISTEN_HOST",
    default: "0.0.0.0",
    description: "Address the API and MCP-like servers listen on.",
    parse: (raw: string) => raw,
  }),
  apiPort: withDefault({ env: "DEMO_API_PORT", default: "8000", description: "API port.", parse: port }),
  mcpPorts: withDefault({
    env: "DEMO_MCP_PORTS",
    default: "8101,8102",
    description: "One MCP-like health server per port.",
    parse: (raw: string) => list(raw).map((p) => port(p)),
  }),
  logDir: withDefault({
    env: "DEMO_LOG_DIR",
    default: "logs",
    description: "Folder of the four log streams.",
    parse: (raw: string) => raw,
  }),
  logMaxBytes: withDefault({
    env: "DEMO_LOG_MAX_BYTES",
    default: String(10 * 1024 * 1024),
    description: "A log file is rotated at this size.",
    parse: integer({ min: 1024, max: 1024 ** 3 }),
  }),
  logMaxFiles: withDefault({
    env: "DEMO_LOG_MAX_FILES",
    default: "3",
    description: "Rotated files kept per stream.",
    parse: integer({ min: 0, max: 100 }),
  }),
  scanIntervalSeconds: withDefault({
    env: "DEMO_SCAN_INTERVAL_SECONDS",
    default: "5",
    description: "Mean seconds between two new scans.",
    parse: number({ min: 0.01, max: 3600 }),
  }),
  scanTimeScale: withDefault({
    env: "DEMO_SCAN_TIME_SCALE",
    default: "1",
    description: "Multiplies every tool's scan duration.",
    parse: number({ min: 0.0001, max: 100 }),
  }),
  maxRunningScans: withDefault({
    env: "DEMO_MAX_RUNNING_SCANS",
    default: "4",
    description: "Scans running at once at most.",
    parse: integer({ min: 1, max: 1000 }),
  }),
  failureRate: withDefault({
    env: "DEMO_FAILURE_RATE",
    default: "0.1",
    description: "Share of scans that fail.",
    parse: number({ min: 0, max: 1 }),
  }),
  cancelRate: withDefault({
    env: "DEMO_CANCEL_RATE",
    default: "0.03",
    description: "Share of scans that are cancelled.",
    parse: number({ min: 0, max: 1 }),
  }),
  trafficRps: withDefault({
    env: "DEMO_TRAFFIC_RPS",
    default: "5",
    description: "Simulated API requests per second (0: off).",
    parse: number({ min: 0, max: 1000 }),
  }),
  chaosMode: withDefault({
    env: "DEMO_CHAOS_MODE",
    default: "normal",
    description: "The chaos mode at start.",
    parse: oneOf(chaosModes),
  }),
  chaosDurationSeconds: withDefault({
    env: "DEMO_CHAOS_DURATION_SECONDS",
    default: "0",
    description: "How long the start-up chaos mode lasts (0: until changed through POST /chaos).",
    parse: number({ min: 0, max: 7 * 24 * 3600 }),
  }),
  startupTimeoutSeconds: withDefault({
    env: "DEMO_STARTUP_TIMEOUT_SECONDS",
    default: "60",
    description: "How long the demo waits for PostgreSQL and Redis at start.",
    parse: number({ min: 0, max: 3600 }),
  }),
  logLevel: logLevel("DEMO_LOG_LEVEL"),
} as const;

export function loadConfig(env: Readonly<Record<string, string | undefined>> = process.env): DemoConfig {
  const c = parseVariables(variables, (v) => pickSource(v, env, ""));
  if (new Set([c.apiPort, ...c.mcpPorts]).size !== c.mcpPorts.length + 1)
    throw new ConfigError("DEMO_API_PORT and DEMO_MCP_PORTS: every port must be different");
  if (c.failureRate + c.cancelRate > 1)
    throw new ConfigError("DEMO_FAILURE_RATE + DEMO_CANCEL_RATE: their sum must not exceed 1");
  return Object.freeze({
    databaseUrl: c.databaseUrl,
    redisUrl: c.redisUrl,
    scansTable: `${c.scansTable.schema}.${c.scansTable.table}`,
    scansSqlFile: c.scansSqlFile,
    queueKeys: Object.freeze([...c.scanQueueKeys]),
    cacheKeyPrefix: c.redisCachePrefix,
    listenHost: c.listenHost,
    apiPort: c.apiPort,
    mcpPorts: Object.freeze([...c.mcpPorts]),
    logDir: c.logDir,
    logMaxBytes: c.logMaxBytes,
    logMaxFiles: c.logMaxFiles,
    scanIntervalSeconds: c.scanIntervalSeconds,
    scanTimeScale: c.scanTimeScale,
    maxRunningScans: c.maxRunningScans,
    failureRate: c.failureRate,
    cancelRate: c.cancelRate,
    trafficRps: c.trafficRps,
    chaosMode: c.chaosMode,
    chaosDurationSeconds: c.chaosDurationSeconds,
    startupTimeoutSeconds: c.startupTimeoutSeconds,
    logLevel: c.logLevel,
  });
}
