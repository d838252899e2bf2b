// Rewrites the committed alertmanager.yml so that a real Alertmanager delivers to local sinks instead of
// Slack, PagerDuty, an SMTP relay and the heartbeat service, with everything else (routes, inhibitions,
// templates, the *_file secrets) unchanged: a test double of the receivers, paired with the sinks of
// test/support/sinks.ts. The delivery test (alertmanager/test/), the native and container end-to-end
// tests and `npm run demo:report` run the committed routing this way, so what they prove holds for the
// file compose runs.
import { readdirSync, writeFileSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import YAML from "yaml";
import { secretFileIn, secretsMount, underSecretsMount } from "../../lib/secrets.ts";

export interface LocalSinks {
  /** Base URL of an HTTP sink: PagerDuty posts to <httpUrl>/pagerduty/<receiver>, webhooks to
   * <httpUrl>/webhook/<receiver>; Slack posts where the Slack secret file says (see localSecrets). */
  readonly httpUrl: string;
  /** host:port of an SMTP sink. */
  readonly smtpHostPort: string;
  /** Folder holding the secret files, named as under /run/secrets/ (localSecrets writes them). */
  readonly secretsDir: string;
  /** Folder of the notification templates; default: this repository's alertmanager/templates. */
  readonly templatesDir?: string;
  /** Seconds instead of minutes for group_wait/group_interval, so tests see notifications at once. */
  readonly fast?: boolean;
}

export const defaultTemplatesDir = new URL("../../alertmanager/templates", import.meta.url).pathname;

/** The test values of the secret files, by file name. The Slack one is the URL Slack posts to. */
export function localSecrets(sinks: Pick<LocalSinks, "httpUrl">): Record<string, string> {
  return {
    alertmanager_slack_api_url: `${sinks.httpUrl}/slack`,
    alertmanager_pagerduty_routing_key: "local-pagerduty-routing-key",
    alertmanager_smtp_password: "local-smtp-password",
    alertmanager_heartbeat_api_key: "local-heartbeat-key",
  };
}

/** Writes localSecrets() into `dir` (mode 0600, as real secret files should be). */
export function writeLocalSecrets(dir: string, sinks: Pick<LocalSinks, "httpUrl">): Record<string, string> {
  const secrets = localSecrets(sinks);
  for (const [name, value] of Object.entries(secrets)) writeFileSync(join(dir, name), value, { mode: 0o600 });
  return secrets;
}

type Node = Record<string, unknown>;
const isNode = (v: unknown): v is Node => typeof v === "object" && v !== null && !Array.isArray(v);

/** Points every `*_file` under /run/secrets/ at secretsDir; a secret file anywhere else is a mistake. */
function remapSecretFiles(node: unknown, secretsDir: string, path: string): void {
  if (Array.isArray(node)) node.forEach((v, i) => remapSecretFiles(v, secretsDir, `${path}[${i}]`));
  if (!isNode(node)) return;
  for (const [k, v] of Object.entries(node)) {
    if (/_file$/.test(k) && typeof v === "string") {
      if (!underSecretsMount(v))
        throw new Error(`${path}.${k} is ${v}: secret files must live under ${secretsMount}`);
      node[k] = secretFileIn(v, secretsDir);
    } else remapSecretFiles(v, secretsDir, `${path}.${k}`);
  }
}

function speedUp(route: Node): void {
  if ("group_wait" in route) route.group_wait = "1s";
  if ("group_interval" in route) route.group_interval = "2s";
  for (const r of (route.routes as Node[] | undefined) ?? []) speedUp(r);
}

/** The committed config, rewritten for local sinks (see LocalSinks). Throws naming what it cannot map. */
export function localAlertmanagerConfig(yamlText: string, sinks: LocalSinks): string {
  const doc: unknown = YAML.parse(yamlText);
  if (!isNode(doc) || !isNode(doc.global) || !isNode(doc.route) || !Array.isArray(doc.receivers))
    throw new Error("alertmanager config: expected global, route and receivers");
  const global = doc.global;
  global.smtp_smarthost = sinks.smtpHostPort;
  // The sink speaks plain SMTP; the committed config requires TLS towards the real relay.
  global.smtp_require_tls = false;
  remapSecretFiles(doc, sinks.secretsDir, "config");

  const templatesDir = sinks.templatesDir ?? defaultTemplatesDir;
  if (Array.isArray(doc.templates)) {
    const files = readdirSync(templatesDir).filter((f) => f.endsWith(".tmpl"));
    if (files.length === 0) throw new Error(`no *.tmpl in ${templatesDir}`);
    doc.templates = (doc.templates as string[]).map((t) =>
      isAbsolute(t) ? t : join(templatesDir, t.replace(/^templates\//, "")),
    );
  }

  for (const r of doc.receivers as Node[]) {
    const name = String(r.name);
    for (const c of (r.pagerduty_configs as Node[] | undefined) ?? [])
      c.url = `${sinks.httpUrl}/pagerduty/${name}`;
    for (const c of (r.webhook_configs as Node[] | undefined) ?? [])
      c.url = `${sinks.httpUrl}/webhook/${name}`;
    for (const c of (r.slack_configs as Node[] | undefined) ?? [])
      if (c.api_url !== undefined) throw new Error(`receiver ${name}: slack api_url must come from a file`);
    const other = Object.keys(r).filter(
      (k) =>
        k.endsWith("_configs") &&
        !["pagerduty_configs", "webhook_configs", "slack_configs", "email_configs"].includes(k),
    );
    if (other.length) throw new Error(`receiver ${name}: no local sink for ${other.join(", ")}`);
  }
  if (sinks.fast) {
    speedUp(doc.route);
    global.resolve_timeout = "10s";
  }
  return `# Generated for local sinks by test/support/alertmanager-local.ts from alertmanager/alertmanager.yml.\n${YAML.stringify(doc, { aliasDuplicateObjects: false, lineWidth: 0 })}`;
}
