// Runs alertmanager/render-config.sh, the script compose runs in the Alertmanager container at every
// start, with a given environment: the tests render the configuration exactly as compose does, then
// amtool and a real Alertmanager read the result.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";

export const renderScript = new URL("../render-config.sh", import.meta.url).pathname;
export const committedConfig = new URL("../alertmanager.yml", import.meta.url).pathname;

export interface Rendered {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The rendered alertmanager.yml (undefined when the script refused). */
  readonly config?: string;
  readonly configPath: string;
  readonly settingsPath: string;
}

/** Renders into outDir with only `env` (and PATH) in the environment, as a container would. */
export function renderAlertmanagerConfig(opts: {
  outDir: string;
  secretsDir: string;
  env: Record<string, string>;
  configPath?: string;
  /** A folder of the tools to run with (sh, awk, grep, ...), alone on PATH: e.g. busybox's applets. */
  toolsDir?: string;
}): Rendered {
  const r = spawnSync(
    opts.toolsDir ? join(opts.toolsDir, "sh") : "sh",
    [renderScript, opts.configPath ?? committedConfig, opts.outDir, opts.secretsDir],
    {
      env: { PATH: opts.toolsDir ?? process.env.PATH ?? "/usr/bin:/bin", ...opts.env },
      encoding: "utf8",
      timeout: 10_000,
    },
  );
  const configPath = join(opts.outDir, "alertmanager.yml");
  let config: string | undefined;
  try {
    config = r.status === 0 ? readFileSync(configPath, "utf8") : undefined;
  } catch {
    config = undefined;
  }
  return {
    status: r.status,
    stdout: r.stdout,
    stderr: r.stderr,
    config,
    configPath,
    settingsPath: join(opts.outDir, "settings.tmpl"),
  };
}
