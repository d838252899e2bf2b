// Each alert and the panels drawn against its threshold compute their quantity with the same function
// of lib/signals.ts: the generated rule (or the recording rule it reads) and the generated panel's query
// both contain that function's output, whatever window and aggregation each passes it. A panel that
// links the alert and draws its threshold with an expression of its own fails here.
import assert from "node:assert/strict";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { stringify } from "yaml";
import { runbookUrl, type RuleGroup } from "../../definitions/rules.ts";
import { thresholds } from "../../definitions/thresholds.ts";
import { dashboards } from "../src/index.ts";
import { hostMatcher } from "../src/host-variable.ts";
import { panelsOf, substitute } from "../src/queries.ts";
import { jobs } from "../../definitions/selectors.ts";
import { requireBinaries, run, tempDir } from "../../test/support/servers.ts";
import { ruleGroups } from "../../prometheus/rules/src/index.ts";
import {
  apiLatencyQuantile,
  apiErrorRatio,
  clockSkewSeconds,
  cpuBusyRatio,
  filesystemAvailableForecastBytes,
  filesystemUsedRatio,
  hostMemoryUsedRatio,
  postgresConnectionsUsedRatio,
  redisMemoryUsedRatio,
  scanFailureRatio,
  secondsSinceBoot,
  secondsSinceJobSuccess,
  secondsSinceLastScanFinished,
} from "../../lib/signals.ts";

/** A signal with the two things a caller chooses left open: the range of a rate and what `by` keeps. */
type Shape = (window: string, by?: string) => string;

interface Pair {
  readonly alert: string;
  /** The threshold the alert compares with and its panels draw (undefined: no panel draws it). */
  readonly threshold: number | undefined;
  /** Every one of these is in the rule and in the panels. */
  readonly signals: Readonly<Record<string, Shape>>;
}

const t = thresholds;
const pairs: readonly Pair[] = [
  { alert: "HostHighCpuUsage", threshold: t.host.cpuBusyRatio, signals: { cpuBusyRatio } },
  {
    alert: "HostHighMemoryUsage",
    threshold: t.host.memoryUsedRatio,
    signals: { hostMemoryUsedRatio: (_w, op) => hostMemoryUsedRatio(op) },
  },
  {
    alert: "HostFilesystemAlmostFull",
    threshold: t.host.filesystemUsedRatio,
    signals: { filesystemUsedRatio },
  },
  {
    alert: "HostFilesystemFillingUp",
    threshold: 0,
    signals: {
      filesystemAvailableForecastBytes: () =>
        filesystemAvailableForecastBytes(t.host.filesystemFillHorizonSeconds),
    },
  },
  { alert: "HostClockSkew", threshold: t.host.clockSkewSeconds, signals: { clockSkewSeconds } },
  { alert: "HostRebooted", threshold: undefined, signals: { secondsSinceBoot } },
  {
    alert: "PostgresTooManyConnections",
    threshold: t.postgres.connectionsUsedRatio,
    signals: { postgresConnectionsUsedRatio: (_w, by) => postgresConnectionsUsedRatio(by ?? "") },
  },
  { alert: "RedisMemoryNearMax", threshold: t.redis.memoryUsedRatio, signals: { redisMemoryUsedRatio } },
  {
    alert: "ScansHighFailureRatio",
    threshold: t.scans.failureRatio,
    signals: { scanFailureRatio: (w, by) => scanFailureRatio(w, by ?? "") },
  },
  {
    alert: "ScansNotFinishing",
    threshold: t.scans.noFinishWhileQueuedSeconds,
    signals: { secondsSinceLastScanFinished },
  },
  {
    alert: "BackupTooOld",
    threshold: t.jobs.backupMaxAgeSeconds,
    signals: { secondsSinceJobSuccess: () => secondsSinceJobSuccess("backup") },
  },
  {
    alert: "DrDrillTooOld",
    threshold: t.jobs.drDrillMaxAgeSeconds,
    signals: { secondsSinceJobSuccess: () => secondsSinceJobSuccess("dr_drill") },
  },
  {
    alert: "ApiHighErrorRate",
    threshold: t.api.errorRatio,
    signals: { apiErrorRatio },
  },
  {
    alert: "ApiHighLatency",
    threshold: t.api.latencyP95Seconds,
    signals: { "apiLatencyQuantile (0.95)": (w, by) => apiLatencyQuantile(0.95, w, by) },
  },
];

const W = "WINDOW0SENTINEL";
const B = "BY0SENTINEL";
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
/** The signal's output as a pattern: any window, any `by` list (or none). */
function pattern(shape: Shape): RegExp {
  const variants = [shape(W, B), shape(W)].map((s) =>
    escape(s).replaceAll(W, "[^\\]]+").replaceAll(B, "[^()]+"),
  );
  return new RegExp(variants.map((v) => `(?:${v})`).join("|"));
}

// Rules: the alert's expressions, each with the expressions of the recording rules it reads.
const rules = ruleGroups.flatMap((g: RuleGroup) => g.rules);
const records = new Map(rules.flatMap((r) => ("record" in r ? [[r.record, r.expr] as const] : [])));
function ruleTexts(alert: string): string[] {
  return rules.flatMap((r) =>
    "alert" in r && r.alert === alert
      ? [[r.expr, ...[...records].filter(([name]) => r.expr.includes(name)).map(([, e]) => e)].join("\n")]
      : [],
  );
}

// Panels: those that link the alert's runbook, their queries without the host variable's matcher.
interface PanelView {
  readonly where: string;
  readonly exprs: string[];
  readonly steps: number[];
}
function panelsOfAlert(alert: string): PanelView[] {
  return dashboards.flatMap((d) =>
    panelsOf(d.json)
      .filter((p) => (p.fieldConfig?.defaults?.links ?? []).some((l) => l.url === runbookUrl(alert)))
      .map((p) => ({
        where: `${d.name} / ${p.title}`,
        exprs: ((p.targets ?? []) as { expr?: string }[]).map((q) =>
          (q.expr ?? "").replaceAll(`, ${hostMatcher}`, "").replaceAll(`{${hostMatcher}}`, ""),
        ),
        steps: (p.fieldConfig?.defaults?.thresholds?.steps ?? []).flatMap((s) =>
          typeof s.value === "number" ? [s.value] : [],
        ),
      })),
  );
}

describe("lib/signals.ts: an alert and its panels compute the same quantity", () => {
  for (const { alert, threshold, signals } of pairs) {
    test(`${alert}: ${Object.keys(signals).join(", ")}`, () => {
      const texts = ruleTexts(alert);
      assert.ok(texts.length > 0, `no rule defines ${alert}`);
      const panels = panelsOfAlert(alert);
      assert.ok(panels.length > 0, `no panel links ${alert}`);
      for (const [name, shape] of Object.entries(signals)) {
        const re = pattern(shape);
        assert.ok(
          texts.some((x) => re.test(x)),
          `${alert}'s rule does not use ${name}: ${texts.join(" | ")}`,
        );
        assert.ok(
          panels.some((p) => p.exprs.some((e) => re.test(e))),
          `no panel linking ${alert} uses ${name}`,
        );
        // Every panel that draws the alert's threshold draws the alert's quantity.
        if (threshold === undefined) continue;
        const drawn = panels.filter((p) => p.steps.includes(threshold));
        assert.ok(drawn.length > 0, `no panel linking ${alert} draws its threshold ${threshold}`);
        for (const p of drawn)
          assert.ok(
            p.exprs.some((e) => re.test(e)),
            `${p.where} draws ${alert}'s threshold with its own expression: ${p.exprs.join(" | ")}`,
          );
      }
    });
  }

  test("the patterns match what the functions write and nothing else", () => {
    const re = pattern(cpuBusyRatio);
    assert.match(cpuBusyRatio("5m", "job, host, instance"), re);
    assert.match(cpuBusyRatio("$__rate_interval"), re);
    // The same quantity written by hand, with another aggregation, is not the function's output.
    assert.doesNotMatch(
      '1 - avg by (instance) (irate(node_cpu_seconds_total{job="kali-agents-exporter", mode="idle"}[5m]))',
      re,
    );
    assert.doesNotMatch(
      'redis_memory_used_bytes{job="kali-agents-exporter"} / redis_memory_max_bytes{job="kali-agents-exporter"}',
      pattern(redisMemoryUsedRatio),
    );
  });
});

// What the panels show, evaluated by the pinned promtool: a healthy API (no 5xx at all has no 5xx series)
// is an error ratio of 0, not "no data", on every panel of ApiHighErrorRate as in its recording rule.
describe("the error-ratio panels on a healthy API", { skip: requireBinaries("promtool") }, () => {
  test("show 0 where there is no 5xx series", () => {
    const panels = panelsOfAlert("ApiHighErrorRate");
    assert.ok(panels.length >= 2, panels.map((p) => p.where).join(", "));
    const exprs = [...new Set(panels.flatMap((p) => p.exprs).map((e) => substitute(e)))];
    const dir = tempDir("error-ratio");
    const file = join(dir, "panels.test.yml");
    writeFileSync(
      file,
      stringify({
        evaluation_interval: "1m",
        tests: [
          {
            // 15 s, the scrape interval: a 1m range holds 4 samples (Prometheus 3's ranges are left-open).
            interval: "15s",
            input_series: [
              {
                series: `http_requests_total{job="${jobs.api}", route="/api/scans", code="200"}`,
                values: "0+15x60",
              },
            ],
            promql_expr_test: exprs.map((expr) => ({
              expr,
              eval_time: "10m",
              exp_samples: [{ labels: "{}", value: 0 }],
            })),
          },
        ],
      }),
    );
    const r = run("promtool", ["test", "rules", file]);
    rmSync(dir, { recursive: true, force: true });
    assert.equal(r.status, 0, `${exprs.join("\n")}\n${r.stdout}${r.stderr}`);
  });
});
