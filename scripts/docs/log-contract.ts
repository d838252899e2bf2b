// docs/operations/log-contract.md: its prose is written in the Markdown file; the tables of streams,
// loggers and events and the example query are written here from the log contract (definitions/logs.ts)
// alone, so the page the application's developers read cannot drift from what the rules, the dashboards
// and the demo use. The names the prose writes out (the job, the levels, their regexes) are checked
// against the contract. A row in scripts/generators.ts; test/drift.test.ts fails when the committed file
// differs.
import {
  eventPipeline,
  levelRegex,
  logEvents,
  logLevels,
  loggers,
  logs,
  logStreams,
  type LogStream,
} from "../../definitions/logs.ts";
import { fillFile } from "./markers.ts";

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
  return fillFile(
    path,
    {
      streams: ["| file | `stream` label | holds | kept |", "| --- | --- | --- | --- |", ...streams].join(
        "\n",
      ),
      loggers: ["| `logger` | component |", "| --- | --- |", ...loggerRows].join("\n"),
      events: [
        "| `event` | stream | level | fields | meaning |",
        "| --- | --- | --- | --- | --- |",
        ...events,
      ].join("\n"),
      "failed-logins": [
        "```logql",
        `{job="${logs.appJob}", stream="${failed.stream}"} ${eventPipeline(failed)}`,
        "```",
      ].join("\n"),
    },
    {
      named: {
        "logs.appJob": `job="${logs.appJob}"`,
        logLevels: logLevels.map(code).join(", "),
        "levelRegex.warnOrWorse": `level=~"${levelRegex.warnOrWorse}"`,
        "levelRegex.errorOrWorse": `level=~"${levelRegex.errorOrWorse}"`,
      },
    },
  );
}

export function outputs(): Record<string, string> {
  return { [path]: render() };
}
