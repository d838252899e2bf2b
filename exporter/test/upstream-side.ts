// The pinned Go exporters (node_exporter, postgres_exporter, redis_exporter: definitions/versions.ts,
// built by `npm run -s upstream -- build`) started beside this exporter's collectors on the same
// throwaway servers, for the side-by-side comparison (upstream-values.test.ts).
import { startChild, waitHttp, type Child } from "../../bench/lib/processes.ts";
import { freePort } from "../../test/support/servers.ts";
import { upstreamBinaryPath } from "../../test/support/upstream.ts";
import { parseExposition, type Families } from "../../test/support/exposition.ts";

export interface GoExporter {
  readonly url: string;
  readonly child: Child;
  scrape(): Promise<Families>;
}

async function startGo(name: string, args: (port: number) => string[], env: NodeJS.ProcessEnv = {}) {
  const port = await freePort();
  const child = startChild(name, upstreamBinaryPath(name), args(port), {
    env: { PATH: process.env.PATH, ...env },
  });
  const url = `http://127.0.0.1:${port}/metrics`;
  try {
    await waitHttp(child, url);
  } catch (e) {
    await child.stop();
    throw e;
  }
  return {
    url,
    child,
    scrape: async () => {
      const res = await fetch(url, { signal: AbortSignal.timeout(20_000) });
      if (!res.ok) throw new Error(`${name}: HTTP ${res.status}`);
      return parseExposition(await res.text());
    },
  } satisfies GoExporter;
}

const listen = (p: number) => `--web.listen-address=127.0.0.1:${p}`;

export const startNodeExporter = (textfileDir: string) =>
  startGo("node_exporter", (p) => [
    listen(p),
    "--log.level=warn",
    `--collector.textfile.directory=${textfileDir}`,
  ]);

export const startPostgresExporter = (dsn: string) =>
  startGo("postgres_exporter", (p) => [listen(p), "--log.level=warn"], { DATA_SOURCE_NAME: dsn });

export const startRedisExporter = (redisUrl: string) =>
  startGo("redis_exporter", (p) => [`--redis.addr=${redisUrl}`, `-web.listen-address=127.0.0.1:${p}`]);
