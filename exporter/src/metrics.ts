// Builds prom-client metrics from the catalogue (definitions/metrics/), so that a metric's name,
// type, help, labels and buckets are written once. Every collector creates its metrics here:
//
//   const m = createMetrics(postgresMetrics, registry);
//   m.pg_up.set(1);
//   m.pg_stat_database_xact_commit.set({ datid: "1", datname: "app" }, 42);
//
// Counters are `CumulativeCounter`s: besides inc() they have set(), because most of our counters mirror
// a cumulative value kept upstream (node_cpu_seconds_total from /proc/stat, pg_stat_database_* from
// PostgreSQL, redis_*_total from INFO) and must be exposed with TYPE counter, as node_exporter and
// postgres_exporter do; prom-client's Counter has no set() (it can only add), so it cannot do that.
import { Gauge, Histogram, type Registry } from "prom-client";
import type { MetricDef } from "../../definitions/metrics/metric.ts";

type Labels = Record<string, string | number>;

interface MetricValue {
  labels: Labels;
  value: number;
}

/**
 * A counter whose value can also be set: prom-client's metric interface (`name`, `help`, `type`,
 * `get()`, `reset()`) with TYPE counter, holding one value per label set.
 */
export class CumulativeCounter {
  readonly name: string;
  readonly help: string;
  readonly type = "counter" as const;
  readonly labelNames: readonly string[];
  readonly aggregator = "sum" as const;
  private readonly values = new Map<string, MetricValue>();

  constructor(def: { name: string; help: string; labels: readonly string[] }, registry?: Registry) {
    this.name = def.name;
    this.help = def.help;
    this.labelNames = def.labels;
    // An unlabelled counter starts at 0, as prom-client's Counter does.
    if (this.labelNames.length === 0) this.values.set("", { labels: {}, value: 0 });
    // registerMetric's declared parameter type is prom-client's Metric class; the registry only uses
    // name, get() and reset() (lib/registry.js), which this class provides.
    registry?.registerMetric(this as unknown as Parameters<Registry["registerMetric"]>[0]);
  }

  private key(labels: Labels): string {
    const names = Object.keys(labels);
    if (names.length !== this.labelNames.length || !this.labelNames.every((n) => n in labels))
      throw new Error(
        `${this.name}: labels ${JSON.stringify(names)} differ from the catalogue's ${JSON.stringify(this.labelNames)}`,
      );
    return this.labelNames.map((n) => String(labels[n])).join("\u0000");
  }

  set(value: number): void;
  set(labels: Labels, value: number): void;
  set(a: number | Labels, b?: number): void {
    const [labels, value] = typeof a === "number" ? [{}, a] : [a, b ?? 0];
    if (!Number.isFinite(value) && !Number.isNaN(value))
      throw new Error(`${this.name}: counter value ${value} is not finite`);
    this.values.set(this.key(labels), { labels: { ...labels }, value });
  }

  inc(value?: number): void;
  inc(labels: Labels, value?: number): void;
  inc(a?: number | Labels, b?: number): void {
    const [labels, by] = typeof a === "object" ? [a, b ?? 1] : [{}, a ?? 1];
    if (by < 0) throw new Error(`${this.name}: a counter cannot decrease (inc by ${by})`);
    const key = this.key(labels);
    const prev = this.values.get(key)?.value ?? 0;
    this.values.set(key, { labels: { ...labels }, value: prev + by });
  }

  /** The current value for a label set (undefined when it has none). */
  value(labels: Labels = {}): number | undefined {
    return this.values.get(this.key(labels))?.value;
  }

  remove(labels: Labels): void {
    this.values.delete(this.key(labels));
  }

  reset(): void {
    this.values.clear();
    if (this.labelNames.length === 0) this.values.set("", { labels: {}, value: 0 });
  }

  get(): { name: string; help: string; type: "counter"; values: MetricValue[]; aggregator: "sum" } {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      values: [...this.values.values()].map((v) => ({ labels: { ...v.labels }, value: v.value })),
      aggregator: this.aggregator,
    };
  }
}

/**
 * A gauge published with TYPE untyped, where the Go exporter leaves the family untyped (its value
 * is set like a gauge's). prom-client writes a metric's `type` field into the TYPE line.
 */
export class UntypedGauge extends Gauge<string> {
  constructor(config: ConstructorParameters<typeof Gauge<string>>[0]) {
    super(config);
    (this as unknown as { type: string }).type = "untyped";
  }
}

export type MetricFor<D extends MetricDef> = D["type"] extends "counter"
  ? CumulativeCounter
  : D["type"] extends "histogram"
    ? Histogram<string>
    : Gauge<string>;

/** One metric built from its catalogue entry, registered in `registry`. */
export function createMetric<D extends MetricDef>(def: D, registry: Registry): MetricFor<D> {
  const common = { name: def.name, help: def.help, labelNames: [...def.labels], registers: [registry] };
  switch (def.type) {
    case "counter":
      return new CumulativeCounter(def, registry) as MetricFor<D>;
    case "gauge":
      return new Gauge(common) as MetricFor<D>;
    case "untyped":
      return new UntypedGauge(common) as MetricFor<D>;
    case "histogram":
      if (!def.buckets) throw new Error(`${def.name}: a histogram needs buckets in the catalogue`);
      return new Histogram({ ...common, buckets: [...def.buckets] }) as MetricFor<D>;
  }
}

export type Metrics<Defs extends readonly MetricDef[]> = {
  readonly [D in Defs[number] as D["name"]]: MetricFor<D>;
};

/** Every metric of a catalogue list, keyed by name, registered in `registry`. */
export function createMetrics<const Defs extends readonly MetricDef[]>(
  defs: Defs,
  registry: Registry,
): Metrics<Defs> {
  const out: Record<string, unknown> = {};
  for (const def of defs) out[def.name] = createMetric(def, registry);
  return out as Metrics<Defs>;
}
