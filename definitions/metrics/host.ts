// Host metrics (the host collector), on node_exporter's names, labels, units and types.
import { def, type MetricDef, type MetricType } from "./metric.ts";

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
    // The name a community dashboard (definitions/generated/compat-dashboards.ts) queries, from before
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
