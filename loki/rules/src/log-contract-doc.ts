// Generates docs/operations/log-contract.md from the log contract (definitions/logs.ts) alone, so the page
// the application's developers read cannot drift from what the rules, the dashboards and the demo use.
// A row in scripts/generators.ts; test/drift.test.ts fails when the committed file differs.
import {
  eventPipeline,
  levelRegex,
  logEvents,
  logLevels,
  loggers,
  logs,
  logStreams,
  type LogStream,
} from "../../../definitions/logs.ts";

export const path = "docs/operations/log-contract.md";

const code = (s: string) => `\`${s}\``;

export function render(): string {
  const streams = (Object.keys(logStreams) as LogStream[]).map(
    (s) =>
      `| ${code(logStreams[s].file)} | ${code(s)} | ${logStreams[s].holds} | ${logStreams[s].retentionDays} days |`,
  );
  const events = Object.values(logEvents).map(
    (e) =>
      `| ${code(e.name)} | ${code(e.stream)} | ${code(e.level)} | ${e.fields.map(code).join(", ")} | ${e.meaning} |`,
  );
  const loggerRows = Object.entries(loggers).map(([k, v]) => `| ${code(v)} | ${k} |`);
  const failed = logEvents.loginFailed;
  return `<!-- DO NOT EDIT: generated from definitions/logs.ts by \`npm run generate\` (loki/rules/src/log-contract-doc.ts). -->

# The log contract

What the stack expects from the application's logs, and what the demo workload writes. The Loki rules,
the dashboards and the demo take these names from \`definitions/logs.ts\`;
\`loki/test/demo-logs.test.ts\` runs the demo, ships its lines through the Promtail and Alloy pipelines
and checks every LogQL query the repository ships against them. Streams, labels and retention are
explained in [logging.md](logging.md).

## Lines

One JSON object a line, in one of four files of one directory. Every line has \`time\` (RFC 3339),
\`level\`, \`msg\` and \`logger\`; security and audit lines add \`event\` and the fields below.

| file | \`stream\` label | holds | kept |
| --- | --- | --- | --- |
${streams.join("\n")}

Lines carry \`job="${logs.appJob}"\`. Error-level lines are written to their stream and to \`errors.log\`.

A Python application keeps the contract with the package in \`python/kali_agents_logging\` (\`pip install
./python/kali_agents_logging\`): its \`JsonFormatter\` writes these fields (an exception's traceback in
\`exc\`, inside the line), \`log_event()\` writes an event below with its level and fields and refuses
an unknown one, and \`configure()\` attaches the four files. Its \`contract.json\` is generated from
\`definitions/logs.ts\`.

The operations plan's text format, \`%(asctime)s - %(name)s - %(levelname)s - %(message)s\` (asctime like
\`2026-12-07 19:30:01,123\`, read as UTC), is read too: Promtail and Alloy take its time, logger, level
and message, and keep a traceback's lines with the line that logged it. Level panels, the error ratio and
the error stream work for it; the events below need JSON lines (the text format has no \`event\`), so
\`SecurityAuthFailureSpike\` and the security panels count the JSON formatter's lines only.

## Levels

${logLevels.map(code).join(", ")}, lower-case. Other programs write \`warning\`, \`critical\` or \`fatal\`,
so queries take every spelling: \`level=~"${levelRegex.warnOrWorse}"\` for warnings and worse,
\`level=~"${levelRegex.errorOrWorse}"\` for errors.

## Loggers

| \`logger\` | component |
| --- | --- |
${loggerRows.join("\n")}

## Events

| \`event\` | stream | level | fields | meaning |
| --- | --- | --- | --- | --- |
${events.join("\n")}

\`event\`, \`user\`, \`ip\` and the other fields stay in the line, never labels: a query extracts them with
\`| json\`, after a line filter on the event's name, e.g. the failed logins that \`SecurityAuthFailureSpike\`
counts:

\`\`\`logql
{job="${logs.appJob}", stream="${failed.stream}"} ${eventPipeline(failed)}
\`\`\`
`;
}

export function outputs(): Record<string, string> {
  return { [path]: render() };
}
