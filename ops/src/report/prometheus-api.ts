// Prometheus' HTTP API as the report reads it: instant queries (a vector, or a matrix for a range
// selector) and range queries. Errors name Prometheus and the query; NaN and ±Inf are "no data".
export interface Series {
  readonly metric: Readonly<Record<string, string>>;
  /** [unix seconds, value] pairs, oldest first; a vector's series has one. */
  readonly points: readonly (readonly [number, number])[];
}

type Body = {
  status?: string;
  error?: string;
  data?: {
    resultType: string;
    result: { metric: Record<string, string>; value?: [number, string]; values?: [number, string][] }[];
  };
};

/**
 * A URL's user and password as a basic-auth header, and the URL without them (fetch refuses a URL with
 * credentials, and messages show the URL): Prometheus and Alertmanager behind --web.config.file.
 */
export function withBasicAuth(base: string): { url: URL; shown: string; headers: Record<string, string> } {
  const url = new URL(base);
  const headers: Record<string, string> = {};
  if (url.username || url.password) {
    const pair = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
    headers.authorization = `Basic ${Buffer.from(pair, "utf8").toString("base64")}`;
    url.username = "";
    url.password = "";
  }
  return { url, shown: url.origin + url.pathname.replace(/\/$/, ""), headers };
}

async function call(base: string, path: string, params: Record<string, string>): Promise<Series[]> {
  const { url, shown, headers } = withBasicAuth(base);
  const u = new URL(path, url);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  let res: Response;
  try {
    res = await fetch(u, { headers, signal: AbortSignal.timeout(60_000) });
  } catch (e) {
    throw new Error(`Prometheus at ${shown} is not reachable: ${(e as Error).message}`);
  }
  const body = (await res.json().catch(() => ({}))) as Body;
  if (!res.ok || body.status !== "success")
    throw new Error(`Prometheus answered ${res.status} to ${params.query}: ${body.error ?? "no error text"}`);
  return (body.data?.result ?? []).map((r) => ({
    metric: r.metric,
    points: (r.values ?? (r.value ? [r.value] : [])).map(([t, v]) => [t, Number(v)] as const),
  }));
}

/** An instant query at `at`: a vector (one point per series) or, for a range selector, a matrix. */
export const query = (base: string, q: string, at: Date): Promise<Series[]> =>
  call(base, "/api/v1/query", { query: q, time: String(at.getTime() / 1000) });

/** A range query from `start` to `end` every `stepSeconds`. */
export const queryRange = (base: string, q: string, start: Date, end: Date, stepSeconds: number) =>
  call(base, "/api/v1/query_range", {
    query: q,
    start: String(start.getTime() / 1000),
    end: String(end.getTime() / 1000),
    step: String(stepSeconds),
  });

/** The first series' value of an instant query, or null (no series, NaN or infinite). */
export async function scalar(base: string, q: string, at: Date): Promise<number | null> {
  const v = (await query(base, q, at))[0]?.points[0]?.[1];
  return v === undefined || !Number.isFinite(v) ? null : v;
}
