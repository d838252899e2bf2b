// Test doubles of the receivers' far ends, so a real Alertmanager can deliver to them in tests: an HTTP
// sink (Slack, PagerDuty, webhooks all POST JSON) and a minimal SMTP server. They record what arrives
// and answer success; nothing leaves the machine. Used by the delivery test (alertmanager/test/), the
// native end-to-end test, the scorecard test's mail and `npm run demo:report`.
import { createServer as createHttpServer, type IncomingHttpHeaders } from "node:http";
import { createServer as createTcpServer, type Socket } from "node:net";
import type { AddressInfo } from "node:net";

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  readonly json: unknown;
}

export interface HttpSink {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  readonly requests: RecordedRequest[];
  close(): Promise<void>;
}

/** An HTTP server on a free 127.0.0.1 port that records every request and answers 200 `{"ok":true}`. */
export async function startHttpSink(): Promise<HttpSink> {
  const requests: RecordedRequest[] = [];
  const server = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
      requests.push({ method: req.method ?? "", path: req.url ?? "", headers: req.headers, body, json });
      // Slack's webhook answers the text "ok"; the others take any 2xx. JSON "ok" satisfies both here.
      res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface ReceivedMail {
  readonly from: string;
  readonly to: string[];
  /** AUTH PLAIN credentials the client sent, if any. */
  readonly auth?: { readonly username: string; readonly password: string };
  /** The message as sent (headers and MIME body, dot-unstuffed). */
  readonly raw: string;
  /** The Subject header (RFC 2047 words decoded). */
  readonly subject: string;
  /** The raw message with quoted-printable soft breaks and escapes undone: what a reader sees. */
  readonly text: string;
}

export interface SmtpSink {
  readonly host: string;
  readonly port: number;
  /** host:port, for Alertmanager's smtp_smarthost. */
  readonly hostPort: string;
  readonly mails: ReceivedMail[];
  close(): Promise<void>;
}

/** Undoes quoted-printable: soft line breaks (`=` at a line end) and `=XX` escapes. */
export function decodeQuotedPrintable(s: string): string {
  const bytes = s
    .replace(/=\r?\n/g, "")
    .replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
  return Buffer.from(bytes, "latin1").toString("utf8");
}

function decodeSubject(raw: string): string {
  const unfolded = raw.replace(/\r?\n[ \t]+/g, " ");
  const m = /^Subject: (.*)$/im.exec(unfolded);
  const v = m?.[1] ?? "";
  // RFC 2047 Q or B words (Go's mime encoder uses them for non-ASCII subjects).
  return v.replace(/=\?[^?]+\?([QqBb])\?([^?]*)\?=/g, (_, enc: string, text: string) =>
    enc.toUpperCase() === "B"
      ? Buffer.from(text, "base64").toString("utf8")
      : decodeQuotedPrintable(text.replace(/_/g, " ")),
  );
}

/**
 * A minimal SMTP server (RFC 5321's happy path: EHLO, AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT)
 * on a free 127.0.0.1 port. It offers AUTH PLAIN and no STARTTLS; Go's SMTP client (Alertmanager's)
 * sends PLAIN credentials over plain TCP only to localhost, which this is.
 */
export async function startSmtpSink(): Promise<SmtpSink> {
  const mails: ReceivedMail[] = [];
  const sockets = new Set<Socket>();
  const server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    let buffer = "";
    let inData = false;
    let from = "";
    let to: string[] = [];
    let auth: ReceivedMail["auth"];
    const reply = (line: string) => socket.write(`${line}\r\n`);
    reply("220 kali-smtp-sink ESMTP ready");
    socket.on("data", (chunk: Buffer) => {
      buffer += chunk.toString("latin1");
      for (;;) {
        if (inData) {
          const end = buffer.indexOf("\r\n.\r\n");
          if (end < 0) return;
          const raw = Buffer.from(buffer.slice(0, end).replace(/^\.\./gm, "."), "latin1").toString("utf8");
          buffer = buffer.slice(end + 5);
          inData = false;
          mails.push({
            from,
            to,
            ...(auth ? { auth } : {}),
            raw,
            subject: decodeSubject(raw),
            text: decodeQuotedPrintable(raw),
          });
          from = "";
          to = [];
          reply("250 2.0.0 queued");
          continue;
        }
        const nl = buffer.indexOf("\r\n");
        if (nl < 0) return;
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 2);
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === "EHLO") reply("250-kali-smtp-sink\r\n250-AUTH PLAIN\r\n250 8BITMIME");
        else if (verb === "HELO") reply("250 kali-smtp-sink");
        else if (verb === "AUTH") {
          const [, mech, initial] = line.split(" ");
          if (mech?.toUpperCase() !== "PLAIN" || !initial) {
            reply("504 5.5.4 only AUTH PLAIN with an initial response");
            continue;
          }
          const [, username = "", password = ""] = Buffer.from(initial, "base64")
            .toString("utf8")
            .split("\0");
          auth = { username, password };
          reply("235 2.7.0 authenticated");
        } else if (verb === "MAIL") {
          from = /<([^>]*)>/.exec(line)?.[1] ?? "";
          reply("250 2.1.0 ok");
        } else if (verb === "RCPT") {
          to.push(/<([^>]*)>/.exec(line)?.[1] ?? "");
          reply("250 2.1.5 ok");
        } else if (verb === "DATA") {
          inData = true;
          reply("354 end with <CRLF>.<CRLF>");
        } else if (verb === "RSET") {
          from = "";
          to = [];
          reply("250 2.0.0 ok");
        } else if (verb === "NOOP") reply("250 2.0.0 ok");
        else if (verb === "QUIT") {
          reply("221 2.0.0 bye");
          socket.end();
        } else reply("502 5.5.2 command not implemented");
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: "127.0.0.1",
    port,
    hostPort: `127.0.0.1:${port}`,
    mails,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
