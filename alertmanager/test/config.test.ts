// The committed alertmanager.yml as amtool reads it: the config is valid, each routing promise holds
// (`amtool config routes test --verify.receivers`), every alert of the rule groups lands where its
// severity says, and every secret comes from a file under /run/secrets with a documented example.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import YAML from "yaml";
import { isAlert, type RuleGroup } from "../../definitions/rules.ts";
import { lokiRuleGroups, prometheusLogRuleGroups } from "../../loki/rules/src/index.ts";
import { ruleGroups } from "../../prometheus/rules/src/index.ts";
import { findBinary, requireBinaries, run, tempDir } from "../../test/support/servers.ts";
import { secretsMount } from "../../lib/secrets.ts";
import { localAlertmanagerConfig } from "../../test/support/alertmanager-local.ts";

const amDir = new URL("..", import.meta.url).pathname;
const repo = new URL("../..", import.meta.url).pathname;
const configText = readFileSync(join(amDir, "alertmanager.yml"), "utf8");

/** Alert labels -> the receivers Alertmanager must notify, in routing-tree order. */
const promises: { what: string; labels: Record<string, string>; receivers: string[] }[] = [
  {
    what: "critical pages, and goes to Slack and email",
    labels: { alertname: "PostgresDown", severity: "critical" },
    receivers: ["pagerduty", "slack", "email"],
  },
  {
    what: "warning goes to Slack and email",
    labels: { alertname: "HostHighMemoryUsage", severity: "warning" },
    receivers: ["slack", "email"],
  },
  {
    what: "info goes to Slack and email",
    labels: { alertname: "HostRebooted", severity: "info" },
    receivers: ["slack", "email"],
  },
  {
    what: "the Watchdog goes to the heartbeat only",
    labels: { alertname: "Watchdog", severity: "info" },
    receivers: ["heartbeat"],
  },
  {
    what: "the Watchdog whatever its severity",
    labels: { alertname: "Watchdog", severity: "critical" },
    receivers: ["heartbeat"],
  },
  {
    what: "an unknown severity still reaches people",
    labels: { alertname: "HostNew", severity: "major" },
    receivers: ["slack", "email"],
  },
  {
    what: "no severity at all still reaches people",
    labels: { alertname: "HostNew" },
    receivers: ["slack", "email"],
  },
  {
    what: "a Loki-side critical (same severities) pages",
    labels: { alertname: "SecurityBruteForce", severity: "critical", job: "kali-agents" },
    receivers: ["pagerduty", "slack", "email"],
  },
];

const routesArgs = (labels: Record<string, string>, receivers: string[]) => [
  "config",
  "routes",
  "test",
  "--config.file",
  join(amDir, "alertmanager.yml"),
  `--verify.receivers=${receivers.join(",")}`,
  ...Object.entries(labels).map(([k, v]) => `${k}=${v}`),
];
const routesTest = (labels: Record<string, string>, receivers: string[]) =>
  run("amtool", routesArgs(labels, receivers));

/** The same, as a child process that does not block: the per-alert checks run side by side. */
function routesTestAsync(labels: Record<string, string>, receivers: string[]) {
  return new Promise<{ status: number | null; stdout: string }>((resolve, reject) => {
    const bin = findBinary("amtool");
    if (!bin) return reject(new Error("amtool is not installed"));
    execFile(bin, routesArgs(labels, receivers), (err, stdout) =>
      resolve({ status: err ? ((err as { code?: number }).code ?? 1) : 0, stdout }),
    );
  });
}

describe("alertmanager.yml", { skip: requireBinaries("amtool") }, () => {
  test("passes amtool check-config, templates included", () => {
    const r = run("amtool", ["check-config", join(amDir, "alertmanager.yml")]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /1 templates/); // the glob templates/*.tmpl: kali.tmpl and settings.tmpl
  });

  for (const p of promises)
    test(`routing promise: ${p.what} -> ${p.receivers.join(", ")}`, () => {
      const r = routesTest(p.labels, p.receivers);
      assert.equal(r.status, 0, `${JSON.stringify(p.labels)} went to ${r.stdout.trim()}\n${r.stderr}`);
    });

  test("a broken promise fails amtool's verification (the check can fail)", () => {
    const r = routesTest({ alertname: "PostgresDown", severity: "critical" }, ["pagerduty", "slack"]);
    assert.notEqual(r.status, 0);
  });

  test("every Prometheus alert routes by its severity (and the Watchdog to the heartbeat alone)", async () => {
    const bySeverity = { critical: "pagerduty,slack,email", warning: "slack,email", info: "slack,email" };
    // The log alerts (Loki's ruler, and Prometheus on the ruler's recordings) use the same routing.
    const groups: RuleGroup[] = [...ruleGroups, ...lokiRuleGroups, ...prometheusLogRuleGroups];
    const checks = groups.flatMap((g) =>
      g.rules.filter(isAlert).map(async (r) => {
        const want = r.alert === "Watchdog" ? "heartbeat" : bySeverity[r.severity];
        const got = await routesTestAsync(
          { alertname: r.alert, severity: r.severity, ...r.labels },
          want.split(","),
        );
        return got.status === 0 ? [] : [`${r.alert} (${r.severity}) -> ${got.stdout.trim()}, want ${want}`];
      }),
    );
    const wrong = (await Promise.all(checks)).flat();
    assert.ok(checks.length >= 30, `only ${checks.length} alerts checked`);
    assert.deepEqual(wrong, []);
  });
});

describe("notification templates", () => {
  test("the Grafana link lists the dashboards by the tag every generated dashboard carries", async () => {
    const tmpl = readFileSync(join(amDir, "templates/kali.tmpl"), "utf8");
    const { commonTag, dashboards } = (await import(join(repo, "dashboards/src/index.ts"))) as {
      commonTag: string;
      dashboards: { json: { tags?: string[] } }[];
    };
    assert.ok(
      tmpl.includes(`/dashboards?tag=${commonTag}{{`),
      "kali.grafana.link does not use the common tag",
    );
    assert.ok(dashboards.length > 0 && dashboards.every((d) => d.json.tags?.includes(commonTag)));
  });
});

describe("alertmanager.yml secrets", () => {
  const doc = YAML.parse(configText) as Record<string, unknown>;
  const fileFields: { path: string; value: string }[] = [];
  const inline: string[] = [];
  // Fields that would hold a secret inline; each has a *_file twin that must be used instead.
  const secretFields = new Set([
    "slack_api_url",
    "api_url",
    "routing_key",
    "service_key",
    "smtp_auth_password",
    "auth_password",
    "credentials",
    "password",
    "bearer_token",
  ]);
  const walk = (n: unknown, path: string) => {
    if (Array.isArray(n)) n.forEach((v, i) => walk(v, `${path}[${i}]`));
    else if (n && typeof n === "object")
      for (const [k, v] of Object.entries(n)) {
        if (k.endsWith("_file") && typeof v === "string") fileFields.push({ path: `${path}.${k}`, value: v });
        if (secretFields.has(k)) inline.push(`${path}.${k}`);
        walk(v, `${path}.${k}`);
      }
  };
  walk(doc, "config");

  test("no secret is written inline", () => {
    assert.deepEqual(inline, []);
  });

  test("every secret file lives under /run/secrets and has a documented secrets/alertmanager/<name>.example", () => {
    assert.ok(fileFields.length >= 4, JSON.stringify(fileFields));
    const readme = readFileSync(join(repo, "secrets/README.md"), "utf8");
    for (const f of fileFields) {
      assert.ok(f.value.startsWith(secretsMount), `${f.path}: ${f.value}`);
      const name = f.value.slice(secretsMount.length);
      assert.ok(
        existsSync(join(repo, "secrets", "alertmanager", `${name}.example`)),
        `secrets/alertmanager/${name}.example is missing`,
      );
      assert.ok(readme.includes(name), `secrets/README.md does not describe ${name}`);
    }
  });

  test("the local rewrite points every secret file and receiver at the sinks, and refuses what it cannot map", () => {
    const dir = tempDir("am-local");
    const out = YAML.parse(
      localAlertmanagerConfig(configText, {
        httpUrl: "http://127.0.0.1:1",
        smtpHostPort: "127.0.0.1:2",
        secretsDir: dir,
      }),
    ) as { global: Record<string, unknown>; receivers: Record<string, { url?: string }[]>[] };
    assert.equal(out.global.smtp_smarthost, "127.0.0.1:2");
    assert.equal(out.global.slack_api_url_file, join(dir, "alertmanager_slack_api_url"));
    assert.ok(!JSON.stringify(out).includes(secretsMount));
    assert.ok(!JSON.stringify(out).includes("opsgenie.com"));
    assert.throws(
      () =>
        localAlertmanagerConfig(configText.replace("/run/secrets/alertmanager_smtp_password", "/etc/pw"), {
          httpUrl: "http://127.0.0.1:1",
          smtpHostPort: "127.0.0.1:2",
          secretsDir: dir,
        }),
      /smtp_auth_password_file is \/etc\/pw: secret files must live under \/run\/secrets\//,
    );
  });
});
