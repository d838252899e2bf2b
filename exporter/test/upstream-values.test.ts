// This exporter beside the Go exporters it replaces (issue 26): node_exporter 1.12.1, postgres_exporter
// 0.19.1 and redis_exporter 1.88.0 (definitions/versions.ts), on the same host and the same real
// servers, scraped at the same moments. Every family both publish must agree in type, label names,
// series and values (upstream-compare.ts; the tolerances below, each with its reason); the series-set
// differences that are by design are the verdicts of definitions/compat.ts. PostgreSQL: every supported
// major (14 to 18), with a server-wide statement_timeout set by ALTER SYSTEM that the exporter must
// read as the server's, not its session's. Redis: a primary and its replica.
//
// Cost: one Go exporter per server, two scrapes 1.5 s apart on each side; the PostgreSQL servers start
// in parallel (about 40 s in all on 2 busy cores).
import assert from "node:assert/strict";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test, type TestContext } from "node:test";
import pg from "pg";
import { seriesVerdicts } from "../../definitions/compat.ts";
import { catalogue } from "../../definitions/metrics/catalogue.ts";
import { supportedPostgresMajors, type PostgresMajor } from "../../definitions/metrics/metric.ts";
import { goExporters } from "../../bench/lib/processes.ts";
import { findUpstreamBinary } from "../../test/support/upstream.ts";
import { family, sample, type Families } from "../../test/support/exposition.ts";
import {
  requireBinaries,
  requirePostgresMajors,
  sleep,
  startPostgres,
  startRedis,
  tempDir,
  waitFor,
  type PostgresServer,
  type RedisServer,
} from "../../test/support/servers.ts";
import { postgresCollector } from "../src/collectors/postgres.ts";
import { redisCollector } from "../src/collectors/redis.ts";
import type { Collector } from "../src/collectors/types.ts";
import { captureLog, collectOnce, startApp, type App } from "./collector-support.ts";
import {
  compareScrapes,
  exact,
  showDifferences,
  toleranceTable,
  type ComparePolicy,
  type Tolerance,
} from "./upstream-compare.ts";
import {
  startNodeExporter,
  startPostgresExporter,
  startRedisExporter,
  type GoExporter,
} from "./upstream-side.ts";

const GAP_MS = 1500;
const ourNames = new Set(catalogue.filter((m) => m.source === "exporter").map((m) => m.name));

// ------------------------------------------------------------------- tolerances, with their reasons
//
// Default: exact. A unit error is a factor of 1000 or 1024 (or 512, 4096): every tolerance here stays
// far below that, so none can hide one (the comparator's own test below plants such errors).
const moving = (abs: number, rel: number, reason: string, rateRel = 0.5): Tolerance => ({
  abs,
  rel,
  rateRel,
  reason,
});
const hostTolerances = toleranceTable([
  [
    /^node_disk_io_time_weighted_seconds_total$/,
    moving(
      10,
      0.01,
      "grows by the number of I/Os in flight per second: a hundred queued I/Os make a second in 10 ms",
    ),
  ],
  [
    /^node_disk_(?!.*seconds_total$)/,
    moving(
      4096,
      0.01,
      "I/Os and sectors of a disk other programs write to in bursts, read a few milliseconds apart",
    ),
  ],
  [
    /^node_memory_(Dirty|Writeback|WritebackTmp)_bytes$/,
    {
      abs: 64 * 2 ** 20,
      rel: 0.05,
      reason:
        "pages waiting for or under writeback move by tens of megabytes within milliseconds while the host writes; their kB-to-bytes conversion is every other meminfo field's, compared closely",
    },
  ],
  [
    /^node_disk_io_now$/,
    {
      abs: 1024,
      rel: 0,
      reason: "I/Os in flight at the instant of each read: a count, no unit to get wrong",
    },
  ],
  [
    /^node_(cpu|cpu_guest|schedstat|pressure|disk)_.*seconds_total$/,
    moving(
      0.5,
      0.01,
      "the two exporters read /proc a few milliseconds apart, and their own scrapes spend CPU time",
    ),
  ],
  [
    /^node_(softnet|context_switches|intr|forks|disk|network_(receive|transmit)|schedstat)_/,
    moving(
      64,
      0.01,
      "counts of a busy host read a few milliseconds apart; the scrapes themselves make interrupts and loopback traffic",
    ),
  ],
  [
    /^node_procs_(running|blocked)$/,
    { abs: 8, rel: 0, reason: "processes of a busy host in a state at the instant of each read" },
  ],
  [
    /^node_load(1|5|15)$/,
    {
      abs: 0.5,
      rel: 0.05,
      reason: "the kernel recomputes the load averages every 5 s, maybe between the reads",
    },
  ],
  [
    /^node_(memory|vmstat|netstat|sockstat|filefd|nf_conntrack_entries$|udp_queues|entropy_available|filesystem_(avail|free|files_free))/,
    moving(
      64,
      0.02,
      "live figures of a busy host read a few milliseconds apart (free memory and disk space, sockets, processes, packets)",
    ),
  ],
  [
    /^node_time_seconds$|^node_boot_time_seconds$/,
    { abs: 1, rel: 0, reason: "clock readings, 1 s apart at most" },
  ],
]);
const redisTolerances = toleranceTable([
  [/^redis_connected_clients$/, { abs: 2, rel: 0, reason: "each exporter's own connection" }],
  [
    /^redis_(commands_processed|net_input_bytes|net_output_bytes|connections_received)_total$/,
    moving(65536, 0.05, "each exporter's own commands and INFO replies", 1),
  ],
  [
    /^redis_(memory_used|memory_used_rss)_bytes$|fragmentation_ratio$/,
    moving(0, 0.1, "the exporters' client buffers count in Redis' memory"),
  ],
  [
    /^redis_uptime_in_seconds$|^redis_master_last_io_seconds_ago$/,
    { abs: 1, rel: 0, reason: "seconds, read 1 s apart at most" },
  ],
]);
const postgresTolerances = toleranceTable([
  [
    /^pg_stat_bgwriter_buffers_alloc_total$/,
    moving(
      1024,
      0.05,
      "each exporter's own queries allocate buffers at scrape time, counted by whichever side reads after them",
    ),
  ],
  [
    /^pg_stat_bgwriter_|^pg_stat_database_/,
    moving(64, 0.05, "the server's background writer and checkpointer move these between the two reads"),
  ],
  [
    /^pg_stat_activity_max_tx_duration$/,
    { abs: 1, rel: 0, reason: "a running transaction's age, read up to 1 s apart" },
  ],
  [/^pg_database_size_bytes$/, moving(65536, 0, "autovacuum may write a page between the reads")],
]);

/** Families that measure the exporter itself (its scrape, its process): type and labels only. */
const selfMeasured = (f: string) =>
  /^(process_|go_|promhttp_|pg_exporter_|redis_exporter_|node_scrape_|node_exporter_)/.test(f) ||
  f === "pg_up" ||
  f === "redis_up";

const verdictOf = (f: string) => seriesVerdicts[f];

/** Scrapes both sides twice, at the same moments each time. */
async function scrapeTwice(
  ours: () => Promise<Families>,
  theirs: () => Promise<Families>,
): Promise<{ ours: [Families, Families]; theirs: [Families, Families] }> {
  const [o0, t0] = await Promise.all([ours(), theirs()]);
  await sleep(GAP_MS);
  const [o1, t1] = await Promise.all([ours(), theirs()]);
  return { ours: [o0, o1], theirs: [t0, t1] };
}

const merge = (...fs: Families[]): Families => new Map(fs.flatMap((f) => [...f]));

/** A copy of a scrape with one family's values changed, as a unit error would change them. */
function plant(f: Families, name: string, factor: number): Families {
  const out = new Map(f);
  const fam = f.get(name);
  assert.ok(fam && fam.samples.length > 0, `${name} is in the scrape`);
  out.set(name, { ...fam, samples: fam.samples.map((s) => ({ ...s, value: s.value * factor })) });
  return out;
}

/** The harness's servers and the Go exporters: a skip outside CI when one is missing, a failure under CI=true. */
function requireSides(): false | string {
  const harness = requireBinaries("redis-server", "redis-cli");
  const missing = goExporters.filter((b) => !findUpstreamBinary(b));
  if (missing.length === 0) return harness;
  const reason = `missing ${missing.join(", ")}: build them with \`npm run -s upstream -- build\``;
  if (process.env.CI === "true") throw new Error(`CI=true and ${reason}`);
  return reason;
}
const bins = requireSides();

describe("the comparator, on figures made to differ", () => {
  const fam = (name: string, type: "gauge" | "counter", v: number, labels: Record<string, string> = {}) =>
    new Map([[name, { name, type, help: "", samples: [{ name, labels, value: v }] }]]) as Families;
  const policy: ComparePolicy = { tolerance: () => exact };
  test("a gauge off by a unit factor, a counter's rate that differs, a type, a label, a series", () => {
    const r = compareScrapes(
      {
        ours: [
          merge(fam("a_seconds", "gauge", 0.3), fam("b_total", "counter", 100), fam("c", "gauge", 1)),
          merge(
            fam("a_seconds", "gauge", 0.3),
            fam("b_total", "counter", 110),
            fam("c", "gauge", 1, { x: "1" }),
          ),
        ],
        theirs: [
          merge(fam("a_seconds", "gauge", 300), fam("b_total", "counter", 100), fam("c", "counter", 1)),
          merge(fam("a_seconds", "gauge", 300), fam("b_total", "counter", 130), fam("c", "counter", 1)),
        ],
      },
      policy,
    );
    assert.deepEqual(
      r.differences.map((d) => `${d.family} ${d.kind}`),
      ["a_seconds value", "b_total rate", "c type", "c labels"],
    );
  });
  test("a counter that moved between the reads is not a difference; one that is 1000 times off is", () => {
    const c = (v: number) => fam("d_seconds_total", "counter", v);
    const ok = compareScrapes({ ours: [c(10), c(12)], theirs: [c(10.5), c(12.5)] }, policy);
    assert.deepEqual(ok.differences, []);
    const bad = compareScrapes({ ours: [c(10), c(12)], theirs: [c(10000), c(12000)] }, policy);
    assert.deepEqual(
      bad.differences.map((d) => d.kind),
      ["value", "rate"],
    );
  });
});

describe("beside node_exporter and redis_exporter (a Redis primary and its replica)", { skip: bins }, () => {
  let redis: RedisServer;
  let replica: RedisServer;
  let app: App;
  let replicaCollector: Collector;
  const go: GoExporter[] = [];
  const textfileDir = tempDir("upstream-textfile");
  const { log } = captureLog();

  before(async () => {
    writeFileSync(
      join(textfileDir, "backup.prom"),
      '# TYPE kali_agents_job_last_run_success gauge\nkali_agents_job_last_run_success{job="backup"} 1\n',
    );
    redis = await startRedis();
    replica = await startRedis({ args: ["--replicaof", "127.0.0.1", String(redis.port)] });
    // Keys in db0 and db3 (some expiring), the other fourteen empty; hits and misses.
    for (let i = 0; i < 50; i++) redis.cli("SET", `k${i}`, "v".repeat(i * 10));
    redis.cli("SET", "e1", "x", "EX", "3600");
    redis.cli("GET", "k1");
    redis.cli("GET", "missing");
    const [c1, c2, c3] = await Promise.all([
      startNodeExporter(textfileDir),
      startRedisExporter(`redis://127.0.0.1:${redis.port}`),
      startRedisExporter(`redis://127.0.0.1:${replica.port}`),
    ]);
    go.push(c1, c2, c3);
    spawnDb3(redis);
    app = await startApp({
      REDIS_URL: redis.url,
      EXPORTER_TEXTFILE_DIR: textfileDir,
      EXPORTER_COLLECTORS_DISABLED: "scans,probes",
    });
    replicaCollector = redisCollector.create(
      { url: replica.url, connectTimeoutMs: 2000, commandTimeoutMs: 2000, queueKeys: [] },
      log,
    );
    await waitFor("the replica to sync", () =>
      replica.cli("INFO", "replication").includes("master_link_status:up"),
    );
  });
  after(async () => {
    await app?.close();
    await replicaCollector?.close?.();
    for (const c of go) await c.child.stop();
    await Promise.all([redis?.cleanup(), replica?.cleanup()]);
    rmSync(textfileDir, { recursive: true, force: true });
  });

  const workloadCommands = new Set(["get", "set", "select", "expire", "setex"]);
  const ignoreSeries = (f: string, l: Readonly<Record<string, string>>) =>
    // The exporters' own commands (INFO, CONFIG GET, PING, CLIENT ...) differ by design.
    f.startsWith("redis_commands_") && !workloadCommands.has(l.cmd ?? "");

  /**
   * The host's network devices and mount points (containers of other programs come and go): those
   * present before and after the scrapes, so that one created or removed between the two sides' reads
   * is not taken for a difference.
   */
  const hostObjects = () => ({
    devices: new Set(readdirSync("/sys/class/net")),
    mounts: new Set(
      readFileSync("/proc/1/mounts", "utf8")
        .split("\n")
        .map((l) => l.split(" ")[1] ?? ""),
    ),
  });
  const stableOnly = (before: ReturnType<typeof hostObjects>, after: ReturnType<typeof hostObjects>) => {
    const devices = new Set([...before.devices].filter((d) => after.devices.has(d)));
    const mounts = new Set([...before.mounts].filter((m) => after.mounts.has(m)));
    return (f: string, l: Readonly<Record<string, string>>) =>
      ignoreSeries(f, l) ||
      (f.startsWith("node_network_") && l.device !== undefined && !devices.has(l.device)) ||
      (f.startsWith("node_filesystem_") && l.mountpoint !== undefined && !mounts.has(l.mountpoint));
  };

  test("host, textfile and primary: every family both publish agrees", async (t) => {
    const [node, primary] = go;
    const objectsBefore = hostObjects();
    const s = await scrapeTwice(
      async () => (await app.scrape(10)).families,
      async () => merge(await node!.scrape(), await primary!.scrape()),
    );
    const tolerance = (f: string) => (f.startsWith("redis_") ? redisTolerances(f) : hostTolerances(f));
    const r = compareScrapes(s, {
      tolerance,
      ignoreSeries: stableOnly(objectsBefore, hostObjects()),
      selfMeasured,
      seriesVerdict: verdictOf,
      ourNames,
    });
    assert.deepEqual(r.differences, [], showDifferences(r.differences));
    t.diagnostic(
      `node_exporter + redis_exporter: ${r.compared.length} families, ${r.seriesCompared} series compared`,
    );
    assert.ok(r.compared.length >= 180, `only ${r.compared.length} families compared`);
    assert.ok(r.seriesCompared >= 200, `only ${r.seriesCompared} series compared`);
    // What the issue found wrong, by name.
    const f = s.ours[1];
    assert.equal(family(f, "node_kernel_hung_tasks_total")?.type, "counter");
    assert.equal(family(f, "node_netstat_Tcp_InSegs")?.type, "untyped");
    assert.equal(family(f, "node_vmstat_pgfault")?.type, "untyped");
    assert.equal(
      sample(f, "node_textfile_mtime_seconds", { file: join(textfileDir, "backup.prom") }) !== undefined,
      true,
    );
    assert.deepEqual(
      family(f, "redis_db_keys")!
        .samples.map((x) => x.labels.db)
        .sort((a, b) => Number(a!.slice(2)) - Number(b!.slice(2))),
      Array.from({ length: 16 }, (_, i) => `db${i}`),
    );
    assert.equal(sample(f, "redis_db_keys", { db: "db3" }), 2);
    assert.equal(
      sample(f, "redis_mem_fragmentation_ratio"),
      sample(f, "redis_memory_fragmentation_ratio"),
      "the older name carries the same value",
    );
    for (const x of family(f, "node_filesystem_size_bytes")!.samples) assert.equal(x.labels.device_error, "");
  });

  test("replica: every family both publish agrees", async (t) => {
    const [, , theirs] = go;
    const s = await scrapeTwice(
      async () => (await collectOnce(replicaCollector, log, 5000)).families,
      () => theirs!.scrape(),
    );
    const r = compareScrapes(s, {
      tolerance: redisTolerances,
      ignoreSeries,
      selfMeasured,
      seriesVerdict: verdictOf,
      ourNames: new Set([...ourNames].filter((n) => n.startsWith("redis_"))),
    });
    assert.deepEqual(r.differences, [], showDifferences(r.differences));
    t.diagnostic(
      `redis_exporter on the replica: ${r.compared.length} families, ${r.seriesCompared} series compared`,
    );
    assert.ok(r.compared.includes("redis_master_last_io_seconds_ago"));
    assert.equal(family(s.ours[1], "redis_instance_info")?.samples[0]?.labels.role, "slave");
  });

  test("a planted unit error fails the comparison: kB read as bytes, milliseconds as seconds", async () => {
    const [node] = go;
    const objectsBefore = hostObjects();
    const s = await scrapeTwice(
      async () => (await app.scrape(10)).families,
      () => node!.scrape(),
    );
    const planted = {
      ours: [
        plant(
          plant(s.ours[0], "node_memory_MemTotal_bytes", 1 / 1024),
          "node_disk_read_time_seconds_total",
          1000,
        ),
        plant(
          plant(s.ours[1], "node_memory_MemTotal_bytes", 1 / 1024),
          "node_disk_read_time_seconds_total",
          1000,
        ),
      ] as [Families, Families],
      theirs: s.theirs,
    };
    const r = compareScrapes(planted, {
      tolerance: hostTolerances,
      ignoreSeries: stableOnly(objectsBefore, hostObjects()),
      selfMeasured,
      seriesVerdict: verdictOf,
    });
    const failed = new Set(r.differences.map((d) => d.family));
    assert.deepEqual([...failed].sort(), ["node_disk_read_time_seconds_total", "node_memory_MemTotal_bytes"]);
  });
});

/** A few keys in db3, one expiring: a non-empty database other than db0. */
function spawnDb3(redis: RedisServer): void {
  redis.cli("-n", "3", "SET", "a", "1");
  redis.cli("-n", "3", "SET", "b", "2", "EX", "3600");
}

describe(
  "beside postgres_exporter on every supported PostgreSQL major",
  { skip: bins || requirePostgresMajors(...supportedPostgresMajors), concurrency: true },
  () => {
    const servers = new Map<PostgresMajor, PostgresServer>();
    const exporters = new Map<PostgresMajor, GoExporter>();
    const collectors = new Map<PostgresMajor, Collector>();
    const held: pg.Client[] = [];
    const { log } = captureLog();

    before(async () => {
      // Without autovacuum: a worker starting between the two sides' reads would be a session, and
      // counts, only one side saw.
      const started = await Promise.allSettled(
        supportedPostgresMajors.map((major) => startPostgres({ major, settings: { autovacuum: "off" } })),
      );
      for (const [i, r] of started.entries())
        if (r.status === "fulfilled") servers.set(supportedPostgresMajors[i]!, r.value);
      const failed = started.find((r) => r.status === "rejected");
      if (failed) throw failed.reason;
      await Promise.all(
        [...servers].map(async ([major, s]) => {
          // The exporters connect to a database of their own, whose sessions and counters their own
          // queries move (left out below); the application's database has a session idle in a
          // transaction that holds a lock, and an idle one.
          await s.query("CREATE DATABASE monitor");
          await s.query("CREATE DATABASE kali");
          await s.query("CREATE TABLE t (id int)", [], "kali");
          for (const role of ["kali_exporter", "postgres_exporter"])
            await s.query(`CREATE ROLE ${role} LOGIN PASSWORD 'pw' IN ROLE pg_monitor`);
          // The server's statement_timeout, which the exporter's own session sets otherwise.
          await s.query("ALTER SYSTEM SET statement_timeout = '7s'");
          await s.query("SELECT pg_reload_conf()");
          const inTx = new pg.Client({
            connectionString: s.urlFor({ database: "kali" }),
            application_name: "app",
          });
          const idle = new pg.Client({
            connectionString: s.urlFor({ database: "kali" }),
            application_name: "app",
          });
          held.push(inTx, idle);
          for (const c of [inTx, idle]) {
            c.on("error", () => {});
            await c.connect();
          }
          await inTx.query("BEGIN");
          await inTx.query("SELECT count(*) FROM t");
          const dsn = `postgresql://postgres_exporter:pw@127.0.0.1:${s.port}/monitor?sslmode=disable`;
          exporters.set(major, await startPostgresExporter(dsn));
          collectors.set(
            major,
            postgresCollector.create(
              {
                url: s.urlFor({ user: "kali_exporter", password: "pw", database: "monitor" }),
                connectTimeoutMs: 5000,
                statementTimeoutMs: 3000,
                lockTimeoutMs: 1000,
                idleTimeoutMs: 60_000,
                databaseSizeIntervalMs: 0,
              },
              log,
            ),
          );
        }),
      );
    });
    after(async () => {
      for (const c of held) await c.end().catch(() => {});
      for (const c of collectors.values()) await c.close?.();
      for (const e of exporters.values()) await e.child.stop();
      await Promise.all([...servers.values()].map((s) => s.cleanup()));
    });

    const ignoreSeries = (_f: string, l: Readonly<Record<string, string>>) => l.datname === "monitor";
    const verdictsUsed = new Set<string>();
    // The majors' tests run concurrently; the verdicts' test waits for all of them (passed or not).
    const finished = new Map(
      supportedPostgresMajors.map((m) => {
        let resolve!: () => void;
        const p = new Promise<void>((r) => (resolve = r));
        return [m, { p, resolve }] as const;
      }),
    );

    for (const major of supportedPostgresMajors)
      test(`PostgreSQL ${major}: every family both publish agrees; statement_timeout is the server's 7 s`, async (t) => {
        try {
          await compareMajor(major, t);
        } finally {
          finished.get(major)!.resolve();
        }
      });

    async function compareMajor(major: PostgresMajor, t: TestContext): Promise<void> {
      const collector = collectors.get(major)!;
      const s = await scrapeTwice(
        async () => {
          const out = await collectOnce(collector, log, 10_000);
          assert.ok(out.ok, out.error?.message);
          return out.families;
        },
        () => exporters.get(major)!.scrape(),
      );
      const r = compareScrapes(s, {
        tolerance: postgresTolerances,
        ignoreSeries,
        selfMeasured,
        seriesVerdict: verdictOf,
        ourNames: new Set([...ourNames].filter((n) => n.startsWith("pg_"))),
      });
      assert.deepEqual(r.differences, [], showDifferences(r.differences));
      t.diagnostic(
        `postgres_exporter on PostgreSQL ${major}: ${r.compared.length} families, ${r.seriesCompared} series compared`,
      );
      assert.ok(r.compared.length >= 55, `only ${r.compared.length} families compared`);
      for (const v of r.verdictsUsed) verdictsUsed.add(v);
      const f = s.ours[1];
      const server = `127.0.0.1:${servers.get(major)!.port}`;
      assert.equal(sample(f, "pg_settings_statement_timeout_seconds", { server }), 7);
      assert.equal(family(f, "pg_static")?.type, "untyped");
      // The session idle in a transaction, with its labels.
      const inTx = family(f, "pg_stat_activity_count")!.samples.find(
        (x) => x.labels.datname === "kali" && x.labels.state === "idle in transaction",
      );
      assert.deepEqual(
        { ...inTx?.labels, value: inTx?.value },
        {
          datname: "kali",
          state: "idle in transaction",
          usename: "postgres",
          application_name: "app",
          backend_type: "client backend",
          wait_event_type: "Client",
          wait_event: "ClientRead",
          server,
          value: 1,
        },
      );
      const planted = compareScrapes(
        {
          ours: [
            plant(s.ours[0], "pg_settings_statement_timeout_seconds", 0.001),
            plant(s.ours[1], "pg_settings_statement_timeout_seconds", 0.001),
          ],
          theirs: s.theirs,
        },
        { tolerance: postgresTolerances, ignoreSeries, selfMeasured, seriesVerdict: verdictOf },
      );
      assert.deepEqual(
        planted.differences.map((d) => `${d.family} ${d.kind}`),
        ["pg_settings_statement_timeout_seconds value"],
        "seconds read as milliseconds",
      );
    }

    test("every series verdict of definitions/compat.ts is still needed: upstream lists what it allows", async () => {
      await Promise.all([...finished.values()].map((f) => f.p));
      assert.deepEqual(
        Object.keys(seriesVerdicts).filter((f) => !verdictsUsed.has(f)),
        [],
        "verdicts no PostgreSQL major used (drop them, or the exporter now lists those series)",
      );
    });
  },
);
