// alertmanager/render-config.sh, the script compose runs before Alertmanager at every start, run here
// with sh as the container runs it: the settings of .env and the secret files give the configuration
// Alertmanager runs, amtool checks it and routes alerts through it for several teams (every receiver,
// email only, Slack only), and a value that does not fit is refused with one line, rendering nothing.
import assert from "node:assert/strict";
import { existsSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { parse } from "yaml";
import { findBinary, requireBinaries, run, tempDir } from "../../test/support/servers.ts";
import { runbookBaseUrl } from "../../definitions/rules.ts";
import { renderAlertmanagerConfig } from "../src/render.ts";

const receiverSecrets = {
  pagerduty: "alertmanager_pagerduty_routing_key",
  slack: "alertmanager_slack_api_url",
  heartbeat: "alertmanager_heartbeat_api_key",
} as const;

/** A secrets folder as secrets-init leaves it, with the named receivers' files filled. */
function secretsWith(filled: (keyof typeof receiverSecrets)[]): string {
  const dir = tempDir("am-render-secrets");
  for (const [receiver, file] of Object.entries(receiverSecrets))
    writeFileSync(
      join(dir, file),
      filled.includes(receiver as keyof typeof receiverSecrets) ? "value\n" : "",
    );
  writeFileSync(join(dir, "alertmanager_smtp_password"), "");
  return dir;
}

function render(env: Record<string, string>, filled: (keyof typeof receiverSecrets)[]) {
  const outDir = tempDir("am-render-out");
  return { outDir, ...renderAlertmanagerConfig({ outDir, secretsDir: secretsWith(filled), env }) };
}

const emailEnv = {
  ALERTMANAGER_EMAIL_TO: "team@example.org",
  ALERTMANAGER_SMTP_SMARTHOST: "mail.example.org:587",
};
const teams = {
  "every receiver": { env: emailEnv, filled: ["pagerduty", "slack", "heartbeat"] as const },
  "email only": { env: emailEnv, filled: [] as const },
  "Slack only": { env: {}, filled: ["slack"] as const },
  "PagerDuty and the heartbeat": { env: {}, filled: ["pagerduty", "heartbeat"] as const },
};

/** Alert labels -> the receivers that deliver (routed to, with an integration), per team. */
const expected: Record<keyof typeof teams, Record<string, string[]>> = {
  "every receiver": {
    critical: ["pagerduty", "slack", "email"],
    warning: ["slack", "email"],
    info: ["slack", "email"],
    Watchdog: ["heartbeat"],
  },
  "email only": { critical: ["email"], warning: ["email"], info: ["email"], Watchdog: [] },
  "Slack only": { critical: ["slack"], warning: ["slack"], info: ["slack"], Watchdog: [] },
  "PagerDuty and the heartbeat": { critical: ["pagerduty"], warning: [], info: [], Watchdog: ["heartbeat"] },
};
const labelsOf: Record<string, string[]> = {
  critical: ["alertname=PostgresDown", "severity=critical", "job=kali-agents-exporter"],
  warning: ["alertname=HostHighMemoryUsage", "severity=warning", "job=kali-agents-exporter"],
  info: ["alertname=HostRebooted", "severity=info"],
  Watchdog: ["alertname=Watchdog", "severity=info"],
};

const refused: [Record<string, string>, RegExp][] = [
  [
    { GRAFANA_ROOT_URL: "http://g.example.org/{{ .Alerts }}" },
    /^render-config: GRAFANA_ROOT_URL: not an http\(s\) URL/,
  ],
  [{ GRAFANA_ROOT_URL: "javascript:alert(1)" }, /^render-config: GRAFANA_ROOT_URL: /],
  [{ RUNBOOK_BASE_URL: 'https://x.example/"><script>' }, /^render-config: RUNBOOK_BASE_URL: /],
  [{ RUNBOOK_BASE_URL: "https://x.example/a b" }, /^render-config: RUNBOOK_BASE_URL: /],
  [
    { ALERTMANAGER_HEARTBEAT_URL: "https://x.example/\nsmtp_smarthost: evil:25" },
    /^render-config: ALERTMANAGER_HEARTBEAT_URL: /,
  ],
  [
    { ...emailEnv, ALERTMANAGER_EMAIL_TO: "team@example.org\n  smtp_smarthost: evil.example:25" },
    /^render-config: ALERTMANAGER_EMAIL_TO: not comma-separated e-mail addresses/,
  ],
  [{ ...emailEnv, ALERTMANAGER_EMAIL_TO: '"x"@example.org' }, /^render-config: ALERTMANAGER_EMAIL_TO: /],
  [
    { ALERTMANAGER_EMAIL_TO: "team@example.org" },
    /^render-config: ALERTMANAGER_EMAIL_TO is set but ALERTMANAGER_SMTP_SMARTHOST is not/,
  ],
  [
    { ALERTMANAGER_SMTP_SMARTHOST: "mail.example.org" },
    /^render-config: ALERTMANAGER_SMTP_SMARTHOST: not host:port\n$/,
  ],
  [{ ALERTMANAGER_SMTP_FROM: "Alerts <a@example.org>" }, /^render-config: ALERTMANAGER_SMTP_FROM: /],
  [{ ALERTMANAGER_SMTP_AUTH_USERNAME: "a b" }, /^render-config: ALERTMANAGER_SMTP_AUTH_USERNAME: /],
  [
    { ALERTMANAGER_SMTP_REQUIRE_TLS: "yes" },
    /^render-config: ALERTMANAGER_SMTP_REQUIRE_TLS: not true or false\n$/,
  ],
  [{ ALERTMANAGER_SLACK_CHANNEL: '#ops"\n  x: y' }, /^render-config: ALERTMANAGER_SLACK_CHANNEL: /],
];

describe("render-config.sh: what Alertmanager runs in compose", { skip: requireBinaries("amtool") }, () => {
  for (const [team, t] of Object.entries(teams) as [keyof typeof teams, (typeof teams)[keyof typeof teams]][])
    test(`${team}: amtool checks the rendered configuration, and each severity reaches ${JSON.stringify(expected[team])}`, () => {
      const r = render(t.env, [...t.filled]);
      assert.equal(r.status, 0, r.stderr);
      const check = run("amtool", ["check-config", r.configPath]);
      assert.equal(check.status, 0, check.stdout + check.stderr);
      assert.match(check.stdout, /2 templates/);
      const doc = parse(r.config!) as { receivers: Record<string, unknown>[] };
      const live = new Set(
        doc.receivers
          .filter((x) => Object.keys(x).some((k) => k.endsWith("_configs")))
          .map((x) => String(x.name)),
      );
      for (const [what, labels] of Object.entries(labelsOf)) {
        const routed = run("amtool", ["config", "routes", "test", "--config.file", r.configPath, ...labels]);
        assert.equal(routed.status, 0, routed.stderr);
        const names = routed.stdout.trim().split(",").filter(Boolean);
        assert.deepEqual(
          names.filter((n) => live.has(n)),
          expected[team][what],
          `${team}: ${what} routed to ${names.join(",")}, live ${[...live].join(",")}`,
        );
      }
    });

  test("the settings replace the committed examples; unset ones keep them", () => {
    const r = render(
      {
        ...emailEnv,
        ALERTMANAGER_EMAIL_TO: "a@example.org, b.c+ops@example.co.uk",
        ALERTMANAGER_SMTP_FROM: "alerts@example.org",
        ALERTMANAGER_SMTP_AUTH_USERNAME: "relay",
        ALERTMANAGER_SMTP_REQUIRE_TLS: "false",
        ALERTMANAGER_SLACK_CHANNEL: "#ops-alerts",
        ALERTMANAGER_HEARTBEAT_URL: "https://hc-ping.example.net/abc-123?x=1",
      },
      ["slack", "heartbeat"],
    );
    assert.equal(r.status, 0, r.stderr);
    const doc = parse(r.config!) as {
      global: Record<string, unknown>;
      templates: string[];
      receivers: {
        name: string;
        email_configs?: { to: string }[];
        slack_configs?: { channel: string }[];
        webhook_configs?: { url: string }[];
      }[];
    };
    assert.equal(doc.global.smtp_smarthost, "mail.example.org:587");
    assert.equal(doc.global.smtp_from, "alerts@example.org");
    assert.equal(doc.global.smtp_auth_username, "relay");
    assert.equal(doc.global.smtp_require_tls, false);
    const rx = (n: string) => doc.receivers.find((x) => x.name === n)!;
    assert.equal(rx("email").email_configs![0]!.to, "a@example.org,b.c+ops@example.co.uk");
    assert.equal(rx("slack").slack_configs![0]!.channel, "#ops-alerts");
    assert.equal(rx("heartbeat").webhook_configs![0]!.url, "https://hc-ping.example.net/abc-123?x=1");
    assert.ok(
      doc.templates.every((t) => t.startsWith("/")),
      "absolute template paths",
    );
    // Without a user name there is no SMTP authentication at all (no password file either).
    const noAuth = render(emailEnv, []);
    const g = (parse(noAuth.config!) as { global: Record<string, unknown> }).global;
    assert.equal(g.smtp_auth_username, undefined);
    assert.equal(g.smtp_auth_password_file, undefined);
    assert.equal(g.smtp_from, "alertmanager@kali-agents.example", "the committed example");
    // Rendering twice gives the same files.
    const again = render(emailEnv, []);
    assert.equal(again.config!.replace(again.outDir, "X"), noAuth.config!.replace(noAuth.outDir, "X"));
  });

  test("GRAFANA_ROOT_URL and RUNBOOK_BASE_URL become the links' definitions (a trailing / dropped)", () => {
    const r = render(
      {
        GRAFANA_ROOT_URL: "https://g.example.org/grafana/",
        RUNBOOK_BASE_URL: "https://docs.example.org/rb/",
      },
      [],
    );
    assert.equal(r.status, 0, r.stderr);
    const tmpl = readFileSync(r.settingsPath, "utf8");
    assert.ok(tmpl.includes('{{ define "kali.grafana.url" }}https://g.example.org/grafana{{ end }}'), tmpl);
    assert.ok(tmpl.includes('{{ define "kali.runbook.base" }}https://docs.example.org/rb{{ end }}'), tmpl);
    const plain = render({}, []);
    const d = readFileSync(plain.settingsPath, "utf8");
    assert.ok(d.includes('{{ define "kali.grafana.url" }}http://localhost:3000{{ end }}'), d);
    // No RUNBOOK_BASE_URL: the one default base, definitions/rules.ts' (the committed settings.tmpl's).
    const base = `{{ define "kali.runbook.base" }}${runbookBaseUrl}{{ end }}`;
    assert.ok(d.includes(base), d);
    assert.ok(readFileSync(join(import.meta.dirname, "../templates/settings.tmpl"), "utf8").includes(base));
  });

  test(`refuses ${refused.length} values that do not fit, with one line naming the variable, and renders nothing`, () => {
    for (const [env, want] of refused) {
      const r = render(env, ["slack"]);
      assert.equal(r.status, 2, `${JSON.stringify(env)}: exit ${r.status}`);
      assert.equal(r.stderr.split("\n").filter(Boolean).length, 1, r.stderr);
      assert.match(r.stderr, want);
      assert.equal(existsSync(join(r.outDir, "alertmanager.yml")), false);
      assert.equal(existsSync(join(r.outDir, "settings.tmpl")), false);
    }
  });

  test("no receiver reaching people is a warning on stderr, not a refusal (the stack runs, Watchdog aside)", () => {
    const r = render({}, []);
    assert.equal(r.status, 0);
    assert.match(
      r.stdout,
      /receivers on: none; off: pagerduty .* slack .* email \(ALERTMANAGER_EMAIL_TO is empty\); heartbeat/,
    );
    assert.match(r.stderr, /^render-config: warning: no receiver reaches people/);
  });
});

describe(
  "render-config.sh under busybox, the Alertmanager image's shell",
  { skip: requireBinaries("busybox") },
  () => {
    test("busybox's sh, awk and grep render what the test machine's do, and refuse the same values", () => {
      const tools = tempDir("busybox-tools");
      const busybox = findBinary("busybox")!;
      for (const applet of ["sh", "awk", "grep", "tr", "wc", "mv", "mkdir", "dirname"])
        symlinkSync(busybox, join(tools, applet));
      const env = {
        ...emailEnv,
        ALERTMANAGER_EMAIL_TO: "a@example.org, b@example.org",
        ALERTMANAGER_SMTP_AUTH_USERNAME: "relay",
        ALERTMANAGER_SLACK_CHANNEL: "#ops",
        GRAFANA_ROOT_URL: "https://g.example.org/",
        RUNBOOK_BASE_URL: "https://rb.example.org/x",
      };
      const secretsDir = secretsWith(["slack"]);
      const outA = tempDir("am-render-gnu");
      const outB = tempDir("am-render-busybox");
      const gnu = renderAlertmanagerConfig({ outDir: outA, secretsDir, env });
      const bb = renderAlertmanagerConfig({ outDir: outB, secretsDir, env, toolsDir: tools });
      assert.equal(bb.status, 0, bb.stderr);
      assert.equal(bb.stdout, gnu.stdout);
      assert.equal(bb.config!.replaceAll(outB, "OUT"), gnu.config!.replaceAll(outA, "OUT"));
      assert.equal(readFileSync(bb.settingsPath, "utf8"), readFileSync(gnu.settingsPath, "utf8"));
      const check = run("amtool", ["check-config", bb.configPath]);
      assert.equal(check.status, 0, check.stdout + check.stderr);
      // Without RUNBOOK_BASE_URL, busybox's grep copies the committed default base as GNU grep does.
      const { RUNBOOK_BASE_URL: _unset, ...noBase } = env;
      const gnuDefault = renderAlertmanagerConfig({
        outDir: tempDir("am-render-gnu-d"),
        secretsDir,
        env: noBase,
      });
      const bbDefault = renderAlertmanagerConfig({
        outDir: tempDir("am-render-bb-d"),
        secretsDir,
        env: noBase,
        toolsDir: tools,
      });
      assert.equal(bbDefault.status, 0, bbDefault.stderr);
      const defaults = readFileSync(bbDefault.settingsPath, "utf8");
      assert.equal(defaults, readFileSync(gnuDefault.settingsPath, "utf8"));
      assert.ok(defaults.includes(`{{ define "kali.runbook.base" }}${runbookBaseUrl}{{ end }}`), defaults);
      for (const [bad] of refused) {
        const r = renderAlertmanagerConfig({
          outDir: tempDir("am-render-bb-bad"),
          secretsDir,
          env: bad,
          toolsDir: tools,
        });
        assert.equal(r.status, 2, `${JSON.stringify(bad)} under busybox: exit ${r.status}`);
      }
    });
  },
);
