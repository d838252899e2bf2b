// Delivers the weekly report by mail: the HTML page with a plain-text alternative, to
// OPS_REPORT_MAIL_TO, through the SMTP server Alertmanager uses. The settings are read from
// Alertmanager's own configuration (`global.smtp_*`) and its password from the same secret file
// (`smtp_auth_password_file`), so there is one SMTP account to configure and rotate, not two.
// nodemailer speaks SMTP (STARTTLS, AUTH, MIME multipart/alternative): a protocol client, not ours to
// rewrite.
import { readFileSync } from "node:fs";
import { secretFileIn, underSecretsMount } from "../../../lib/secrets.ts";
import nodemailer from "nodemailer";
import YAML from "yaml";

interface SmtpSettings {
  readonly host: string;
  readonly port: number;
  readonly from: string;
  readonly username?: string;
  readonly password?: string;
  readonly requireTls: boolean;
  readonly hello?: string;
}

/**
 * `global.smtp_*` of an Alertmanager configuration file; errors name the file and the field. With
 * `secretsDir`, a password file under /run/secrets/ is read from that folder instead: the same file,
 * mounted elsewhere in this container (compose: secrets/alertmanager/ at /run/alertmanager-secrets).
 */
export function readSmtpSettings(path: string, secretsDir?: string): SmtpSettings {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new Error(
      `the SMTP settings file ${path} cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  const g = ((YAML.parse(text) as { global?: Record<string, unknown> } | null)?.global ?? {}) as Record<
    string,
    unknown
  >;
  const str = (k: string) => (typeof g[k] === "string" && g[k] !== "" ? (g[k] as string) : undefined);
  const smarthost = str("smtp_smarthost");
  const from = str("smtp_from");
  if (!smarthost) throw new Error(`${path}: global.smtp_smarthost is not set (the report's mail needs it)`);
  if (!from) throw new Error(`${path}: global.smtp_from is not set (the report's mail needs it)`);
  const m = /^(.*):(\d+)$/.exec(smarthost);
  if (!m) throw new Error(`${path}: global.smtp_smarthost ${JSON.stringify(smarthost)} is not host:port`);
  let password = str("smtp_auth_password");
  const written = str("smtp_auth_password_file");
  const passwordFile =
    written && secretsDir && underSecretsMount(written) ? secretFileIn(written, secretsDir) : written;
  if (passwordFile) {
    try {
      password = readFileSync(passwordFile, "utf8").replace(/\r?\n$/, "");
    } catch (e) {
      throw new Error(
        `${path}: global.smtp_auth_password_file ${written}${passwordFile === written ? "" : ` (here ${passwordFile})`} cannot be read: ${(e as NodeJS.ErrnoException).code ?? "error"}`,
      );
    }
  }
  return {
    host: m[1]!.replace(/^\[(.*)\]$/, "$1"),
    port: Number(m[2]),
    from,
    username: str("smtp_auth_username"),
    password,
    // Alertmanager's default is true: the same here.
    requireTls: g.smtp_require_tls !== false,
    hello: str("smtp_hello"),
  };
}

interface Mail {
  readonly to: readonly string[];
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

/** Sends one message to every recipient; throws one line naming the server on failure. */
export async function sendMail(s: SmtpSettings, mail: Mail): Promise<{ messageId: string }> {
  const transport = nodemailer.createTransport({
    host: s.host,
    port: s.port,
    // 465 is TLS from the first byte; others upgrade with STARTTLS (required unless turned off).
    secure: s.port === 465,
    requireTLS: s.requireTls && s.port !== 465,
    ignoreTLS: !s.requireTls,
    name: s.hello,
    auth: s.username ? { user: s.username, pass: s.password ?? "" } : undefined,
    connectionTimeout: 30_000,
    greetingTimeout: 30_000,
    socketTimeout: 60_000,
  });
  try {
    const info = await transport.sendMail({
      from: s.from,
      to: [...mail.to],
      subject: mail.subject,
      text: mail.text,
      html: mail.html,
    });
    return { messageId: info.messageId };
  } catch (e) {
    throw new Error(`SMTP server ${s.host}:${s.port} did not take the report: ${(e as Error).message}`);
  } finally {
    transport.close();
  }
}
