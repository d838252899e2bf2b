// The scorecard's rules of the game without servers, table-driven: which samples make an incident,
// which silence acknowledges it, the nearest-rank p90. The server tests (scorecard.test.ts) check the
// same through real Prometheus and Alertmanager.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { covers, incidentsOf, p90, type Silence } from "../src/report/scorecard.ts";

const series = (alertname: string, times: number[], extra: Record<string, string> = {}) => ({
  metric: { __name__: "ALERTS", alertname, alertstate: "firing", severity: "warning", ...extra },
  points: times.map((t) => [t, 1] as const),
});
const silence = (startsAt: number, matchers: Silence["matchers"], createdBy = "alice"): Silence => ({
  id: String(startsAt),
  createdBy,
  startsAt: new Date(startsAt * 1000).toISOString(),
  endsAt: new Date((startsAt + 3600) * 1000).toISOString(),
  matchers,
});
const eq = (name: string, value: string) => ({ name, value, isRegex: false, isEqual: true });

describe("scorecard rules", () => {
  test("p90 by nearest rank, ties and one value included", () => {
    const cases: [number[], number | null][] = [
      [[], null],
      [[7], 7],
      [[1, 2, 3, 4], 4],
      [[5, 5, 5, 5, 5, 5, 5, 5, 5, 100], 5],
      [[10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 11], 10],
    ];
    for (const [xs, want] of cases) assert.equal(p90(xs), want, JSON.stringify(xs));
  });

  test("silence matchers: equal, regex anchored, negative, a missing label is empty", () => {
    const labels = { alertname: "RedisDown", severity: "critical" };
    const cases: [Silence["matchers"], boolean][] = [
      [[eq("alertname", "RedisDown")], true],
      [[eq("alertname", "Redis")], false],
      [[{ name: "alertname", value: "Redis.*", isRegex: true, isEqual: true }], true],
      [[{ name: "alertname", value: "edis", isRegex: true, isEqual: true }], false],
      [[{ name: "severity", value: "warning", isRegex: false, isEqual: false }], true],
      [[eq("alertname", "RedisDown"), eq("instance", "x")], false],
      [[{ name: "instance", value: "", isRegex: false, isEqual: true }], true],
    ];
    for (const [m, want] of cases) assert.equal(covers(silence(0, m), labels), want, JSON.stringify(m));
  });

  test("incidents: a gap over 5 minutes splits, 5 minutes exactly does not; open near the end", () => {
    const end = 10_000;
    const got = incidentsOf(
      [series("A", [1000, 1060, 1360, 2000, 2060]), series("B", [9800, 9900, 10_000])],
      [],
      end,
    );
    assert.deepEqual(
      got.map((i) => [i.alertname, i.fired_at, i.recovery_seconds]),
      [
        ["A", new Date(1_000_000).toISOString(), 360],
        ["A", new Date(2_000_000).toISOString(), 60],
        ["B", new Date(9_800_000).toISOString(), null],
      ],
    );
  });

  test("acknowledgement: the first covering silence created while it fired, not before, not after", () => {
    const s = [
      silence(900, [eq("alertname", "A")]), // before it fired: maintenance
      silence(1500, [eq("alertname", "B")]), // while it fired, but for another alert
      silence(1800, [eq("alertname", "A")]), // the acknowledgement
      silence(1700, [eq("alertname", "A")], "bob"), // earlier still, listed out of order: this one
      silence(5000, [eq("alertname", "A")]), // after it resolved
    ];
    const got = incidentsOf(
      [
        series(
          "A",
          Array.from({ length: 17 }, (_, i) => 1000 + i * 60),
        ),
      ],
      s,
      99_999,
    );
    assert.equal(got.length, 1);
    assert.equal(got[0]!.response_seconds, 700);
    assert.equal(got[0]!.acknowledged_at, new Date(1_700_000).toISOString());
  });
});
