// Redis, from the exporter's redis_exporter-compatible collector.
import type { RuleGroup } from "../../../definitions/rules.ts";
import { selectors } from "../../../definitions/selectors.ts";
import { thresholds } from "../../../definitions/thresholds.ts";
import { num, percent, series } from "../../../lib/promql.ts";
import { redisMemoryUsedRatio } from "../../../lib/signals.ts";

const t = thresholds.redis;
const exp = selectors.exporter;

export const redisGroup: RuleGroup = {
  name: "redis",
  rules: [
    {
      alert: "RedisDown",
      expr: `${series("redis_up", exp)} == 0`,
      for: "1m",
      severity: "critical",
      summary: "Redis is down",
      description: `The exporter {{ $labels.instance }} cannot reach Redis: the scan queues and the cache are unavailable.`,
    },
    {
      alert: "RedisMemoryNearMax",
      // maxmemory 0 means unlimited: such instances have no ratio, so they never fire.
      expr: `${redisMemoryUsedRatio()} > ${num(t.memoryUsedRatio)}`,
      for: "5m",
      severity: "warning",
      summary: "Redis memory near its maximum",
      description: `Redis (exporter {{ $labels.instance }}) uses {{ $value | humanizePercentage }} of maxmemory (threshold ${percent(t.memoryUsedRatio)}); it will evict keys or refuse writes.`,
    },
    {
      alert: "RedisEvictingKeys",
      // No `for`: an evicted key may be a queued scan, lost already.
      expr: `increase(${series("redis_evicted_keys_total", exp)}[5m]) > 0`,
      severity: "warning",
      summary: "Redis is evicting keys",
      description: `Redis (exporter {{ $labels.instance }}) evicted {{ $value | humanize }} keys in the last 5 minutes because it reached maxmemory.`,
    },
    {
      alert: "RedisRejectedConnections",
      expr: `increase(${series("redis_rejected_connections_total", exp)}[5m]) > 0`,
      severity: "warning",
      summary: "Redis is rejecting connections",
      description: `Redis (exporter {{ $labels.instance }}) rejected {{ $value | humanize }} connections in the last 5 minutes (maxclients reached).`,
    },
  ],
};
