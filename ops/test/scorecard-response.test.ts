// The alert-response figure's rule, as a pure function of ALERTS samples and silences (the server-backed
// ops/test/scorecard.test.ts checks the same figures read from a real Prometheus and Alertmanager):
// an incident nobody acknowledged counts against the target, with the time it went unanswered.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { scorecardTargets } from "../../definitions/scorecard.ts";
import { computeScorecard, type Silence } from "../src/report/scorecard.ts";

const end = 1_764_547_200; // 2025-12-01T00:00:00Z
const start = end - 7 * 86_400;
const target = scorecardTargets.alertResponseSeconds;

/** An ALERTS series firing every 15 s (Prometheus' evaluation) from `from` for `seconds`. */
function alert(alertname: string, from: number, seconds: number, severity = "warning") {
  const points: [number, number][] = [];
  for (let t = from; t <= from + seconds; t += 15) points.push([t, 1]);
  return { metric: { __name__: "ALERTS", alertname, alertstate: "firing", severity }, points };
}
function silence(alertname: string, at: number): Silence {
  return {
    id: alertname,
    createdBy: "alice",
    startsAt: new Date(at * 1000).toISOString(),
    endsAt: new Date((at + 3600) * 1000).toISOString(),
    matchers: [{ name: "alertname", value: alertname, isRegex: false }],
  };
}
const scorecard = (alerts: ReturnType<typeof alert>[], silences: Silence[]) =>
  computeScorecard({
    start,
    end,
    alerts,
    silences,
    runs: [],
    runs30d: [],
    automatedSilenceAuthors: [],
    documentation: { kinds: {} },
    apiErrorRatio: null,
    apiErrorRatio30d: null,
  }).response;

describe("scorecard: alert response counts unacknowledged incidents against the target", () => {
  test("the docs' week: one alert acknowledged in 21 s, six never acknowledged: not met", () => {
    // Six warnings of 2 to 45 minutes (any hour of the week, two at the same second), one acknowledged.
    const t0 = start + 3 * 86_400 + 3 * 3600 + 17;
    const alerts = [
      alert("ApiHighLatency", t0, 600),
      alert("HostHighCpuUsage", t0 + 5000, 120),
      alert("HostHighMemoryUsage", t0 + 5000, 2700),
      alert("ScansQueueBacklog", start + 60, 900),
      alert("RedisMemoryNearMax", end - 86_400 + 82_800, 300),
      alert("ScansHighFailureRatio", start + 2 * 86_400 + 45, 1800),
      alert("PostgresTooManyConnections", end - 4000, 240),
    ];
    const r = scorecard(alerts, [silence("ApiHighLatency", t0 + 21)]);
    assert.equal(r.alerts, 7);
    assert.equal(r.acknowledged, 1);
    assert.equal(r.never_acknowledged_share, 6 / 7);
    assert.equal(r.missed, 6);
    // Mean of 21, 120, 2700, 900, 300, 1800, 240 s.
    assert.equal(r.mean_seconds.value, (21 + 120 + 2700 + 900 + 300 + 1800 + 240) / 7);
    assert.equal(r.mean_seconds.met, false);
    assert.equal(r.p90_seconds, 2700);
  });

  test("short unanswered incidents alone: the mean is under the target, and still not met", () => {
    const r = scorecard(
      [alert("HostHighCpuUsage", start + 100, 60), alert("ApiHighLatency", start + 9000, 90)],
      [silence("ApiHighLatency", start + 9030)],
    );
    assert.equal(r.mean_seconds.value, (60 + 30) / 2);
    assert.ok(r.mean_seconds.value! < target);
    assert.equal(r.missed, 1);
    assert.equal(r.mean_seconds.met, false);
  });

  test("every incident acknowledged in time: met; one firing unanswered at the end is missed only once it waited the target", () => {
    const acked = [alert("ApiHighLatency", start + 500, 1200)];
    const ack = [silence("ApiHighLatency", start + 800)];
    const all = scorecard(acked, ack);
    assert.deepEqual(all.mean_seconds, { value: 300, target, met: true });
    assert.equal(all.missed, 0);
    // Fired 10 minutes before the period's end, nobody has answered yet: waiting, not missed.
    const pending = scorecard([...acked, alert("RedisDown", end - 600, 600, "critical")], ack);
    assert.equal(pending.missed, 0);
    assert.deepEqual(pending.mean_seconds, { value: 450, target, met: true });
    // The same at exactly the target's length unanswered: missed.
    const late = scorecard([...acked, alert("RedisDown", end - target, target, "critical")], ack);
    assert.equal(late.missed, 1);
    assert.equal(late.mean_seconds.met, false);
    assert.equal(late.mean_seconds.value, (300 + target) / 2);
  });
});
