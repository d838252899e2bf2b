// Prometheus 3.14 and Alertmanager 0.33 as compose runs them: with compose's --web.* flags and the
// web.yml that secrets-init writes (bcrypt hashes made by lib/bcrypt.ts), each client with the
// credentials its own configuration names: Prometheus' scrapes of itself, Alertmanager and the exporter
// and its alerts (prometheus/prometheus.yml), Grafana's datasources
// (dashboards/provisioning/datasources/datasources.yaml), Loki's ruler (loki/loki.yaml) and ops'
// report (secrets/ops/ops_*_url). Without credentials, or with a wrong password, everything is refused;
// the lifecycle API is off.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parse, stringify } from "yaml";
import { bcryptHash } from "../../lib/bcrypt.ts";
import { query, withBasicAuth } from "../../ops/src/report/prometheus-api.ts";
import { fetchSilences } from "../../ops/src/report/scorecard.ts";
import {
  freePort,
  requireBinaries,
  startAlertmanager,
  startPrometheus,
  waitFor,
  type HttpServer,
} from "../support/servers.ts";

const root = new URL("../..", import.meta.url).pathname;
const read = (p: string) => readFileSync(join(root, p), "utf8");
type Obj = Record<string, unknown>;
const compose = parse(read("compose.yaml"), { merge: true }) as {
  services: Record<string, { command?: string[] }>;
};
const basic = (user: string, password: string) => ({
  authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`,
});

describe("bcrypt (lib/bcrypt.ts)", () => {
  test("gives the published test vectors' hashes", () => {
    // From the test vectors that jBCrypt and OpenBSD publish ($2a$ and $2b$ agree below 255 bytes).
    assert.equal(
      bcryptHash("", 6, "DCq7YPn5Rq63x1Lad4cll."),
      "$2b$06$DCq7YPn5Rq63x1Lad4cll.TV4S6ytwfsfvkgY8jIucDrjc8deX1s.",
    );
    assert.equal(
      bcryptHash("abc", 6, "If6bvum7DFjUnE9p2uDeDu"),
      "$2b$06$If6bvum7DFjUnE9p2uDeDu0YHzrHM6tf.iqN8.yx.jNN1ILEf7h0i",
    );
  });
  test("refuses what bcrypt would cut or cannot read", () => {
    assert.throws(() => bcryptHash("x".repeat(73)), /73 bytes; bcrypt reads at most 72/);
    assert.throws(() => bcryptHash("a", 3), /cost 3 is not 4\.\.31/);
    assert.throws(() => bcryptHash("a", 4, "!".repeat(22)), /outside bcrypt's base64/);
    const h = bcryptHash("é".repeat(36), 4); // 72 bytes of UTF-8: the most it reads
    assert.match(h, /^\$2b\$04\$[./A-Za-z0-9]{53}$/);
  });
});

test("ops' report never shows the password of its Prometheus or Alertmanager URL", async () => {
  const port = await freePort(); // nothing listens there
  const secret = "s3cr3t-pw";
  const url = `http://ops:${secret}@127.0.0.1:${port}`;
  for (const call of [() => query(url, "up", new Date()), () => fetchSilences(url)]) {
    await assert.rejects(call(), (e: Error) => {
      assert.match(e.message, /is not reachable/);
      assert.ok(!e.message.includes(secret), e.message);
      assert.ok(e.message.includes(`127.0.0.1:${port}`), e.message);
      return true;
    });
  }
  const { url: bare, headers } = withBasicAuth(`http://us%3Aer:p%40ss@h:9090/x`);
  assert.equal(bare.href, "http://h:9090/x");
  assert.equal(headers.authorization, `Basic ${Buffer.from("us:er:p@ss").toString("base64")}`);
});

describe(
  "Prometheus and Alertmanager behind basic auth, as compose runs them",
  { skip: requireBinaries("prometheus", "alertmanager") },
  () => {
    let dir: string;
    let prom: HttpServer;
    let am: HttpServer;
    let exporter: Server;
    const secret = (p: string) => readFileSync(join(dir, p), "utf8");
    /** A /run/secrets path of a service's configuration, as the file secrets-init wrote. */
    const hostSecret = (folder: string, path: string) => join(dir, folder, path.replace("/run/secrets/", ""));

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), "kali-web-auth-"));
      // secrets-init's own script, with this folder for /secrets and lib/bcrypt.ts run by tsx.
      const script = compose.services["secrets-init"]!.command![0]!.replace(/\$\$/g, "$")
        .replace("cd /secrets", `cd '${dir}'`)
        .replace(
          'bcrypt="node /app/dist/lib/bcrypt.js"',
          `bcrypt="${join(root, "node_modules/.bin/tsx")} ${join(root, "lib/bcrypt.ts")}"`,
        );
      const r = spawnSync("sh", ["-c", script], { encoding: "utf8", cwd: root, timeout: 120_000 });
      assert.equal(r.status, 0, r.stderr);
      assert.doesNotMatch(
        r.stdout + r.stderr,
        new RegExp(secret("ops/ops_web_password")),
        "a password was printed",
      );
      const web = parse(secret("prometheus/web.yml")) as { basic_auth_users: Record<string, string> };
      assert.deepEqual(Object.keys(web.basic_auth_users).sort(), [
        "admin",
        "alertmanager",
        "grafana",
        "loki",
        "ops",
        "prometheus",
      ]);
      assert.equal(secret("alertmanager/web.yml"), secret("prometheus/web.yml"));

      // The exporter stand-in: Prometheus scrapes it without credentials, as compose's exporter.
      const exporterPort = await freePort();
      exporter = createServer((_, res) =>
        res
          .writeHead(200, { "content-type": "text/plain; version=0.0.4" })
          .end("kali_agents_exporter_up 1\n"),
      ).listen(exporterPort, "127.0.0.1");

      // Alertmanager with compose's flags (web.config.file pointed at the file secrets-init wrote).
      const amArgs = compose.services.alertmanager!.command!.filter((a) => a.startsWith("--web.config.file"));
      assert.deepEqual(amArgs, ["--web.config.file=/run/secrets/web.yml"]);
      am = await startAlertmanager(
        stringify({ route: { receiver: "null" }, receivers: [{ name: "null" }] }),
        {
          args: [`--web.config.file=${hostSecret("alertmanager", "/run/secrets/web.yml")}`],
          readyHeaders: basic("alertmanager", secret("alertmanager/alertmanager_web_password")),
        },
      );

      // prometheus.yml's own auth blocks, their password files pointed at secrets-init's, its targets local.
      const config = parse(read("prometheus/prometheus.yml")) as Obj & {
        alerting: { alertmanagers: Obj[] };
        scrape_configs: Obj[];
      };
      const local = (o: Obj) => {
        const ba = o.basic_auth as { password_file?: string } | undefined;
        if (ba?.password_file) ba.password_file = hostSecret("prometheus", ba.password_file);
      };
      const targets: Record<string, string> = {
        prometheus: "127.0.0.1:1", // its own port, once it has one (below)
        alertmanager: `127.0.0.1:${am.port}`,
        "kali-agents-exporter": `127.0.0.1:${exporterPort}`,
      };
      config.scrape_configs = config.scrape_configs.filter((j) => String(j.job_name) in targets);
      for (const j of config.scrape_configs) {
        local(j);
        j.static_configs = [{ targets: [targets[String(j.job_name)]] }];
        j.scrape_interval = "1s";
      }
      for (const a of config.alerting.alertmanagers) {
        local(a);
        a.static_configs = [{ targets: [`127.0.0.1:${am.port}`] }];
      }
      config.rule_files = ["probe.yml"];
      config.global = { ...(config.global as Obj), evaluation_interval: "1s", scrape_timeout: "1s" };
      // Compose's --web.* flags, but the listen address and external URL.
      const configText = () => {
        const c = structuredClone(config);
        for (const j of c.scrape_configs) j.static_configs = [{ targets: [targets[String(j.job_name)]] }];
        return stringify(c);
      };
      const promArgs = compose.services
        .prometheus!.command!.filter((a) => a.startsWith("--web.") && !a.startsWith("--web.external-url"))
        .map((a) =>
          a.startsWith("--web.config.file=")
            ? `--web.config.file=${hostSecret("prometheus", a.slice("--web.config.file=".length))}`
            : a,
        );
      assert.ok(!promArgs.includes("--web.enable-lifecycle"), "compose enables the lifecycle API");
      prom = await startPrometheus(configText(), {
        lifecycle: false,
        files: {
          "probe.yml": stringify({
            groups: [{ name: "probe", rules: [{ alert: "WebAuthProbe", expr: "vector(1)" }] }],
          }),
        },
        args: promArgs,
        readyHeaders: basic("prometheus", secret("prometheus/prometheus_web_password")),
      });
      // Its self-scrape on the port it got, reloaded by SIGHUP (compose's way, with the lifecycle API off).
      targets.prometheus = `127.0.0.1:${prom.port}`;
      writeFileSync(join(prom.dir, "prometheus.yml"), configText());
      process.kill(prom.pid()!, "SIGHUP");
    });
    after(async () => {
      await Promise.all([prom?.cleanup(), am?.cleanup()]);
      exporter?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    test("without credentials, or with a wrong password, every endpoint is refused (401)", async () => {
      const wrong = basic("grafana", "not-the-password");
      for (const headers of [{}, wrong]) {
        for (const [method, url] of [
          ["GET", `${prom.url}/api/v1/query?query=up`],
          ["GET", `${prom.url}/-/ready`],
          ["POST", `${prom.url}/api/v1/write`],
          ["POST", `${prom.url}/-/quit`],
          ["POST", `${prom.url}/-/reload`],
          ["GET", `${am.url}/api/v2/alerts`],
          ["POST", `${am.url}/api/v2/silences`],
          ["POST", `${am.url}/-/reload`],
        ] as const) {
          const r = await fetch(url, { method, headers });
          assert.equal(r.status, 401, `${method} ${url} with ${JSON.stringify(Object.keys(headers))}`);
        }
      }
    });

    test("the lifecycle API is off even for a user with a password", async () => {
      const admin = basic("admin", secret("web/admin_web_password"));
      for (const path of ["/-/quit", "/-/reload"]) {
        const r = await fetch(`${prom.url}${path}`, { method: "POST", headers: admin });
        assert.equal(r.status, 403, path);
        assert.match(await r.text(), /Lifecycle API is not enabled/);
      }
      assert.equal((await fetch(`${prom.url}/-/ready`, { headers: admin })).status, 200);
    });

    test("Prometheus scrapes itself, Alertmanager and the exporter and sends alerts with its credentials", async () => {
      const ops = secret("ops/ops_prometheus_url").replace("prometheus:9090", `127.0.0.1:${prom.port}`);
      await waitFor("every target up", async () => {
        const up = await query(ops, "up", new Date());
        const byJob = Object.fromEntries(up.map((s) => [s.metric.job, s.points[0]?.[1]]));
        return byJob.prometheus === 1 && byJob.alertmanager === 1 && byJob["kali-agents-exporter"] === 1;
      });
      const amUrl = secret("ops/ops_alertmanager_url").replace("alertmanager:9093", `127.0.0.1:${am.port}`);
      // Up to 90 s: a first notification sent before Prometheus had discovered the Alertmanager is sent
      // again only after --rules.alert.resend-delay (1 minute); on a loaded machine 30 s missed it once.
      await waitFor(
        "the probe alert in Alertmanager",
        async () => {
          const r = await fetch(`${am.url}/api/v2/alerts`, {
            headers: withBasicAuth(amUrl).headers,
          });
          const alerts = (await r.json()) as { labels: Record<string, string> }[];
          return alerts.some((a) => a.labels.alertname === "WebAuthProbe");
        },
        90_000,
      );
      // ops' report reads silences with its URL's credentials (none yet: an empty list, not a 401).
      assert.deepEqual(await fetchSilences(amUrl), []);
    });

    test("Grafana's datasources query Prometheus and Alertmanager with the user and password file they name", async () => {
      const ds = (
        parse(read("dashboards/provisioning/datasources/datasources.yaml")) as {
          datasources: {
            type: string;
            basicAuth?: boolean;
            basicAuthUser?: string;
            secureJsonData?: { basicAuthPassword?: string };
          }[];
        }
      ).datasources;
      for (const [type, url] of [
        ["prometheus", `${prom.url}/api/v1/query?query=up`],
        ["alertmanager", `${am.url}/api/v2/silences`],
      ] as const) {
        const d = ds.find((x) => x.type === type)!;
        assert.equal(d.basicAuth, true, type);
        const file = /^\$__file\{(.+)\}$/.exec(d.secureJsonData?.basicAuthPassword ?? "")?.[1];
        assert.ok(file, `${type}: the password is not a $__file{} reference`);
        const r = await fetch(url, {
          headers: basic(d.basicAuthUser!, readFileSync(hostSecret("grafana", file), "utf8")),
        });
        assert.equal(r.status, 200, `${type} as ${d.basicAuthUser}`);
      }
    });

    test("Loki's ruler writes recordings to Prometheus and alerts to Alertmanager with its credentials", async () => {
      const ruler = (parse(read("loki/loki.yaml")) as { ruler: Obj }).ruler as {
        remote_write: {
          clients: Record<string, { basic_auth: { username: string; password_file: string } }>;
        };
        alertmanager_client: { type: string; credentials_file: string };
      };
      const rw = ruler.remote_write.clients.prometheus!.basic_auth;
      // An empty remote-write request: a snappy block of zero bytes.
      const r = await fetch(`${prom.url}/api/v1/write`, {
        method: "POST",
        headers: {
          ...basic(rw.username, readFileSync(hostSecret("loki", rw.password_file), "utf8")),
          "content-type": "application/x-protobuf",
          "content-encoding": "snappy",
          "x-prometheus-remote-write-version": "0.1.0",
        },
        body: new Uint8Array([0]),
      });
      assert.equal(r.status, 204, await r.text());
      const c = ruler.alertmanager_client;
      const credentials = readFileSync(hostSecret("loki", c.credentials_file), "utf8");
      const a = await fetch(`${am.url}/api/v2/alerts`, {
        method: "POST",
        headers: { authorization: `${c.type} ${credentials}`, "content-type": "application/json" },
        body: JSON.stringify([{ labels: { alertname: "LokiAuthProbe" } }]),
      });
      assert.equal(a.status, 200, await a.text());
    });
  },
);
