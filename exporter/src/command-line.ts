// The exporter's command line: it takes no options but --help and --version (its settings are
// environment variables, docs/configuration.md). Anything else is refused, so a mistyped flag never
// starts a server on 0.0.0.0 the caller did not mean to start.
import { stackVersion } from "../../lib/version.ts";
import { variables } from "./config.ts";

export type CommandLine =
  | { readonly action: "run" }
  | { readonly action: "print"; readonly text: string }
  | { readonly action: "refuse"; readonly error: string };

export function helpText(): string {
  const rows = Object.values(variables).map((v) => {
    const name = "file" in v && v.file ? `${v.env} (or ${v.env}_FILE)` : v.env;
    const def = v.default === undefined ? "unset" : v.default === "" ? "empty" : v.default;
    return `  ${name.padEnd(48)} ${def}`;
  });
  return `usage: kali-agents-exporter [--help | --version]
The Kali Agents exporter: host, PostgreSQL, Redis, scan, probe and textfile job metrics on /metrics.
It is configured by environment variables (docs/configuration.md explains each), here with their defaults:
${rows.join("\n")}
Exit status: 0 stopped by SIGTERM or SIGINT (and for --help, --version), 1 an invalid configuration
or a failure to listen, 2 an argument it does not take.`;
}

/** What the arguments (process.argv.slice(2)) ask for. */
export function readCommandLine(argv: readonly string[]): CommandLine {
  if (argv.length === 0) return { action: "run" };
  if (argv.length === 1 && (argv[0] === "--help" || argv[0] === "-h"))
    return { action: "print", text: helpText() };
  if (argv.length === 1 && argv[0] === "--version")
    return { action: "print", text: `kali-agents-exporter ${stackVersion}` };
  const flags = ["--help", "-h", "--version"];
  const bad = argv.find((a) => !flags.includes(a));
  return {
    action: "refuse",
    error:
      bad === undefined
        ? `give one of --help or --version, not ${argv.join(" ")}`
        : `unexpected argument ${JSON.stringify(bad)}: the exporter takes --help or --version only; its settings are environment variables (--help lists them)`,
  };
}
