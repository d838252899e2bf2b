// The ops jobs' one door for configuration: the only ops module that reads process.env. The same
// approach as the exporter's configuration: one row per variable with its default, its
// description and the parser that validates it; `*_FILE` variants for secrets (Docker secrets); an
// empty variable counts as unset; a bad value is one line naming the variable. The shared names
// (DATABASE_URL, REDIS_URL, SCANS_TABLE, SCANS_RETENTION_DAYS, REDIS_CACHE_PREFIX, SCAN_QUEUE_KEYS)
// are the rows of lib/config/shared.ts, so one .env means the same to the exporter, ops and the demo.
// The machinery itself is shared with them, in lib/config/config.ts.
import {
  absolutePath,
  ConfigError,
  integer,
  Invalid,
  optional,
  parseVariables,
  pickSource,
  show,
  url,
  withDefault,
  type ConfigOf,
  type Variable,
  list,
} from "../../lib/config/config.ts";
import { logLevel, shared } from "../../lib/config/shared.ts";
import { secretRedactor, urlPasswords, urlQueryValues } from "../../lib/redact.ts";
import { parseSchedule, type Schedule } from "./schedule.ts";

export { ConfigError } from "../../lib/config/config.ts";
export { REDACTED } from "../../lib/redact.ts";
export type { TableName } from "../../lib/config/config.ts";

// Every number is bounded where a value is meaningless (a day count of ten thousand years, a budget
// that overflows Node.js' timers): a value outside is refused at start with one line.
/** Ten years, the longest retention that means anything. */
const MAX_DAYS = 3650;
/** Seconds above 0 and at most `max`. */
const positiveSeconds =
  (max: number) =>
  (raw: string): number => {
    const n = /^(\d+\.?\d*|\.\d+)$/.test(raw.trim()) ? Number(raw) : NaN;
    if (!Number.isFinite(n) || n <= 0) throw new Invalid(`${show(raw)} is not a number of seconds above 0`);
    if (n > max) throw new Invalid(`${show(raw)} must be at most ${max}`);
    return n;
  };

function schedule(raw: string): Schedule | undefined {
  if (raw === "off") return undefined;
  try {
    return parseSchedule(raw);
  } catch (e) {
    throw new Invalid((e as Error).message);
  }
}

function namingDatabase(parse: (raw: string) => string) {
  return (raw: string): string => {
    const value = parse(raw);
    // The URL is a secret: the error names what is missing, never the value.
    if (new URL(value).pathname.replace(/^\//, "") === "")
      throw new Invalid(`the URL names no database (postgres://user:password@host:5432/<database>)`);
    return value;
  };
}

function identifier(raw: string): string {
  if (!/^[a-z_][a-z0-9_]{0,40}$/.test(raw))
    throw new Invalid(`${show(raw)} is not a lowercase identifier of at most 40 characters`);
  return raw;
}

function boolean(raw: string): boolean {
  if (raw === "true") return true;
  if (raw === "false") return false;
  throw new Invalid(`${show(raw)} is not true or false`);
}

function bucketName(raw: string): string {
  // S3's bucket naming rules (lowercase letters, digits, dots and hyphens; 3 to 63 characters).
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(raw))
    throw new Invalid(`${show(raw)} is not a bucket name (3-63 lowercase letters, digits, . and -)`);
  return raw;
}

function s3Prefix(raw: string): string {
  if (raw.startsWith("/") || raw.includes("//") || /[\\\s]/.test(raw))
    throw new Invalid(`${show(raw)} must not start with /, hold // or whitespace`);
  return raw.endsWith("/") ? raw : `${raw}/`;
}

function identifierLoose(raw: string): string {
  if (!/^[a-z0-9-]{2,40}$/.test(raw)) throw new Invalid(`${show(raw)} is not a region name`);
  return raw;
}

/** 32 bytes as 64 hex digits; the error never shows the value (it is a secret). */
function encryptionKey(raw: string): Buffer {
  const text = raw.trim();
  if (!/^[0-9a-fA-F]{64}$/.test(text))
    throw new Invalid("is not 64 hex digits (32 bytes; make one with `openssl rand -hex 32`)");
  return Buffer.from(text, "hex");
}

/**
 * Recipients: addr-spec only (local@domain), the check a mail server would make before accepting the
 * job's message, so a typo fails at start-up and not on Monday's delivery.
 */
function mailboxes(raw: string): string[] {
  const items = list(raw);
  for (const a of items)
    if (!/^[^\s@<>(),;:"]+@[^\s@<>(),;:"]+\.[^\s@<>(),;:".]+$/.test(a))
      throw new Invalid(`${show(a)} is not an e-mail address (local@domain)`);
  return items;
}

export const variables = {
  // DATABASE_URL, REDIS_URL, SCANS_TABLE, SCANS_RETENTION_DAYS, SCAN_QUEUE_KEYS, REDIS_CACHE_PREFIX.
  ...shared,
  // Stricter than the shared row: backup, verify, restore and the drill act on the database the URL
  // names, and a URL without one would silently make them dump or replace libpq's default database
  // (the user's name) instead of the application's. The exporter reads whichever database it is given.
  databaseUrl: optional({
    ...shared.databaseUrl,
    description:
      "PostgreSQL URL of the application database, naming the database (`postgres://user:password@host:5432/db`). Needed by backup, verify, restore, dr-drill, cleanup and report. The role needs CREATEDB for verify, restore and dr-drill (they create scratch databases).",
    parse: namingDatabase(shared.databaseUrl.parse),
  }),
  // The role verify, restore and the drill restore as (ops/sql/restore-role.sql): a dump is SQL that
  // runs as whoever restores it, and one from a tampered bucket must not run as a superuser.
  restoreDatabaseUrl: optional({
    ...shared.databaseUrl,
    env: "OPS_RESTORE_DATABASE_URL",
    description:
      "PostgreSQL URL of the restore role (`ops/sql/restore-role.sql`: CREATEDB, no superuser, no `pg_execute_server_program`), on DATABASE_URL's server. verify, restore and dr-drill create their scratch database, run `pg_restore` and check the copy as this role. Unset: as DATABASE_URL's role, refused for an off-site copy when that role could run programs on the server (superuser, or member of `pg_execute_server_program`, `pg_read_server_files` or `pg_write_server_files`).",
  }),
  adminDatabase: withDefault({
    env: "OPS_ADMIN_DATABASE",
    default: "postgres",
    description:
      "Database the jobs connect to when they create or drop a database (never the one being dropped).",
    parse: identifier,
  }),
  pgBinDir: optional({
    env: "OPS_PG_BIN_DIR",
    description:
      "Directory of `pg_dump`, `pg_restore` of the server's major version (e.g. `/usr/lib/postgresql/16/bin`). Unset: found on PATH. Backup refuses a `pg_dump` older than the server; verify and restore a `pg_restore` older than the backup's `pg_dump`.",
    parse: absolutePath,
  }),
  backupDir: withDefault({
    env: "OPS_BACKUP_DIR",
    default: "/var/backups/kali-agents",
    description: "Where backups (`*.dump`, `.sha256` and `.json` beside each) are written.",
    parse: absolutePath,
  }),
  backupRetentionDays: withDefault({
    env: "OPS_BACKUP_RETENTION_DAYS",
    default: "30",
    description:
      "Backups older than this are deleted after a successful backup; the newest good one never. 1 to 3650.",
    parse: integer({ min: 1, max: MAX_DAYS }),
  }),
  // Off-site copies (ops/src/backup/offsite.ts) and their encryption: one block, kept together.
  s3Bucket: optional({
    env: "OPS_S3_BUCKET",
    description:
      "Bucket of the off-site copies. Set: every backup is uploaded after it is written (dump, `.sha256`, manifest last) and the remote copies follow OPS_BACKUP_RETENTION_DAYS. Unset: no off-site copy.",
    parse: bucketName,
  }),
  s3Prefix: withDefault({
    env: "OPS_S3_PREFIX",
    default: "kali-agents/default/",
    description:
      "Key prefix of this deployment's backups in the bucket (one per deployment, e.g. `kali-agents/prod/`); a `/` is added when missing.",
    parse: s3Prefix,
  }),
  s3Endpoint: optional({
    env: "OPS_S3_ENDPOINT",
    description:
      "URL of an S3-compatible store (MinIO, Ceph, Garage, another cloud's S3 API). Unset: AWS S3 of OPS_S3_REGION.",
    file: true,
    parse: url(["http:", "https:"], false),
  }),
  s3Region: withDefault({
    env: "OPS_S3_REGION",
    default: "us-east-1",
    description: "Region of the bucket (S3-compatible stores usually accept `us-east-1`).",
    parse: identifierLoose,
  }),
  s3ForcePathStyle: withDefault({
    env: "OPS_S3_FORCE_PATH_STYLE",
    default: "false",
    description:
      "`true` for stores that need path-style URLs (`http://host/bucket/key`, e.g. MinIO without virtual hosts).",
    parse: boolean,
  }),
  s3AccessKeyId: optional({
    env: "OPS_S3_ACCESS_KEY_ID",
    description:
      "Access key of the off-site store. Unset (with the secret unset too): the AWS SDK's default chain (instance role, `AWS_*` variables).",
    secret: true,
    file: true,
    parse: (raw) => raw.trim(),
  }),
  s3SecretAccessKey: optional({
    env: "OPS_S3_SECRET_ACCESS_KEY",
    description: "Secret key of the off-site store (set with OPS_S3_ACCESS_KEY_ID, or neither).",
    secret: true,
    file: true,
    parse: (raw) => raw.trim(),
  }),
  s3PartSizeMib: withDefault({
    env: "OPS_S3_PART_SIZE_MIB",
    default: "16",
    description:
      "Dumps larger than this are uploaded in parts of this size (MiB, 5 to 512); the memory an upload holds is about one part.",
    parse: integer({ min: 5, max: 512 }),
  }),
  backupEncryptionKey: optional({
    env: "OPS_BACKUP_ENCRYPTION_KEY",
    description:
      "Set (usually through OPS_BACKUP_ENCRYPTION_KEY_FILE): off-site copies are encrypted before upload with AES-256-GCM in authenticated 1 MiB chunks; 32 bytes as 64 hex digits (`openssl rand -hex 32`). Without it an encrypted copy cannot be restored: keep it outside the backup host.",
    secret: true,
    file: true,
    parse: encryptionKey,
  }),
  textfileDir: withDefault({
    env: "OPS_TEXTFILE_DIR",
    default: "/var/lib/kali-agents/textfile",
    description:
      "Where each job writes `<job>.prom` (the exporter's EXPORTER_TEXTFILE_DIR reads the same folder).",
    parse: absolutePath,
  }),
  cleanupBatchSize: withDefault({
    env: "OPS_CLEANUP_BATCH_SIZE",
    default: "5000",
    description: "Rows deleted per statement: each batch is its own short transaction. 1 to 1000000.",
    parse: integer({ min: 1, max: 1_000_000 }),
  }),
  cleanupTimeBudgetSeconds: withDefault({
    env: "OPS_CLEANUP_TIME_BUDGET_SECONDS",
    default: "600",
    description:
      "Cleanup stops starting new batches after this long (at most 86400 s); the rest waits for the next run (not a failure).",
    parse: positiveSeconds(86_400),
  }),
  logDir: optional({
    env: "OPS_LOG_DIR",
    description:
      "Folder of the application's rotated log files (`*.log.*`, e.g. `app.log.1`, `app.log.2026-11-01.gz`). Unset: log cleanup is skipped.",
    parse: absolutePath,
  }),
  logRetentionDays: withDefault({
    env: "OPS_LOG_RETENTION_DAYS",
    default: "30",
    description:
      "Rotated log files not modified for this many days are deleted (1 to 3650). Live `*.log` files never.",
    parse: integer({ min: 1, max: MAX_DAYS }),
  }),
  redisCacheMaxIdleSeconds: withDefault({
    env: "OPS_REDIS_CACHE_MAX_IDLE_SECONDS",
    default: String(7 * 24 * 3600),
    description:
      "A cache key (under the prefix) not read or written for this long is deleted; so is one without a TTL. At most 3650 days in seconds.",
    parse: positiveSeconds(MAX_DAYS * 86_400),
  }),
  prometheusUrl: withDefault({
    env: "PROMETHEUS_URL",
    default: "http://prometheus:9090",
    description:
      "Prometheus the weekly report queries (HTTP API). A user and password in the URL (`http://ops:PASSWORD@prometheus:9090`, compose: PROMETHEUS_URL_FILE) are sent as basic auth, never shown.",
    secret: true,
    file: true,
    parse: url(["http:", "https:"], true),
  }),
  reportDir: withDefault({
    env: "OPS_REPORT_DIR",
    default: "/var/lib/kali-agents/reports",
    description: "Where the weekly report writes `report-<date>.json` and `.md`.",
    parse: absolutePath,
  }),
  logLevel: logLevel("OPS_LOG_LEVEL"),
  scheduleBackup: withDefault({
    env: "OPS_SCHEDULE_BACKUP",
    default: "0 2 * * *",
    description:
      "When `schedule` runs backup: cron `minute hour day-of-month month day-of-week`, UTC; `off` to never.",
    parse: schedule,
  }),
  scheduleVerify: withDefault({
    env: "OPS_SCHEDULE_VERIFY",
    default: "0 3 * * *",
    description: "When `schedule` runs verify (cron, UTC, or `off`).",
    parse: schedule,
  }),
  scheduleCleanup: withDefault({
    env: "OPS_SCHEDULE_CLEANUP",
    default: "0 4 * * *",
    description: "When `schedule` runs cleanup (cron, UTC, or `off`).",
    parse: schedule,
  }),
  scheduleDrDrill: withDefault({
    env: "OPS_SCHEDULE_DR_DRILL",
    default: "30 4 1 * *",
    description: "When `schedule` runs dr-drill (cron, UTC, or `off`): monthly by default.",
    parse: schedule,
  }),
  scheduleReport: withDefault({
    env: "OPS_SCHEDULE_REPORT",
    default: "0 6 * * 1",
    description: "When `schedule` runs the weekly report (cron, UTC, or `off`): Mondays 06:00.",
    parse: schedule,
  }),
  // ---- The weekly report's scorecard and its delivery by mail (issue 17; docs/operations/scorecard.md).
  alertmanagerUrl: withDefault({
    env: "ALERTMANAGER_URL",
    default: "http://alertmanager:9093",
    description:
      "Alertmanager the weekly report reads silences from (API v2): an alert's acknowledgement, and the silences people created. A user and password in the URL (compose: ALERTMANAGER_URL_FILE) are sent as basic auth, never shown.",
    secret: true,
    file: true,
    parse: url(["http:", "https:"], true),
  }),
  reportAutomatedSilenceAuthors: optional({
    env: "OPS_REPORT_AUTOMATED_SILENCE_AUTHORS",
    description:
      "Comma-separated `createdBy` values of silences created by automation (not counted as manual interventions). Unset: every silence is a person's.",
    parse: list,
  }),
  reportDatabaseMountpoint: withDefault({
    env: "OPS_REPORT_DATABASE_MOUNTPOINT",
    default: "/",
    description:
      "Mount point of the filesystem holding PostgreSQL's data, whose free space the report divides by the database's growth to date when it would fill.",
    parse: absolutePath,
  }),
  reportMailTo: optional({
    env: "OPS_REPORT_MAIL_TO",
    description:
      "Comma-separated recipients of the weekly report (HTML with a text alternative), e.g. `ops@example.com,cto@example.com`. Unset: the report is not mailed.",
    parse: mailboxes,
  }),
  reportSmtpConfig: withDefault({
    env: "OPS_REPORT_SMTP_CONFIG",
    default: "/etc/alertmanager/alertmanager.yml",
    description:
      "Alertmanager's configuration file, whose `global.smtp_*` settings (smarthost, from, auth username, `smtp_auth_password_file`, require TLS) the report's mail reuses. Read only when `OPS_REPORT_MAIL_TO` is set.",
    parse: absolutePath,
  }),
  reportSmtpSecretsDir: optional({
    env: "OPS_REPORT_SMTP_SECRETS_DIR",
    description:
      "Where this container sees Alertmanager's secret folder: a `smtp_auth_password_file` under `/run/secrets/` in Alertmanager's configuration is read from this folder instead (compose mounts `secrets/alertmanager/` at `/run/alertmanager-secrets`). Unset: the path as written.",
    parse: absolutePath,
  }),
} as const;

export type Config = ConfigOf<typeof variables>;

/** Validates the configuration; throws ConfigError (one line) at the first bad value. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  return parseVariables(variables, (v) => pickSource(v, env, ""));
}

/** Only the settings `keys` of `config`: what a job hands its modules, resolved at the door (jobs.ts). */
export function pick<K extends keyof Config>(config: Config, keys: readonly K[]): Pick<Config, K> {
  return Object.fromEntries(keys.map((k) => [k, config[k]])) as Pick<Config, K>;
}

/** The variable a job needs, or a ConfigError naming it. */
export function required<K extends keyof Config>(
  config: Config,
  key: K,
  job: string,
): NonNullable<Config[K]> {
  const value = config[key];
  if (value === undefined || value === null)
    throw new ConfigError(
      `${variables[key].env} is not set (${job} needs it; or set ${variables[key].env}_FILE)`,
    );
  return value as NonNullable<Config[K]>;
}

/**
 * Replaces the secrets of `config` and any URL password in a text. Which values are secrets is read
 * from the rows: a `secret: true` row's whole value (and its URL's password, which may also appear
 * alone), a key held as bytes in both cases of its hex; of every http(s) URL, secret or not, only its
 * password and query values, so an error can still say which service it could not reach (`Prometheus
 * at http://prometheus:9090 is not reachable`).
 */
export function redactor(config: Config): (text: string) => string {
  const secrets: string[] = [];
  for (const [key, row] of Object.entries(variables) as [keyof Config, Variable<unknown>][]) {
    const value = config[key];
    if (Buffer.isBuffer(value)) {
      if (row.secret) secrets.push(value.toString("hex"), value.toString("hex").toUpperCase());
    } else if (typeof value === "string") {
      if (/^https?:\/\//i.test(value)) secrets.push(...urlPasswords(value), ...urlQueryValues(value));
      else if (row.secret) secrets.push(value, ...urlPasswords(value));
    }
  }
  return secretRedactor(secrets);
}
