// The application's four log streams (the seed's app, security, audit and errors files), one JSON
// object a line with the fields Promtail parses: time, level, msg, logger, plus event/user/ip on
// security events. Files rotate by size as the seed's RotatingFileHandler does (app.log ->
// app.log.1 -> ...), which Promtail follows by inode.
import { appendFileSync, existsSync, mkdirSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import {
  loggers,
  logStreams,
  type LogEventContract,
  type LogLevel,
  type LogStream,
} from "../../definitions/logs.ts";

export type Level = LogLevel;
const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };
/** A `logger` value of the contract. */
export type Logger = (typeof loggers)[keyof typeof loggers];
/** The logger of each event stream's lines. */
const eventLoggers = { security: loggers.security, audit: loggers.audit } as const;

/** The fields an event's contract requires, plus any others. */
export type EventFields<E extends LogEventContract> = Record<E["fields"][number], unknown> &
  Record<string, unknown>;

export interface LogEvent {
  readonly level: Level;
  readonly msg: string;
  readonly logger: string;
  readonly [field: string]: unknown;
}

export interface StreamLogger {
  /** Writes to one stream; error-level events also go to errors.log. */
  write(stream: Exclude<LogStream, "errors">, event: LogEvent): void;
  /**
   * A security or audit event of the contract (definitions/logs.ts logEvents): its stream, level and
   * `event` name come from the contract, and the fields the contract lists are required.
   */
  event<E extends LogEventContract>(event: E, msg: string, fields: EventFields<E>): void;
  app(level: Level, msg: string, logger: Logger, fields?: Record<string, unknown>): void;
  /** Lines written per stream since start (tests and /health read it). */
  counts(): Readonly<Record<LogStream, number>>;
}

export interface StreamLoggerOptions {
  dir: string;
  maxBytes: number;
  maxFiles: number;
  level: Level;
  now?: () => Date;
}

export function createStreamLogger(opts: StreamLoggerOptions): StreamLogger {
  mkdirSync(opts.dir, { recursive: true });
  const now = opts.now ?? (() => new Date());
  const counts: Record<LogStream, number> = { app: 0, security: 0, audit: 0, errors: 0 };
  const sizes = new Map<LogStream, number>();

  const pathOf = (stream: LogStream) => join(opts.dir, logStreams[stream].file);
  // All four files exist from the start, so a log shipper tails each before its first line.
  for (const stream of Object.keys(logStreams) as LogStream[]) appendFileSync(pathOf(stream), "");

  const rotate = (stream: LogStream) => {
    const base = pathOf(stream);
    if (opts.maxFiles === 0) {
      rmSync(base, { force: true });
    } else {
      rmSync(`${base}.${opts.maxFiles}`, { force: true });
      for (let i = opts.maxFiles - 1; i >= 1; i--) {
        if (existsSync(`${base}.${i}`)) renameSync(`${base}.${i}`, `${base}.${i + 1}`);
      }
      renameSync(base, `${base}.1`);
    }
    sizes.set(stream, 0);
  };

  const append = (stream: LogStream, line: string) => {
    let size = sizes.get(stream);
    if (size === undefined) {
      size = existsSync(pathOf(stream)) ? statSync(pathOf(stream)).size : 0;
    }
    if (size > 0 && size + line.length > opts.maxBytes) {
      rotate(stream);
      size = 0;
    }
    // Synchronous appends keep lines whole and ordered; the demo writes a few lines a second.
    appendFileSync(pathOf(stream), line);
    sizes.set(stream, size + Buffer.byteLength(line));
    counts[stream]++;
  };

  const write = (stream: LogStream, event: LogEvent) => {
    if (order[event.level] < order[opts.level]) return;
    const { level, msg, logger, ...rest } = event;
    const line = JSON.stringify({ time: now().toISOString(), level, msg, logger, ...rest }) + "\n";
    append(stream, line);
    if (level === "error" && stream !== "errors") append("errors", line);
  };

  return {
    write,
    event: (e, msg, fields) =>
      write(e.stream, {
        level: e.level,
        msg,
        logger: eventLoggers[e.stream],
        event: e.name,
        ...(fields as Record<string, unknown>),
      }),
    app: (level, msg, logger, fields = {}) => write("app", { level, msg, logger, ...fields }),
    counts: () => ({ ...counts }),
  };
}

/** The demo process's own lines on stdout (start, stop, chaos changes), same field names. */
export function processLog(level: Level, msg: string, fields: Record<string, unknown> = {}): void {
  const line = JSON.stringify({
    time: new Date().toISOString(),
    level,
    msg,
    logger: loggers.demo,
    ...fields,
  });
  (level === "error" ? process.stderr : process.stdout).write(line + "\n");
}
