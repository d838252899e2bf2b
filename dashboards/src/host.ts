// The host the stack runs on, on node_exporter's metric names (published by the exporter's host
// collector): CPU, memory, filesystems, network, load and clock.
import { DashboardBuilder } from "@grafana/grafana-foundation-sdk/dashboard";
import { selectors } from "../../definitions/selectors.ts";
import { thresholds } from "../../definitions/thresholds.ts";
import { series } from "../../lib/promql.ts";
import {
  clockSkewSeconds,
  cpuBusyRatio,
  filesystemAvailableForecastBytes,
  filesystemUsedRatio,
  hostMemoryUsedRatio,
  secondsSinceBoot,
} from "../../lib/signals.ts";
import { above, gauge, prom, rate, row, stat, timeseries, type DashboardModule } from "./common.ts";

const exp = selectors.exporter;
const t = thresholds.host;

// Over every host and CPU: the host variable narrows them to the hosts picked.
const cpuBusy = () => cpuBusyRatio("$__rate_interval");
const memoryUsed = () => hostMemoryUsedRatio("sum");

const ratioGauge = (title: string, description: string, expr: string, red: number) =>
  gauge({
    title,
    description,
    unit: "percentunit",
    min: 0,
    max: 1,
    decimals: 1,
    queries: [prom(expr, title)],
    thresholds: above(red),
  });

export const cpuGauge = () =>
  ratioGauge(
    "CPU busy",
    "Share of CPU time not idle, averaged over every CPU. Red from the HostHighCpuUsage alerting level.",
    cpuBusy(),
    t.cpuBusyRatio,
  );
export const memoryGauge = () =>
  ratioGauge(
    "Memory used",
    "Share of memory not available to new processes (1 - MemAvailable / MemTotal). Red from the alerting level.",
    memoryUsed(),
    t.memoryUsedRatio,
  );
export const diskGauge = () =>
  ratioGauge(
    "Fullest filesystem",
    "Used share of the fullest real filesystem (space available to non-root users). Red from the alerting level.",
    `max(${filesystemUsedRatio()})`,
    t.filesystemUsedRatio,
  );

const uptime = () =>
  stat({
    title: "Uptime",
    alerts: ["HostRebooted"],
    description: "Time since the host booted.",
    unit: "dtdurations",
    queries: [prom(secondsSinceBoot(), "uptime")],
  });

const clockSkew = () =>
  stat({
    title: "Clock skew",
    alerts: ["HostClockSkew"],
    description:
      "Difference between the host clock and Prometheus' clock at scrape time. Red from the clock-skew alerting level.",
    unit: "s",
    decimals: 2,
    queries: [prom(clockSkewSeconds(), "skew")],
    thresholds: above(t.clockSkewSeconds),
  });

const load1 = () =>
  stat({
    title: "Load (1m)",
    description: "1-minute load average.",
    unit: "short",
    decimals: 2,
    queries: [prom(series("node_load1", exp), "load1")],
  });

const cpuByMode = () =>
  timeseries({
    title: "CPU by mode",
    description: "Share of CPU time in each mode except idle, averaged over every CPU.",
    unit: "percentunit",
    min: 0,
    queries: [
      prom(`avg by (mode) (${rate(series("node_cpu_seconds_total", exp, `mode!="idle"`))})`, "{{mode}}"),
    ],
  });

const cpuBusySeries = () =>
  timeseries({
    title: "CPU busy over time",
    alerts: ["HostHighCpuUsage"],
    description: "Share of CPU time not idle. The dashed line is the alerting level.",
    unit: "percentunit",
    min: 0,
    max: 1,
    queries: [prom(cpuBusy(), "busy")],
    thresholds: above(t.cpuBusyRatio),
  });

const load = () =>
  timeseries({
    title: "Load average",
    description: "1, 5 and 15-minute load averages.",
    unit: "short",
    queries: [
      prom(series("node_load1", exp), "1m"),
      prom(series("node_load5", exp), "5m"),
      prom(series("node_load15", exp), "15m"),
    ],
  });

const memory = () =>
  timeseries({
    title: "Memory",
    description: "Total, available, cached and buffer memory, and swap in use.",
    unit: "bytes",
    min: 0,
    queries: [
      prom(series("node_memory_MemTotal_bytes", exp), "total"),
      prom(series("node_memory_MemAvailable_bytes", exp), "available"),
      prom(series("node_memory_Cached_bytes", exp), "cached"),
      prom(series("node_memory_Buffers_bytes", exp), "buffers"),
      prom(
        `${series("node_memory_SwapTotal_bytes", exp)} - ${series("node_memory_SwapFree_bytes", exp)}`,
        "swap used",
      ),
    ],
  });

const memoryUsedSeries = () =>
  timeseries({
    title: "Memory used over time",
    alerts: ["HostHighMemoryUsage"],
    description: "Share of memory not available. The dashed line is the alerting level.",
    unit: "percentunit",
    min: 0,
    max: 1,
    queries: [prom(memoryUsed(), "used")],
    thresholds: above(t.memoryUsedRatio),
  });

const fsUsedSeries = () =>
  timeseries({
    title: "Filesystem used by mount point",
    alerts: ["HostFilesystemAlmostFull"],
    description: "Used share of each real filesystem. The dashed line is the alerting level.",
    unit: "percentunit",
    min: 0,
    max: 1,
    queries: [prom(filesystemUsedRatio(), "{{mountpoint}}")],
    thresholds: above(t.filesystemUsedRatio),
  });

const fsForecast = () =>
  timeseries({
    title: `Filesystem space forecast (${t.filesystemFillHorizonSeconds / 3600}h ahead)`,
    alerts: ["HostFilesystemFillingUp"],
    description:
      "Space available to non-root users predicted by a linear fit over the last 6 hours. Below zero means the filesystem fills up within the horizon.",
    unit: "bytes",
    queries: [prom(filesystemAvailableForecastBytes(t.filesystemFillHorizonSeconds), "{{mountpoint}}")],
    thresholds: { base: "red", steps: [["green", 0]] },
  });

const network = () =>
  timeseries({
    title: "Network traffic",
    description: "Bytes per second received (positive) and transmitted (negative) by device.",
    unit: "Bps",
    queries: [
      prom(
        `sum by (device) (${rate(series("node_network_receive_bytes_total", exp, `device!="lo"`))})`,
        "{{device}} in",
      ),
      prom(
        `-sum by (device) (${rate(series("node_network_transmit_bytes_total", exp, `device!="lo"`))})`,
        "{{device}} out",
      ),
    ],
  });

const fsErrors = () =>
  stat({
    title: "Filesystem errors",
    description: "Filesystems whose statistics could not be read (an error or a timeout, e.g. a dead mount).",
    unit: "short",
    queries: [prom(`sum(${series("node_filesystem_device_error", exp)})`, "errors")],
    thresholds: above(1),
  });

export const dashboard: DashboardModule = {
  name: "host",
  title: "Kali Agents / Host",
  description: "CPU, memory, filesystems, network and clock of the host, on node_exporter's names.",
  folder: "infrastructure",
  tags: ["host"],
  build: () =>
    new DashboardBuilder("Kali Agents / Host")
      .withRow(row("Now"))
      .withPanel(cpuGauge())
      .withPanel(memoryGauge())
      .withPanel(diskGauge())
      .withPanel(uptime().height(6))
      .withPanel(load1().height(6))
      .withPanel(clockSkew().span(2).height(6))
      .withPanel(fsErrors().span(2).height(6))
      .withRow(row("CPU"))
      .withPanel(cpuBusySeries())
      .withPanel(cpuByMode())
      .withPanel(load().span(24))
      .withRow(row("Memory"))
      .withPanel(memoryUsedSeries())
      .withPanel(memory())
      .withRow(row("Filesystems and network"))
      .withPanel(fsUsedSeries())
      .withPanel(fsForecast())
      .withPanel(network().span(24)),
};
