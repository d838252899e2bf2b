// The configuration machinery shared by the exporter (exporter/src/config.ts) and the ops jobs
// (ops/src/config.ts): each keeps its own table of variables, and this module gives them the same
// rules, so one .env means the same to both. A variable is one row: its environment name, default,
// description, whether it is a secret, and the parser that validates it. `*_FILE` variants hold secrets
// (Docker/Kubernetes secrets); an empty variable counts as unset, because compose files commonly write
// `DATABASE_URL=` to mean "not configured"; a bad value is one line naming the variable and the reason.
import { readFileSync } from "node:fs";
import { isAbsolute } from "node:path";

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

export const show = (raw: string) => JSON.stringify(raw);

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

export interface TableName {
  readonly schema: string;
  readonly table: string;
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

// ---- redaction ----

export const REDACTED = "[REDACTED]";

// Shorter fragments are not replaced on their own (a one-letter password would otherwise garble every
// log line); they are still removed where they stand as a URL's password by the pattern below.
const MIN_SECRET_LENGTH = 4;

/** The URL's password as written (percent-encoded) and decoded, when it has one. */
export function urlPasswords(text: string): string[] {
  try {
    const u = new URL(text);
    if (!u.password) return [];
    return [u.password, decodeURIComponent(u.password)];
  } catch {
    return [];
  }
}

/**
 * A function replacing each of `secrets` in a text, in their plain and JSON-escaped forms, and the
 * password part of any URL written in the text (`scheme://user:password@` keeps the user).
 */
export function secretRedactor(secrets: Iterable<string>): (text: string) => string {
  const forms = [...new Set(secrets)]
    .filter((s) => s.length >= MIN_SECRET_LENGTH)
    .flatMap((s) => [s, JSON.stringify(s).slice(1, -1)])
    .sort((a, b) => b.length - a.length);
  return (text: string) => {
    let out = text;
    for (const s of forms) out = out.split(s).join(REDACTED);
    return out.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^:/@\s"]*:)[^@\s"/]+@/gi, `$1${REDACTED}@`);
  };
}
