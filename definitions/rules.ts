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

/**
 * Runbooks. Every alert's `runbook_url` annotation is its runbook's path relative to a base
 * (`<Alert>.md`, runbookRef), never an address: where the runbooks are served is the deployment's
 * choice. What shows the link joins the two: Alertmanager's templates (kali.tmpl "kali.runbook.url",
 * the base "kali.runbook.base" in settings.tmpl, which compose writes from RUNBOOK_BASE_URL) and the
 * dashboards' links (runbookUrl, built when they are generated).
 *
 * runbookBaseUrl is the one default base: a placeholder, the upstream project's docs/runbooks/ on
 * GitHub, for a deployment that sets none. The committed alertmanager/templates/settings.tmpl carries
 * the same (a test holds them equal), and the dashboards' links use it: set RUNBOOK_BASE_URL for the
 * notifications, and change this line then `npm run generate` for the dashboards.
 */
export const runbookBaseUrl =
  "https://github.com/kali-agents/kali-agents-observability/blob/main/docs/runbooks";
export const runbookPath = (alert: string): string => `docs/runbooks/${alert}.md`;
/** The `runbook_url` annotation: the runbook relative to the base. */
export const runbookRef = (alert: string): string => `${alert}.md`;
/** The runbook's address under the default base (the dashboards' links). */
export const runbookUrl = (alert: string): string => `${runbookBaseUrl}/${runbookRef(alert)}`;

/**
 * The always-firing heartbeat alert (expr vector(1)) that proves the alerting pipeline works end to end;
 * dashboards leave it out of "firing alerts" counts.
 */
export const heartbeatAlert = "Watchdog";
