// The host's static inventory with node_exporter's names and label sets: node_os_info and node_os_version
// (its os collector), node_dmi_info (dmi), node_cpu_info (cpu, --collector.cpu.info). Read once, on the
// first collection, behind the same host-root prefix as the host collector (EXPORTER_HOST_ROOT), and
// published from memory after that: none of it changes before a reboot, except the OS after an upgrade,
// which is re-read when os-release's modification time changes (as node_exporter does).
//
// Why these are read from files and not through systeminformation (si.osInfo(), si.cpu(), si.system(),
// si.bios(), si.baseboard(), si.chassis()), although reading them once at start was the place the library
// looked likely to fit: see docs/decisions.md, "Host metrics without systeminformation", and for the
// figures docs/performance.md (bench/systeminformation.ts). In short, those calls start child processes (lscpu, dmidecode, cat,
// hostname, dmesg), several through execSync, which blocks the event loop; si reads fixed paths
// (/etc/os-release, /sys/devices/virtual/dmi/id), so under a host root it would report the container's OS;
// and it normalises the CPU's name, where node_cpu_info's model_name is /proc/cpuinfo's verbatim.
import { promises as fs } from "node:fs";
import { join } from "node:path";
import { Registry } from "prom-client";
import { inventoryMetrics } from "../../../definitions/metrics/inventory.ts";
import { createMetrics } from "../metrics.ts";
import type { Collector, CollectorModule } from "./types.ts";

export interface InventoryOptions {
  /** Where the host's / is mounted ("/" when not in a container). */
  readonly hostRoot: string;
}

/** os-release fields in node_os_info's label order (node_exporter's os collector). */
export const osReleaseLabels = {
  build_id: "BUILD_ID",
  id: "ID",
  id_like: "ID_LIKE",
  image_id: "IMAGE_ID",
  image_version: "IMAGE_VERSION",
  name: "NAME",
  pretty_name: "PRETTY_NAME",
  variant: "VARIANT",
  variant_id: "VARIANT_ID",
  version: "VERSION",
  version_codename: "VERSION_CODENAME",
  version_id: "VERSION_ID",
} as const;

/** /sys/class/dmi/id files, by node_dmi_info label (node_exporter's dmi collector). */
export const dmiFiles = {
  bios_date: "bios_date",
  bios_release: "bios_release",
  bios_vendor: "bios_vendor",
  bios_version: "bios_version",
  board_asset_tag: "board_asset_tag",
  board_name: "board_name",
  board_serial: "board_serial",
  board_vendor: "board_vendor",
  board_version: "board_version",
  chassis_asset_tag: "chassis_asset_tag",
  chassis_serial: "chassis_serial",
  chassis_vendor: "chassis_vendor",
  chassis_version: "chassis_version",
  product_family: "product_family",
  product_name: "product_name",
  product_serial: "product_serial",
  product_sku: "product_sku",
  product_uuid: "product_uuid",
  product_version: "product_version",
  system_vendor: "sys_vendor",
} as const;

/**
 * os-release (freedesktop.org's format: shell-like KEY=value lines, values optionally in double or
 * single quotes with backslash escapes in double quotes, # comments). A line that is none of these is
 * skipped, as systemd does.
 */
export function parseOsRelease(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) continue;
    let v = m[2]!;
    if (v.length >= 2 && v.startsWith('"') && v.endsWith('"'))
      v = v.slice(1, -1).replace(/\\([\\"$`])/g, "$1");
    else if (v.length >= 2 && v.startsWith("'") && v.endsWith("'")) v = v.slice(1, -1);
    out.set(m[1]!, v);
  }
  return out;
}

/** node_os_version's value: the major.minor part of VERSION_ID as a number, or undefined (node_exporter). */
export function osVersion(versionId: string): number | undefined {
  const m = /^[0-9]+\.?[0-9]*/.exec(versionId);
  const v = m ? Number(m[0]) : 0;
  return v > 0 ? v : undefined;
}

export interface CpuInfo {
  readonly package: string;
  readonly core: string;
  readonly cpu: string;
  readonly vendor: string;
  readonly family: string;
  readonly model: string;
  readonly model_name: string;
  readonly microcode: string;
  readonly stepping: string;
  readonly cachesize: string;
}

/** One CpuInfo per `processor` block of /proc/cpuinfo (x86's field names; other architectures leave some empty). */
export function parseCpuinfo(text: string): CpuInfo[] {
  const out: CpuInfo[] = [];
  for (const block of text.split(/\n\s*\n/)) {
    const f = new Map<string, string>();
    for (const line of block.split("\n")) {
      const colon = line.indexOf(":");
      if (colon < 0) continue;
      f.set(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
    }
    const processor = f.get("processor");
    if (processor === undefined || !/^\d+$/.test(processor)) continue;
    out.push({
      package: f.get("physical id") ?? "",
      core: f.get("core id") ?? "",
      cpu: processor,
      vendor: f.get("vendor_id") ?? "",
      family: f.get("cpu family") ?? "",
      model: f.get("model") ?? "",
      model_name: f.get("model name") ?? "",
      microcode: f.get("microcode") ?? "",
      stepping: f.get("stepping") ?? "",
      cachesize: f.get("cache size") ?? "",
    });
  }
  return out;
}

export interface Inventory {
  /** node_os_info's labels, or undefined when no os-release file is readable. */
  readonly os?: Record<keyof typeof osReleaseLabels, string>;
  readonly osVersion?: number;
  /** node_dmi_info's labels ("" for what the platform does not provide or root only may read). */
  readonly dmi?: Record<keyof typeof dmiFiles, string>;
  readonly cpus: readonly CpuInfo[];
}

const readOr = (path: string) => fs.readFile(path, "utf8").catch(() => undefined);

/** The os-release file node_exporter would read: /etc/os-release, else /usr/lib/os-release. */
export async function osReleasePath(hostRoot: string): Promise<string | undefined> {
  for (const p of ["etc/os-release", "usr/lib/os-release"]) {
    const path = join(hostRoot, p);
    if (
      await fs.stat(path).then(
        () => true,
        () => false,
      )
    )
      return path;
  }
  return undefined;
}

export async function readInventory(hostRoot: string): Promise<Inventory> {
  const osPath = await osReleasePath(hostRoot);
  const dmiDir = join(hostRoot, "sys", "class", "dmi", "id");
  const [osText, cpuinfo, ...dmiValues] = await Promise.all([
    osPath ? readOr(osPath) : undefined,
    readOr(join(hostRoot, "proc", "cpuinfo")),
    // Serial numbers and the UUID are readable by root only (mode 0400): absent otherwise, as in
    // node_exporter. Values are trimmed of the trailing newline, and a lone space means "not set".
    ...Object.values(dmiFiles).map((f) => readOr(join(dmiDir, f))),
  ]);
  const dmiEntries = Object.keys(dmiFiles).map((k, i) => [k, dmiValues[i]?.trim() ?? ""] as const);
  const os = osText === undefined ? undefined : parseOsRelease(osText);
  return {
    ...(os
      ? {
          os: Object.fromEntries(
            Object.entries(osReleaseLabels).map(([label, key]) => [label, os.get(key) ?? ""]),
          ) as Record<keyof typeof osReleaseLabels, string>,
        }
      : {}),
    ...(os && osVersion(os.get("VERSION_ID") ?? "") !== undefined
      ? { osVersion: osVersion(os.get("VERSION_ID") ?? "")! }
      : {}),
    ...(dmiEntries.some(([, v]) => v !== "")
      ? { dmi: Object.fromEntries(dmiEntries) as Record<keyof typeof dmiFiles, string> }
      : {}),
    cpus: cpuinfo === undefined ? [] : parseCpuinfo(cpuinfo),
  };
}

function createInventoryCollector(options: InventoryOptions): Collector {
  const registry = new Registry();
  const m = createMetrics(inventoryMetrics, registry);
  let inventory: Inventory | undefined;
  let osMtime: number | undefined;

  const write = (inv: Inventory) => {
    for (const metric of Object.values(m)) metric.reset();
    if (inv.os) {
      m.node_os_info.set(inv.os, 1);
      if (inv.osVersion !== undefined)
        m.node_os_version.set({ id: inv.os.id, id_like: inv.os.id_like, name: inv.os.name }, inv.osVersion);
    }
    if (inv.dmi) m.node_dmi_info.set(inv.dmi, 1);
    for (const c of inv.cpus) m.node_cpu_info.set({ ...c }, 1);
  };

  return {
    name: "inventory",
    registry,
    async collect(ctx) {
      // One stat() a collection: an OS upgrade changes os-release, and the labels follow.
      const path = await osReleasePath(options.hostRoot);
      const mtime = path ? (await fs.stat(path)).mtimeMs : undefined;
      if (inventory && mtime === osMtime) return;
      const next = await readInventory(options.hostRoot);
      if (ctx.signal.aborted) return;
      inventory = next;
      osMtime = mtime;
      write(next);
    },
    markFailed() {
      for (const metric of Object.values(m)) metric.reset();
      inventory = undefined;
    },
  };
}

export const inventoryCollector = {
  name: "inventory",
  metrics: inventoryMetrics,
  create: createInventoryCollector,
} as const satisfies CollectorModule<InventoryOptions>;
