// Structured JSON logs on stdout, one event a line, with the application's field names (`time`,
// `level`, `msg`, `logger`) so that the same Promtail pipeline parses both.
export const levels = ["debug", "info", "warn", "error"] as const;
export type Level = (typeof levels)[number];
const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(logger: string): Logger;
}

export interface LoggerOptions {
  level?: Level;
  logger?: string;
  /** Called on every rendered line: replaces secrets (see config.ts) before anything is written. */
  redact?: (line: string) => string;
  write?: (line: string) => void;
}

function errorFields(value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message };
  return value;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const min = order[opts.level ?? "info"];
  const write = opts.write ?? ((line: string) => process.stdout.write(line + "\n"));
  const redact = opts.redact ?? ((s: string) => s);
  const name = opts.logger ?? "exporter";
  const emit = (level: Level, msg: string, fields?: Record<string, unknown>) => {
    if (order[level] < min) return;
    const event: Record<string, unknown> = { time: new Date().toISOString(), level, msg, logger: name };
    for (const [k, v] of Object.entries(fields ?? {})) event[k] = errorFields(v);
    write(redact(JSON.stringify(event)));
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    child: (logger) => createLogger({ ...opts, logger: `${name}.${logger}` }),
  };
}
