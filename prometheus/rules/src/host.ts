// Host resources, from the exporter's node_exporter-compatible host collector.
import type { RuleGroup } from "../../../definitions/rules.ts";
import { aggregationLabels, selectors } from "../../../definitions/selectors.ts";
import { thresholds } from "../../../definitions/thresholds.ts";
import { eq, humanDuration, num, percent, series } from "../../../lib/promql.ts";

const t = thresholds.host;
const exp = selectors.exporter;
const fs = selectors.filesystem;

export const hostGroup: RuleGroup = {
  name: "host",
  rules: [
    {
      alert: "HostHighCpuUsage",
      // Busy = everything but idle, averaged over the CPUs: one pegged core on a 4-core host is 25%.
      expr: `1 - avg by (${aggregationLabels.target}) (rate(${series("node_cpu_seconds_total", exp, eq("mode", "idle"))}[5m])) > ${num(t.cpuBusyRatio)}`,
      for: "5m",
      severity: "warning",
      summary: "Host CPU usage is high",
      description: `The CPUs of {{ $labels.instance }} were {{ $value | humanizePercentage }} busy over the last 5 minutes (threshold ${percent(t.cpuBusyRatio)}, for 5 minutes).`,
    },
    {
      alert: "HostHighMemoryUsage",
      // MemAvailable, not MemFree: the page cache is memory the kernel gives back on demand.
      expr: `1 - (${series("node_memory_MemAvailable_bytes", exp)} / ${series("node_memory_MemTotal_bytes", exp)}) > ${num(t.memoryUsedRatio)}`,
      for: "5m",
      severity: "warning",
      summary: "Host memory usage is high",
      description: `{{ $labels.instance }} uses {{ $value | humanizePercentage }} of its memory (threshold ${percent(t.memoryUsedRatio)}).`,
    },
    {
      alert: "HostFilesystemAlmostFull",
      expr: `1 - (${series("node_filesystem_avail_bytes", fs)} / ${series("node_filesystem_size_bytes", fs)}) > ${num(t.filesystemUsedRatio)}`,
      for: "5m",
      severity: "warning",
      summary: "Filesystem almost full",
      description: `{{ $labels.mountpoint }} ({{ $labels.device }}) on {{ $labels.instance }} is {{ $value | humanizePercentage }} full (threshold ${percent(t.filesystemUsedRatio)}).`,
    },
    {
      alert: "HostFilesystemFillingUp",
      // A 6h trend: long enough to ignore a burst of temporary files, short enough to see a runaway log.
      expr: `predict_linear(${series("node_filesystem_avail_bytes", fs)}[6h], ${num(t.filesystemFillHorizonSeconds)}) < 0`,
      for: "1h",
      severity: "warning",
      summary: "Filesystem predicted to fill up",
      description: `At the rate of the last 6 hours, {{ $labels.mountpoint }} ({{ $labels.device }}) on {{ $labels.instance }} fills up within ${humanDuration(t.filesystemFillHorizonSeconds)} (predicted free space then: {{ $value | humanize1024 }}B).`,
    },
    {
      alert: "HostClockSkew",
      // The host's clock against the scrape's timestamp (Prometheus' clock): TLS, tokens and the
      // scans' timestamps all go wrong when they drift apart.
      expr: `abs(${series("node_time_seconds", exp)} - timestamp(${series("node_time_seconds", exp)})) > ${num(t.clockSkewSeconds)}`,
      for: "10m",
      severity: "warning",
      summary: "Host clock is out of sync",
      description: `The clock of {{ $labels.instance }} is {{ $value | humanizeDuration }} away from Prometheus' clock (threshold ${humanDuration(t.clockSkewSeconds)}).`,
    },
    {
      alert: "HostRebooted",
      // No `for`: a reboot is an event; the alert stays for the window and then resolves by itself.
      expr: `${series("node_time_seconds", exp)} - ${series("node_boot_time_seconds", exp)} < ${num(t.recentBootSeconds)}`,
      severity: "info",
      summary: "Host rebooted",
      description: `{{ $labels.instance }} booted {{ $value | humanizeDuration }} ago.`,
    },
  ],
};
