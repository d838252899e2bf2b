// The API's and the MCP servers' reachability, from the exporter's probes (blackbox-style).
import type { RuleGroup } from "../../../definitions/rules.ts";
import { jobs, probeKinds } from "../../../definitions/selectors.ts";
import { eq, series } from "../../../lib/promql.ts";

const apiProbe = [eq("job", jobs.exporter), eq("kind", probeKinds.api)];
const mcpProbe = [eq("job", jobs.exporter), eq("kind", probeKinds.mcp)];

export const probesGroup: RuleGroup = {
  name: "probes",
  rules: [
    {
      alert: "ApiDown",
      expr: `${series("kali_agents_probe_success", ...apiProbe)} == 0`,
      for: "2m",
      severity: "critical",
      summary: "Kali Agents API is down",
      description: `The API health check {{ $labels.target }} has failed for 2 minutes: users cannot start or read scans.`,
    },
    {
      alert: "McpServerDown",
      // A warning, not a page: scans using the other tools still run.
      expr: `${series("kali_agents_probe_success", ...mcpProbe)} == 0`,
      for: "5m",
      severity: "warning",
      summary: "An MCP server is down",
      description: `The MCP server {{ $labels.target }} has failed its health check for 5 minutes: scans that use its tools fail.`,
    },
  ],
};
