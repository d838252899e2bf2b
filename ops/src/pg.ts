// PostgreSQL plumbing shared by the jobs: client connections, the libpq environment for pg_dump and
// pg_restore (the password goes in PGPASSWORD, never on a command line that `ps` shows), and running
// those tools with their error output kept for the one-line error. The tools get only the variables
// they need (childEnv), never the ops process's whole environment (its S3 secrets, its key).
import { spawn } from "node:child_process";
import { join } from "node:path";
import pg from "pg";
import { quoteIdent } from "../../lib/sql.ts";

/** A connection URL for another database on the same server. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

export const databaseOf = (url: string): string =>
  decodeURIComponent(new URL(url).pathname.slice(1)) || "postgres";

export async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  // An error on an idle client (server restart) must not crash the process; the next query fails.
  client.on("error", () => {});
  await client.connect();
  return client;
}

export async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = await connect(url);
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** libpq variables for a URL: the tools get the database name as an argument, the rest here. */
function libpqEnv(url: string): Record<string, string> {
  const u = new URL(url);
  const env: Record<string, string> = {
    PGHOST: u.searchParams.get("host") ?? u.hostname.replace(/^\[|\]$/g, ""),
    PGPORT: u.port || "5432",
    PGUSER: decodeURIComponent(u.username || "postgres"),
  };
  if (u.password) env.PGPASSWORD = decodeURIComponent(u.password);
  const sslmode = u.searchParams.get("sslmode");
  if (sslmode) env.PGSSLMODE = sslmode;
  return env;
}

/**
 * What a pg_dump or pg_restore child sees: the connection of `url` (PGHOST, PGPORT, PGUSER, PGPASSWORD,
 * PGSSLMODE), libpq's other PG* settings of the parent (PGSSLROOTCERT, PGOPTIONS, …; never its
 * PGPASSWORD), and PATH, HOME, TMPDIR, TZ, LANG, LANGUAGE and LC_* (messages, time zone). Nothing else:
 * no S3 credential, no encryption key, no variable of another program.
 */
export function childEnv(url: string, parent: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(parent)) {
    if (v === undefined) continue;
    const keep =
      ["PATH", "HOME", "TMPDIR", "TZ", "LANG", "LANGUAGE"].includes(k) ||
      k.startsWith("LC_") ||
      (k.startsWith("PG") && k !== "PGPASSWORD");
    if (keep) env[k] = v;
  }
  return { ...env, ...libpqEnv(url), PGCONNECT_TIMEOUT: "10" };
}

type PgTool = "pg_dump" | "pg_restore";
const toolPath = (binDir: string | undefined, tool: PgTool) => (binDir ? join(binDir, tool) : tool);

/**
 * Runs pg_dump or pg_restore against `url`'s server with `args` (the database is passed as
 * --dbname=<name>, or not at all when `database` is undefined). Resolves with stdout; rejects with
 * the tool's last error lines.
 */
export function runPgTool(
  binDir: string | undefined,
  tool: PgTool,
  url: string,
  args: string[],
  database: string | undefined,
  signal?: AbortSignal,
): Promise<string> {
  return new Promise((resolve, reject) => {
    // --version must stand alone; everything else never waits for a password prompt.
    const full =
      args[0] === "--version"
        ? args
        : [...(database !== undefined ? [`--dbname=${database}`] : []), "--no-password", ...args];
    const child = spawn(toolPath(binDir, tool), full, {
      env: childEnv(url),
      stdio: ["ignore", "pipe", "pipe"],
      signal,
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
      if (err.length > 16_384) err = err.slice(-16_384);
    });
    child.on("error", (e) =>
      reject(new Error(`cannot run ${tool} (${e.message}); set OPS_PG_BIN_DIR to the folder holding it`)),
    );
    child.on("close", (code, sig) => {
      if (code === 0) return resolve(out);
      const lines = err
        .trim()
        .split("\n")
        .filter((l) => l.trim() !== "");
      // The first "error:" line says what failed (pg_restore's context lines follow it), the last where.
      const first = lines.find((l) => /\berror:/.test(l));
      const last = lines.slice(-2);
      const tail =
        (first && !last.includes(first) ? [first, lines.at(-1)!] : last).join(" / ") || "no error output";
      reject(new Error(`${tool} exited with ${code ?? sig}: ${tail}`));
    });
  });
}

/** The major of a `pg_dump --version` line or a server_version ("pg_dump (PostgreSQL) 16.4" -> 16). */
export function majorOfVersion(text: string): number | undefined {
  const m = /(?:\)\s*|^)(\d+)(?:\.\d+|beta|rc|devel)/.exec(text.trim());
  return m ? Number(m[1]) : undefined;
}

/**
 * pg_dump reads servers of its own major and older only, and pg_restore reads archives of pg_dumps of
 * its own major and older only: a clear error naming OPS_PG_BIN_DIR instead of the tool's own.
 */
export function checkToolMajor(tool: PgTool, toolVersion: string, needed: number, what: string): void {
  const have = majorOfVersion(toolVersion);
  if (have !== undefined && have < needed)
    throw new Error(
      `${tool} ${toolVersion.replace(/^\S+\s+\(PostgreSQL\)\s*/, "")} is older than ${what} (PostgreSQL ${needed}); set OPS_PG_BIN_DIR to the bin folder of PostgreSQL ${needed}'s client tools (e.g. /usr/lib/postgresql/${needed}/bin)`,
    );
}

/** Row counts of every user table (schema.table -> rows), read in the client's current transaction. */
export async function tableCounts(c: pg.Client): Promise<Record<string, number>> {
  const tables = await c.query<{ schemaname: string; tablename: string }>(
    `SELECT schemaname, tablename FROM pg_tables
      WHERE schemaname NOT IN ('pg_catalog', 'information_schema') AND schemaname NOT LIKE 'pg_temp%'
      ORDER BY 1, 2`,
  );
  const out: Record<string, number> = {};
  for (const t of tables.rows) {
    const r = await c.query<{ n: string }>(
      `SELECT count(*) AS n FROM ${quoteIdent(t.schemaname)}.${quoteIdent(t.tablename)}`,
    );
    out[`${t.schemaname}.${t.tablename}`] = Number(r.rows[0]!.n);
  }
  return out;
}

/** Creates database `name` as the role of `url` (a URL of another database on that server). */
export async function createDatabase(url: string, name: string): Promise<void> {
  await withClient(url, (c) => c.query(`CREATE DATABASE ${quoteIdent(name)}`));
}

/** Drops database `name`, ending its sessions, as the role of `url`. */
export async function dropDatabase(url: string, name: string): Promise<void> {
  // WITH (FORCE) (PostgreSQL 13+) ends sessions still connected, e.g. a pg_restore killed mid-way. Only
  // ever on a scratch database of this run.
  await withClient(url, (c) => c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`));
}
