// The exporter's metrics about itself (the exporter collector).
import { def, type MetricDef } from "./metric.ts";

export const exporterMetrics = [
  def(
    "exporter",
    "kali_agents_exporter_collector_success",
    "gauge",
    "Whether the collector succeeded (1) or failed or overran its deadline (0) in the last collection.",
    ["collector"],
  ),
  def(
    "exporter",
    "kali_agents_exporter_collector_duration_seconds",
    "gauge",
    "Duration of the collector in the last collection.",
    ["collector"],
  ),
  def(
    "exporter",
    "kali_agents_exporter_collections_total",
    "counter",
    "Collections run (shared by concurrent scrapes).",
  ),
  def("exporter", "kali_agents_exporter_scrapes_total", "counter", "Requests answered on /metrics."),
  def(
    "exporter",
    "kali_agents_exporter_requests_rejected_total",
    "counter",
    "Requests answered 503 (with Retry-After) because EXPORTER_MAX_IN_FLIGHT_REQUESTS were already being handled.",
  ),
  def("exporter", "kali_agents_exporter_build_info", "gauge", "The exporter's version and Node.js version.", [
    "version",
    "nodejs_version",
  ]),
] as const satisfies readonly MetricDef[];
