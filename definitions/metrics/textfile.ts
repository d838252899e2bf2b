// The textfile collector's own metrics (the files' metrics are the job-metric contract, jobs.ts).
import { def, type MetricDef } from "./metric.ts";

export const textfileMetrics = [
  def("textfile", "node_textfile_mtime_seconds", "gauge", "Unixtime mtime of textfiles successfully read.", [
    "file",
  ]),
  def(
    "textfile",
    "node_textfile_scrape_error",
    "gauge",
    "1 if there was an error opening or reading a file, 0 otherwise.",
  ),
  def(
    "textfile",
    "kali_agents_exporter_textfile_skipped",
    "gauge",
    "`*.prom` files skipped in the last collection, by reason: `not_regular` (a symlink, FIFO, directory or device), `too_large` (over EXPORTER_TEXTFILE_MAX_BYTES), `too_many_series` (past EXPORTER_TEXTFILE_MAX_SERIES), `invalid` (does not parse, or conflicts with another file or the exporter's metrics), `unreadable`.",
    ["reason"],
  ),
] as const satisfies readonly MetricDef[];
