// The configuration machinery shared by the exporter (exporter/src/config.ts), the ops jobs
// (ops/src/config.ts) and the demo workload (demo/src/config.ts): each keeps its own table of variables,
// spreads into it the rows of the variables they share (lib/config/shared.ts), and this module gives
// them the same rules, so one .env means the same to all three. A variable is one row: its environment
// name, default, description, whether it is a secret, and the parser that validates it. `*_FILE` variants hold secrets
// (Docker/Kubernetes secrets); an empty variable counts as unset, because compose files commonly write
// `DATABASE_URL=` to mean "not configured"; a bad value is one line naming the variable and the reason.
import { readFileSync } from "node:fs";
import { isAbsolute } from "node:path";
import { redactEchoed } from "../redact.ts";

/** A configuration error: its message is one line naming the variable and the reason. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message.replace(/[\r\n]+/g, " "));
    this.name = "ConfigError";
  }
}

/** Thrown by a parser; the loader prefixes the variable's name (and where its value came from). */
export class Invalid extends Error {}

export interface Variable<T> {
  readonly env: string;
  /** The default, as text (it is parsed like any other value, and shown in the docs). */
  readonly default?: string;
  readonly description: string;
  /** The whole value is a secret: never echoed in an error, replaced by the redactor in every log line. */
  readonly secret?: boolean;
  /** Accepts a `*_FILE` variant (every secret does; so do URLs that may embed credentials). */
  readonly file?: boolean;
  /** Only read from the environment (not from a configuration file). */
  readonly envOnly?: boolean;
  readonly parse: (raw: string) => T;
}
export type WithDefault<T> = Variable<T> & { readonly default: string };
export type Optional<T> = Variable<T> & { readonly default?: undefined };
export const withDefault = <T>(v: WithDefault<T>): WithDefault<T> => v;
export const optional = <T>(v: Optional<T>): Optional<T> => v;

type ValueOf<V> = V extends Variable<infer T> ? (V extends { default: string } ? T : T | undefined) : never;
/** The validated configuration a table of variables describes: optional ones may be undefined. */
export type ConfigOf<Vars> = { readonly [K in keyof Vars]: ValueOf<Vars[K]> };

// ---- parsers (each throws Invalid with the reason; the loader adds the variable's name) ----

/**
 * A value as an error echoes it: quoted, with the credentials of any URL in it redacted (user
 * information and query values), since the error goes to stderr, the container log and Loki.
 */
export const show = (raw: string) => JSON.stringify(redactEchoed(raw));

export function oneOf<const T extends string>(values: readonly T[]) {
  return (raw: string): T => {
    if (!(values as readonly string[]).includes(raw))
      throw new Invalid(`${show(raw)} is not one of ${values.join(", ")}`);
    return raw as T;
  };
}

export function list(raw: string): string[] {
  const items = raw.split(",").map((s) => s.trim());
  if (items.some((s) => s === "")) throw new Invalid(`${show(raw)} has an empty item (a stray comma)`);
  return items;
}

export function absolutePath(raw: string): string {
  if (!isAbsolute(raw)) throw new Invalid(`${show(raw)} is not an absolute path`);
  return raw;
}

export function url(protocols: readonly string[], secret: boolean) {
  return (raw: string): string => {
    let u: URL | undefined;
    try {
      u = new URL(raw);
    } catch {
      u = undefined;
    }
    const what = protocols.map((p) => `${p}//`).join(" or ");
    // A secret URL is never echoed, not even in an error.
    const shown = secret ? "the value" : show(raw);
    if (!u || !protocols.includes(u.protocol)) throw new Invalid(`${shown} is not a ${what} URL`);
    if (!u.hostname && !u.searchParams.get("host")) throw new Invalid(`${shown} has no host`);
    return raw;
  };
}

/**
 * A decimal number (`1`, `0.5`, `.5`, `2e3`) within bounds. Not `Number()`: it would take `0x10`, `""`
 * and `Infinity`.
 */
export function number(opts: { min: number; minExclusive?: boolean; max?: number }) {
  return (raw: string): number => {
    const n = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(raw.trim()) ? Number(raw) : NaN;
    if (!Number.isFinite(n)) throw new Invalid(`${show(raw)} is not a number`);
    if (opts.minExclusive ? n <= opts.min : n < opts.min)
      throw new Invalid(
        `${show(raw)} must be ${opts.minExclusive ? "greater than" : "at least"} ${opts.min}`,
      );
    if (opts.max !== undefined && n > opts.max) throw new Invalid(`${show(raw)} must be at most ${opts.max}`);
    return n;
  };
}

/**
 * A whole number written in digits (`90`; not `1e2`, `90.0` or `+90`): a count of days or rows is
 * typed by a person, and a form they would not write is more likely a mistake than a shorthand.
 */
export function integer(opts: { min: number; max?: number }) {
  return (raw: string): number => {
    if (!/^\d+$/.test(raw.trim())) throw new Invalid(`${show(raw)} is not an integer`);
    const n = Number(raw);
    if (n < opts.min) throw new Invalid(`${show(raw)} must be at least ${opts.min}`);
    if (opts.max !== undefined && n > opts.max) throw new Invalid(`${show(raw)} must be at most ${opts.max}`);
    return n;
  };
}

export interface TableName {
  readonly schema: string;
  readonly table: string;
}

/** `schema.table` or `table` (schema `public`), lowercase unquoted identifiers. */
export function tableName(raw: string): TableName {
  // Lowercase unquoted identifiers only: PostgreSQL folds unquoted names to lowercase, so accepting
  // "Scans" would leave it unclear whether the quoted "Scans" or the folded scans was meant.
  const ident = /^[a-z_][a-z0-9_]{0,62}$/;
  const parts = raw.split(".");
  if (parts.length > 2 || !parts.every((p) => ident.test(p)))
    throw new Invalid(
      `${show(raw)} is not [schema.]table with lowercase identifiers ([a-z_][a-z0-9_]*, at most 63 characters)`,
    );
  return parts.length === 2
    ? { schema: parts[0]!, table: parts[1]! }
    : { schema: "public", table: parts[0]! };
}

// ---- loading ----

/** A variable's text and where it came from, as the error message says it ("" for the environment). */
export interface Source {
  readonly text: string;
  readonly from: string;
}

function readSecretFile(envName: string, path: string): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError(`${envName}: cannot read ${path}: ${(e as Error).message}`);
  }
  // Files written by `echo` or editors end with a newline that is not part of the secret.
  text = text.replace(/\r?\n$/, "");
  if (text === "") throw new ConfigError(`${envName}: ${path} is empty`);
  return text;
}

/**
 * The value of `v` in `values` (the environment, or a configuration file's mapping, `where` then
 * saying which file): the variable itself or the content of the file its `*_FILE` variant names.
 * Empty counts as unset; both set is an error.
 */
export function pickSource(
  v: Variable<unknown>,
  values: Record<string, string | undefined>,
  where: string,
): Source | undefined {
  const direct = values[v.env] === "" ? undefined : values[v.env];
  const viaFile = v.file && values[`${v.env}_FILE`] !== "" ? values[`${v.env}_FILE`] : undefined;
  if (direct !== undefined && viaFile !== undefined)
    throw new ConfigError(`${v.env}: both ${v.env} and ${v.env}_FILE are set${where}; set only one`);
  if (direct !== undefined) return { text: direct, from: where };
  if (viaFile !== undefined)
    return {
      text: readSecretFile(`${v.env}_FILE`, viaFile),
      from: ` (read from ${v.env}_FILE ${viaFile})`,
    };
  return undefined;
}

/**
 * Parses every variable of `variables` from the text `lookup` finds (else its default), through
 * `keep` (e.g. a deep freeze). Throws ConfigError (one line: the variable, where its value came from,
 * the reason) at the first bad value. The result is frozen.
 */
export function parseVariables<Vars extends Record<string, Variable<unknown>>>(
  variables: Vars,
  lookup: (v: Variable<unknown>) => Source | undefined,
  keep: (value: unknown) => unknown = (value) => value,
): ConfigOf<Vars> {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(variables) as [string, Variable<unknown>][]) {
    const src = lookup(v);
    const raw = src?.text ?? v.default;
    if (raw === undefined) {
      out[key] = undefined;
      continue;
    }
    try {
      out[key] = keep(v.parse(raw));
    } catch (e) {
      if (!(e instanceof Invalid)) throw e;
      throw new ConfigError(`${v.env}${src?.from ?? " (default)"}: ${e.message}`);
    }
  }
  return Object.freeze(out) as ConfigOf<Vars>;
}
