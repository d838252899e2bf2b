// The host families the community dashboards query beyond the basics (Grafana.com 1860 "Node Exporter
// Full"; the list and its verdicts are definitions/compat.ts): disk I/O, every network device counter,
// the kernel's network statistics, pressure, scheduler and softnet counters, and the rest of meminfo.
// The host collector (host.ts) reads these files in the same collection and writes them with its own
// figures; they live here so that host.ts keeps to the basics it always had.
//
// Every source is optional: a file the kernel does not have (no /proc/pressure before 4.20, no
// nf_conntrack without the module, no irq pressure without CONFIG_IRQ_TIME_ACCOUNTING) leaves its
// families out; it never fails the collection. Values are node_exporter's: the same names, labels and
// base units (sectors of 512 bytes and milliseconds converted as its diskstats collector does).
import { promises as fs, readFile, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  diskstatsColumns,
  meminfoByteFields,
  meminfoCountFields,
  netdevReceiveFields,
  netdevTransmitFields,
  netstatFields,
  sockstatFields,
  softnetColumns,
  vmstatFields,
  hostMetrics,
} from "../../../definitions/metrics/host.ts";
import type { Metrics } from "../metrics.ts";

// node_exporter's default --collector.diskstats.device-exclude: partitions, RAM disks, loop devices and
// floppies, whose I/O is already counted on their whole disk or is not I/O at all.
const DISK_EXCLUDE = /^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$/;

export interface DiskStats {
  device: string;
  /** diskstatsColumns' values in base units, in that order (absent columns of older kernels left out). */
  values: number[];
}

export function parseDiskstats(text: string): DiskStats[] {
  const out: DiskStats[] = [];
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    const device = f[2];
    if (!device || DISK_EXCLUDE.test(device)) continue;
    const values: number[] = [];
    diskstatsColumns.forEach(([, , factor], i) => {
      const raw = f[3 + i];
      if (raw !== undefined) values.push(Number(raw) * factor);
    });
    out.push({ device, values });
  }
  return out;
}

export interface NetDevRow {
  device: string;
  receive: number[];
  transmit: number[];
}

/** Every column of /proc/net/dev (netdevReceiveFields then netdevTransmitFields). */
export function parseNetDevAll(text: string): NetDevRow[] {
  const out: NetDevRow[] = [];
  for (const line of text.split("\n").slice(2)) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const f = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .map(Number);
    const n = netdevReceiveFields.length;
    out.push({ device: line.slice(0, colon).trim(), receive: f.slice(0, n), transmit: f.slice(n, n + 8) });
  }
  return out;
}

/**
 * /proc/net/netstat and /proc/net/snmp: pairs of lines, a header (`Tcp: RtoAlgorithm RtoMin ...`) then
 * the values (`Tcp: 1 200 ...`), as `Proto_Field` -> value.
 */
export function parseNetstat(text: string): Map<string, number> {
  const out = new Map<string, number>();
  const lines = text.split("\n");
  for (let i = 0; i + 1 < lines.length; i++) {
    const names = lines[i]!.trim().split(/\s+/);
    const values = lines[i + 1]!.trim().split(/\s+/);
    const proto = names[0]?.replace(/:$/, "");
    // A header without its values line (a torn read) is skipped alone, so the next pair still lines up.
    if (!proto || values[0] !== names[0]) continue;
    for (let j = 1; j < names.length; j++) out.set(`${proto}_${names[j]}`, Number(values[j]));
    i++;
  }
  return out;
}

/** /proc/net/sockstat: `TCP: inuse 1 orphan 0 ...` -> TCP_inuse, ...; `sockets: used 32` -> sockets_used. */
export function parseSockstat(text: string, pageSize: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    const proto = f[0]?.replace(/:$/, "");
    if (!proto) continue;
    for (let j = 1; j + 1 < f.length; j += 2) {
      const v = Number(f[j + 1]);
      if (proto === "sockets") out.set(`sockets_${f[j]}`, v);
      else {
        out.set(`${proto}_${f[j]}`, v);
        // mem is in pages; node_exporter adds it in bytes as well.
        if (f[j] === "mem") out.set(`${proto}_mem_bytes`, v * pageSize);
      }
    }
  }
  return out;
}

/** `some avg10=0.00 avg60=0.00 avg300=0.00 total=123` (microseconds) -> { some: s, full: s }. */
export function parsePressure(text: string): { some?: number; full?: number } {
  const out: { some?: number; full?: number } = {};
  for (const line of text.split("\n")) {
    const m = /^(some|full)\b.*\btotal=(\d+)/.exec(line.trim());
    if (m) out[m[1] as "some" | "full"] = Number(m[2]) / 1e6;
  }
  return out;
}

/** /proc/schedstat `cpuN` lines: running and waiting nanoseconds and timeslices (fields 7, 8, 9). */
export function parseSchedstat(
  text: string,
): { cpu: string; running: number; waiting: number; slices: number }[] {
  const out: { cpu: string; running: number; waiting: number; slices: number }[] = [];
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (!/^cpu\d+$/.test(f[0] ?? "") || f.length < 10) continue;
    out.push({
      cpu: f[0]!.slice(3),
      running: Number(f[7]) / 1e9,
      waiting: Number(f[8]) / 1e9,
      slices: Number(f[9]),
    });
  }
  return out;
}

/** /proc/net/softnet_stat: one line of hexadecimal columns per CPU (the 13th, when present, is its number). */
export function parseSoftnet(text: string): { cpu: string; values: number[] }[] {
  const out: { cpu: string; values: number[] }[] = [];
  text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .forEach((line, i) => {
      const f = line.trim().split(/\s+/);
      const cpu = f[12] !== undefined ? String(parseInt(f[12], 16)) : String(i);
      out.push({ cpu, values: softnetColumns.map(([, col]) => parseInt(f[col] ?? "0", 16)) });
    });
  return out;
}

/** /proc/net/udp(6): tx_queue and rx_queue (hexadecimal `tx:rx`, 5th column) summed over the sockets. */
export function parseUdpQueues(text: string): { tx: number; rx: number } {
  let tx = 0;
  let rx = 0;
  for (const line of text.split("\n").slice(1)) {
    const q = line.trim().split(/\s+/)[4];
    if (!q?.includes(":")) continue;
    const [t, r] = q.split(":");
    tx += parseInt(t!, 16);
    rx += parseInt(r!, 16);
  }
  return { tx, rx };
}

/** ARP entries per device (/proc/net/arp, the device is the last column). */
export function parseArp(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n").slice(1)) {
    const device = line.trim().split(/\s+/)[5];
    if (device) out.set(device, (out.get(device) ?? 0) + 1);
  }
  return out;
}

/** /proc/vmstat `name value` lines. */
export function parseVmstat(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    const [k, v] = line.split(" ");
    if (k && v !== undefined) out.set(k, Number(v));
  }
  return out;
}

/** The /proc/stat lines beyond the CPU times: ctxt, processes, intr (its first figure), procs_*. */
export function parseStatCounters(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    const f = line.split(" ", 2);
    if (["ctxt", "processes", "intr", "procs_running", "procs_blocked"].includes(f[0]!))
      out.set(f[0]!, Number(f[1]));
  }
  return out;
}

/** guest and guest_nice per CPU (/proc/stat columns 9 and 10, in USER_HZ ticks). */
export function parseGuest(text: string): { cpu: string; user: number; nice: number }[] {
  const out: { cpu: string; user: number; nice: number }[] = [];
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (!/^cpu\d+$/.test(f[0] ?? "") || f.length < 11) continue;
    out.push({ cpu: f[0]!.slice(3), user: Number(f[9]) / 100, nice: Number(f[10]) / 100 });
  }
  return out;
}

/** Mount points mounted read-only (the `ro` option in the mount table's 4th column). */
export function readonlyMountpoints(mounts: string): Set<string> {
  const out = new Set<string>();
  for (const line of mounts.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 4 && f[3]!.split(",").includes("ro"))
      out.add(f[1]!.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8))));
  }
  return out;
}

export interface NetClass {
  device: string;
  up: number;
  carrier?: number;
  mtu?: number;
  speedBytes?: number;
  nohandler?: number;
}

export interface CompatSnapshot {
  disks: DiskStats[];
  net: NetDevRow[];
  netClass: NetClass[];
  arp: Map<string, number>;
  netstat: Map<string, number>;
  sockstat: Map<string, number>;
  vmstat: Map<string, number>;
  stat: Map<string, number>;
  guest: { cpu: string; user: number; nice: number }[];
  filefd?: { allocated: number; maximum: number };
  entropy?: { available: number; pool: number };
  pressure: {
    cpu?: number;
    ioSome?: number;
    ioFull?: number;
    memorySome?: number;
    memoryFull?: number;
    irqFull?: number;
  };
  schedstat: { cpu: string; running: number; waiting: number; slices: number }[];
  softnet: { cpu: string; values: number[] }[];
  conntrack?: { entries: number; limit: number };
  udp: { ip: "v4" | "v6"; tx: number; rx: number }[];
  hungTasks?: number;
}

// fs.readFile with a callback, not fs.promises: the promise API opens a FileHandle and makes four
// round trips to the pool per file (open, fstat, read, close), which profiled at 1.6 ms of CPU for the
// 20 /sys files of a collection on this machine.
const optional = (path: string): Promise<string | undefined> =>
  new Promise((resolve) => readFile(path, "utf8", (err, text) => resolve(err ? undefined : text)));

// The /proc files here are read synchronously, one after the other. The kernel generates them in
// memory: they never wait on a disk or a mount (statfs, which can, stays asynchronous in host.ts), and
// reading them through libuv's thread pool costs more than the reads. Measured on this machine (2 vCPU,
// load average 17 from parallel test runs), the 19 files plus 16 /sys files, 200 rounds:
// synchronously 0.8-1.0 ms median, 1.2-2.3 ms p95, in one slice of the event loop; through
// fs.promises 4.1-4.4 ms median, 11-27 ms p95, queued behind the pool's 4 threads.
// /sys/class/net stays asynchronous: speed and carrier call into the network driver, which can wait on
// the kernel's RTNL lock while the host reconfigures its interfaces.
const optionalSync = (path: string): string | undefined => {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
};
const num = (s: string | undefined) => {
  const n = Number(s?.trim());
  return s !== undefined && s.trim() !== "" && Number.isFinite(n) ? n : undefined;
};

let pageSize: number | undefined;
/** The kernel's page size (sockstat's mem is in pages), read once from our own smaps; 4 KiB by default. */
async function kernelPageSize(): Promise<number> {
  if (pageSize !== undefined) return pageSize;
  let size = 4096;
  try {
    const h = await fs.open("/proc/self/smaps", "r");
    try {
      const { buffer, bytesRead } = await h.read(Buffer.alloc(2048), 0, 2048, 0);
      const m = /KernelPageSize:\s+(\d+) kB/.exec(buffer.subarray(0, bytesRead).toString("utf8"));
      if (m) size = Number(m[1]) * 1024;
    } finally {
      await h.close();
    }
  } catch {
    // keep the default
  }
  return (pageSize = size);
}

/** /sys/class/net/<device>: operstate, carrier, mtu, speed and rx_nohandler, as node_exporter's netclass. */
async function readNetClass(root: string, device: string): Promise<NetClass | undefined> {
  const dir = join(root, "sys", "class", "net", device);
  // operstate and mtu are read under RCU or dev_base_lock, never the RTNL lock: synchronously, like
  // /proc. carrier and speed take the RTNL lock (and speed calls the driver), rx_nohandler asks the
  // driver for its statistics: those go through the pool.
  const operstate = optionalSync(join(dir, "operstate"));
  const mtu = optionalSync(join(dir, "mtu"));
  const [carrier, speed, nohandler] = await Promise.all([
    // carrier and speed answer EINVAL while the link is down or for virtual devices: left out then.
    optional(join(dir, "carrier")),
    optional(join(dir, "speed")),
    optional(join(dir, "statistics", "rx_nohandler")),
  ]);
  if (operstate === undefined) return undefined;
  const out: NetClass = { device, up: operstate.trim() === "up" ? 1 : 0 };
  const c = num(carrier);
  if (c !== undefined) out.carrier = c;
  const m = num(mtu);
  if (m !== undefined) out.mtu = m;
  // Mbit/s; -1 when the driver does not know it (virtual devices), published as it is converted
  // (-125000), as node_exporter does unless --collector.netclass.ignore-invalid-speed is given; a
  // device whose speed file answers EINVAL (link down, loopback) has no sample.
  const s = num(speed);
  if (s !== undefined) out.speedBytes = Math.trunc((s * 1000 * 1000) / 8);
  const n = num(nohandler);
  if (n !== undefined) out.nohandler = n;
  return out;
}

/**
 * Reads every compat source under the host root. `statText`, `netdevText` and `procNet` are the host
 * collector's own: /proc/stat and /proc/net/dev already read, and the /proc/<pid>/net folder whose
 * network namespace is the host's.
 */
export async function readCompat(
  root: string,
  procNet: (file: string) => string | undefined,
  statText: string,
  netdevText: string,
): Promise<CompatSnapshot> {
  const proc = (...p: string[]) => optionalSync(join(root, "proc", ...p));
  const net = parseNetDevAll(netdevText);
  // Started first, so that the /sys reads run in the pool while the /proc files are read here.
  const netClassPending = Promise.all(net.map((n) => readNetClass(root, n.device)));
  const page = await kernelPageSize();
  const diskstats = proc("diskstats");
  const netstat = procNet("netstat");
  const snmp = procNet("snmp");
  const sockstat = procNet("sockstat");
  const arp = procNet("arp");
  const udp4 = procNet("udp");
  const udp6 = procNet("udp6");
  const vmstat = proc("vmstat");
  const filenr = proc("sys", "fs", "file-nr");
  const entropyAvail = proc("sys", "kernel", "random", "entropy_avail");
  const poolsize = proc("sys", "kernel", "random", "poolsize");
  const psiCpu = proc("pressure", "cpu");
  const psiIo = proc("pressure", "io");
  const psiMemory = proc("pressure", "memory");
  const psiIrq = proc("pressure", "irq");
  const schedstat = proc("schedstat");
  const softnet = proc("net", "softnet_stat");
  const ctCount = proc("sys", "net", "netfilter", "nf_conntrack_count");
  const ctMax = proc("sys", "net", "netfilter", "nf_conntrack_max");
  const hung = proc("sys", "kernel", "hung_task_detect_count");
  const netClass = await netClassPending;
  const out: CompatSnapshot = {
    disks: diskstats ? parseDiskstats(diskstats) : [],
    net,
    netClass: netClass.filter((n): n is NetClass => n !== undefined),
    arp: arp ? parseArp(arp) : new Map(),
    netstat: new Map([...(netstat ? parseNetstat(netstat) : []), ...(snmp ? parseNetstat(snmp) : [])]),
    sockstat: sockstat ? parseSockstat(sockstat, page) : new Map(),
    vmstat: vmstat ? parseVmstat(vmstat) : new Map(),
    stat: parseStatCounters(statText),
    guest: parseGuest(statText),
    pressure: {},
    schedstat: schedstat ? parseSchedstat(schedstat) : [],
    softnet: softnet ? parseSoftnet(softnet) : [],
    udp: [],
  };
  const fd = filenr?.trim().split(/\s+/);
  if (fd && fd.length >= 3) out.filefd = { allocated: Number(fd[0]), maximum: Number(fd[2]) };
  const ea = num(entropyAvail);
  const ps = num(poolsize);
  if (ea !== undefined && ps !== undefined) out.entropy = { available: ea, pool: ps };
  if (psiCpu) out.pressure.cpu = parsePressure(psiCpu).some;
  if (psiIo) ({ some: out.pressure.ioSome, full: out.pressure.ioFull } = parsePressure(psiIo));
  if (psiMemory)
    ({ some: out.pressure.memorySome, full: out.pressure.memoryFull } = parsePressure(psiMemory));
  if (psiIrq) out.pressure.irqFull = parsePressure(psiIrq).full;
  const cc = num(ctCount);
  const cm = num(ctMax);
  if (cc !== undefined && cm !== undefined) out.conntrack = { entries: cc, limit: cm };
  if (udp4) out.udp.push({ ip: "v4", ...parseUdpQueues(udp4) });
  if (udp6) out.udp.push({ ip: "v6", ...parseUdpQueues(udp6) });
  const h = num(hung);
  if (h !== undefined) out.hungTasks = h;
  return out;
}

/** The meminfo fields (by catalogue field name) of /proc/meminfo, as host.ts's parseMeminfo gives them. */
export function meminfoCompat(memory: Map<string, number>): {
  bytes: Map<string, number>;
  counts: Map<string, number>;
} {
  const bytes = new Map<string, number>();
  const counts = new Map<string, number>();
  // "Active(anon)" in the file is "Active_anon" in the metric's name.
  const byName = new Map([...memory].map(([k, v]) => [k.replace(/\((\w+)\)$/, "_$1"), v]));
  for (const f of meminfoByteFields) {
    const v = byName.get(f);
    if (v !== undefined) bytes.set(f, v);
  }
  for (const f of meminfoCountFields) {
    const v = byName.get(f);
    if (v !== undefined) counts.set(f, v);
  }
  return { bytes, counts };
}

/**
 * prom-client gives an unlabelled metric a 0 again on reset(): a figure this kernel does not have (no
 * conntrack module, no irq pressure) would read as a real 0. Called just after the reset, so that only
 * what is written afterwards is published.
 */
export function dropUnlabelled(m: Metrics<typeof hostMetrics>): void {
  for (const d of hostMetrics) if (d.labels.length === 0) m[d.name].remove({});
}

/** Writes the compat families (the host collector has reset every metric just before). */
export function writeCompat(
  m: Metrics<typeof hostMetrics>,
  s: CompatSnapshot,
  memory: Map<string, number>,
): void {
  const { bytes, counts } = meminfoCompat(memory);
  for (const [f, v] of bytes) m[`node_memory_${f as (typeof meminfoByteFields)[number]}_bytes`].set(v);
  for (const [f, v] of counts) m[`node_memory_${f as (typeof meminfoCountFields)[number]}`].set(v);
  for (const d of s.disks)
    d.values.forEach((v, i) => m[`node_disk_${diskstatsColumns[i]![0]}`].set({ device: d.device }, v));
  for (const n of s.net) {
    netdevReceiveFields.forEach((f, i) => {
      const v = n.receive[i];
      if (f !== "bytes" && v !== undefined && Number.isFinite(v))
        m[`node_network_receive_${f}_total`].set({ device: n.device }, v);
    });
    netdevTransmitFields.forEach((f, i) => {
      const v = n.transmit[i];
      if (f !== "bytes" && v !== undefined && Number.isFinite(v))
        m[`node_network_transmit_${f}_total`].set({ device: n.device }, v);
    });
  }
  for (const c of s.netClass) {
    const device = { device: c.device };
    m.node_network_up.set(device, c.up);
    if (c.carrier !== undefined) m.node_network_carrier.set(device, c.carrier);
    if (c.mtu !== undefined) m.node_network_mtu_bytes.set(device, c.mtu);
    if (c.speedBytes !== undefined) m.node_network_speed_bytes.set(device, c.speedBytes);
    if (c.nohandler !== undefined) m.node_network_receive_nohandler_total.set(device, c.nohandler);
  }
  for (const [device, n] of s.arp) m.node_arp_entries.set({ device }, n);
  for (const f of netstatFields) {
    const v = s.netstat.get(f);
    if (v !== undefined && Number.isFinite(v)) m[`node_netstat_${f}`].set(v);
  }
  for (const f of sockstatFields) {
    const v = s.sockstat.get(f);
    if (v !== undefined && Number.isFinite(v)) m[`node_sockstat_${f}`].set(v);
  }
  const used = s.sockstat.get("sockets_used");
  if (used !== undefined) m.node_sockstat_sockets_used.set(used);
  for (const f of vmstatFields) {
    const v = s.vmstat.get(f);
    if (v !== undefined) m[`node_vmstat_${f}`].set(v);
  }
  const stat = (k: string, metric: { set(v: number): void }) => {
    const v = s.stat.get(k);
    if (v !== undefined) metric.set(v);
  };
  stat("ctxt", m.node_context_switches_total);
  stat("processes", m.node_forks_total);
  stat("intr", m.node_intr_total);
  stat("procs_running", m.node_procs_running);
  stat("procs_blocked", m.node_procs_blocked);
  for (const g of s.guest) {
    m.node_cpu_guest_seconds_total.set({ cpu: g.cpu, mode: "user" }, g.user);
    m.node_cpu_guest_seconds_total.set({ cpu: g.cpu, mode: "nice" }, g.nice);
  }
  if (s.filefd) {
    m.node_filefd_allocated.set(s.filefd.allocated);
    m.node_filefd_maximum.set(s.filefd.maximum);
  }
  if (s.entropy) {
    m.node_entropy_available_bits.set(s.entropy.available);
    m.node_entropy_pool_size_bits.set(s.entropy.pool);
  }
  const p = s.pressure;
  if (p.cpu !== undefined) m.node_pressure_cpu_waiting_seconds_total.set(p.cpu);
  if (p.ioSome !== undefined) m.node_pressure_io_waiting_seconds_total.set(p.ioSome);
  if (p.ioFull !== undefined) m.node_pressure_io_stalled_seconds_total.set(p.ioFull);
  if (p.memorySome !== undefined) m.node_pressure_memory_waiting_seconds_total.set(p.memorySome);
  if (p.memoryFull !== undefined) m.node_pressure_memory_stalled_seconds_total.set(p.memoryFull);
  if (p.irqFull !== undefined) m.node_pressure_irq_stalled_seconds_total.set(p.irqFull);
  for (const c of s.schedstat) {
    m.node_schedstat_running_seconds_total.set({ cpu: c.cpu }, c.running);
    m.node_schedstat_waiting_seconds_total.set({ cpu: c.cpu }, c.waiting);
    m.node_schedstat_timeslices_total.set({ cpu: c.cpu }, c.slices);
  }
  for (const c of s.softnet)
    softnetColumns.forEach(([f], i) => m[`node_softnet_${f}_total`].set({ cpu: c.cpu }, c.values[i] ?? 0));
  if (s.conntrack) {
    m.node_nf_conntrack_entries.set(s.conntrack.entries);
    m.node_nf_conntrack_entries_limit.set(s.conntrack.limit);
  }
  for (const u of s.udp) {
    m.node_udp_queues.set({ queue: "tx", ip: u.ip }, u.tx);
    m.node_udp_queues.set({ queue: "rx", ip: u.ip }, u.rx);
  }
  if (s.hungTasks !== undefined) {
    m.node_kernel_hung_tasks_total.set(s.hungTasks);
    m.node_kernel_hung_tasks.set(s.hungTasks);
  }
}
