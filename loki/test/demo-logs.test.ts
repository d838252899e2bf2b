// The log contract holds: the demo workload runs (as `npm run demo` runs it, against a real PostgreSQL and
// Redis), misbehaves through its chaos endpoint (error-burst, brute-force), and its lines go through the
// Promtail and Alloy pipelines as the agents would ship them. Then every LogQL query the repository ships
// that selects the application's streams or the demo's container (Loki rules, dashboard panels, runbooks,
// docs/operations) must return at least one of those lines, stage by stage, and the demo must write
// every event of definitions/logs.ts with its stream, level and fields, and nothing outside the contract.
// A SecurityAuthFailureSpike matching an event nobody writes (issue 14) fails here.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { isAlert } from "../../definitions/rules.ts";
import { thresholds } from "../../definitions/thresholds.ts";
import {
  logEvents,
  loggers,
  logLevels,
  logs,
  logStreams,
  type LogEventContract,
  type LogStream,
} from "../../definitions/logs.ts";
import { loadAlloy } from "../../alloy/test/alloy-config.ts";
import { resolveLabel, type AgentModel } from "../../promtail/test/agent-model.ts";
import { compilePipeline, relabel, withoutInternal } from "../../promtail/test/pipeline.ts";
import { loadPromtail } from "../../promtail/test/promtail-config.ts";
import { startNode, type NodeProcess } from "../../test/e2e/node-process.ts";
import { clientAddresses } from "../../demo/src/traffic.ts";
import {
  freePort,
  requireBinaries,
  startPostgres,
  startRedis,
  tempDir,
  waitFor,
  type PostgresServer,
  type RedisServer,
} from "../../test/support/servers.ts";
import { lokiRuleGroups } from "../rules/src/index.ts";
import {
  dashboardLokiQueries,
  failingStage,
  logPipelines,
  logqlBlocks,
  stageText,
  withoutGrafanaMacros,
  type LogPipeline,
} from "./logql.ts";

const root = new URL("../..", import.meta.url).pathname;

/** A line as Loki would hold it: the agent's labels and the line as written. */
interface Shipped {
  readonly labels: Record<string, string>;
  readonly line: string;
}

interface ShippedQuery {
  readonly where: string;
  readonly query: string;
}

/** Every LogQL query the repository ships, with where it is. */
function shippedQueries(): ShippedQuery[] {
  const out: ShippedQuery[] = [];
  for (const g of lokiRuleGroups)
    for (const r of g.rules)
      out.push({ where: `loki rule ${isAlert(r) ? r.alert : r.record}`, query: r.expr });
  for (const { file, expr } of dashboardLokiQueries(join(root, "dashboards/generated")))
    out.push({ where: file.slice(root.length), query: withoutGrafanaMacros(expr) });
  const md = (dir: string) =>
    readdirSync(join(root, dir))
      .filter((f) => f.endsWith(".md"))
      .map((f) => `${dir}/${f}`);
  for (const f of [...md("docs/runbooks"), ...md("docs/operations")])
    for (const q of logqlBlocks(readFileSync(join(root, f), "utf8"))) out.push({ where: f, query: q });
  return out;
}

/**
 * Whether a pipeline selects the demo's lines at all: the application's files (job kali-agents) or the
 * demo's own container (service demo). Queries about other containers (PostgreSQL, the exporter, the
 * ops jobs...) have other sources; they are parsed and label-checked by rules.test.ts.
 */
const aboutTheDemo = (p: LogPipeline): boolean =>
  p.selector.some(
    (m) =>
      (m.name === "job" && m.op === "=" && m.value === logs.appJob) ||
      (m.name === "job" && m.op === "=~" && new RegExp(`^(?:${m.value})$`).test(logs.appJob)) ||
      (m.name === "service" && m.op === "=" && m.value === "demo"),
  );

/**
 * Queries that look for what the demo, which keeps the contract, never writes. Each names why; the test
 * fails when one no longer applies to a shipped query or when the demo's lines start to match it.
 */
const exemptions: { readonly applies: (p: LogPipeline) => boolean; readonly why: string }[] = [
  {
    applies: (p) => p.selector.some((m) => m.name === "level" && m.op === "=" && m.value === "unknown"),
    why: 'level="unknown" finds lines that break the contract (not JSON); the demo writes JSON only',
  },
  {
    applies: (p) => p.stages.some((s) => s.kind === "line" && s.value === "(?i)deadlock"),
    why: "PostgresDeadlocks' runbook looks for the application's deadlock errors; the demo causes none",
  },
];

/** The agents' labels for a line of one of the demo's files. */
function shipFile(model: AgentModel, stream: LogStream, line: string): Shipped | null {
  const target = model.files.find((f) => f.path.endsWith(`/${logStreams[stream].file}`));
  assert.ok(target, `the agent has no target for ${logStreams[stream].file}`);
  const labels: Record<string, string> = { filename: target.path };
  for (const [k, v] of Object.entries(target.labels)) labels[k] = resolveLabel(v, {});
  const r = compilePipeline(model.filePipeline).run({ line, labels, timestampNs: 0n });
  return r && { labels: r.entry.labels, line: r.entry.line };
}

/** The agents' labels for a line the demo's container printed (compose service `demo`). */
function shipContainer(model: AgentModel, line: string): Shipped | null {
  const meta = {
    __meta_docker_container_name: "/kali-agents-demo-1",
    __meta_docker_container_label_com_docker_compose_service: "demo",
  };
  const labels = withoutInternal(relabel(meta, model.docker.relabel, (r) => resolveLabel(r.replacement, {})));
  const r = compilePipeline(model.dockerPipeline).run({ line, labels, timestampNs: 0n });
  return r && { labels: r.entry.labels, line: r.entry.line };
}

/** Why no line passes a pipeline: the furthest stage any line reached, and the one it failed. */
function whyNoLine(p: LogPipeline, lines: readonly Shipped[]): string | null {
  let furthest = -2;
  for (const l of lines) {
    const f = failingStage(p, l);
    if (f === null) return null;
    furthest = Math.max(furthest, f);
  }
  return `no line passes ${stageText(p, furthest)}${
    furthest >= 0
      ? ` (after ${stageText(p, -1)}${p.stages
          .slice(0, furthest)
          .map((_, i) => ` ${stageText(p, i)}`)
          .join("")})`
      : ""
  }`;
}

describe(
  "the log contract against the demo's real lines",
  { skip: requireBinaries("postgres", "initdb", "redis-server") },
  () => {
    let pg: PostgresServer;
    let redis: RedisServer;
    let demo: NodeProcess | undefined;
    let logDir: string;
    /** Lines of each file, as written. */
    const written = new Map<LogStream, string[]>();
    /** The demo's stdout and stderr lines. */
    let printed: string[] = [];
    const agents: [string, AgentModel][] = [
      ["promtail", loadPromtail()],
      ["alloy", loadAlloy()],
    ];
    const shipped = new Map<string, Shipped[]>();

    const read = (stream: LogStream): string[] => {
      const f = join(logDir, logStreams[stream].file);
      return existsSync(f)
        ? readFileSync(f, "utf8")
            .split("\n")
            .filter((l) => l !== "")
        : [];
    };
    const eventsWritten = (): Set<string> =>
      new Set(
        (["security", "audit"] as const).flatMap((s) =>
          read(s).map((l) => (JSON.parse(l) as { event?: string }).event ?? ""),
        ),
      );

    before(async () => {
      [pg, redis] = await Promise.all([startPostgres(), startRedis()]);
      logDir = tempDir("demo-logs");
      const apiPort = await freePort();
      const api = `http://127.0.0.1:${apiPort}`;
      demo = startNode("demo", "demo/src/main.ts", {
        DATABASE_URL: pg.url,
        REDIS_URL: redis.url,
        DEMO_LISTEN_HOST: "127.0.0.1",
        DEMO_API_PORT: String(apiPort),
        DEMO_MCP_PORTS: `${await freePort()},${await freePort()}`,
        DEMO_LOG_DIR: logDir,
        // Large enough that nothing rotates during the test: each file holds every line written.
        DEMO_LOG_MAX_BYTES: String(256 * 1024 * 1024),
        DEMO_SCAN_INTERVAL_SECONDS: "0.1",
        DEMO_SCAN_TIME_SCALE: "0.002",
        DEMO_FAILURE_RATE: "0.3",
        DEMO_CANCEL_RATE: "0.1",
        DEMO_TRAFFIC_RPS: "40",
      });
      await waitFor(
        "the demo's API",
        async () => {
          if (demo!.exited()) throw new Error(`the demo exited:\n${demo!.output()}`);
          return (await fetch(`${api}/health`).catch(() => undefined))?.status === 200;
        },
        60_000,
        200,
      );
      const chaos = async (body: unknown) => {
        const res = await fetch(`${api}/chaos`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-user": "admin-frank" },
          body: JSON.stringify(body),
        });
        assert.equal(res.status, 200, await res.text());
      };
      // Its misbehaviour too: API errors (the api logger's error lines) and a brute-force attack.
      await chaos({ mode: "error-burst", errorRatio: 0.5, durationSeconds: 3 });
      await waitFor("the error burst to end", async () => {
        const s = (await (await fetch(`${api}/chaos`)).json()) as { mode: string };
        return s.mode === "normal";
      });
      // The attack lasts until the security log holds more of the attacker's failures than the alert's
      // threshold (a fixed few seconds wrote too few on a loaded machine), then the demo is calmed.
      await chaos({ mode: "brute-force" });
      await waitFor(
        `more than ${thresholds.logs.authFailuresPer5m} failed logins from the attacker`,
        () =>
          read("security").filter(
            (l) =>
              l.includes('"ip":"198.51.100.66"') && l.includes(`"event":"${logEvents.loginFailed.name}"`),
          ).length > thresholds.logs.authFailuresPer5m,
        60_000,
        250,
      );
      await chaos({ mode: "normal" });
      const want = Object.values(logEvents).map((e) => e.name);
      await waitFor(
        `every event of the contract (${want.join(", ")})`,
        async () => {
          const seen = eventsWritten();
          return want.every((e) => seen.has(e));
        },
        60_000,
        250,
      );
      // The runbooks' examples name one of the demo's client addresses (SecurityAuthFailureSpike: "did
      // anything else happen from that address"). The traffic picks addresses at random and a loaded
      // machine sends few requests, so wait until each address has a security line other than a failure.
      await waitFor(
        "a security event other than a failed login from each of the demo's client addresses",
        () => {
          const security = read("security").filter(
            (l) => !l.includes(`"event":"${logEvents.loginFailed.name}"`),
          );
          return clientAddresses.every((ip) => security.some((l) => l.includes(`"ip":"${ip}"`)));
        },
        60_000,
        250,
      );
      await demo.stop();
      printed = demo
        .output()
        .split("\n")
        .filter((l) => l.trim() !== "");
      for (const s of Object.keys(logStreams) as LogStream[]) written.set(s, read(s));
      for (const [name, model] of agents) {
        const lines: Shipped[] = [];
        for (const [stream, ls] of written)
          for (const l of ls) {
            const r = shipFile(model, stream, l);
            if (r) lines.push(r);
          }
        for (const l of printed) {
          const r = shipContainer(model, l);
          if (r) lines.push(r);
        }
        shipped.set(name, lines);
      }
    });

    after(async () => {
      await demo?.stop();
      await Promise.all([pg?.cleanup(), redis?.cleanup()]);
    });

    test("the demo wrote lines in every stream and printed its own", () => {
      for (const [s, ls] of written) assert.ok(ls.length > 0, `${logStreams[s].file} is empty`);
      assert.ok(
        printed.some((l) => l.includes("demo workload running")),
        `stdout: ${printed.join("\n")}`,
      );
    });

    test("every line is a JSON object with time, level, msg and logger, in the contract's words", () => {
      const levels = new Set<string>(logLevels);
      const names = new Set<string>(Object.values(loggers));
      for (const [s, ls] of written)
        for (const l of ls) {
          const o = JSON.parse(l) as Record<string, unknown>;
          for (const k of ["time", "level", "msg", "logger"])
            assert.equal(typeof o[k], "string", `${s}: ${k} in ${l}`);
          assert.ok(!Number.isNaN(Date.parse(o.time as string)), l);
          assert.ok(levels.has(o.level as string), `${s}: level ${String(o.level)} is not in logLevels`);
          assert.ok(names.has(o.logger as string), `${s}: logger ${String(o.logger)} is not in loggers`);
          if (s === "errors") assert.equal(o.level, "error", l);
        }
    });

    test("the demo writes every event of the contract, on its stream, at its level, with its fields", () => {
      const byName = new Map<string, LogEventContract>(Object.values(logEvents).map((e) => [e.name, e]));
      const seen = new Set<string>();
      for (const s of ["app", "security", "audit"] as const)
        for (const l of written.get(s) ?? []) {
          const o = JSON.parse(l) as Record<string, unknown>;
          if (o.event === undefined) {
            assert.ok(s === "app", `a ${s} line without event: ${l}`);
            continue;
          }
          const e = byName.get(o.event as string);
          assert.ok(e, `event ${JSON.stringify(o.event)} is not in definitions/logs.ts logEvents: ${l}`);
          seen.add(e.name);
          assert.equal(s, e.stream, `${e.name} belongs to ${e.stream}: ${l}`);
          assert.equal(o.level, e.level, `${e.name} is written at ${e.level}: ${l}`);
          for (const f of e.fields)
            assert.ok(typeof o[f] === "string" && o[f] !== "", `${e.name} without ${f}: ${l}`);
        }
      assert.deepEqual(
        [...byName.keys()].filter((n) => !seen.has(n)),
        [],
        "events never written",
      );
    });

    test("the brute-force chaos mode makes SecurityAuthFailureSpike's own query exceed its threshold", () => {
      const rule = lokiRuleGroups
        .flatMap((g) => g.rules)
        .find((r) => isAlert(r) && r.alert === "SecurityAuthFailureSpike");
      assert.ok(rule);
      const [p] = logPipelines(rule.expr);
      // Every line of this run falls within one 5-minute window.
      for (const [agent, lines] of shipped) {
        // The attacker's address only: the normal traffic's occasional failures must not carry it.
        const counted = lines.filter(
          (l) => failingStage(p!, l) === null && l.line.includes('"ip":"198.51.100.66"'),
        ).length;
        assert.ok(
          counted > thresholds.logs.authFailuresPer5m,
          `${agent}: ${counted} lines counted, threshold ${thresholds.logs.authFailuresPer5m}`,
        );
      }
    });

    const queries = shippedQueries();

    test("every shipped LogQL query about the application's logs returns lines the demo wrote", (t) => {
      const problems: string[] = [];
      let checked = 0;
      let elsewhere = 0;
      for (const { where, query } of queries)
        for (const p of logPipelines(query)) {
          if (!aboutTheDemo(p)) elsewhere++;
          if (!aboutTheDemo(p) || exemptions.some((x) => x.applies(p))) continue;
          checked++;
          for (const [agent, lines] of shipped) {
            const why = whyNoLine(p, lines);
            if (why) problems.push(`${where}: ${query}\n    through ${agent}: ${why}`);
          }
        }
      t.diagnostic(`${checked} pipelines checked against the demo's lines, ${elsewhere} about other sources`);
      assert.deepEqual(problems, []);
      // Today: the three Loki rules and the recording, six dashboard panels, and the runbooks' and
      // logging.md's queries on the application's streams.
      assert.ok(checked >= 30, `only ${checked} pipelines checked`);
    });

    test("each exemption still applies to a shipped query, which the demo's lines indeed do not match", () => {
      for (const x of exemptions) {
        const hits = queries.flatMap(({ where, query }) =>
          logPipelines(query)
            .filter((p) => aboutTheDemo(p) && x.applies(p))
            .map((p) => ({ where, p })),
        );
        assert.ok(hits.length > 0, `stale exemption: ${x.why}`);
        for (const { where, p } of hits)
          assert.ok(
            whyNoLine(p, shipped.get("promtail")!),
            `${where}: ${p.text} now matches a demo line: drop the exemption "${x.why}"`,
          );
      }
    });

    test("the check can fail: the old event name, an invented logger, a level the demo never writes", () => {
      const lines = shipped.get("promtail")!;
      const cases: [string, RegExp][] = [
        [
          `sum(count_over_time({job="kali-agents", stream="security"} |= "auth_failure" | json | event="auth_failure" [5m]))`,
          /no line passes \|= "auth_failure"/,
        ],
        [`{job="kali-agents", stream="security"} | json | event="auth_failure"`, /event="auth_failure"/],
        [`{job="kali-agents", stream="errors", logger="api.scans"}`, /logger="api.scans"/],
        [`{job="kali-agents", stream="app"} | json | level="warning"`, /level="warning"/],
        [`{job="kali-agents", stream="audit"} |~ "(?i)LOGIN_FAILED"`, /no line passes/],
      ];
      for (const [q, want] of cases) {
        const [p] = logPipelines(q);
        assert.match(whyNoLine(p!, lines) ?? "matched", want, q);
      }
      // And the same queries with the contract's names pass.
      for (const q of [
        `{job="kali-agents", stream="security"} |= "login_failed" | json | event="login_failed"`,
        `{job="kali-agents", stream="security"} |~ "(?i)LOGIN_FAILED"`,
        `{job="kali-agents", stream="security"} | json | level=~"warn|warning"`,
      ])
        assert.equal(whyNoLine(logPipelines(q)[0]!, lines), null, q);
    });
  },
);
