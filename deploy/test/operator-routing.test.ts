// Routing in a cluster, proven on the configuration the Prometheus Operator would give Alertmanager:
// kube-prometheus-stack's default alertmanager.yaml with our AlertmanagerConfig merged in, the way the
// Operator merges it (pkg/alertmanager/amcfg.go, read at prometheus-operator 6adcebc50):
//
// - AddAlertmanagerConfigs converts the AlertmanagerConfig's route (convertRoute: every receiver named
//   `<namespace>/<name>/<receiver>`, matchers written by Matcher.String() as name, operator, quoted
//   value), passes the top route through the enforcer of spec.alertmanagerConfigMatcherStrategy, and
//   puts it first among the root route's children, before the chart's own routes;
// - the enforcer: `OnNamespace` (the default) appends `namespace="<the object's namespace>"` to the top
//   route's matchers and to both sides of each inhibit rule; `None` adds nothing; both then set the top
//   route's `continue: true` (continueToNextRoute), so alerts go on to the chart's routes;
// - receivers and inhibit rules are appended to the chart's.
//
// amtool then routes the alerts the PrometheusRules would fire through both strategies' results, and a
// real Alertmanager shows the chart's InfoInhibitor muting an info alert of our namespace but not our
// Watchdog.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { parseAllDocuments, stringify } from "yaml";
import { requireBinaries, run, startAlertmanager, tempDir, waitFor } from "../../test/support/servers.ts";
import { outDir, overlay } from "../src/kubernetes.ts";

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const root = new URL("../..", import.meta.url).pathname;
const read = (p: string) => readFileSync(join(root, p), "utf8");

/**
 * kube-prometheus-stack's default `alertmanager.config` (values.yaml): everything to the `null`
 * receiver, the Watchdog and InfoInhibitor explicitly, and its four inhibit rules, InfoInhibitor's
 * among them. (Its `templates` glob is left out: no template file exists here.)
 */
const chartDefault = {
  global: { resolve_timeout: "5m" },
  inhibit_rules: [
    {
      source_matchers: ["severity = critical"],
      target_matchers: ["severity =~ warning|info"],
      equal: ["namespace", "alertname"],
    },
    {
      source_matchers: ["severity = warning"],
      target_matchers: ["severity = info"],
      equal: ["namespace", "alertname"],
    },
    {
      source_matchers: ["alertname = InfoInhibitor"],
      target_matchers: ["severity = info"],
      equal: ["namespace"],
    },
    { target_matchers: ["alertname = InfoInhibitor"] },
  ],
  route: {
    group_by: ["namespace"],
    group_wait: "30s",
    group_interval: "5m",
    repeat_interval: "12h",
    receiver: "null",
    routes: [{ receiver: "null", matchers: ['alertname =~ "InfoInhibitor|Watchdog"'] }],
  },
  receivers: [{ name: "null" }],
};

type Strategy = "OnNamespace" | "None";
const matcherString = (m: Obj) => `${m.name}${m.matchType}${JSON.stringify(m.value)}`;

/** convertRoute: the AlertmanagerConfig's route in alertmanager.yml's form, receivers namespaced. */
function convertRoute(r: Obj, key: string): Obj {
  const out: Obj = {};
  if (r.receiver) out.receiver = `${key}/${r.receiver}`;
  if (r.groupBy) out.group_by = r.groupBy;
  if (r.groupWait) out.group_wait = r.groupWait;
  if (r.groupInterval) out.group_interval = r.groupInterval;
  if (r.repeatInterval) out.repeat_interval = r.repeatInterval;
  if (r.continue !== undefined) out.continue = r.continue;
  if (r.matchers) out.matchers = (r.matchers as Obj[]).map(matcherString);
  if (r.routes) out.routes = (r.routes as Obj[]).map((c) => convertRoute(c, key));
  return out;
}

/** The configuration the Operator generates from the chart's and one AlertmanagerConfig. */
function operatorConfig(amc: Obj, namespace: string, strategy: Strategy): Obj {
  const cfg = structuredClone(chartDefault) as Obj;
  const key = `${namespace}/${amc.metadata.name}`;
  const ns = `namespace="${namespace}"`;
  for (const i of amc.spec.inhibitRules ?? []) {
    const rule: Obj = {
      source_matchers: (i.sourceMatch as Obj[]).map(matcherString),
      target_matchers: (i.targetMatch as Obj[]).map(matcherString),
      ...(i.equal ? { equal: i.equal } : {}),
    };
    if (strategy === "OnNamespace") {
      rule.source_matchers.push(ns);
      rule.target_matchers.push(ns);
    }
    cfg.inhibit_rules.push(rule);
  }
  const top = convertRoute(amc.spec.route, key);
  if (strategy === "OnNamespace") top.matchers = [...(top.matchers ?? []), ns];
  top.continue = true;
  cfg.route.routes = [top, ...cfg.route.routes];
  // The receivers' integrations do not route: their names do (the credentials are the Secret's).
  for (const r of amc.spec.receivers) cfg.receivers.push({ name: `${key}/${r.name}` });
  return cfg;
}

const amc = parseAllDocuments(read(`${outDir}/base/alertmanager-config.yaml`))
  .map((d) => d.toJS() as Obj)
  .find((o) => o.kind === "AlertmanagerConfig")!;
const rules = parseAllDocuments(read(`${outDir}/base/prometheus-rules.yaml`))
  .map((d) => d.toJS() as Obj)
  .flatMap((o) => (o.spec.groups as Obj[]).flatMap((g) => g.rules as Obj[]));
/** The labels an alert of our PrometheusRules carries, with the series' own (e.g. its job). */
function ours(alert: string, series: Record<string, string> = {}): Record<string, string> {
  const rule = rules.find((r) => r.alert === alert);
  assert.ok(rule, `no rule ${alert}`);
  return { ...series, alertname: alert, ...(rule.labels as Record<string, string>) };
}
const ns = overlay.namespace;
const key = `${ns}/${amc.metadata.name}`;

function routes(configPath: string, labels: Record<string, string>): string[] {
  const r = run("amtool", [
    "config",
    "routes",
    "test",
    "--config.file",
    configPath,
    ...Object.entries(labels).map(([k, v]) => `${k}=${v}`),
  ]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  return r.stdout.trim().split(",").sort();
}
function write(cfg: Obj): string {
  const path = join(tempDir("operator-am"), "alertmanager.yaml");
  writeFileSync(path, stringify(cfg, { aliasDuplicateObjects: false }));
  return path;
}

const exporterSeries = { job: "kali-agents-exporter", instance: "10.1.2.3:9839" };
/** Alert labels -> the receivers they must reach, under either strategy. */
const cases: { what: string; labels: Record<string, string>; receivers: string[] }[] = [
  {
    what: "our critical pages, goes to Slack and email",
    labels: ours("PostgresDown", exporterSeries),
    receivers: [`${key}/email`, `${key}/pagerduty`, `${key}/slack`],
  },
  {
    what: "our warning",
    labels: ours("HostHighMemoryUsage", exporterSeries),
    receivers: [`${key}/email`, `${key}/slack`],
  },
  {
    what: "our Watchdog reaches the heartbeat (and the chart's null)",
    labels: ours("Watchdog"),
    receivers: [`${key}/heartbeat`, "null"],
  },
  {
    what: "the cluster's KubeAPIDown is not ours",
    labels: { alertname: "KubeAPIDown", severity: "critical", job: "apiserver" },
    receivers: ["null"],
  },
  {
    what: "a cluster alert in the stack's namespace is not ours either",
    labels: { alertname: "KubePodCrashLooping", severity: "warning", namespace: ns, pod: "x" },
    receivers: ["null"],
  },
  {
    what: "the chart's own Watchdog stays the chart's",
    labels: { alertname: "Watchdog", severity: "none" },
    receivers: ["null"],
  },
];

describe(
  "routing in a cluster, on the Operator's generated configuration",
  { skip: requireBinaries("amtool") },
  () => {
    for (const strategy of ["OnNamespace", "None"] as const) {
      const path = write(operatorConfig(amc, ns, strategy));
      test(`${strategy}: amtool checks it`, () => {
        const r = run("amtool", ["check-config", path]);
        assert.equal(r.status, 0, r.stdout + r.stderr);
      });
      for (const c of cases)
        test(`${strategy}: ${c.what} -> ${c.receivers.join(", ")}`, () => {
          assert.deepEqual(routes(path, c.labels), [...c.receivers].sort());
        });
    }

    test("without the stack matcher, None takes every alert of the cluster; without the namespace label, OnNamespace drops the Watchdog", () => {
      const bare = structuredClone(amc);
      delete bare.spec.route.matchers;
      const none = write(operatorConfig(bare, ns, "None"));
      assert.ok(routes(none, cases[3]!.labels).includes(`${key}/pagerduty`), "KubeAPIDown would page");
      const { namespace: _n, ...noNamespace } = ours("Watchdog");
      const onNs = write(operatorConfig(amc, ns, "OnNamespace"));
      assert.deepEqual(routes(onNs, noNamespace), ["null"]);
    });
  },
);

describe(
  "the chart's InfoInhibitor and our Watchdog, in a real Alertmanager",
  { skip: requireBinaries("alertmanager") },
  () => {
    test("InfoInhibitor mutes an info alert of the stack's namespace, not the Watchdog (severity none); an info Watchdog it would", async () => {
      const cfg = operatorConfig(amc, ns, "OnNamespace");
      const am = await startAlertmanager(stringify(cfg, { aliasDuplicateObjects: false }));
      try {
        const infoWatchdog = { ...ours("Watchdog"), severity: "info", variant: "info" };
        const post = await fetch(`${am.url}/api/v2/alerts`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(
            [
              // The chart's InfoInhibitor fires for a namespace whose only alerts are info ones.
              { alertname: "InfoInhibitor", severity: "none", namespace: ns },
              ours("Watchdog"),
              ours("HostRebooted", exporterSeries),
              infoWatchdog,
            ].map((labels) => ({ labels })),
          ),
        });
        assert.equal(post.status, 200, await post.text());
        type A = { labels: Record<string, string>; receivers: { name: string }[]; status: { state: string } };
        const list = async () => (await (await fetch(`${am.url}/api/v2/alerts`)).json()) as A[];
        const find = (all: A[], f: (a: A) => boolean) => all.find(f);
        // Inhibition is evaluated as alerts arrive; wait until Alertmanager reports the info alert muted.
        await waitFor(
          "HostRebooted suppressed by InfoInhibitor",
          async () =>
            find(await list(), (a) => a.labels.alertname === "HostRebooted")?.status.state === "suppressed",
          20_000,
        );
        const all = await list();
        const watchdog = find(all, (a) => a.labels.alertname === "Watchdog" && !a.labels.variant)!;
        assert.equal(watchdog.status.state, "active");
        assert.deepEqual(watchdog.receivers.map((r) => r.name).sort(), [`${key}/heartbeat`, "null"]);
        assert.equal(find(all, (a) => a.labels.variant === "info")?.status.state, "suppressed");
      } finally {
        await am.cleanup();
      }
    });
  },
);
