// The probes of the API and the MCP servers (the probes collector).
import { def, type MetricDef } from "./metric.ts";

export const probeMetrics = [
  def(
    "probes",
    "kali_agents_probe_success",
    "gauge",
    "Whether the last probe of the target succeeded (1) or not (0).",
    ["target", "kind"],
  ),
  def("probes", "kali_agents_probe_duration_seconds", "gauge", "Duration of the last probe of the target.", [
    "target",
    "kind",
  ]),
  def(
    "probes",
    "kali_agents_probe_http_status_code",
    "gauge",
    "HTTP status code of the last probe (0 for TCP probes and for failures before a response).",
    ["target", "kind"],
  ),
] as const satisfies readonly MetricDef[];
