// Host resources, from the exporter's node_exporter-compatible host collector.
import type { RuleGroup } from "../../../definitions/rules.ts";
import { aggregationLabels } from "../../../definitions/selectors.ts";
import { thresholds } from "../../../definitions/thresholds.ts";
import { humanDuration, num, percent } from "../../../lib/promql.ts";
import {
  clockSkewSeconds,
  cpuBusyRatio,
  filesystemAvailableForecastBytes,
  filesystemUsedRatio,
  hostMemoryUsedRatio,
  secondsSinceBoot,
} from "../../../lib/signals.ts";

const t = thresholds.host;

export const hostGroup: RuleGroup = {
  name: "host",
  rules: [
    {
      alert: "HostHighCpuUsage",
      expr: `${cpuBusyRatio("5m", aggregationLabels.target)} > ${num(t.cpuBusyRatio)}`,
      for: "5m",
      severity: "warning",
      summary: "Host CPU usage is high",
      description: `The CPUs of {{ $labels.instance }} were {{ $value | humanizePercentage }} busy over the last 5 minutes (threshold ${percent(t.cpuBusyRatio)}, for 5 minutes).`,
    },
    {
      alert: "HostHighMemoryUsage",
      expr: `${hostMemoryUsedRatio()} > ${num(t.memoryUsedRatio)}`,
      for: "5m",
      severity: "warning",
      summary: "Host memory usage is high",
      description: `{{ $labels.instance }} uses {{ $value | humanizePercentage }} of its memory (threshold ${percent(t.memoryUsedRatio)}).`,
    },
    {
      alert: "HostFilesystemAlmostFull",
      expr: `${filesystemUsedRatio()} > ${num(t.filesystemUsedRatio)}`,
      for: "5m",
      severity: "warning",
      summary: "Filesystem almost full",
      description: `{{ $labels.mountpoint }} ({{ $labels.device }}) on {{ $labels.instance }} is {{ $value | humanizePercentage }} full (threshold ${percent(t.filesystemUsedRatio)}).`,
    },
    {
      alert: "HostFilesystemFillingUp",
      expr: `${filesystemAvailableForecastBytes(t.filesystemFillHorizonSeconds)} < 0`,
      for: "1h",
      severity: "warning",
      summary: "Filesystem predicted to fill up",
      description: `At the rate of the last 6 hours, {{ $labels.mountpoint }} ({{ $labels.device }}) on {{ $labels.instance }} fills up within ${humanDuration(t.filesystemFillHorizonSeconds)} (predicted free space then: {{ $value | humanize1024 }}B).`,
    },
    {
      alert: "HostClockSkew",
      // The host's clock against the scrape's timestamp (Prometheus' clock): TLS, tokens and the
      // scans' timestamps all go wrong when they drift apart.
      expr: `${clockSkewSeconds()} > ${num(t.clockSkewSeconds)}`,
      for: "10m",
      severity: "warning",
      summary: "Host clock is out of sync",
      description: `The clock of {{ $labels.instance }} is {{ $value | humanizeDuration }} away from Prometheus' clock (threshold ${humanDuration(t.clockSkewSeconds)}).`,
    },
    {
      alert: "HostRebooted",
      // No `for`: a reboot is an event; the alert stays for the window and then resolves by itself.
      expr: `${secondsSinceBoot()} < ${num(t.recentBootSeconds)}`,
      severity: "info",
      summary: "Host rebooted",
      description: `{{ $labels.instance }} booted {{ $value | humanizeDuration }} ago.`,
    },
  ],
};
