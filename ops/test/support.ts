// Shared set-up of the ops tests: a configuration pointing at throwaway servers and folders, a silent
// logger that keeps its lines, and the exporter's textfile collector reading the jobs' folder.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { textfileCollector } from "../../exporter/src/collectors/textfile.ts";
import { createLogger, type Logger } from "../../exporter/src/log.ts";
import { parseExposition, type Families } from "../../exporter/src/exposition.ts";
import { findBinary, tempDir } from "../../test/support/servers.ts";
import { loadConfig, type Config } from "../src/config.ts";

export const repoRoot = join(import.meta.dirname, "..", "..");
export const scansDdl = readFileSync(join(repoRoot, "exporter/sql/scans.sql"), "utf8");

export function opsConfig(env: Record<string, string>): { config: Config; dirs: Record<string, string> } {
  const root = tempDir("ops");
  const dirs = {
    root,
    backups: join(root, "backups"),
    textfile: join(root, "textfile"),
    reports: join(root, "reports"),
  };
  const pgDump = findBinary("pg_dump");
  const config = loadConfig({
    OPS_BACKUP_DIR: dirs.backups,
    OPS_TEXTFILE_DIR: dirs.textfile,
    OPS_REPORT_DIR: dirs.reports,
    ...(pgDump ? { OPS_PG_BIN_DIR: dirname(pgDump) } : {}),
    ...env,
  });
  return { config, dirs };
}

export function quietLogger(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({
    level: "debug",
    write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>),
  });
  return { log, lines };
}

/** What the exporter's textfile collector publishes from `dir`, and the files it skipped. */
export async function publishedFrom(dir: string): Promise<{ families: Families; skipped: string[] }> {
  const { log, lines } = quietLogger();
  const c = textfileCollector.create({ dir }, log);
  await c.collect({ signal: new AbortController().signal, deadline: Date.now() + 5000, log });
  return {
    families: parseExposition(await c.registry.metrics()),
    skipped: lines
      .filter((l) => l.msg === "textfile skipped")
      .map((l) => `${String(l.file)}: ${String(l.error)}`),
  };
}

/** The value of `name{labels}` in `families`, or undefined. */
export function valueOf(
  families: Families,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  return families
    .get(name)
    ?.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    ?.value;
}
