// The report page's charts at any hour: every line and bar lies inside its chart's frame whatever the
// time of day the report is made. A report made after noon UTC once drew its first success-rate point
// left of the frame (the per-day point sat at each day's noon, before the period's start). The clock is
// set by the test (the period's end), so the result never depends on when the suite runs.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { renderHtml } from "../src/report/report-html.ts";
import type { Charts, Point, Report } from "../src/report/report-model.ts";

const DAY = 86_400;
// The chart geometry of report-html.ts: width 640, height 200, padding left 64, right 16, top 16, bottom 28.
const FRAME = { left: 64, right: 640 - 16, top: 16, bottom: 200 - 28 };

/** The UTC dates the report's SQL lists for [start, end): from start's day to the day of end - 1 µs. */
function daysOf(start: number, end: number): string[] {
  const out: string[] = [];
  for (let d = Math.floor(start / DAY) * DAY; d < end; d += DAY)
    out.push(new Date(d * 1000).toISOString().slice(0, 10));
  return out;
}

function report(endIso: string, seconds: number): Report {
  const end = Date.parse(endIso) / 1000;
  const start = end - seconds;
  const step = seconds >= DAY ? 3600 : 60;
  const series = (f: (t: number) => number): Point[] => {
    const out: Point[] = [];
    for (let t = start; t <= end; t += step) out.push([t, f(t)]);
    return out;
  };
  const charts: Charts = {
    step_seconds: step,
    scans_per_day: daysOf(start, end).map((date, i) => ({
      date,
      total: 10 + i,
      successful: 8 + (i % 3),
      failed: 2,
    })),
    ...(seconds < DAY
      ? {
          scans_per_interval: {
            bucket_seconds: 3600,
            buckets: Array.from({ length: Math.ceil(seconds / 3600) }, (_, i) => ({
              start: new Date((Math.floor(start / 3600) + i) * 3600 * 1000).toISOString(),
              total: 5,
              successful: 4,
              failed: 1,
            })),
          },
        }
      : {}),
    api_p95_seconds: series((t) => 0.2 + 0.1 * Math.sin(t / 5000)),
    api_error_rate: series(() => 0.01),
    cpu_ratio: series(() => 0.3),
    memory_ratio: series(() => 0.6),
    filesystems: [
      {
        name: "/",
        used_bytes: series((t) => 1e9 + (t - start)),
        free_bytes: 5e9,
        growth_bytes_per_day: DAY,
        fills_at: null,
      },
    ],
    database: [
      {
        name: "kali",
        used_bytes: series(() => 5e7),
        free_bytes: 5e9,
        growth_bytes_per_day: 0,
        fills_at: null,
      },
    ],
  };
  return {
    period: {
      start: new Date(start * 1000).toISOString(),
      end: endIso,
      days: seconds / DAY,
      seconds,
    },
    scans: { total: 0, successful: 0, failed: 0, avg_duration_seconds: null },
    performance: { avg_response_time_seconds: null, p95_response_time_seconds: null, error_rate: null },
    resources: { avg_cpu_ratio: null, avg_memory_ratio: null, peak_concurrent_scans: null },
    charts,
  };
}

/** Every chart's path coordinates and bars, by chart id. */
function shapes(
  html: string,
): Map<string, { points: [number, number][]; rects: [number, number, number, number][] }> {
  const out = new Map<string, { points: [number, number][]; rects: [number, number, number, number][] }>();
  for (const m of html.matchAll(/<svg[^>]*data-chart="([^"]+)"[^>]*>([\s\S]*?)<\/svg>/g)) {
    const points: [number, number][] = [];
    for (const p of m[2]!.matchAll(/<path d="([^"]*)"/g))
      for (const c of p[1]!.matchAll(/[ML](-?[\d.]+) (-?[\d.]+)/g)) points.push([Number(c[1]), Number(c[2])]);
    const rects: [number, number, number, number][] = [];
    for (const r of m[2]!.matchAll(
      /<rect x="(-?[\d.]+)" y="(-?[\d.]+)" width="(-?[\d.]+)" height="(-?[\d.]+)"/g,
    ))
      rects.push([Number(r[1]), Number(r[2]), Number(r[3]), Number(r[4])]);
    out.set(m[1]!, { points, rects });
  }
  return out;
}

describe("the report page's charts stay inside their frames at any hour", () => {
  const ends = ["00:00:00", "11:59:00", "12:01:00", "19:30:00", "23:59:00"];
  const periods = [
    ["a week", 7 * DAY],
    ["a day", DAY],
    ["six hours", 6 * 3600],
  ] as const;
  for (const time of ends)
    for (const [name, seconds] of periods)
      test(`${name} ending at ${time} UTC`, () => {
        const html = renderHtml(report(`2026-12-07T${time}.000Z`, seconds), []);
        const charts = shapes(html);
        assert.deepEqual(
          [...charts.keys()],
          [
            "scans-per-day",
            "success-rate",
            "api-p95",
            "api-errors",
            "cpu-memory",
            "capacity-fs",
            "capacity-db",
          ],
        );
        for (const [id, { points, rects }] of charts) {
          assert.ok(points.length + rects.length > 0, `${id} draws nothing`);
          for (const [x, y] of points) {
            assert.ok(
              x >= FRAME.left && x <= FRAME.right,
              `${id}: x ${x} outside [${FRAME.left}, ${FRAME.right}]`,
            );
            assert.ok(
              y >= FRAME.top && y <= FRAME.bottom,
              `${id}: y ${y} outside [${FRAME.top}, ${FRAME.bottom}]`,
            );
          }
          for (const [x, y, w, h] of rects) {
            assert.ok(x >= FRAME.left && x + w <= FRAME.right + 0.1, `${id}: bar x ${x}..${x + w}`);
            assert.ok(y >= FRAME.top - 0.1 && y + h <= FRAME.bottom + 0.1, `${id}: bar y ${y}..${y + h}`);
          }
        }
        // One success-rate point per day (or interval) with scans, in time order.
        // (a single point is drawn as a zero-length segment: its repeat is not another point)
        const rate = charts
          .get("success-rate")!
          .points.filter((p, i, all) => i === 0 || p[0] !== all[i - 1]![0] || p[1] !== all[i - 1]![1]);
        const want =
          seconds < DAY
            ? Math.ceil(seconds / 3600)
            : daysOf(
                Date.parse(`2026-12-07T${time}Z`) / 1000 - seconds,
                Date.parse(`2026-12-07T${time}Z`) / 1000,
              ).length;
        assert.equal(rate.length, want);
        for (let i = 1; i < rate.length; i++)
          assert.ok(rate[i]![0] > rate[i - 1]![0], "points in time order");
      });
});

test("a line of one point is drawn as a dot, not a bare move-to that shows nothing", () => {
  const r = report("2026-12-07T20:45:00.000Z", DAY);
  // Scans on the period's second (partial) day only: the success-rate line has one point.
  const charts = {
    ...r.charts!,
    scans_per_day: r.charts!.scans_per_day.map((d, i) =>
      i === 0 ? { ...d, total: 0, successful: 0, failed: 0 } : d,
    ),
  };
  const html = renderHtml({ ...r, charts }, []);
  const rate = /<svg[^>]*data-chart="success-rate"[\s\S]*?<path d="([^"]*)"/.exec(html)![1]!;
  assert.match(rate, /^M([\d.]+) ([\d.]+) L\1 \2$/);
  assert.match(html, /data-chart="success-rate"[\s\S]*?stroke-linecap="round"/);
});
