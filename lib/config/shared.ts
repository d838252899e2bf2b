// The rows of the variables more than one program reads. Each program spreads them into its own table
// (`...shared` in exporter/src/config.ts, ops/src/config.ts and demo/src/config.ts), so one `.env` means
// one thing to all of them: the same default, the same validation, the same error. A program that needs
// a stricter rule (or a default of its own) overrides one row, with a comment saying why, and a test
// shows the difference; test/config-shared.test.ts runs the same bad values through every loader.
import { application } from "../../definitions/application.ts";
import { levels, type Level } from "../log.ts";
import {
  integer,
  Invalid,
  list,
  oneOf,
  optional,
  show,
  tableName,
  url,
  withDefault,
  type WithDefault,
} from "./config.ts";

function cachePrefix(raw: string): string {
  // The ops cleanup deletes what `SCAN MATCH <prefix>*` finds: an empty or one-letter prefix would make
  // it walk (and judge) nearly every key, and a glob character would widen the match beyond the prefix.
  // The demo writes and the exporter documents the same keys, so they refuse the same values.
  if (raw.length < 2 || /[*?[\]\\]/.test(raw))
    throw new Invalid(`${show(raw)} must be at least 2 characters without glob characters (* ? [ ] \\)`);
  return raw;
}

export const shared = {
  databaseUrl: optional({
    env: "DATABASE_URL",
    description:
      "PostgreSQL URL of the application database (`postgres://user:password@host:5432/db`). Unset: the exporter's postgres and scans collectors are off, and the ops jobs that need it stop with an error naming it.",
    secret: true,
    file: true,
    parse: url(["postgres:", "postgresql:"], true),
  }),
  redisUrl: optional({
    env: "REDIS_URL",
    description:
      "Redis URL (`redis://:password@host:6379/0`, `rediss://` for TLS). Unset: the exporter's redis collector is off, and the ops cleanup skips the cache.",
    secret: true,
    file: true,
    parse: url(["redis:", "rediss:"], true),
  }),
  scansTable: withDefault({
    env: "SCANS_TABLE",
    default: application.scansTable,
    description:
      "The application's scans table, `schema.table` or `table` (schema `public`), lowercase identifiers.",
    parse: tableName,
  }),
  scansRetentionDays: withDefault({
    env: "SCANS_RETENTION_DAYS",
    default: String(application.scansRetentionDays),
    description:
      "Retention of the scans table, in days (an integer, 1 to 3650): the exporter counts the rows past it in `kali_agents_scan_rows_past_retention`, the ops cleanup deletes them.",
    parse: integer({ min: 1, max: 3650 }),
  }),
  scanQueueKeys: withDefault({
    env: "SCAN_QUEUE_KEYS",
    default: application.scanQueueKeys.join(","),
    description:
      "Comma-separated Redis list keys holding queued scans (`kali_agents_scan_queue_length{queue}`); the ops cleanup never deletes them.",
    parse: list,
  }),
  redisCachePrefix: withDefault({
    env: "REDIS_CACHE_PREFIX",
    default: application.redisCachePrefix,
    description:
      "Prefix of the application's cache keys in Redis (at least 2 characters, no glob characters): the only keys the ops cleanup may delete.",
    parse: cachePrefix,
  }),
} as const;

/** The row of a program's log level: each program has its own variable, all read it alike. */
export function logLevel(env: string): WithDefault<Level> {
  return withDefault({
    env,
    default: "info",
    description: "Lowest level logged: `debug`, `info`, `warn` or `error`.",
    parse: oneOf(levels),
  });
}
