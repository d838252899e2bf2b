// The real app, built from the real configuration module and collectors table (host and textfile
// collectors reading this machine's /proc), mounted on a free port and scraped over HTTP.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import type { Server } from "node:http";
import { request } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { after, before, describe, test } from "node:test";
import { Registry } from "prom-client";
import { buildExporter } from "../src/build.ts";
import type { Collector } from "../src/collectors/types.ts";
import { loadConfig } from "../src/config.ts";
import { createLogger } from "../../lib/log.ts";
import type { Scraper } from "../src/scrape.ts";
import { family, parseExposition, sample, samples, scrape } from "../../test/support/exposition.ts";
import { findBinary, requireBinaries, tempDir, waitFor } from "../../test/support/servers.ts";

interface Mounted {
  url: string;
  port: number;
  scraper: Scraper;
  lines: string[];
  close(): Promise<void>;
}

async function mount(env: Record<string, string>, extra: Collector[] = []): Promise<Mounted> {
  const config = loadConfig(env);
  const lines: string[] = [];
  const log = createLogger({ level: "debug", write: (l) => lines.push(l) });
  const { app, scraper } = buildExporter(config, log, {
    extraCollectors: extra.map((collector) => ({ collector, budgetMs: 1000 })),
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    scraper,
    lines,
    close: async () => {
      await scraper.close();
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}

/** A raw GET that leaves the body as bytes (fetch would decompress gzip by itself). */
function rawGet(
  port: number,
  path: string,
  headers: Record<string, string> = {},
  method = "GET",
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, headers, method }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
    req.on("error", reject);
    req.end();
  });
}

describe("the exporter with embedded defaults (host metrics)", () => {
  let m: Mounted;
  before(async () => {
    m = await mount({});
  });
  after(() => m.close());

  test("/metrics parses strictly and has the host metrics, with sane values", async () => {
    const first = await scrape(`${m.url}/metrics`);
    assert.equal(first.status, 200);
    assert.equal(first.headers.get("content-type"), Registry.PROMETHEUS_CONTENT_TYPE);
    const f = first.families;
    assert.equal(family(f, "node_cpu_seconds_total")?.type, "counter");
    const modes = new Set(samples(f, "node_cpu_seconds_total").map((s) => s.labels.mode));
    assert.deepEqual([...modes].sort(), [
      "idle",
      "iowait",
      "irq",
      "nice",
      "softirq",
      "steal",
      "system",
      "user",
    ]);
    for (const n of ["node_load1", "node_load5", "node_load15"]) assert.ok(sample(f, n)! >= 0, n);
    const total = sample(f, "node_memory_MemTotal_bytes")!;
    const available = sample(f, "node_memory_MemAvailable_bytes")!;
    assert.ok(total > 64 * 1024 ** 2, `MemTotal ${total}`);
    assert.ok(available > 0 && available <= total, `MemAvailable ${available} of ${total}`);
    for (const n of ["MemFree", "Buffers", "Cached", "SwapTotal", "SwapFree"])
      assert.ok(sample(f, `node_memory_${n}_bytes`)! >= 0, n);
    const rootFs = samples(f, "node_filesystem_size_bytes", { mountpoint: "/" });
    assert.equal(rootFs.length, 1, "the root filesystem is present once");
    const labels = rootFs[0]!.labels;
    assert.ok(rootFs[0]!.value > 0);
    assert.ok(
      sample(f, "node_filesystem_avail_bytes", labels)! <= sample(f, "node_filesystem_free_bytes", labels)!,
    );
    assert.ok(sample(f, "node_filesystem_free_bytes", labels)! <= rootFs[0]!.value);
    assert.equal(sample(f, "node_filesystem_device_error", labels), 0);
    for (const s of samples(f, "node_filesystem_size_bytes"))
      assert.ok(
        !["proc", "sysfs", "cgroup", "cgroup2", "devpts", "overlay"].includes(s.labels.fstype!),
        s.labels.fstype,
      );
    assert.ok(sample(f, "node_network_receive_bytes_total", { device: "lo" })! >= 0);
    const boot = sample(f, "node_boot_time_seconds")!;
    assert.ok(boot > 1e9 && boot < Date.now() / 1000);
    assert.ok(Math.abs(sample(f, "node_time_seconds")! - Date.now() / 1000) < 60);
    const uname = samples(f, "node_uname_info")[0]!;
    assert.equal(uname.labels.sysname, "Linux");
    assert.ok(uname.labels.release && uname.labels.machine && uname.labels.nodename);
    assert.equal(sample(f, "kali_agents_exporter_collector_success", { collector: "host" }), 1);
    assert.ok(sample(f, "process_resident_memory_bytes")! > 0, "prom-client's default process metrics");
    assert.equal(sample(f, "kali_agents_exporter_build_info", { version: "0.1.0" }), 1);

    // CPU seconds grow between two scrapes (keep one core busy so they must; the kernel counts ticks of
    // 10 ms, so it is waited for rather than assumed after a fixed time).
    const sum = (fams: typeof f) => samples(fams, "node_cpu_seconds_total").reduce((a, s) => a + s.value, 0);
    let second = f;
    await waitFor(
      "node_cpu_seconds_total to grow",
      async () => {
        const until = Date.now() + 100;
        while (Date.now() < until) Math.sqrt(Math.random());
        second = (await scrape(`${m.url}/metrics`)).families;
        return sum(second) > sum(f);
      },
      10_000,
      0,
    );
    const userBefore = sample(f, "node_cpu_seconds_total", { cpu: "0", mode: "user" })!;
    assert.ok(sample(second, "node_cpu_seconds_total", { cpu: "0", mode: "user" })! >= userBefore);
  });

  test(
    "promtool check metrics finds no error, and only upstream exporters' own naming in its lint",
    {
      skip: requireBinaries("promtool"),
    },
    async () => {
      const { text } = await scrape(`${m.url}/metrics`);
      const r = spawnSync(findBinary("promtool")!, ["check", "metrics"], { input: text, encoding: "utf8" });
      // 0: clean; 3: lint problems only (1 would be a parse error).
      assert.ok(r.status === 0 || r.status === 3, `promtool exited ${r.status}: ${r.stderr}${r.stdout}`);
      const problems = (r.stdout + r.stderr).split("\n").filter((l) => l.trim() !== "");
      for (const p of problems)
        assert.match(
          p,
          // node_exporter's meminfo and netstat names are CamelCase upstream, and its entropy figures are
          // in bits (the names the community dashboards query); prom-client's nodejs_*_total are gauges.
          /^(node_(memory|netstat)_\w+ metric names should be written in 'snake_case' not 'camelCase'|node_entropy_\w+_bits use base unit "bytes" instead of "bits"|nodejs_\w+_total non-counter metrics should not have "_total" suffix)$/,
        );
    },
  );

  test("gzip when the client accepts it, plain otherwise", async () => {
    const gz = await rawGet(m.port, "/metrics", { "Accept-Encoding": "gzip, deflate" });
    assert.equal(gz.status, 200);
    assert.equal(gz.headers["content-encoding"], "gzip");
    assert.match(String(gz.headers.vary), /Accept-Encoding/);
    const text = gunzipSync(gz.body).toString("utf8");
    assert.ok(sample(parseExposition(text), "node_load1")! >= 0);
    const plain = await rawGet(m.port, "/metrics");
    assert.equal(plain.headers["content-encoding"], undefined);
    assert.ok(plain.body.toString("utf8").includes("# TYPE node_load1 gauge"));
    const cases: [string, string | undefined][] = [
      ["gzip;q=0, identity", undefined],
      ["gzip;q=0, *", undefined], // refused by name: the wildcard does not bring it back
      ["*", "gzip"],
      ["GZIP;q=0.5", "gzip"],
      ["br;q=1.0, gzip;q=0.8, *;q=0.1", "gzip"],
      ["deflate", undefined],
    ];
    for (const [accept, want] of cases) {
      const r = await rawGet(m.port, "/metrics", { "Accept-Encoding": accept });
      assert.equal(r.status, 200, accept);
      assert.equal(r.headers["content-encoding"], want, accept);
    }
  });

  test("HEAD /metrics answers headers only", async () => {
    const r = await rawGet(m.port, "/metrics", {}, "HEAD");
    assert.equal(r.status, 200);
    assert.equal(r.body.length, 0);
  });

  test("/health: the seed's shape with disk, memory and cpu, 200 when healthy or degraded", async () => {
    const res = await fetch(`${m.url}/health`);
    const body = (await res.json()) as {
      timestamp: string;
      status: string;
      checks: Record<string, Record<string, unknown>>;
    };
    assert.ok(!Number.isNaN(Date.parse(body.timestamp)));
    assert.ok(["healthy", "degraded"].includes(body.status), body.status);
    assert.equal(res.status, 200);
    assert.deepEqual(Object.keys(body.checks), ["disk", "memory", "cpu"]);
    const { disk, memory, cpu } = body.checks;
    assert.ok(["ok", "warning"].includes(String(disk!.status)));
    assert.ok(Number(disk!.used_percent) >= 0 && Number(disk!.used_percent) <= 100);
    assert.ok(Number(disk!.free_gb) >= 0);
    assert.ok(Number(memory!.used_percent) > 0 && Number(memory!.used_percent) <= 100);
    assert.ok(Number(memory!.available_gb) > 0);
    assert.ok(Number(cpu!.usage_percent) >= 0 && Number(cpu!.usage_percent) <= 100);
    assert.equal((cpu!.load_average as number[]).length, 3);
  });

  test("/-/healthy and /-/ready (ready once a collection completed)", async () => {
    const healthy = await fetch(`${m.url}/-/healthy`);
    assert.equal(healthy.status, 200);
    assert.equal(await healthy.text(), "Kali Agents exporter is Healthy.\n");
    assert.equal((await fetch(`${m.url}/-/ready`)).status, 200);
  });

  test("the index page links every endpoint", async () => {
    const res = await fetch(`${m.url}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /text\/html/);
    const html = await res.text();
    for (const href of ["metrics", "health", "-/healthy", "-/ready"])
      assert.ok(html.includes(`href="${href}"`), href);
  });

  test("unknown path 404, bad method 405 with Allow, both as JSON", async () => {
    const nf = await fetch(`${m.url}/nope`);
    assert.equal(nf.status, 404);
    assert.deepEqual(await nf.json(), {
      error: "no such path: /nope (try /, /metrics, /health, /-/healthy, /-/ready)",
      status: 404,
    });
    for (const path of ["/metrics", "/health", "/-/ready", "/"]) {
      const r = await fetch(`${m.url}${path}`, { method: "POST", body: "x" });
      assert.equal(r.status, 405, path);
      assert.equal(r.headers.get("allow"), "GET, HEAD");
      assert.deepEqual(await r.json(), { error: `method POST not allowed on ${path}`, status: 405 });
    }
    const del = await fetch(`${m.url}/metrics`, { method: "DELETE" });
    assert.equal(del.status, 405);
  });
});

describe("/health is unhealthy (503) when a check is down, degraded on a warning", () => {
  let state: "ok" | "warning" | "down" = "down";
  const db: Collector = {
    name: "postgres",
    registry: new Registry(),
    async collect() {},
    health: () => ({ database: { status: state, error: "connection refused" } }),
  };
  let m: Mounted;
  before(async () => {
    m = await mount(
      {
        HEALTH_DISK_WARN_PERCENT: "100",
        HEALTH_MEMORY_WARN_PERCENT: "100",
        HEALTH_CPU_WARN_PERCENT: "100",
        // The check's error string is shown only with the details on.
        EXPORTER_HEALTH_DETAILS: "true",
      },
      [db],
    );
  });
  after(() => m.close());
  test("down", async () => {
    const res = await fetch(`${m.url}/health`);
    assert.equal(res.status, 503);
    const body = (await res.json()) as { status: string; checks: Record<string, unknown> };
    assert.equal(body.status, "unhealthy");
    assert.deepEqual(Object.keys(body.checks), ["database", "disk", "memory", "cpu"]);
    assert.deepEqual(body.checks.database, { status: "down", error: "connection refused" });
  });
  test("warning", async () => {
    state = "warning";
    const res = await fetch(`${m.url}/health`);
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { status: string }).status, "degraded");
  });
  test("a threshold from the configuration turns a host check into a warning", async () => {
    const low = await mount({ HEALTH_MEMORY_WARN_PERCENT: "0.001" });
    after(() => low.close());
    const body = (await (await fetch(`${low.url}/health`)).json()) as {
      status: string;
      checks: { memory: { status: string } };
    };
    assert.equal(body.checks.memory.status, "warning");
    assert.equal(body.status, "degraded");
  });
});

describe("a failing handler answers a JSON 500 and logs one line", () => {
  test("a health contribution that throws", async () => {
    const broken: Collector = {
      name: "probes",
      registry: new Registry(),
      async collect() {},
      health: () => {
        throw new Error("boom");
      },
    };
    const m = await mount({}, [broken]);
    after(() => m.close());
    const res = await fetch(`${m.url}/health`);
    assert.equal(res.status, 500);
    assert.deepEqual(await res.json(), { error: "internal error: boom", status: 500 });
    const logged = m.lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.msg === "request failed");
    assert.equal(logged.length, 1);
    assert.deepEqual(logged[0]!.error, { name: "Error", message: "boom" });
    assert.equal(logged[0]!.path, "/health");
  });
});

describe("ready only after the first collection", () => {
  test("503 before, 200 after a scrape", async () => {
    const m = await mount({});
    after(() => m.close());
    const before = await fetch(`${m.url}/-/ready`);
    assert.equal(before.status, 503);
    assert.equal(((await before.json()) as { status: number }).status, 503);
    await scrape(`${m.url}/metrics`);
    assert.equal((await fetch(`${m.url}/-/ready`)).status, 200);
  });
});

describe("textfile metrics are merged into /metrics", () => {
  const dir = tempDir("server-textfile");
  after(() => rmSync(dir, { recursive: true, force: true }));
  test("job metrics from a file appear beside the host metrics", async () => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, "backup.prom"),
      '# HELP kali_agents_job_last_run_success Whether the job\'s last run succeeded (1) or failed (0).\n# TYPE kali_agents_job_last_run_success gauge\nkali_agents_job_last_run_success{job="backup"} 1\n',
    );
    const m = await mount({ EXPORTER_TEXTFILE_DIR: dir });
    after(() => m.close());
    const r = await scrape(`${m.url}/metrics`);
    assert.equal(sample(r.families, "kali_agents_job_last_run_success", { job: "backup" }), 1);
    assert.equal(sample(r.families, "node_textfile_scrape_error"), 0);
    assert.equal(sample(r.families, "kali_agents_exporter_collector_success", { collector: "textfile" }), 1);
    assert.ok(sample(r.families, "node_load1")! >= 0);
  });
});
