// Metrics of the platform itself (Prometheus, Alertmanager, Promtail, the scrape, the exporter's
// process), which no collector of ours defines.

/**
 * Metrics that Prometheus, Alertmanager, Loki, Promtail and the scrape itself provide, which rules,
 * panels and runbooks may also use. Extend this list when one needs another of them; the consistency
 * tests read it.
 */
export const platformMetricNames: readonly string[] = [
  "up",
  "scrape_duration_seconds",
  "scrape_samples_scraped",
  "ALERTS",
  "ALERTS_FOR_STATE",
  "prometheus_rule_evaluation_failures_total",
  "prometheus_rule_group_last_duration_seconds",
  "prometheus_rule_group_interval_seconds",
  "prometheus_config_last_reload_successful",
  "prometheus_notifications_dropped_total",
  "prometheus_notifications_errors_total",
  "prometheus_notifications_sent_total",
  "prometheus_notifications_alertmanagers_discovered",
  "prometheus_tsdb_head_series",
  "prometheus_tsdb_compactions_failed_total",
  "prometheus_target_interval_length_seconds",
  "alertmanager_notifications_total",
  "alertmanager_notifications_failed_total",
  "alertmanager_config_last_reload_successful",
  "alertmanager_alerts",
  // Promtail's lines read per file: the LogsStreamSilent runbook tells a quiet application from a
  // stalled shipper with it.
  "promtail_read_lines_total",
  "process_resident_memory_bytes",
  "process_cpu_seconds_total",
  "process_start_time_seconds",
  "nodejs_eventloop_lag_p99_seconds",
  "nodejs_heap_size_used_bytes",
];
