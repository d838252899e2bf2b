// LogQL helpers for the Loki rules: stream selectors built from the shared log labels, so a rule can only
// select on a label the agents attach (the consistency test proves it against promtail.yaml and
// config.alloy), and a stream name that is not one of the four does not compile.
import { logs, type LogStream } from "../../../definitions/logs.ts";

type LogLabel = (typeof logs.labels)[number];

/** `{label="value", ...}` from equality matchers on the agents' labels. */
export function streamSelector(matchers: Partial<Record<LogLabel, string>>): string {
  const parts = Object.entries(matchers).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  if (parts.length === 0) throw new Error("a LogQL stream selector needs at least one matcher");
  return `{${parts.join(", ")}}`;
}

/** One of the application's four streams. */
export const appStream = (stream: LogStream): string => streamSelector({ job: logs.appJob, stream });

/** Every line the agents ship: the application's files and the containers. */
export const allLogs = `{job=~${JSON.stringify(`${logs.appJob}|${logs.containerJob}`)}}`;

/** A Prometheus/LogQL range literal in whole minutes from seconds, e.g. 900 -> "15m". */
export function minutes(seconds: number): `${number}m` {
  if (!Number.isInteger(seconds / 60) || seconds <= 0)
    throw new Error(`${seconds}s is not a positive whole number of minutes`);
  return `${seconds / 60}m`;
}
