// alertmanager/alertmanager.yml as a Prometheus Operator AlertmanagerConfig (monitoring.coreos.com
// v1alpha1): the same routing tree, inhibitions and receivers; every `*_file` secret becomes a
// reference to a key of one Secret, never a value. The Operator scopes the whole tree under a matcher on
// the object's namespace, which is what a namespaced AlertmanagerConfig means.
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { parse, stringify } from "yaml";
import { secretsMount, underSecretsMount } from "../../lib/secrets.ts";

const root = new URL("../..", import.meta.url).pathname;
export const sourcePath = "alertmanager/alertmanager.yml";
/** The Secret holding the receivers' credentials (keys: the secret files' names less "alertmanager_"). */
export const alertmanagerSecret = "kali-agents-alertmanager";

/**
 * In a cluster, every alert of the stack carries these labels (set on each rule of its PrometheusRules,
 * deploy/src/kubernetes.ts), and the AlertmanagerConfig's top route matches the first: only the stack's
 * own alerts reach its receivers, whatever the Operator's matcher strategy. With `None` the Operator
 * adds no matcher, and without this one every alert of the cluster (KubeAPIDown...) would page here;
 * with the chart's default `OnNamespace` it adds `namespace="<the AlertmanagerConfig's namespace>"`,
 * which alerts without a namespace (the Watchdog, absent()) or from another one would miss: the second
 * label gives every one of the stack's alerts the namespace of the stack.
 */
export const stackAlertLabels = (namespace: string) => ({ stack: "kali-agents", namespace }) as const;

type Obj = Record<string, unknown>;
interface Route {
  receiver?: string;
  matchers?: string[];
  group_by?: string[];
  group_wait?: string;
  group_interval?: string;
  repeat_interval?: string;
  continue?: boolean;
  routes?: Route[];
}
export interface Matcher {
  name: string;
  value: string;
  matchType: "=" | "!=" | "=~" | "!~";
}

/** `severity="critical"` -> {name, value, matchType}; anything else is an error naming it. */
export function matcher(text: string): Matcher {
  const m = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*$/.exec(text);
  if (!m) throw new Error(`${sourcePath}: cannot read the matcher ${JSON.stringify(text)}`);
  return { name: m[1]!, matchType: m[2] as Matcher["matchType"], value: JSON.parse(`"${m[3]!}"`) as string };
}

/** A `*_file` path under /run/secrets/ as a reference to a key of the Secret. */
export function secretRef(file: unknown): { name: string; key: string } {
  if (typeof file !== "string" || !underSecretsMount(file))
    throw new Error(`${sourcePath}: a secret file outside ${secretsMount}: ${String(file)}`);
  return { name: alertmanagerSecret, key: basename(file).replace(/^alertmanager_/, "") };
}

function route(r: Route): Obj {
  const out: Obj = {};
  if (r.receiver) out.receiver = r.receiver;
  if (r.matchers) out.matchers = r.matchers.map(matcher);
  if (r.group_by) out.groupBy = r.group_by;
  if (r.group_wait) out.groupWait = r.group_wait;
  if (r.group_interval) out.groupInterval = r.group_interval;
  if (r.repeat_interval) out.repeatInterval = r.repeat_interval;
  if (r.continue !== undefined) out.continue = r.continue;
  if (r.routes) out.routes = r.routes.map(route);
  return out;
}

const kv = (o: unknown) =>
  Object.entries((o ?? {}) as Record<string, string>).map(([key, value]) => ({ key, value }));

/** Fields we convert per receiver type; an unknown field is an error, so nothing is dropped silently. */
function receiver(r: Obj, global: Obj): Obj {
  const out: Obj = { name: r.name };
  const known = new Set(["name", "pagerduty_configs", "slack_configs", "email_configs", "webhook_configs"]);
  for (const k of Object.keys(r))
    if (!known.has(k)) throw new Error(`${sourcePath}: receiver ${String(r.name)}: ${k} is not converted`);
  const check = (what: string, c: Obj, fields: string[]) => {
    for (const k of Object.keys(c))
      if (!fields.includes(k)) throw new Error(`${sourcePath}: ${what}: ${k} is not converted`);
  };
  if (r.pagerduty_configs)
    out.pagerdutyConfigs = (r.pagerduty_configs as Obj[]).map((c) => {
      check("pagerduty_configs", c, [
        "routing_key_file",
        "send_resolved",
        "client",
        "description",
        "severity",
        "details",
        "links",
      ]);
      return {
        routingKey: secretRef(c.routing_key_file),
        sendResolved: c.send_resolved,
        client: c.client,
        description: c.description,
        severity: c.severity,
        details: kv(c.details),
        pagerDutyLinkConfigs: ((c.links ?? []) as { href: string; text: string }[]).map((l) => ({
          href: l.href,
          alt: l.text,
        })),
      };
    });
  if (r.slack_configs)
    out.slackConfigs = (r.slack_configs as Obj[]).map((c) => {
      check("slack_configs", c, ["channel", "send_resolved", "title", "title_link", "text", "color"]);
      return {
        apiURL: secretRef(global.slack_api_url_file),
        channel: c.channel,
        sendResolved: c.send_resolved,
        title: c.title,
        titleLink: c.title_link,
        text: c.text,
        color: c.color,
      };
    });
  if (r.email_configs)
    out.emailConfigs = (r.email_configs as Obj[]).map((c) => {
      check("email_configs", c, ["to", "send_resolved", "headers", "html", "text"]);
      return {
        to: c.to,
        from: global.smtp_from,
        smarthost: global.smtp_smarthost,
        authUsername: global.smtp_auth_username,
        authPassword: secretRef(global.smtp_auth_password_file),
        requireTLS: global.smtp_require_tls,
        sendResolved: c.send_resolved,
        headers: kv(c.headers),
        html: c.html,
        text: c.text,
      };
    });
  if (r.webhook_configs)
    out.webhookConfigs = (r.webhook_configs as Obj[]).map((c) => {
      check("webhook_configs", c, ["url", "send_resolved", "max_alerts", "http_config"]);
      const auth = ((c.http_config ?? {}) as { authorization?: { type: string; credentials_file: string } })
        .authorization;
      return {
        url: c.url,
        sendResolved: c.send_resolved,
        maxAlerts: c.max_alerts,
        ...(auth
          ? {
              httpConfig: {
                authorization: { type: auth.type, credentials: secretRef(auth.credentials_file) },
              },
            }
          : {}),
      };
    });
  return out;
}

export function readSource(): Obj {
  return parse(readFileSync(`${root}${sourcePath}`, "utf8")) as Obj;
}

export function alertmanagerConfig(source: Obj = readSource()): Obj {
  const global = (source.global ?? {}) as Obj;
  const inhibit = (source.inhibit_rules ?? []) as {
    source_matchers: string[];
    target_matchers: string[];
    equal?: string[];
  }[];
  return {
    apiVersion: "monitoring.coreos.com/v1alpha1",
    kind: "AlertmanagerConfig",
    metadata: {
      name: "kali-agents",
      labels: { "app.kubernetes.io/part-of": "kali-agents" },
      annotations: { "kali-agents/source": sourcePath },
    },
    spec: {
      route: {
        ...route(source.route as Route),
        matchers: [{ name: "stack", matchType: "=", value: stackAlertLabels("").stack }],
      },
      inhibitRules: inhibit.map((i) => ({
        sourceMatch: i.source_matchers.map(matcher),
        targetMatch: i.target_matchers.map(matcher),
        ...(i.equal ? { equal: i.equal } : {}),
      })),
      receivers: ((source.receivers ?? []) as Obj[]).map((r) => receiver(r, global)),
    },
  };
}

/** The keys the Secret must hold. */
export function secretKeys(source: Obj = readSource()): string[] {
  const keys = new Set<string>();
  JSON.stringify(alertmanagerConfig(source), (k, v: unknown) => {
    if (v && typeof v === "object" && (v as Obj).name === alertmanagerSecret && "key" in (v as Obj))
      keys.add(String((v as Obj).key));
    return v;
  });
  return [...keys].sort();
}

/**
 * The AlertmanagerConfig the base applies: the routing tree and inhibitions, and the receivers by name
 * only, each delivering nothing (as compose's receivers are off until configured). A receiver with an
 * integration references a key of the Secret, and the Operator skips the whole AlertmanagerConfig when
 * a referenced key is missing: so the base references none, and each receiver the team has is turned
 * on by its component (receiverComponents), which adds its integration back.
 */
export function baseAlertmanagerConfig(source: Obj = readSource()): Obj {
  const full = alertmanagerConfig(source);
  const spec = full.spec as { receivers: Obj[] };
  return { ...full, spec: { ...spec, receivers: spec.receivers.map((r) => ({ name: r.name })) } };
}

/** Where the receivers' components are, under deploy/kubernetes/. */
export const receiverComponentsDir = "components/receivers";

/**
 * One Kustomize Component per receiver (deploy/kubernetes/components/receivers/<name>/): a JSON patch
 * that checks the receiver is at the index it patches (`test`: a reordered alertmanager.yml fails the
 * build instead of configuring the wrong receiver) and adds its integration, as alertmanagerConfig()
 * converts it: with every component, the object is that conversion. Also the Secret keys each needs.
 */
export function receiverComponents(
  source: Obj = readSource(),
): { name: string; kustomization: Obj; patch: Obj[]; secretKeys: string[] }[] {
  const receivers = (alertmanagerConfig(source).spec as { receivers: Obj[] }).receivers;
  return receivers.map((r, i) => {
    const { name, ...integrations } = r;
    const keys = new Set<string>();
    JSON.stringify(integrations, (k, v: unknown) => {
      if (v && typeof v === "object" && (v as Obj).name === alertmanagerSecret && "key" in (v as Obj))
        keys.add(String((v as Obj).key));
      return v;
    });
    return {
      name: String(name),
      kustomization: {
        apiVersion: "kustomize.config.k8s.io/v1alpha1",
        kind: "Component",
        patches: [
          {
            path: "patch.yaml",
            target: {
              group: "monitoring.coreos.com",
              version: "v1alpha1",
              kind: "AlertmanagerConfig",
              name: "kali-agents",
            },
          },
        ],
      },
      patch: [
        { op: "test", path: `/spec/receivers/${i}/name`, value: name },
        ...Object.entries(integrations).map(([field, value]) => ({
          op: "add",
          path: `/spec/receivers/${i}/${field}`,
          value,
        })),
      ],
      secretKeys: [...keys].sort(),
    };
  });
}

/**
 * The README's example: an overlay of `base` (a path from the overlay's folder) for a team with email
 * and the heartbeat only: their two components, and a patch setting their addresses (each `test`
 * first, so a patch never lands on another receiver). deploy/test builds it with kubectl kustomize.
 */
export function exampleOverlay(base: string, components: string): Obj {
  const index = (name: string) => receiverComponents().findIndex((c) => c.name === name) satisfies number;
  const at = (name: string) => `/spec/receivers/${index(name)}`;
  return {
    apiVersion: "kustomize.config.k8s.io/v1beta1",
    kind: "Kustomization",
    resources: [base],
    components: [`${components}/email`, `${components}/heartbeat`],
    patches: [
      {
        target: {
          group: "monitoring.coreos.com",
          version: "v1alpha1",
          kind: "AlertmanagerConfig",
          name: "kali-agents",
        },
        // Kustomize reads an inline patch as text (YAML or JSON).
        patch: stringify([
          { op: "test", path: `${at("email")}/name`, value: "email" },
          { op: "replace", path: `${at("email")}/emailConfigs/0/to`, value: "oncall@team.example.org" },
          {
            op: "replace",
            path: `${at("email")}/emailConfigs/0/from`,
            value: "alertmanager@team.example.org",
          },
          {
            op: "replace",
            path: `${at("email")}/emailConfigs/0/smarthost`,
            value: "smtp.team.example.org:587",
          },
          {
            op: "replace",
            path: `${at("email")}/emailConfigs/0/authUsername`,
            value: "alertmanager@team.example.org",
          },
          { op: "test", path: `${at("heartbeat")}/name`, value: "heartbeat" },
          {
            op: "replace",
            path: `${at("heartbeat")}/webhookConfigs/0/url`,
            value: "https://api.opsgenie.com/v2/heartbeats/team-alerting/ping",
          },
        ]),
      },
    ],
  };
}
