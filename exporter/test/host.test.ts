// The host collector against a host root built in a temporary folder (EXPORTER_HOST_ROOT's use in a
// container): exact figures from known /proc contents, the exclusions, a mount that fails, and the
// /health checks it contributes. server.test.ts scrapes it against this machine's real /proc.
import assert from "node:assert/strict";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, describe, test } from "node:test";
import { hostCollector, parseMounts, parseProcStat } from "../src/collectors/host.ts";
import type { Collector } from "../src/collectors/types.ts";
import { createLogger } from "../../lib/log.ts";
import { parseExposition, sample, samples } from "../../test/support/exposition.ts";
import { tempDir } from "../../test/support/servers.ts";

const stat = `cpu  300 10 200 1000 50 5 15 2 7 0
cpu0 100 10 100 500 25 5 10 1 7 0
cpu1 200 0 100 500 25 0 5 1 0 0
intr 1 2 3
ctxt 123
btime 1700000000
processes 42
`;
const meminfo = `MemTotal:        8000000 kB
MemFree:         1000000 kB
MemAvailable:    6000000 kB
Buffers:          100000 kB
Cached:          2000000 kB
SwapCached:            0 kB
SwapTotal:       1000000 kB
SwapFree:         500000 kB
HugePages_Total:       0
`;
const netdev = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:   1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0
  eth0: 123456     100    0    0    0     0          0         0    65432      50    0    0    0     0       0          0
`;
const mounts = `proc /proc proc rw,nosuid 0 0
sysfs /sys sysfs rw 0 0
cgroup2 /sys/fs/cgroup cgroup2 rw 0 0
overlay /var/lib/docker/overlay2/abc/merged overlay rw 0 0
overlay / overlay rw 0 0
/dev/sda1 / ext4 rw,relatime 0 0
/dev/sdb1 /data xfs rw 0 0
tmpfs /run tmpfs rw 0 0
/dev/sdc1 /with\\040space ext4 rw 0 0
server:/export /gone nfs4 rw 0 0
devpts /dev/pts devpts rw 0 0
/dev/sdb1 /data xfs rw 0 0
`;

function hostRoot(files: Record<string, string>, dirs: string[]): string {
  const root = tempDir("host-root");
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  for (const d of dirs) mkdirSync(join(root, d), { recursive: true });
  return root;
}

const goodFiles = {
  "proc/stat": stat,
  "proc/loadavg": "0.50 0.75 1.25 2/300 12345\n",
  "proc/meminfo": meminfo,
  "proc/net/dev": netdev,
  "proc/1/mounts": mounts,
  "proc/sys/kernel/osrelease": "6.1.0-test\n",
  "proc/sys/kernel/version": "#1 SMP Debian 6.1.0\n",
  "proc/sys/kernel/hostname": "kali-host\n",
  "proc/sys/kernel/domainname": "(none)\n",
};

const options = (root: string, over: Partial<Parameters<typeof hostCollector.create>[0]> = {}) => ({
  hostRoot: root,
  statfsTimeoutMs: 2000,
  diskWarnPercent: 90,
  memoryWarnPercent: 90,
  cpuWarnPercent: 80,
  ...over,
});

async function collect(c: Collector) {
  const lines: string[] = [];
  const log = createLogger({ write: (l) => lines.push(l) });
  await c.collect({ signal: new AbortController().signal, deadline: Date.now() + 5000, log });
  return { families: parseExposition(await c.registry.metrics()), lines };
}

describe("host collector under a host root", () => {
  const root = hostRoot(goodFiles, ["data", "with space"]);
  after(() => rmSync(root, { recursive: true, force: true }));
  const log = createLogger({ write: () => {} });

  test("every figure, with node_exporter's names and labels", async () => {
    const c = hostCollector.create(options(root), log);
    const { families: f, lines } = await collect(c);
    assert.equal(sample(f, "node_cpu_seconds_total", { cpu: "0", mode: "user" }), 1);
    assert.equal(sample(f, "node_cpu_seconds_total", { cpu: "0", mode: "idle" }), 5);
    assert.equal(sample(f, "node_cpu_seconds_total", { cpu: "1", mode: "system" }), 1);
    assert.equal(sample(f, "node_cpu_seconds_total", { cpu: "0", mode: "steal" }), 0.01);
    assert.equal(samples(f, "node_cpu_seconds_total").length, 16, "2 CPUs x 8 modes, no aggregate line");
    assert.equal(sample(f, "node_load1"), 0.5);
    assert.equal(sample(f, "node_load5"), 0.75);
    assert.equal(sample(f, "node_load15"), 1.25);
    assert.equal(sample(f, "node_memory_MemTotal_bytes"), 8000000 * 1024);
    assert.equal(sample(f, "node_memory_MemAvailable_bytes"), 6000000 * 1024);
    assert.equal(sample(f, "node_memory_MemFree_bytes"), 1000000 * 1024);
    assert.equal(sample(f, "node_memory_Buffers_bytes"), 100000 * 1024);
    assert.equal(sample(f, "node_memory_Cached_bytes"), 2000000 * 1024);
    assert.equal(sample(f, "node_memory_SwapTotal_bytes"), 1000000 * 1024);
    assert.equal(sample(f, "node_memory_SwapFree_bytes"), 500000 * 1024);
    assert.equal(sample(f, "node_network_receive_bytes_total", { device: "eth0" }), 123456);
    assert.equal(sample(f, "node_network_transmit_bytes_total", { device: "eth0" }), 65432);
    assert.equal(sample(f, "node_network_receive_bytes_total", { device: "lo" }), 1000);
    assert.equal(sample(f, "node_boot_time_seconds"), 1700000000);
    assert.deepEqual(samples(f, "node_uname_info")[0]?.labels, {
      sysname: "Linux",
      release: "6.1.0-test",
      version: "#1 SMP Debian 6.1.0",
      machine: process.arch === "x64" ? "x86_64" : samples(f, "node_uname_info")[0]?.labels.machine,
      nodename: "kali-host",
      domainname: "(none)",
    });

    // Filesystems: pseudo and overlay ones and /proc, /sys, /dev, docker's layers are left out;
    // tmpfs is kept, as node_exporter keeps it; the duplicate /data line gives one series.
    const fsLabels = samples(f, "node_filesystem_device_error").map((s) => s.labels);
    assert.deepEqual(fsLabels.map((l) => `${l.device} ${l.mountpoint} ${l.fstype}`).sort(), [
      "/dev/sda1 / ext4",
      "/dev/sdb1 /data xfs",
      "/dev/sdc1 /with space ext4",
      "server:/export /gone nfs4",
      "tmpfs /run tmpfs",
    ]);
    // Under the temporary root, /, /data and /with space exist (statfs answers); /run and /gone do not.
    for (const mp of ["/", "/data", "/with space"]) {
      assert.equal(sample(f, "node_filesystem_device_error", { mountpoint: mp }), 0, mp);
      const size = sample(f, "node_filesystem_size_bytes", { mountpoint: mp })!;
      const free = sample(f, "node_filesystem_free_bytes", { mountpoint: mp })!;
      const avail = sample(f, "node_filesystem_avail_bytes", { mountpoint: mp })!;
      assert.ok(size > 0 && free <= size && avail <= free, `${mp}: ${size} ${free} ${avail}`);
    }
    assert.equal(sample(f, "node_filesystem_device_error", { mountpoint: "/gone" }), 1);
    assert.equal(sample(f, "node_filesystem_size_bytes", { mountpoint: "/gone" }), undefined);
    const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(logged.some((l) => l.msg === "filesystem statistics unavailable" && l.mountpoint === "/gone"));
  });

  test("the health checks it contributes, and the thresholds from the options", async () => {
    const c = hostCollector.create(options(root, { memoryWarnPercent: 20 }), log);
    await collect(c);
    const checks = c.health!();
    // MemTotal 8000000 kB, MemAvailable 6000000 kB: 25% used, above the 20% threshold.
    assert.deepEqual(checks.memory, { status: "warning", used_percent: 25, available_gb: 5.72 });
    assert.equal(checks.disk?.status, "ok");
    assert.equal(typeof checks.disk?.used_percent, "number");
    // The first reading is measured since boot: busy = 1 - (idle + iowait) / total = 1 - 10.5 / 15.82 (guest time is already in user).
    assert.equal(checks.cpu?.usage_percent, 33.63);
    assert.deepEqual(checks.cpu?.load_average, [0.5, 0.75, 1.25]);
  });

  test("the CPU busy figure comes from the delta between collections", async () => {
    const r = hostRoot(goodFiles, []);
    after(() => rmSync(r, { recursive: true, force: true }));
    const c = hostCollector.create(options(r, { cpuWarnPercent: 50 }), log);
    await collect(c);
    // Two CPUs, 4 s of wall time later: 8 CPU-seconds, of which 6 busy (user) and 2 idle.
    writeFileSync(
      join(r, "proc/stat"),
      stat.replace("cpu  300 10 200 1000 50", "cpu  900 10 200 1200 50").replace("cpu0 100", "cpu0 400"),
    );
    await collect(c);
    assert.deepEqual(c.health!().cpu, {
      status: "warning",
      usage_percent: 75,
      load_average: [0.5, 0.75, 1.25],
    });
  });

  test("a host root without /proc fails the collector, and markFailed() clears the figures", async () => {
    const empty = tempDir("host-empty");
    after(() => rmSync(empty, { recursive: true, force: true }));
    const c = hostCollector.create(options(root), log);
    await collect(c);
    const broken = hostCollector.create(options(empty), log);
    await assert.rejects(collect(broken), /ENOENT/);
    broken.markFailed!();
    assert.equal(
      samples(parseExposition(await broken.registry.metrics()), "node_cpu_seconds_total").length,
      0,
    );
    // Nothing at all: prom-client would show an unlabelled metric (node_load1, node_nf_conntrack_entries)
    // as 0 after a reset, which reads as a real figure.
    const left = [...parseExposition(await broken.registry.metrics()).values()].flatMap((f) => f.samples);
    assert.deepEqual(
      left.map((x) => x.name),
      [],
    );
    assert.deepEqual(broken.health!(), {});
  });
});

describe("parsers", () => {
  test("/proc/stat ticks are USER_HZ (1/100 s)", () => {
    const p = parseProcStat(stat);
    assert.equal(p.cpus.length, 2);
    assert.equal(p.total?.seconds.user, 3);
    assert.equal(p.bootTime, 1700000000);
  });
  test("mount points with octal escapes", () => {
    assert.deepEqual(parseMounts("/dev/x /a\\040b\\011c ext4 rw 0 0\n"), [
      { device: "/dev/x", mountpoint: "/a b\tc", fstype: "ext4" },
    ]);
  });
});

describe("a mount whose statfs() never answers (a dead NFS server)", () => {
  test("is skipped after the per-mount timeout with device_error 1, and not asked again while stuck", async () => {
    const root = hostRoot(
      { ...goodFiles, "proc/1/mounts": "/dev/sda1 / ext4 rw 0 0\nnfs:/x /nfs nfs4 rw 0 0\n" },
      [],
    );
    after(() => rmSync(root, { recursive: true, force: true }));
    const calls: string[] = [];
    let answer!: () => void;
    const stuck = new Promise<void>((r) => (answer = r));
    const statfs = async (path: string) => {
      calls.push(path);
      if (path.endsWith("/nfs")) await stuck;
      return { blocks: 100, bfree: 50, bavail: 40, bsize: 4096 };
    };
    const c = hostCollector.create(
      options(root, { statfsTimeoutMs: 1000, statfs }),
      createLogger({ write: () => {} }),
    );
    const t0 = performance.now();
    const { families: f, lines } = await collect(c);
    const ms = performance.now() - t0;
    assert.ok(ms >= 990 && ms < 5000, `the collection took ${ms} ms`);
    assert.equal(sample(f, "node_filesystem_device_error", { mountpoint: "/nfs" }), 1);
    assert.equal(sample(f, "node_filesystem_size_bytes", { mountpoint: "/nfs" }), undefined);
    assert.equal(sample(f, "node_filesystem_device_error", { mountpoint: "/" }), 0);
    assert.equal(sample(f, "node_filesystem_size_bytes", { mountpoint: "/" }), 409600);
    assert.match(lines.join("\n"), /statfs timed out after 1000 ms/);

    // The next collection does not call statfs() on the stuck mount again (each stuck call holds one of
    // libuv's four threads), and answers at once.
    const t1 = performance.now();
    const second = await collect(c);
    assert.ok(performance.now() - t1 < 900, "the stuck mount was waited for again");
    assert.equal(calls.filter((p) => p.endsWith("/nfs")).length, 1);
    assert.equal(sample(second.families, "node_filesystem_device_error", { mountpoint: "/nfs" }), 1);
    assert.match(second.lines.join("\n"), /statfs still running from an earlier collection/);

    // The same reason on the next scrapes is not logged again (a line every 5 minutes at most).
    const again = await collect(c);
    assert.equal(sample(again.families, "node_filesystem_device_error", { mountpoint: "/nfs" }), 1);
    assert.deepEqual(again.lines, [], "a stuck mount logged again on the next scrape");

    // Once the server answers, the mount is measured again, and one line says so.
    answer();
    await new Promise((r) => setImmediate(r));
    const third = await collect(c);
    assert.equal(sample(third.families, "node_filesystem_device_error", { mountpoint: "/nfs" }), 0);
    assert.equal(sample(third.families, "node_filesystem_avail_bytes", { mountpoint: "/nfs" }), 163840);
    const recovered = third.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(
      recovered.map((l) => [l.level, l.msg, l.mountpoint, l.failures]),
      [["info", "filesystem statistics available again", "/nfs", 3]],
    );
  });
});
