// Counting what each exporter asks of PostgreSQL: statements (log_statement = 'all' is set on the
// exporters' roles only) and connections opened (log_connections), read from the server's log file.
// The log is read from a byte offset, so a phase counts only its own lines.
import { closeSync, openSync, readSync, statSync } from "node:fs";
import type { PostgresServer } from "../../test/support/servers.ts";

export interface PgCounts {
  statements: number;
  connections: number;
}

export function logOffset(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** Statements and connections per role logged since `from` (a byte offset from logOffset). */
export function countSince(file: string, from: number): Map<string, PgCounts> {
  const size = logOffset(file);
  const counts = new Map<string, PgCounts>();
  if (size <= from) return counts;
  const fd = openSync(file, "r");
  const buf = Buffer.alloc(size - from);
  try {
    readSync(fd, buf, 0, buf.length, from);
  } finally {
    closeSync(fd);
  }
  const get = (role: string) => {
    let c = counts.get(role);
    if (!c) counts.set(role, (c = { statements: 0, connections: 0 }));
    return c;
  };
  for (const line of buf.toString("utf8").split("\n")) {
    const conn = /LOG: {2}connection authorized: user=(\S+)/.exec(line);
    if (conn) {
      get(conn[1] as string).connections++;
      continue;
    }
    // Simple protocol: "statement: ..."; extended protocol: "execute <name>: ..." (one per run).
    const stmt = /^([^|]*)\|LOG: {2}(?:statement|execute [^:]*):/.exec(line);
    if (stmt) get(stmt[1] as string).statements++;
  }
  return counts;
}

/** The logging collector writes asynchronously: wait until the log stops growing. */
export async function settleLog(file: string): Promise<void> {
  let last = -1;
  for (let i = 0; i < 50; i++) {
    const size = logOffset(file);
    if (size === last) return;
    last = size;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Connections each role holds right now (pg_stat_activity), by client port. */
export async function connectionsByRole(pg: PostgresServer): Promise<Map<string, number[]>> {
  const rows = await pg.query<{ usename: string; client_port: number }>(
    "SELECT usename, client_port FROM pg_stat_activity WHERE usename IS NOT NULL AND pid <> pg_backend_pid()",
  );
  const byRole = new Map<string, number[]>();
  for (const r of rows) {
    const ports = byRole.get(r.usename) ?? [];
    ports.push(r.client_port);
    byRole.set(r.usename, ports);
  }
  return byRole;
}
