// The side of each scorecard target (at least, above or below it: definitions/scorecard.ts
// scorecardTargetSides) is written once; the report's judgment, the report's target column, the
// dashboard's colours derive from it, and the backup alert (its expression written in its rule) agrees
// with it. These tests hold every one of them to it.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { parse } from "yaml";
import { scorecardTargetSides as sides, scorecardTargets as targets } from "../../definitions/scorecard.ts";
import { scorecardRows } from "../src/report/report-html.ts";
import type { Report } from "../src/report/report-model.ts";
import { against, computeScorecard, type Silence } from "../src/report/scorecard.ts";
import { repoRoot } from "./support.ts";

type Key = keyof typeof targets;
const keys = Object.keys(targets) as Key[];
const compare = {
  "≥": (v: number, t: number) => v >= t,
  ">": (v: number, t: number) => v > t,
  "<": (v: number, t: number) => v < t,
};

describe("scorecard targets: one side each, and every use agrees with it", () => {
  test("every target has a side", () => {
    assert.deepEqual(Object.keys(sides).sort(), [...keys].sort());
    for (const k of keys) assert.ok(["atLeast", "above", "below"].includes(sides[k]), k);
  });

  test("the report's judgment: met on the target's side, and on the target itself only for 'at least'", () => {
    for (const k of keys) {
      const t = targets[k];
      const step = Math.abs(t) * 0.01 || 0.01;
      assert.equal(against(k, t).met, sides[k] === "atLeast", `${k} at its target`);
      assert.equal(against(k, t + step).met, sides[k] !== "below", `${k} above its target`);
      assert.equal(against(k, t - step).met, sides[k] === "below", `${k} below its target`);
      assert.equal(against(k, null).met, null);
    }
  });

  test("the report's target column names the comparison its 'met' column makes", () => {
    const end = 1_764_547_200;
    const start = end - 7 * 86_400;
    // One alert acknowledged after 21 s and resolved after 10 minutes; runs of both triggers; an API
    // error ratio on each side of the SLO; documentation exactly at its target (not met: above it).
    const points: [number, number][] = [];
    for (let t = start + 3600; t <= start + 4200; t += 15) points.push([t, 1]);
    const ack: Silence = {
      id: "a",
      createdBy: "alice",
      startsAt: new Date((start + 3621) * 1000).toISOString(),
      endsAt: new Date((start + 7200) * 1000).toISOString(),
      matchers: [{ name: "alertname", value: "ApiHighLatency", isRegex: false }],
    };
    const scorecard = computeScorecard({
      start,
      end,
      alerts: [
        { metric: { alertname: "ApiHighLatency", alertstate: "firing", severity: "warning" }, points },
      ],
      silences: [ack],
      runs: [
        { job: "backup", result: "success", trigger: "scheduler", runs: 9 },
        { job: "verify", result: "success", trigger: "manual", runs: 1 },
      ],
      runs30d: [
        { job: "backup", result: "success", trigger: "scheduler", runs: 29 },
        { job: "backup", result: "failure", trigger: "scheduler", runs: 1 },
        { job: "verify", result: "success", trigger: "manual", runs: 1 },
      ],
      automatedSilenceAuthors: [],
      documentation: { kinds: { alerts: { documented: 9, total: 10, missing: ["X"] } } },
      apiErrorRatio: 0,
      apiErrorRatio30d: 0.01,
    });
    const report: Report = {
      period: {
        start: new Date(start * 1000).toISOString(),
        end: new Date(end * 1000).toISOString(),
        days: 7,
        seconds: 7 * 86_400,
      },
      scans: { total: 0, successful: 0, failed: 0, avg_duration_seconds: null },
      performance: { avg_response_time_seconds: null, p95_response_time_seconds: null, error_rate: null },
      resources: { avg_cpu_ratio: null, avg_memory_ratio: null, peak_concurrent_scans: null },
      scorecard,
    };
    // Which target each row of the table is judged against.
    const judgedBy: Record<string, Key> = {
      uptime: "uptimeRatio",
      uptime_30d: "uptimeRatio",
      mean_recovery_seconds: "meanTimeToRecoverySeconds",
      mean_response_seconds: "alertResponseSeconds",
      backup_success_rate_30d: "backupSuccessRatio",
      automated_share: "automatedShareRatio",
      manual_interventions_30d: "manualInterventions30d",
      documentation_coverage: "documentationCoverageRatio",
    };
    const rows = scorecardRows(report).filter((r) => r.key in judgedBy);
    assert.deepEqual(rows.map((r) => r.key).sort(), Object.keys(judgedBy).sort());
    const met: boolean[] = [];
    for (const r of rows) {
      const op = r.target.split(" ")[0] as keyof typeof compare;
      assert.ok(op in compare, `${r.key}: ${r.target}`);
      assert.notEqual(r.value, null, r.key);
      const missed = r.key === "mean_response_seconds" ? scorecard.response.missed > 0 : false;
      assert.equal(
        r.met,
        compare[op](r.value!, targets[judgedBy[r.key]!]) && !missed,
        `${r.key}: ${r.value} ${r.target}`,
      );
      met.push(r.met!);
    }
    // The data meets some targets and misses others, so a comparison turned round cannot pass.
    assert.ok(met.includes(true) && met.includes(false), JSON.stringify(met));
  });

  test("the scorecard dashboard is red on the side where a figure misses its target", () => {
    const d = JSON.parse(
      readFileSync(join(repoRoot, "dashboards/generated/operations/scorecard.json"), "utf8"),
    ) as {
      panels: Panel[];
    };
    interface Panel {
      title: string;
      panels?: Panel[];
      fieldConfig?: { defaults?: { thresholds?: { steps: { color: string; value: number | null }[] } } };
    }
    const all = (ps: Panel[]): Panel[] => ps.flatMap((p) => [p, ...all(p.panels ?? [])]);
    const byValue = new Map(keys.map((k) => [targets[k], k]));
    assert.equal(byValue.size, keys.length, "targets of distinct values, so a threshold names its target");
    const seen = new Set<Key>();
    for (const p of all(d.panels)) {
      const steps = p.fieldConfig?.defaults?.thresholds?.steps ?? [];
      if (steps.length !== 2) continue;
      const k = byValue.get(steps[1]!.value!);
      if (!k) continue;
      seen.add(k);
      // Grafana colours a value from the step it reaches: `below` is red from the target up; `at least`
      // and `above` red under it (a value exactly at an `above` target shows green: Grafana has no >).
      const want = sides[k] === "below" ? ["green", "red"] : ["red", "green"];
      assert.deepEqual(
        steps.map((s) => s.color),
        want,
        `${p.title}: ${k} is met ${sides[k]} ${targets[k]}`,
      );
    }
    assert.deepEqual([...seen].sort(), [...keys].sort(), "every target has a coloured panel");
  });

  test("the backup alert fires on the side where the success rate misses its target", () => {
    const rules = parse(readFileSync(join(repoRoot, "prometheus/rules/generated/scorecard.yml"), "utf8")) as {
      groups: { rules: { alert?: string; expr: string }[] }[];
    };
    const alert = rules.groups
      .flatMap((g) => g.rules)
      .find((r) => r.alert === "BackupSuccessRateBelowTarget")!;
    const m = /^\S+ (<|>|<=|>=) ([\d.]+)$/.exec(alert.expr);
    assert.ok(m, alert.expr);
    const [op, n] = [m[1]!, Number(m[2])];
    const t = targets.backupSuccessRatio;
    const side: string = sides.backupSuccessRatio;
    // Fires when missed: under the target for `at least` and `above`, at or over it for `below`
    // (rounded a hair below a target of 1, where two equal counters' increase can differ in the last digit).
    if (side === "below") assert.ok(op.startsWith(">") && Math.abs(n - t) < 0.001, alert.expr);
    else assert.ok(op.startsWith("<") && n <= t && t - n < 0.001, alert.expr);
  });
});
