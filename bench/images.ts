// The images, measured (docs/performance.md, "The images"): each image's size, the stack's cold start
// (`docker compose --profile demo up -d --wait` of a new project, no volumes, to all healthy) and its
// warm start (down, then up with the volumes kept), and the exporter's image and container against the
// three Go exporters it replaces (their binaries' sizes, their RSS natively on the same PostgreSQL and
// Redis, after the same number of scrapes).
//
// Usage: npm run -s bench:images   (BENCH_IMAGES_SCRAPES=200: scrapes of each exporter before its RSS)
// Needs what test/containers needs: a Docker daemon, docker compose, `npm run -s images -- build` and
// our three images (docker compose build), the Go exporters (npm run -s upstream -- build). It runs its
// own compose project from a copy of the repository, on compose.yaml's ports on 127.0.0.1, under the
// container tests' lock; everything it starts is removed at the end.
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "../test/support/servers.ts";
import { upstreamBinaryPath } from "../test/support/upstream.ts";
import {
  acquireLock,
  checkPortsFree,
  copyRepository,
  docker,
  imageOf,
  Project,
  removeStaleProjects,
  requireDocker,
  startedServices,
} from "../test/containers/compose.ts";
import { ourImages } from "../test/containers/runtime-files.ts";
import { goExporters, memoryOf, startChild, waitHttp, type Child } from "./lib/processes.ts";

const scrapes = Number(process.env.BENCH_IMAGES_SCRAPES ?? 200);
const mb = (bytes: number) => (bytes / 1e6).toFixed(1);
const s = (ms: number) => (ms / 1000).toFixed(1);

function imageSize(ref: string): number {
  return Number(docker(["image", "inspect", "--format", "{{.Size}}", ref]).stdout.trim());
}

async function scrapeTimes(url: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const res = await fetch(url, { signal: AbortSignal.timeout(30_000) });
    if (!res.ok) throw new Error(`${url}: ${res.status}`);
    await res.arrayBuffer();
  }
}

async function main(): Promise<void> {
  const skip = requireDocker();
  if (skip) throw new Error(skip);
  const release = await acquireLock(20 * 60_000);
  const children: Child[] = [];
  let project: Project | undefined;
  try {
    removeStaleProjects();
    await checkPortsFree();
    const images = [...new Set([...startedServices.map(imageOf), ...ourImages.map((i) => i.image)])].sort();
    const sizes = new Map(images.map((ref) => [ref, imageSize(ref)]));

    const dir = copyRepository("kali-bench-images");
    project = new Project(dir, `kali-bench-images-${process.pid}`);
    const up = ["up", "-d", "--wait", "--pull", "never", "--no-build", ...startedServices];
    let t = Date.now();
    project.compose(up, { timeoutMs: 10 * 60_000 });
    const coldMs = Date.now() - t;
    project.compose(["down", "--timeout", "30"], { timeoutMs: 5 * 60_000 });
    t = Date.now();
    project.compose(up, { timeoutMs: 10 * 60_000 });
    const warmMs = Date.now() - t;

    // Ours in its container, scraped through compose's published port; RSS of its main process.
    const exporterPid = (() => {
      const id = project.compose(["ps", "-q", "exporter"]).stdout.trim();
      return Number(docker(["inspect", "--format", "{{.State.Pid}}", id]).stdout.trim());
    })();
    await scrapeTimes("http://127.0.0.1:9839/metrics", scrapes);
    const ours = memoryOf(exporterPid);

    // The Go exporters natively, on the stack's PostgreSQL and Redis (published on 127.0.0.1).
    const password = readFileSync(join(dir, "secrets/postgres/demo_postgres_password"), "utf8").trim();
    const theirs = new Map<string, { rss: number; anon: number; size: number }>();
    for (const name of goExporters) {
      const port = await freePort();
      const bin = upstreamBinaryPath(name);
      const listen = `--web.listen-address=127.0.0.1:${port}`;
      const args =
        name === "redis_exporter"
          ? ["--redis.addr=redis://127.0.0.1:6379", listen]
          : [listen, "--log.level=warn"];
      const env: Record<string, string> =
        name === "postgres_exporter"
          ? {
              DATA_SOURCE_NAME: `postgresql://kali_agents:${encodeURIComponent(password)}@127.0.0.1:5432/kali_agents?sslmode=disable`,
            }
          : {};
      const child = startChild(name, bin, args, { env: { PATH: process.env.PATH, ...env } });
      children.push(child);
      await waitHttp(child, `http://127.0.0.1:${port}/metrics`);
      await scrapeTimes(`http://127.0.0.1:${port}/metrics`, scrapes);
      theirs.set(name, { ...memoryOf(child.pid), size: statSync(bin).size });
      await child.stop();
    }

    const lines: string[] = [];
    lines.push(`Produced by \`npm run -s bench:images\` (bench/images.ts), BENCH_IMAGES_SCRAPES=${scrapes}.`);
    lines.push("", "| image | size MB |", "| --- | --- |");
    for (const [ref, size] of sizes) lines.push(`| ${ref} | ${mb(size)} |`);
    lines.push(
      "",
      `| start of the stack (${startedServices.length} services) | to all healthy, s |`,
      "| --- | --- |",
      `| cold: a new project, no containers or volumes yet | ${s(coldMs)} |`,
      `| warm: after \`down\`, volumes kept | ${s(warmMs)} |`,
    );
    const goSize = [...theirs.values()].reduce((a, b) => a + b.size, 0);
    const goRss = [...theirs.values()].reduce((a, b) => a + b.rss, 0);
    const goAnon = [...theirs.values()].reduce((a, b) => a + b.anon, 0);
    lines.push(
      "",
      `| exporter | size MB | RSS after ${scrapes} scrapes MB | anonymous RSS MB |`,
      "| --- | --- | --- | --- |",
      `| **ours**: the kali-agents-exporter:local image, its container | ${mb(sizes.get("kali-agents-exporter:local")!)} (image) | ${mb(ours.rss)} | ${mb(ours.anon)} |`,
    );
    for (const [name, m] of theirs)
      lines.push(`| ${name} (binary, native) | ${mb(m.size)} | ${mb(m.rss)} | ${mb(m.anon)} |`);
    lines.push(`| the three Go exporters together | ${mb(goSize)} | ${mb(goRss)} | ${mb(goAnon)} |`);
    console.log(lines.join("\n"));
  } finally {
    for (const c of children) await c.stop();
    project?.remove();
    release();
  }
}

main().catch((e: unknown) => {
  console.error(`bench:images: ${(e as Error).message}`);
  process.exit(1);
});
