// The scrape orchestrator with collectors written for the test (hanging, throwing, slow, counting),
// through the real app on a free port: deadlines, the shared in-flight collection, and per-collector
// success and duration.
import assert from "node:assert/strict";
import type { Server } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { Gauge, Registry } from "prom-client";
import { exporterCollector } from "../src/collectors/exporter.ts";
import type { Collector, CollectContext } from "../src/collectors/types.ts";
import { createLogger } from "../../lib/log.ts";
import { Scraper, type ScheduledCollector } from "../src/scrape.ts";
import { createApp } from "../src/server.ts";
import { sample, scrape } from "../../test/support/exposition.ts";
import { sleep, waitFor } from "../../test/support/servers.ts";

type Behaviour = (ctx: CollectContext) => Promise<void>;

/** A collector named after one of the catalogue's (the orchestrator only needs a name and a registry). */
function testCollector(name: Collector["name"], behave: Behaviour) {
  const registry = new Registry();
  const g = new Gauge({ name: `test_${name}_value`, help: "test", registers: [registry] });
  const state = { calls: 0, failedMarks: 0, aborted: 0 };
  const collector: Collector = {
    name,
    registry,
    async collect(ctx) {
      state.calls++;
      ctx.signal.addEventListener("abort", () => state.aborted++);
      await behave(ctx);
      if (!ctx.signal.aborted) g.set(state.calls);
    },
    markFailed() {
      state.failedMarks++;
      g.reset();
    },
  };
  return { collector, state };
}

const never: Behaviour = () => new Promise(() => {});
const quick: Behaviour = async () => {};
const slow =
  (ms: number): Behaviour =>
  () =>
    sleep(ms);

interface Mounted {
  url: string;
  scraper: Scraper;
  lines: string[];
  close(): Promise<void>;
}

async function mount(
  collectors: ScheduledCollector[],
  opts: {
    defaultTimeoutSeconds?: number;
    marginSeconds?: number;
    failureLogRepeatSeconds?: number;
    minIntervalSeconds?: number;
    maxInFlight?: number;
  } = {},
): Promise<Mounted> {
  const lines: string[] = [];
  const log = createLogger({ level: "debug", write: (l) => lines.push(l) });
  const exporter = exporterCollector.create({ version: "test" }, log);
  const scraper = new Scraper({
    collectors,
    exporter,
    ...(opts.minIntervalSeconds !== undefined ? { minIntervalSeconds: opts.minIntervalSeconds } : {}),
    defaultTimeoutSeconds: opts.defaultTimeoutSeconds ?? 10,
    marginSeconds: opts.marginSeconds ?? 0.5,
    log,
    ...(opts.failureLogRepeatSeconds !== undefined
      ? { failureLogRepeatSeconds: opts.failureLogRepeatSeconds }
      : {}),
  });
  const app = createApp({
    scraper,
    collectors: collectors.map((c) => c.collector),
    log,
    healthTimeoutSeconds: 2,
    onRejected: () => exporter.requestRejected(),
    ...(opts.maxInFlight !== undefined ? { maxInFlight: opts.maxInFlight } : {}),
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  // The first request in a process pays for loading and compiling fetch and express's paths (half a
  // second on a loaded machine): pay it here, not inside a timed scrape.
  await (await fetch(`http://127.0.0.1:${port}/-/healthy`)).text();
  return {
    url: `http://127.0.0.1:${port}`,
    scraper,
    lines,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * How late a timer of `ms` fires in this process: the machine the tests share can be loaded enough
 * that every timer (the exporter's included, mounted in this process) fires late. Deadline assertions
 * allow that lateness, so they test the exporter and not the machine.
 */
function timerLateness(ms: number): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve) => setTimeout(() => resolve(Math.max(0, performance.now() - t0 - ms)), ms));
}
/**
 * Allowance on top of a timer's lateness for the request, the render and the response, which on a
 * machine loaded by parallel test runs (load average 17 on 2 cores seen) took up to half a second.
 * The timing bounds only rule out waiting for a hung collector; the success values are the sharp
 * checks (a scrape that waited for a collector would report it 1).
 */
const SLACK_MS = 1000;

const success = (fams: Parameters<typeof sample>[0], collector: string) =>
  sample(fams, "kali_agents_exporter_collector_success", { collector });

describe("a hanging collector", () => {
  // Hangs on its first call until released, then answers at once.
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const hanging = testCollector("postgres", () => (hanging.state.calls === 1 ? gate : Promise.resolve()));
  const fine = testCollector("host", quick);
  const failing = testCollector("redis", async () => {
    throw new Error("connection refused");
  });
  let m: Mounted;
  before(async () => {
    // The configured scrape timeout is the collectors' deadline: 1 s.
    m = await mount(
      [
        { collector: hanging.collector, budgetMs: 30_000 },
        { collector: fine.collector, budgetMs: 30_000 },
        { collector: failing.collector, budgetMs: 30_000 },
      ],
      { defaultTimeoutSeconds: 1 },
    );
  });
  after(() => m.close());

  test("the scrape answers at the collection's deadline; the hung collector gives 0, the others publish", async () => {
    // Prometheus says 1.5 s; less the 0.5 s margin, it waits 1 s: the collection's deadline.
    const late = timerLateness(1000);
    const r = await scrape(`${m.url}/metrics`, { "X-Prometheus-Scrape-Timeout-Seconds": "1.5" });
    assert.equal(r.status, 200);
    assert.ok(r.ms >= 950, `answered after ${r.ms} ms, before the 1 s deadline it should have waited for`);
    const allowed = 1000 + (await late) + SLACK_MS;
    assert.ok(
      r.ms < allowed,
      `answered after ${r.ms} ms, past the 1 s deadline (+ ${allowed - 1000} ms lateness)`,
    );
    assert.equal(success(r.families, "postgres"), 0);
    assert.equal(success(r.families, "host"), 1);
    assert.equal(success(r.families, "redis"), 0);
    const d = sample(r.families, "kali_agents_exporter_collector_duration_seconds", {
      collector: "postgres",
    });
    assert.ok(d !== undefined && d >= 0.9 && d < 1.5, `postgres duration ${d}`);
    assert.equal(sample(r.families, "test_host_value"), 1);
    assert.equal(
      sample(r.families, "test_postgres_value"),
      0,
      "markFailed() reset the failed collector metrics",
    );
    assert.equal(hanging.state.aborted, 1, "the hung collector's signal was aborted");
    assert.equal(hanging.state.failedMarks, 1);
    assert.equal(failing.state.failedMarks, 1);
    const logged = m.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const failures = logged.filter((l) => l.msg === "collector failed");
    assert.deepEqual(failures.map((l) => l.collector).sort(), ["postgres", "redis"]);
    assert.equal(failures.find((l) => l.collector === "redis")?.error, "connection refused");
    assert.match(
      String(failures.find((l) => l.collector === "postgres")?.error),
      /^overran its deadline of (0\.99\d|1\.00\d) s$/,
    );
  });

  test("a collector still hung from the last collection is not called again, and recovers when it returns", async () => {
    const callsBefore = hanging.state.calls;
    const r = await scrape(`${m.url}/metrics`, { "X-Prometheus-Scrape-Timeout-Seconds": "1" });
    assert.equal(hanging.state.calls, callsBefore, "collect() was called again while the first call hangs");
    assert.equal(success(r.families, "postgres"), 0);
    assert.equal(success(r.families, "host"), 1);
    assert.ok(
      m.lines.some((l) => l.includes("its previous collection is still running past its deadline")),
      "the reason was logged",
    );
    release();
    // The hung call settles, and the scraper forgets it, in promise callbacks only (no I/O, no timer):
    // all of them have run by the next turn of the event loop.
    await new Promise((r) => setImmediate(r));
    const recovered = await scrape(`${m.url}/metrics`, { "X-Prometheus-Scrape-Timeout-Seconds": "1" });
    assert.equal(hanging.state.calls, callsBefore + 1);
    assert.equal(success(recovered.families, "postgres"), 1);
    assert.equal(sample(recovered.families, "test_postgres_value"), callsBefore + 1);
  });
});

describe("concurrent scrapes share one collection", () => {
  let calls = 0;
  const slowOne = testCollector("host", async () => {
    calls++;
    await sleep(1500);
  });
  let m: Mounted;
  before(async () => {
    m = await mount([{ collector: slowOne.collector, budgetMs: 5_000 }]);
  });
  after(() => m.close());

  test("20 concurrent scrapes: exactly one collection ran", async () => {
    const results = await Promise.all(Array.from({ length: 20 }, () => scrape(`${m.url}/metrics`)));
    assert.equal(calls, 1);
    for (const r of results) {
      assert.equal(r.status, 200);
      assert.equal(success(r.families, "host"), 1);
    }
    const after = await scrape(`${m.url}/metrics`);
    // The 21st scrape, after the first collection ended, started the second.
    assert.equal(sample(after.families, "kali_agents_exporter_collections_total"), 2);
    assert.equal(sample(after.families, "kali_agents_exporter_scrapes_total"), 21);
  });

  test("a joiner with a shorter deadline answers at its own deadline, the collection goes on for the others", async () => {
    const callsBefore = calls;
    const long = scrape(`${m.url}/metrics`, { "X-Prometheus-Scrape-Timeout-Seconds": "10" });
    await waitFor("the long scrape's collection to start", () => calls === callsBefore + 1, 10_000, 5);
    const late = timerLateness(100);
    const short = await scrape(`${m.url}/metrics`, { "X-Prometheus-Scrape-Timeout-Seconds": "0.6" });
    // 0.6 s less the 0.5 s margin: 0.1 s, well before the 1.5 s the collector needs.
    const allowed = 100 + (await late) + SLACK_MS;
    assert.ok(short.ms < allowed, `the joiner took ${short.ms} ms (allowed ${allowed})`);
    assert.equal(success(short.families, "host"), 0);
    assert.equal(
      sample(short.families, "test_host_value"),
      undefined,
      "an unfinished collector's metrics are left out",
    );
    const l = await long;
    assert.equal(success(l.families, "host"), 1);
    assert.equal(sample(l.families, "kali_agents_exporter_collections_total"), 3);
  });
});

describe("an answer that stops waiting for a collector", () => {
  // Regression: such an answer carried none of the running collector's series, so `pg_up == 0` alerts
  // saw nothing while PostgreSQL hung; a collector's pendingRegistry is published in their place.
  test("publishes the collector's pendingRegistry (its up metric at 0), not its stale registry", async () => {
    const { collector, state } = testCollector("postgres", never);
    const pendingRegistry = new Registry();
    new Gauge({ name: "test_postgres_up", help: "test", registers: [pendingRegistry] }).set(0);
    const m = await mount([{ collector: { ...collector, pendingRegistry }, budgetMs: 5000 }], {
      defaultTimeoutSeconds: 2.5,
    });
    try {
      const long = scrape(`${m.url}/metrics`, { "X-Prometheus-Scrape-Timeout-Seconds": "3" });
      await waitFor("the long scrape's collection to start", () => state.calls === 1, 2_000, 5);
      const short = await scrape(`${m.url}/metrics`, { "X-Prometheus-Scrape-Timeout-Seconds": "0.6" });
      assert.equal(success(short.families, "postgres"), 0);
      assert.equal(sample(short.families, "test_postgres_up"), 0);
      assert.equal(sample(short.families, "test_postgres_value"), undefined);
      // The collection's own answer, at its deadline, is the collector's failed state (markFailed).
      const l = await long;
      assert.equal(success(l.families, "postgres"), 0);
      assert.equal(sample(l.families, "test_postgres_up"), undefined);
    } finally {
      await m.close();
    }
  });
});

describe("deadlines", () => {
  test("a client's wait: the header less the margin, half a header shorter than the margin, within [0.25 s, the default]", async () => {
    const m = await mount([], { defaultTimeoutSeconds: 7, marginSeconds: 0.5 });
    after(() => m.close());
    assert.equal(m.scraper.timeoutMs("5"), 4500);
    assert.equal(m.scraper.timeoutMs("1.5"), 1000);
    // A longer header cannot lengthen the wait past the configured timeout, a shorter one not below 0.25 s.
    assert.equal(m.scraper.timeoutMs("10"), 7000);
    assert.equal(m.scraper.timeoutMs("0.4"), 250);
    assert.equal(m.scraper.timeoutMs("0.000001"), 250);
    assert.equal(m.scraper.timeoutMs(undefined), 7000);
    assert.equal(m.scraper.timeoutMs("garbage"), 7000);
    assert.equal(m.scraper.timeoutMs("-3"), 7000);
  });

  test("a collector's own budget cuts it shorter than the scrape deadline", async () => {
    const a = testCollector("probes", slow(2_000));
    const b = testCollector("host", slow(100));
    const m = await mount([
      { collector: a.collector, budgetMs: 300 },
      { collector: b.collector, budgetMs: 5_000 },
    ]);
    after(() => m.close());
    const late = timerLateness(300);
    const r = await scrape(`${m.url}/metrics`, { "X-Prometheus-Scrape-Timeout-Seconds": "10" });
    const allowed = 300 + (await late) + SLACK_MS;
    assert.ok(r.ms < allowed, `took ${r.ms} ms (allowed ${allowed}): the 300 ms budget was not applied`);
    assert.equal(success(r.families, "probes"), 0);
    assert.equal(success(r.families, "host"), 1);
    const last = m.scraper.lastCollection();
    assert.equal(last?.collectors.probes?.success, false);
    assert.match(last?.collectors.probes?.error ?? "", /overran its deadline of 0\.300 s/);
    assert.equal(last?.collectors.host?.success, true);
  });

  test("without the header, the configured default applies", async () => {
    const a = testCollector("host", never);
    const m = await mount([{ collector: a.collector, budgetMs: 30_000 }], { defaultTimeoutSeconds: 0.4 });
    after(() => m.close());
    const late = timerLateness(400);
    const r = await scrape(`${m.url}/metrics`);
    const allowed = 400 + (await late) + SLACK_MS;
    assert.ok(r.ms >= 350 && r.ms < allowed, `took ${r.ms} ms (allowed ${allowed})`);
    assert.equal(success(r.families, "host"), 0);
  });
});

describe("odd failures", () => {
  test("a collector that rejects with no error value (undefined) is still a failure", async () => {
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the case under test
    const odd = testCollector("redis", () => Promise.reject(undefined));
    const m = await mount([{ collector: odd.collector, budgetMs: 5_000 }]);
    after(() => m.close());
    const r = await scrape(`${m.url}/metrics`);
    assert.equal(success(r.families, "redis"), 0);
    assert.equal(m.scraper.lastCollection()?.collectors.redis?.error, "undefined");
    assert.equal(odd.state.failedMarks, 1);
  });
  test("a collector whose collect() throws before returning a promise is a failure, the others publish", async () => {
    const syncThrow: Collector = {
      name: "scans",
      registry: new Registry(),
      collect: () => {
        throw new Error("not even a promise");
      },
    };
    const fine = testCollector("host", quick);
    const m = await mount([
      { collector: syncThrow, budgetMs: 5_000 },
      { collector: fine.collector, budgetMs: 5_000 },
    ]);
    after(() => m.close());
    const r = await scrape(`${m.url}/metrics`);
    assert.equal(success(r.families, "scans"), 0);
    assert.equal(success(r.families, "host"), 1);
    assert.equal(m.scraper.lastCollection()?.collectors.scans?.error, "not even a promise");
  });
});

describe("the failure log", () => {
  test("a collector failing on every scrape is logged once, then its recovery once", async () => {
    let down = true;
    const flaky = testCollector("redis", async () => {
      if (down) throw new Error("connect ECONNREFUSED 127.0.0.1:6379");
    });
    const m = await mount([{ collector: flaky.collector, budgetMs: 5_000 }]);
    after(() => m.close());
    for (let i = 0; i < 5; i++)
      assert.equal(success((await scrape(`${m.url}/metrics`)).families, "redis"), 0);
    down = false;
    for (let i = 0; i < 2; i++)
      assert.equal(success((await scrape(`${m.url}/metrics`)).families, "redis"), 1);
    const logged = m.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const about = logged.filter((l) => l.collector === "redis");
    assert.deepEqual(
      about.map((l) => [l.level, l.msg]),
      [
        ["warn", "collector failed"],
        ["info", "collector recovered"],
      ],
      "five failures and two successes make two lines",
    );
    assert.equal(about[0]?.error, "connect ECONNREFUSED 127.0.0.1:6379");
    assert.equal(about[0]?.logger, "exporter.redis");
    assert.equal(about[1]?.failures, 5);
    assert.equal(typeof about[1]?.failed_for_seconds, "number");
  });

  test("with a repeat interval of 0, every failure is a line that counts the run", async () => {
    const failing = testCollector("scans", () => Promise.reject(new Error("relation does not exist")));
    const m = await mount([{ collector: failing.collector, budgetMs: 5_000 }], {
      failureLogRepeatSeconds: 0,
    });
    after(() => m.close());
    for (let i = 0; i < 3; i++) await scrape(`${m.url}/metrics`);
    const lines = m.lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.msg === "collector failed");
    assert.deepEqual(
      lines.map((l) => l.failures),
      [undefined, 2, 3],
    );
  });
});

describe("under abuse", () => {
  test("requests pipelined on one connection are handled one after the other", async () => {
    // Node.js parses every pipelined request at once; handled concurrently they all joined (and each
    // rendered and gzipped) one collection. One at a time, each waits for the previous answer.
    let running = 0;
    let most = 0;
    const c = testCollector("host", async () => {
      most = Math.max(most, ++running);
      await sleep(100);
      running--;
    });
    const m = await mount([{ collector: c.collector, budgetMs: 5000 }]);
    after(() => m.close());
    const port = Number(new URL(m.url).port);
    const answers = await new Promise<number>((resolve) => {
      let text = "";
      const socket = connect(port, "127.0.0.1", () =>
        socket.write("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".repeat(3)),
      );
      socket.setEncoding("utf8");
      socket.on("data", (d: string) => {
        text += d;
        const n = text.match(/HTTP\/1\.1 200 /g)?.length ?? 0;
        if (n === 3) {
          socket.destroy();
          resolve(n);
        }
      });
    });
    assert.equal(answers, 3);
    assert.equal(c.state.calls, 3, "each pipelined request had its own collection (one after the other)");
    assert.equal(most, 1);
  });

  test("a collection younger than the minimum interval is reused", async () => {
    const c = testCollector("host", quick);
    const m = await mount([{ collector: c.collector, budgetMs: 5000 }], { minIntervalSeconds: 30 });
    after(() => m.close());
    for (let i = 0; i < 10; i++) assert.equal((await scrape(`${m.url}/metrics`)).status, 200);
    assert.equal(c.state.calls, 1, "ten back-to-back scrapes, one collection");
  });

  test("beyond maxInFlight requests at once: 503 with Retry-After, counted", async () => {
    const c = testCollector("host", slow(500));
    const m = await mount([{ collector: c.collector, budgetMs: 5000 }], { maxInFlight: 2 });
    after(() => m.close());
    const answers = await Promise.all(
      Array.from({ length: 5 }, () =>
        fetch(`${m.url}/metrics`).then(async (r) => ({ r, body: await r.text() })),
      ),
    );
    const codes = answers.map((a) => a.r.status).sort();
    assert.deepEqual(codes, [200, 200, 503, 503, 503]);
    for (const a of answers.filter((x) => x.r.status === 503)) {
      assert.equal(a.r.headers.get("retry-after"), "1");
      assert.match(a.body, /too many requests in flight \(at most 2\)/);
    }
    const after3 = await scrape(`${m.url}/metrics`);
    assert.equal(sample(after3.families, "kali_agents_exporter_requests_rejected_total"), 3);
  });
});
