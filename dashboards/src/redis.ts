// Redis on redis_exporter's metric names (published by the exporter's redis collector): availability,
// memory, clients, commands, keyspace hits, evictions and keys.
import { BigValueTextMode } from "@grafana/grafana-foundation-sdk/common";
import { DashboardBuilder } from "@grafana/grafana-foundation-sdk/dashboard";
import { selectors } from "../../definitions/selectors.ts";
import { thresholds } from "../../definitions/thresholds.ts";
import { series } from "../../lib/promql.ts";
import { redisMemoryUsedRatio } from "../../lib/signals.ts";
import { above, prom, rate, row, stat, timeseries, upDownMapping, type DashboardModule } from "./common.ts";

const exp = selectors.exporter;

export const upStat = () =>
  stat({
    title: "Redis",
    alerts: ["RedisDown"],
    description: "Whether the exporter could reach Redis on its last scrape (redis_up).",
    unit: "none",
    queries: [prom(`min(${series("redis_up", exp)})`, "Redis")],
    mappings: upDownMapping,
    thresholds: { base: "red", steps: [["green", 1]] },
  });

const version = () =>
  stat({
    title: "Version",
    description: "Redis server version and role (redis_instance_info).",
    unit: "none",
    queries: [prom(series("redis_instance_info", exp), "{{redis_version}} {{role}}")],
    // "name" shows the legend (the version) rather than the constant value 1.
  }).textMode(BigValueTextMode.Name);

const memoryStat = () =>
  stat({
    title: "Memory used of maxmemory",
    alerts: ["RedisMemoryNearMax"],
    description:
      "Memory used as a share of maxmemory (empty when no maxmemory is set). Red from the alerting level.",
    unit: "percentunit",
    decimals: 1,
    queries: [prom(redisMemoryUsedRatio(), "used")],
    thresholds: above(thresholds.redis.memoryUsedRatio),
  });

const hits = () => `sum(${rate(series("redis_keyspace_hits_total", exp))})`;
const misses = () => `sum(${rate(series("redis_keyspace_misses_total", exp))})`;

const hitRatioStat = () =>
  stat({
    title: "Keyspace hit ratio",
    description: "Share of key lookups that found the key.",
    unit: "percentunit",
    decimals: 1,
    queries: [prom(`${hits()} / (${hits()} + ${misses()})`, "hit ratio")],
  });

const clientsStat = () =>
  stat({
    title: "Clients",
    description: "Connected clients.",
    unit: "short",
    queries: [prom(series("redis_connected_clients", exp), "clients")],
  });

const uptime = () =>
  stat({
    title: "Uptime",
    description: "Time since the Redis server started.",
    unit: "dtdurations",
    queries: [prom(series("redis_uptime_in_seconds", exp), "uptime")],
  });

const memory = () =>
  timeseries({
    title: "Memory",
    description: "Memory used by Redis and the configured maxmemory (0 when unlimited).",
    unit: "bytes",
    min: 0,
    queries: [
      prom(series("redis_memory_used_bytes", exp), "used"),
      prom(series("redis_memory_max_bytes", exp), "maxmemory"),
    ],
  });

const clients = () =>
  timeseries({
    title: "Clients over time",
    alerts: ["RedisRejectedConnections"],
    description: "Connected and blocked clients, and connections rejected per second (maxclients reached).",
    unit: "short",
    min: 0,
    queries: [
      prom(series("redis_connected_clients", exp), "connected"),
      prom(series("redis_blocked_clients", exp), "blocked"),
      prom(rate(series("redis_rejected_connections_total", exp)), "rejected/s"),
    ],
  });

const commands = () =>
  timeseries({
    title: "Commands and connections",
    description: "Commands processed and connections received per second.",
    unit: "ops",
    queries: [
      prom(rate(series("redis_commands_processed_total", exp)), "commands"),
      prom(rate(series("redis_connections_received_total", exp)), "connections"),
    ],
  });

const keyspace = () =>
  timeseries({
    title: "Keyspace hits and misses",
    description: "Key lookups per second that found (hits) or missed (misses) the key.",
    unit: "ops",
    queries: [prom(hits(), "hits"), prom(misses(), "misses")],
  });

const evictions = () =>
  timeseries({
    title: "Evicted and expired keys",
    alerts: ["RedisEvictingKeys"],
    description:
      "Keys evicted for memory (non-zero means maxmemory is reached) and keys expired, per second.",
    unit: "ops",
    queries: [
      prom(rate(series("redis_evicted_keys_total", exp)), "evicted"),
      prom(rate(series("redis_expired_keys_total", exp)), "expired"),
    ],
  });

const keys = () =>
  timeseries({
    title: "Keys by database",
    description: "Keys, and keys with an expiry, by database.",
    unit: "short",
    queries: [
      prom(`sum by (db) (${series("redis_db_keys", exp)})`, "{{db}}"),
      prom(`sum by (db) (${series("redis_db_keys_expiring", exp)})`, "{{db}} expiring"),
    ],
  });

const ping = () =>
  timeseries({
    title: "Ping",
    description: "Round-trip time of the exporter's PING to Redis on each scrape.",
    unit: "s",
    queries: [prom(series("redis_exporter_ping_duration_seconds", exp), "ping")],
  });

export const dashboard: DashboardModule = {
  name: "redis",
  title: "Kali Agents / Redis",
  description: "Redis availability, memory, clients, commands, keyspace and keys.",
  folder: "infrastructure",
  tags: ["redis"],
  build: () =>
    new DashboardBuilder("Kali Agents / Redis")
      .withRow(row("Now"))
      .withPanel(upStat())
      .withPanel(version())
      .withPanel(memoryStat())
      .withPanel(hitRatioStat())
      .withPanel(clientsStat())
      .withPanel(uptime())
      .withRow(row("Memory and clients"))
      .withPanel(memory())
      .withPanel(clients())
      .withRow(row("Commands and keys"))
      .withPanel(commands())
      .withPanel(keyspace())
      .withPanel(evictions())
      .withPanel(keys())
      .withPanel(ping().span(24)),
};
