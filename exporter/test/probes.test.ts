// The probes collector against local HTTP and TCP servers: status and duration per target, a target
// that accepts and never answers, a refused port, credentials kept out of the label, parallel probing,
// redirects, a TLS target whose certificate does not verify, and the api and mcp_servers checks of /health.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { sample } from "../../test/support/exposition.ts";
import { freePort } from "../../test/support/servers.ts";
import { probeMaxRedirects } from "../../definitions/thresholds.ts";
import { probe, probeHealth, probesCollector, targetLabel } from "../src/collectors/probes.ts";
import { captureLog, collectOnce } from "./collector-support.ts";

test("targetLabel drops credentials, query and fragment", () => {
  assert.equal(targetLabel("http://user:secret@api:8000/health?token=abc#x"), "http://api:8000/health");
  assert.equal(targetLabel("http://api:8000"), "http://api:8000");
  assert.equal(targetLabel("http://api:8000/"), "http://api:8000/");
  assert.equal(targetLabel("tcp://mcp:8101"), "tcp://mcp:8101");
});

describe("probes collector", () => {
  let http: HttpServer;
  let hanging: TcpServer;
  let tcp: TcpServer;
  const held: Socket[] = [];
  let base = "";
  /** A second origin (its own server), for a redirect that leaves the probed one. */
  let otherServer: HttpServer;
  let other = "";
  let hangingUrl = "";
  let tcpUrl = "";
  /** The Authorization header each path was requested with. */
  const authorization = new Map<string, string | undefined>();

  before(async () => {
    http = createHttpServer((req, res) => {
      authorization.set(req.url ?? "", req.headers.authorization);
      if (req.url?.startsWith("/health")) res.writeHead(200).end("ok");
      else if (req.url === "/moved") res.writeHead(301, { location: "/health?from=moved" }).end();
      else if (req.url === "/loop") res.writeHead(302, { location: "/loop" }).end();
      else if (req.url === "/elsewhere")
        res.writeHead(307, { location: `${other}/health?from=elsewhere` }).end();
      else if (req.url === "/slow") setTimeout(() => res.writeHead(200).end("late"), 300);
      else res.writeHead(503).end("down");
    });
    await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(http.address() as { port: number }).port}`;
    otherServer = createHttpServer((req, res) => {
      authorization.set(req.url ?? "", req.headers.authorization);
      res.writeHead(200).end("ok");
    });
    await new Promise<void>((r) => otherServer.listen(0, "127.0.0.1", r));
    other = `http://127.0.0.1:${(otherServer.address() as { port: number }).port}`;
    // Accepts connections and never answers: a hung MCP server.
    hanging = createTcpServer((s) => held.push(s));
    await new Promise<void>((r) => hanging.listen(0, "127.0.0.1", r));
    hangingUrl = `http://127.0.0.1:${(hanging.address() as { port: number }).port}/health`;
    tcp = createTcpServer((s) => s.end());
    await new Promise<void>((r) => tcp.listen(0, "127.0.0.1", r));
    tcpUrl = `tcp://127.0.0.1:${(tcp.address() as { port: number }).port}`;
  });
  after(async () => {
    for (const s of held) s.destroy();
    await Promise.all([http, otherServer, hanging, tcp].map((s) => new Promise((r) => s.close(r))));
  });

  test("follows redirects, sending the URL's credentials to its own origin only, and fails a redirect loop", async () => {
    const signal = new AbortController().signal;
    const withCredentials = (path: string) => `http://probe:pw@${base.slice(7)}${path}`;
    const moved = await probe({ url: withCredentials("/moved"), kind: "api" }, 2000, signal);
    assert.equal(moved.success, true, moved.error);
    assert.equal(moved.httpStatus, 200);
    assert.equal(moved.target, `${base}/moved`);
    assert.equal(
      Buffer.from(authorization.get("/health?from=moved")!.slice(6), "base64").toString(),
      "probe:pw",
    );

    const elsewhere = await probe({ url: withCredentials("/elsewhere"), kind: "mcp" }, 2000, signal);
    assert.equal(elsewhere.success, true, elsewhere.error);
    assert.ok(authorization.has("/health?from=elsewhere"));
    assert.equal(
      authorization.get("/health?from=elsewhere"),
      undefined,
      "credentials sent to another origin",
    );

    const loop = await probe({ url: `${base}/loop`, kind: "mcp" }, 2000, signal);
    assert.equal(loop.success, false);
    assert.equal(loop.error, `more than ${probeMaxRedirects} redirects`);
    assert.equal(loop.httpStatus, 0);
  });

  test("an https target is verified: a self-signed certificate fails the probe and says why", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "probe-tls-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    execFileSync(
      "openssl",
      ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1"].concat(
        ["-subj", "/CN=127.0.0.1", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")],
      ),
      { stdio: "ignore" },
    );
    const seen: string[] = [];
    const tls = createHttpsServer(
      { key: readFileSync(join(dir, "key.pem")), cert: readFileSync(join(dir, "cert.pem")) },
      (req, res) => {
        seen.push(req.url ?? "");
        res.writeHead(200).end("ok");
      },
    );
    await new Promise<void>((r) => tls.listen(0, "127.0.0.1", r));
    t.after(() => new Promise((r) => tls.close(r)));
    const url = `https://127.0.0.1:${(tls.address() as { port: number }).port}/health`;
    const r = await probe({ url, kind: "api" }, 2000, new AbortController().signal);
    assert.equal(r.success, false);
    assert.match(r.error ?? "", /self[- ]signed certificate/);
    assert.deepEqual(seen, [], "the request went out over an unverified connection");
    const tcp = await probe(
      { url: url.replace("https:", "tcp:").replace("/health", ""), kind: "mcp" },
      2000,
      new AbortController().signal,
    );
    assert.equal(tcp.success, true, "the server is up: only the certificate failed");
  });

  test("probes every target in parallel, a hung one failing at its timeout without holding the others", async () => {
    const refused = `tcp://127.0.0.1:${await freePort()}`;
    const { log, lines } = captureLog();
    const collector = probesCollector.create(
      {
        targets: [
          { url: `http://probe:s3cret-pw@${base.slice(7)}/health?token=abc`, kind: "api" },
          { url: hangingUrl, name: "mcp-hung", kind: "mcp" },
          { url: `${base}/broken`, name: "mcp-503", kind: "mcp" },
          { url: tcpUrl, name: "mcp-tcp", kind: "mcp" },
          { url: refused, name: "mcp-refused", kind: "mcp" },
          { url: `${base}/slow`, name: "mcp-slow", kind: "mcp" },
        ],
        timeoutMs: 600,
      },
      log,
    );
    const out = await collectOnce(collector, log, 2000);
    assert.ok(out.ok, out.error?.message);
    // In parallel: about one timeout, not the sum of them.
    assert.ok(out.ms < 1500, `took ${out.ms} ms`);
    const f = out.families;
    const api = { target: `${base}/health`, kind: "api" };
    assert.equal(sample(f, "kali_agents_probe_success", api), 1);
    assert.equal(sample(f, "kali_agents_probe_http_status_code", api), 200);
    assert.ok(sample(f, "kali_agents_probe_duration_seconds", api)! > 0);
    // The URL's credentials went out as Basic authorization, and nowhere else.
    const sent = authorization.get("/health?token=abc");
    assert.equal(sent?.startsWith("Basic "), true);
    assert.equal(Buffer.from(sent!.slice(6), "base64").toString(), "probe:s3cret-pw");
    assert.ok(
      !out.families
        .get("kali_agents_probe_success")!
        .samples.some((s) => s.labels.target?.includes("s3cret")),
    );
    assert.ok(!lines.join("\n").includes("s3cret"));

    const hung = { target: "mcp-hung", kind: "mcp" };
    assert.equal(sample(f, "kali_agents_probe_success", hung), 0);
    assert.equal(sample(f, "kali_agents_probe_http_status_code", hung), 0);
    const hungSeconds = sample(f, "kali_agents_probe_duration_seconds", hung)!;
    assert.ok(hungSeconds >= 0.55 && hungSeconds < 1.2, `hung probe took ${hungSeconds} s`);
    assert.equal(sample(f, "kali_agents_probe_success", { target: "mcp-503" }), 0);
    assert.equal(sample(f, "kali_agents_probe_http_status_code", { target: "mcp-503" }), 503);
    assert.equal(sample(f, "kali_agents_probe_success", { target: "mcp-tcp" }), 1);
    assert.equal(sample(f, "kali_agents_probe_http_status_code", { target: "mcp-tcp" }), 0);
    assert.equal(sample(f, "kali_agents_probe_success", { target: "mcp-refused" }), 0);
    assert.equal(sample(f, "kali_agents_probe_success", { target: "mcp-slow" }), 1);

    const health = collector.health!();
    assert.equal(health.api?.status, "ok");
    assert.equal(health.mcp_servers?.status, "warning");
    assert.equal(health.mcp_servers?.up, 2);
    assert.equal(health.mcp_servers?.total, 5);

    // Each failing target is logged once, not on every scrape.
    await collectOnce(collector, log, 2000);
    assert.equal(lines.filter((l) => l.includes('"mcp-hung"')).length, 1, lines.join("\n"));
  });

  test("a collector deadline shorter than the probe timeout still publishes every target", async () => {
    const { log } = captureLog();
    const collector = probesCollector.create(
      {
        targets: [
          { url: `${base}/health`, kind: "api" },
          { url: hangingUrl, name: "mcp-hung", kind: "mcp" },
        ],
        timeoutMs: 10_000,
      },
      log,
    );
    const out = await collectOnce(collector, log, 700);
    assert.ok(out.ok, out.error?.message);
    assert.ok(out.ms < 1000, `took ${out.ms} ms`);
    assert.equal(sample(out.families, "kali_agents_probe_success", { target: "mcp-hung" }), 0);
    assert.equal(sample(out.families, "kali_agents_probe_success", { kind: "api" }), 1);
  });

  test("health: the API down is down; MCP servers all down is down, some down a warning; slow API a warning", () => {
    const r = (target: string, kind: "api" | "mcp", success: boolean, seconds = 0.01) => ({
      target,
      kind,
      success,
      seconds,
      httpStatus: success ? 200 : 0,
    });
    assert.equal(probeHealth([r("a", "api", false)], 1000).api?.status, "down");
    assert.equal(probeHealth([r("a", "api", true, 2)], 1000).api?.status, "warning");
    assert.equal(probeHealth([r("a", "api", true)], 1000).api?.status, "ok");
    assert.equal(
      probeHealth([r("m1", "mcp", false), r("m2", "mcp", false)], 1000).mcp_servers?.status,
      "down",
    );
    assert.equal(
      probeHealth([r("m1", "mcp", true), r("m2", "mcp", false)], 1000).mcp_servers?.status,
      "warning",
    );
    assert.deepEqual(probeHealth([], 1000), {});
  });
});
