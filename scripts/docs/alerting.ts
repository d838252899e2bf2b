// docs/alerting.md: the alerting guide, with its table of alerts generated from the rule groups (the
// Prometheus ones and the Loki ones), so the table can never disagree with the rules. It joins the two
// rule generators, so it sits above both (scripts/), and neither imports the other.
import { isAlert, runbookPath, type RuleGroup } from "../../definitions/rules.ts";
import { apiSlo } from "../../definitions/slo.ts";
import { percent } from "../../lib/promql.ts";
import { lokiRuleGroups, prometheusLogRuleGroups } from "../../loki/rules/src/index.ts";
import { ruleGroups } from "../../prometheus/rules/src/index.ts";

interface Source {
  readonly groups: readonly RuleGroup[];
  readonly engine: string;
}

const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

function alertTable(sources: readonly Source[]): string {
  const rows = [
    "| alert | severity | for | group | evaluated by | summary |",
    "| --- | --- | --- | --- | --- | --- |",
  ];
  for (const { groups, engine } of sources)
    for (const g of groups)
      for (const r of g.rules)
        if (isAlert(r)) {
          const labels = Object.entries(r.labels ?? {})
            .map(([k, v]) => `${k}=${v}`)
            .join(", ");
          rows.push(
            `| [${r.alert}](${runbookPath(r.alert).replace(/^docs\//, "")})${labels ? ` (${labels})` : ""} | ${r.severity} | ${r.for ?? "-"} | \`${g.name}\` | ${engine} | ${cell(r.summary)} |`,
          );
        }
  return rows.join("\n");
}

export function alertingDoc(sources: readonly Source[]): string {
  return `<!-- Generated from scripts/docs/alerting.ts by \`npm run generate\`. DO NOT EDIT: change the TypeScript (or the rules) and regenerate. -->

# Alerting

How Kali Agents pages its on-call engineer: the rules (Prometheus, and Loki's ruler for logs), the
routing in Alertmanager, the receivers and their secrets, and how to silence or add an alert.
Every alert links to its runbook in [runbooks/](runbooks/).

## The alerts

${alertTable(sources)}

The API's availability SLO (${percent(apiSlo.target)} over ${apiSlo.period}) is alerted with multi-window,
multi-burn-rate rules (Google SRE workbook): \`ApiErrorBudgetBurn\` has one rule per window pair, told
apart by its \`long_window\`/\`short_window\` labels; the two fastest page, the two slowest open a ticket.
The recordings the dashboards also read: \`kali_agents:api_error_ratio:rate<window>\` for every window,
\`kali_agents:api_error_budget_remaining:ratio\`, \`kali_agents:api_requests:rate5m\`,
\`kali_agents:api_request_duration_seconds:p95_5m\`.

Every alert has the same shape, checked by one pass over all rules (\`lib/rules/shape.ts\`):
a CamelCase name with a component prefix, a \`severity\` label (\`critical\`, \`warning\` or \`info\`), a
static \`summary\`, a \`description\` templated with the labels and the value, and a \`runbook_url\`
annotation the pass adds: the runbook's path relative to the runbook base (\`<AlertName>.md\`), never an
address, since where the runbooks are served is each deployment's choice. Alertmanager's templates join
it to the base (\`kali.runbook.url\` in \`alertmanager/templates/kali.tmpl\`, the base
\`kali.runbook.base\` in \`settings.tmpl\`, from \`RUNBOOK_BASE_URL\`). The default base is one line,
\`runbookBaseUrl\` in \`definitions/rules.ts\`, a placeholder (the upstream project's \`docs/runbooks/\` on
GitHub); the committed \`settings.tmpl\` carries the same (a test holds them equal), and the dashboards'
runbook links are built from it when they are generated: to point those elsewhere, change that line and
run \`npm run generate\`. Thresholds come from \`definitions/thresholds.ts\` and selectors from
\`definitions/selectors.ts\`, shared with the dashboards.

## Routing (alertmanager/alertmanager.yml)

| alert labels | receivers | repeat while firing |
| --- | --- | --- |
| \`alertname="Watchdog"\` | \`heartbeat\` only (first route, \`continue: false\`) | every 5m |
| \`severity="critical"\` | \`pagerduty\` (\`continue: true\`), then \`slack\` and \`email\` | 1h (PagerDuty), 4h |
| \`severity="warning"\` | \`slack\` and \`email\` | 4h |
| \`severity="info"\` | \`slack\` and \`email\` | 4h (Slack), 24h (email) |
| anything else (unknown or missing severity) | \`slack\` and \`email\` (the last route has no matcher: nothing is dropped) | 4h |

Every alert goes by email and to Slack, as the operations plan says, and critical ones page too. A
receiver is **on when it is configured and off when not** (a receiver without integrations: nothing
is sent to it and nothing fails), so a team with email only gets every critical, warning and info
alert by email, and a team with Slack only gets them all on Slack. Compose renders the configuration
Alertmanager runs from this file at every start (\`alertmanager/render-config.sh\`, in the Alertmanager
container), from \`.env\` and the secret files; nothing tracked is edited:

| setting (\`.env\`) | what it sets |
| --- | --- |
| \`ALERTMANAGER_EMAIL_TO\` | the recipients (comma-separated); empty: email off |
| \`ALERTMANAGER_SMTP_SMARTHOST\`, \`_FROM\`, \`_AUTH_USERNAME\`, \`_REQUIRE_TLS\` | the SMTP relay (\`host:port\`), the sender, the user (empty: no authentication; the password is \`secrets/alertmanager/alertmanager_smtp_password\`), TLS |
| \`ALERTMANAGER_SLACK_CHANNEL\` | the channel; Slack is on when \`secrets/alertmanager/alertmanager_slack_api_url\` holds the webhook URL |
| (none) | PagerDuty is on when \`secrets/alertmanager/alertmanager_pagerduty_routing_key\` holds the routing key |
| \`ALERTMANAGER_HEARTBEAT_URL\` | the heartbeat's ping URL; on when \`secrets/alertmanager/alertmanager_heartbeat_api_key\` holds its key |
| \`GRAFANA_ROOT_URL\` | the Grafana link of every notification (Grafana's own root URL too) |
| \`RUNBOOK_BASE_URL\` | the runbook base: links become \`<RUNBOOK_BASE_URL>/<runbook_url>\` (each rule's \`runbook_url\` is \`<AlertName>.md\`); empty: the default base, \`runbookBaseUrl\` of \`definitions/rules.ts\` |

A value that does not fit (a URL with quotes, spaces or braces, an address that is not local@domain, a
value of several lines) stops Alertmanager's start with one line naming the variable; the log's first
line says which receivers are on and why the others are off (\`docker compose logs alertmanager\`).

Grouping: by \`alertname\`, \`severity\` and \`job\`; a new group waits 30s for the alerts that come with
the first (\`group_wait\`), and a group already notified takes new alerts every 5m (\`group_interval\`).
Each row above is a test (\`alertmanager/test/config.test.ts\`, \`amtool config routes test
--verify.receivers=...\`), and so is every alert of the table: it must reach the receivers of its
severity. \`alertmanager/test/render.test.ts\` renders the configuration for four teams (every receiver,
email only, Slack only, PagerDuty and the heartbeat) and routes a critical, a warning, an info alert and
the Watchdog through each with amtool; the delivery test sends an email-only team's alerts through a
real Alertmanager: every critical and warning alert arrives by email, nothing fails.

### Inhibitions: one cause, one notification

| while this fires | these are muted | because |
| --- | --- | --- |
| any \`critical\` | the \`warning\` with the same \`alertname\`, \`job\`, \`instance\` | e.g. the SLO's ticket windows while its page windows fire |
| \`PostgresDown\` | \`ExporterCollectorFailing\` of the \`postgres\` and \`scans\` collectors | they fail because the database is down |
| \`RedisDown\` | \`ExporterCollectorFailing\` of the \`redis\` collector | it fails because Redis is down |
| \`ApiDown\` | \`PrometheusTargetDown\` for \`job="kali-agents-api"\` | the API's /metrics goes down with the API |
| \`ExporterDown\` | \`BackupTooOld\` with \`reason="no_record"\` | \`absent()\` turns true when the exporter's series vanish |

When the exporter is down, every rule on its series goes quiet (absent, not 0), so nothing else would
fire: \`ExporterDown\` is critical for that reason and has its own alert, separate from
\`PrometheusTargetDown\`.

## Receivers and their messages

Every message carries, for each alert, its summary, its description, its runbook link and a Grafana
link (\`alertmanager/templates/kali.tmpl\`; the addresses come from \`GRAFANA_ROOT_URL\` and
\`RUNBOOK_BASE_URL\`, written into \`settings.tmpl\` at start):

- **PagerDuty** (Events API v2): the summary as the incident title, \`severity\` from the alert, the
  description, runbook and Grafana link in \`custom_details\`, and \`Runbook\` / \`Grafana\` links.
- **Slack**: one message per group to \`ALERTMANAGER_SLACK_CHANNEL\` (\`#kali-agents-alerts\`), title \`[FIRING:n] Alert (severity)\`,
  each alert's summary in bold, its description, and \`Runbook | Grafana\` links; resolved messages too.
- **Email**: subject \`[FIRING:n] Alert (severity)\`, HTML and text parts with the same content.
- **Heartbeat**: the Watchdog, every 5 minutes, to a heartbeat service that pages when it stops hearing
  it (a dead man's switch: it catches a dead Prometheus, rules not evaluated, or a dead Alertmanager).

The delivery test (\`alertmanager/test/delivery.test.ts\`) runs the real Alertmanager with this very
configuration, pointed at local HTTP and SMTP sinks (\`alertmanager/src/local.ts\`, \`sinks.ts\`), and
checks each message, that the Watchdog reaches the heartbeat only, and that an inhibited warning is
never delivered.

## Secrets

Every credential is read from a file under \`/run/secrets/\` (compose mounts \`secrets/alertmanager/\`
there); nothing secret is in the repository. [secrets/README.md](../secrets/README.md) lists the files:

| field | file |
| --- | --- |
| \`global.slack_api_url_file\` | \`alertmanager_slack_api_url\` (the webhook URL is the secret) |
| \`pagerduty_configs[].routing_key_file\` | \`alertmanager_pagerduty_routing_key\` |
| \`global.smtp_auth_password_file\` | \`alertmanager_smtp_password\` |
| \`webhook_configs[].http_config.authorization.credentials_file\` | \`alertmanager_heartbeat_api_key\` |

The heartbeat keeps its URL public and its key in an \`Authorization\` header read from a file:
Opsgenie's heartbeat ping (\`https://api.opsgenie.com/v2/heartbeats/<name>/ping\`,
\`Authorization: GenieKey <key>\`) works exactly so. For a service whose URL is the secret
(Healthchecks.io, Dead Man's Snitch, Cronitor), replace \`url\` with
\`url_file: /run/secrets/alertmanager_heartbeat_url\` (Alertmanager 0.33, the version compose pins and
the tests run, reads it) (then add that file to secrets/). The SMTP relay, the recipients and the
Slack channel are settings, not secrets: they are in \`.env\` (above).

## Versions

The tests run Alertmanager 0.33.0 and its amtool, the version compose pins, built from its Go module
(tools/upstream/alertmanager, definitions/versions.ts): \`amtool check-config\`, the routing tests and the
delivery test. What 0.33 changes that this stack accounts for:

- \`alertmanager_notifications_failed_total\` carries a \`reason\` label (\`clientError\`,
  \`serverError\`, \`other\`, ...) beside \`integration\`. \`AlertmanagerNotificationsFailing\`
  sums it away (\`sum without (reason)\`), so it fires once per integration, not once per reason: an
  integration failing for two reasons at once is one page, not two.
- Matchers are parsed by the UTF-8 matcher parser; every matcher here is a plain \`label="value"\` or
  \`=~\` string, which it reads as the classic parser did.
- \`webhook_configs[].url_file\` exists (see the heartbeat above).

## Silencing

A silence mutes matching alerts for a time; it never deletes them. Use it for planned maintenance, and
for a known fault while it is being fixed, always with a comment and an end.

Alertmanager asks for basic auth (docs/operations/security.md): amtool as the user \`admin\` reads an HTTP
configuration file such as \`basic_auth: {username: admin, password_file: secrets/web/admin_web_password}\`,
named by \`--http.config.file\` (left out below).

\`\`\`sh
# PostgreSQL maintenance for two hours
amtool --alertmanager.url=http://127.0.0.1:9093 silence add alertname=PostgresDown \\
  --duration=2h --comment="PostgreSQL upgrade, ticket OPS-123" --author="$USER"
amtool --alertmanager.url=http://127.0.0.1:9093 silence query     # what is silenced
amtool --alertmanager.url=http://127.0.0.1:9093 silence expire <id>
\`\`\`

Or in Alertmanager's UI (<http://127.0.0.1:9093/#/silences>) or Grafana's (Alerting, Silences, with the
Alertmanager datasource). Never silence \`Watchdog\`: the heartbeat stops and the heartbeat service pages.
Silences survive restarts (Alertmanager's \`--storage.path\` is a volume).

## Adding or changing an alert

1. Write the rule in the group's file under \`prometheus/rules/src/\` (or \`loki/rules/src/\` for LogQL),
   with its threshold in \`definitions/thresholds.ts\` and selectors from \`definitions/selectors.ts\`,
   never written in the rule. A metric it reads must be in the catalogue, \`definitions/metrics/\` (the
   exporter's collectors, the job or API contract, or \`platformMetricNames\`): a test fails otherwise.
2. \`npm run generate\`: the YAML under \`prometheus/rules/generated/\` and this page are regenerated.
3. Add its promtool cases to \`prometheus/tests/<group>.yml\`: one where it stays quiet (before its \`for\`,
   or below its threshold) and one where it fires, with the exact labels and annotations (runbook_url,
   summary, rendered description). A test fails if either is missing.
4. Write \`docs/runbooks/<Alert>.md\` (meaning, impact, diagnosis, mitigation, escalation); a test fails
   without it.
5. Run \`node scripts/run-tests.mjs prometheus alertmanager\` (promtool and amtool checks, routing, delivery),
   commit the TypeScript, the generated files, the tests and the runbook together.

Routing follows the severity: choose \`critical\` only for what must wake someone now, \`warning\` for
what must be handled within the working day, \`info\` for what someone should know.
`;
}

export function outputs(): Record<string, string> {
  return {
    "docs/alerting.md": alertingDoc([
      { groups: ruleGroups, engine: "Prometheus" },
      { groups: prometheusLogRuleGroups, engine: "Prometheus (on Loki's recordings)" },
      { groups: lokiRuleGroups, engine: "Loki ruler" },
    ]),
  };
}
