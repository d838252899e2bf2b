// compose.yaml, checked without starting it (test/containers/ runs it): against the Compose
// Specification's JSON Schema (the one `docker compose` validates with), and against the repository:
// what it mounts exists, what it publishes is what the configs listen on and point at, images are pinned
// in one place, every service has a healthcheck (or says why it cannot), state lives in named volumes,
// secrets are created by secrets-init and documented.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { createRequire } from "node:module";
import { join } from "node:path";
import { describe, test } from "node:test";
import { Ajv, type ValidateFunction } from "ajv";
import addFormats from "ajv-formats";
import { parse } from "yaml";
import { loadConfig as loadDemoConfig, variables as demoVariables } from "../../demo/src/config.ts";
import {
  loadConfig as loadExporterConfig,
  variables as exporterVariables,
} from "../../exporter/src/config.ts";
import type { Variable } from "../../lib/config/config.ts";
import { loadConfig as loadOpsConfig, variables as opsVariables } from "../../ops/src/config.ts";
import { readSmtpSettings } from "../../ops/src/report/report-mail.ts";

const root = new URL("../..", import.meta.url).pathname;
const read = (p: string) => readFileSync(join(root, p), "utf8");
const composeText = read("compose.yaml");

// ---- the file as compose sees it ----

type Obj = Record<string, unknown>;
interface Mount {
  type: string;
  source?: string;
  target: string;
  read_only?: boolean;
  bind?: { create_host_path?: boolean; propagation?: string };
}
interface Service {
  image?: string;
  build?: { context: string; dockerfile: string; args?: Record<string, string> };
  command?: string[] | string;
  environment?: Record<string, string>;
  volumes?: (string | Mount)[];
  ports?: string[];
  depends_on?: Record<string, { condition: string; required?: boolean }>;
  healthcheck?: Obj;
  restart?: string;
  logging?: { driver: string; options?: Record<string, string> };
  profiles?: string[];
  user?: string;
}
interface Compose {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
}

const doc = parse(composeText, { merge: true }) as Compose;
const services = doc.services;

/**
 * Compose's variable interpolation, by default with every variable unset: `${X:-d}` gives d when X is
 * unset or empty, `${X-d}` when X is unset, `$$` is `$`.
 */
function interpolate(s: string, vars: Record<string, string> = {}): string {
  return s
    .replace(/\$\$/g, "\uE000")
    .replace(/\$\{(\w+)(?:(:?)-([^}]*))?\}/g, (_, n: string, colon: string, d: string | undefined) => {
      const v = vars[n];
      if (v === undefined || (v === "" && colon === ":")) return d ?? "";
      return v;
    })
    .replace(/\$(\w+)/g, (_, n: string) => vars[n] ?? "")
    .replace(/\uE000/g, "$");
}

/** Volumes in long form, short ones (`source:target[:ro]`) converted. */
function mounts(s: Service): Mount[] {
  return (s.volumes ?? []).map((v) => {
    if (typeof v !== "string") return { ...v, source: v.source && interpolate(v.source) };
    const [source = "", target = "", mode] = interpolate(v).split(":");
    const type = source.startsWith("/") || source.startsWith(".") ? "bind" : "volume";
    return { type, source, target, read_only: mode === "ro" };
  });
}

interface Published {
  address: string;
  host: number;
  container: number;
}
function published(s: Service): Published[] {
  return (s.ports ?? []).map((p) => {
    const parts = interpolate(p).split(":");
    assert.equal(parts.length, 3, `port ${p}: write address:host:container`);
    return { address: parts[0]!, host: Number(parts[1]), container: Number(parts[2]) };
  });
}

const commandArgs = (s: Service): string[] =>
  (Array.isArray(s.command) ? s.command : s.command ? [s.command] : []).map((a) => interpolate(a));
const flag = (s: Service, name: string): string | undefined =>
  commandArgs(s)
    .find((a) => a.startsWith(`${name}=`))
    ?.slice(name.length + 1);

/**
 * secrets-init's script for `sh` here: `dir` stands for /secrets, and lib/bcrypt.ts (run by tsx) for the
 * image's dist/lib/bcrypt.js.
 */
function secretsInitScript(dir: string): string {
  const script = commandArgs(services["secrets-init"]!)[0]!;
  const bcrypt = 'bcrypt="node /app/dist/lib/bcrypt.js"';
  assert.ok(script.includes(bcrypt), "secrets-init names bcrypt.js as it used to");
  return script
    .replace("cd /secrets", `cd '${dir}'`)
    .replace(bcrypt, `bcrypt="${join(root, "node_modules/.bin/tsx")} ${join(root, "lib/bcrypt.ts")}"`);
}

/** The raw text of one service's block, comments included. */
function serviceText(name: string): string {
  const lines = composeText.split("\n");
  const start = lines.findIndex((l) => l === `  ${name}:`);
  assert.ok(start >= 0, `service ${name} not found in the text`);
  const end = lines.findIndex((l, i) => i > start && /^ {2}[a-z]|^[a-z]/.test(l));
  return lines.slice(start, end < 0 ? undefined : end).join("\n");
}

// ---- tests ----

describe("compose.yaml", () => {
  test("validates against the Compose Specification schema (test/compose/schema/compose-spec.json)", () => {
    // Carried by the repository (its source and licence in the README beside it): a clone tests itself.
    const path = join(root, "test/compose/schema/compose-spec.json");
    const schema = JSON.parse(readFileSync(path, "utf8")) as { $schema: string };
    const ajv = new Ajv({ strict: false, allErrors: true });
    addFormats.default(ajv);
    // The schema names its draft-07 meta-schema by an https URL that ajv knows as http://...#.
    const meta = createRequire(import.meta.url)("ajv/dist/refs/json-schema-draft-07.json") as Obj;
    ajv.addMetaSchema({ ...meta, $id: schema.$schema }, schema.$schema);
    const validate: ValidateFunction = ajv.compile(schema);
    const ok = validate(doc);
    assert.ok(ok, JSON.stringify(validate.errors, null, 2));
    // The validator is not vacuous: a wrong type and an unknown key are refused.
    const broken = structuredClone(doc) as unknown as { services: Record<string, Obj> };
    broken.services.grafana!.restart = 5;
    broken.services.loki!.healthcheck = { ...(broken.services.loki!.healthcheck as Obj), intervall: "1s" };
    assert.equal(validate(broken), false);
  });

  test("every file or folder it mounts or builds from exists in the repository", () => {
    // Host paths, each mounted on purpose.
    const hostPaths: Record<string, string> = {
      "/": "the exporter reads the host's filesystems",
      "/proc": "the exporter's host metrics",
      "/sys": "the exporter's host metrics",
      "/var/run/docker.sock": "Promtail and Alloy discover containers and read their logs",
    };
    for (const [name, s] of Object.entries(services)) {
      for (const m of mounts(s)) {
        if (m.type !== "bind") continue;
        const src = m.source ?? "";
        if (src.startsWith("/")) {
          assert.ok(src in hostPaths, `${name}: host path ${src} mounted; add it to hostPaths with a reason`);
          continue;
        }
        if (src.startsWith("./secrets/")) {
          // A secret folder: created by compose (create_host_path) and filled by secrets-init.
          assert.equal(m.bind?.create_host_path, true, `${name}: ${src} needs bind.create_host_path: true`);
          continue;
        }
        assert.ok(existsSync(join(root, src)), `${name}: ${src} does not exist`);
      }
      if (s.build) {
        assert.ok(
          existsSync(join(root, s.build.context, s.build.dockerfile)),
          `${name}: ${s.build.dockerfile}`,
        );
      }
    }
  });

  test("every secret file is created by secrets-init, mounted for its reader and documented in secrets/README.md", () => {
    const readme = read("secrets/README.md");
    const init = commandArgs(services["secrets-init"]!).join("\n");
    const secretFiles = (s: Service, extra: string[] = []): string[] => {
      const refs = [...Object.values(s.environment ?? {}), ...commandArgs(s), ...extra].join("\n");
      return [...refs.matchAll(/\/run\/secrets\/([\w.-]+)/g)].map((m) => m[1]!);
    };
    const amSecrets = [
      ...read("alertmanager/alertmanager.yml").matchAll(/_file:\s*(\/run\/secrets\/[\w.-]+)/g),
    ].map((m) => m[1]!);
    let count = 0;
    for (const [name, s] of Object.entries(services)) {
      const files = secretFiles(s, name === "alertmanager" ? amSecrets : []);
      if (files.length === 0) continue;
      const folder = mounts(s).find((m) => m.target === "/run/secrets");
      const source = folder?.source ?? "";
      assert.ok(
        source.startsWith("./secrets/"),
        `${name} reads ${files.join(", ")} but mounts no secret folder`,
      );
      assert.equal(folder?.read_only, true, `${name}: secrets read-only`);
      const consumer = source.slice("./secrets/".length);
      for (const f of files) {
        count++;
        assert.ok(init.includes(f), `secrets-init does not create secrets/${consumer}/${f}`);
        assert.ok(readme.includes(f), `secrets/README.md does not document ${f} (secrets/${consumer}/${f})`);
      }
    }
    assert.ok(count >= 8, `${count} secret files`);
    // Nothing secret in the environment itself.
    for (const [name, s] of Object.entries(services)) {
      for (const [k, v] of Object.entries(s.environment ?? {})) {
        assert.ok(!/PASSWORD$|_KEY$|TOKEN/.test(k), `${name}: ${k} should be a *_FILE from a secret folder`);
        assert.ok(
          !/:\/\/[^/@\s]+:[^/@\s]+@/.test(interpolate(v)),
          `${name}: ${k} holds credentials in a URL`,
        );
      }
    }
  });

  test("secrets-init's script creates every missing secret once and never overwrites one (run with sh)", () => {
    const dir = mkdtempSync(join(tmpdir(), "kali-secrets-init-"));
    try {
      // The script runs in /secrets; here in a temporary folder standing for it.
      const run = () =>
        spawnSync("sh", ["-c", secretsInitScript(dir)], {
          encoding: "utf8",
          timeout: 60_000,
        });
      mkdirSync(join(dir, "alertmanager"));
      writeFileSync(join(dir, "alertmanager", "alertmanager_slack_api_url"), "https://hooks.example/kept");
      const first = run();
      assert.equal(first.status, 0, first.stderr);
      const file = (p: string) => readFileSync(join(dir, p), "utf8");
      const pw = file("postgres/demo_postgres_password");
      assert.match(pw, /^[A-Za-z0-9]{32}$/);
      assert.match(file("grafana/grafana_admin_password"), /^[A-Za-z0-9]{32}$/);
      assert.notEqual(file("grafana/grafana_admin_password"), pw);
      assert.equal(file("demo/demo_database_url"), `postgres://kali_agents:${pw}@postgres:5432/kali_agents`);
      // The exporter and ops get their own roles (postgres/initdb/10-roles.sh), never the superuser's.
      const epw = file("postgres/exporter_db_password");
      const opw = file("postgres/ops_db_password");
      assert.match(epw, /^[A-Za-z0-9]{32}$/);
      assert.equal(new Set([pw, epw, opw]).size, 3, "one password per role");
      assert.equal(
        file("exporter/exporter_database_url"),
        `postgres://kali_agents_exporter:${epw}@postgres:5432/kali_agents`,
      );
      assert.equal(
        file("ops/ops_database_url"),
        `postgres://kali_agents_ops:${opw}@postgres:5432/kali_agents`,
      );
      // The demo Redis' password (requirepass in the redis.conf its command names), in its clients' URLs.
      const redisConf = file("redis/redis.conf");
      assert.match(redisConf, /^requirepass [A-Za-z0-9]{32}$/);
      const redispw = redisConf.slice("requirepass ".length);
      assert.equal(new Set([pw, epw, opw, redispw]).size, 4, "Redis has a password of its own");
      for (const f of ["exporter/exporter_redis_url", "ops/ops_redis_url", "demo/demo_redis_url"])
        assert.equal(file(f), `redis://:${redispw}@redis:6379/0`, f);
      const rpw = file("postgres/demo_restore_password");
      assert.match(rpw, /^[A-Za-z0-9]{32}$/);
      assert.notEqual(rpw, pw, "the restore role has a password of its own");
      assert.equal(
        file("ops/ops_restore_database_url"),
        `postgres://kali_agents_restore:${rpw}@postgres:5432/kali_agents`,
      );
      assert.equal(
        file("alertmanager/alertmanager_slack_api_url"),
        "https://hooks.example/kept",
        "an existing file is kept",
      );
      assert.equal(
        file("alertmanager/alertmanager_pagerduty_routing_key"),
        "",
        "receiver secrets start empty",
      );
      assert.equal(statSync(dir).mode & 0o777, 0o700);
      assert.equal(statSync(join(dir, "grafana")).mode & 0o777, 0o755);
      const second = run();
      assert.equal(second.status, 0, second.stderr);
      assert.equal(second.stdout, "", "a second run creates nothing");
      assert.equal(file("postgres/demo_postgres_password"), pw);
      // Secrets written before Redis had a password: the URL secrets-init wrote then (no password) is
      // rewritten with the password; one an operator changed is left as it is.
      writeFileSync(join(dir, "exporter/exporter_redis_url"), "redis://redis:6379/0");
      writeFileSync(join(dir, "ops/ops_redis_url"), "rediss://:theirs@cache.internal:6380/2");
      const third = run();
      assert.equal(third.status, 0, third.stderr);
      assert.equal(third.stdout, "secrets-init: created secrets/exporter/exporter_redis_url\n");
      assert.equal(file("exporter/exporter_redis_url"), `redis://:${redispw}@redis:6379/0`);
      assert.equal(file("ops/ops_redis_url"), "rediss://:theirs@cache.internal:6380/2");
      assert.equal(file("redis/redis.conf"), redisConf);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("Alertmanager runs the configuration render-config.sh renders from .env, and the ops service mails the report through its SMTP account", () => {
    // A container path through a service's mounts (the longest target wins): a bind's host path, with
    // ./secrets/ standing for the folder secrets-init filled, or a named volume's folder under `volumes`.
    const hostPath = (s: Service, path: string, secrets: string, volumes: string): string | undefined => {
      const m = mounts(s)
        .filter((x) => path === x.target || path.startsWith(`${x.target}/`))
        .sort((a, b) => b.target.length - a.target.length)[0];
      if (!m?.source) return undefined;
      const src =
        m.type === "volume"
          ? join(volumes, m.source)
          : m.source.startsWith("./secrets/")
            ? join(secrets, m.source.slice("./secrets/".length))
            : join(root, m.source);
      return join(src, path.slice(m.target.length));
    };
    const dir = mkdtempSync(join(tmpdir(), "kali-secrets-mail-"));
    const volumes = join(dir, "volumes");
    try {
      const init = spawnSync("sh", ["-c", secretsInitScript(dir)], { encoding: "utf8" });
      assert.equal(init.status, 0, init.stderr);
      writeFileSync(join(dir, "alertmanager", "alertmanager_smtp_password"), "the-smtp-password\n");
      // Alertmanager's start, as compose runs it: the entrypoint renders, then starts the binary with
      // the command's flags.
      const am = services.alertmanager!;
      const entry = (am as { entrypoint?: string[] }).entrypoint!;
      assert.deepEqual(entry.slice(0, 2), ["/bin/sh", "/etc/alertmanager/render-config.sh"]);
      const [, , inPath, outDir, secretsPath, dashes, binary] = entry;
      assert.equal(dashes, "--");
      assert.equal(binary, "/bin/alertmanager");
      const configFile = flag(am, "--config.file")!;
      assert.equal(configFile, `${outDir}/alertmanager.yml`, "Alertmanager runs the rendered file");
      const dotenv = {
        ALERTMANAGER_SMTP_SMARTHOST: "relay.example.org:2525",
        ALERTMANAGER_SMTP_AUTH_USERNAME: "relay-user",
        ALERTMANAGER_EMAIL_TO: "ops@example.org",
        GRAFANA_ROOT_URL: "https://grafana.example.org",
      };
      const amEnv = Object.fromEntries(
        Object.entries(am.environment!).map(([k, v]) => [k, interpolate(v, dotenv)]),
      );
      mkdirSync(hostPath(am, outDir!, dir, volumes)!, { recursive: true });
      const rendered = spawnSync(
        "sh",
        [
          hostPath(am, "/etc/alertmanager/render-config.sh", dir, volumes)!,
          hostPath(am, inPath!, dir, volumes)!,
          hostPath(am, outDir!, dir, volumes)!,
          hostPath(am, secretsPath!, dir, volumes)!,
        ],
        { env: { PATH: process.env.PATH, ...amEnv }, encoding: "utf8" },
      );
      assert.equal(rendered.status, 0, rendered.stderr);
      assert.match(rendered.stdout, /receivers on: email;/);
      const ops = services.ops!;
      // Its secret files as secrets-init wrote them (the URLs of Prometheus and Alertmanager with ops' user).
      const env = Object.fromEntries(
        Object.entries(ops.environment!).map(([k, v]) => [
          k,
          interpolate(v).replace(/^\/run\/secrets\//, `${join(dir, "ops")}/`),
        ]),
      );
      // Off by default (.env.example leaves it empty); on with a recipient.
      const off = loadOpsConfig({
        ...env,
        DATABASE_URL_FILE: undefined,
        REDIS_URL_FILE: undefined,
        OPS_RESTORE_DATABASE_URL_FILE: undefined,
      });
      assert.equal(off.reportMailTo, undefined);
      const config = loadOpsConfig({
        ...env,
        DATABASE_URL_FILE: undefined,
        REDIS_URL_FILE: undefined,
        OPS_RESTORE_DATABASE_URL_FILE: undefined,
        OPS_REPORT_MAIL_TO: "ops@example.com",
      });
      // The file ops reads is the file Alertmanager runs, through the same volume, read-only in ops.
      const opsConfigHost = hostPath(ops, config.reportSmtpConfig, dir, volumes);
      assert.equal(opsConfigHost, hostPath(am, configFile, dir, volumes));
      assert.equal(
        mounts(ops).find((m) => config.reportSmtpConfig.startsWith(`${m.target}/`))?.read_only,
        true,
      );
      // The password file the rendered configuration names, where Alertmanager sees it and where ops does.
      const named = (parse(readFileSync(opsConfigHost!, "utf8")) as { global: Record<string, string> }).global
        .smtp_auth_password_file!;
      const secretsDir = hostPath(ops, config.reportSmtpSecretsDir!, dir, volumes)!;
      assert.equal(
        hostPath(am, named, dir, volumes),
        join(dir, "alertmanager", "alertmanager_smtp_password"),
      );
      const smtp = readSmtpSettings(opsConfigHost!, secretsDir);
      assert.deepEqual(
        [smtp.host, smtp.port, smtp.username, smtp.password],
        ["relay.example.org", 2525, "relay-user", "the-smtp-password"],
      );
      assert.match(read(".env.example"), /^OPS_REPORT_MAIL_TO=$/m);
      // Every setting Alertmanager's start reads is listed in .env.example.
      const example = envExample();
      for (const k of Object.keys(am.environment!))
        assert.ok(example.has(k), `.env.example does not list ${k}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("every published port is the port its service listens on, and every reference in the configs uses it", () => {
    const loki = parse(read("loki/loki.yaml")) as { server: { http_listen_port: number } };
    const promtail = parse(read("promtail/promtail.yaml")) as { server: { http_listen_port: number } };
    const demo = loadDemoConfig({});
    const portOf = (address: string | undefined) => Number(address?.split(":").pop());
    // Each service's listening ports, from its own configuration (or the program's default when the
    // configuration sets none, which the table then asserts).
    const listens: Record<string, number[]> = {
      exporter: [portOf(services.exporter!.environment!.EXPORTER_LISTEN_ADDRESS)],
      prometheus: [9090],
      alertmanager: [9093],
      loki: [loki.server.http_listen_port],
      promtail: [promtail.server.http_listen_port],
      grafana: [3000],
      alloy: [portOf(flag(services.alloy!, "--server.http.listen-addr"))],
      postgres: [5432],
      redis: [6379],
      demo: [demo.apiPort, ...demo.mcpPorts],
    };
    assert.equal(
      flag(services.prometheus!, "--web.listen-address"),
      undefined,
      "Prometheus on its default 9090",
    );
    assert.equal(
      flag(services.alertmanager!, "--web.listen-address"),
      undefined,
      "Alertmanager on its default 9093",
    );
    assert.equal(
      services.grafana!.environment!.GF_SERVER_HTTP_PORT,
      undefined,
      "Grafana on its default 3000",
    );
    for (const [name, s] of Object.entries(services)) {
      const ports = published(s);
      if (ports.length === 0) continue;
      assert.deepEqual(
        ports.map((p) => p.container).sort(),
        [...(listens[name] ?? [])].sort(),
        `${name}: published container ports`,
      );
      for (const p of ports) {
        assert.equal(p.host, p.container, `${name}: published on the same port number (docs list one port)`);
        // Grafana too: plain HTTP is not published on every interface by default.
        assert.equal(p.address, "127.0.0.1", `${name}: bind address`);
      }
    }
    // References to `service:port` anywhere in the configuration point at a port that service listens on.
    const configs = [
      "prometheus/prometheus.yml",
      ...readdirSync(join(root, "prometheus/targets")).map((f) => `prometheus/targets/${f}`),
      ...readdirSync(join(root, "dashboards/provisioning/datasources")).map(
        (f) => `dashboards/provisioning/datasources/${f}`,
      ),
      "loki/loki.yaml",
      "promtail/promtail.yaml",
      "alloy/config.alloy",
    ];
    const texts = [
      ...configs.map((c) => ({ where: c, text: read(c) })),
      ...Object.entries(services).map(([n, s]) => ({
        where: `compose.yaml ${n}`,
        text: [...Object.values(s.environment ?? {}), ...commandArgs(s)]
          .map((a) => interpolate(a))
          .join("\n"),
      })),
    ];
    const names = Object.keys(listens).join("|");
    const refRe = () => new RegExp(`(?<!\\w/)(?<![\\w.-])(${names}):(\\d+)(?![\\d.])`, "g");
    // The pattern finds host:port in URLs and targets, and skips image names with a tag.
    assert.deepEqual(
      [..."http://loki:3101/x [exporter:1] grafana/loki:3.7.6".matchAll(refRe())].map((m) => m[0]),
      ["loki:3101", "exporter:1"],
    );
    let refs = 0;
    for (const { where, text } of texts) {
      for (const m of text.matchAll(refRe())) {
        refs++;
        assert.ok(
          listens[m[1]!]!.includes(Number(m[2])),
          `${where}: ${m[0]} but ${m[1]} listens on ${JSON.stringify(listens[m[1]!])}`,
        );
      }
    }
    assert.ok(refs >= 15, `${refs} references checked`);
    console.log(`compose: ${refs} service:port references agree with the published ports`);
  });

  test("every service drops all capabilities, gains no privilege, has a read-only root and a memory limit", () => {
    // A new service without them fails here. The capabilities added back, each with its reason in compose.yaml.
    const addedBack: Record<string, string[]> = {
      "secrets-init": ["CHOWN", "DAC_OVERRIDE", "FOWNER"],
      postgres: ["CHOWN", "DAC_OVERRIDE", "FOWNER", "SETUID", "SETGID"],
      redis: ["CHOWN", "DAC_READ_SEARCH", "SETUID", "SETGID"],
    };
    const hardening = (name: string) => {
      const s = services[name]! as Service & {
        cap_drop?: string[];
        cap_add?: string[];
        security_opt?: string[];
        read_only?: boolean;
        mem_limit?: string;
        privileged?: boolean;
        pid?: string;
        network_mode?: string;
      };
      assert.deepEqual(s.cap_drop, ["ALL"], `${name}: cap_drop: [ALL]`);
      assert.deepEqual(s.cap_add ?? [], addedBack[name] ?? [], `${name}: capabilities added back`);
      assert.ok(s.security_opt?.includes("no-new-privileges:true"), `${name}: no-new-privileges`);
      assert.equal(s.read_only, true, `${name}: read_only`);
      const m = /^(\d+)([mg])$/.exec(s.mem_limit ?? "");
      assert.ok(m, `${name}: mem_limit (e.g. 256m) is ${s.mem_limit}`);
      const mib = Number(m[1]) * (m[2] === "g" ? 1024 : 1);
      assert.ok(mib >= 64 && mib <= 2048, `${name}: mem_limit ${s.mem_limit}`);
      assert.notEqual(s.privileged, true, `${name}: privileged`);
      assert.notEqual(s.pid, "host", `${name}: the host's pid namespace`);
      assert.notEqual(s.network_mode, "host", `${name}: the host's network`);
      const line = serviceText(name)
        .split("\n")
        .find((l) => l.trim().startsWith("cap_add:"));
      if (s.cap_add) assert.match(line ?? "", /# \S/, `${name}: say why cap_add is needed, on its line`);
    };
    for (const name of Object.keys(services)) hardening(name);
    // The check is not vacuous: a service without them is refused.
    services.intruder = { image: "x" };
    try {
      assert.throws(() => hardening("intruder"), /intruder: cap_drop/);
    } finally {
      delete services.intruder;
    }
  });

  test("each service is on the networks of what it must reach, and no other", () => {
    const nets = (name: string) => (services[name] as { networks?: string[] }).networks ?? [];
    const shares = (a: string, b: string) => nets(a).some((n) => nets(b).includes(n));
    // The database's clients, and nothing else.
    for (const name of Object.keys(services)) {
      if (["postgres", "redis", "secrets-init"].includes(name)) continue;
      assert.equal(
        shares(name, "postgres"),
        ["exporter", "ops", "demo"].includes(name),
        `${name} and the database`,
      );
    }
    // The application's stand-in and the agents reach neither Alertmanager nor, for the demo, Loki.
    for (const name of ["demo", "promtail", "alloy"])
      assert.ok(!shares(name, "alertmanager"), `${name} reaches Alertmanager`);
    assert.ok(!shares("demo", "loki"), "the demo reaches Loki");
    assert.ok(!shares("grafana", "promtail"), "Grafana reaches the agents");
    // The paths the stack needs.
    for (const [from, to] of [
      ["prometheus", "exporter"],
      ["prometheus", "demo"],
      ["prometheus", "alertmanager"],
      ["prometheus", "loki"],
      ["prometheus", "promtail"],
      ["prometheus", "grafana"],
      ["grafana", "prometheus"],
      ["grafana", "loki"],
      ["grafana", "alertmanager"],
      ["loki", "prometheus"],
      ["loki", "alertmanager"],
      ["promtail", "loki"],
      ["alloy", "loki"],
      ["exporter", "postgres"],
      ["exporter", "redis"],
      ["exporter", "demo"],
      ["ops", "postgres"],
      ["ops", "prometheus"],
      ["ops", "alertmanager"],
      ["demo", "postgres"],
      ["demo", "redis"],
    ])
      assert.ok(shares(from!, to!), `${from} cannot reach ${to}`);
    assert.equal((services["secrets-init"] as { network_mode?: string }).network_mode, "none");
  });

  test("every image is pinned to a version, in one place (compose defaults, mirrored by .env.example)", () => {
    const env = Object.fromEntries(
      read(".env.example")
        .split("\n")
        .filter((l) => /^\w+=/.test(l))
        .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
    );
    const defaults = new Map<string, string>();
    const pinned = (where: string, raw: string) => {
      const m = /^\$\{(\w+_IMAGE):-([^}]+)\}$/.exec(raw);
      assert.ok(m, `${where}: write the image as \${NAME_IMAGE:-repo:tag}, got ${raw}`);
      const [, variable, image] = m;
      assert.match(
        image!,
        /^[\w./-]+:v?\d+\.\d+(\.\d+)?[\w.-]*$/,
        `${where}: ${image} is not pinned to a version`,
      );
      assert.ok(!/:latest$/.test(image!), `${where}: ${image}`);
      const seen = defaults.get(variable!);
      assert.ok(seen === undefined || seen === image, `${variable} has two defaults: ${seen} and ${image}`);
      defaults.set(variable!, image!);
      assert.equal(env[variable!], image, `.env.example ${variable}`);
    };
    for (const [name, s] of Object.entries(services)) {
      if (s.build) {
        assert.match(s.image ?? "", /:local$/, `${name}: a built image is tagged :local, never pulled`);
        for (const [k, v] of Object.entries(s.build.args ?? {}))
          if (k.endsWith("_IMAGE")) pinned(`${name} build`, v);
      } else pinned(name, s.image ?? "");
    }
    assert.ok(defaults.size >= 9, [...defaults.keys()].join(", "));
  });

  test("every service has a healthcheck, or a comment saying why it cannot", () => {
    for (const [name, s] of Object.entries(services)) {
      if (s.healthcheck) {
        const t = s.healthcheck.test as string[];
        assert.ok(
          Array.isArray(t) && t.length > 1 && t[0]!.startsWith("CMD"),
          `${name}: test ${JSON.stringify(t)}`,
        );
        continue;
      }
      assert.match(serviceText(name), /# No healthcheck: \S/, `${name}: no healthcheck and no comment why`);
    }
  });

  test("depends_on waits for health (or completion), never just for a start", () => {
    for (const [name, s] of Object.entries(services)) {
      for (const [dep, d] of Object.entries(s.depends_on ?? {})) {
        assert.ok(services[dep], `${name} depends on unknown ${dep}`);
        const want = services[dep]!.healthcheck ? "service_healthy" : "service_completed_successfully";
        assert.equal(d.condition, want, `${name} -> ${dep}`);
        if (
          services[dep]!.profiles &&
          !(s.profiles ?? []).some((p) => services[dep]!.profiles!.includes(p))
        ) {
          assert.equal(d.required, false, `${name} -> ${dep}: ${dep} is in a profile, so required: false`);
        }
      }
    }
  });

  test("state lives in named volumes, at the paths each image keeps it", () => {
    const state: Record<string, string> = {
      prometheus: "/prometheus",
      alertmanager: "/alertmanager",
      loki: "/loki",
      grafana: "/var/lib/grafana",
      promtail: "/var/lib/promtail",
      alloy: "/var/lib/alloy/data",
      postgres: "/var/lib/postgresql/data",
      redis: "/data",
      demo: "/var/log/kali-agents",
    };
    const used = new Set<string>();
    for (const [name, s] of Object.entries(services)) {
      for (const m of mounts(s)) if (m.type === "volume" && m.source) used.add(m.source);
      if (!(name in state)) continue;
      const m = mounts(s).find((x) => x.target === state[name]);
      assert.ok(
        m && m.type === "volume" && m.source && m.source in doc.volumes,
        `${name}: ${state[name]} on a named volume`,
      );
      assert.notEqual(m.read_only, true, `${name}: its state volume is writable`);
    }
    // The flag paths agree with the volumes.
    assert.equal(flag(services.prometheus!, "--storage.tsdb.path"), "/prometheus");
    assert.equal(flag(services.alertmanager!, "--storage.path"), "/alertmanager");
    assert.equal(flag(services.alloy!, "--storage.path"), "/var/lib/alloy/data");
    const promtail = parse(read("promtail/promtail.yaml")) as { positions: { filename: string } };
    assert.ok(promtail.positions.filename.startsWith("/var/lib/promtail/"));
    const loki = parse(read("loki/loki.yaml")) as { common: { path_prefix: string } };
    assert.equal(loki.common.path_prefix, "/loki");
    // Every declared volume is used, every used one declared (APP_LOG_SOURCE's default included).
    assert.deepEqual([...used].sort(), Object.keys(doc.volumes).sort());
  });

  test("configuration is mounted read-only; restart policy and log rotation everywhere", () => {
    for (const [name, s] of Object.entries(services)) {
      for (const m of mounts(s)) {
        if (m.type !== "bind" || name === "secrets-init") continue;
        assert.equal(m.read_only, true, `${name}: ${m.source} -> ${m.target} read-only`);
      }
      assert.ok(
        s.restart === "unless-stopped" || (name === "secrets-init" && s.restart === "no"),
        `${name}: restart`,
      );
      assert.equal(s.logging?.driver, "json-file", `${name}: logging`);
      assert.ok(s.logging?.options?.["max-size"] && s.logging.options["max-file"], `${name}: log rotation`);
    }
  });

  test("the exporter sees the host: /, /proc and /sys read-only under EXPORTER_HOST_ROOT", () => {
    const e = services.exporter!;
    const hostRoot = e.environment!.EXPORTER_HOST_ROOT!;
    const m = mounts(e);
    for (const [src, dst] of [
      ["/", hostRoot],
      ["/proc", `${hostRoot}/proc`],
      ["/sys", `${hostRoot}/sys`],
    ]) {
      const found = m.find((x) => x.source === src && x.target === dst);
      assert.ok(found?.read_only, `${src} -> ${dst} read-only`);
    }
    assert.equal(services.exporter!.environment!.EXPORTER_TEXTFILE_DIR, "/var/lib/kali-agents/textfile");
  });

  test("Prometheus keeps 30 days within a size cap, has no lifecycle API, and receives Loki's recording rules", () => {
    const p = services.prometheus!;
    // Retention is in prometheus.yml (3.14 deprecates the flags); the flags would override it silently.
    assert.equal(flag(p, "--storage.tsdb.retention.time"), undefined);
    assert.equal(flag(p, "--storage.tsdb.retention.size"), undefined);
    const prom = parse(read("prometheus/prometheus.yml")) as {
      storage?: { tsdb?: { retention?: { time?: string; size?: string } } };
    };
    const retention = prom.storage?.tsdb?.retention;
    assert.ok(retention?.size, "a size cap");
    const days = /^(\d+)d$/.exec(retention?.time ?? "");
    assert.ok(
      days && Number(days[1]) >= 30,
      `retention.time ${retention?.time} must cover the SLO's 30 days`,
    );
    // No lifecycle API (stop and reload over HTTP): reloads are a SIGHUP (docs/operations/security.md).
    assert.ok(!commandArgs(p).includes("--web.enable-lifecycle"));
    const loki = parse(read("loki/loki.yaml")) as { ruler?: { remote_write?: { enabled?: boolean } } };
    assert.equal(
      commandArgs(p).includes("--web.enable-remote-write-receiver"),
      loki.ruler?.remote_write?.enabled === true,
      "the remote-write receiver is on exactly when Loki's ruler writes to Prometheus",
    );
  });

  test("Grafana: provisioning and dashboards where the providers look, anonymous access off, password from a file", () => {
    const g = services.grafana!;
    const m = mounts(g);
    assert.ok(
      m.some((x) => x.source === "./dashboards/provisioning" && x.target === "/etc/grafana/provisioning"),
    );
    const dashboards = m.find((x) => x.source === "./dashboards/generated");
    assert.ok(dashboards, "dashboards/generated mounted");
    const dir = join(root, "dashboards/provisioning/dashboards");
    for (const f of readdirSync(dir)) {
      const prov = parse(readFileSync(join(dir, f), "utf8")) as {
        providers: { options: { path: string } }[];
      };
      for (const p of prov.providers) {
        assert.ok(p.options.path.startsWith(`${dashboards.target}/`), `${f}: ${p.options.path}`);
        const local = join(root, "dashboards/generated", p.options.path.slice(dashboards.target.length + 1));
        assert.ok(existsSync(local), `${f}: ${p.options.path} has no folder in dashboards/generated`);
      }
    }
    assert.equal(g.environment!.GF_AUTH_ANONYMOUS_ENABLED, "false");
    assert.match(g.environment!.GF_SECURITY_ADMIN_PASSWORD__FILE!, /^\/run\/secrets\//);
  });
});

// ---- settings: every documented variable reaches the containers that read it ----

/** The variables compose sets itself (container paths, ports, service names, secret files), by service. */
const fixedByCompose: Record<string, Record<string, string>> = {
  exporter: {
    EXPORTER_LISTEN_ADDRESS: "the published port 9839 and Prometheus' target name it",
    EXPORTER_CONFIG_FILE: ".env is compose's one place of settings: no second file inside the container",
    EXPORTER_HOST_ROOT: "where compose mounts the host's /, /proc and /sys",
    EXPORTER_TEXTFILE_DIR: "where compose mounts the textfile volume",
    DATABASE_URL: "a secret: DATABASE_URL_FILE in secrets/exporter/",
    REDIS_URL: "a secret: REDIS_URL_FILE in secrets/exporter/",
  },
  ops: {
    DATABASE_URL: "a secret: DATABASE_URL_FILE in secrets/ops/",
    REDIS_URL: "a secret: REDIS_URL_FILE in secrets/ops/",
    OPS_RESTORE_DATABASE_URL: "a secret: OPS_RESTORE_DATABASE_URL_FILE in secrets/ops/",
    OPS_RESTORE_DATABASE_URL_FILE: "secrets-init writes the restore role's URL in secrets/ops/",
    OPS_PG_BIN_DIR: "the ops image's pg_dump of OPS_PG_MAJOR (ops/Dockerfile sets it)",
    OPS_BACKUP_DIR: "where compose mounts the backups volume",
    OPS_TEXTFILE_DIR: "where compose mounts the textfile volume",
    OPS_LOG_DIR: "where compose mounts the application's logs (APP_LOG_SOURCE)",
    OPS_REPORT_DIR: "where compose mounts the reports volume",
    PROMETHEUS_URL: "a secret: PROMETHEUS_URL_FILE (the prometheus service, with the ops user's login)",
    PROMETHEUS_URL_FILE: "secrets-init writes the prometheus service's URL with the ops user's login",
    ALERTMANAGER_URL: "a secret: ALERTMANAGER_URL_FILE (the alertmanager service, with the ops user's login)",
    ALERTMANAGER_URL_FILE: "secrets-init writes the alertmanager service's URL with the ops user's login",
    OPS_REPORT_SMTP_CONFIG: "where compose mounts Alertmanager's configuration",
    OPS_REPORT_SMTP_SECRETS_DIR: "where compose mounts Alertmanager's secret folder",
  },
};
const tables: Record<string, Record<string, Variable<unknown>>> = {
  exporter: exporterVariables as unknown as Record<string, Variable<unknown>>,
  ops: opsVariables as unknown as Record<string, Variable<unknown>>,
};

/**
 * `.env.example`'s lines: `NAME=value` shows the value used when NAME is unset; a commented
 * `# NAME=value` is an example (a secret file's name), shown as undefined.
 */
function envExample(): Map<string, string | undefined> {
  const out = new Map<string, string | undefined>();
  for (const line of read(".env.example").split("\n")) {
    const m = /^(# )?([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m) out.set(m[2]!, m[1] ? undefined : m[3]!.replace(/^"(.*)"$/, "$1"));
  }
  return out;
}

/** `${NAME:-default}` passing NAME through, or undefined. */
function passthrough(value: string | undefined, name: string): { default: string } | undefined {
  const m = /^\$\{(\w+):-([^}]*)\}$/.exec(value ?? "");
  return m && m[1] === name ? { default: m[2]! } : undefined;
}

describe("compose.yaml settings", () => {
  const example = envExample();

  test("every documented exporter and ops variable is set from .env (listed in .env.example), or fixed by compose for a stated reason", () => {
    const problems: string[] = [];
    let passed = 0;
    for (const [service, table] of Object.entries(tables)) {
      const env = services[service]!.environment ?? {};
      const fixed = fixedByCompose[service]!;
      const known = new Set<string>();
      for (const v of Object.values(table)) {
        known.add(v.env);
        if (v.file) known.add(`${v.env}_FILE`);
        if (v.env in fixed) {
          // Set to a literal, or to nothing (the program's default fits compose).
          for (const k of [v.env, `${v.env}_FILE`])
            if (env[k]?.includes("${"))
              problems.push(`${service}: ${k} is fixed by compose but taken from .env`);
          continue;
        }
        // A secret passes through as the name of its file (secrets/<service>/ at /run/secrets/).
        const name = v.secret && v.file ? `${v.env}_FILE` : v.env;
        const p = passthrough(env[name], name);
        if (!p) {
          problems.push(
            `${service}: ${name} is documented but not passed from .env (write ${name}: \${${name}:-})`,
          );
          continue;
        }
        passed++;
        if (!example.has(name)) problems.push(`.env.example does not list ${name}`);
        else {
          const shown = example.get(name);
          const effective = p.default !== "" ? p.default : v.secret ? "" : (v.default ?? "");
          if (shown !== undefined && shown !== effective)
            problems.push(
              `.env.example shows ${name}=${shown}, but unset it is ${JSON.stringify(effective)}`,
            );
        }
      }
      // Nothing else: a name no program reads (a typo) would be silently ignored.
      for (const k of Object.keys(env))
        if (!known.has(k))
          problems.push(`${service}: ${k} is in compose.yaml but not a variable of ${service}`);
      for (const k of Object.keys(fixed))
        if (!known.has(k)) problems.push(`fixedByCompose.${service}.${k} is not a variable of ${service}`);
    }
    assert.deepEqual(problems, []);
    assert.ok(passed >= 40, `${passed} variables pass through`);
    console.log(`compose: ${passed} exporter and ops variables pass through from .env`);
  });

  test("a variable several services read reaches each with one value (SCANS_RETENTION_DAYS: exporter and ops)", () => {
    const readers = new Map<string, string[]>();
    const all = { ...tables, demo: demoVariables as unknown as Record<string, Variable<unknown>> };
    for (const [service, table] of Object.entries(all))
      for (const v of Object.values(table)) readers.set(v.env, [...(readers.get(v.env) ?? []), service]);
    let shared = 0;
    for (const [name, who] of readers) {
      if (who.length < 2) continue;
      const values = new Set(who.map((s) => services[s]!.environment?.[name]).filter((x) => x !== undefined));
      if (values.size === 0) continue; // fixed per service (a secret file, a path)
      shared++;
      assert.equal(values.size, 1, `${name} is read by ${who.join(", ")} with ${[...values].join(" / ")}`);
      for (const s of who)
        if (!Object.values(fixedByCompose[s] ?? {}).length || !(name in (fixedByCompose[s] ?? {})))
          assert.ok(services[s]!.environment?.[name] !== undefined, `${name} does not reach ${s}`);
    }
    assert.ok(shared >= 4, `${shared} shared variables`);

    // Through the real loaders: an .env with other values than the defaults gives each program those values.
    const dotenv: Record<string, string> = {
      SCANS_RETENTION_DAYS: "30",
      SCANS_TABLE: "app.scan_jobs",
      SCAN_QUEUE_KEYS: "q:one,q:two",
      REDIS_CACHE_PREFIX: "app:cache:",
      EXPORTER_PG_LOCK_TIMEOUT_SECONDS: "4",
      HEALTH_CPU_WARN_PERCENT: "95",
      OPS_CLEANUP_BATCH_SIZE: "77",
      OPS_SCHEDULE_CLEANUP: "15 5 * * *",
      OPS_S3_PART_SIZE_MIB: "64",
    };
    const envOf = (name: string, vars: Record<string, string>) => {
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(services[name]!.environment ?? {})) {
        if (k.endsWith("_URL_FILE")) continue; // the secret files exist only in the container
        out[k] = interpolate(v, vars);
      }
      return out;
    };
    const exporter = loadExporterConfig(envOf("exporter", dotenv));
    const ops = loadOpsConfig(envOf("ops", dotenv));
    const demo = loadDemoConfig(envOf("demo", dotenv));
    assert.equal(exporter.scansRetentionDays, 30);
    assert.equal(ops.scansRetentionDays, 30);
    assert.deepEqual(ops.scansTable, exporter.scansTable);
    assert.deepEqual([exporter.scansTable.schema, exporter.scansTable.table], ["app", "scan_jobs"]);
    assert.deepEqual([...exporter.scanQueueKeys], ["q:one", "q:two"]);
    assert.deepEqual([...ops.scanQueueKeys], ["q:one", "q:two"]);
    assert.deepEqual([...demo.queueKeys], ["q:one", "q:two"]);
    assert.equal(ops.redisCachePrefix, "app:cache:");
    assert.equal(exporter.pgLockTimeoutSeconds, 4);
    assert.equal(exporter.healthCpuWarnPercent, 95);
    assert.equal(ops.cleanupBatchSize, 77);
    assert.equal(ops.s3PartSizeMib, 64);
    assert.ok(ops.scheduleCleanup);
    // Unset, each program keeps its own default (compose writes none of its own).
    const plain = loadExporterConfig(envOf("exporter", {}));
    assert.equal(plain.scansRetentionDays, loadOpsConfig(envOf("ops", {})).scansRetentionDays);
    assert.equal(plain.pgLockTimeoutSeconds, Number(exporterVariables.pgLockTimeoutSeconds.default));
  });
});
