// A parser for the part of Grafana Alloy's configuration syntax that alloy/config.alloy uses: blocks
// (`name.name "label" { ... }`), attributes (`name = value`), strings, raw strings, numbers, booleans,
// null, lists, objects, references (`a.b.c`) and function calls (`sys.env("X")`), with `//` and `/* */`
// comments. Anything else (operators, indexing, heredocs, ...) is an error naming the line, never skipped:
// a config the tests cannot read must not pass them.
// Syntax reference: https://grafana.com/docs/alloy/latest/get-started/configuration-syntax/

export type AlloyValue =
  | { readonly type: "string"; readonly value: string }
  | { readonly type: "number"; readonly value: number }
  | { readonly type: "bool"; readonly value: boolean }
  | { readonly type: "null" }
  | { readonly type: "list"; readonly items: readonly AlloyValue[] }
  | { readonly type: "object"; readonly entries: readonly (readonly [string, AlloyValue])[] }
  | { readonly type: "ref"; readonly path: string }
  | { readonly type: "call"; readonly name: string; readonly args: readonly AlloyValue[] };

export interface AlloyAttribute {
  readonly kind: "attribute";
  readonly name: string;
  readonly value: AlloyValue;
  readonly line: number;
}

export interface AlloyBlock {
  readonly kind: "block";
  /** Dotted name, e.g. `loki.process` or `stage.json`. */
  readonly name: string;
  readonly label?: string;
  readonly body: readonly AlloyStatement[];
  readonly line: number;
}

export type AlloyStatement = AlloyAttribute | AlloyBlock;

type TokenKind = "ident" | "string" | "number" | "punct" | "eof";
interface Token {
  readonly kind: TokenKind;
  readonly text: string;
  /** The decoded value of a string token. */
  readonly value?: string;
  readonly line: number;
}

export class AlloySyntaxError extends Error {
  constructor(message: string, line: number, source?: string) {
    super(`${source ? `${source}:` : "line "}${line}: ${message}`);
    this.name = "AlloySyntaxError";
  }
}

const punctuation = new Set(["{", "}", "[", "]", "(", ")", "=", ",", "."]);
const escapes: Record<string, string> = { '"': '"', "\\": "\\", n: "\n", t: "\t", r: "\r" };

function tokenize(text: string, source?: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  const fail = (msg: string): never => {
    throw new AlloySyntaxError(msg, line, source);
  };
  while (i < text.length) {
    const c = text[i]!;
    if (c === "\n") {
      line++;
      i++;
    } else if (c === " " || c === "\t" || c === "\r") {
      i++;
    } else if (text.startsWith("//", i)) {
      while (i < text.length && text[i] !== "\n") i++;
    } else if (text.startsWith("/*", i)) {
      const end = text.indexOf("*/", i + 2);
      if (end < 0) fail("unterminated /* comment");
      for (let j = i; j < end; j++) if (text[j] === "\n") line++;
      i = end + 2;
    } else if (/[A-Za-z_]/.test(c)) {
      let j = i + 1;
      while (j < text.length && /[A-Za-z0-9_]/.test(text[j]!)) j++;
      tokens.push({ kind: "ident", text: text.slice(i, j), line });
      i = j;
    } else if (/[0-9]/.test(c)) {
      const m = /^[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(i))!;
      tokens.push({ kind: "number", text: m[0], line });
      i += m[0].length;
    } else if (c === '"') {
      let j = i + 1;
      let value = "";
      for (;;) {
        const d = text[j];
        if (d === undefined || d === "\n") fail("unterminated string");
        if (d === '"') break;
        if (d === "\\") {
          const e = text[j + 1] ?? "";
          const decoded = escapes[e];
          if (decoded === undefined) fail(`unsupported escape \\${e} in a string`);
          value += decoded;
          j += 2;
        } else {
          value += d;
          j++;
        }
      }
      tokens.push({ kind: "string", text: text.slice(i, j + 1), value, line });
      i = j + 1;
    } else if (c === "`") {
      const end = text.indexOf("`", i + 1);
      if (end < 0) fail("unterminated raw string");
      const value = text.slice(i + 1, end);
      tokens.push({ kind: "string", text: text.slice(i, end + 1), value, line });
      line += value.split("\n").length - 1;
      i = end + 1;
    } else if (punctuation.has(c)) {
      tokens.push({ kind: "punct", text: c, line });
      i++;
    } else {
      fail(
        `unsupported syntax ${JSON.stringify(c)} (this parser reads blocks, attributes and literals only)`,
      );
    }
  }
  tokens.push({ kind: "eof", text: "", line });
  return tokens;
}

class Parser {
  private pos = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly source?: string,
  ) {}

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.pos + offset, this.tokens.length - 1)]!;
  }
  private next(): Token {
    const t = this.peek();
    this.pos++;
    return t;
  }
  private fail(msg: string, t: Token = this.peek()): never {
    throw new AlloySyntaxError(msg, t.line, this.source);
  }
  private expect(text: string): Token {
    const t = this.next();
    if (t.text !== text || (t.kind !== "punct" && t.kind !== "ident"))
      this.fail(`expected ${JSON.stringify(text)}, found ${JSON.stringify(t.text || "end of file")}`, t);
    return t;
  }
  private isPunct(text: string): boolean {
    const t = this.peek();
    return t.kind === "punct" && t.text === text;
  }

  /** Statements until `}` (inside a block) or the end of the file. */
  body(closing: boolean): AlloyStatement[] {
    const out: AlloyStatement[] = [];
    let lastLine = -1;
    for (;;) {
      const t = this.peek();
      if (closing && this.isPunct("}")) return out;
      if (t.kind === "eof") {
        if (closing) this.fail("missing } at the end of the file");
        return out;
      }
      // Alloy separates statements by newlines: two on one line is an error there too.
      if (t.line === lastLine) this.fail("a statement must start on a new line");
      out.push(this.statement());
      lastLine = this.tokens[this.pos - 1]!.line;
    }
  }

  private statement(): AlloyStatement {
    const first = this.next();
    if (first.kind !== "ident") this.fail(`expected an attribute or block name, found ${first.text}`, first);
    let name = first.text;
    if (this.isPunct("=")) {
      this.next();
      return { kind: "attribute", name, value: this.value(), line: first.line };
    }
    while (this.isPunct(".")) {
      this.next();
      const part = this.next();
      if (part.kind !== "ident") this.fail("expected a name after '.'", part);
      name += `.${part.text}`;
    }
    let label: string | undefined;
    if (this.peek().kind === "string") label = this.next().value;
    if (!this.isPunct("{")) this.fail(`expected '{' or '=' after ${name}`);
    this.next();
    const body = this.body(true);
    this.expect("}");
    return { kind: "block", name, ...(label === undefined ? {} : { label }), body, line: first.line };
  }

  value(): AlloyValue {
    const t = this.next();
    if (t.kind === "string") return { type: "string", value: t.value! };
    if (t.kind === "number") return { type: "number", value: Number(t.text) };
    if (t.kind === "punct" && t.text === "[")
      return { type: "list", items: this.sequence("]", () => this.value()) };
    if (t.kind === "punct" && t.text === "{") {
      const entries = this.sequence("}", () => {
        const k = this.next();
        if (k.kind !== "ident" && k.kind !== "string") this.fail("expected an object key", k);
        this.expect("=");
        return [k.kind === "string" ? k.value! : k.text, this.value()] as const;
      });
      return { type: "object", entries };
    }
    if (t.kind === "ident") {
      if (t.text === "true" || t.text === "false") return { type: "bool", value: t.text === "true" };
      if (t.text === "null") return { type: "null" };
      let path = t.text;
      while (this.isPunct(".")) {
        this.next();
        const part = this.next();
        if (part.kind !== "ident") this.fail("expected a name after '.'", part);
        path += `.${part.text}`;
      }
      if (this.isPunct("(")) {
        this.next();
        return { type: "call", name: path, args: this.sequence(")", () => this.value()) };
      }
      return { type: "ref", path };
    }
    return this.fail(`unsupported expression starting with ${JSON.stringify(t.text || "end of file")}`, t);
  }

  /** Comma-separated items up to `close`, a trailing comma allowed. */
  private sequence<T>(close: string, item: () => T): T[] {
    const out: T[] = [];
    for (;;) {
      if (this.isPunct(close)) {
        this.next();
        return out;
      }
      out.push(item());
      if (this.isPunct(",")) this.next();
      else if (!this.isPunct(close)) this.fail(`expected ',' or '${close}'`);
    }
  }
}

/** Parses an Alloy file; `source` names it in errors. */
export function parseAlloy(text: string, source?: string): AlloyStatement[] {
  const parser = new Parser(tokenize(text, source), source);
  return parser.body(false);
}

// ---------------------------------------------------------------- reading the parsed file

/** The blocks of a body with a given name (and label, if given). */
export function blocks(body: readonly AlloyStatement[], name: string, label?: string): AlloyBlock[] {
  return body.filter(
    (s): s is AlloyBlock =>
      s.kind === "block" && s.name === name && (label === undefined || s.label === label),
  );
}

/** The one block with this name and label; throws when there is none or more than one. */
export function block(body: readonly AlloyStatement[], name: string, label?: string): AlloyBlock {
  const found = blocks(body, name, label);
  const what = label === undefined ? name : `${name} "${label}"`;
  if (found.length !== 1) throw new Error(`expected one ${what} block, found ${found.length}`);
  return found[0]!;
}

/** An attribute's value, or undefined when the block does not set it. */
export function attr(b: AlloyBlock, name: string): AlloyValue | undefined {
  const found = b.body.filter((s): s is AlloyAttribute => s.kind === "attribute" && s.name === name);
  if (found.length > 1) throw new Error(`${b.name}: attribute ${name} is set twice (line ${found[1]!.line})`);
  return found[0]?.value;
}

export function requireAttr(b: AlloyBlock, name: string): AlloyValue {
  const v = attr(b, name);
  if (v === undefined) throw new Error(`${b.name} (line ${b.line}): attribute ${name} is missing`);
  return v;
}

export function asString(v: AlloyValue, what: string): string {
  if (v.type !== "string") throw new Error(`${what} must be a string, found ${v.type}`);
  return v.value;
}

export function asList(v: AlloyValue, what: string): readonly AlloyValue[] {
  if (v.type !== "list") throw new Error(`${what} must be a list, found ${v.type}`);
  return v.items;
}

export function asObject(v: AlloyValue, what: string): ReadonlyMap<string, AlloyValue> {
  if (v.type !== "object") throw new Error(`${what} must be an object, found ${v.type}`);
  const m = new Map<string, AlloyValue>();
  for (const [k, val] of v.entries) {
    if (m.has(k)) throw new Error(`${what}: key ${k} appears twice`);
    m.set(k, val);
  }
  return m;
}

export function asRef(v: AlloyValue, what: string): string {
  if (v.type !== "ref") throw new Error(`${what} must be a reference, found ${v.type}`);
  return v.path;
}
