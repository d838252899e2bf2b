// One benchmark run from start to end: the world up, every figure, the world down.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus, release, totalmem } from "node:os";
import { join } from "node:path";
import { repoRoot, startEnvironment, type OursLaunch, type TargetName } from "./environment.ts";
import { upstreamBinaryPath } from "../../test/support/upstream.ts";
import { imageNode } from "./image-node.ts";
import { measureAll, type BenchOptions, type Results } from "./measure.ts";

export type { BenchOptions, Results };

/** Full figures (`npm run bench`) or the smoke mode the test suite runs so the scripts cannot rot. */
export function benchOptions(smoke: boolean, log: (msg: string) => void): BenchOptions {
  if (smoke)
    return {
      smoke,
      runs: 1,
      latencyRounds: 10,
      concurrency: [8],
      wrkSeconds: 1,
      memoryScrapes: 20,
      scrapeTimeoutSeconds: 2,
      hungClientTimeoutMs: 1500,
      hungRuns: 1,
      scanRows: 1000,
      memoryWithoutFlags: false,
      log,
    };
  const n = (name: string, dflt: number) => {
    const v = process.env[name];
    if (v === undefined || v === "") return dflt;
    const x = Number(v);
    if (!Number.isInteger(x) || x <= 0)
      throw new Error(`${name} must be a positive integer, got ${JSON.stringify(v)}`);
    return x;
  };
  return {
    smoke,
    runs: n("BENCH_RUNS", 3),
    latencyRounds: n("BENCH_LATENCY_ROUNDS", 300),
    concurrency: [8, 64],
    wrkSeconds: n("BENCH_WRK_SECONDS", 10),
    memoryScrapes: n("BENCH_MEMORY_SCRAPES", 10_000),
    // Prometheus' default scrape_timeout.
    scrapeTimeoutSeconds: 10,
    hungClientTimeoutMs: n("BENCH_HUNG_CLIENT_TIMEOUT_S", 40) * 1000,
    hungRuns: n("BENCH_HUNG_RUNS", 3),
    scanRows: n("BENCH_SCAN_ROWS", 10_000),
    memoryWithoutFlags: true,
    // BENCH_IMAGE_NODE=0 leaves it out; =<path> names the binary; unset fetches it from the npm registry.
    ...(process.env.BENCH_IMAGE_NODE === "0" ? {} : { imageNode: imageNode(log) }),
    log,
  };
}

function versionOf(cmd: string, pattern: RegExp): string {
  const r = spawnSync(cmd, ["--version"], { encoding: "utf8", timeout: 10_000 });
  const m = pattern.exec(`${r.stdout ?? ""}${r.stderr ?? ""}`);
  return m?.[1] ?? "unknown";
}

export function machine(): Results["machine"] {
  return {
    nproc: cpus().length,
    memoryBytes: totalmem(),
    cpuModel: cpus()[0]?.model.trim() ?? "unknown",
    node: process.version,
    kernel: release(),
  };
}

export function versions(): Record<TargetName, string> {
  const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { version: string };
  return {
    ours: `${pkg.version} (node ${process.version})`,
    node_exporter: versionOf(upstreamBinaryPath("node_exporter"), /version (\S+)/),
    postgres_exporter: versionOf(upstreamBinaryPath("postgres_exporter"), /version (\S+)/),
    redis_exporter: versionOf(upstreamBinaryPath("redis_exporter"), /Exporter v?(\S+)/),
  };
}

export async function runBench(opts: BenchOptions, ours: OursLaunch): Promise<Results> {
  const env = await startEnvironment({ scanRows: opts.scanRows, ours, log: opts.log });
  try {
    return await measureAll(env, opts, versions(), machine());
  } finally {
    opts.log("stopping everything");
    await env.close();
  }
}
