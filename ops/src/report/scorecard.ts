// The operations plan's success metrics for one period (docs/operations/scorecard.md defines each):
// time to recovery and alert response from Prometheus' ALERTS history and Alertmanager's silences,
// backup success rate, automated share and manual interventions from the ops jobs' run counters
// (kali_agents_job_runs_total), and documentation coverage as `npm run generate` measured it.
// The figure computations are pure functions of what was read, so the rules of the game (which
// incident belongs to which week, what acknowledges an alert) are tested without servers as well.
import { jobMetricLabel, selectors } from "../../../definitions/selectors.ts";
import {
  scorecardTargetSides as sides,
  scorecardTargets as targets,
} from "../../../definitions/scorecard.ts";
import { increase } from "../../../lib/promql.ts";
import { apiErrorRatio } from "../../../lib/signals.ts";
import { query, scalar, withBasicAuth, type Series } from "./prometheus-api.ts";
// Imported, not read through import.meta.url: tsc emits an imported JSON file into dist/, and a file
// nothing imports is missing from the ops image, where `ops report` failed with ENOENT on it
// (test/containers/runtime-files.test.ts finds every file the programs read beside their code).
import documentationCoverage from "../../../definitions/generated/documentation-coverage.json" with { type: "json" };

/** One firing of one alert (one ALERTS series), from its first firing sample to its last. */
interface Incident {
  readonly alertname: string;
  readonly severity: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly fired_at: string;
  /** The last firing sample (Prometheus evaluates every 15 s); null while it still fires. */
  readonly resolved_at: string | null;
  readonly recovery_seconds: number | null;
  /** When the first silence covering it took effect, if one was created while it fired. */
  readonly acknowledged_at: string | null;
  readonly response_seconds: number | null;
}

export interface Silence {
  readonly id: string;
  readonly createdBy: string;
  readonly startsAt: string;
  readonly endsAt: string;
  readonly matchers: readonly { name: string; value: string; isRegex: boolean; isEqual?: boolean }[];
}

export interface Figure<T = number> {
  readonly value: T | null;
  readonly target: number;
  /** Whether the value meets the target; null without a value. */
  readonly met: boolean | null;
}

export interface Scorecard {
  readonly uptime: {
    /** Share of the API's requests answered without a 5xx in the period; null without a request. */
    readonly availability: Figure;
    /** The same over the SLO period (30 days) up to the period's end: the SLO dashboard's figure. */
    readonly availability_30d: Figure;
  };
  readonly recovery: {
    /** Incidents resolved within the period (whenever they fired). */
    readonly incidents: number;
    readonly mean_seconds: Figure;
    readonly p90_seconds: number | null;
    /** Incidents still firing at the period's end (counted in the period they resolve). */
    readonly open: number;
  };
  readonly response: {
    /** Incidents that fired within the period. */
    readonly alerts: number;
    readonly acknowledged: number;
    /**
     * How long the period's incidents waited for an answer: to the acknowledgement, or, never
     * acknowledged, to the resolution (or the period's end while still firing). Met when the mean is
     * below the target and no incident was missed.
     */
    readonly mean_seconds: Figure;
    readonly p90_seconds: number | null;
    readonly never_acknowledged_share: number | null;
    /**
     * Incidents never acknowledged: resolved without an answer, or still firing unanswered for the
     * target's length or more at the period's end. Each is a missed response (the target is not met).
     */
    readonly missed: number;
  };
  readonly backups: {
    readonly runs_30d: number;
    readonly successful_30d: number;
    readonly success_rate_30d: Figure;
  };
  readonly automation: {
    readonly runs: number;
    readonly scheduled: number;
    readonly manual: number;
    readonly automated_share: Figure;
  };
  readonly interventions: {
    readonly manual_runs_30d: number;
    readonly silences_by_people_30d: number;
    readonly total_30d: Figure;
    readonly silences_by_people: number;
  };
  readonly documentation: {
    readonly coverage: Figure;
    readonly kinds: Readonly<Record<string, { documented: number; total: number; missing: string[] }>>;
  };
  /** The period's incidents: resolved in it, fired in it, or still open at its end. */
  readonly incidents: readonly Incident[];
}

const DAY = 86_400;
/** Incidents that started this long before the period are still found (capped by retention). */
const lookbackSeconds = 7 * DAY;
/** Two firing samples of one series further apart than this are two incidents (5 m: staleness). */
const incidentGapSeconds = 300;

const iso = (s: number) => new Date(s * 1000).toISOString();
const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
/** The nearest-rank p90: the smallest value with at least 90 % of values at or below it. */
export function p90(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.ceil(0.9 * sorted.length) - 1]!;
}
const meets = {
  atLeast: (value: number, target: number) => value >= target,
  above: (value: number, target: number) => value > target,
  below: (value: number, target: number) => value < target,
} as const;
/** `value` against the target `key`, met on the side definitions/scorecard.ts scorecardTargetSides gives. */
export const against = (key: keyof typeof targets, value: number | null): Figure => ({
  value,
  target: targets[key],
  met: value === null ? null : meets[sides[key]](value, targets[key]),
});

/** Whether every matcher of a silence matches the labels (Alertmanager's rules: regexes anchored). */
export function covers(s: Silence, labels: Readonly<Record<string, string>>): boolean {
  return s.matchers.every((m) => {
    const v = labels[m.name] ?? "";
    const hit = m.isRegex ? new RegExp(`^(?:${m.value})$`).test(v) : v === m.value;
    return (m.isEqual ?? true) ? hit : !hit;
  });
}

/**
 * Splits ALERTS samples (a matrix of firing alerts) into incidents and attaches the first covering
 * silence that took effect while each fired. `end` is the period's end (unix seconds).
 */
export function incidentsOf(
  alerts: readonly Series[],
  silences: readonly Silence[],
  end: number,
): Incident[] {
  const out: Incident[] = [];
  const silenceStarts = silences
    .map((s) => ({ s, at: Date.parse(s.startsAt) / 1000 }))
    .sort((a, b) => a.at - b.at);
  for (const series of alerts) {
    const { __name__: _n, alertstate: _s, ...labels } = series.metric;
    const runs: [number, number][] = [];
    for (const [t] of series.points) {
      const last = runs.at(-1);
      if (last && t - last[1] <= incidentGapSeconds) last[1] = t;
      else runs.push([t, t]);
    }
    for (const [from, to] of runs) {
      const open = end - to < incidentGapSeconds;
      const until = open ? end : to;
      const ack = silenceStarts.find(({ s, at }) => at >= from && at <= until && covers(s, labels));
      out.push({
        alertname: labels.alertname ?? "",
        severity: labels.severity ?? "",
        labels,
        fired_at: iso(from),
        resolved_at: open ? null : iso(to),
        recovery_seconds: open ? null : to - from,
        acknowledged_at: ack ? iso(ack.at) : null,
        response_seconds: ack ? Math.round(ack.at - from) : null,
      });
    }
  }
  return out.sort((a, b) => a.fired_at.localeCompare(b.fired_at) || a.alertname.localeCompare(b.alertname));
}

interface RunCount {
  readonly job: string;
  readonly result: string;
  readonly trigger: string;
  readonly runs: number;
}

export interface DocumentationCoverage {
  readonly kinds: Record<string, { documented: number; total: number; missing: string[] }>;
}

interface ScorecardInputs {
  readonly start: number;
  readonly end: number;
  readonly alerts: readonly Series[];
  readonly silences: readonly Silence[];
  /** Ops runs within the period, and within the 30 days up to its end. */
  readonly runs: readonly RunCount[];
  readonly runs30d: readonly RunCount[];
  readonly automatedSilenceAuthors: readonly string[];
  readonly documentation: DocumentationCoverage;
  /** The API's error ratio in the period and over the 30 days up to its end; null without requests. */
  readonly apiErrorRatio: number | null;
  readonly apiErrorRatio30d: number | null;
}

export function computeScorecard(i: ScorecardInputs): Scorecard {
  const inPeriod = (iso: string | null) =>
    iso !== null && Date.parse(iso) / 1000 > i.start && Date.parse(iso) / 1000 <= i.end;
  const all = incidentsOf(i.alerts, i.silences, i.end);
  const resolved = all.filter((x) => inPeriod(x.resolved_at));
  const fired = all.filter((x) => inPeriod(x.fired_at));
  const open = all.filter((x) => x.resolved_at === null);
  const incidents = all.filter((x) => resolved.includes(x) || fired.includes(x) || open.includes(x));
  const recoveries = resolved.map((x) => x.recovery_seconds!);
  const responses = fired.flatMap((x) => (x.response_seconds === null ? [] : [x.response_seconds]));
  // An incident nobody acknowledged waited as long as it went unanswered; it is missed once it
  // resolved so, or once it waited the target's length (one that fired just before the end may still be).
  const waited = (x: Incident) =>
    x.response_seconds ?? x.recovery_seconds ?? Math.round(i.end - Date.parse(x.fired_at) / 1000);
  const waits = fired.map(waited);
  const missed = fired.filter(
    (x) =>
      x.response_seconds === null && (x.resolved_at !== null || waited(x) >= targets.alertResponseSeconds),
  ).length;
  const meanWait = mean(waits);

  const sum = (rs: readonly RunCount[], f: (r: RunCount) => boolean) =>
    rs.filter(f).reduce((a, r) => a + r.runs, 0);
  const backupRuns = sum(i.runs30d, (r) => r.job === "backup");
  const backupOk = sum(i.runs30d, (r) => r.job === "backup" && r.result === "success");
  const runs = sum(i.runs, () => true);
  const scheduled = sum(i.runs, (r) => r.trigger === "scheduler");
  const manual = sum(i.runs, (r) => r.trigger === "manual");
  const manual30d = sum(i.runs30d, (r) => r.trigger === "manual");
  const byPeople = (from: number) =>
    i.silences.filter((s) => {
      const at = Date.parse(s.startsAt) / 1000;
      return at > from && at <= i.end && !i.automatedSilenceAuthors.includes(s.createdBy);
    }).length;
  const people30d = byPeople(i.end - 30 * DAY);

  const kinds = i.documentation.kinds;
  const documented = Object.values(kinds).reduce((a, k) => a + k.documented, 0);
  const total = Object.values(kinds).reduce((a, k) => a + k.total, 0);

  const availability = (errorRatio: number | null) => (errorRatio === null ? null : 1 - errorRatio);
  // Met below the target and with none missed.
  const response = against("alertResponseSeconds", meanWait);
  return {
    uptime: {
      availability: against("uptimeRatio", availability(i.apiErrorRatio)),
      availability_30d: against("uptimeRatio", availability(i.apiErrorRatio30d)),
    },
    recovery: {
      incidents: resolved.length,
      mean_seconds: against("meanTimeToRecoverySeconds", mean(recoveries)),
      p90_seconds: p90(recoveries),
      open: open.length,
    },
    response: {
      alerts: fired.length,
      acknowledged: responses.length,
      mean_seconds: { ...response, met: response.met === null ? null : response.met && missed === 0 },
      p90_seconds: p90(waits),
      never_acknowledged_share: fired.length ? (fired.length - responses.length) / fired.length : null,
      missed,
    },
    backups: {
      runs_30d: backupRuns,
      successful_30d: backupOk,
      success_rate_30d: against("backupSuccessRatio", backupRuns ? backupOk / backupRuns : null),
    },
    automation: {
      runs,
      scheduled,
      manual,
      automated_share: against("automatedShareRatio", runs ? scheduled / runs : null),
    },
    interventions: {
      manual_runs_30d: manual30d,
      silences_by_people_30d: people30d,
      total_30d: against("manualInterventions30d", manual30d + people30d),
      silences_by_people: byPeople(i.start),
    },
    documentation: {
      coverage: against("documentationCoverageRatio", total ? documented / total : null),
      kinds,
    },
    incidents,
  };
}

// ------------------------------------------------------------------ reading the sources

/** The incidents' alerts: critical and warning only (info never wakes anyone). */
const alertsQuery = (windowSeconds: number) =>
  `ALERTS{alertstate="firing", severity=~"critical|warning"}[${windowSeconds}s]`;

/** Ops runs by job, result and trigger over a window (the job label arrives as exported_job). */
const runsQuery = (windowSeconds: number) =>
  `sum by (${jobMetricLabel}, result, trigger) (increase(kali_agents_job_runs_total{${selectors.exporter}}[${windowSeconds}s]))`;

async function runCounts(prometheusUrl: string, windowSeconds: number, at: Date): Promise<RunCount[]> {
  // increase() extrapolates to the window's edges by up to one scrape interval; a count of runs is a
  // whole number, so it is rounded (a run is a step of 1, far above the extrapolation's error).
  return (await query(prometheusUrl, runsQuery(windowSeconds), at)).map((s) => ({
    job: s.metric[jobMetricLabel] ?? "",
    result: s.metric.result ?? "",
    trigger: s.metric.trigger ?? "",
    runs: Math.round(s.points[0]?.[1] ?? 0),
  }));
}

export async function fetchSilences(alertmanagerUrl: string): Promise<Silence[]> {
  let res: Response;
  const { url, shown, headers } = withBasicAuth(alertmanagerUrl);
  const u = new URL("/api/v2/silences", url);
  try {
    res = await fetch(u, { headers, signal: AbortSignal.timeout(30_000) });
  } catch (e) {
    throw new Error(`Alertmanager at ${shown} is not reachable: ${(e as Error).message}`);
  }
  if (!res.ok) throw new Error(`Alertmanager at ${shown} answered ${res.status} to ${u.pathname}`);
  return (await res.json()) as Silence[];
}

/** The coverage `npm run generate` measured (definitions/generated/documentation-coverage.json). */
function readDocumentationCoverage(): DocumentationCoverage {
  return documentationCoverage satisfies DocumentationCoverage;
}

interface ScorecardSources {
  readonly prometheusUrl: string;
  readonly alertmanagerUrl: string;
  readonly automatedSilenceAuthors: readonly string[];
}

export async function scorecard(src: ScorecardSources, start: Date, end: Date): Promise<Scorecard> {
  const window = Math.round((end.getTime() - start.getTime()) / 1000);
  const [alerts, silences, runs, runs30d, errorRatio, errorRatio30d] = await Promise.all([
    query(src.prometheusUrl, alertsQuery(window + lookbackSeconds), end),
    fetchSilences(src.alertmanagerUrl),
    runCounts(src.prometheusUrl, window, end),
    runCounts(src.prometheusUrl, 30 * DAY, end),
    scalar(src.prometheusUrl, apiErrorRatio(`${window}s`, undefined, increase), end),
    scalar(src.prometheusUrl, apiErrorRatio(`${30 * DAY}s`, undefined, increase), end),
  ]);
  return computeScorecard({
    start: start.getTime() / 1000,
    end: end.getTime() / 1000,
    alerts,
    silences,
    runs,
    runs30d,
    automatedSilenceAuthors: src.automatedSilenceAuthors,
    documentation: readDocumentationCoverage(),
    apiErrorRatio: errorRatio,
    apiErrorRatio30d: errorRatio30d,
  });
}
