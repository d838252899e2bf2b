// The one door for configuration: the only module that reads process.env (postgres_exporter's
// config.Validate() returning a ValidatedConfig plays this part there). Everything the exporter can be
// told is one row of `variables` below: its environment name, default, description, whether it is a
// secret, and the parser that validates it. docs/configuration.md is generated from the same rows
// (scripts/docs/configuration.ts), so the documentation cannot drift from the code.
//
// Sources, highest priority first: the environment variable, its `*_FILE` variant (the value is the
// content of the named file, for Docker/Kubernetes secrets), then the same two keys in the optional
// YAML file named by EXPORTER_CONFIG_FILE, then the default. An empty environment variable counts as
// unset, because compose files commonly write `DATABASE_URL=` to mean "not configured". These rules,
// shared with the ops jobs and the demo, are in lib/config/config.ts, and the rows of the variables
// they share are in lib/config/shared.ts; this module keeps the exporter's table.
import { accessSync, constants, readFileSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { parse as parseYaml } from "yaml";
import { collectorNames, type CollectorName } from "../../definitions/metrics/metric.ts";
import { thresholds } from "../../definitions/thresholds.ts";
import {
  absolutePath,
  ConfigError,
  integer,
  Invalid,
  list,
  number,
  optional,
  parseVariables,
  pickSource,
  show,
  url,
  withDefault,
  type ConfigOf,
  type Variable,
} from "../../lib/config/config.ts";
import { logLevel, shared } from "../../lib/config/shared.ts";
import { secretRedactor, urlPasswords, urlQueryValues } from "../../lib/redact.ts";

export { ConfigError } from "../../lib/config/config.ts";
export { REDACTED } from "../../lib/redact.ts";
export type { TableName } from "../../lib/config/config.ts";

// ---- the exporter's own parsers (the shared ones are in lib/config/config.ts) ----

// Every number is bounded where a value is meaningless: a timeout of 0.0000001 s fails every scrape,
// one of 3,000,000 s overflows Node.js' timers (which then fire at once). A value outside is refused at
// start with one line naming the variable and the bounds.
/** A timeout: from 10 ms (less is always missed) to `max` seconds. */
const timeout = (max: number) => number({ min: 0.01, max });
const percent = number({ min: 0, minExclusive: true, max: 100 });

function boolean(raw: string): boolean {
  if (raw === "true") return true;
  if (raw === "false") return false;
  throw new Invalid(`${show(raw)} is not true or false`);
}

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}
// Hand-written on purpose: Go's net.SplitHostPort convention (what Prometheus' exporters take for
// --web.listen-address), which nothing in Node.js parses. Checked against the WHATWG URL parser
// (`new URL("http://" + raw)`): it throws on ":9839" (all interfaces, no host) and silently takes
// "a@b:1/x" as host b, port 1, with a user and a path that a listen address must not have.
function listenAddress(raw: string): ListenAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):([^:]*)$/.exec(raw);
  if (!m) throw new Invalid(`${show(raw)} is not host:port (e.g. 0.0.0.0:9839, [::]:9839, :9839)`);
  const host = m[1] ?? m[2] ?? "";
  const portText = m[3] ?? "";
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535)
    throw new Invalid(`port ${show(portText)} is not an integer from 0 to 65535`);
  return { host: host === "" ? "0.0.0.0" : host, port: Number(portText) };
}

/** The collectors EXPORTER_COLLECTORS_DISABLED may name: all but the exporter's own metrics. */
const disableable: readonly CollectorName[] = collectorNames.filter((c) => c !== "exporter");

function collectorList(raw: string): CollectorName[] {
  const names = list(raw);
  for (const n of names) {
    if (n === "exporter")
      throw new Invalid(`the exporter collector (the exporter's own metrics) cannot be disabled`);
    if (!(disableable as readonly string[]).includes(n))
      throw new Invalid(`${show(n)} is not a collector (one of ${disableable.join(", ")})`);
  }
  return names as CollectorName[];
}

export interface ProbeTarget {
  /** The `target` label: the given name, else host:port of the URL. */
  readonly name: string;
  readonly url: string;
  readonly kind: "http" | "tcp";
}
function probeTargets(raw: string): ProbeTarget[] {
  const targets: ProbeTarget[] = [];
  for (const item of list(raw)) {
    const eq = item.indexOf("=");
    const hasName = eq > 0 && !item.slice(0, eq).includes("/");
    const given = hasName ? item.slice(0, eq).trim() : undefined;
    const address = hasName ? item.slice(eq + 1).trim() : item;
    if (given !== undefined && !/^[A-Za-z0-9_.-]+$/.test(given))
      throw new Invalid(`name ${show(given)} may only contain letters, digits, "_", "." and "-"`);
    let u: URL | undefined;
    try {
      u = new URL(address);
    } catch {
      u = undefined;
    }
    if (!u || !["http:", "https:", "tcp:"].includes(u.protocol))
      throw new Invalid(`${show(address)} is not an http://, https:// or tcp://host:port URL`);
    if (u.protocol === "tcp:" && (!u.hostname || !u.port))
      throw new Invalid(`${show(address)} is not tcp://host:port (a TCP probe needs a port)`);
    const name = given ?? u.host;
    if (targets.some((t) => t.name === name))
      throw new Invalid(`target name ${show(name)} appears twice (give each a distinct name=url)`);
    targets.push({ name, url: address, kind: u.protocol === "tcp:" ? "tcp" : "http" });
  }
  return targets;
}

// ---- the variables ----

export const variables = {
  listenAddress: withDefault({
    env: "EXPORTER_LISTEN_ADDRESS",
    default: "0.0.0.0:9839",
    description:
      "Address the HTTP server listens on, `host:port` (`[::]:9839` for IPv6, `:9839` for all interfaces). The port stays fixed because Prometheus' `instance` label (and so every series) includes it.",
    parse: listenAddress,
  }),
  configFile: optional({
    env: "EXPORTER_CONFIG_FILE",
    description:
      "Optional YAML file: a mapping from these variable names to values (a list is allowed where a comma-separated list is). Environment variables win over it. Read once at start.",
    envOnly: true,
    parse: absolutePath,
  }),
  logLevel: logLevel("EXPORTER_LOG_LEVEL"),
  scrapeTimeoutSeconds: withDefault({
    env: "EXPORTER_SCRAPE_TIMEOUT_SECONDS",
    default: "10",
    description:
      "The collectors' deadline in every collection, 0.5 to 300 s. A client's `X-Prometheus-Scrape-Timeout-Seconds` header (less the margin) shortens only that client's wait for the answer (never below 0.25 s), not the collection: what has not settled by then is reported in that answer with `kali_agents_exporter_collector_success` 0.",
    parse: number({ min: 0.5, max: 300 }),
  }),
  scrapeTimeoutMarginSeconds: withDefault({
    env: "EXPORTER_SCRAPE_TIMEOUT_MARGIN_SECONDS",
    default: "0.5",
    description:
      "Subtracted from Prometheus' scrape timeout so that the answer (and its transfer) arrive before Prometheus gives up; 0 to 10 s.",
    parse: number({ min: 0, max: 10 }),
  }),
  minCollectionIntervalSeconds: withDefault({
    env: "EXPORTER_MIN_COLLECTION_INTERVAL_SECONDS",
    default: "1",
    description:
      "A collection that finished less than this ago (0 to 60 s) is answered again instead of running another: a client scraping back to back costs no more PostgreSQL, Redis and probe requests than one a second. 0: every scrape collects.",
    parse: number({ min: 0, max: 60 }),
  }),
  maxInFlightRequests: withDefault({
    env: "EXPORTER_MAX_IN_FLIGHT_REQUESTS",
    default: "1024",
    description:
      "HTTP requests handled at once (1 to 10000); beyond, the answer is 503 with `Retry-After: 1` and `kali_agents_exporter_requests_rejected_total` counts it. Requests pipelined on one connection are handled one after the other.",
    parse: integer({ min: 1, max: 10_000 }),
  }),
  healthDetails: withDefault({
    env: "EXPORTER_HEALTH_DETAILS",
    default: "false",
    description:
      "`true`: `/health` shows each check's strings (targets, hosts, error messages, the MCP servers by name). `false`: statuses and figures only, since anyone who can reach the port can read it.",
    parse: boolean,
  }),
  collectorsDisabled: withDefault({
    env: "EXPORTER_COLLECTORS_DISABLED",
    default: "",
    description: `Comma-separated collectors to turn off: ${disableable.map((c) => `\`${c}\``).join(", ")}.`,
    parse: (raw: string) => (raw === "" ? [] : collectorList(raw)),
  }),
  hostRoot: withDefault({
    env: "EXPORTER_HOST_ROOT",
    default: "/",
    description:
      "Where the host's root filesystem is mounted: `/proc`, `/sys` and mount points are read under it (e.g. `/host` in a container with `/:/host:ro`). Checked at start (unless the host collector is disabled): `<root>/proc/meminfo` must be readable.",
    parse: absolutePath,
  }),
  textfileDir: optional({
    env: "EXPORTER_TEXTFILE_DIR",
    description:
      "Directory of `*.prom` files (node_exporter's textfile format) to publish, e.g. the ops jobs' results. Unset: the textfile collector is off.",
    parse: absolutePath,
  }),
  textfileMaxBytes: withDefault({
    env: "EXPORTER_TEXTFILE_MAX_BYTES",
    default: String(1024 * 1024),
    description:
      'Largest `*.prom` file read (1024 to 268435456 bytes); a larger one is skipped without being read (`kali_agents_exporter_textfile_skipped{reason="too_large"}`).',
    parse: integer({ min: 1024, max: 256 * 1024 * 1024 }),
  }),
  textfileMaxSeries: withDefault({
    env: "EXPORTER_TEXTFILE_MAX_SERIES",
    default: "10000",
    description:
      'Most series published from all `*.prom` files together (1 to 1000000); a file that would pass it is skipped whole (`reason="too_many_series"`), the files before it still publish.',
    parse: integer({ min: 1, max: 1_000_000 }),
  }),
  // DATABASE_URL, REDIS_URL, SCANS_TABLE, SCANS_RETENTION_DAYS, SCAN_QUEUE_KEYS, REDIS_CACHE_PREFIX.
  ...shared,
  pgConnectTimeoutSeconds: withDefault({
    env: "EXPORTER_PG_CONNECT_TIMEOUT_SECONDS",
    default: "2",
    description: "Timeout for opening a PostgreSQL connection, 0.01 to 300 s.",
    parse: timeout(300),
  }),
  pgStatementTimeoutSeconds: withDefault({
    env: "EXPORTER_PG_STATEMENT_TIMEOUT_SECONDS",
    default: "3",
    description: "`statement_timeout` of the exporter's PostgreSQL sessions, 0.01 to 300 s.",
    parse: timeout(300),
  }),
  pgLockTimeoutSeconds: withDefault({
    env: "EXPORTER_PG_LOCK_TIMEOUT_SECONDS",
    default: "1",
    description: "`lock_timeout` of the exporter's PostgreSQL sessions, 0.01 to 300 s.",
    parse: timeout(300),
  }),
  pgDatabaseSizeIntervalSeconds: withDefault({
    env: "EXPORTER_PG_DATABASE_SIZE_INTERVAL_SECONDS",
    default: "300",
    description:
      "How often `pg_database_size()` is recomputed (it walks the data directory), 0 to 86400 s; between runs the last figure is published. 0: every collection.",
    parse: number({ min: 0, max: 86_400 }),
  }),
  scansMaxTools: withDefault({
    env: "EXPORTER_SCANS_MAX_TOOLS",
    default: "100",
    description:
      'Most distinct `tool` label values the scans metrics publish (1 to 10000): the tools with the most scans keep their name (once named, a tool stays named until the exporter restarts, so counters stay monotonic), the others are counted under `tool="other"`, and `kali_agents_scan_tools_folded` says how many.',
    parse: integer({ min: 1, max: 10_000 }),
  }),
  redisConnectTimeoutSeconds: withDefault({
    env: "EXPORTER_REDIS_CONNECT_TIMEOUT_SECONDS",
    default: "1",
    description: "Timeout for connecting to Redis, 0.01 to 60 s.",
    parse: timeout(60),
  }),
  redisCommandTimeoutSeconds: withDefault({
    env: "EXPORTER_REDIS_COMMAND_TIMEOUT_SECONDS",
    default: "1",
    description: "Timeout of each Redis command, 0.01 to 60 s.",
    parse: timeout(60),
  }),
  apiHealthUrl: optional({
    env: "API_HEALTH_URL",
    description:
      "The Kali Agents API's health URL, probed with an HTTP(S) GET (credentials in the URL are sent as Basic authorization). Unset: not probed.",
    file: true,
    parse: url(["http:", "https:"], false),
  }),
  mcpServers: withDefault({
    env: "MCP_SERVERS",
    default: "",
    description:
      "Comma-separated MCP servers to probe: `http(s)://host:port/path` or `tcp://host:port`, each optionally `name=url` (the `target` label; default `host:port`).",
    file: true,
    parse: (raw: string) => (raw === "" ? [] : probeTargets(raw)),
  }),
  probeTimeoutSeconds: withDefault({
    env: "EXPORTER_PROBE_TIMEOUT_SECONDS",
    default: "2",
    description: "Timeout of each HTTP or TCP probe, 0.01 to 60 s.",
    parse: timeout(60),
  }),
  healthDiskWarnPercent: withDefault({
    env: "HEALTH_DISK_WARN_PERCENT",
    default: String(thresholds.health.diskWarnPercent),
    description: "`/health`: a filesystem used above this percentage is a warning.",
    parse: percent,
  }),
  healthMemoryWarnPercent: withDefault({
    env: "HEALTH_MEMORY_WARN_PERCENT",
    default: String(thresholds.health.memoryWarnPercent),
    description: "`/health`: memory used (MemTotal - MemAvailable) above this percentage is a warning.",
    parse: percent,
  }),
  healthCpuWarnPercent: withDefault({
    env: "HEALTH_CPU_WARN_PERCENT",
    default: String(thresholds.health.cpuWarnPercent),
    description: "`/health`: CPU busy above this percentage (between two collections) is a warning.",
    parse: percent,
  }),
} as const;

/** The validated, frozen configuration. */
export type Config = ConfigOf<typeof variables>;

function loadYaml(path: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError(`EXPORTER_CONFIG_FILE: cannot read ${path}: ${(e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    // The yaml package's message is the reason, " at line L, column C:", then a drawing of the spot.
    const first = ((e as Error).message.split("\n")[0] ?? "").replace(/:$/, "");
    throw new ConfigError(`EXPORTER_CONFIG_FILE: ${path} is not valid YAML: ${first}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== "object" || Array.isArray(doc))
    throw new ConfigError(`EXPORTER_CONFIG_FILE: ${path} must be a mapping of variable names to values`);
  const known = new Map<string, Variable<unknown>>();
  for (const v of Object.values(variables) as Variable<unknown>[]) {
    if (v.envOnly) continue;
    known.set(v.env, v);
    if (v.file) known.set(`${v.env}_FILE`, v);
  }
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(doc as Record<string, unknown>)) {
    if (!known.has(key))
      throw new ConfigError(`EXPORTER_CONFIG_FILE: ${path}: unknown variable ${JSON.stringify(key)}`);
    if (value === null) continue;
    if (typeof value === "string" || typeof value === "number" || typeof value === "boolean")
      out[key] = String(value);
    else if (Array.isArray(value) && value.every((x) => typeof x === "string" || typeof x === "number"))
      out[key] = value.join(",");
    else
      throw new ConfigError(
        `EXPORTER_CONFIG_FILE: ${path}: ${key} must be a string, a number, a boolean or a list of strings`,
      );
  }
  return out;
}

/**
 * Validates the configuration from `env` (process.env by default) and the YAML file it names.
 * Throws ConfigError (one line: the variable and the reason) at the first bad value.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const configFile = env.EXPORTER_CONFIG_FILE || undefined;
  if (configFile !== undefined && !isAbsolute(configFile))
    throw new ConfigError(`EXPORTER_CONFIG_FILE: ${JSON.stringify(configFile)} is not an absolute path`);
  const file = configFile ? loadYaml(configFile) : {};
  return parseVariables(
    variables,
    (v) =>
      pickSource(v, env, "") ??
      (configFile && !v.envOnly ? pickSource(v, file, ` in ${configFile}`) : undefined),
    deepFreeze,
  );
}

/**
 * What loadConfig() cannot see from the values alone, checked once at start (main.ts): the host
 * collector reads `<EXPORTER_HOST_ROOT>/proc/meminfo`; a root without it would fail every collection
 * for good. Throws ConfigError (one line).
 */
export function checkEnvironment(config: Config): void {
  if (config.collectorsDisabled.includes("host")) return;
  const meminfo = join(config.hostRoot, "proc/meminfo");
  try {
    accessSync(meminfo, constants.R_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? "unreadable";
    throw new ConfigError(
      `EXPORTER_HOST_ROOT: ${JSON.stringify(config.hostRoot)} has no readable proc/meminfo (${code}): mount the host's root there (e.g. /:/host:ro) or disable the host collector`,
    );
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object") {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * A function replacing every secret of `config` in a text: the whole value of each secret variable,
 * the password of every URL in the configuration, in their plain and JSON-escaped forms, and the
 * password part of any URL written in the text (`scheme://user:password@` keeps the user).
 */
export function redactor(config: Config): (text: string) => string {
  const secrets = new Set<string>();
  for (const [key, v] of Object.entries(variables) as [keyof Config, Variable<unknown>][]) {
    const value = config[key];
    const texts =
      typeof value === "string"
        ? [value]
        : Array.isArray(value)
          ? value.map((x) => (typeof x === "object" && x && "url" in x ? String(x.url) : String(x)))
          : [];
    for (const t of texts) {
      if (v.secret) secrets.add(t);
      for (const p of [...urlPasswords(t), ...urlQueryValues(t)]) secrets.add(p);
    }
  }
  return secretRedactor(secrets);
}
