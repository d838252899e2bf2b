// The receivers' far ends for the container tests: an HTTP server in the test's own compose project
// (service `sink`, test/containers/sink.compose.yaml) that Alertmanager posts Slack, PagerDuty and
// webhook notifications to. It records each request and answers 200 {"ok":true} (Slack's "ok" and
// PagerDuty's 2xx both accepted); GET /requests returns what it recorded, for the test. Plain
// JavaScript on the node image alone: nothing to install, nothing leaves the compose network.
import { createServer } from "node:http";

const requests = [];
const maxBody = 1 << 20;
const maxRequests = 10_000;

createServer((req, res) => {
  if (req.method === "GET" && req.url === "/requests") {
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(requests));
    return;
  }
  const chunks = [];
  let size = 0;
  req.on("data", (c) => {
    size += c.length;
    if (size <= maxBody) chunks.push(c);
  });
  req.on("end", () => {
    if (requests.length < maxRequests)
      requests.push({
        at: Date.now(),
        method: req.method,
        path: req.url,
        body: Buffer.concat(chunks).toString("utf8"),
      });
    res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');
  });
}).listen(8080, "0.0.0.0", () => console.log("sink: listening on :8080"));

process.on("SIGTERM", () => process.exit(0));
