// The log contract (definitions/logs.ts) as the JSON file the Python package reads
// (python/kali_agents_logging/src/kali_agents_logging/contract.json), written by `npm run generate`:
// the package is generated from the contract, never a second copy of it written by hand, and the drift
// check fails when the two differ.
import { logEvents, logLevels, loggers, logs, logStreams } from "../definitions/logs.ts";

export const contractPath = "python/kali_agents_logging/src/kali_agents_logging/contract.json";

export function contract() {
  return {
    generated_from: "definitions/logs.ts",
    app_job: logs.appJob,
    streams: Object.fromEntries(Object.entries(logStreams).map(([k, v]) => [k, { file: v.file }])),
    levels: [...logLevels],
    loggers: { ...loggers },
    events: Object.fromEntries(
      Object.values(logEvents).map((e) => [
        e.name,
        { stream: e.stream, level: e.level, fields: [...e.fields], meaning: e.meaning },
      ]),
    ),
  };
}

export function outputs(): Record<string, string> {
  return { [contractPath]: JSON.stringify(contract(), null, 2) + "\n" };
}
