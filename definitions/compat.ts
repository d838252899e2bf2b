// The verdict on every metric name the community dashboards query (extracted from their JSON into
// definitions/generated/compat-dashboards.ts by scripts/compat-extract.ts): published by the exporter (a
// catalogue entry, or prom-client's default process metrics), published only where its source exists,
// or does not apply here, with the reason. Plain data: the docs generator and the tests read it.
import { compatDashboards } from "./generated/compat-dashboards.ts";
import { catalogue } from "./metrics/catalogue.ts";

/** prom-client's default metrics (the exporter's own process) that the dashboards read. */
const promClientDefaultNames: readonly string[] = [
  "process_cpu_seconds_total",
  "process_max_fds",
  "process_open_fds",
  "process_virtual_memory_bytes",
  "process_resident_memory_bytes",
  "process_start_time_seconds",
];

/**
 * Where a published name can be absent: its source does not exist on every host, server or major. The
 * test checks the condition on the machine it runs on and then requires the name.
 */
export interface Condition {
  /** For the reader (docs/metrics.md). */
  readonly when: string;
  /** A file (under the host root) that must exist, and a pattern its text must match. */
  readonly file?: string;
  readonly matches?: string;
  /** Published by a Redis replica only. */
  readonly redisReplica?: true;
  /** Published up to this PostgreSQL major only. */
  readonly postgresMaxMajor?: number;
  /** Published when a network interface's speed file reads (a number, -1 included). */
  readonly linkSpeed?: true;
}

const meminfo = (field: string): Condition => ({
  when: `the kernel has ${field} in /proc/meminfo`,
  file: "/proc/meminfo",
  matches: `^${field}:`,
});
const beforePg17: Condition = {
  when: "PostgreSQL 16 and older (17 dropped the backends' own writes from pg_stat_bgwriter; pg_stat_io counts them)",
  postgresMaxMajor: 16,
};

export const publishedWhen: Readonly<Record<string, Condition>> = {
  // meminfo fields that depend on the kernel's version, architecture and configuration.
  node_memory_HardwareCorrupted_bytes: meminfo("HardwareCorrupted"),
  node_memory_Zswap_bytes: meminfo("Zswap"),
  node_memory_Zswapped_bytes: meminfo("Zswapped"),
  node_memory_DirectMap1G_bytes: meminfo("DirectMap1G"),
  node_memory_DirectMap2M_bytes: meminfo("DirectMap2M"),
  node_memory_DirectMap4k_bytes: meminfo("DirectMap4k"),
  node_memory_NFS_Unstable_bytes: meminfo("NFS_Unstable"),
  node_memory_ShmemPmdMapped_bytes: meminfo("ShmemPmdMapped"),
  node_memory_ShmemHugePages_bytes: meminfo("ShmemHugePages"),
  node_pressure_cpu_waiting_seconds_total: {
    when: "the kernel has pressure stall information (Linux 4.20+, /proc/pressure)",
    file: "/proc/pressure/cpu",
  },
  node_pressure_io_waiting_seconds_total: {
    when: "the kernel has /proc/pressure/io",
    file: "/proc/pressure/io",
  },
  node_pressure_io_stalled_seconds_total: {
    when: "the kernel has /proc/pressure/io",
    file: "/proc/pressure/io",
  },
  node_pressure_memory_waiting_seconds_total: {
    when: "the kernel has /proc/pressure/memory",
    file: "/proc/pressure/memory",
  },
  node_pressure_memory_stalled_seconds_total: {
    when: "the kernel has /proc/pressure/memory",
    file: "/proc/pressure/memory",
  },
  node_pressure_irq_stalled_seconds_total: {
    when: "the kernel has /proc/pressure/irq (Linux 6.1+ with CONFIG_IRQ_TIME_ACCOUNTING)",
    file: "/proc/pressure/irq",
  },
  node_nf_conntrack_entries: {
    when: "the nf_conntrack module is loaded",
    file: "/proc/sys/net/netfilter/nf_conntrack_count",
  },
  node_nf_conntrack_entries_limit: {
    when: "the nf_conntrack module is loaded",
    file: "/proc/sys/net/netfilter/nf_conntrack_count",
  },
  node_kernel_hung_tasks_total: {
    when: "the kernel counts hung tasks (/proc/sys/kernel/hung_task_detect_count, Linux 6.6+)",
    file: "/proc/sys/kernel/hung_task_detect_count",
  },
  node_kernel_hung_tasks: {
    when: "the kernel counts hung tasks (/proc/sys/kernel/hung_task_detect_count, Linux 6.6+)",
    file: "/proc/sys/kernel/hung_task_detect_count",
  },
  node_schedstat_running_seconds_total: { when: "the kernel has /proc/schedstat", file: "/proc/schedstat" },
  node_schedstat_waiting_seconds_total: { when: "the kernel has /proc/schedstat", file: "/proc/schedstat" },
  node_schedstat_timeslices_total: { when: "the kernel has /proc/schedstat", file: "/proc/schedstat" },
  node_arp_entries: { when: "the host has ARP neighbours", file: "/proc/net/arp", matches: "\\n\\S" },
  node_network_speed_bytes: {
    when: "an interface's /sys/class/net/<device>/speed reads (-1, published as -125000, when the driver does not know the speed; loopback and a link that is down answer EINVAL and have none)",
    linkSpeed: true,
  },
  node_disk_discards_completed_total: {
    when: "the kernel has discard counters in /proc/diskstats (Linux 4.18+)",
    file: "/proc/diskstats",
  },
  node_disk_flush_requests_total: {
    when: "the kernel has flush counters in /proc/diskstats (Linux 5.5+)",
    file: "/proc/diskstats",
  },
  redis_master_last_io_seconds_ago: { when: "the Redis server is a replica", redisReplica: true },
  pg_stat_bgwriter_buffers_backend_total: beforePg17,
  pg_stat_bgwriter_buffers_backend_fsync_total: beforePg17,
};

const hardware =
  "a hardware sensor (hwmon, thermal cooling devices, power supplies, CPU frequency scaling in /sys): absent on the virtual machines and containers this stack runs on; the sidecar watches the resources Kali Agents uses, node_exporter remains the tool for hardware health";
const timex =
  "read with the adjtimex(2) system call, which Node.js cannot make without a native addon; clock synchronisation is the host's NTP daemon's concern, not Kali Agents'";
const systemd =
  "node_exporter's systemd collector, off by default there: it needs a D-Bus connection to the host's systemd, which a container sidecar does not have";
const processes =
  "node_exporter's processes collector, off by default there: it reads every /proc/<pid> on each scrape, a cost that grows with the host's process count";

/** Names the dashboards query that this exporter does not publish, and why. */
export const notApplicable: Readonly<Record<string, string>> = {
  node_cooling_device_cur_state: hardware,
  node_cooling_device_max_state: hardware,
  node_cpu_scaling_frequency_hertz: hardware,
  node_cpu_scaling_frequency_max_hertz: hardware,
  node_cpu_scaling_frequency_min_hertz: hardware,
  node_hwmon_chip_names: hardware,
  node_hwmon_fan_min_rpm: hardware,
  node_hwmon_fan_rpm: hardware,
  node_hwmon_temp_celsius: hardware,
  node_hwmon_temp_crit_alarm_celsius: hardware,
  node_hwmon_temp_crit_celsius: hardware,
  node_hwmon_temp_crit_hyst_celsius: hardware,
  node_hwmon_temp_max_celsius: hardware,
  node_power_supply_online: hardware,
  node_interrupts_total:
    "node_exporter's interrupts collector, off by default there: one series per interrupt line and CPU (hundreds on a small host)",
  node_processes_max_processes: processes,
  node_processes_max_threads: processes,
  node_processes_pids: processes,
  node_processes_state: processes,
  node_processes_threads: processes,
  node_scrape_collector_duration_seconds:
    "node_exporter's report on its own collectors; this exporter publishes the same for each of its collectors as kali_agents_exporter_collector_duration_seconds{collector}",
  node_scrape_collector_success:
    "node_exporter's report on its own collectors; this exporter publishes the same for each of its collectors as kali_agents_exporter_collector_success{collector}",
  node_systemd_socket_accepted_connections_total: systemd,
  node_systemd_socket_current_connections: systemd,
  node_systemd_socket_refused_connections_total: systemd,
  node_systemd_units: systemd,
  node_tcp_connection_states:
    "node_exporter's tcpstat collector, off by default there: it reads every socket of the host on each scrape",
  node_timex_estimated_error_seconds: timex,
  node_timex_frequency_adjustment_ratio: timex,
  node_timex_loop_time_constant: timex,
  node_timex_maxerror_seconds: timex,
  node_timex_offset_seconds: timex,
  node_timex_pps_calibration_total: timex,
  node_timex_pps_error_total: timex,
  node_timex_pps_frequency_hertz: timex,
  node_timex_pps_jitter_seconds: timex,
  node_timex_pps_jitter_total: timex,
  node_timex_pps_shift_seconds: timex,
  node_timex_pps_stability_exceeded_total: timex,
  node_timex_pps_stability_hertz: timex,
  node_timex_sync_status: timex,
  node_timex_tai_offset_seconds: timex,
  node_timex_tick_seconds: timex,
  process_virtual_memory_max_bytes:
    "a Go client metric (the process's address-space limit); prom-client, which publishes the exporter's other process_* metrics, has no such metric",
};

/**
 * Where this exporter's series set of a family differs from the pinned Go exporter's by design: which
 * series only one side publishes, and why. exporter/test/upstream-values.test.ts runs both side by side
 * and allows exactly these; docs/metrics.md lists them.
 */
export interface SeriesVerdict {
  readonly reason: string;
  /** The Go exporter's series this exporter leaves out: those whose `label` is one of `values`. */
  readonly theirsOnly: { readonly label: string; readonly values: readonly string[] };
}

const templates: SeriesVerdict = {
  reason:
    "template databases (template0, template1) are left out: nothing connects to them, and they would add a series per state, lock mode or column to every family (postgres_exporter lists them)",
  theirsOnly: { label: "datname", values: ["template0", "template1"] },
};

export const seriesVerdicts: Readonly<Record<string, SeriesVerdict>> = Object.fromEntries(
  catalogue
    .filter(
      (m) =>
        m.source === "exporter" &&
        m.collector === "postgres" &&
        m.labels.includes("datname") &&
        // pg_stat_database_*, pg_locks_count, pg_database_size_bytes, pg_stat_activity_*
        /^pg_(stat_database_|locks_count$|database_size_bytes$|stat_activity_)/.test(m.name),
    )
    .map((m) => [m.name, templates]),
);

export type Verdict =
  | { readonly status: "published"; readonly by: "catalogue" | "prom-client"; readonly when?: Condition }
  | { readonly status: "not-applicable"; readonly reason: string };

/** The verdict on one name; throws for a name with none (a new dashboard name needs a decision). */
export function verdict(name: string): Verdict {
  const reason = notApplicable[name];
  const inCatalogue = catalogue.some((m) => m.name === name && m.source === "exporter");
  const byPromClient = promClientDefaultNames.includes(name);
  if (reason !== undefined && (inCatalogue || byPromClient))
    throw new Error(`${name} is published and also marked as not applicable`);
  if (reason !== undefined) return { status: "not-applicable", reason };
  if (!inCatalogue && !byPromClient)
    throw new Error(
      `${name}: no verdict (publish it, or give the reason in definitions/compat.ts notApplicable)`,
    );
  const when = publishedWhen[name];
  return { status: "published", by: inCatalogue ? "catalogue" : "prom-client", ...(when ? { when } : {}) };
}

export interface CompatRow {
  readonly name: string;
  /** Ids of the dashboards (compatDashboards) that query it. */
  readonly dashboards: readonly string[];
  readonly verdict: Verdict;
}

/** Every name any of the dashboards queries, sorted, with its verdict. */
export function compatList(): CompatRow[] {
  const byName = new Map<string, string[]>();
  for (const d of compatDashboards)
    for (const n of d.metrics) byName.set(n, [...(byName.get(n) ?? []), d.id]);
  return [...byName.keys()]
    .sort()
    .map((name) => ({ name, dashboards: byName.get(name)!, verdict: verdict(name) }));
}
