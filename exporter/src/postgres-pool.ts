// The exporter's PostgreSQL pool (PostgresDatabase), shared by the collectors that read PostgreSQL
// (postgres and scans, through acquireDatabase): the exporter holds at most two connections whatever
// the number of scrapes and collectors. A collector that wants a statement prepared passes its name with
// the query (`Query` in collectors/types.ts); the pool knows no collector's SQL.
import { inspect } from "node:util";
import pg from "pg";
import type { Logger } from "../../lib/log.ts";
import { secretRedactor, urlPasswords } from "../../lib/redact.ts";
import { DeadlinePassedError, raceAbort } from "./collectors/deadline.ts";
import type { CollectContext, Query } from "./collectors/types.ts";

export const APPLICATION_NAME = "kali-agents-exporter";

export interface PostgresConnectionOptions {
  /** postgres:// URL (a secret: never logged). */
  readonly url: string;
  /** Time allowed to open a connection (TCP, TLS and login), and to wait for a free pool slot. */
  readonly connectTimeoutMs: number;
  /** Server-side `statement_timeout` of the exporter's sessions. */
  readonly statementTimeoutMs: number;
  /** Server-side `lock_timeout`: a monitoring query must never queue behind a DDL lock. */
  readonly lockTimeoutMs: number;
  /** Idle connections are closed after this long (the next scrape opens one again). */
  readonly idleTimeoutMs: number;
}

/** Pool use, for /health. */
export interface PoolStats {
  readonly max: number;
  readonly total: number;
  readonly idle: number;
  readonly waiting: number;
}

const POOL_MAX = 2;

/** `host:port/database as user`, for log lines: never the password. */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    const db = decodeURIComponent(u.pathname.replace(/^\//, "")) || "postgres";
    const user = decodeURIComponent(u.username) || "(default user)";
    return `${u.hostname}:${u.port || "5432"}/${db} as ${user}`;
  } catch {
    return "(unparsable PostgreSQL URL)";
  }
}

/**
 * The exporter's PostgreSQL access: one pool of at most two connections, every session with
 * `statement_timeout`, `lock_timeout` and `application_name`, and a client-side read timeout too (a
 * SIGSTOPped or partitioned server never answers, so the server-side timeout alone would not fire).
 */
export class PostgresDatabase {
  readonly target: string;
  private readonly pool: pg.Pool;
  /** The URL's password out of the driver's messages, as every log line redacts it (lib/redact.ts). */
  private readonly redact: (text: string) => string;
  private state: "unknown" | "up" | "down" = "unknown";
  private lastReason = "";
  private closed = false;

  constructor(
    readonly options: PostgresConnectionOptions,
    private readonly log: Logger,
  ) {
    this.target = describeUrl(options.url);
    this.redact = secretRedactor(urlPasswords(options.url));
    this.pool = new pg.Pool({
      connectionString: options.url,
      max: POOL_MAX,
      connectionTimeoutMillis: options.connectTimeoutMs,
      idleTimeoutMillis: options.idleTimeoutMs,
      application_name: APPLICATION_NAME,
      // statement_timeout and lock_timeout are SET once connected (below), not sent in the startup
      // packet: a startup parameter becomes the session's reset value, and pg_settings' reset_val must
      // stay the server's own (postgres-compat.ts reads it).
      // The client gives up a little after the server would have cancelled the statement.
      query_timeout: options.statementTimeoutMs + 500,
      // The exporter must not keep the process alive on its own (tests, shutdown).
      allowExitOnIdle: true,
    });
    // Queued before any query of the new connection (the pool emits 'connect' before handing it out,
    // and a connection runs its queries in order). A failure ends that connection: the collector's own
    // query on it fails too and the next scrape opens a new one.
    this.pool.on("connect", (client) => {
      client
        .query(
          `SET statement_timeout = ${Math.round(options.statementTimeoutMs)}; SET lock_timeout = ${Math.round(options.lockTimeoutMs)}`,
        )
        .catch((err: Error) => {
          this.log.warn("setting the session's timeouts failed; closing the connection", {
            target: this.target,
            error: this.redact(err.message),
          });
          void client.end().catch(() => {});
        });
    });
    // An idle connection that the server closes (restart, admin kill) emits 'error' on the pool; with
    // no listener, Node would crash the process.
    this.pool.on("error", (err) => {
      this.log.warn("an idle PostgreSQL connection failed; the next scrape opens a new one", {
        target: this.target,
        error: this.redact(err.message),
      });
    });
  }

  stats(): PoolStats {
    return {
      max: POOL_MAX,
      total: this.pool.totalCount,
      idle: this.pool.idleCount,
      waiting: this.pool.waitingCount,
    };
  }

  /**
   * Runs `fn` with one pooled connection. On the collector's deadline the connection is destroyed at
   * once (freeing the pool slot), so a hung server never holds the pool across scrapes.
   */
  async run<T>(
    ctx: Pick<CollectContext, "signal">,
    fn: (query: Query) => Promise<T>,
    opts: { queryTimeoutMs?: number } = {},
  ): Promise<T> {
    if (this.closed) throw new Error("the PostgreSQL pool is closed");
    const connecting = this.pool.connect();
    let client: pg.PoolClient;
    try {
      client = await raceAbort(connecting, ctx.signal, `connecting to PostgreSQL at ${this.target}`);
    } catch (e) {
      // If the connection arrives after the deadline, hand it straight back.
      connecting.then(
        (c) => c.release(),
        () => {},
      );
      throw this.failed(e);
    }
    const query: Query = async <R extends Record<string, unknown>>(
      text: string,
      values?: unknown[],
      name?: string,
    ) => {
      // query_timeout per query is supported by pg (client.js reads config.query_timeout) but missing
      // from its type declarations.
      const config = {
        text,
        values,
        query_timeout: opts.queryTimeoutMs,
        ...(name ? { name } : {}),
      } as pg.QueryConfig;
      const running = client.query<R>(config);
      inFlight = running;
      const res = await raceAbort(running, ctx.signal, "querying PostgreSQL");
      return res.rows;
    };
    let inFlight: Promise<unknown> | undefined;
    const settled = (p: Promise<unknown>) =>
      p.then(
        () => undefined,
        (e: unknown) => e,
      );
    let destroy = false;
    try {
      const out = await fn(query);
      this.succeeded();
      return out;
    } catch (e) {
      // A server-side error (missing table, permission) leaves the session usable; a timeout, an abort
      // or a broken socket does not, and the pool must drop that connection.
      destroy = !(e instanceof pg.DatabaseError);
      throw this.failed(e);
    } finally {
      if (ctx.signal.aborted && inFlight) {
        // Given up at the deadline with a statement still running: the connection keeps its pool slot
        // until the statement ends (the server's statement_timeout, or the client's read timeout just
        // after it). Destroying the socket at once would free the slot while the server still runs the
        // statement in its backend, and the next scrape's new connection would make three sessions.
        void settled(inFlight).then((err) => client.release(err === undefined ? undefined : true));
      } else client.release(destroy || undefined);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  private succeeded(): void {
    if (this.state !== "up" && this.state !== "unknown")
      this.log.info("PostgreSQL answers again", { target: this.target });
    this.state = "up";
    this.lastReason = "";
  }

  /** Turns a driver error into one clear message, logged once per change of state or reason. */
  private failed(e: unknown): Error {
    const err = e instanceof Error ? e : new Error(String(e));
    const reason = this.explain(err);
    if (err instanceof pg.DatabaseError && !isConnectionError(err)) {
      // The server answered: the problem is the query (the caller names it), not the connection.
      return new Error(this.redact(err.message), { cause: err });
    }
    if (this.state !== "down" || reason !== this.lastReason) {
      this.log.error("PostgreSQL is unavailable", { target: this.target, reason });
    }
    this.state = "down";
    this.lastReason = reason;
    return new Error(`PostgreSQL at ${this.target}: ${reason}`);
  }

  private explain(err: Error): string {
    const code = (err as { code?: string }).code;
    const msg = this.redact(err.message);
    if (err instanceof DeadlinePassedError) return msg;
    switch (code) {
      case "28P01":
        return `login failed: wrong password for this user (${msg}); check DATABASE_URL or DATABASE_URL_FILE`;
      case "28000":
        return `login refused (${msg}); check pg_hba.conf and the user`;
      case "3D000":
        return `the database does not exist (${msg})`;
      case "57P03":
        return `the server is starting up or shutting down (${msg})`;
      case "ECONNREFUSED":
        return "connection refused (is PostgreSQL running?)";
      case "ENOTFOUND":
      case "EAI_AGAIN":
        return `the host name does not resolve (${msg})`;
    }
    if (/timeout/i.test(msg)) return `no answer in time, the server may be hung (${msg})`;
    return msg;
  }
}

/**
 * The pool shared by the collectors that read PostgreSQL (postgres and scans), one per connection
 * options, reference-counted: each collector acquires it when created and releases it when closed, and
 * the last release closes the pool. This keeps the exporter at two connections in all.
 */
const shared = new Map<string, { database: PostgresDatabase; users: number }>();

export function acquireDatabase(
  options: PostgresConnectionOptions,
  log: Logger,
): { database: PostgresDatabase; release: () => Promise<void> } {
  const key = JSON.stringify([
    options.url,
    options.connectTimeoutMs,
    options.statementTimeoutMs,
    options.lockTimeoutMs,
    options.idleTimeoutMs,
  ]);
  let entry = shared.get(key);
  if (!entry) shared.set(key, (entry = { database: new PostgresDatabase(options, log), users: 0 }));
  entry.users++;
  const held = entry;
  let released = false;
  return {
    database: held.database,
    release: async () => {
      if (released) return;
      released = true;
      if (--held.users === 0) {
        shared.delete(key);
        await held.database.close();
      }
    },
  };
}

const isConnectionError = (e: pg.DatabaseError) =>
  // class 08: connection exception; class 28: invalid authorization; 57P0x: shutdown/startup; 3D000: no database.
  /^(08|28|57P0|3D000)/.test(e.code ?? "");

/** pg returns bigint and numeric as strings (they may exceed 2^53); metrics are doubles anyway. */
export function num(v: unknown): number {
  if (typeof v === "number") return v;
  if (typeof v === "string" || typeof v === "bigint") {
    const n = Number(v);
    if (Number.isFinite(n)) return n;
  }
  if (v === null || v === undefined) return 0;
  throw new Error(`PostgreSQL returned a non-numeric value: ${inspect(v)}`);
}
