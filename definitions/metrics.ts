// The metric catalogue: plain data, imported by the exporter's collectors (which create their metrics
// from it), by the rule and dashboard generators, and by the docs generator. It must stay free of
// runtime dependencies (no prom-client, pg or ioredis here) so the generators never load a client.
//
// Names follow the exporters people already run (node_exporter, postgres_exporter, redis_exporter) so
// that community dashboards and mixins work unchanged; what is Kali Agents' own is `kali_agents_`.

/**
 * "untyped" where the Go exporter leaves a family untyped (node_exporter's /proc/vmstat and
 * /proc/net/netstat|snmp fields, postgres_exporter's pg_static): published with TYPE untyped, set like
 * a gauge.
 */
export type MetricType = "counter" | "gauge" | "histogram" | "untyped";

/** Who publishes a metric. Rules and panels may only use metrics from one of these sources. */
export type MetricSource =
  /** the exporter, from one of its collectors */
  | "exporter"
  /** the ops jobs, through the exporter's textfile collector (a contract, see docs/metrics.md) */
  | "job"
  /** the Kali Agents API's own /metrics (a contract with the application) */
  | "api";

export interface MetricDef {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  readonly labels: readonly string[];
  readonly source: MetricSource;
  /** The collector that owns it (for source "exporter"). */
  readonly collector?: CollectorName;
  /** Histogram buckets, in the metric's base unit. */
  readonly buckets?: readonly number[];
  /**
   * For a PostgreSQL metric that not every supported major has: the majors that publish it, and where
   * it is read from when that differs between majors. On the other majors the metric is absent, never
   * an error. Unset: every supported major (`supportedPostgresMajors`) publishes it.
   */
  readonly postgres?: PostgresAvailability;
}

/**
 * The PostgreSQL majors a user may run the exporter and the ops jobs against. Each is tested: the
 * harness starts a server of each (test/support/servers.ts) and test/postgres-majors.test.ts runs the
 * postgres and scans collectors and backup, verify and restore against every one.
 */
export const supportedPostgresMajors = [14, 15, 16, 17, 18] as const;
export type PostgresMajor = (typeof supportedPostgresMajors)[number];

export interface PostgresAvailability {
  /** The first major that publishes the metric. */
  readonly since?: PostgresMajor;
  /** The last major that publishes the metric. */
  readonly until?: PostgresMajor;
  /** Where the value comes from, when the source differs between majors (for docs/metrics.md). */
  readonly note?: string;
}

/** Whether a server of this major publishes the metric (any major outside the catalogue's: by its range). */
export function publishedOn(d: Pick<MetricDef, "postgres">, major: number): boolean {
  const since = d.postgres?.since ?? 0;
  const until = d.postgres?.until ?? Infinity;
  return major >= since && major <= until;
}

export type CollectorName =
  "host" | "inventory" | "textfile" | "postgres" | "redis" | "scans" | "probes" | "exporter";

// The helpers keep each name's literal type (`N`), so `(typeof hostMetrics)[number]["name"]` is a union
// of the names and a dashboard or rule that names a metric by it stops compiling when the metric is renamed.
// The type's literal (`T`) is kept too, so exporter/src/metrics.ts gives a histogram its observe().
const def = <N extends string, T extends MetricType>(
  collector: CollectorName,
  name: N,
  type: T,
  help: string,
  labels: readonly string[] = [],
  extra: { buckets?: readonly number[]; postgres?: PostgresAvailability } = {},
): MetricDef & { readonly name: N; readonly type: T } => ({
  name,
  type,
  help,
  labels,
  source: "exporter",
  collector,
  ...extra,
});

// device_error: "" when statfs() answered, else its error ("mountpoint timeout" for one that did not
// answer in time), as node_exporter 1.12 labels every node_filesystem_* series.
const fsLabels = ["device", "mountpoint", "fstype", "device_error"] as const;

// What the community dashboards query beyond the basics (definitions/compat.ts has the list and the
// verdicts). Each family has node_exporter's name, labels, unit and type: node_exporter leaves the
// /proc/vmstat and /proc/net/netstat|snmp fields untyped, and so does this exporter (PromQL treats
// untyped like a gauge). Built by helpers so that each name keeps its literal type.
const family = <const F extends readonly string[], P extends string, S extends string, T extends MetricType>(
  fields: F,
  prefix: P,
  suffix: S,
  type: T,
  help: (field: string) => string,
  labels: readonly string[] = [],
) =>
  fields.map((f) => def("host", `${prefix}${f}${suffix}` as `${P}${F[number]}${S}`, type, help(f), labels));

/** /proc/meminfo fields in kB, published in bytes ("Active(anon)" becomes "Active_anon"). */
export const meminfoByteFields = [
  "MemTotal",
  "MemAvailable",
  "MemFree",
  "Buffers",
  "Cached",
  "SwapTotal",
  "SwapFree",
  "Active",
  "Active_anon",
  "Active_file",
  "AnonHugePages",
  "AnonPages",
  "CommitLimit",
  "Committed_AS",
  "DirectMap1G",
  "DirectMap2M",
  "DirectMap4k",
  "Dirty",
  "HardwareCorrupted",
  "Hugepagesize",
  "Inactive",
  "Inactive_anon",
  "Inactive_file",
  "KernelStack",
  "Mapped",
  "Mlocked",
  "NFS_Unstable",
  "PageTables",
  "Percpu",
  "SReclaimable",
  "SUnreclaim",
  "Shmem",
  "ShmemHugePages",
  "ShmemPmdMapped",
  "Slab",
  "SwapCached",
  "Unevictable",
  "VmallocChunk",
  "VmallocTotal",
  "VmallocUsed",
  "Writeback",
  "WritebackTmp",
  "Zswap",
  "Zswapped",
] as const;
/** /proc/meminfo fields that are counts of pages, published as they are. */
export const meminfoCountFields = [
  "HugePages_Total",
  "HugePages_Free",
  "HugePages_Rsvd",
  "HugePages_Surp",
] as const;

/** /proc/diskstats columns (after the device name) as node_exporter names them, with the factor to base units. */
export const diskstatsColumns = [
  ["reads_completed_total", "counter", 1, "The total number of reads completed successfully."],
  ["reads_merged_total", "counter", 1, "The total number of reads merged."],
  ["read_bytes_total", "counter", 512, "The total number of bytes read successfully."],
  ["read_time_seconds_total", "counter", 0.001, "The total number of seconds spent by all reads."],
  ["writes_completed_total", "counter", 1, "The total number of writes completed successfully."],
  ["writes_merged_total", "counter", 1, "The number of writes merged."],
  ["written_bytes_total", "counter", 512, "The total number of bytes written successfully."],
  ["write_time_seconds_total", "counter", 0.001, "This is the total number of seconds spent by all writes."],
  ["io_now", "gauge", 1, "The number of I/Os currently in progress."],
  ["io_time_seconds_total", "counter", 0.001, "Total seconds spent doing I/Os."],
  ["io_time_weighted_seconds_total", "counter", 0.001, "The weighted # of seconds spent doing I/Os."],
  ["discards_completed_total", "counter", 1, "The total number of discards completed successfully."],
  ["discards_merged_total", "counter", 1, "The total number of discards merged."],
  ["discarded_sectors_total", "counter", 1, "The total number of sectors discarded successfully."],
  [
    "discard_time_seconds_total",
    "counter",
    0.001,
    "This is the total number of seconds spent by all discards.",
  ],
  ["flush_requests_total", "counter", 1, "The total number of flush requests completed successfully"],
  [
    "flush_requests_time_seconds_total",
    "counter",
    0.001,
    "This is the total number of seconds spent by all flush requests.",
  ],
] as const;

/** /proc/net/dev columns, in the file's order. */
export const netdevReceiveFields = [
  "bytes",
  "packets",
  "errs",
  "drop",
  "fifo",
  "frame",
  "compressed",
  "multicast",
] as const;
export const netdevTransmitFields = [
  "bytes",
  "packets",
  "errs",
  "drop",
  "fifo",
  "colls",
  "carrier",
  "compressed",
] as const;

/** node_netstat_<Proto>_<Field> read from /proc/net/netstat and /proc/net/snmp (those the dashboards query). */
export const netstatFields = [
  "Icmp_InErrors",
  "Icmp_InMsgs",
  "Icmp_OutMsgs",
  "IpExt_InOctets",
  "IpExt_OutOctets",
  "TcpExt_ListenDrops",
  "TcpExt_ListenOverflows",
  "TcpExt_SyncookiesFailed",
  "TcpExt_SyncookiesRecv",
  "TcpExt_SyncookiesSent",
  "TcpExt_TCPOFOQueue",
  "TcpExt_TCPRcvQDrop",
  "TcpExt_TCPSynRetrans",
  "TcpExt_TCPTimeouts",
  "Tcp_ActiveOpens",
  "Tcp_CurrEstab",
  "Tcp_InErrs",
  "Tcp_InSegs",
  "Tcp_MaxConn",
  "Tcp_OutRsts",
  "Tcp_OutSegs",
  "Tcp_PassiveOpens",
  "Tcp_RetransSegs",
  "UdpLite_InErrors",
  "Udp_InDatagrams",
  "Udp_InErrors",
  "Udp_NoPorts",
  "Udp_OutDatagrams",
  "Udp_RcvbufErrors",
  "Udp_SndbufErrors",
] as const;

/** node_sockstat_<Proto>_<field> from /proc/net/sockstat; `mem` is in pages, `mem_bytes` is it in bytes. */
export const sockstatFields = [
  "FRAG_inuse",
  "FRAG_memory",
  "RAW_inuse",
  "TCP_alloc",
  "TCP_inuse",
  "TCP_mem",
  "TCP_mem_bytes",
  "TCP_orphan",
  "TCP_tw",
  "UDPLITE_inuse",
  "UDP_inuse",
  "UDP_mem",
  "UDP_mem_bytes",
] as const;

/** /proc/vmstat fields the dashboards query. */
export const vmstatFields = [
  "oom_kill",
  "pgfault",
  "pgmajfault",
  "pgpgin",
  "pgpgout",
  "pswpin",
  "pswpout",
] as const;

/** /proc/net/softnet_stat columns (hexadecimal, one line per CPU) as node_exporter names them. */
export const softnetColumns = [
  ["processed", 0],
  ["dropped", 1],
  ["times_squeezed", 2],
  ["received_rps", 9],
  ["flow_limit_count", 10],
] as const;

const diskDefs = diskstatsColumns.map(([f, type, , help]) =>
  def("host", `node_disk_${f}` as `node_disk_${(typeof diskstatsColumns)[number][0]}`, type, help, [
    "device",
  ]),
);

// Declared as a function (hoisted) so that hostMetrics below can list it last.
function hostCompatMetrics() {
  const memory = (f: string) => `Memory information field ${f}.`;
  return [
    ...family(meminfoByteFields, "node_memory_", "_bytes", "gauge", (f) => memory(`${f}_bytes`)),
    ...family(meminfoCountFields, "node_memory_", "", "gauge", memory),
    ...diskDefs,
    ...family(
      netdevReceiveFields.filter((f) => f !== "bytes") as readonly Exclude<
        (typeof netdevReceiveFields)[number],
        "bytes"
      >[],
      "node_network_receive_",
      "_total",
      "counter",
      (f) => `Network device statistic receive_${f}.`,
      ["device"],
    ),
    ...family(
      netdevTransmitFields.filter((f) => f !== "bytes") as readonly Exclude<
        (typeof netdevTransmitFields)[number],
        "bytes"
      >[],
      "node_network_transmit_",
      "_total",
      "counter",
      (f) => `Network device statistic transmit_${f}.`,
      ["device"],
    ),
    def(
      "host",
      "node_network_receive_nohandler_total",
      "counter",
      "Network device statistic receive_nohandler.",
      ["device"],
    ),
    def("host", "node_network_up", "gauge", "Value is 1 if operstate is 'up', 0 otherwise.", ["device"]),
    def("host", "node_network_carrier", "gauge", "Network device property: carrier", ["device"]),
    def("host", "node_network_mtu_bytes", "gauge", "Network device property: mtu_bytes", ["device"]),
    def("host", "node_network_speed_bytes", "gauge", "Network device property: speed_bytes", ["device"]),
    def("host", "node_arp_entries", "gauge", "ARP entries by device", ["device"]),
    ...family(netstatFields, "node_netstat_", "", "untyped", (f) => `Statistic ${f.replace("_", "")}.`),
    ...family(
      sockstatFields,
      "node_sockstat_",
      "",
      "gauge",
      (f) => `Number of ${f.replace("_", " sockets in state ")}.`,
    ),
    def("host", "node_sockstat_sockets_used", "gauge", "Number of IPv4 sockets in use."),
    ...family(vmstatFields, "node_vmstat_", "", "untyped", (f) => `/proc/vmstat information field ${f}.`),
    def("host", "node_context_switches_total", "counter", "Total number of context switches."),
    def("host", "node_forks_total", "counter", "Total number of forks."),
    def("host", "node_intr_total", "counter", "Total number of interrupts serviced."),
    def("host", "node_procs_running", "gauge", "Number of processes in runnable state."),
    def("host", "node_procs_blocked", "gauge", "Number of processes blocked waiting for I/O to complete."),
    def(
      "host",
      "node_cpu_guest_seconds_total",
      "counter",
      "Seconds the CPUs spent in guests (VMs) for each mode.",
      ["cpu", "mode"],
    ),
    def("host", "node_filefd_allocated", "gauge", "File descriptor statistics: allocated."),
    def("host", "node_filefd_maximum", "gauge", "File descriptor statistics: maximum."),
    def("host", "node_entropy_available_bits", "gauge", "Bits of available entropy."),
    def("host", "node_entropy_pool_size_bits", "gauge", "Bits of entropy pool."),
    def("host", "node_filesystem_files", "gauge", "Filesystem total file nodes.", fsLabels),
    def("host", "node_filesystem_files_free", "gauge", "Filesystem total free file nodes.", fsLabels),
    def("host", "node_filesystem_readonly", "gauge", "Filesystem read-only status.", fsLabels),
    def(
      "host",
      "node_pressure_cpu_waiting_seconds_total",
      "counter",
      "Total time in seconds that processes have waited for CPU time",
    ),
    def(
      "host",
      "node_pressure_io_waiting_seconds_total",
      "counter",
      "Total time in seconds that processes have waited due to IO congestion",
    ),
    def(
      "host",
      "node_pressure_io_stalled_seconds_total",
      "counter",
      "Total time in seconds no process could make progress due to IO congestion",
    ),
    def(
      "host",
      "node_pressure_memory_waiting_seconds_total",
      "counter",
      "Total time in seconds that processes have waited for memory",
    ),
    def(
      "host",
      "node_pressure_memory_stalled_seconds_total",
      "counter",
      "Total time in seconds no process could make progress due to memory congestion",
    ),
    def(
      "host",
      "node_pressure_irq_stalled_seconds_total",
      "counter",
      "Total time in seconds no process could make progress due to IRQ congestion",
    ),
    def(
      "host",
      "node_schedstat_running_seconds_total",
      "counter",
      "Number of seconds CPU spent running a process.",
      ["cpu"],
    ),
    def(
      "host",
      "node_schedstat_waiting_seconds_total",
      "counter",
      "Number of seconds spent by processing waiting for this CPU.",
      ["cpu"],
    ),
    def("host", "node_schedstat_timeslices_total", "counter", "Number of timeslices executed by CPU.", [
      "cpu",
    ]),
    ...family(
      softnetColumns.map(([f]) => f) as readonly (typeof softnetColumns)[number][0][],
      "node_softnet_",
      "_total",
      "counter",
      (f) => `Number of softnet ${f.replace(/_/g, " ")} (/proc/net/softnet_stat).`,
      ["cpu"],
    ),
    def(
      "host",
      "node_nf_conntrack_entries",
      "gauge",
      "Number of currently allocated flow entries for connection tracking.",
    ),
    def("host", "node_nf_conntrack_entries_limit", "gauge", "Maximum size of connection tracking table."),
    def(
      "host",
      "node_udp_queues",
      "gauge",
      "Number of allocated memory in the kernel for UDP datagrams in bytes.",
      ["queue", "ip"],
    ),
    def(
      "host",
      "node_kernel_hung_tasks_total",
      "counter",
      "Total number of tasks that have been detected as hung since the system booted.",
    ),
    // The name a community dashboard (definitions/compat-dashboards.ts) queries, from before
    // node_exporter 1.12 published the counter above: the same value, one series more per host.
    def(
      "host",
      "node_kernel_hung_tasks",
      "gauge",
      "Tasks the kernel has detected as hung since boot: node_kernel_hung_tasks_total under the name older dashboards query.",
    ),
  ];
}

export const hostMetrics = [
  def("host", "node_cpu_seconds_total", "counter", "Seconds the CPUs spent in each mode.", ["cpu", "mode"]),
  def("host", "node_load1", "gauge", "1m load average."),
  def("host", "node_load5", "gauge", "5m load average."),
  def("host", "node_load15", "gauge", "15m load average."),
  def("host", "node_filesystem_size_bytes", "gauge", "Filesystem size in bytes.", fsLabels),
  def("host", "node_filesystem_free_bytes", "gauge", "Filesystem free space in bytes.", fsLabels),
  def(
    "host",
    "node_filesystem_avail_bytes",
    "gauge",
    "Filesystem space available to non-root users in bytes.",
    fsLabels,
  ),
  def(
    "host",
    "node_filesystem_device_error",
    "gauge",
    "Whether an error (or a timeout) occurred while getting statistics for the given device.",
    fsLabels,
  ),
  def("host", "node_network_receive_bytes_total", "counter", "Network device statistic receive_bytes.", [
    "device",
  ]),
  def("host", "node_network_transmit_bytes_total", "counter", "Network device statistic transmit_bytes.", [
    "device",
  ]),
  def("host", "node_boot_time_seconds", "gauge", "Node boot time, in unixtime."),
  def("host", "node_time_seconds", "gauge", "System time in seconds since epoch (1970)."),
  def(
    "host",
    "node_uname_info",
    "gauge",
    "Labeled system information as provided by the uname system call.",
    ["sysname", "release", "version", "machine", "nodename", "domainname"],
  ),
  ...hostCompatMetrics(),
] as const satisfies readonly MetricDef[];

/**
 * The host's static inventory, node_exporter's os, dmi and cpu-info families with its label sets. An
 * empty label value is no label at all to Prometheus, so a field the platform does not provide gives the
 * same series as node_exporter's, which leaves the label out.
 */
export const inventoryMetrics = [
  def(
    "inventory",
    "node_os_info",
    "gauge",
    "A metric with a constant '1' value labeled by build_id, id, id_like, image_id, image_version, name, pretty_name, variant, variant_id, version, version_codename, version_id.",
    [
      "build_id",
      "id",
      "id_like",
      "image_id",
      "image_version",
      "name",
      "pretty_name",
      "variant",
      "variant_id",
      "version",
      "version_codename",
      "version_id",
    ],
  ),
  def("inventory", "node_os_version", "gauge", "Metric containing the major.minor part of the OS version.", [
    "id",
    "id_like",
    "name",
  ]),
  def(
    "inventory",
    "node_dmi_info",
    "gauge",
    "A metric with a constant '1' value labeled by bios_date, bios_release, bios_vendor, bios_version, board_asset_tag, board_name, board_serial, board_vendor, board_version, chassis_asset_tag, chassis_serial, chassis_vendor, chassis_version, product_family, product_name, product_serial, product_sku, product_uuid, product_version, system_vendor if provided by DMI.",
    [
      "bios_date",
      "bios_release",
      "bios_vendor",
      "bios_version",
      "board_asset_tag",
      "board_name",
      "board_serial",
      "board_vendor",
      "board_version",
      "chassis_asset_tag",
      "chassis_serial",
      "chassis_vendor",
      "chassis_version",
      "product_family",
      "product_name",
      "product_serial",
      "product_sku",
      "product_uuid",
      "product_version",
      "system_vendor",
    ],
  ),
  def("inventory", "node_cpu_info", "gauge", "CPU information from /proc/cpuinfo.", [
    "package",
    "core",
    "cpu",
    "vendor",
    "family",
    "model",
    "model_name",
    "microcode",
    "stepping",
    "cachesize",
  ]),
] as const satisfies readonly MetricDef[];

export const textfileMetrics = [
  def("textfile", "node_textfile_mtime_seconds", "gauge", "Unixtime mtime of textfiles successfully read.", [
    "file",
  ]),
  def(
    "textfile",
    "node_textfile_scrape_error",
    "gauge",
    "1 if there was an error opening or reading a file, 0 otherwise.",
  ),
  def(
    "textfile",
    "kali_agents_exporter_textfile_skipped",
    "gauge",
    "`*.prom` files skipped in the last collection, by reason: `not_regular` (a symlink, FIFO, directory or device), `too_large` (over EXPORTER_TEXTFILE_MAX_BYTES), `too_many_series` (past EXPORTER_TEXTFILE_MAX_SERIES), `invalid` (does not parse, or conflicts with another file or the exporter's metrics), `unreadable`.",
    ["reason"],
  ),
] as const satisfies readonly MetricDef[];

const dbLabels = ["datid", "datname"] as const;
/** A pg_stat_database column; `postgres` for one that not every supported major has (e.g. 18's). */
const pgStatDatabase = <F extends string>(
  field: F,
  type: MetricType,
  help: string,
  postgres?: PostgresAvailability,
) =>
  def("postgres", `pg_stat_database_${field}` as const, type, help, dbLabels, postgres ? { postgres } : {});

// postgres_exporter's stat_bgwriter family. PostgreSQL 17 moved the checkpoint counters from
// pg_stat_bgwriter to pg_stat_checkpointer (the same names are published from there) and dropped the
// backends' writes and fsyncs, which pg_stat_io (16+) counts per backend type instead.
const fromCheckpointer = (column: string): PostgresAvailability => ({
  note: `pg_stat_bgwriter up to 16, pg_stat_checkpointer.${column} from 17`,
});
const untilBackendWrites: PostgresAvailability = {
  until: 16,
  note: "removed from pg_stat_bgwriter in 17 (pg_stat_io counts writes per backend type from 16)",
};
const bgwriter = <F extends string>(field: F, help: string, postgres?: PostgresAvailability) =>
  def(
    "postgres",
    `pg_stat_bgwriter_${field}_total` as const,
    "counter",
    help,
    [],
    postgres ? { postgres } : {},
  );
const bgwriterMetrics = () =>
  [
    bgwriter("checkpoints_timed", "Scheduled checkpoints performed.", fromCheckpointer("num_timed")),
    bgwriter("checkpoints_req", "Requested checkpoints performed.", fromCheckpointer("num_requested")),
    bgwriter(
      "checkpoint_write_time",
      "Time spent writing checkpoint files to disk, in milliseconds (as upstream).",
      fromCheckpointer("write_time"),
    ),
    bgwriter(
      "checkpoint_sync_time",
      "Time spent synchronizing checkpoint files to disk, in milliseconds (as upstream).",
      fromCheckpointer("sync_time"),
    ),
    bgwriter(
      "buffers_checkpoint",
      "Buffers written during checkpoints.",
      fromCheckpointer("buffers_written"),
    ),
    bgwriter("buffers_clean", "Buffers written by the background writer."),
    bgwriter(
      "maxwritten_clean",
      "Times the background writer stopped a cleaning scan for having written too many buffers.",
    ),
    bgwriter("buffers_backend", "Buffers written directly by a backend.", untilBackendWrites),
    bgwriter(
      "buffers_backend_fsync",
      "Times a backend had to execute its own fsync call.",
      untilBackendWrites,
    ),
    bgwriter("buffers_alloc", "Buffers allocated."),
    bgwriter(
      "stats_reset",
      "Unix time of the last reset of pg_stat_bgwriter's statistics (a counter, as upstream).",
    ),
  ] as const;

/**
 * Server settings published as postgres_exporter names them (collector/pg_setting.go there):
 * `pg_settings_<name>` plus `_bytes` or `_seconds` when the setting has a unit, its value converted to
 * that base unit, booleans as 1/0. postgres_exporter publishes every numeric setting; these are the ones
 * the community dashboards and the postgres mixin's alerts read (max_connections and
 * superuser_reserved_connections are in the list below).
 */
export const pgSettingsPublished = [
  ["shared_buffers", "bytes"],
  ["effective_cache_size", "bytes"],
  ["maintenance_work_mem", "bytes"],
  ["work_mem", "bytes"],
  ["max_wal_size", "bytes"],
  ["min_wal_size", "bytes"],
  ["wal_buffers", "bytes"],
  ["checkpoint_timeout", "seconds"],
  ["statement_timeout", "seconds"],
  ["idle_in_transaction_session_timeout", "seconds"],
  ["random_page_cost", ""],
  ["seq_page_cost", ""],
  ["effective_io_concurrency", ""],
  ["checkpoint_completion_target", ""],
  ["default_statistics_target", ""],
  ["max_worker_processes", ""],
  ["max_parallel_workers", ""],
  ["max_parallel_workers_per_gather", ""],
  ["max_locks_per_transaction", ""],
  ["max_prepared_transactions", ""],
  ["max_wal_senders", ""],
  ["max_replication_slots", ""],
  ["autovacuum", ""],
  ["autovacuum_max_workers", ""],
  ["autovacuum_vacuum_scale_factor", ""],
  ["autovacuum_vacuum_threshold", ""],
  ["autovacuum_analyze_scale_factor", ""],
  ["track_io_timing", ""],
] as const;
type SettingMetricName<S extends readonly (readonly [string, string])[]> = {
  [K in keyof S]: S[K] extends readonly [infer N extends string, infer U extends string]
    ? U extends ""
      ? `pg_settings_${N}`
      : `pg_settings_${N}_${U}`
    : never;
}[number];

/** pg_stat_database columns beyond the basic ones (same names and labels as postgres_exporter's). */
export const pgStatDatabaseMoreFields = [
  ["temp_files", "Number of temporary files created by queries in this database."],
  ["temp_bytes", "Total amount of data written to temporary files by queries in this database."],
  ["blk_read_time", "Time spent reading data file blocks by backends in this database, in milliseconds"],
  ["blk_write_time", "Time spent writing data file blocks by backends in this database, in milliseconds"],
] as const;

function postgresCompatMetrics() {
  return [
    ...pgSettingsPublished.map(([name, unit]) =>
      def(
        "postgres",
        `pg_settings_${name}${unit ? `_${unit}` : ""}` as SettingMetricName<typeof pgSettingsPublished>,
        "gauge",
        `Server Parameter: ${name}${unit ? ` [Units converted to ${unit}.]` : ""}`,
        ["server"],
      ),
    ),
    ...pgStatDatabaseMoreFields.map(([field, help]) =>
      pgStatDatabase(field as (typeof pgStatDatabaseMoreFields)[number][0], "counter", help),
    ),
    def("postgres", "pg_postmaster_start_time_seconds", "gauge", "Time at which postmaster started"),
  ];
}

/**
 * pg_stat_activity's grouping, as postgres_exporter 0.19 groups it (its builtin pg_stat_activity query),
 * and `server`, the host:port of the connection string, which it adds to the families of its built-in
 * queries and settings.
 */
const pgActivityLabels = [
  "datname",
  "state",
  "usename",
  "application_name",
  "backend_type",
  "wait_event_type",
  "wait_event",
  "server",
] as const;

export const postgresMetrics = [
  def(
    "postgres",
    "pg_up",
    "gauge",
    "Whether the last scrape of PostgreSQL was able to connect (1) or not (0).",
  ),
  def("postgres", "pg_static", "untyped", "Version string as reported by postgres", [
    "version",
    "short_version",
    "server",
  ]),
  def(
    "postgres",
    "pg_exporter_ping_duration_seconds",
    "gauge",
    "Round-trip time of the exporter's `SELECT 1` to PostgreSQL in the last scrape.",
  ),
  def(
    "postgres",
    "pg_exporter_last_scrape_duration_seconds",
    "gauge",
    "Duration of the last scrape of metrics from PostgreSQL.",
  ),
  def("postgres", "pg_stat_activity_count", "gauge", "number of connections in this state", pgActivityLabels),
  def(
    "postgres",
    "pg_stat_activity_max_tx_duration",
    "gauge",
    "max duration in seconds any active transaction has been running",
    pgActivityLabels,
  ),
  def("postgres", "pg_settings_max_connections", "gauge", "Server Parameter: max_connections", ["server"]),
  def(
    "postgres",
    "pg_settings_superuser_reserved_connections",
    "gauge",
    "Server Parameter: superuser_reserved_connections",
    ["server"],
  ),
  def("postgres", "pg_database_size_bytes", "gauge", "Disk space used by the database.", ["datname"]),
  pgStatDatabase("numbackends", "gauge", "Number of backends currently connected to this database."),
  pgStatDatabase(
    "xact_commit",
    "counter",
    "Number of transactions in this database that have been committed.",
  ),
  pgStatDatabase(
    "xact_rollback",
    "counter",
    "Number of transactions in this database that have been rolled back.",
  ),
  pgStatDatabase("blks_read", "counter", "Number of disk blocks read in this database."),
  pgStatDatabase(
    "blks_hit",
    "counter",
    "Number of times disk blocks were found already in the buffer cache.",
  ),
  pgStatDatabase("tup_returned", "counter", "Number of rows returned by queries in this database."),
  pgStatDatabase("tup_fetched", "counter", "Number of rows fetched by queries in this database."),
  pgStatDatabase("tup_inserted", "counter", "Number of rows inserted by queries in this database."),
  pgStatDatabase("tup_updated", "counter", "Number of rows updated by queries in this database."),
  pgStatDatabase("tup_deleted", "counter", "Number of rows deleted by queries in this database."),
  pgStatDatabase(
    "conflicts",
    "counter",
    "Number of queries canceled due to conflicts with recovery in this database.",
  ),
  pgStatDatabase("deadlocks", "counter", "Number of deadlocks detected in this database."),
  def("postgres", "pg_locks_count", "gauge", "Number of locks.", ["datname", "mode"]),
  ...bgwriterMetrics(),
  ...postgresCompatMetrics(),
] as const satisfies readonly MetricDef[];

export const redisMetrics = [
  def(
    "redis",
    "redis_up",
    "gauge",
    "Information about the Redis instance: 1 if it answered the last scrape.",
  ),
  def("redis", "redis_instance_info", "gauge", "Information about the Redis instance", [
    "master_replid",
    "maxmemory_policy",
    "os",
    "process_id",
    "redis_build_id",
    "redis_mode",
    "redis_version",
    "role",
    "run_id",
    "tcp_port",
  ]),
  def(
    "redis",
    "redis_exporter_ping_duration_seconds",
    "gauge",
    "Round-trip time of the exporter's PING to Redis in the last scrape.",
  ),
  def("redis", "redis_uptime_in_seconds", "gauge", "uptime_in_seconds metric."),
  def("redis", "redis_connected_clients", "gauge", "connected_clients metric."),
  def("redis", "redis_blocked_clients", "gauge", "blocked_clients metric."),
  def("redis", "redis_memory_used_bytes", "gauge", "used_memory metric."),
  def("redis", "redis_memory_max_bytes", "gauge", "maxmemory metric (0 when unlimited)."),
  def("redis", "redis_keyspace_hits_total", "counter", "keyspace_hits metric."),
  def("redis", "redis_keyspace_misses_total", "counter", "keyspace_misses metric."),
  def("redis", "redis_evicted_keys_total", "counter", "evicted_keys metric."),
  def("redis", "redis_expired_keys_total", "counter", "expired_keys metric."),
  def("redis", "redis_commands_processed_total", "counter", "total_commands_processed metric."),
  def("redis", "redis_connections_received_total", "counter", "total_connections_received metric."),
  def("redis", "redis_rejected_connections_total", "counter", "rejected_connections metric."),
  def("redis", "redis_net_input_bytes_total", "counter", "total_net_input_bytes metric."),
  def("redis", "redis_net_output_bytes_total", "counter", "total_net_output_bytes metric."),
  def("redis", "redis_memory_used_rss_bytes", "gauge", "used_memory_rss metric."),
  def("redis", "redis_mem_fragmentation_ratio", "gauge", "mem_fragmentation_ratio metric"),
  // The name a community dashboard (definitions/compat-dashboards.ts) queries: the same INFO field,
  // one series more per Redis server.
  def(
    "redis",
    "redis_memory_fragmentation_ratio",
    "gauge",
    "mem_fragmentation_ratio: redis_mem_fragmentation_ratio under the name older dashboards query.",
  ),
  def("redis", "redis_connected_slaves", "gauge", "connected_slaves metric."),
  def(
    "redis",
    "redis_master_last_io_seconds_ago",
    "gauge",
    "Seconds since the last interaction with the master (published by a replica only).",
    ["master_host", "master_port"],
  ),
  def("redis", "redis_commands_total", "counter", "Total number of calls per command.", ["cmd"]),
  def(
    "redis",
    "redis_commands_duration_seconds_total",
    "counter",
    "Total amount of time in seconds spent per command.",
    ["cmd"],
  ),
  def("redis", "redis_db_keys", "gauge", "Total number of keys by DB.", ["db"]),
  def("redis", "redis_db_keys_expiring", "gauge", "Total number of expiring keys by DB.", ["db"]),
  // Kali Agents' own, but read from Redis: the redis collector owns it, so the scans collector (which
  // reads PostgreSQL) needs no Redis connection and Redis keeps its single connection.
  def(
    "redis",
    "kali_agents_scan_queue_length",
    "gauge",
    "Length of each configured Redis scan queue (a Redis list).",
    ["queue"],
  ),
] as const satisfies readonly MetricDef[];

/** Scan durations run from seconds (a quick nmap) to hours (a full web crawl). */
export const scanDurationBuckets = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400] as const;

export const scanMetrics = [
  def("scans", "kali_agents_active_scans", "gauge", "Scans queued or running, by tool and status.", [
    "tool",
    "status",
  ]),
  def(
    "scans",
    "kali_agents_scans_total",
    "counter",
    "Scans finished, by tool and final status (success, failed, cancelled), each counted once when the transaction that finished it commits.",
    ["tool", "status"],
  ),
  def(
    "scans",
    "kali_agents_scan_duration_seconds",
    "histogram",
    "Duration from started_at to finished_at of scans that finished since the exporter started.",
    ["tool"],
    { buckets: scanDurationBuckets },
  ),
  def(
    "scans",
    "kali_agents_scan_tools_folded",
    "gauge",
    'Distinct `tool` values counted under `tool="other"` because EXPORTER_SCANS_MAX_TOOLS tools already have their own series.',
  ),
  def(
    "scans",
    "kali_agents_oldest_running_scan_age_seconds",
    "gauge",
    "Age since started_at of the oldest scan still running (0 when none is running).",
  ),
  def(
    "scans",
    "kali_agents_last_scan_finished_timestamp_seconds",
    "gauge",
    "Unix time of the most recent finished_at in the scans table.",
  ),
  def(
    "scans",
    "kali_agents_scan_rows_past_retention",
    "gauge",
    "Rows of the scans table older than the retention period (non-zero means the cleanup is not running).",
  ),
  def(
    "scans",
    "kali_agents_scan_rows_to_read",
    "gauge",
    "Finished scans committed but not yet counted: a backlog (a burst of finishes) read over the next scrapes; 0 when caught up.",
  ),
] as const satisfies readonly MetricDef[];

export const probeMetrics = [
  def(
    "probes",
    "kali_agents_probe_success",
    "gauge",
    "Whether the last probe of the target succeeded (1) or not (0).",
    ["target", "kind"],
  ),
  def("probes", "kali_agents_probe_duration_seconds", "gauge", "Duration of the last probe of the target.", [
    "target",
    "kind",
  ]),
  def(
    "probes",
    "kali_agents_probe_http_status_code",
    "gauge",
    "HTTP status code of the last probe (0 for TCP probes and for failures before a response).",
    ["target", "kind"],
  ),
] as const satisfies readonly MetricDef[];

export const exporterMetrics = [
  def(
    "exporter",
    "kali_agents_exporter_collector_success",
    "gauge",
    "Whether the collector succeeded (1) or failed or overran its deadline (0) in the last collection.",
    ["collector"],
  ),
  def(
    "exporter",
    "kali_agents_exporter_collector_duration_seconds",
    "gauge",
    "Duration of the collector in the last collection.",
    ["collector"],
  ),
  def(
    "exporter",
    "kali_agents_exporter_collections_total",
    "counter",
    "Collections run (shared by concurrent scrapes).",
  ),
  def("exporter", "kali_agents_exporter_scrapes_total", "counter", "Requests answered on /metrics."),
  def(
    "exporter",
    "kali_agents_exporter_requests_rejected_total",
    "counter",
    "Requests answered 503 (with Retry-After) because EXPORTER_MAX_IN_FLIGHT_REQUESTS were already being handled.",
  ),
  def("exporter", "kali_agents_exporter_build_info", "gauge", "The exporter's version and Node.js version.", [
    "version",
    "nodejs_version",
  ]),
] as const satisfies readonly MetricDef[];

const job = <N extends string>(
  name: N,
  type: MetricType,
  help: string,
  labels: readonly string[] = [],
): MetricDef & { readonly name: N } => ({
  name,
  type,
  help,
  labels,
  source: "job",
});

/**
 * The job-metric contract: what the ops jobs write into the textfile directory (one file per job,
 * written to a temporary name and renamed). `job` is one of `jobNames`.
 */
export const jobNames = ["backup", "verify", "restore", "dr_drill", "cleanup", "report"] as const;
export type JobName = (typeof jobNames)[number];
/** How an ops run was started: by `ops schedule`, or by a person running a command. */
export const jobTriggers = ["scheduler", "manual"] as const;
export type JobTrigger = (typeof jobTriggers)[number];

export const jobMetrics = [
  job(
    "kali_agents_job_last_run_timestamp_seconds",
    "gauge",
    "Unix time the job last finished, whatever its outcome.",
    ["job"],
  ),
  job(
    "kali_agents_job_last_success_timestamp_seconds",
    "gauge",
    "Unix time the job last finished successfully.",
    ["job"],
  ),
  job(
    "kali_agents_job_last_run_success",
    "gauge",
    "Whether the job's last run succeeded (1) or failed (0).",
    ["job"],
  ),
  job("kali_agents_job_last_run_duration_seconds", "gauge", "Duration of the job's last run.", ["job"]),
  job(
    "kali_agents_job_runs_total",
    "counter",
    "Runs of the job by result (`success`, `failure`) and by how it was started (`scheduler`, `manual`: a person). Every combination is written from the first run, so rates over a window compare like with like.",
    ["job", "result", "trigger"],
  ),
  job("kali_agents_backup_last_size_bytes", "gauge", "Size of the newest backup archive.", ["kind"]),
  job(
    "kali_agents_backup_offsite_success",
    "gauge",
    "Whether the last backup's off-site copy (upload to the S3 bucket) succeeded (1) or not (0); absent without OPS_S3_BUCKET.",
  ),
  job(
    "kali_agents_backup_offsite_last_success_timestamp_seconds",
    "gauge",
    "Unix time a backup was last uploaded completely (manifest included) to the off-site store.",
  ),
  job(
    "kali_agents_backup_verification_success",
    "gauge",
    "Whether the newest backup restored into a scratch database and passed its checks (1) or not (0).",
  ),
  job(
    "kali_agents_dr_drill_restore_duration_seconds",
    "gauge",
    "Time the last DR drill took from start to a verified, serving restore (the measured RTO).",
  ),
  job("kali_agents_cleanup_deleted_rows", "gauge", "Rows deleted by the last cleanup run, by table.", [
    "table",
  ]),
  job(
    "kali_agents_report_scorecard",
    "gauge",
    "The last weekly report's scorecard figures by `figure` (docs/operations/scorecard.md): seconds for recovery and response, ratios for shares, a count for interventions. A figure without data has no sample.",
    ["figure"],
  ),
] as const satisfies readonly MetricDef[];

const api = <N extends string>(
  name: N,
  type: MetricType,
  help: string,
  labels: readonly string[],
  buckets?: number[],
) => ({
  name,
  type,
  help,
  labels,
  source: "api" as const,
  ...(buckets ? { buckets } : {}),
});

/** The contract with the Kali Agents API's own /metrics. */
export const apiMetrics = [
  api(
    "http_requests_total",
    "counter",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "code"],
  ),
  api(
    "http_request_duration_seconds",
    "histogram",
    "HTTP request duration, by method and route template.",
    ["method", "route"],
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  ),
] as const satisfies readonly MetricDef[];

type NameOf<T extends readonly { readonly name: string }[]> = T[number]["name"];

/**
 * Every metric name the catalogue defines (exporter, job and API contracts), as a union of literals, so
 * that a rule or a panel naming a metric that was renamed or never existed fails to compile.
 */
export type MetricName =
  | NameOf<typeof hostMetrics>
  | NameOf<typeof inventoryMetrics>
  | NameOf<typeof textfileMetrics>
  | NameOf<typeof postgresMetrics>
  | NameOf<typeof redisMetrics>
  | NameOf<typeof scanMetrics>
  | NameOf<typeof probeMetrics>
  | NameOf<typeof exporterMetrics>
  | NameOf<typeof jobMetrics>
  | NameOf<typeof apiMetrics>;

/** Every metric the exporter itself publishes (prom-client's process_/nodejs_ defaults aside). */
export const exporterCatalogue: readonly MetricDef[] = [
  ...hostMetrics,
  ...inventoryMetrics,
  ...textfileMetrics,
  ...postgresMetrics,
  ...redisMetrics,
  ...scanMetrics,
  ...probeMetrics,
  ...exporterMetrics,
];

/** Everything a rule or a panel may use besides Prometheus' and Alertmanager's own metrics. */
export const catalogue: readonly MetricDef[] = [...exporterCatalogue, ...jobMetrics, ...apiMetrics];

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

export function findMetric(name: string): MetricDef | undefined {
  return catalogue.find((m) => m.name === name);
}
