// Log signals alerted in PromQL. The Loki ruler records the log-line rate by source and level and writes
// it to Prometheus (remote write); Prometheus alerts on the ratio. Why not a LogQL alert: the ratio needs
// two scans of every stream each minute in Loki, but costs nothing over a recorded series, which also
// keeps its history for dashboards; and a Prometheus rule notices when the Loki ruler stops recording,
// which no Loki rule can.
import type { RuleGroup } from "../../../definitions/rules.ts";
import { levelRegex, logs } from "../../../definitions/logs.ts";
import { hostLabel, recordings } from "../../../definitions/selectors.ts";
import { thresholds } from "../../../definitions/thresholds.ts";
import { allLogs } from "./logql.ts";

const t = thresholds.logs;
const rate = recordings.logLinesRate;
/** The labels the recording keeps: a source (job + stream or service) on a host, and the level. */
const source = `job, ${hostLabel}, stream, service`;

/** Evaluated by the Loki ruler (LogQL), written to Prometheus. */
export const logRecordingsGroup: RuleGroup = {
  name: "logs-recordings",
  interval: "1m",
  rules: [
    {
      record: rate,
      expr: `sum by (${source}, level) (rate(${allLogs}[5m]))`,
    },
  ],
};

/** Evaluated by Prometheus (PromQL) on what the Loki ruler wrote. */
export const logDerivedAlertsGroup: RuleGroup = {
  name: "logs-derived",
  rules: [
    {
      alert: "LogsErrorRatioHigh",
      // errors.log holds nothing but errors, so its ratio is always 1: it has its own alert in Loki.
      expr:
        `sum by (${source}) (${rate}{stream!="errors", level=~"${levelRegex.errorOrWorse}"})` +
        ` / sum by (${source}) (${rate}{stream!="errors"}) > ${t.errorLevelRatio}` +
        ` and sum by (${source}) (${rate}{stream!="errors"}) > ${t.errorRatioMinLinesPerSecond}`,
      for: "15m",
      severity: "warning",
      summary: "A large share of a source's log lines are errors",
      description: `{{ $value | humanizePercentage }} of the log lines of {{ $labels.job }} {{ $labels.stream }}{{ $labels.service }} are errors (threshold ${t.errorLevelRatio * 100}%) for 15 minutes.`,
    },
    {
      alert: "LokiRecordingRulesAbsent",
      // Loki writes the rate only while the app stream has lines, so this also fires when the application
      // is silent; LogsStreamSilent then fires too, unless Loki itself is the problem.
      expr: `absent(${rate}{job=${JSON.stringify(logs.appJob)}})`,
      for: "15m",
      severity: "warning",
      summary: "Log-derived metrics no longer reach Prometheus",
      description: `Prometheus has received no ${rate} sample for {{ $labels.job }} for 15 minutes: the Loki ruler stopped evaluating, its remote write fails, or the application wrote no log line at all.`,
    },
  ],
};
