// Many hosts, one view, with real processes: two edge hosts, each with its own PostgreSQL, Redis, demo
// API and exporter, and its own Prometheus started from the generated
// deploy/remote-write/edge-central-prometheus.yml; both remote_write to a central Prometheus started
// from deploy/remote-write/central-prometheus.yml with --web.enable-remote-write-receiver, which
// evaluates the generated rules (prometheus/rules/generated/, unchanged).
//
// What is changed for the test, and only that (each change is printed):
// - edges: targets to the local ports (test/e2e/prometheus-config.ts), the promtail and self-scrape
//   jobs removed; the instance label set back to the compose target name ("exporter:9839",
//   "demo:8000"), so both hosts have the same instance as two compose hosts would: only the host label
//   tells them apart; remote_write URL to the local central (https://127.0.0.1:<port>, the certificate
//   names that address too), its credential files to the test's, batch_send_deadline 1s (default 5s);
// - central: rule_files to absolute paths, no Alertmanager (alerts are read from its API), no scrape jobs;
//   served over TLS with basic auth (--web.config.file: a certificate signed by a CA openssl makes here,
//   a user per edge and one for the test's queries), as deploy/remote-write/README.md describes;
// - each demo API answers 10% of requests with 500 (POST /chaos), so the error-rate panels have data;
// - scrape and evaluation intervals 2s instead of 15s. The host label comes from HOST_NAME through
//   Prometheus' own ${VAR} expansion in external labels, as the generated file has it.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parse, stringify } from "yaml";
import { allPromQueries } from "../../dashboards/src/queries.ts";
import { hostValuesQuery } from "../../dashboards/src/host-variable.ts";
import { centralHost, hostNameVariable, outputDir } from "../../deploy/src/remote-write.ts";
import { bcryptHash } from "../../lib/bcrypt.ts";
import { hostLabel, jobs, recordings } from "../../definitions/selectors.ts";
import {
  freePort,
  requireBinaries,
  startPostgres,
  startPrometheus,
  startRedis,
  tempDir,
  waitFor,
  type HttpServer,
  type PostgresServer,
  type RedisServer,
} from "../support/servers.ts";
import { demoWiring, startNode, type NodeProcess } from "./node-process.ts";
import { retimeRuleFiles, rewritePrometheusConfig } from "./prometheus-config.ts";

const root = new URL("../..", import.meta.url).pathname;
/**
 * Scrape and evaluation interval. 2s, not 1s: the scrape timeout cannot exceed the interval, and on a
 * loaded machine a scrape over 1s fails, which writes stale markers and resets the alert's `for`.
 */
const INTERVAL = "2s";
/** $__rate_interval for a 2s scrape interval: 4 x the interval, plus 2s for remote_write's batching. */
const RATE_INTERVAL = "10s";
const hostNames = ["edge-a", "edge-b"] as const;
type HostName = (typeof hostNames)[number];

type Obj = Record<string, unknown>;
interface PromVector {
  metric: Record<string, string>;
  value: [number, string];
}

/** The central Prometheus' TLS and users, made by openssl and lib/bcrypt.ts in a folder of the test. */
interface CentralTls {
  dir: string;
  ca: string;
  webConfig: string;
  passwords: Record<string, string>;
}
function makeCentralTls(dir: string, users: readonly string[]): CentralTls {
  const openssl = (...args: string[]) => {
    const r = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
    assert.equal(r.status, 0, `openssl ${args.join(" ")}: ${r.stderr}`);
  };
  openssl(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "1",
    "-subj",
    "/CN=kali test CA",
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
  );
  openssl(
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-subj",
    `/CN=${centralHost}`,
    "-keyout",
    "central.key",
    "-out",
    "central.csr",
  );
  writeFileSync(join(dir, "san.ext"), `subjectAltName = DNS:${centralHost}, IP:127.0.0.1\n`);
  openssl(
    "x509",
    "-req",
    "-in",
    "central.csr",
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-days",
    "1",
    "-extfile",
    "san.ext",
    "-out",
    "central.crt",
  );
  const passwords = Object.fromEntries(
    users.map((u) => [u, `pw-${u}-${Math.random().toString(36).slice(2)}`]),
  );
  const webConfig = join(dir, "web.yml");
  writeFileSync(
    webConfig,
    stringify({
      tls_server_config: { cert_file: join(dir, "central.crt"), key_file: join(dir, "central.key") },
      basic_auth_users: Object.fromEntries(Object.entries(passwords).map(([u, p]) => [u, bcryptHash(p, 6)])),
    }),
  );
  return { dir, ca: join(dir, "ca.crt"), webConfig, passwords };
}

/** A request to the central Prometheus over TLS (its CA) as `user`; status and body. */
function centralRequest(
  tls: CentralTls,
  port: number,
  path: string,
  opts: {
    user?: string;
    password?: string;
    method?: string;
    body?: Uint8Array;
    headers?: Record<string, string>;
  } = {},
): Promise<{ status: number; body: string }> {
  const user = opts.user ?? "reader";
  const password = opts.password ?? tls.passwords[user]!;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path,
        method: opts.method ?? "GET",
        ca: readFileSync(tls.ca),
        headers: {
          authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`,
          ...opts.headers,
        },
        timeout: 10_000,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error(`${path}: timed out`)));
    req.end(opts.body);
  });
}

interface Edge {
  name: HostName;
  pg: PostgresServer;
  redis: RedisServer;
  demo: NodeProcess;
  exporter: NodeProcess;
  prom: HttpServer;
}

/** Where compose's Prometheus finds each job: the instance label both edges keep. */
function composeInstances(): Record<string, string> {
  const edge = parse(readFileSync(join(root, outputDir, "edge-central-prometheus.yml"), "utf8")) as Obj;
  const out: Record<string, string> = {};
  for (const job of edge.scrape_configs as Obj[]) {
    const name = String(job.job_name);
    const stat = (job.static_configs as { targets: string[] }[] | undefined)?.[0]?.targets[0];
    if (stat) out[name] = stat;
    for (const sd of (job.file_sd_configs ?? []) as { files: string[] }[]) {
      const file = parse(readFileSync(join(root, "prometheus", sd.files[0]!), "utf8")) as {
        targets: string[];
      }[];
      out[name] = file[0]!.targets[0]!;
    }
  }
  return out;
}

describe(
  "many hosts, one view: two edge Prometheus servers remote_write to a central one",
  { skip: requireBinaries("postgres", "initdb", "redis-server", "redis-cli", "prometheus") },
  () => {
    const edges: Edge[] = [];
    let central: HttpServer;
    const started = Date.now();
    const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;
    const scratch: string[] = [];
    let tls: CentralTls;
    const centralGet = async <T>(path: string): Promise<T> => {
      const r = await centralRequest(tls, central.port, path);
      if (r.status !== 200) throw new Error(`${path}: ${r.status} ${r.body}`);
      return JSON.parse(r.body) as T;
    };

    const query = async (expr: string): Promise<PromVector[]> => {
      const body = await centralGet<{ status: string; error?: string; data: { result: PromVector[] } }>(
        `/api/v1/query?query=${encodeURIComponent(expr)}`,
      );
      if (body.status !== "success") throw new Error(`${expr}: ${body.error}`);
      return body.data.result;
    };
    const hostsOf = (v: PromVector[]) => [...new Set(v.map((s) => s.metric[hostLabel] ?? ""))].sort();

    interface Host {
      name: HostName;
      pg: PostgresServer;
      redis: RedisServer;
      demo: NodeProcess;
      exporter: NodeProcess;
      apiPort: number;
      exporterPort: number;
    }

    /** One host's PostgreSQL, Redis, demo API and exporter (the hosts start side by side). */
    async function startHost(name: HostName): Promise<Host> {
      const [pg, redis] = await Promise.all([
        startPostgres(),
        startRedis({ args: ["--maxmemory", "256mb"] }),
      ]);
      const [apiPort, mcp1, mcp2, exporterPort] = await Promise.all([
        freePort(),
        freePort(),
        freePort(),
        freePort(),
      ]);
      const logDir = tempDir(`multi-host-logs-${name}`);
      scratch.push(logDir);
      const wiring = demoWiring({
        databaseUrl: pg.url,
        redisUrl: redis.url,
        apiPort,
        mcpPorts: [mcp1, mcp2],
      });
      const demo = startNode(`demo ${name}`, "demo/src/main.ts", {
        ...wiring.demo,
        DEMO_LOG_DIR: logDir,
        DEMO_SCAN_INTERVAL_SECONDS: "0.2",
        DEMO_SCAN_TIME_SCALE: "0.005",
        DEMO_MAX_RUNNING_SCANS: "8",
        DEMO_TRAFFIC_RPS: "10",
      });
      const textfileDir = tempDir(`multi-host-textfile-${name}`);
      scratch.push(textfileDir);
      const exporter = startNode(`exporter ${name}`, "exporter/src/main.ts", {
        EXPORTER_LISTEN_ADDRESS: `127.0.0.1:${exporterPort}`,
        ...wiring.exporter,
        EXPORTER_TEXTFILE_DIR: textfileDir,
      });
      // Some 5xx, so the error-rate panels have data (the demo answers none in its normal mode).
      const demoUrl = `http://127.0.0.1:${apiPort}`;
      await waitFor(`the demo API of ${name}`, async () => {
        if (demo.exited()) throw new Error(`demo ${name} exited:\n${demo.output()}`);
        return (await fetch(`${demoUrl}/health`)).ok;
      });
      const chaos = await fetch(`${demoUrl}/chaos`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ mode: "error-burst", errorRatio: 0.1, durationSeconds: 600 }),
      });
      assert.equal(chaos.status, 200, await chaos.text());
      return { name, pg, redis, demo, exporter, apiPort, exporterPort };
    }

    /** The host's edge Prometheus, from the generated edge configuration. */
    async function startEdge(host: Host, centralPort: number): Promise<Edge> {
      const centralUrl = `https://127.0.0.1:${centralPort}`;
      const { name, apiPort, exporterPort } = host;

      const generated = join(root, outputDir, "edge-central-prometheus.yml");
      const rewritten = rewritePrometheusConfig(readFileSync(generated, "utf8"), {
        configPath: generated,
        targets: { [jobs.exporter]: `127.0.0.1:${exporterPort}`, [jobs.api]: `127.0.0.1:${apiPort}` },
        // Promtail cannot run here; the edge's self-scrape is left out (its port is known only once it runs).
        removeJobs: [jobs.promtail, jobs.prometheus],
        // The edge has no alerting block (the central Prometheus evaluates the rules): nothing to point.
        alertmanager: "unused:9093",
        scrapeInterval: INTERVAL,
        evaluationInterval: INTERVAL,
      });
      const doc = parse(rewritten.yaml) as Obj;
      const changes = [...rewritten.changes];
      const instances = composeInstances();
      for (const job of doc.scrape_configs as Obj[]) {
        const instance = instances[String(job.job_name)];
        if (!instance) throw new Error(`no compose target for job ${String(job.job_name)}`);
        job.relabel_configs = [{ target_label: "instance", replacement: instance }];
        changes.push(`job ${String(job.job_name)}: instance -> ${instance} (as on every compose host)`);
      }
      const [rw] = doc.remote_write as Obj[];
      assert.ok(rw, "the generated edge configuration has a remote_write entry");
      changes.push(`remote_write ${String(rw.url)} -> ${centralUrl}/api/v1/write, batch_send_deadline 1s`);
      rw.url = `${centralUrl}/api/v1/write`;
      // The generated credential files (compose: secrets/prometheus/), here this edge's own user and the test's CA.
      const secrets = tempDir(`edge-${name}`);
      scratch.push(secrets);
      writeFileSync(join(secrets, "username"), name);
      writeFileSync(join(secrets, "password"), tls.passwords[name]!);
      const auth = rw.basic_auth as { username_file: string; password_file: string };
      const tlsConfig = rw.tls_config as { ca_file: string };
      assert.ok(
        auth?.username_file && auth.password_file && tlsConfig?.ca_file,
        "credentials and CA from files",
      );
      assert.match(String(rw.url), /^https:/);
      changes.push(
        `remote_write credentials ${auth.username_file}, ${auth.password_file}, ${tlsConfig.ca_file} -> the test's files`,
      );
      rw.basic_auth = { username_file: join(secrets, "username"), password_file: join(secrets, "password") };
      rw.tls_config = { ca_file: tls.ca };
      rw.queue_config = { ...(rw.queue_config as Obj), batch_send_deadline: "1s" };
      // Prometheus reads HOST_NAME from its environment, which it takes from this process when spawned
      // (startPrometheus passes process.env): set it around this one start only.
      const previous = process.env[hostNameVariable];
      process.env[hostNameVariable] = name;
      let prom: HttpServer;
      try {
        prom = await startPrometheus(stringify(doc, { aliasDuplicateObjects: false }), {
          files: rewritten.files,
        });
      } finally {
        if (previous === undefined) delete process.env[hostNameVariable];
        else process.env[hostNameVariable] = previous;
      }
      for (const c of changes) console.log(`multi-host: ${name}: ${c}`);
      return { ...host, prom };
    }

    before(async () => {
      const centralSource = readFileSync(join(root, outputDir, "central-prometheus.yml"), "utf8");
      const doc = parse(centralSource) as Obj;
      doc.global = {
        ...(doc.global as Obj),
        scrape_interval: INTERVAL,
        scrape_timeout: INTERVAL,
        evaluation_interval: INTERVAL,
      };
      // The generated file sits where prometheus.yml goes: its rule globs are relative to prometheus/.
      const retimed = retimeRuleFiles(
        (doc.rule_files as string[]).map((f) => join(root, "prometheus", f)),
        INTERVAL,
      );
      doc.rule_files = retimed.paths;
      delete doc.alerting;
      doc.scrape_configs = [];
      console.log(
        `multi-host: central: rule_files -> absolute, alerting and scrape jobs removed, intervals ${INTERVAL}, --web.enable-remote-write-receiver; ${retimed.changes.join("; ")}`,
      );
      tls = makeCentralTls(tempDir("central-tls"), [...hostNames, "reader"]);
      scratch.push(tls.dir);
      const centralStarting = startPrometheus(stringify(doc, { aliasDuplicateObjects: false }), {
        args: ["--web.enable-remote-write-receiver", `--web.config.file=${tls.webConfig}`],
        files: retimed.files,
        ready: async (port) => (await centralRequest(tls, port, "/-/ready")).status === 200,
      });
      centralStarting.catch(() => {});
      const hosts = await Promise.all(hostNames.map(startHost));
      central = await centralStarting;
      // One edge Prometheus after the other: HOST_NAME is read from this process' environment at each spawn.
      for (const h of hosts) edges.push(await startEdge(h, central.port));
      await waitFor(
        "both hosts' exporter and API up at the central Prometheus",
        async () => {
          for (const e of edges) {
            if (e.exporter.exited()) throw new Error(`${e.exporter.name} exited:\n${e.exporter.output()}`);
            if (e.demo.exited()) throw new Error(`${e.demo.name} exited:\n${e.demo.output()}`);
          }
          // Both jobs of both hosts: the API's first scrape can arrive a batch after the exporter's.
          const up = await query(`up{job=~"${jobs.exporter}|${jobs.api}"} == 1`);
          return [jobs.exporter, jobs.api].every(
            (j) => hostsOf(up.filter((s) => s.metric.job === j)).join() === hostNames.join(),
          );
        },
        60_000,
        500,
      );
      console.log(`multi-host: both edges up at the central Prometheus after ${elapsed()}`);
    });

    after(async () => {
      await Promise.allSettled(edges.flatMap((e) => [e.demo.stop(), e.exporter.stop()]));
      await Promise.allSettled([
        central?.cleanup(),
        ...edges.flatMap((e) => [e.prom.cleanup(), e.pg.cleanup(), e.redis.cleanup()]),
      ]);
      for (const d of scratch) rmSync(d, { recursive: true, force: true });
      console.log(`multi-host: total ${elapsed()}`);
    });

    test("the central Prometheus takes remote writes over TLS from its users only", async () => {
      // An empty remote-write request (a snappy block of zero bytes): 204 with an edge's credentials.
      const write = (user: string, password?: string) =>
        centralRequest(tls, central.port, "/api/v1/write", {
          user,
          password,
          method: "POST",
          body: new Uint8Array([0]),
          headers: { "content-type": "application/x-protobuf", "content-encoding": "snappy" },
        });
      assert.equal((await write("edge-a")).status, 204);
      assert.equal((await write("edge-a", "wrong")).status, 401);
      assert.equal((await write("someone-else", "x")).status, 401);
      // Not in clear: plain HTTP gets no answer Prometheus would take (a TLS server refuses it).
      const plain = await fetch(`http://127.0.0.1:${central.port}/api/v1/write`, { method: "POST" }).then(
        (r) => r.status,
        (e: Error) => e.name,
      );
      assert.notEqual(plain, 204);
      assert.ok(plain === 400 || typeof plain === "string", `plain HTTP: ${plain}`);
    });

    test("each edge's series arrive with its host label, the instance the same on both", async () => {
      const up = await query(`up{job=~"${jobs.exporter}|${jobs.api}"}`);
      assert.deepEqual(hostsOf(up), [...hostNames]);
      for (const job of [jobs.exporter, jobs.api]) {
        const ofJob = up.filter((s) => s.metric.job === job);
        assert.equal(ofJob.length, 2, `${job}: ${JSON.stringify(ofJob.map((s) => s.metric))}`);
        assert.equal(new Set(ofJob.map((s) => s.metric.instance)).size, 1, `${job}: one instance name`);
      }
      // The edge's other external label arrives too: it is the same generated block.
      assert.ok(
        up.every((s) => s.metric.stack === "kali-agents"),
        "stack external label",
      );
    });

    test("the recording rules, evaluated on the central Prometheus, give one result per host", async () => {
      const perHost = [
        recordings.apiRequestRate,
        recordings.apiErrorRatio("5m"),
        recordings.apiErrorRatio("1h"),
        recordings.apiErrorBudgetRemaining,
        recordings.apiLatencyP95,
      ];
      let missing: string[] = [];
      await waitFor(
        "every API recording for both hosts",
        async () => {
          missing = [];
          for (const r of perHost) {
            const got = hostsOf(await query(r));
            if (got.join() !== hostNames.join()) missing.push(`${r}: ${got.join(",") || "none"}`);
          }
          return missing.length === 0;
        },
        30_000,
        500,
      ).catch(() => {});
      assert.deepEqual(missing, []);
      // One error ratio per host, not one for the two together (what `sum by (job)` gave before the host
      // label joined aggregationLabels).
      const ratios = await query(recordings.apiErrorRatio("5m"));
      assert.equal(ratios.length, 2, JSON.stringify(ratios.map((s) => s.metric)));
      const merged = await query(`sum by (job, instance) (rate(http_requests_total{job="${jobs.api}"}[1m]))`);
      assert.equal(merged.length, 1, "without host, the two hosts' API would be one series");
      console.log(
        `multi-host: ${perHost.length} API recordings, each with one series per host (${hostNames.join(", ")}) at ${elapsed()}`,
      );
    });

    test("every rule on the central Prometheus evaluates without error", async () => {
      type Rule = { name: string; health: string; lastError?: string };
      type Group = { name: string; rules: Rule[]; lastEvaluation: string };
      let groups: Group[] = [];
      await waitFor(
        "every rule evaluated once",
        async () => {
          groups = (await centralGet<{ data: { groups: Group[] } }>("/api/v1/rules")).data.groups;
          return groups.length > 0 && groups.every((g) => g.rules.every((r) => r.health !== "unknown"));
        },
        30_000,
        500,
      );
      const broken = groups.flatMap((g) =>
        g.rules
          .filter((r) => r.health !== "ok")
          .map((r) => `${g.name}/${r.name}: ${r.health} ${r.lastError ?? ""}`),
      );
      assert.deepEqual(broken, []);
      console.log(`multi-host: central: ${groups.length} rule groups, all rules ok`);
    });

    test("dashboard queries with the host variable return each host's data, and only with a host that exists", async () => {
      // The queries that read the exporter's and the API's series (and recordings on them): what an edge
      // sends. Prometheus' and Alertmanager's own metrics, the ops jobs' files, Loki's recordings and the
      // alerts annotation are not produced by these edges (none is scraped or run here).
      // The Operations scorecard reads the ops jobs' runs and the weekly report, which no edge runs.
      const onEdgeData = (expr: string, dashboard = "") =>
        dashboard !== "scorecard" &&
        !/prometheus_|alertmanager_|ALERTS|kali_agents:log_lines|job="(prometheus|alertmanager)"/.test(expr);
      const all = allPromQueries({ __rate_interval: RATE_INTERVAL, [hostLabel]: "edge-a" }).filter(
        (q) => !q.onJobMetrics,
      );
      const picked = all.filter((q) => onEdgeData(q.expr, q.dashboard));
      assert.ok(picked.length > 40, `${picked.length} queries on the edges' data`);
      await waitFor(
        "finished scans on both hosts",
        async () => hostsOf(await query(`rate(kali_agents_scans_total[${RATE_INTERVAL}])`)).length === 2,
        30_000,
        500,
      );
      const perHost = (host: string) =>
        allPromQueries({ __rate_interval: RATE_INTERVAL, [hostLabel]: host }).filter(
          (q) => !q.onJobMetrics && onEdgeData(q.expr, q.dashboard),
        );
      let problems: string[] = [];
      await waitFor(
        "every query to return data per host",
        async () => {
          problems = [];
          for (const host of hostNames) {
            for (const q of perHost(host)) {
              const got = await query(q.expr);
              if (got.length === 0) problems.push(`${host}: no data: ${q.dashboard} / ${q.panel}: ${q.expr}`);
              const other = got.filter(
                (s) => s.metric[hostLabel] !== undefined && s.metric[hostLabel] !== host,
              );
              if (other.length) problems.push(`${host}: another host's series: ${q.dashboard} / ${q.panel}`);
            }
          }
          return problems.length === 0;
        },
        20_000,
        2000,
      ).catch(() => {});
      assert.deepEqual(problems, []);
      // The variable's own query, as Grafana runs label_values(selector, label): the label values API.
      const lv = /^label_values\((.+), (\w+)\)$/.exec(hostValuesQuery);
      assert.ok(lv, hostValuesQuery);
      const values = await centralGet<{ data: string[] }>(
        `/api/v1/label/${lv[2]}/values?match[]=${encodeURIComponent(lv[1]!)}`,
      );
      assert.deepEqual(values.data, [...hostNames], `the $host variable lists: ${values.data.join(", ")}`);
      // And the matcher does filter: a host nobody has gives nothing, in every one of them.
      const leaking: string[] = [];
      for (const q of perHost("no-such-host")) {
        if ((await query(q.expr)).length > 0) leaking.push(`${q.dashboard} / ${q.panel}: ${q.expr}`);
      }
      assert.deepEqual(leaking, [], "queries that return data for a host that does not exist");
      const excused = all.length - picked.length;
      console.log(
        `multi-host: ${picked.length} dashboard queries return data for each of ${hostNames.join(", ")} and none for an unknown host; ${excused} read what these edges do not produce (platform metrics, alerts, Loki recordings, the ops jobs' scorecard); ${elapsed()}`,
      );
    });

    test("Redis stopped on one host: RedisDown fires for that host and not for the other", async () => {
      const [a, b] = edges as [Edge, Edge];
      const stoppedAt = Date.now();
      await a.redis.stop();
      const alerts = async (state: string) => query(`ALERTS{alertname="RedisDown", alertstate="${state}"}`);
      await waitFor("RedisDown pending", async () => (await alerts("pending")).length > 0, 20_000, 250);
      await waitFor("RedisDown firing", async () => (await alerts("firing")).length > 0, 150_000, 500).catch(
        async (e: Error) => {
          // Why not: a failed scrape of the exporter (stale markers) or a gap in redis_up resets the `for`.
          const sel = `{job="${jobs.exporter}", ${hostLabel}="${a.name}"}`;
          const seen: Record<string, string | undefined> = {};
          for (const expr of [
            `count_over_time(up${sel}[3m])`,
            `min_over_time(up${sel}[3m])`,
            `count_over_time(redis_up${sel}[3m])`,
          ])
            seen[expr] = (await query(expr))[0]?.value[1];
          throw new Error(
            `${e.message}; over 3m on ${a.name}: ${JSON.stringify(seen)}\n${a.exporter.output().slice(-3000)}`,
          );
        },
      );
      const firedAfter = (Date.now() - stoppedAt) / 1000;
      const firing = await alerts("firing");
      assert.deepEqual(
        firing.map((s) => s.metric[hostLabel]),
        [a.name],
        `firing: ${JSON.stringify(firing.map((s) => s.metric))}`,
      );
      const [alert] = firing;
      assert.equal(alert?.metric.severity, "critical");
      assert.equal(alert?.metric.instance, composeInstances()[jobs.exporter]);
      assert.deepEqual(await query(`ALERTS{alertname="RedisDown", ${hostLabel}="${b.name}"}`), []);
      const redisUp = await query(`redis_up{job="${jobs.exporter}"}`);
      assert.deepEqual(Object.fromEntries(redisUp.map((s) => [s.metric[hostLabel], s.value[1]])), {
        [a.name]: "0",
        [b.name]: "1",
      });
      console.log(
        `multi-host: Redis of ${a.name} stopped -> RedisDown{host="${a.name}"} firing on the central Prometheus after ${firedAfter.toFixed(1)}s (rule for 1m, intervals ${INTERVAL}); none for ${b.name}`,
      );
    });
  },
);
