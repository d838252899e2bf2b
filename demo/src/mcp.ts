// MCP-like servers: the stack only needs each MCP server's health endpoint to probe (up/down and
// response time per target), so each of these answers GET /health and nothing else.
import { createServer, type Server } from "node:http";
import type { Chaos } from "./chaos.ts";

/** Names the demo gives its MCP servers, by position in DEMO_MCP_PORTS. */
export const mcpNames = ["nmap-mcp", "web-mcp", "exploit-mcp", "recon-mcp"];

export function createMcpServer(name: string, chaos: Chaos): Server {
  const started = Date.now();
  return createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    if (req.method !== "GET" || path !== "/health") {
      res.writeHead(404, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: `no route ${req.method} ${path}` }));
      return;
    }
    const down = chaos.current().mode === "mcp-down";
    res.writeHead(down ? 503 : 200, { "content-type": "application/json" });
    res.end(
      JSON.stringify({
        status: down ? "down" : "ok",
        server: name,
        uptime_seconds: Math.round((Date.now() - started) / 1000),
      }),
    );
  });
}
