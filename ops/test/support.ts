// Shared set-up of the ops tests: a configuration pointing at throwaway servers and folders and a silent
// logger that keeps its lines. What the exporter publishes from the jobs' folder is read through the
// shared harness (test/support/textfile.ts): ops itself never imports the exporter.
import { dirname, join } from "node:path";
import { createLogger, type Logger } from "../../lib/log.ts";
import type { Families } from "../../lib/exposition.ts";
import { findBinary, tempDir } from "../../test/support/servers.ts";
export { publishedFrom } from "../../test/support/textfile.ts";
import { loadConfig, type Config } from "../src/config.ts";

export const repoRoot = join(import.meta.dirname, "..", "..");
/** The application's scans table (definitions/scans-ddl.ts), for the tests' databases. */
export { scansDdl } from "../../definitions/scans-ddl.ts";

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
