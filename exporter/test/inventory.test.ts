// The host inventory (node_os_info, node_os_version, node_dmi_info, node_cpu_info): its parsers on real
// file shapes, the collector under a host root built in a temporary folder, and the real exporter
// (main.ts as a process) on this machine, cross-checked against systeminformation, an implementation
// that reads the same facts its own way (lscpu, cat /etc/*-release).
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join } from "node:path";
import { describe, test } from "node:test";
import si from "systeminformation";
import { inventoryMetrics } from "../../definitions/metrics/inventory.ts";
import { family, samples, scrape } from "../../test/support/exposition.ts";
import { freePort, tempDir, waitFor } from "../../test/support/servers.ts";
import { startNode } from "../../test/e2e/node-process.ts";
import {
  inventoryCollector,
  osVersion,
  parseCpuinfo,
  parseOsRelease,
  readInventory,
} from "../src/collectors/inventory.ts";
import { captureLog, collectOnce } from "./collector-support.ts";

const debianRelease = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
`;

const x86cpuinfo = `processor\t: 0
vendor_id\t: GenuineIntel
cpu family\t: 6
model\t\t: 85
model name\t: Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz
stepping\t: 7
microcode\t: 0x5003604
cache size\t: 28160 KB
physical id\t: 0
core id\t\t: 0
flags\t\t: fpu vme de pse

processor\t: 1
vendor_id\t: GenuineIntel
cpu family\t: 6
model\t\t: 85
model name\t: Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz
stepping\t: 7
microcode\t: 0x5003604
cache size\t: 28160 KB
physical id\t: 1
core id\t\t: 4
flags\t\t: fpu vme de pse
`;

/**
 * The labels with a value: prom-client writes a label without one as `name=""`, which Prometheus stores
 * as no label at all, the series node_exporter gives by leaving the label out.
 */
const given = (labels: Record<string, string> | undefined) =>
  Object.fromEntries(Object.entries(labels ?? {}).filter(([, v]) => v !== ""));

function hostRoot(files: Record<string, string>): string {
  const root = tempDir("inventory-root");
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  return root;
}

describe("inventory parsers", () => {
  const osCases: { name: string; text: string; want: Record<string, string> }[] = [
    { name: "Debian's file", text: debianRelease, want: { ID: "debian", VERSION_CODENAME: "bookworm" } },
    {
      name: "single quotes, escapes in double quotes, comments, blank and broken lines",
      text: `# comment\n\nNAME='Alpine Linux'\nPRETTY_NAME="say \\"hi\\" \\$HOME"\nnot a line\nID_LIKE="rhel fedora"\n  VARIANT_ID=server  \n`,
      want: {
        NAME: "Alpine Linux",
        PRETTY_NAME: 'say "hi" $HOME',
        ID_LIKE: "rhel fedora",
        VARIANT_ID: "server",
      },
    },
  ];
  for (const c of osCases)
    test(`os-release: ${c.name}`, () => {
      const got = parseOsRelease(c.text);
      for (const [k, v] of Object.entries(c.want)) assert.equal(got.get(k), v, k);
      assert.ok(![...got.keys()].some((k) => k.includes(" ")), "no key from a broken line");
    });

  test("node_os_version: the major.minor part of VERSION_ID, none when it is not a number", () => {
    const cases: [string, number | undefined][] = [
      ["12", 12],
      ["22.04", 22.04],
      ["3.19.1", 3.19],
      ["rolling", undefined],
      ["", undefined],
      ["0", undefined],
    ];
    for (const [id, want] of cases) assert.equal(osVersion(id), want, id);
  });

  test("cpuinfo: one entry per processor with node_cpu_info's fields; arm's shape leaves them empty", () => {
    const cpus = parseCpuinfo(x86cpuinfo);
    assert.deepEqual(cpus[1], {
      package: "1",
      core: "4",
      cpu: "1",
      vendor: "GenuineIntel",
      family: "6",
      model: "85",
      model_name: "Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz",
      microcode: "0x5003604",
      stepping: "7",
      cachesize: "28160 KB",
    });
    const arm = parseCpuinfo(
      "processor\t: 0\nBogoMIPS\t: 50.00\nCPU implementer\t: 0x41\n\nprocessor\t: 1\nBogoMIPS\t: 50.00\n\nHardware\t: BCM2835\n",
    );
    assert.deepEqual(
      arm.map((c) => [c.cpu, c.model_name, c.vendor]),
      [
        ["0", "", ""],
        ["1", "", ""],
      ],
    );
  });
});

describe("inventory collector under a host root", () => {
  test("node_exporter's families and labels from the root's files, not this machine's", async () => {
    const root = hostRoot({
      "etc/os-release": debianRelease,
      "proc/cpuinfo": x86cpuinfo,
      "sys/class/dmi/id/sys_vendor": "QEMU\n",
      "sys/class/dmi/id/product_name": "Standard PC (Q35 + ICH9, 2009)\n",
      "sys/class/dmi/id/bios_version": "1.16.2-debian-1.16.2-1\n",
    });
    const { log } = captureLog();
    const c = inventoryCollector.create({ hostRoot: root });
    const r = await collectOnce(c, log);
    assert.ok(r.ok, r.error?.message);
    const [info] = samples(r.families, "node_os_info");
    assert.deepEqual(Object.keys(info?.labels ?? {}), [...inventoryMetrics[0].labels]);
    assert.deepEqual(given(info?.labels), {
      id: "debian",
      name: "Debian GNU/Linux",
      pretty_name: "Debian GNU/Linux 12 (bookworm)",
      version: "12 (bookworm)",
      version_codename: "bookworm",
      version_id: "12",
    });
    assert.deepEqual(
      samples(r.families, "node_os_version").map((s) => [given(s.labels), s.value]),
      [[{ id: "debian", name: "Debian GNU/Linux" }, 12]],
    );
    assert.deepEqual(given(samples(r.families, "node_dmi_info")[0]?.labels), {
      bios_version: "1.16.2-debian-1.16.2-1",
      product_name: "Standard PC (Q35 + ICH9, 2009)",
      system_vendor: "QEMU",
    });
    assert.deepEqual(
      samples(r.families, "node_cpu_info").map((s) => [s.labels.cpu, s.labels.package, s.labels.core]),
      [
        ["0", "0", "0"],
        ["1", "1", "4"],
      ],
    );
  });

  test("/usr/lib/os-release when /etc has none; no DMI and no cpuinfo leave those families empty", async () => {
    const root = hostRoot({ "usr/lib/os-release": 'ID=alpine\nNAME="Alpine Linux"\nVERSION_ID=3.19.1\n' });
    const inv = await readInventory(root);
    assert.equal(inv.os?.id, "alpine");
    assert.equal(inv.osVersion, 3.19);
    assert.equal(inv.dmi, undefined);
    assert.deepEqual(inv.cpus, []);
    const { log } = captureLog();
    const r = await collectOnce(inventoryCollector.create({ hostRoot: root }), log);
    assert.ok(r.ok);
    assert.equal(samples(r.families, "node_dmi_info").length, 0);
    assert.equal(samples(r.families, "node_cpu_info").length, 0);
  });

  test("read once: an OS upgrade (os-release rewritten) is picked up, other files are not re-read", async () => {
    const root = hostRoot({ "etc/os-release": debianRelease, "proc/cpuinfo": x86cpuinfo });
    const { log } = captureLog();
    const c = inventoryCollector.create({ hostRoot: root });
    await collectOnce(c, log);
    // cpuinfo changes without os-release changing: the kept inventory stands.
    writeFileSync(join(root, "proc/cpuinfo"), "");
    let r = await collectOnce(c, log);
    assert.equal(samples(r.families, "node_cpu_info").length, 2);
    writeFileSync(
      join(root, "etc/os-release"),
      debianRelease.replace(/12/g, "13").replace(/bookworm/g, "trixie"),
    );
    const later = new Date(Date.now() + 5000);
    utimesSync(join(root, "etc/os-release"), later, later);
    r = await collectOnce(c, log);
    assert.equal(samples(r.families, "node_os_info")[0]?.labels.version_codename, "trixie");
    assert.equal(samples(r.families, "node_os_version")[0]?.value, 13);
    assert.equal(samples(r.families, "node_cpu_info").length, 0, "re-read with the OS");
  });
});

describe("the real exporter on this machine", () => {
  test("publishes the inventory of / with node_exporter's labels, agreeing with systeminformation", async () => {
    const port = await freePort();
    const exporter = startNode("exporter", "exporter/src/main.ts", {
      EXPORTER_LISTEN_ADDRESS: `127.0.0.1:${port}`,
      EXPORTER_HOST_ROOT: "/",
    });
    try {
      const url = `http://127.0.0.1:${port}/metrics`;
      await waitFor(
        "the exporter",
        async () => {
          if (exporter.exited()) throw new Error(`the exporter exited:\n${exporter.output()}`);
          return (await scrape(url).catch(() => undefined))?.status === 200;
        },
        30_000,
        200,
      );
      const s = await scrape(url);
      for (const def of inventoryMetrics.filter(
        (d) => d.name !== "node_dmi_info" || existsSync("/sys/class/dmi/id"),
      )) {
        const fam = family(s.families, def.name);
        assert.ok(fam, `${def.name} published`);
        assert.equal(fam.help, def.help);
        assert.equal(fam.type, def.type);
        for (const smp of fam.samples)
          for (const l of Object.keys(smp.labels))
            assert.ok(def.labels.includes(l), `${def.name}: label ${l}`);
      }
      assert.equal(
        samples(s.families, "kali_agents_exporter_collector_success", { collector: "inventory" })[0]?.value,
        1,
      );

      // This machine's own facts, read independently.
      const release = parseOsRelease(
        readFileSync(existsSync("/etc/os-release") ? "/etc/os-release" : "/usr/lib/os-release", "utf8"),
      );
      const [osInfo] = samples(s.families, "node_os_info");
      assert.equal(osInfo?.labels.id, release.get("ID"));
      assert.equal(osInfo?.labels.pretty_name ?? "", release.get("PRETTY_NAME") ?? "");
      const cpus = samples(s.families, "node_cpu_info");
      assert.equal(cpus.length, os.cpus().length, "one node_cpu_info per logical CPU");
      // /proc/cpuinfo's x86 fields; other architectures name them otherwise (node_exporter leaves them empty too).
      if (os.arch() === "x64" || os.arch() === "ia32") {
        assert.deepEqual(
          cpus.map((c) => c.labels.model_name ?? "").sort(),
          os
            .cpus()
            .map((c) => c.model.trim())
            .sort(),
          "model_name is the kernel's name verbatim",
        );
        const [siOs, siCpu] = await Promise.all([si.osInfo(), si.cpu()]);
        assert.equal(siOs.codename, osInfo?.labels.version_codename ?? "");
        assert.equal(siCpu.family, cpus[0]?.labels.family);
        assert.equal(siCpu.model, cpus[0]?.labels.model);
        assert.equal(siCpu.stepping, cpus[0]?.labels.stepping);
        assert.equal(siCpu.cores, cpus.length);
      }
    } finally {
      await exporter.stop();
    }
  });
});
