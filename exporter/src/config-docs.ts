// Generates docs/configuration.md from the variables table in config.ts (a row in
// scripts/generators.ts; test/drift.test.ts fails when the committed file differs).
import { variables } from "./config.ts";

const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

export function outputs(): Record<string, string> {
  const rows = Object.values(variables).map((v) => {
    const name = "file" in v && v.file ? `\`${v.env}\`<br>\`${v.env}_FILE\`` : `\`${v.env}\``;
    const def = v.default === undefined ? "unset" : v.default === "" ? "empty" : `\`${v.default}\``;
    const notes = "secret" in v && v.secret ? " **Secret**: redacted in every log line and error." : "";
    return `| ${name} | ${def} | ${cell(v.description + notes)} |`;
  });
  const md = `<!-- DO NOT EDIT: generated from exporter/src/config.ts by \`npm run generate\`. -->

# Exporter configuration

The exporter reads its configuration once, at start, through one module (\`exporter/src/config.ts\`),
and validates all of it before serving. A bad value stops the start with one line on stderr naming the
variable and the reason, and exit status 1, e.g.:

\`\`\`text
kali-agents-exporter: invalid configuration: EXPORTER_LOG_LEVEL: "verbose" is not one of debug, info, warn, error
\`\`\`

The exporter takes no command-line options but \`--help\` (every variable with its default) and
\`--version\`, which print and exit 0; any other argument exits 2 without serving.

With nothing set, the exporter listens on \`0.0.0.0:9839\` and serves host metrics; every data source
that is not configured (PostgreSQL, Redis, the API, MCP servers, the textfile directory) is simply off.

## Where values come from

Highest priority first:

1. the environment variable;
2. its \`*_FILE\` variant, where there is one: the value is the content of that file, less one final
   newline (for Docker and Kubernetes secrets). Setting both is an error;
3. the same keys in the YAML file named by \`EXPORTER_CONFIG_FILE\` (a mapping from variable names to
   values; a list is accepted where a comma-separated list is);
4. the default.

An empty environment variable counts as unset. Secrets (and the password of any URL) are replaced by
\`[REDACTED]\` in every log line; an error about a secret never shows its value.

The variables the exporter shares with the ops jobs and the demo workload (\`DATABASE_URL\`,
\`REDIS_URL\`, \`SCANS_TABLE\`, \`SCANS_RETENTION_DAYS\`, \`SCAN_QUEUE_KEYS\`, \`REDIS_CACHE_PREFIX\`)
are one row each in \`lib/config/shared.ts\`, with their defaults from \`definitions/application.ts\`:
one \`.env\` means the same to all three, and a value one of them refuses, all refuse (but for one
stricter rule of the ops jobs: their \`DATABASE_URL\` must name its database).

With compose, set any of them in \`.env\` (\`.env.example\` lists them all with their defaults):
\`compose.yaml\` passes each to the exporter, and those the ops jobs and the demo read too
(\`SCANS_TABLE\`, \`SCANS_RETENTION_DAYS\`, \`SCAN_QUEUE_KEYS\`, \`REDIS_CACHE_PREFIX\`) to each of
them with the same value. Compose fixes only the container's own paths and port
(\`EXPORTER_LISTEN_ADDRESS\`, \`EXPORTER_HOST_ROOT\`, \`EXPORTER_TEXTFILE_DIR\`) and takes
\`DATABASE_URL\` and \`REDIS_URL\` from files in \`secrets/exporter/\` (docs/getting-started.md).

## Variables

| variable | default | meaning |
| --- | --- | --- |
${rows.join("\n")}

## Endpoints

| path | answers |
| --- | --- |
| \`/\` | a small page linking the others |
| \`/metrics\` | the Prometheus text format (gzip when the client accepts it); the scrape deadline is \`X-Prometheus-Scrape-Timeout-Seconds\` less \`EXPORTER_SCRAPE_TIMEOUT_MARGIN_SECONDS\`, else \`EXPORTER_SCRAPE_TIMEOUT_SECONDS\` |
| \`/health\` | the health report (JSON): 200 when \`healthy\` or \`degraded\`, 503 when \`unhealthy\` (a check is \`down\`); it reuses a collection younger than 15 s, else runs one |
| \`/-/healthy\` | 200 while the process serves HTTP (liveness; the image's HEALTHCHECK) |
| \`/-/ready\` | 200 once the first collection has completed (started at start-up, bounded by the scrape timeout), 503 before |

Other paths answer 404, other methods 405 (with \`Allow: GET, HEAD\`); errors are JSON \`{"error": "...", "status": N}\`.

## Example YAML file

\`\`\`yaml
EXPORTER_LOG_LEVEL: debug
DATABASE_URL_FILE: /run/secrets/database_url
REDIS_URL_FILE: /run/secrets/redis_url
API_HEALTH_URL: http://api:8000/health
MCP_SERVERS:
  - nmap=http://mcp-nmap:8101/health
  - tcp://mcp-zap:8102
\`\`\`
`;
  return { "docs/configuration.md": md };
}
