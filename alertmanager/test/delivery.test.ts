// Delivery through the real Alertmanager binary with the committed routing, inhibitions and templates:
// receivers rewritten to local sinks (alertmanager/src/local.ts), alerts posted to its API, and what each
// far end receives checked: the Slack payload, the PagerDuty event, the email, the heartbeat, and the
// warning that a critical alert inhibits never leaving.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { isAlert } from "../../definitions/rules.ts";
import { ruleGroups } from "../../prometheus/rules/src/index.ts";
import type { LinkedAlertRule } from "../../lib/rules/shape.ts";
import {
  requireBinaries,
  startAlertmanager,
  tempDir,
  waitFor,
  type HttpServer,
} from "../../test/support/servers.ts";
import { localAlertmanagerConfig, writeLocalSecrets } from "../src/local.ts";
import { startHttpSink, startSmtpSink, type HttpSink, type SmtpSink } from "../src/sinks.ts";

const configPath = new URL("../alertmanager.yml", import.meta.url).pathname;

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
    const config = localAlertmanagerConfig(readFileSync(configPath, "utf8"), {
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
    assert.equal(payload.channel, "#kali-agents-alerts");
    const [att] = payload.attachments;
    assert.match(att?.title ?? "", /^\[FIRING:1\] PostgresDown \(critical\)$/);
    assert.ok(att?.text.includes(`*${alerts.critical.annotations.summary}*`), att?.text);
    assert.ok(att?.text.includes(alerts.critical.annotations.description), att?.text);
    assert.ok(att?.text.includes(`<${alerts.critical.annotations.runbook_url}|Runbook>`), att?.text);
    assert.match(att?.text ?? "", /<http:\/\/localhost:3000\/dashboards\?tag=kali-agents\|Grafana>/);
    assert.match(att?.title_link ?? "", /^http:\/\/localhost:3000\//);
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
    assert.equal(payload.custom_details.runbook_url, alerts.critical.annotations.runbook_url);
    assert.equal(payload.custom_details.description, alerts.critical.annotations.description);
    const links = event.links as { href: string; text: string }[];
    assert.deepEqual(
      links.map((l) => l.text),
      ["Runbook", "Grafana"],
    );
    assert.equal(links[0]?.href, alerts.critical.annotations.runbook_url);
  });

  test("a warning goes to Slack only, not to PagerDuty or email", async () => {
    assert.deepEqual(await receiversOf("HostHighMemoryUsage"), [["slack"]]);
    assert.ok(text("/slack").includes(alerts.warning.annotations.summary));
    assert.ok(!text("/pagerduty/").includes("HostHighMemoryUsage"));
    assert.ok(!smtp.mails.some((m) => m.text.includes("HostHighMemoryUsage")));
  });

  test("an info alert is mailed (with the SMTP password from its file), and posted nowhere else", async () => {
    assert.deepEqual(await receiversOf("HostRebooted"), [["email"]]);
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
    assert.ok(mail.text.includes(`Runbook: ${alerts.info.annotations.runbook_url}`), mail.text);
    assert.ok(mail.text.includes(`href="${alerts.info.annotations.runbook_url}"`), mail.text);
    assert.ok(mail.text.includes("Grafana: http://localhost:3000/dashboards?tag=kali-agents"), mail.text);
    assert.ok(!text("/slack").includes("HostRebooted"));
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
