// Delivery through the real Alertmanager binary with the committed routing, inhibitions and templates:
// receivers rewritten to local sinks (test/support/alertmanager-local.ts), alerts posted to its API, and
// what each far end receives checked: the Slack payload, the PagerDuty event, the email, the heartbeat,
// and the warning that a critical alert inhibits never leaving.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parse } from "yaml";
import { isAlert, runbookBaseUrl } from "../../definitions/rules.ts";
import { ruleGroups } from "../../prometheus/rules/src/index.ts";
import type { LinkedAlertRule } from "../../lib/rules/shape.ts";
import {
  requireBinaries,
  startAlertmanager,
  tempDir,
  waitFor,
  type HttpServer,
} from "../../test/support/servers.ts";
import { localAlertmanagerConfig, writeLocalSecrets } from "../../test/support/alertmanager-local.ts";
import { renderAlertmanagerConfig } from "../src/render.ts";
import { startHttpSink, startSmtpSink, type HttpSink, type SmtpSink } from "../../test/support/sinks.ts";

/** The settings an operator writes in .env (compose passes them to render-config.sh). */
const settings = {
  ALERTMANAGER_EMAIL_TO: "oncall@kali-agents.example",
  ALERTMANAGER_SMTP_AUTH_USERNAME: "alertmanager@kali-agents.example",
  ALERTMANAGER_SLACK_CHANNEL: "#kali-oncall",
  GRAFANA_ROOT_URL: "https://grafana.kali.example:8443/",
  RUNBOOK_BASE_URL: "https://wiki.kali.example/ops/runbooks",
};
const grafanaLink = "https://grafana.kali.example:8443/dashboards?tag=kali-agents";
const runbookOf = (alertname: string) => `https://wiki.kali.example/ops/runbooks/${alertname}.md`;

/** An alert as Prometheus would send it, with the annotations of the real rule. */
function alertFrom(name: string, labels: Record<string, string>, description: string) {
  const rule = ruleGroups
    .flatMap((g) => g.rules)
    .find(
      (r): r is LinkedAlertRule =>
        isAlert(r) &&
        r.alert === name &&
        (!r.labels || Object.entries(r.labels).every(([k, v]) => labels[k] === v)),
    );
  if (!rule) throw new Error(`no rule ${name}`);
  return {
    labels: { alertname: name, severity: rule.severity, ...labels },
    annotations: { summary: rule.summary, description, runbook_url: rule.runbookUrl },
    generatorURL: `http://prometheus:9090/graph?g0.expr=${encodeURIComponent(rule.expr)}`,
  };
}

const exporter = { job: "kali-agents-exporter", instance: "exporter:9839" };
const alerts = {
  critical: alertFrom("PostgresDown", exporter, "The exporter exporter:9839 cannot connect to PostgreSQL."),
  warning: alertFrom(
    "HostHighMemoryUsage",
    exporter,
    "exporter:9839 uses 95% of its memory (threshold 90%).",
  ),
  info: alertFrom("HostRebooted", exporter, "exporter:9839 booted 2m 0s ago."),
  watchdog: alertFrom("Watchdog", {}, "Always firing (value 1)."),
  burnPage: alertFrom(
    "ApiErrorBudgetBurn",
    { job: "kali-agents-api", long_window: "1h", short_window: "5m" },
    "kali-agents-api answered 2% of requests with 5xx over the last 1h.",
  ),
  burnTicket: alertFrom(
    "ApiErrorBudgetBurn",
    { job: "kali-agents-api", long_window: "1d", short_window: "2h" },
    "kali-agents-api answered 2% of requests with 5xx over the last 1d.",
  ),
};

/** The cause-and-effect inhibitions of alertmanager.yml: each effect is suppressed while its cause fires. */
const api = { job: "kali-agents-api", instance: "demo:8000" };
const causes = {
  redisDown: alertFrom("RedisDown", exporter, "The exporter exporter:9839 cannot reach Redis."),
  exporterDown: alertFrom("ExporterDown", exporter, "Prometheus cannot scrape the exporter exporter:9839."),
  apiDown: alertFrom(
    "ApiDown",
    { ...exporter, target: "http://demo:8000/health", kind: "api" },
    "The API health check failed.",
  ),
};
const effects = {
  collectorRedis: alertFrom(
    "ExporterCollectorFailing",
    { ...exporter, collector: "redis" },
    "The redis collector fails.",
  ),
  collectorPostgres: alertFrom(
    "ExporterCollectorFailing",
    { ...exporter, collector: "postgres" },
    "The postgres collector fails.",
  ),
  collectorScans: alertFrom(
    "ExporterCollectorFailing",
    { ...exporter, collector: "scans" },
    "The scans collector fails.",
  ),
  apiTarget: alertFrom("PrometheusTargetDown", api, "Prometheus has not been able to scrape demo:8000."),
  backupNoRecord: alertFrom(
    "BackupTooOld",
    { job: "kali-agents-exporter", exported_job: "backup", reason: "no_record" },
    "kali-agents-exporter has published no successful backup.",
  ),
};
/** Alerts like the effects whose cause does not fire: they must stay active. */
const unrelated = {
  collectorHost: alertFrom(
    "ExporterCollectorFailing",
    { ...exporter, collector: "host" },
    "The host collector fails.",
  ),
  lokiTarget: alertFrom(
    "PrometheusTargetDown",
    { job: "loki", instance: "loki:3100" },
    "Prometheus has not been able to scrape loki:3100.",
  ),
};

describe("Alertmanager delivery to local receivers", { skip: requireBinaries("alertmanager") }, () => {
  let http: HttpSink;
  let smtp: SmtpSink;
  let am: HttpServer;
  let secrets: Record<string, string>;
  const secretsDir = tempDir("am-secrets");

  const posts = (prefix: string) => http.requests.filter((r) => r.path.startsWith(prefix));
  const text = (prefix: string) =>
    posts(prefix)
      .map((r) => r.body)
      .join("\n");

  before(async () => {
    [http, smtp] = await Promise.all([startHttpSink(), startSmtpSink()]);
    secrets = writeLocalSecrets(secretsDir, { httpUrl: http.url });
    // Rendered as compose renders it at start, every receiver configured.
    const rendered = renderAlertmanagerConfig({
      outDir: tempDir("am-rendered"),
      secretsDir,
      env: {
        ...settings,
        ALERTMANAGER_SMTP_SMARTHOST: smtp.hostPort,
        ALERTMANAGER_SMTP_REQUIRE_TLS: "false",
      },
    });
    assert.equal(rendered.status, 0, rendered.stderr);
    assert.match(rendered.stdout, /receivers on: pagerduty slack email heartbeat; off: none/);
    const config = localAlertmanagerConfig(rendered.config!, {
      httpUrl: http.url,
      smtpHostPort: smtp.hostPort,
      secretsDir,
      fast: true,
    });
    // Debug level: the notification pipeline's mute stage logs each alert it drops, the positive signal
    // waited for below.
    am = await startAlertmanager(config, { args: ["--log.level=debug"] });
    const res = await fetch(`${am.url}/api/v2/alerts`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify([
        ...Object.values(alerts),
        ...Object.values(causes),
        ...Object.values(effects),
        ...Object.values(unrelated),
      ]),
    });
    assert.equal(res.status, 200, await res.text());
    // Every expected delivery first.
    await waitFor(
      "the Slack, PagerDuty, email and heartbeat deliveries",
      () =>
        text("/slack").includes("PostgresDown") &&
        text("/slack").includes("HostHighMemoryUsage") &&
        text("/slack").includes("ApiErrorBudgetBurn") &&
        text("/pagerduty/").includes("ApiErrorBudgetBurn") &&
        text("/pagerduty/").includes(alerts.critical.annotations.summary) &&
        smtp.mails.length > 0 &&
        posts("/webhook/heartbeat").length > 0,
      60_000,
    );
    // What must never arrive is proven absent after the pipeline has been through it, not after a fixed
    // wait: each aggregation group flushes in turn (a flush returns after its sends, the sinks record a
    // request before answering), and the mute stage logs the alerts it drops for an inhibition. Once every
    // inhibited alert has been logged so, whatever an earlier flush of its group sent is already in the
    // sinks, and every later flush mutes it again while its cause fires.
    const inhibited = (await amAlerts())
      .filter((a) => a.status.inhibitedBy.length > 0)
      .map((a) => `${a.labels.alertname}[${a.fingerprint.slice(0, 7)}]`);
    assert.equal(inhibited.length, 1 + Object.keys(effects).length, inhibited.join(", "));
    // The output is a rolling buffer: what each poll finds is kept.
    const seen = new Set<string>();
    await waitFor(
      "Alertmanager's mute stage to drop every inhibited alert",
      () => {
        for (const l of am.output().split("\n"))
          if (l.includes("muted alerts") && l.includes("reason=inhibition"))
            for (const a of inhibited) if (l.includes(a)) seen.add(a);
        return seen.size === inhibited.length;
      },
      30_000,
    );
  });

  /** Alertmanager's view of the alerts, with the receivers each was routed to. */
  async function amAlerts(filter?: string) {
    const res = await fetch(
      `${am.url}/api/v2/alerts${filter ? `?filter=${encodeURIComponent(filter)}` : ""}`,
    );
    assert.equal(res.status, 200);
    return (await res.json()) as {
      fingerprint: string;
      labels: Record<string, string>;
      receivers: { name: string }[];
      status: { state: string; inhibitedBy: string[] };
    }[];
  }
  const receiversOf = async (alertname: string) =>
    (await amAlerts(`alertname="${alertname}"`)).map((a) => a.receivers.map((r) => r.name).sort());

  after(async () => {
    await am?.cleanup();
    await Promise.all([http?.close(), smtp?.close()]);
  });

  test("a critical alert reaches Slack with its summary, description, runbook and Grafana links", () => {
    const msg = posts("/slack").find((r) => r.body.includes("PostgresDown"));
    assert.ok(msg, text("/slack"));
    const payload = msg.json as {
      channel: string;
      attachments: { title: string; text: string; title_link: string }[];
    };
    assert.equal(payload.channel, "#kali-oncall");
    const [att] = payload.attachments;
    assert.match(att?.title ?? "", /^\[FIRING:1\] PostgresDown \(critical\)$/);
    assert.ok(att?.text.includes(`*${alerts.critical.annotations.summary}*`), att?.text);
    assert.ok(att?.text.includes(alerts.critical.annotations.description), att?.text);
    // The links follow RUNBOOK_BASE_URL and GRAFANA_ROOT_URL (its trailing / dropped).
    assert.ok(att?.text.includes(`<${runbookOf("PostgresDown")}|Runbook>`), att?.text);
    assert.ok(att?.text.includes(`<${grafanaLink}|Grafana>`), att?.text);
    assert.equal(att?.title_link, grafanaLink);
  });

  test("the same critical alert pages PagerDuty with the routing key from its file", () => {
    const event = posts("/pagerduty/pagerduty")
      .map((r) => r.json as Record<string, unknown>)
      .find((e) => JSON.stringify(e).includes("PostgresDown"));
    assert.ok(event, text("/pagerduty/"));
    assert.equal(event.routing_key, secrets.alertmanager_pagerduty_routing_key);
    assert.equal(event.event_action, "trigger");
    const payload = event.payload as {
      summary: string;
      severity: string;
      custom_details: Record<string, string>;
    };
    assert.equal(payload.summary, alerts.critical.annotations.summary);
    assert.equal(payload.severity, "critical");
    assert.equal(payload.custom_details.runbook_url, runbookOf("PostgresDown"));
    assert.equal(payload.custom_details.grafana_url, grafanaLink);
    assert.equal(payload.custom_details.description, alerts.critical.annotations.description);
    const links = event.links as { href: string; text: string }[];
    assert.deepEqual(
      links.map((l) => l.text),
      ["Runbook", "Grafana"],
    );
    assert.equal(links[0]?.href, runbookOf("PostgresDown"));
    assert.equal(links[1]?.href, grafanaLink);
  });

  test("a warning goes to Slack and by email, not to PagerDuty", async () => {
    assert.deepEqual(await receiversOf("HostHighMemoryUsage"), [["email", "slack"]]);
    assert.ok(text("/slack").includes(alerts.warning.annotations.summary));
    assert.ok(!text("/pagerduty/").includes("HostHighMemoryUsage"));
    await waitFor(
      "the warning's mail",
      () => smtp.mails.some((m) => m.subject.includes("HostHighMemoryUsage")),
      30_000,
    );
  });

  test("an info alert is mailed (with the SMTP password from its file) and posted to Slack, never paged", async () => {
    assert.deepEqual(await receiversOf("HostRebooted"), [["email", "slack"]]);
    const mail = smtp.mails.find((m) => m.subject.includes("HostRebooted"));
    assert.ok(mail, smtp.mails.map((m) => m.subject).join(", "));
    assert.equal(mail.subject, "[FIRING:1] HostRebooted (info)");
    assert.deepEqual(mail.to, ["oncall@kali-agents.example"]);
    assert.deepEqual(mail.auth, {
      username: "alertmanager@kali-agents.example",
      password: secrets.alertmanager_smtp_password,
    });
    assert.ok(mail.text.includes(alerts.info.annotations.summary), mail.text);
    assert.ok(mail.text.includes(alerts.info.annotations.description), mail.text);
    assert.ok(mail.text.includes(`Runbook: ${runbookOf("HostRebooted")}`), mail.text);
    assert.ok(mail.text.includes(`href="${runbookOf("HostRebooted")}"`), mail.text);
    assert.ok(mail.text.includes(`Grafana: ${grafanaLink}`), mail.text);
    assert.ok(!mail.text.includes("localhost:3000"), mail.text);
    await waitFor("the info alert on Slack", () => text("/slack").includes("HostRebooted"), 30_000);
    assert.ok(!text("/pagerduty/").includes("HostRebooted"));
  });

  test("the Watchdog reaches the heartbeat, with its key from the file, and nothing else", async () => {
    assert.deepEqual(await receiversOf("Watchdog"), [["heartbeat"]]);
    const beat = posts("/webhook/heartbeat")[0];
    assert.ok(beat);
    assert.equal(beat.headers.authorization, `GenieKey ${secrets.alertmanager_heartbeat_api_key}`);
    const body = beat.json as { alerts: { labels: Record<string, string> }[] };
    assert.deepEqual(
      body.alerts.map((a) => a.labels.alertname),
      ["Watchdog"],
    );
    assert.deepEqual(
      http.requests
        .filter((r) => !r.path.startsWith("/webhook/heartbeat"))
        .filter((r) => r.body.includes("Watchdog")),
      [],
    );
    assert.ok(!smtp.mails.some((m) => m.text.includes("Watchdog")));
    assert.ok(posts("/webhook/").every((r) => r.path === "/webhook/heartbeat"));
  });

  test("the critical burn-rate alert inhibits the warning one with the same labels: it is never delivered", async () => {
    assert.ok(text("/slack").includes("ApiErrorBudgetBurn (critical)"));
    assert.ok(!text("/slack").includes("ApiErrorBudgetBurn (warning)"), text("/slack"));
    assert.ok(!text("/slack").includes('"1d"') && !text("/slack").includes("long_window=1d"), text("/slack"));
    // Alertmanager's own view: the ticket is suppressed, inhibited by the page.
    const list = await amAlerts('alertname="ApiErrorBudgetBurn"');
    const ticket = list.find((a) => a.labels.long_window === "1d");
    const page = list.find((a) => a.labels.long_window === "1h");
    assert.equal(ticket?.status.state, "suppressed");
    assert.equal(ticket?.status.inhibitedBy.length, 1);
    assert.equal(page?.status.state, "active");
  });

  test("each cause mutes the alerts it causes (and only those)", async () => {
    const list = await amAlerts();
    const stateOf = (a: { labels: Record<string, string> }) =>
      list.find((x) => Object.entries(a.labels).every(([k, v]) => x.labels[k] === v))?.status.state;
    for (const [name, a] of Object.entries(effects)) assert.equal(stateOf(a), "suppressed", name);
    for (const [name, a] of Object.entries(unrelated)) assert.equal(stateOf(a), "active", name);
    for (const [name, a] of Object.entries(causes)) assert.equal(stateOf(a), "active", name);
    // A suppressed alert is never sent; the unrelated ones are.
    assert.ok(!text("/slack").includes("demo:8000 ("), text("/slack"));
    assert.ok(!text("/pagerduty/").includes("BackupTooOld"));
    assert.ok(!text("/slack").includes("collector=postgres"), text("/slack"));
    await waitFor(
      "the unrelated collector alert on Slack",
      () => text("/slack").includes("collector=host"),
      30_000,
    );
  });
});

describe("Alertmanager delivery for an email-only team", { skip: requireBinaries("alertmanager") }, () => {
  // Only the SMTP relay and its password: the Slack, PagerDuty and heartbeat secret files are as
  // secrets-init leaves them, empty.
  let http: HttpSink;
  let smtp: SmtpSink;
  let am: HttpServer;
  let rendered: ReturnType<typeof renderAlertmanagerConfig>;
  const secretsDir = tempDir("am-secrets-email");

  before(async () => {
    [http, smtp] = await Promise.all([startHttpSink(), startSmtpSink()]);
    const all = writeLocalSecrets(secretsDir, { httpUrl: http.url });
    for (const name of Object.keys(all))
      if (name !== "alertmanager_smtp_password") writeFileSync(join(secretsDir, name), "");
    rendered = renderAlertmanagerConfig({
      outDir: tempDir("am-rendered-email"),
      secretsDir,
      env: {
        ALERTMANAGER_EMAIL_TO: "team@example.org, lead@example.org",
        ALERTMANAGER_SMTP_SMARTHOST: smtp.hostPort,
        ALERTMANAGER_SMTP_REQUIRE_TLS: "false",
        ALERTMANAGER_SMTP_AUTH_USERNAME: "relay-user",
        GRAFANA_ROOT_URL: "http://grafana.team.internal",
      },
    });
    assert.equal(rendered.status, 0, rendered.stderr);
    const config = localAlertmanagerConfig(rendered.config!, {
      httpUrl: http.url,
      smtpHostPort: smtp.hostPort,
      secretsDir,
      fast: true,
    });
    am = await startAlertmanager(config);
    const res = await fetch(`${am.url}/api/v2/alerts`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify([alerts.critical, alerts.warning, alerts.info, alerts.watchdog]),
    });
    assert.equal(res.status, 200, await res.text());
    await waitFor(
      "the critical, warning and info mails",
      () =>
        ["PostgresDown", "HostHighMemoryUsage", "HostRebooted"].every((a) =>
          smtp.mails.some((m) => m.subject.includes(a)),
        ),
      60_000,
    );
  });

  after(async () => {
    await am?.cleanup();
    await Promise.all([http?.close(), smtp?.close()]);
  });

  test("the rendered configuration turns the unconfigured receivers off, and says so", () => {
    assert.match(
      rendered.stdout,
      /receivers on: email; off: pagerduty \(secrets\/alertmanager\/alertmanager_pagerduty_routing_key is empty\); slack \(.*\); heartbeat \(.*\);/,
    );
    const doc = parse(rendered.config!) as { receivers: Record<string, unknown>[] };
    assert.deepEqual(
      doc.receivers.map((r) => [r.name, Object.keys(r).filter((k) => k.endsWith("_configs"))]),
      [
        ["pagerduty", []],
        ["slack", []],
        ["email", ["email_configs"]],
        ["heartbeat", []],
      ],
    );
  });

  test("every critical and warning alert is mailed to the team, with the links of its settings", () => {
    for (const [name, severity] of [
      ["PostgresDown", "critical"],
      ["HostHighMemoryUsage", "warning"],
    ] as const) {
      const mail = smtp.mails.find((m) => m.subject.includes(name));
      assert.ok(mail, `${name}: ${smtp.mails.map((m) => m.subject).join(", ")}`);
      assert.equal(mail.subject, `[FIRING:1] ${name} (${severity})`);
      assert.deepEqual(mail.to, ["team@example.org", "lead@example.org"]);
      assert.equal(mail.auth?.username, "relay-user");
      assert.ok(mail.text.includes("Grafana: http://grafana.team.internal/dashboards?tag=kali-agents"));
      // No RUNBOOK_BASE_URL: the rule's runbook_url (relative: `<Alert>.md`) joined to the default base.
      const ref = (name === "PostgresDown" ? alerts.critical : alerts.warning).annotations.runbook_url;
      assert.equal(ref, `${name}.md`);
      assert.ok(mail.text.includes(`Runbook: ${runbookBaseUrl}/${name}.md`), mail.text);
      assert.ok(mail.text.includes(`href="${runbookBaseUrl}/${name}.md"`), mail.text);
    }
  });

  test("nothing is sent to, or fails for, the receivers the team does not have", async () => {
    // The Watchdog's route ends at the heartbeat receiver, which is off: no mail for it either.
    assert.ok(!smtp.mails.some((m) => m.text.includes("Watchdog")));
    assert.deepEqual(http.requests, []);
    const metrics = await (await fetch(`${am.url}/metrics`)).text();
    const failed = [...metrics.matchAll(/^alertmanager_notifications_failed_total\{[^}]*\} (\S+)$/gm)];
    assert.ok(failed.length > 0, "alertmanager_notifications_failed_total is published");
    assert.deepEqual(
      failed.filter((m) => Number(m[1]) !== 0).map((m) => m[0]),
      [],
    );
    const sent = /^alertmanager_notifications_total\{integration="email"[^}]*\} (\S+)$/m.exec(metrics);
    assert.ok(sent && Number(sent[1]) >= 3, sent?.[0]);
  });
});
