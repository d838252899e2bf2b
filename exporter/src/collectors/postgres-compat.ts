// The PostgreSQL families the community dashboards and the postgres mixin query beyond the basics
// (definitions/compat.ts has the list): server settings with postgres_exporter's names and unit
// conversions, more pg_stat_database columns and the postmaster's start time. The postgres collector
// (postgres.ts) runs these queries on its connection in the same collection; it reads pg_stat_bgwriter
// (and pg_stat_checkpointer on 17+) itself, per major.
import {
  pgSettingsPublished,
  pgStatDatabaseMoreFields,
  type postgresMetrics,
} from "../../../definitions/metrics/postgres.ts";
import type { Metrics } from "../metrics.ts";
import type { Query } from "./types.ts";

// One statement, so that the families cost one round trip more per scrape, not four.
export const COMPAT_SQL = {
  // pg_settings rather than current_setting(): the unit and the type are needed to convert the value.
  // reset_val, not setting: the value a new session of this role and database starts with, which is
  // what postgres_exporter reads in its session, whatever this session SET (its statement_timeout and
  // lock_timeout, ../postgres-pool.ts); a reload of the server's configuration updates it.
  compat: `SELECT
    (SELECT coalesce(json_agg(json_build_object('name', name, 'setting', reset_val, 'unit', coalesce(unit, ''),
       'vartype', vartype)), '[]') FROM pg_settings WHERE name = ANY($1::text[])) AS settings,
    extract(epoch FROM pg_postmaster_start_time()) AS start_time,
    (SELECT coalesce(json_agg(json_build_object('datid', datid::text, 'datname', datname,
       ${pgStatDatabaseMoreFields.map(([f]) => `'${f}', ${f}`).join(", ")})), '[]')
     FROM pg_stat_database WHERE datname IS NOT NULL
       AND datname IN (SELECT datname FROM pg_database WHERE NOT datistemplate)) AS stat_database`,
};

// Factors to base units, as postgres_exporter's normaliseUnit (collector/pg_setting.go there).
const UNIT_FACTORS: Record<string, [number, "seconds" | "bytes"]> = {
  ms: [0.001, "seconds"],
  s: [1, "seconds"],
  min: [60, "seconds"],
  h: [3600, "seconds"],
  d: [86400, "seconds"],
  B: [1, "bytes"],
  kB: [2 ** 10, "bytes"],
  MB: [2 ** 20, "bytes"],
  GB: [2 ** 30, "bytes"],
  TB: [2 ** 40, "bytes"],
  "1kB": [2 ** 10, "bytes"],
  "2kB": [2 ** 11, "bytes"],
  "4kB": [2 ** 12, "bytes"],
  "8kB": [2 ** 13, "bytes"],
  "16kB": [2 ** 14, "bytes"],
  "32kB": [2 ** 15, "bytes"],
  "64kB": [2 ** 16, "bytes"],
  "16MB": [2 ** 24, "bytes"],
  "32MB": [2 ** 25, "bytes"],
  "64MB": [2 ** 26, "bytes"],
};

/**
 * A pg_settings row as postgres_exporter publishes it: the metric name's unit suffix and the value in
 * that unit (-1, "disabled" for some settings, is kept as it is), booleans as 1/0. Undefined for a row
 * that is not a number.
 */
export function normaliseSetting(row: {
  name: string;
  setting: string;
  unit: string;
  vartype: string;
}): { unit: "" | "seconds" | "bytes"; value: number } | undefined {
  if (row.vartype === "bool") return { unit: "", value: row.setting === "on" ? 1 : 0 };
  if (row.vartype !== "integer" && row.vartype !== "real") return undefined;
  const value = Number(row.setting);
  if (!Number.isFinite(value)) return undefined;
  if (row.unit === "") return { unit: "", value };
  const factor = UNIT_FACTORS[row.unit];
  if (!factor) throw new Error(`pg_settings: unknown unit ${JSON.stringify(row.unit)} of ${row.name}`);
  return { unit: factor[1], value: value === -1 ? -1 : value * factor[0] };
}

export interface PostgresCompatSnapshot {
  settings: { metric: string; value: number }[];
  startTime?: number;
  statDatabase: Record<string, unknown>[];
}

const toNumber = (v: unknown): number | undefined => {
  if (typeof v === "number") return v;
  if (typeof v === "string") {
    const n = Number(v);
    if (Number.isFinite(n)) return n;
    // stats_reset is a timestamp: its Unix time, as postgres_exporter publishes it.
    const t = Date.parse(v);
    if (Number.isFinite(t)) return t / 1000;
  }
  return undefined;
};

/** Runs the compat query on the collector's connection. */
export async function queryCompat(query: Query): Promise<PostgresCompatSnapshot> {
  const [result] = await query<{
    settings: { name: string; setting: string; unit: string; vartype: string }[];
    start_time: string | number | null;
    stat_database: Record<string, unknown>[];
  }>(COMPAT_SQL.compat, [pgSettingsPublished.map(([name]) => name)]);
  const settingRows = result?.settings ?? [];
  const statDatabase = result?.stat_database ?? [];
  const settings: PostgresCompatSnapshot["settings"] = [];
  for (const row of settingRows) {
    const expected = pgSettingsPublished.find(([name]) => name === row.name);
    const s = normaliseSetting(row);
    // A setting whose unit differs from the catalogue's (a future major changing it) would publish under
    // another name than the catalogue's: left out rather than published with a wrong unit.
    if (!expected || !s || s.unit !== expected[1]) continue;
    settings.push({ metric: `pg_settings_${row.name}${s.unit ? `_${s.unit}` : ""}`, value: s.value });
  }
  const start = toNumber(result?.start_time);
  return { settings, ...(start !== undefined ? { startTime: start } : {}), statDatabase };
}

/** After a failed collection: the unlabelled compat families are absent (prom-client would show 0). */
export function dropCompat(m: Metrics<typeof postgresMetrics>, server: string): void {
  writeCompat(m, { settings: [], statDatabase: [] }, server);
}

/** Writes the compat families (the postgres collector has reset every metric just before). */
export function writeCompat(
  m: Metrics<typeof postgresMetrics>,
  s: PostgresCompatSnapshot,
  server: string,
): void {
  const byName = m as unknown as Record<string, { set(l: object, v: number): void; remove(l: object): void }>;
  const written = new Map(s.settings.map((x) => [x.metric, x.value]));
  // prom-client publishes an unlabelled metric as 0 after a reset: a setting or a column this major does
  // not have is removed instead, so it is absent rather than a false 0.
  for (const [name, unit] of pgSettingsPublished) {
    const metric = `pg_settings_${name}${unit ? `_${unit}` : ""}`;
    const v = written.get(metric);
    if (v === undefined) byName[metric]?.remove({ server });
    else byName[metric]?.set({ server }, v);
  }
  if (s.startTime !== undefined) m.pg_postmaster_start_time_seconds.set(s.startTime);
  else m.pg_postmaster_start_time_seconds.remove({});
  for (const row of s.statDatabase) {
    const labels = { datid: String(row.datid), datname: String(row.datname) };
    for (const [field] of pgStatDatabaseMoreFields) {
      const v = toNumber(row[field]);
      if (v !== undefined) m[`pg_stat_database_${field}`].set(labels, v);
    }
  }
}
