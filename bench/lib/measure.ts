// The figures: each phase measures our exporter and the Go exporters side by side, in the same run,
// on the same PostgreSQL and Redis, several times over.
import type { Environment, Target, TargetName } from "./environment.ts";
import { goExporters, startHeapFlags } from "./environment.ts";
import type { NodeBinary } from "./image-node.ts";
import { connectionsByRole, countSince, logOffset, settleLog } from "./pglog.ts";
import { cpuSeconds, memoryOf, pauseTree, rssBytes } from "./processes.ts";
import { quantile } from "./stats.ts";
import { sampleValue, scrape, countSeries } from "./scrape.ts";
import { runWrk, type WrkResult } from "./wrk.ts";
import { sleep, waitFor } from "../../test/support/servers.ts";

export interface BenchOptions {
  smoke: boolean;
  /** How many times each figure is taken (medians with min and max are over these). */
  runs: number;
  /** Sequential scrapes of each exporter per latency run. */
  latencyRounds: number;
  concurrency: number[];
  wrkSeconds: number;
  /** Scrapes of a fresh instance of ours in the memory phase. */
  memoryScrapes: number;
  /** Sent to ours as X-Prometheus-Scrape-Timeout-Seconds while a dependency is hung. */
  scrapeTimeoutSeconds: number;
  /** How long the client waits for a Go exporter while a dependency is hung. */
  hungClientTimeoutMs: number;
  /** Hung-dependency repetitions. */
  hungRuns: number;
  scanRows: number;
  /** Also measure a fresh instance of ours without the heap flags of `npm start`. */
  memoryWithoutFlags: boolean;
  /** Also measure a fresh instance of ours under the Node.js of the exporter's image. */
  imageNode?: NodeBinary;
  log: (msg: string) => void;
}

const allTargets: TargetName[] = ["ours", ...goExporters];

// ------------------------------------------------------------------ one scraper

export interface LatencyRun {
  /** Milliseconds, per target and for the sum of the three Go exporters in the same round. */
  p50: Record<TargetName | "sum_of_three", number>;
  p99: Record<TargetName | "sum_of_three", number>;
  /** CPU seconds each exporter used per scrape over this run. */
  cpuPerScrape: Record<TargetName, number>;
  scrapes: number;
}

export interface Shape {
  series: number;
  gzipBytes: number;
}

/** Series and size of one scrape of each exporter (what a scrape produces, for context). */
export async function shapes(env: Environment): Promise<Record<TargetName, Shape>> {
  const out = {} as Record<TargetName, Shape>;
  for (const name of allTargets) {
    const r = await scrape(env.targets[name].url, { keepText: true });
    out[name] = { series: countSeries(r.text ?? ""), gzipBytes: r.bytes };
  }
  return out;
}

export async function latencyRun(env: Environment, rounds: number): Promise<LatencyRun> {
  const times: Record<TargetName | "sum_of_three", number[]> = {
    ours: [],
    node_exporter: [],
    postgres_exporter: [],
    redis_exporter: [],
    sum_of_three: [],
  };
  for (const name of allTargets) for (let i = 0; i < 3; i++) await scrape(env.targets[name].url); // warm
  const cpu0 = Object.fromEntries(allTargets.map((n) => [n, cpuSeconds(env.targets[n].child.pid)]));
  for (let round = 0; round < rounds; round++) {
    // Rotate the order so that no exporter always follows the same neighbour.
    const order = allTargets.map((_, i) => allTargets[(i + round) % allTargets.length] as TargetName);
    const got: Partial<Record<TargetName, number>> = {};
    for (const name of order) {
      const r = await scrape(env.targets[name].url);
      if (r.status !== 200) throw new Error(`${name} answered ${r.status}`);
      got[name] = r.ms;
      times[name].push(r.ms);
    }
    times.sum_of_three.push(goExporters.reduce((s, n) => s + (got[n] ?? 0), 0));
  }
  const cpuPerScrape = Object.fromEntries(
    allTargets.map((n) => [n, (cpuSeconds(env.targets[n].child.pid) - (cpu0[n] as number)) / rounds]),
  ) as Record<TargetName, number>;
  const pick = (q: number) =>
    Object.fromEntries(Object.entries(times).map(([k, v]) => [k, quantile(v, q)])) as LatencyRun["p50"];
  return { p50: pick(0.5), p99: pick(0.99), cpuPerScrape, scrapes: rounds };
}

// ------------------------------------------------------------------ concurrent scrapers

export interface ConcurrencyRun {
  target: TargetName;
  wrk: WrkResult;
  /** Most PostgreSQL connections the exporter's role held at once during the run (sampled). */
  pgConnectionsPeak?: number;
  /** Distinct client ports seen for its role (connections used) during the run. */
  pgConnectionsSeen?: number;
  /** Connections it opened during the run (log_connections). */
  pgConnectionsOpened?: number;
  /** Statements it ran during the run (log_statement on its role). */
  pgStatements?: number;
  /** For ours: collections run during the run (kali_agents_exporter_collections_total delta). */
  collections?: number;
  /** Redis connections opened and commands run during the run (the server's INFO stats deltas). */
  redisConnections: number;
  redisCommands: number;
}

function redisStats(env: Environment): { connections: number; commands: number } {
  const info = env.redis.cli("INFO", "stats");
  const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, "m").exec(info)?.[1] ?? Number.NaN);
  return { connections: field("total_connections_received"), commands: field("total_commands_processed") };
}

async function collectionsTotal(target: Target): Promise<number | undefined> {
  const r = await scrape(target.url, { keepText: true });
  return sampleValue(r.text ?? "", "kali_agents_exporter_collections_total");
}

export async function concurrencyRun(
  env: Environment,
  target: Target,
  connections: number,
  seconds: number,
): Promise<ConcurrencyRun> {
  const before = target.name === "ours" ? await collectionsTotal(target) : undefined;
  await settleLog(env.pgLogFile);
  const offset = logOffset(env.pgLogFile);
  const seen = new Set<number>();
  let peak = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      if (target.pgRole) {
        const ports = (await connectionsByRole(env.pg)).get(target.pgRole) ?? [];
        peak = Math.max(peak, ports.length);
        for (const p of ports) seen.add(p);
      }
      await sleep(250);
    }
  })();
  const redis0 = redisStats(env);
  let wrk: WrkResult;
  try {
    wrk = await runWrk(target.url, connections, seconds);
  } finally {
    sampling = false;
    await sampler;
  }
  const redis1 = redisStats(env);
  await settleLog(env.pgLogFile);
  const counts = target.pgRole ? countSince(env.pgLogFile, offset).get(target.pgRole) : undefined;
  const after = before !== undefined ? await collectionsTotal(target) : undefined;
  return {
    target: target.name,
    wrk,
    ...(target.pgRole
      ? {
          pgConnectionsPeak: peak,
          pgConnectionsSeen: seen.size,
          pgConnectionsOpened: counts?.connections ?? 0,
          pgStatements: counts?.statements ?? 0,
        }
      : {}),
    // Each INFO read is one connection (redis-cli) and one command, counted in the second read.
    redisConnections: redis1.connections - redis0.connections - 1,
    redisCommands: redis1.commands - redis0.commands - 1,
    // The second read of the counter is itself a collection: leave it out.
    ...(before !== undefined && after !== undefined ? { collections: after - before - 1 } : {}),
  };
}

// ------------------------------------------------------------------ memory

export interface MemoryRun {
  label: string;
  /** The Node.js version it ran under. */
  node: string;
  nodeFlags: string[];
  rssAtStart: number;
  /** RSS after each thousand scrapes (index 0: after the first thousand, or fewer in smoke mode). */
  rssSamples: { scrapes: number; rss: number }[];
  rssAtEnd: number;
  /** Anonymous RSS (what the process allocated, without the binary's shared code pages). */
  anonAtStart: number;
  anonAtEnd: number;
  scrapes: number;
  cpuPerScrape: number;
}

export async function memoryRun(
  env: Environment,
  label: string,
  launch: { nodeFlags?: string[]; node?: NodeBinary },
  scrapes: number,
  reuse?: Target,
): Promise<MemoryRun> {
  const { nodeFlags, node } = launch;
  // The smoke run samples the instance already running (starting another costs seconds).
  const fresh = !reuse;
  const target =
    reuse ??
    (await env.startOurs(
      { ...(nodeFlags ? { nodeFlags } : {}), ...(node ? { node: node.path } : {}) },
      `ours-${label}`,
    ));
  try {
    const pid = target.child.pid;
    if (fresh) await sleep(500); // let start-up work (first collection timers, JIT) settle before the baseline
    const { rss: rssAtStart, anon: anonAtStart } = memoryOf(pid);
    const every = Math.max(1, Math.min(1000, Math.floor(scrapes / 10)));
    const samples: MemoryRun["rssSamples"] = [];
    const cpu0 = cpuSeconds(pid);
    for (let i = 1; i <= scrapes; i++) {
      const r = await scrape(target.url);
      if (r.status !== 200) throw new Error(`ours (${label}) answered ${r.status} at scrape ${i}`);
      if (i % every === 0) samples.push({ scrapes: i, rss: rssBytes(pid) });
    }
    const cpuPerScrape = (cpuSeconds(pid) - cpu0) / scrapes;
    const end = memoryOf(pid);
    return {
      label,
      node: node?.version ?? process.version,
      nodeFlags: nodeFlags ?? startHeapFlags(),
      rssAtStart,
      rssSamples: samples,
      rssAtEnd: end.rss,
      anonAtStart,
      anonAtEnd: end.anon,
      scrapes,
      cpuPerScrape,
    };
  } finally {
    if (fresh) await target.child.stop();
  }
}

// ------------------------------------------------------------------ hung dependency

export interface HungRun {
  dependency: "postgres" | "redis";
  /** Our two consecutive scrapes while it is hung (ms), and what they said about it. */
  oursMs: number[];
  oursUp: (number | undefined)[];
  oursCollectorSuccess: (number | undefined)[];
  theirs: TargetName;
  /** Their scrape's time (ms), or the client timeout when they did not answer. */
  theirsMs: number;
  theirsTimedOut: boolean;
  /** After SIGCONT: how long until ours reports the dependency up again (ms). */
  oursRecoveryMs: number;
}

export async function hungRun(
  env: Environment,
  dependency: "postgres" | "redis",
  scrapeTimeoutSeconds: number,
  clientTimeoutMs: number,
  log: (msg: string) => void,
): Promise<HungRun> {
  const server = dependency === "postgres" ? env.pg : env.redis;
  const theirs: TargetName = dependency === "postgres" ? "postgres_exporter" : "redis_exporter";
  const upMetric = dependency === "postgres" ? "pg_up" : "redis_up";
  const ours = env.targets.ours;
  const pid = server.pid();
  if (pid === undefined) throw new Error(`${dependency} is not running`);
  const resume = pauseTree(pid);
  try {
    // Ours and theirs at once, each on a fresh connection: a hung scrape must not hold a pooled one.
    const theirsP = scrape(env.targets[theirs].url, { timeoutMs: clientTimeoutMs, fresh: true });
    const oursMs: number[] = [];
    const oursUp: (number | undefined)[] = [];
    const oursSuccess: (number | undefined)[] = [];
    for (let i = 0; i < 2; i++) {
      const r = await scrape(ours.url, {
        scrapeTimeoutSeconds,
        timeoutMs: (scrapeTimeoutSeconds + 30) * 1000,
        keepText: true,
        fresh: true,
      });
      oursMs.push(r.ms);
      oursUp.push(sampleValue(r.text ?? "", upMetric));
      oursSuccess.push(
        sampleValue(r.text ?? "", "kali_agents_exporter_collector_success", { collector: dependency }),
      );
    }
    const t = await theirsP;
    resume();
    const resumed = Date.now();
    // Not recovering is a finding, not a crash of the benchmark: it shows as "n/a" (and in the log).
    let oursRecoveryMs = Number.NaN;
    try {
      await waitFor(
        `ours to see ${dependency} again`,
        async () => {
          const r = await scrape(ours.url, { keepText: true, fresh: true, timeoutMs: 15_000 });
          return sampleValue(r.text ?? "", upMetric) === 1;
        },
        60_000,
        50,
      );
      oursRecoveryMs = Date.now() - resumed;
    } catch (e) {
      log(`ours did not report ${upMetric} 1 within 60 s of SIGCONT: ${String(e)}`);
    }
    // Theirs must be answering again before the next figure.
    await waitFor(
      `${theirs} to answer again`,
      async () => (await scrape(env.targets[theirs].url, { fresh: true })).status === 200,
      60_000,
    );
    return {
      dependency,
      oursMs,
      oursUp,
      oursCollectorSuccess: oursSuccess,
      theirs,
      theirsMs: t.ms,
      theirsTimedOut: t.timedOut,
      oursRecoveryMs,
    };
  } finally {
    resume();
  }
}

// ------------------------------------------------------------------ all of it

export interface Results {
  date: string;
  machine: { nproc: number; memoryBytes: number; cpuModel: string; node: string; kernel: string };
  options: Omit<BenchOptions, "log">;
  versions: Record<TargetName, string>;
  shapes: Record<TargetName, Shape>;
  latency: LatencyRun[];
  concurrency: ConcurrencyRun[][];
  memory: MemoryRun[];
  rss: Record<TargetName, { atStart: number; atEnd: number; anonAtEnd: number; scrapes: number }>;
  hung: HungRun[];
}

export async function measureAll(
  env: Environment,
  opts: BenchOptions,
  versions: Record<TargetName, string>,
  machine: Results["machine"],
): Promise<Results> {
  const log = opts.log;
  const rssStart = Object.fromEntries(allTargets.map((n) => [n, rssBytes(env.targets[n].child.pid)]));
  const served: Record<TargetName, number> = {
    ours: 0,
    node_exporter: 0,
    postgres_exporter: 0,
    redis_exporter: 0,
  };

  const shape = await shapes(env);
  const latency: LatencyRun[] = [];
  for (let run = 1; run <= opts.runs; run++) {
    log(`latency run ${run}/${opts.runs}: ${opts.latencyRounds} rounds`);
    const r = await latencyRun(env, opts.latencyRounds);
    latency.push(r);
    for (const n of allTargets) served[n] += r.scrapes + 3;
  }

  const concurrency: ConcurrencyRun[][] = [];
  for (let run = 1; run <= opts.runs; run++) {
    const one: ConcurrencyRun[] = [];
    for (const c of opts.concurrency) {
      for (const name of allTargets) {
        log(`concurrency run ${run}/${opts.runs}: ${name} with ${c} scrapers for ${opts.wrkSeconds} s`);
        const r = await concurrencyRun(env, env.targets[name], c, opts.wrkSeconds);
        one.push(r);
        served[name] += r.wrk.requests;
      }
    }
    concurrency.push(one);
  }
  const rss = Object.fromEntries(
    allTargets.map((n) => [
      n,
      {
        atStart: rssStart[n] as number,
        atEnd: rssBytes(env.targets[n].child.pid),
        anonAtEnd: memoryOf(env.targets[n].child.pid).anon,
        scrapes: served[n],
      },
    ]),
  ) as Results["rss"];

  const memory: MemoryRun[] = [];
  log(`memory: ours with the heap flags, ${opts.memoryScrapes} scrapes`);
  memory.push(
    await memoryRun(
      env,
      opts.smoke ? "with heap flags (the instance already running)" : "with heap flags",
      {},
      opts.memoryScrapes,
      opts.smoke ? env.targets.ours : undefined,
    ),
  );
  if (opts.memoryWithoutFlags) {
    log(`memory: a fresh instance of ours without the heap flags, ${opts.memoryScrapes} scrapes`);
    memory.push(await memoryRun(env, "without heap flags", { nodeFlags: [] }, opts.memoryScrapes));
  }
  if (opts.imageNode) {
    const node = opts.imageNode;
    log(
      `memory: a fresh instance of ours under Node.js ${node.version} (the image's), ${opts.memoryScrapes} scrapes`,
    );
    memory.push(await memoryRun(env, "with heap flags, the image's Node.js", { node }, opts.memoryScrapes));
  }

  const hung: HungRun[] = [];
  for (let run = 1; run <= opts.hungRuns; run++) {
    for (const dep of ["postgres", "redis"] as const) {
      log(`hung ${dep} run ${run}/${opts.hungRuns}`);
      hung.push(await hungRun(env, dep, opts.scrapeTimeoutSeconds, opts.hungClientTimeoutMs, log));
    }
  }

  const { log: _log, ...options } = opts;
  return {
    date: new Date().toISOString(),
    machine,
    options,
    versions,
    shapes: shape,
    latency,
    concurrency,
    memory,
    rss,
    hung,
  };
}
