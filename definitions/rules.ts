// Types shared by the Prometheus and Loki rule generators: one shape for every alert, so severities,
// labels and runbook links are the same whichever engine evaluates the rule.

export type Severity = "critical" | "warning" | "info";

/** A Prometheus duration: a number followed by a unit, e.g. "5m", "1h", "30s". */
export type Duration = `${number}${"ms" | "s" | "m" | "h" | "d" | "w" | "y"}`;

export interface AlertRule {
  /** CamelCase with a component prefix: HostHighCpu, PostgresDown, ... */
  readonly alert: string;
  readonly expr: string;
  readonly for?: Duration;
  readonly severity: Severity;
  /** Extra labels (severity is added from `severity`). */
  readonly labels?: Readonly<Record<string, string>>;
  /** Static: no template variables. */
  readonly summary: string;
  /** Templated with $labels / $value. */
  readonly description: string;
}

export interface RecordingRule {
  readonly record: string;
  readonly expr: string;
  readonly labels?: Readonly<Record<string, string>>;
}

export interface RuleGroup {
  readonly name: string;
  readonly interval?: Duration;
  readonly rules: readonly (AlertRule | RecordingRule)[];
}

export const isAlert = (r: AlertRule | RecordingRule): r is AlertRule => "alert" in r;

/** Where runbooks live; the runbook pass points every alert here. */
export const runbookBaseUrl =
  "https://github.com/kali-agents/kali-agents-observability/blob/main/docs/runbooks";
export const runbookPath = (alert: string): string => `docs/runbooks/${alert}.md`;
export const runbookUrl = (alert: string): string => `${runbookBaseUrl}/${alert}.md`;

/**
 * The always-firing heartbeat alert (expr vector(1)) that proves the alerting pipeline works end to end;
 * dashboards leave it out of "firing alerts" counts.
 */
export const heartbeatAlert = "Watchdog";
