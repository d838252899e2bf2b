// The API's service-level objective, imported by its recording and alerting rules, the SLO dashboard,
// the alerting docs and the weekly report's scorecard.

/**
 * The API availability SLO (the seed's 99.9% uptime goal) and its multi-window, multi-burn-rate alerts
 * (Google SRE workbook, "Alerting on SLOs", table 5-8).
 */
export const apiSlo = {
  target: 0.999,
  period: "30d",
  /** A request counts as an error when the API answered 5xx. */
  errorCodeRegex: "5..",
  windows: [
    { long: "1h", short: "5m", burnRate: 14.4, for: "2m", severity: "critical" },
    { long: "6h", short: "30m", burnRate: 6, for: "15m", severity: "critical" },
    { long: "1d", short: "2h", burnRate: 3, for: "1h", severity: "warning" },
    { long: "3d", short: "6h", burnRate: 1, for: "3h", severity: "warning" },
  ],
} as const;
