// Host metrics with node_exporter's names and labels (definitions/metrics/host.ts hostMetrics), read from
// /proc and statfs() behind a host-root prefix (EXPORTER_HOST_ROOT), as node_exporter does with
// --path.rootfs / --path.procfs, so that in a container with the host's / mounted read-only at /host the
// figures are the host's.
//
// Why not systeminformation here: its nearest calls start child processes (several through execSync,
// which blocks the event loop, and so every scrape), `currentLoad()` returns the load since ITS previous
// call (a second caller shortens the window), `networkStats()` rates rather than counters, `fsSize()`
// runs `df`, which hangs on a dead NFS mount, and `mem()` reads the fixed path /proc/meminfo, ignoring the
// host root (docs/decisions.md; the figures, call by call and per scrape: docs/performance.md,
// "systeminformation, measured for the host collectors"). Reading the files directly never blocks the
// event loop, keeps the upstream counters as counters (Prometheus computes the rates), and honours the
// host root. So every figure below is read from /proc and statfs(); uname fields come from
// /proc/sys/kernel/* and Node's os module (the uname syscall), not from si.osInfo(). systeminformation is
// only a development dependency (the benchmark, and a second reading in exporter/test/inventory.test.ts);
// it is the library to reach for if a figure ever has no cheap /proc source.
import { promises as fs, readFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { Registry } from "prom-client";
import { hostMetrics } from "../../../definitions/metrics/host.ts";
import { FailureLog } from "../failure-log.ts";
import type { Logger } from "../../../lib/log.ts";
import { createMetrics } from "../metrics.ts";
import {
  dropUnlabelled,
  readCompat,
  readonlyMountpoints,
  parseNetDevAll,
  writeCompat,
  type CompatSnapshot,
} from "./host-compat.ts";
import type { Collector, CollectorModule, HealthCheck, HealthCheckName } from "./types.ts";

export interface HostOptions {
  /** Where the host's / is mounted ("/" when not in a container). */
  readonly hostRoot: string;
  /** How long one statfs() may take before its mount is reported with device_error 1. */
  readonly statfsTimeoutMs: number;
  /**
   * statfs() itself; tests pass one that never answers, because a dead NFS mount cannot be made on a
   * test machine without an NFS server. Defaults to fs.promises.statfs.
   */
  readonly statfs?: (path: string) => Promise<{
    blocks: number;
    bfree: number;
    bavail: number;
    bsize: number;
    files?: number;
    ffree?: number;
  }>;
  /** /health thresholds, in percent. */
  readonly diskWarnPercent: number;
  readonly memoryWarnPercent: number;
  readonly cpuWarnPercent: number;
}

/** USER_HZ: /proc/stat counts clock ticks of 1/100 s on every Linux architecture userspace sees. */
const USER_HZ = 100;
const CPU_MODES = ["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"] as const;

// Filesystems that hold no user data (node_exporter's default exclusions, written as our own lists):
// pseudo filesystems of the kernel, container overlays and read-only images.
const EXCLUDED_FS_TYPES = new Set([
  "autofs",
  "binfmt_misc",
  "bpf",
  "cgroup",
  "cgroup2",
  "configfs",
  "debugfs",
  "devpts",
  "devtmpfs",
  "erofs",
  "fusectl",
  "hugetlbfs",
  "iso9660",
  "mqueue",
  "nsfs",
  "overlay",
  "proc",
  "procfs",
  "pstore",
  "rpc_pipefs",
  "securityfs",
  "selinuxfs",
  "squashfs",
  "sysfs",
  "tracefs",
]);
const EXCLUDED_MOUNT_POINTS =
  /^\/(dev|proc|sys|run\/credentials\/.+|var\/lib\/docker\/.+|var\/lib\/containers\/storage\/.+)($|\/)/;

export interface CpuTimes {
  cpu: string;
  seconds: Record<(typeof CPU_MODES)[number], number>;
}

/** Per-CPU times (seconds) and the boot time from /proc/stat. */
export function parseProcStat(text: string): { cpus: CpuTimes[]; total?: CpuTimes; bootTime?: number } {
  const cpus: CpuTimes[] = [];
  let total: CpuTimes | undefined;
  let bootTime: number | undefined;
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    const head = f[0] ?? "";
    if (head.startsWith("cpu")) {
      const seconds = Object.fromEntries(
        CPU_MODES.map((m, i) => [m, Number(f[i + 1] ?? 0) / USER_HZ]),
      ) as CpuTimes["seconds"];
      if (head === "cpu") total = { cpu: "all", seconds };
      else cpus.push({ cpu: head.slice(3), seconds });
    } else if (head === "btime") bootTime = Number(f[1]);
  }
  return { cpus, ...(total ? { total } : {}), ...(bootTime !== undefined ? { bootTime } : {}) };
}

/** /proc/meminfo fields in bytes (values are in kB). */
export function parseMeminfo(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^([A-Za-z0-9_()]+):\s+(\d+)(?:\s+kB)?$/.exec(line.trim());
    if (m) out.set(m[1]!, Number(m[2]) * (line.includes("kB") ? 1024 : 1));
  }
  return out;
}

/** Bytes received and sent per interface: the first column of each half of /proc/net/dev. */
export function parseNetDev(text: string): { device: string; rx: number; tx: number }[] {
  return parseNetDevAll(text).map((r) => ({
    device: r.device,
    rx: r.receive[0] ?? Number.NaN,
    tx: r.transmit[0] ?? Number.NaN,
  }));
}

/** Octal escapes (\040 for a space, ...) as the kernel writes them in mount tables. */
const unescapeMount = (s: string) =>
  s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));

export interface Mount {
  device: string;
  mountpoint: string;
  fstype: string;
}

/** Mounts worth reporting (pseudo filesystems and excluded mount points left out), one per mount point. */
export function parseMounts(text: string): Mount[] {
  const byKey = new Map<string, Mount>();
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 3) continue;
    const m = { device: unescapeMount(f[0]!), mountpoint: unescapeMount(f[1]!), fstype: f[2]! };
    if (EXCLUDED_FS_TYPES.has(m.fstype) || EXCLUDED_MOUNT_POINTS.test(m.mountpoint)) continue;
    // A mount point mounted over again shows the last mount; the same labels twice would be a
    // duplicate series.
    byKey.set(`${m.device}\u0000${m.mountpoint}\u0000${m.fstype}`, m);
  }
  return [...byKey.values()];
}

interface FsStats {
  mount: Mount;
  stats?: { size: number; free: number; avail: number; files?: number; filesFree?: number };
  error?: string;
  /** node_exporter's device_error label for a failed statfs(). */
  deviceError?: string;
}

/** node_exporter's device_error for a statfs() that did not answer in time (or still runs). */
const MOUNTPOINT_TIMEOUT = "mountpoint timeout";

/**
 * node_exporter's device_error label of a failed statfs(): Go's text of the errno ("permission
 * denied"), which Node.js writes as "EACCES: permission denied, statfs '/x'"; a timeout is
 * "mountpoint timeout".
 */
export function deviceErrorLabel(err: Error & { code?: string }): string {
  if (err.code === "ESTATFSTIMEOUT") return MOUNTPOINT_TIMEOUT;
  const m = /^E[A-Z0-9]+: ([^,]+),/.exec(err.message);
  return m ? m[1]! : err.message;
}

interface Snapshot {
  cpus: CpuTimes[];
  total?: CpuTimes;
  bootTime?: number;
  load: [number, number, number];
  memory: Map<string, number>;
  net: { device: string; rx: number; tx: number }[];
  filesystems: FsStats[];
  uname: {
    sysname: string;
    release: string;
    version: string;
    machine: string;
    nodename: string;
    domainname: string;
  };
  /** The families the community dashboards query beyond the basics (host-compat.ts). */
  compat: CompatSnapshot;
  readonlyMounts: Set<string>;
}

function createHostCollector(options: HostOptions, _log: Logger): Collector {
  const registry = new Registry();
  const m = createMetrics(hostMetrics, registry);
  const root = options.hostRoot;
  const proc = (...p: string[]) => join(root, "proc", ...p);
  const read = (path: string) => fs.readFile(path, "utf8");
  const readTrim = async (path: string) => (await read(path)).trim();
  // statfs() calls that have not returned: a dead NFS mount can hold a libuv thread-pool thread for
  // minutes, and the pool has only 4 threads (shared with every file read), so a mount whose previous
  // call is still stuck is not asked again until it returns.
  const stuck = new Set<string>();
  // A mount that stays unreadable (a dead NFS server) is logged when it starts failing, when its reason
  // changes, every 5 minutes, and when it answers again; not on every scrape.
  const mounts = new FailureLog({
    subject: "mountpoint",
    failed: "filesystem statistics unavailable",
    recovered: "filesystem statistics available again",
  });
  let last: Snapshot | undefined;
  let previousCpu: CpuTimes | undefined;
  let cpuBusyPercent: number | undefined;

  const statfs = async (mount: Mount): Promise<FsStats> => {
    const path = join(root, mount.mountpoint);
    if (stuck.has(path))
      return {
        mount,
        error: "statfs still running from an earlier collection",
        deviceError: MOUNTPOINT_TIMEOUT,
      };
    let timer: NodeJS.Timeout | undefined;
    const call = (options.statfs ?? fs.statfs)(path);
    stuck.add(path);
    void call.then(
      () => stuck.delete(path),
      () => stuck.delete(path),
    );
    try {
      const s = await Promise.race([
        call,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                Object.assign(new Error(`statfs timed out after ${options.statfsTimeoutMs} ms`), {
                  code: "ESTATFSTIMEOUT",
                }),
              ),
            options.statfsTimeoutMs,
          );
        }),
      ]);
      return {
        mount,
        stats: {
          size: s.blocks * s.bsize,
          free: s.bfree * s.bsize,
          avail: s.bavail * s.bsize,
          ...(s.files !== undefined ? { files: s.files } : {}),
          ...(s.ffree !== undefined ? { filesFree: s.ffree } : {}),
        },
      };
    } catch (e) {
      const err = e as Error & { code?: string };
      return { mount, error: err.message, deviceError: deviceErrorLabel(err) };
    } finally {
      clearTimeout(timer);
    }
  };

  const readMounts = async (): Promise<string> => {
    // PID 1's mount table is the host's when the container shares the host's PID namespace (as
    // node_exporter reads it); our own is the fallback when PID 1's is not readable.
    try {
      return await read(proc("1", "mounts"));
    } catch {
      return await read(proc("self", "mounts"));
    }
  };

  const readNetDev = async (): Promise<string> => {
    // /proc/net is a link to /proc/self/net: under a host root mounted into a container it shows the
    // container's own interfaces. PID 1's network namespace is the host's (the mounted procfs is the
    // host's), as compose.yaml notes; ours is the fallback when PID 1's is not readable.
    try {
      return await read(proc("1", "net", "dev"));
    } catch {
      return await read(proc("net", "dev"));
    }
  };

  // /proc/<pid>/net/<file> in the host's network namespace (PID 1's, as readNetDev explains); read
  // synchronously, as host-compat.ts explains.
  const procNet = (file: string): string | undefined => {
    try {
      return readFileSync(proc("1", "net", file), "utf8");
    } catch {
      try {
        return readFileSync(proc("net", file), "utf8");
      } catch {
        return undefined;
      }
    }
  };

  const write = (s: Snapshot) => {
    for (const metric of Object.values(m)) metric.reset();
    dropUnlabelled(m);
    for (const c of s.cpus)
      for (const mode of CPU_MODES) m.node_cpu_seconds_total.set({ cpu: c.cpu, mode }, c.seconds[mode]);
    m.node_load1.set(s.load[0]);
    m.node_load5.set(s.load[1]);
    m.node_load15.set(s.load[2]);
    // node_memory_*: every meminfo field, MemTotal and MemAvailable among them, by writeCompat below.
    for (const fsx of s.filesystems) {
      const labels = {
        device: fsx.mount.device,
        mountpoint: fsx.mount.mountpoint,
        fstype: fsx.mount.fstype,
        device_error: fsx.stats ? "" : (fsx.deviceError ?? ""),
      };
      m.node_filesystem_device_error.set(labels, fsx.stats ? 0 : 1);
      m.node_filesystem_readonly.set(labels, s.readonlyMounts.has(fsx.mount.mountpoint) ? 1 : 0);
      if (!fsx.stats) continue;
      if (fsx.stats.files !== undefined) m.node_filesystem_files.set(labels, fsx.stats.files);
      if (fsx.stats.filesFree !== undefined) m.node_filesystem_files_free.set(labels, fsx.stats.filesFree);
      m.node_filesystem_size_bytes.set(labels, fsx.stats.size);
      m.node_filesystem_free_bytes.set(labels, fsx.stats.free);
      m.node_filesystem_avail_bytes.set(labels, fsx.stats.avail);
    }
    for (const n of s.net) {
      m.node_network_receive_bytes_total.set({ device: n.device }, n.rx);
      m.node_network_transmit_bytes_total.set({ device: n.device }, n.tx);
    }
    if (s.bootTime !== undefined) m.node_boot_time_seconds.set(s.bootTime);
    m.node_time_seconds.set(Date.now() / 1000);
    m.node_uname_info.set(s.uname, 1);
    writeCompat(m, s.compat, s.memory);
  };

  return {
    name: "host",
    registry,
    async collect(ctx) {
      const [stat, loadavg, meminfo, netdev, mountsText, release, version, nodename, domainname] =
        await Promise.all([
          read(proc("stat")),
          read(proc("loadavg")),
          read(proc("meminfo")),
          readNetDev(),
          readMounts(),
          readTrim(proc("sys", "kernel", "osrelease")),
          readTrim(proc("sys", "kernel", "version")),
          readTrim(proc("sys", "kernel", "hostname")),
          readTrim(proc("sys", "kernel", "domainname")),
        ]);
      const [filesystems, compat] = await Promise.all([
        Promise.all(parseMounts(mountsText).map(statfs)),
        readCompat(root, procNet, stat, netdev),
      ]);
      for (const f of filesystems)
        if (f.error) mounts.failed(ctx.log, f.mount.mountpoint, f.error, { device: f.mount.device });
        else mounts.succeeded(ctx.log, f.mount.mountpoint);
      const { cpus, total, bootTime } = parseProcStat(stat);
      const load = loadavg.split(/\s+/).slice(0, 3).map(Number) as [number, number, number];
      if (load.length !== 3 || load.some((x) => !Number.isFinite(x)))
        throw new Error(`unreadable ${proc("loadavg")}: ${loadavg.slice(0, 80)}`);
      if (cpus.length === 0) throw new Error(`no cpu lines in ${proc("stat")}`);
      const snapshot: Snapshot = {
        cpus,
        ...(total ? { total } : {}),
        ...(bootTime !== undefined ? { bootTime } : {}),
        load,
        memory: parseMeminfo(meminfo),
        net: parseNetDev(netdev),
        filesystems,
        compat,
        readonlyMounts: readonlyMountpoints(mountsText),
        uname: { sysname: os.type(), release, version, machine: os.machine(), nodename, domainname },
      };
      if (ctx.signal.aborted) return;
      write(snapshot);
      // The busy figure needs a window: collections closer than a second apart (concurrent /health and
      // /metrics, say) keep the previous figure and baseline rather than report the noise of a few ticks.
      if (total && (!previousCpu || cpuSum(total) - cpuSum(previousCpu) >= cpus.length)) {
        cpuBusyPercent = busyPercent(previousCpu, total);
        previousCpu = total;
      }
      last = snapshot;
    },
    markFailed() {
      // Host figures that could not be read are left out rather than shown stale.
      for (const metric of Object.values(m)) metric.reset();
      dropUnlabelled(m);
      last = undefined;
    },
    // Memory is always measurable where /proc is; disk and cpu may be absent (no root mount, one sample).
    healthChecks: ["memory"],
    health() {
      if (!last) return {};
      const out: Partial<Record<HealthCheckName, HealthCheck>> = {};
      const rootFs = last.filesystems.find((f) => f.mount.mountpoint === "/");
      if (rootFs?.stats) {
        const { size, avail, free } = rootFs.stats;
        // As df and psutil compute it: used over what non-root users can reach.
        const used = size - free;
        const usedPercent = used + avail > 0 ? (100 * used) / (used + avail) : 0;
        out.disk = {
          status: usedPercent < options.diskWarnPercent ? "ok" : "warning",
          used_percent: round(usedPercent),
          free_gb: round(avail / 1024 ** 3),
        };
      } else if (rootFs) out.disk = { status: "warning", error: rootFs.error ?? "no statistics" };
      const total = last.memory.get("MemTotal");
      const available = last.memory.get("MemAvailable");
      if (total && available !== undefined) {
        const usedPercent = (100 * (total - available)) / total;
        out.memory = {
          status: usedPercent < options.memoryWarnPercent ? "ok" : "warning",
          used_percent: round(usedPercent),
          available_gb: round(available / 1024 ** 3),
        };
      }
      if (cpuBusyPercent !== undefined)
        out.cpu = {
          status: cpuBusyPercent < options.cpuWarnPercent ? "ok" : "warning",
          usage_percent: round(cpuBusyPercent),
          load_average: last.load,
        };
      return out;
    },
  };
}

/**
 * CPU busy percentage between two readings of the "cpu" line (since boot on the first reading):
 * everything but idle and iowait, as psutil and top count it.
 */
const cpuSum = (t: CpuTimes) => CPU_MODES.reduce((a, mode) => a + t.seconds[mode], 0);

export function busyPercent(prev: CpuTimes | undefined, cur: CpuTimes): number {
  const sum = cpuSum;
  const idle = (t: CpuTimes) => t.seconds.idle + t.seconds.iowait;
  const dTotal = sum(cur) - (prev ? sum(prev) : 0);
  const dIdle = idle(cur) - (prev ? idle(prev) : 0);
  if (dTotal <= 0) return 0;
  return Math.min(100, Math.max(0, (100 * (dTotal - dIdle)) / dTotal));
}

const round = (x: number) => Math.round(x * 100) / 100;

export const hostCollector = {
  name: "host",
  metrics: hostMetrics,
  create: createHostCollector,
} as const satisfies CollectorModule<HostOptions>;
