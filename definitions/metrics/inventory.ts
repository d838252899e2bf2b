// The host's static inventory (the inventory collector), on node_exporter's names.
import { def, type MetricDef } from "./metric.ts";

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
