// Raw HTTP/1.1 GET /metrics requests pipelined on one connection, for the exporter's abuse test and the
// abuse benchmark (bench/lib/abuse.ts): both send the same attack and count the same answers.
import { connect } from "node:net";

/**
 * Sends `count` pipelined `GET /metrics` to `url` (the last with Connection: close) and resolves with the
 * status codes of the answers, in order, when all came, the connection closed, or `timeoutMs` passed.
 */
export function pipelinedStatuses(url: string, count: number, timeoutMs: number): Promise<string[]> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const statuses: string[] = [];
    let tail = "";
    const socket = connect(Number(port), hostname, () =>
      socket.write(
        "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n".repeat(count - 1) +
          "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n",
      ),
    );
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(statuses);
    };
    const timer = setTimeout(done, timeoutMs);
    socket.setEncoding("latin1");
    socket.on("data", (d: string) => {
      const text = tail + d;
      for (const m of text.matchAll(/HTTP\/1\.1 (\d{3}) /g)) statuses.push(m[1]!);
      tail = text.slice(-32).replace(/HTTP\/1\.1 \d{3} /g, "");
      if (statuses.length >= count) done();
    });
    socket.on("error", done);
    socket.on("close", done);
  });
}
