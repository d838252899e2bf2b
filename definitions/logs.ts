// The log contract with the application, written once: the four streams, the labels the agents attach,
// the level words, the loggers and the events. The demo writes its lines from it, the Loki rules and the
// dashboards build their LogQL from it, docs/operations/log-contract.md is generated from it, and
// loki/test/demo-logs.test.ts runs the demo and checks every LogQL query the repository ships (rules,
// panels, runbooks, logging.md) against the lines it really writes.

/** Log streams (the seed's four files), their `stream` label and retention. */
export const logStreams = {
  app: {
    file: "app.log",
    retentionDays: 30,
    holds: "everything the application logs, every request",
  },
  security: {
    file: "security.log",
    retentionDays: 365,
    holds: "authentication and authorisation events",
  },
  audit: {
    file: "audit.log",
    retentionDays: 365,
    holds: "who changed what: scans started and cancelled, settings",
  },
  errors: {
    file: "errors.log",
    retentionDays: 90,
    holds: "a copy of every line at level error and above, whatever its stream",
  },
} as const;
export type LogStream = keyof typeof logStreams;

/**
 * Log labels: what Promtail (and the Alloy equivalent) attach to every line. Anything unbounded (user,
 * ip, scan id, event) stays in the line, never in a label. Dashboards and LogQL rules may select on these
 * only.
 */
export const logs = {
  /** `job` of the application's four log files. */
  appJob: "kali-agents",
  /** `job` of container logs from Docker service discovery. */
  containerJob: "containers",
  labels: ["job", "stream", "level", "logger", "host", "service", "container", "filename"],
} as const;

/** The level words the application (and our own services) write, lower-case. */
export const logLevels = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof logLevels)[number];

/**
 * Regular expressions for a `level` matcher. Our services write `warn`; PostgreSQL, Python's logging and
 * others write `warning`, `critical` or `fatal` (the agents lower-case the level but keep the word), so a
 * query takes every spelling.
 */
export const levelRegex = {
  errorOrWorse: "error|critical|fatal",
  warnOrWorse: "warn|warning|error|critical|fatal",
} as const;

/** `logger` field values the application writes, by component. */
export const loggers = {
  api: "kali_agents.api",
  scans: "kali_agents.scans",
  db: "kali_agents.db",
  cache: "kali_agents.cache",
  security: "kali_agents.security",
  audit: "kali_agents.audit",
  /** The demo workload's own start and stop lines. */
  demo: "kali_agents.demo",
} as const;

export interface LogEventContract {
  /** The `event` field's value. */
  readonly name: string;
  readonly stream: "security" | "audit";
  readonly level: LogLevel;
  /** Fields the line carries besides time, level, msg, logger and event. */
  readonly fields: readonly string[];
  readonly meaning: string;
}

/**
 * The `event` values the application writes on the security and audit streams. Log-based alerts and
 * panels match these names; the demo writes every one of them (a test proves it).
 */
export const logEvents = {
  loginFailed: {
    name: "login_failed",
    stream: "security",
    level: "warn",
    fields: ["user", "ip"],
    meaning: "a login refused (wrong password, unknown user): SecurityAuthFailureSpike counts these",
  },
  loginSucceeded: {
    name: "login_success",
    stream: "security",
    level: "info",
    fields: ["user", "ip"],
    meaning: "a login accepted",
  },
  accessDenied: {
    name: "access_denied",
    stream: "security",
    level: "warn",
    fields: ["user", "ip"],
    meaning: "an authenticated user refused an action (e.g. cancelling a scan without the role)",
  },
  scanCreated: {
    name: "scan_created",
    stream: "audit",
    level: "info",
    fields: ["user", "scan_id", "tool", "target"],
    meaning: "a scan queued, by whom, of what",
  },
  scanCancelled: {
    name: "scan_cancelled",
    stream: "audit",
    level: "info",
    fields: ["user", "scan_id"],
    meaning: "a queued or running scan cancelled",
  },
  settingChanged: {
    name: "setting_changed",
    stream: "audit",
    level: "info",
    fields: ["user", "setting", "value"],
    meaning: "a setting changed (the demo: its chaos mode)",
  },
} as const satisfies Record<string, LogEventContract>;

/**
 * The LogQL pipeline that keeps one event's lines: a line filter first (it skips most lines before the
 * JSON parser runs), then the exact field match. Append it to the event's stream selector.
 */
export const eventPipeline = (event: LogEventContract): string =>
  `|= ${JSON.stringify(event.name)} | json | event=${JSON.stringify(event.name)}`;
