// The container's HEALTHCHECK: GET /-/healthy on the port the exporter listens on, with Node itself
// (the image has no curl or wget). Exit 0 when it answers 200, 1 otherwise.
//
//   node dist/exporter/src/healthcheck.js
import { loadConfig } from "./config.ts";

const TIMEOUT_MS = 3_000;

async function check(): Promise<number> {
  const { host, port } = loadConfig().listenAddress;
  // An address that listens everywhere is reached on loopback.
  const target =
    host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "[::1]" : host.includes(":") ? `[${host}]` : host;
  try {
    const res = await fetch(`http://${target}:${port}/-/healthy`, {
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    return res.status === 200 ? 0 : 1;
  } catch (e) {
    process.stderr.write(`healthcheck: ${(e as Error).message}\n`);
    return 1;
  }
}

process.exitCode = await check().catch((e: unknown) => {
  process.stderr.write(`healthcheck: ${(e as Error).message}\n`);
  return 1;
});
