// A throwaway S3-compatible server for the tests: s3rver (npm), in this process, on a free loopback
// port, storing objects as plain files in a temporary folder (so a test can alter an object's bytes
// behind the store's back). `cutAfter` puts a proxy in front that stops the server once a number of
// request bytes went through: an upload cut in the middle, as when the store goes away.
import { createRequire } from "node:module";
import { rmSync } from "node:fs";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { freePort, tempDir } from "./servers.ts";

interface KoaContext {
  method: string;
  path: string;
  query: Record<string, string | undefined>;
  get(header: string): string;
}
interface S3rverInstance {
  run(): Promise<{ port: number }>;
  close(): Promise<void>;
  httpServer?: { closeAllConnections(): void };
  /** Koa's middleware list: composed when the server starts, so one put first sees every request. */
  middleware: ((ctx: KoaContext, next: () => Promise<void>) => Promise<void>)[];
}

/** A write the server received, with the SHA-256 the client declared for its body (base64). */
export interface ReceivedPut {
  readonly key: string;
  readonly partNumber?: number;
  readonly checksumSha256: string;
}
type S3rverClass = new (options: Record<string, unknown>) => S3rverInstance;
const S3rver = createRequire(import.meta.url)("s3rver") as S3rverClass;

/** s3rver's one account. */
export const s3Credentials = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } as const;

export interface S3Server {
  readonly endpoint: string;
  readonly port: number;
  readonly bucket: string;
  /** Folder of the store's files. */
  readonly dir: string;
  /** Every PUT (object or part) received since the start, with its declared x-amz-checksum-sha256. */
  readonly puts: ReceivedPut[];
  /** The file holding the bytes of object `key` in the bucket. */
  objectFile(key: string): string;
  stop(): Promise<void>;
  /** Starts the server again on the same port and folder (after `stop`, or after a cut). */
  start(): Promise<void>;
  cleanup(): Promise<void>;
}

export async function startS3Server(bucket = "kali-backups"): Promise<S3Server> {
  const dir = tempDir("s3");
  const port = await freePort();
  let server: S3rverInstance | undefined;
  let stopping: Promise<void> | undefined;
  const puts: ReceivedPut[] = [];
  const start = async () => {
    await stopping;
    if (server) return;
    server = new S3rver({
      address: "127.0.0.1",
      port,
      directory: dir,
      silent: true,
      configureBuckets: [{ name: bucket }],
      vhostBuckets: false,
    });
    // s3rver does not check x-amz-checksum-sha256 (S3 and MinIO do): the tests record it instead
    // and compare it with the bytes stored.
    server.middleware.unshift(async (ctx, next) => {
      if (ctx.method === "PUT" && ctx.path.startsWith(`/${bucket}/`)) {
        const part = ctx.query.partNumber;
        puts.push({
          key: decodeURIComponent(ctx.path.slice(bucket.length + 2)),
          ...(part ? { partNumber: Number(part) } : {}),
          checksumSha256: ctx.get("x-amz-checksum-sha256"),
        });
      }
      await next();
    });
    await server.run();
  };
  const stop = async () => {
    const s = server;
    server = undefined;
    if (!s) return stopping;
    // Keep-alive connections of the clients would hold close() open: they are dropped too.
    stopping = new Promise<void>((resolve) => {
      const closed = s.close();
      s.httpServer?.closeAllConnections();
      void closed.then(resolve, resolve);
    });
    return stopping;
  };
  await start();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    bucket,
    dir,
    puts,
    objectFile: (key) => join(dir, bucket, `${key}._S3rver_object`),
    stop,
    start,
    cleanup: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A TCP proxy to `s3` on a free port. Once `bytes` request bytes have passed it stops the S3 server
 * and drops every connection, and refuses new ones: the store vanishes in the middle of an upload.
 */
export async function cutAfter(
  s3: S3Server,
  bytes: number,
): Promise<{ endpoint: string; close(): void; cut: () => boolean }> {
  const sockets = new Set<Socket>();
  let seen = 0;
  let cut = false;
  const proxy: Server = createServer((client) => {
    if (cut) return client.destroy();
    const upstream = createConnection({ host: "127.0.0.1", port: s3.port });
    sockets.add(client).add(upstream);
    client.on("data", (d: Buffer) => {
      seen += d.length;
      if (!cut && seen >= bytes) {
        cut = true;
        for (const s of sockets) s.destroy();
        proxy.close();
        void s3.stop();
        return;
      }
      upstream.write(d);
    });
    upstream.on("data", (d: Buffer) => client.write(d));
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("close", end).on("error", end);
    upstream.on("close", end).on("error", end);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => proxy.listen(port, "127.0.0.1", resolve));
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () => {
      for (const s of sockets) s.destroy();
      proxy.close();
    },
    cut: () => cut,
  };
}
