// What users run, really run: `docker compose --profile demo up -d --wait` of compose.yaml, unchanged,
// with the images built by `npm run -s images -- build` (scripts/test.sh builds them before the tests),
// every service whose image can be had here (Grafana, Loki, Promtail and Alloy cannot: leftOut says
// why, and the test prints it). Then, each a test, what only containers can show: the targets and
// rules, the host seen through compose's mounts, the demo's scans counted, RedisDown delivered to the
// receivers' sinks and resolved, the ops jobs as the image's user, data kept across down/up, a killed
// exporter restarted, every healthcheck healthy.
//
// The project: a copy of the repository (compose.yaml byte for byte) under its own project name, plus
// test/containers/sink.compose.yaml, which adds only the receivers' sink. Alertmanager's config in the
// copy is the committed one rewritten for that sink as the native tests do
// (test/support/alertmanager-local.ts: PagerDuty's URL cannot come from a file, so the rewrite is the
// only way to keep its notifications on the compose network) with seconds for its group timings. Traffic: 127.0.0.1 and the project's
// containers only. Timings are printed (test/containers in docs/performance.md).
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, readdirSync, statfsSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parse, stringify } from "yaml";
import { localAlertmanagerConfig, localSecrets } from "../support/alertmanager-local.ts";
import { samples, scrape } from "../support/exposition.ts";
import { waitFor } from "../support/servers.ts";
import {
  acquireLock,
  checkPortsFree,
  composeDoc,
  composeText,
  copyRepository,
  docker,
  imageOf,
  leftOut,
  Project,
  removeStaleProjects,
  requireDocker,
  startedServices,
} from "./compose.ts";
import { ourImages, repoRoot, runtimeReads } from "./runtime-files.ts";

const skip = requireDocker();
const sinkUrl = "http://sink:8080";
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
const log = (msg: string) => console.log(`containers [${elapsed()}]: ${msg}`);

/** Prometheus and Alertmanager ask for basic auth (--web.config.file): the user admin, once up. */
let adminAuth: Record<string, string> = {};
async function json<T>(url: string): Promise<T> {
  const headers = url.startsWith("http://127.0.0.1:909") ? adminAuth : {};
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(10_000) }).catch((e: Error) => {
    throw new Error(`${url}: ${e.message} (${String((e.cause as Error | undefined)?.message ?? e.cause)})`);
  });
  if (!res.ok) throw new Error(`${url}: ${res.status}`);
  return (await res.json()) as T;
}

const promUrl = "http://127.0.0.1:9090";
type Vector = { metric: Record<string, string>; value: [number, string] }[];
async function promQuery(q: string, time?: number): Promise<Vector> {
  const u = new URL("/api/v1/query", promUrl);
  u.searchParams.set("query", q);
  if (time !== undefined) u.searchParams.set("time", String(time));
  return (await json<{ data: { result: Vector } }>(u.href)).data.result;
}

describe("the stack in containers (docker compose, compose.yaml unchanged)", { skip }, () => {
  let project: Project;
  let release: (() => void) | undefined;
  let sink: string;
  const timings: Record<string, number> = {};
  /** `sql` in `database` of the compose PostgreSQL, as its superuser: unaligned rows, fields split by a space. */
  const psql = (database: string, sql: string): string =>
    project.compose([
      ...["exec", "-T", "postgres", "psql", "-U", "kali_agents", "-d", database],
      ...["-At", "-F", " ", "-c", sql],
    ]).stdout;

  before(
    async () => {
      for (const [name, reason] of Object.entries(leftOut)) log(`left out: ${name}: ${reason}`);
      const missing = [...new Set(startedServices.map(imageOf))].filter(
        (img) => docker(["image", "inspect", img], { ok: false }).status !== 0,
      );
      if (missing.length) {
        throw new Error(
          `images missing: ${missing.join(", ")}; build them with npm run -s images -- build (bash scripts/test.sh does)`,
        );
      }
      release = await acquireLock(20 * 60_000);
      // compose.yaml publishes fixed ports: say which is taken rather than fail inside compose.
      removeStaleProjects();
      await checkPortsFree();
      const dir = copyRepository("kali-containers");
      assert.equal(
        readFileSync(join(dir, "compose.yaml"), "utf8"),
        composeText,
        "compose.yaml changed in the copy",
      );
      project = new Project(dir, `kali-containers-${process.pid}`, ["test/containers/sink.compose.yaml"]);
      wireReceivers(dir);
      log(`project ${project.name} in ${dir}; starting ${startedServices.join(", ")} and the sink`);
      const t0 = Date.now();
      project.compose(["up", "-d", "--wait", "--pull", "never", "--no-build", ...startedServices, "sink"], {
        timeoutMs: 10 * 60_000,
      });
      timings.upToHealthyMs = Date.now() - t0;
      const admin = readFileSync(join(dir, "secrets/web/admin_web_password"), "utf8");
      adminAuth = { authorization: `Basic ${Buffer.from(`admin:${admin}`).toString("base64")}` };
      log(`up --wait: all healthy in ${(timings.upToHealthyMs / 1000).toFixed(1)} s`);
      sink = `http://127.0.0.1:${project.port("sink", 8080)}`;
    },
    { timeout: 25 * 60_000 },
  );

  after(
    () => {
      if (project) {
        if (process.env.KEEP_CONTAINERS === "1")
          log(`KEEP_CONTAINERS=1: project ${project.name} left in ${project.dir}`);
        else project.remove();
      }
      release?.();
      log(`timings: ${JSON.stringify(timings)}`);
    },
    { timeout: 5 * 60_000 },
  );

  test("exactly Grafana, Loki, Promtail and Alloy are left out, by name", () => {
    const all = project
      .compose(["--profile", "alloy", "config", "--services"])
      .stdout.trim()
      .split("\n")
      .filter((s) => s !== "sink");
    assert.deepEqual(all.filter((s) => !startedServices.includes(s)).sort(), Object.keys(leftOut).sort());
  });

  test("every service with a healthcheck is healthy; secrets-init ran and exited 0", () => {
    const ps = project.ps();
    for (const s of startedServices) {
      const row = ps.get(s);
      assert.ok(row, `${s} has no container`);
      if (s === "secrets-init") {
        assert.equal(row.State, "exited");
        assert.equal(row.ExitCode, 0);
      } else if (composeDoc.services[s]!.healthcheck) {
        assert.equal(row.Health, "healthy", `${s}: ${row.State} ${row.Health}`);
      } else assert.fail(`${s} has no healthcheck and is not the one-shot secrets-init`);
    }
  });

  test("the files the programs read beside their code are in the images", () => {
    for (const { image, dockerfile } of ourImages) {
      const { reads, problems } = runtimeReads(repoRoot, dockerfile);
      assert.deepEqual(problems, []);
      for (const r of reads) {
        const res = docker(
          [
            "run",
            "--rm",
            "--network",
            "none",
            "--entrypoint",
            "node",
            image,
            "-e",
            `require("fs").accessSync(${JSON.stringify(r.imagePath)})`,
          ],
          { ok: false },
        );
        assert.equal(res.status, 0, `${image}: ${r.imagePath} (${r.source}:${r.line}): ${res.stderr.trim()}`);
      }
    }
  });

  test("every Prometheus target of a started service is up; the stack's rules are loaded", async () => {
    type Target = { labels: { job: string; instance: string }; health: string; lastError: string };
    const targets = async () =>
      (await json<{ data: { activeTargets: Target[] } }>(`${promUrl}/api/v1/targets?state=active`)).data
        .activeTargets;
    await waitFor(
      "every target scraped once",
      async () => (await targets()).every((t) => t.health !== "unknown"),
      90_000,
      1000,
    );
    const leftOutJobs = new Set(Object.keys(leftOut));
    const all = await targets();
    const down = all.filter((t) => t.health !== "up" && !leftOutJobs.has(t.labels.job));
    assert.deepEqual(
      down.map((t) => `${t.labels.job} ${t.labels.instance}: ${t.lastError}`),
      [],
    );
    // The left-out services' targets are the only ones down, each for its missing service.
    const jobs = new Set(all.map((t) => t.labels.job));
    for (const job of ["kali-agents-exporter", "kali-agents-api", "prometheus", "alertmanager"])
      assert.ok(jobs.has(job), job);
    for (const t of all.filter((t) => leftOutJobs.has(t.labels.job))) assert.equal(t.health, "down");

    type Group = {
      name: string;
      file: string;
      rules: { name: string; health: string; lastError?: string }[];
    };
    const groups = (await json<{ data: { groups: Group[] } }>(`${promUrl}/api/v1/rules`)).data.groups;
    const ruleDir = join(repoRoot, "prometheus/rules/generated");
    const expected = readdirSync(ruleDir)
      .filter((f) => f.endsWith(".yml"))
      .flatMap(
        (f) =>
          (parse(readFileSync(join(ruleDir, f), "utf8")) as { groups: { name: string; rules: unknown[] }[] })
            .groups,
      );
    assert.deepEqual(groups.map((g) => g.name).sort(), expected.map((g) => g.name).sort());
    assert.equal(
      groups.reduce((n, g) => n + g.rules.length, 0),
      expected.reduce((n, g) => n + g.rules.length, 0),
    );
    // Every group of an interval up to a minute evaluated without error (a group of a longer interval,
    // such as the documentation coverage's, has not run yet, so it counts when it has, and never as an error).
    let bad: string[] = [];
    await waitFor(
      "every rule evaluated without error",
      async () => {
        const gs = (
          await json<{ data: { groups: (Group & { interval: number })[] } }>(`${promUrl}/api/v1/rules`)
        ).data.groups;
        bad = gs.flatMap((g) =>
          g.rules
            .filter((r) => r.health === "err" || (r.health !== "ok" && g.interval <= 60))
            .map((r) => `${g.name}/${r.name}: ${r.health} ${r.lastError ?? ""}`),
        );
        return bad.length === 0;
      },
      90_000,
      2000,
    ).catch((e: Error) => assert.fail(`${e.message}: ${bad.join("; ")}`));
  });

  test("the exporter reads the host through compose's mounts: CPUs, memory, root filesystem", async () => {
    const { families } = await scrape("http://127.0.0.1:9839/metrics");
    const cpus = new Set(samples(families, "node_cpu_seconds_total").map((s) => s.labels.cpu));
    const hostCpus = readFileSync("/proc/stat", "utf8")
      .split("\n")
      .filter((l) => /^cpu\d+ /.test(l)).length;
    assert.equal(cpus.size, hostCpus);
    const memTotal = Number(/^MemTotal:\s+(\d+) kB/m.exec(readFileSync("/proc/meminfo", "utf8"))![1]) * 1024;
    assert.equal(samples(families, "node_memory_MemTotal_bytes")[0]?.value, memTotal);
    const root = statfsSync("/");
    const rootSize = root.blocks * root.bsize;
    const fs = samples(families, "node_filesystem_size_bytes", { mountpoint: "/" });
    assert.equal(fs.length, 1, `one root filesystem: ${JSON.stringify(fs)}`);
    assert.equal(fs[0]!.value, rootSize);
  });

  test("the scans the demo writes are counted by the exporter", async () => {
    const dbCounts = () => {
      const out = psql(
        "kali_agents",
        "SELECT tool, status, count(*) FROM public.scans WHERE finished_at IS NOT NULL GROUP BY 1, 2",
      );
      return new Map(
        out
          .trim()
          .split("\n")
          .filter(Boolean)
          .map((l) => {
            const [t, s, n] = l.split(" ");
            return [`${t} ${s}`, Number(n)];
          }),
      );
    };
    let before = new Map<string, number>();
    await waitFor(
      "finished scans in the demo's table",
      () => {
        before = dbCounts();
        return [...before.values()].reduce((a, b) => a + b, 0) >= 3;
      },
      120_000,
      2000,
    );
    const exported = async () => {
      const { families } = await scrape("http://127.0.0.1:9839/metrics");
      return new Map(
        samples(families, "kali_agents_scans_total").map((s) => [
          `${s.labels.tool} ${s.labels.status}`,
          s.value,
        ]),
      );
    };
    let seen = new Map<string, number>();
    await waitFor(
      "the exporter's counts to reach the table's",
      async () => {
        seen = await exported();
        return [...before].every(([k, n]) => (seen.get(k) ?? 0) >= n);
      },
      60_000,
      1000,
    );
    const afterCounts = dbCounts();
    for (const [k, n] of seen)
      assert.ok(n <= (afterCounts.get(k) ?? 0), `${k}: exported ${n} > ${afterCounts.get(k)} in the table`);
    log(`scans: table ${JSON.stringify([...before])}, exported ${JSON.stringify([...seen])}`);
  });

  test("docker compose stop redis: RedisDown reaches PagerDuty and Slack, and resolves after start", async () => {
    type Req = { at: number; path: string; body: string };
    // RedisDown in `state` at both receivers since `since`: PagerDuty's event action (trigger or
    // resolve) and Slack's title as the templates write it.
    const atBothSinks = async (since: number, state: "trigger" | "resolve") => {
      const rs = (await json<Req[]>(`${sink}/requests`)).filter(
        (r) => r.at >= since && r.body.includes("RedisDown"),
      );
      const pd = rs.some(
        (r) => r.path === "/pagerduty/pagerduty" && new RegExp(`"event_action":\\s*"${state}"`).test(r.body),
      );
      const slackTitle = state === "trigger" ? "[FIRING:" : "[RESOLVED] RedisDown";
      return pd && rs.some((r) => r.path === "/slack" && r.body.includes(slackTitle));
    };
    const t0 = Date.now();
    project.compose(["stop", "redis"]);
    try {
      await waitFor(
        "RedisDown at the PagerDuty and Slack sinks",
        () => atBothSinks(t0, "trigger"),
        5 * 60_000,
        2000,
      );
      timings.redisDownNotifiedMs = Date.now() - t0;
      log(`RedisDown delivered ${(timings.redisDownNotifiedMs / 1000).toFixed(1)} s after stop`);
    } finally {
      project.compose(["start", "redis"]);
    }
    const t1 = Date.now();
    await waitFor("RedisDown resolved at both sinks", () => atBothSinks(t1, "resolve"), 5 * 60_000, 2000);
    timings.redisResolvedMs = Date.now() - t1;
    log(`RedisDown resolved ${(timings.redisResolvedMs / 1000).toFixed(1)} s after start`);
  });

  test("docker compose run --rm ops: backup, verify, restore --target, dr-drill, report, as the image's user", () => {
    const user = project
      .compose(["run", "--rm", "--no-deps", "--entrypoint", "id", "ops", "-u"])
      .stdout.trim();
    assert.equal(user, "1000", "the ops image runs as node (1000)");
    for (const args of [
      ["backup"],
      ["verify"],
      ["restore", "--target", "kali_agents_restored"],
      ["dr-drill"],
      ["report", "--hours", "0.25"],
    ]) {
      const t = Date.now();
      const r = project.compose(["run", "--rm", "ops", ...args], { timeoutMs: 5 * 60_000 });
      timings[`ops ${args[0]}Ms`] = Date.now() - t;
      log(
        `ops ${args.join(" ")}: ok in ${((Date.now() - t) / 1000).toFixed(1)} s; ${r.stdout.trim().split("\n").at(-1)}`,
      );
    }
    // What the jobs wrote, seen from the running ops service: owned by the image's user.
    const listing = project.compose([
      "exec",
      "-T",
      "ops",
      "sh",
      "-c",
      "ls -ln /var/backups/kali-agents /var/lib/kali-agents/reports",
    ]).stdout;
    assert.match(listing, /\.dump\n/);
    assert.match(listing, /\.html\n/);
    for (const line of listing.split("\n").filter((l) => /^-/.test(l)))
      assert.match(line, /^\S+\s+\d+\s+1000\s+1000\s/, line);
    const tables = psql("kali_agents_restored", "SELECT count(*) FROM public.scans").trim();
    assert.ok(Number(tables) > 0, `restored scans: ${tables}`);
  });

  test("the exporter's process killed in its container: compose restarts it", async () => {
    const id = project.ps().get("exporter")!.ID;
    const inspect = () =>
      JSON.parse(docker(["inspect", id]).stdout)[0] as {
        RestartCount: number;
        State: { Pid: number; StartedAt: string };
      };
    const before = inspect();
    // SIGKILL from the host to the container's main process (node, PID 1 inside, which ignores a KILL sent
    // from within its own namespace), as the OOM killer or a crash ends it.
    process.kill(before.State.Pid, "SIGKILL");
    await waitFor(
      "the exporter restarted",
      () => inspect().RestartCount === before.RestartCount + 1,
      60_000,
      500,
    );
    await waitFor(
      "the exporter answering again",
      async () => (await fetch("http://127.0.0.1:9839/-/healthy")).ok,
      60_000,
      500,
    );
    await waitFor(
      "the exporter healthy again",
      () => project.ps().get("exporter")!.Health === "healthy",
      120_000,
      2000,
    );
  });

  // ---- least privilege, seen from inside the containers (docs/operations/security.md) ----

  /** Runs a node script in a service's container (its own node and node_modules), returns its JSON line. */
  function inContainer<T>(service: string, script: string): T {
    const out = project.compose(["exec", "-T", service, "node", "--input-type=module", "-e", script]).stdout;
    return JSON.parse(out.trim().split("\n").at(-1)!) as T;
  }
  /** What a service's network namespace gets from host:port: a TCP connection, or why not. */
  function reach(service: string, host: string, port: number): string {
    const id = project.ps().get(service)!.ID;
    const probe = `const s = require("net").connect(${port}, ${JSON.stringify(host)});
      s.setTimeout(3000, () => { console.log("timeout"); process.exit(0); });
      s.on("connect", () => { console.log("open"); process.exit(0); });
      s.on("error", (e) => { console.log(e.code); process.exit(0); });`;
    // A throwaway container in the service's network namespace: the same routes, whatever its image has.
    return docker(
      ["run", "--rm", "--network", `container:${id}`, "--entrypoint", "node", imageOf("ops"), "-e", probe],
      { timeoutMs: 60_000 },
    ).stdout.trim();
  }
  const ipOn = (service: string, network: string): string => {
    const id = project.ps().get(service)!.ID;
    const nets = (
      JSON.parse(docker(["inspect", id]).stdout)[0] as {
        NetworkSettings: { Networks: Record<string, { IPAddress: string }> };
      }
    ).NetworkSettings.Networks;
    const ip = nets[`${project.name}_${network}`]?.IPAddress;
    assert.ok(ip, `${service} has no address on ${network}: ${Object.keys(nets).join(", ")}`);
    return ip;
  };
  const networksOf = (service: string): string[] =>
    Object.keys(
      (
        JSON.parse(docker(["inspect", project.ps().get(service)!.ID]).stdout)[0] as {
          NetworkSettings: { Networks: Record<string, unknown> };
        }
      ).NetworkSettings.Networks,
    )
      .map((n) => n.slice(project.name.length + 1))
      .sort();

  test("the exporter connects as the monitoring role, reads the scans and cannot write", () => {
    const r = inContainer<Record<string, unknown>>(
      "exporter",
      `import pg from "pg"; import { readFileSync } from "node:fs";
       const c = new pg.Client({ connectionString: readFileSync("/run/secrets/exporter_database_url", "utf8").trim() });
       await c.connect();
       const who = (await c.query("SELECT current_user AS u, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS su")).rows[0];
       const scans = Number((await c.query("SELECT count(*) AS n FROM public.scans")).rows[0].n);
       const tryIt = async (sql) => { try { await c.query(sql); return "allowed"; } catch (e) { return e.code; } };
       const insert = await tryIt("INSERT INTO public.scans (tool, target) VALUES ('x', 'y')");
       const del = await tryIt("DELETE FROM public.scans");
       const program = await tryIt("COPY (SELECT 1) TO PROGRAM 'id'");
       await c.end();
       console.log(JSON.stringify({ ...who, scans, insert, del, program }));`,
    );
    log(`exporter's role: ${JSON.stringify(r)}`);
    assert.equal(r.u, "kali_agents_exporter");
    assert.equal(r.su, false);
    assert.ok((r.scans as number) >= 0);
    // 42501: insufficient_privilege.
    assert.deepEqual([r.insert, r.del, r.program], ["42501", "42501", "42501"]);
  });

  test("the demo Redis answers only with its password, which the exporter and the demo have", async () => {
    // From the host's published port and from inside the container alike: NOAUTH without the password.
    const anonymous = project.compose(["exec", "-T", "redis", "redis-cli", "ping"], { ok: false });
    assert.match(anonymous.stdout + anonymous.stderr, /NOAUTH/);
    const fromHost = await new Promise<string>((resolve, reject) => {
      const s = createConnection({ host: "127.0.0.1", port: 6379 }, () => s.write("PING\r\n"));
      s.once("data", (d) => {
        resolve(d.toString());
        s.destroy();
      });
      s.once("error", reject);
    });
    assert.match(fromHost, /^-NOAUTH/);
    assert.doesNotMatch(project.compose(["exec", "-T", "redis", "ps", "-o", "args"]).stdout, /requirepass/);
    const { families } = await scrape("http://127.0.0.1:9839/metrics");
    assert.equal(samples(families, "redis_up")[0]?.value, 1, "the exporter logs in with its URL's password");
    // The demo's scan queue lives in Redis: its health pings it with the password of its URL file.
    const demo = await json<{ checks: { redis: { status: string; error?: string } } }>(
      "http://127.0.0.1:8000/health",
    );
    assert.equal(demo.checks.redis.status, "ok", demo.checks.redis.error);
  });

  test("ops connects as its own role: backups and restores work (above), programs on the server do not", () => {
    const r = inContainer<Record<string, unknown>>(
      "ops",
      `import pg from "pg"; import { readFileSync } from "node:fs";
       const c = new pg.Client({ connectionString: readFileSync("/run/secrets/ops_database_url", "utf8").trim() });
       await c.connect();
       const who = (await c.query(\`SELECT current_user AS u, r.rolsuper AS su, r.rolcreatedb AS createdb,
           pg_has_role(current_user, 'pg_execute_server_program', 'MEMBER') AS programs,
           pg_has_role(current_user, 'pg_read_all_data', 'MEMBER') AS readall
         FROM pg_roles r WHERE r.rolname = current_user\`)).rows[0];
       const tryIt = async (sql) => { try { await c.query(sql); return "allowed"; } catch (e) { return e.code; } };
       const program = await tryIt("COPY (SELECT 1) TO PROGRAM 'id'");
       const file = await tryIt("SELECT pg_read_file('/etc/passwd')");
       const insert = await tryIt("INSERT INTO public.scans (tool, target) VALUES ('x', 'y')");
       await c.end();
       console.log(JSON.stringify({ ...who, program, file, insert }));`,
    );
    log(`ops' role: ${JSON.stringify(r)}`);
    assert.deepEqual(
      { u: r.u, su: r.su, createdb: r.createdb, programs: r.programs, readall: r.readall },
      { u: "kali_agents_ops", su: false, createdb: true, programs: false, readall: true },
    );
    assert.deepEqual([r.program, r.file, r.insert], ["42501", "42501", "42501"]);
  });

  test("from the demo's container: Prometheus' lifecycle and remote write refused, Alertmanager and Loki unreachable", () => {
    const r = inContainer<Record<string, string>>(
      "demo",
      `const call = async (method, url) => {
         try { return String((await fetch(url, { method, signal: AbortSignal.timeout(5000) })).status); }
         catch (e) { return e.cause?.code ?? e.name; }
       };
       console.log(JSON.stringify({
         quit: await call("POST", "http://prometheus:9090/-/quit"),
         reload: await call("POST", "http://prometheus:9090/-/reload"),
         write: await call("POST", "http://prometheus:9090/api/v1/write"),
         query: await call("GET", "http://prometheus:9090/api/v1/query?query=up"),
         silences: await call("POST", "http://alertmanager:9093/api/v2/silences"),
         lokiPush: await call("POST", "http://loki:3100/loki/api/v1/push"),
       }));`,
    );
    log(`from the demo: ${JSON.stringify(r)}`);
    assert.deepEqual(
      { quit: r.quit, reload: r.reload, write: r.write, query: r.query },
      { quit: "401", reload: "401", write: "401", query: "401" },
    );
    // Not even a name to resolve: the demo shares no network with Alertmanager or Loki.
    assert.match(r.silences!, /^(ENOTFOUND|EAI_AGAIN)$/);
    assert.match(r.lokiPush!, /^(ENOTFOUND|EAI_AGAIN)$/);
    assert.deepEqual(networksOf("demo"), ["app", "database"]);
    // By address too: Alertmanager's on its network cannot be reached from the demo's namespace.
    assert.notEqual(reach("demo", ipOn("alertmanager", "monitoring"), 9093), "open");
    // Not vacuous: from ops' container (on the monitoring network) Alertmanager answers, and asks for a login.
    const fromOps = inContainer<{ silences: string }>(
      "ops",
      `const r = await fetch("http://alertmanager:9093/api/v2/silences", { method: "POST" });
       console.log(JSON.stringify({ silences: String(r.status) }));`,
    );
    assert.equal(fromOps.silences, "401");
  });

  test("only the exporter, ops and the demo reach PostgreSQL and Redis", () => {
    const pg = ipOn("postgres", "database");
    const redis = ipOn("redis", "database");
    const seen: Record<string, string> = {};
    for (const service of startedServices.filter((s) => !["secrets-init", "postgres", "redis"].includes(s))) {
      seen[service] = `${reach(service, pg, 5432)} ${reach(service, redis, 6379)}`;
      const client = ["exporter", "ops", "demo"].includes(service);
      if (client) assert.equal(seen[service], "open open", service);
      else assert.doesNotMatch(seen[service]!, /open/, `${service} reaches the database: ${seen[service]}`);
    }
    log(`database reachability: ${JSON.stringify(seen)}`);
  });

  test("every container runs with no capability beyond its list, no-new-privileges, a read-only root and a memory limit", () => {
    for (const service of startedServices.filter((s) => s !== "secrets-init")) {
      const id = project.ps().get(service)!.ID;
      const h = (
        JSON.parse(docker(["inspect", id]).stdout)[0] as {
          HostConfig: { CapDrop: string[]; SecurityOpt: string[]; ReadonlyRootfs: boolean; Memory: number };
        }
      ).HostConfig;
      assert.ok(
        h.CapDrop?.some((c) => /^(CAP_)?ALL$/.test(c)),
        `${service}: CapDrop ${h.CapDrop?.join(",")}`,
      );
      assert.ok(
        h.SecurityOpt?.some((o) => o.startsWith("no-new-privileges")),
        `${service}: ${h.SecurityOpt?.join(",")}`,
      );
      assert.equal(h.ReadonlyRootfs, true, service);
      assert.ok(h.Memory > 0, `${service}: no memory limit`);
      // The effective set of the container's main process, read from inside.
      const capEff = /CapEff:\s+([0-9a-f]+)/.exec(
        project.compose(["exec", "-T", service, "cat", "/proc/1/status"]).stdout,
      )?.[1];
      // Every main process runs without capabilities (postgres and redis drop theirs with their switch of user).
      assert.equal(capEff, "0000000000000000", `${service}: CapEff ${capEff}`);
    }
    // docker stats: the memory each container uses against its limit, for the limits in compose.yaml.
    const stats = docker(["stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}"]).stdout;
    log(
      `memory (docker stats): ${stats
        .split("\n")
        .filter((l) => l.startsWith(project.name))
        .join("; ")}`,
    );
  });

  test("down then up keeps Prometheus' data and the backups (named volumes)", async () => {
    const backups = () =>
      project
        .compose(["run", "--rm", "--no-deps", "--entrypoint", "ls", "ops", "/var/backups/kali-agents"])
        .stdout.trim();
    const before = backups();
    const at = Date.now() / 1000 - 5;
    const series = await promQuery('up{job="prometheus"}', at);
    assert.equal(series.length, 1);
    project.compose(["down", "--timeout", "30"], { timeoutMs: 300_000 });
    assert.equal(project.ps().size, 0);
    const t = Date.now();
    project.compose(["up", "-d", "--wait", "--pull", "never", "--no-build", ...startedServices, "sink"], {
      timeoutMs: 10 * 60_000,
    });
    timings.warmUpMs = Date.now() - t;
    sink = `http://127.0.0.1:${project.port("sink", 8080)}`;
    assert.equal(backups(), before);
    // Healthy inside its container is not yet answering through the published port: one run saw
    // "other side closed" from the port right after up --wait. Wait for an answer, then compare.
    let again: Vector = [];
    await waitFor(
      "Prometheus answering through its published port",
      async () => {
        again = await promQuery('up{job="prometheus"}', at);
        return true;
      },
      60_000,
      1000,
    );
    assert.deepEqual(again, series);
  });

  /** The copy's Alertmanager config and receiver secrets, pointed at the sink service. */
  function wireReceivers(dir: string): void {
    const amFile = join(dir, "alertmanager/alertmanager.yml");
    const source = readFileSync(amFile, "utf8");
    const local = parse(
      localAlertmanagerConfig(source, {
        httpUrl: sinkUrl,
        smtpHostPort: "sink:2525",
        secretsDir: "/run/secrets",
        templatesDir: join(dir, "alertmanager/templates"),
        fast: true,
      }),
    ) as Record<string, unknown>;
    // Templates stay where compose mounts them (the rewrite names the host's folder).
    local.templates = (parse(source) as Record<string, unknown>).templates;
    writeFileSync(
      amFile,
      `# alertmanager.yml for the container tests' sink (test/containers/stack.test.ts).\n${stringify(local, { aliasDuplicateObjects: false, lineWidth: 0 })}`,
    );
    const secrets = join(dir, "secrets/alertmanager");
    mkdirSync(secrets, { recursive: true });
    // Readable by Alertmanager's user (65534), as secrets-init makes the files it creates.
    for (const [name, value] of Object.entries(localSecrets({ httpUrl: sinkUrl })))
      writeFileSync(join(secrets, name), value, { mode: 0o644 });
  }
});
