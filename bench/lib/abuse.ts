// The abuse section of `npm run bench`: the attacks of exporter/test/abuse.test.ts, measured. Each
// case starts a fresh instance of ours from the build (the image's Node.js when it is available,
// `npm start`'s flags, the production default of EXPORTER_MIN_COLLECTION_INTERVAL_SECONDS), runs one
// bounded attack on 127.0.0.1 while a well-behaved client scrapes every 200 ms as Prometheus does, and
// reports: the peak RSS (sampled every 50 ms from /proc), the well-behaved client's p99 and its scrapes
// that were not complete (not 200, or pg_up/redis_up not 1), collections per second during the attack,
// and whether the process lived. Two steady-state runs then scrape a fresh instance N times back to
// back, with the default configuration (a collection a second at most) and with a collection on every
// scrape (EXPORTER_MIN_COLLECTION_INTERVAL_SECONDS=0), and report the RSS at 10% of the scrapes and at
// the end.
import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import http from "node:http";
import { join } from "node:path";
import { pipelinedStatuses } from "../../test/support/pipelined.ts";
import { tempDir } from "../../test/support/servers.ts";
import type { Environment, Target } from "./environment.ts";
import type { NodeBinary } from "./image-node.ts";
import { rssBytes } from "./processes.ts";
import { sampleValue, scrape } from "./scrape.ts";
import { quantile } from "./stats.ts";

/** The ceiling every case must stay under (exporter/test/abuse.test.ts RSS_CEILING_MB). */
export const RSS_CEILING_MB = 128;
/** The steady-state target of issue 23. */
export const STEADY_TARGET_MB = 80;

export interface AbuseOptions {
  readonly smoke: boolean;
  /** Requests pipelined on one connection. */
  readonly pipelined: number;
  /** Concurrent connections, and how many waves of one request each. */
  readonly connections: number;
  readonly waves: number;
  /** Series in the big textfile (about 21 bytes each). */
  readonly bigTextfileSeries: number;
  /** How long the swapping and the hostile header last, in milliseconds. */
  readonly attackMs: number;
  /** Scrapes of the steady-state run. */
  readonly steadyScrapes: number;
  readonly node?: NodeBinary | undefined;
  readonly log: (msg: string) => void;
}

export function abuseOptions(smoke: boolean, log: (msg: string) => void, node?: NodeBinary): AbuseOptions {
  const n = (name: string, def: number) => Number(process.env[name] ?? def);
  return smoke
    ? {
        smoke,
        pipelined: 200,
        connections: 100,
        waves: 1,
        bigTextfileSeries: 100_000,
        attackMs: 1500,
        steadyScrapes: 200,
        node,
        log,
      }
    : {
        smoke,
        pipelined: n("BENCH_ABUSE_PIPELINED", 2000),
        connections: n("BENCH_ABUSE_CONNECTIONS", 1000),
        waves: n("BENCH_ABUSE_WAVES", 3),
        bigTextfileSeries: n("BENCH_ABUSE_TEXTFILE_SERIES", 1_000_000),
        attackMs: n("BENCH_ABUSE_SECONDS", 8) * 1000,
        steadyScrapes: n("BENCH_ABUSE_STEADY_SCRAPES", 20_000),
        node,
        log,
      };
}

export interface AbuseCase {
  readonly name: string;
  readonly alive: boolean;
  readonly peakRssMb: number;
  readonly wellBehavedScrapes: number;
  /** Well-behaved scrapes not 200 or without pg_up 1 and redis_up 1. */
  readonly wellBehavedIncomplete: number;
  readonly wellBehavedP99Ms: number;
  readonly collectionsPerSecond: number;
  /** What the attack itself got (e.g. "2000 × 200"). */
  readonly attackAnswers: string;
}

export interface SteadyRun {
  readonly label: string;
  readonly node: string;
  readonly scrapes: number;
  readonly rssAtTenthMb: number;
  readonly rssAtEndMb: number;
  readonly peakRssMb: number;
  readonly growthPercent: number;
}

export interface AbuseResults {
  readonly node: string;
  readonly cases: AbuseCase[];
  readonly steady: SteadyRun[];
}

const mb = (bytes: number) => bytes / 1024 ** 2;

function summarise(statuses: string[]): string {
  const counts = new Map<string, number>();
  for (const s of statuses) counts.set(s, (counts.get(s) ?? 0) + 1);
  return [...counts].map(([s, n]) => `${n} × ${s}`).join(", ") || "none";
}

/** One case: a fresh instance, the well-behaved client, the attack, the figures. */
async function runCase(
  env: Environment,
  opts: AbuseOptions,
  name: string,
  extraEnv: NodeJS.ProcessEnv,
  attack: (target: Target) => Promise<string>,
): Promise<AbuseCase> {
  opts.log(`abuse: ${name}`);
  const target = await env.startOurs(
    {
      ...(opts.node ? { node: opts.node.path } : {}),
      env: { EXPORTER_MIN_COLLECTION_INTERVAL_SECONDS: "1", ...extraEnv },
    },
    `ours-abuse`,
  );
  const pid = target.child.pid;
  let peak = 0;
  const sampler = setInterval(() => {
    if (!target.child.exited()) peak = Math.max(peak, rssBytes(pid));
  }, 50);
  const collections = async () =>
    sampleValue(
      (await scrape(target.url, { keepText: true, fresh: true, timeoutMs: 15_000 })).text ?? "",
      "kali_agents_exporter_collections_total",
    ) ?? 0;
  try {
    const c0 = await collections();
    const t0 = performance.now();
    const times: number[] = [];
    let incomplete = 0;
    let running = true;
    const client = (async () => {
      while (running && !target.child.exited()) {
        const r = await scrape(target.url, {
          scrapeTimeoutSeconds: 10,
          keepText: true,
          fresh: false,
          timeoutMs: 15_000,
        }).catch(() => undefined);
        if (!r || r.status !== 200) incomplete++;
        else {
          times.push(r.ms);
          const text = r.text ?? "";
          if (sampleValue(text, "pg_up") !== 1 || sampleValue(text, "redis_up") !== 1) incomplete++;
        }
        await new Promise((res) => setTimeout(res, 200));
      }
    })();
    let answers: string;
    try {
      answers = await attack(target);
    } finally {
      running = false;
      await client;
    }
    const seconds = (performance.now() - t0) / 1000;
    const alive = !target.child.exited();
    const c1 = alive ? await collections().catch(() => c0) : c0;
    return {
      name,
      alive,
      peakRssMb: mb(peak),
      wellBehavedScrapes: times.length + incomplete,
      wellBehavedIncomplete: incomplete,
      wellBehavedP99Ms: times.length ? quantile(times, 0.99) : NaN,
      // Less the two scrapes of our own around the attack.
      collectionsPerSecond: Math.max(0, c1 - c0 - 1) / seconds,
      attackAnswers: answers,
    };
  } finally {
    clearInterval(sampler);
    await target.child.stop();
  }
}

export async function runAbuse(env: Environment, opts: AbuseOptions): Promise<AbuseResults> {
  const cases: AbuseCase[] = [];
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  cases.push(
    await runCase(env, opts, `${opts.pipelined} requests pipelined on one connection`, {}, async (t) =>
      summarise(await pipelinedStatuses(t.url, opts.pipelined, 120_000)),
    ),
  );

  cases.push(
    await runCase(
      env,
      opts,
      `${opts.connections} concurrent connections × ${opts.waves} waves`,
      {},
      async (t) => {
        const agent = new http.Agent({ keepAlive: true, maxSockets: opts.connections });
        const statuses: string[] = [];
        const one = () =>
          new Promise<void>((resolve) => {
            const req = http.get(t.url, { agent, headers: { "Accept-Encoding": "gzip" } }, (res) => {
              statuses.push(String(res.statusCode));
              res.resume();
              res.on("end", resolve);
              res.on("error", () => resolve());
            });
            req.on("error", () => {
              statuses.push("error");
              resolve();
            });
          });
        for (let w = 0; w < opts.waves; w++) await Promise.all(Array.from({ length: opts.connections }, one));
        agent.destroy();
        return summarise(statuses);
      },
    ),
  );

  const bigDir = tempDir("bench-abuse-textfile");
  writeFileSync(
    join(bigDir, "backup.prom"),
    '# TYPE kali_agents_job_last_run_success gauge\nkali_agents_job_last_run_success{job="backup"} 1\n',
  );
  const big = Array.from({ length: opts.bigTextfileSeries }, (_, i) => `abuse_big{i="${i}"} 1\n`).join("");
  writeFileSync(join(bigDir, "big.prom"), big);
  const bigMb = (big.length / 1024 ** 2).toFixed(1);
  cases.push(
    await runCase(
      env,
      opts,
      `a textfile of ${opts.bigTextfileSeries} series (${bigMb} MB)`,
      { EXPORTER_TEXTFILE_DIR: bigDir },
      async () => {
        await sleep(opts.attackMs);
        return "skipped (too_large)";
      },
    ),
  );
  rmSync(bigDir, { recursive: true, force: true });

  const swapDir = tempDir("bench-abuse-swap");
  writeFileSync(
    join(swapDir, "backup.prom"),
    '# TYPE kali_agents_job_last_run_success gauge\nkali_agents_job_last_run_success{job="backup"} 1\n',
  );
  const secretFile = join(tempDir("bench-abuse-secret"), "secret");
  writeFileSync(secretFile, "requirepass not-a-metric\n");
  cases.push(
    await runCase(
      env,
      opts,
      "a FIFO, a symlink and a directory swapped in every 30 ms",
      { EXPORTER_TEXTFILE_DIR: swapDir },
      async () => {
        const swap = join(swapDir, "swap.prom");
        const staging = join(swapDir, ".staging");
        const until = Date.now() + opts.attackMs;
        let swaps = 0;
        for (let i = 0; Date.now() < until; i++, swaps++) {
          rmSync(staging, { recursive: true, force: true });
          if (i % 3 === 0) spawnSync("mkfifo", [staging]);
          else if (i % 3 === 1) symlinkSync(secretFile, staging);
          else mkdirSync(staging);
          rmSync(swap, { recursive: true, force: true });
          renameSync(staging, swap);
          await sleep(30);
        }
        return `${swaps} swaps`;
      },
    ),
  );
  rmSync(swapDir, { recursive: true, force: true });

  cases.push(
    await runCase(env, opts, "X-Prometheus-Scrape-Timeout-Seconds: 0.000001, back to back", {}, async (t) => {
      const statuses: string[] = [];
      const until = Date.now() + opts.attackMs;
      while (Date.now() < until && statuses.length < 20_000) {
        const r = await scrape(t.url, { scrapeTimeoutSeconds: 0.000001, timeoutMs: 15_000 });
        statuses.push(String(r.status));
      }
      return summarise(statuses);
    }),
  );

  const steady: SteadyRun[] = [];
  for (const [label, interval] of [
    ["the default configuration (a collection a second at most)", "1"],
    ["a collection on every scrape (EXPORTER_MIN_COLLECTION_INTERVAL_SECONDS=0)", "0"],
  ] as const)
    steady.push(await steadyRun(env, opts, label, interval));
  return { node: opts.node?.version ?? process.version, cases, steady };
}

async function steadyRun(
  env: Environment,
  opts: AbuseOptions,
  label: string,
  interval: string,
): Promise<SteadyRun> {
  opts.log(`abuse: steady state, ${opts.steadyScrapes} scrapes, ${label}`);
  const target = await env.startOurs(
    {
      ...(opts.node ? { node: opts.node.path } : {}),
      env: { EXPORTER_MIN_COLLECTION_INTERVAL_SECONDS: interval },
    },
    "ours-steady",
  );
  try {
    const pid = target.child.pid;
    const tenth = Math.max(1, Math.floor(opts.steadyScrapes / 10));
    let atTenth = 0;
    let peak = 0;
    for (let i = 1; i <= opts.steadyScrapes; i++) {
      const r = await scrape(target.url, { scrapeTimeoutSeconds: 10 });
      if (r.status !== 200) throw new Error(`steady state: scrape ${i} answered ${r.status}`);
      if (i % 100 === 0 || i === tenth) {
        const rss = rssBytes(pid);
        peak = Math.max(peak, rss);
        if (i === tenth) atTenth = rss;
      }
    }
    const end = rssBytes(pid);
    return {
      label,
      node: opts.node?.version ?? process.version,
      scrapes: opts.steadyScrapes,
      rssAtTenthMb: mb(atTenth),
      rssAtEndMb: mb(end),
      peakRssMb: mb(Math.max(peak, end)),
      growthPercent: (100 * (end - atTenth)) / atTenth,
    };
  } finally {
    await target.child.stop();
  }
}

const f1 = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : "–");

export function renderAbuse(r: AbuseResults, command: string, at: string): string {
  const rows = r.cases.map(
    (c) =>
      `| ${c.name} | ${c.alive ? "yes" : "**no**"} | ${f1(c.peakRssMb)} | ${c.wellBehavedScrapes - c.wellBehavedIncomplete}/${c.wellBehavedScrapes} | ${f1(c.wellBehavedP99Ms)} | ${f1(c.collectionsPerSecond)} | ${c.attackAnswers} |`,
  );
  return [
    "## Under abuse",
    "",
    `Produced by \`${command}\` (bench/lib/abuse.ts)${at}, under Node.js ${r.node}, with \`npm start\`'s flags and the full configuration (PostgreSQL, Redis, scans, the API and two MCP probes, a textfile).`,
    `Each case is a fresh instance attacked on 127.0.0.1 while a well-behaved client scrapes every 200 ms with Prometheus' headers; "complete" means 200 with pg_up 1 and redis_up 1. The RSS ceiling is ${RSS_CEILING_MB} MB (exporter/test/abuse.test.ts asserts it; compose.yaml's mem_limit is set from it).`,
    "",
    "| attack | alive | peak RSS MB | well-behaved complete | well-behaved p99 ms | collections/s | what the attacker got |",
    "| --- | --- | --- | --- | --- | --- | --- |",
    ...rows,
    "",
    `Steady state: a fresh instance scraped back to back; the target is under 5% growth from a tenth of the scrapes to the end, and under ${STEADY_TARGET_MB} MB.`,
    "",
    "| run | scrapes | RSS after a tenth MB | RSS at the end MB | growth | peak MB |",
    "| --- | --- | --- | --- | --- | --- |",
    ...r.steady.map(
      (s) =>
        `| ${s.label} | ${s.scrapes} | ${f1(s.rssAtTenthMb)} | ${f1(s.rssAtEndMb)} | ${s.growthPercent >= 0 ? "+" : ""}${s.growthPercent.toFixed(1)}% | ${f1(s.peakRssMb)} |`,
    ),
  ].join("\n");
}

const begin =
  "<!-- bench/lib/abuse.ts: begin (generated by `npm run bench`; edit bench/lib/abuse.ts instead) -->";
const end = "<!-- bench/lib/abuse.ts: end -->";

/** docs/performance.md with the abuse section replaced (or added after the benchmark's section). */
export function spliceAbuse(doc: string, section: string): string {
  const block = `${begin}\n\n${section.trim()}\n\n${end}`;
  const i = doc.indexOf(begin);
  const j = doc.indexOf(end);
  if (i >= 0 && j > i) return doc.slice(0, i) + block + doc.slice(j + end.length);
  if (i >= 0 || j >= 0) throw new Error("docs/performance.md: one abuse marker without the other");
  const after = "<!-- bench/run.ts: end -->";
  const k = doc.indexOf(after);
  if (k >= 0) return `${doc.slice(0, k + after.length)}\n\n${block}${doc.slice(k + after.length)}`;
  return `${doc.replace(/\s*$/, "\n\n")}${block}\n`;
}
