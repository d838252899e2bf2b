// Redis metrics (the redis collector), on redis_exporter's names.
import { def, type MetricDef } from "./metric.ts";

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
  // The name a community dashboard (definitions/generated/compat-dashboards.ts) queries: the same INFO
  // field, one series more per Redis server.
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
