// Simulated internal traffic: the demo's own users calling its API, so that request rates, latency
// histograms, error ratios and security events have something to show. Bounded in concurrency; it
// only ever calls the demo's own API on the loopback address.
import type { Chaos } from "./chaos.ts";
import { pick, toolNames } from "./scans.ts";

const users = ["alice", "bob", "carol", "dave", "erin", "admin-frank"];
/** Client addresses from the documentation ranges (RFC 5737), sent as X-Forwarded-For. */
export const clientAddresses = ["192.0.2.15", "192.0.2.77", "198.51.100.23", "203.0.113.9", "203.0.113.140"];
/** The brute-force chaos mode's attacker: one address trying one account's password. */
const attacker = { ip: "198.51.100.66", user: "admin-frank" };

export interface Traffic {
  stop(): Promise<void>;
  sent(): number;
}

export function startTraffic(baseUrl: string, rps: number, chaos: Chaos): Traffic {
  let sent = 0;
  let inFlight = 0;
  const maxInFlight = 64;
  let knownIds: string[] = [];

  const call = async (method: string, path: string, body?: unknown, ip = pick(clientAddresses)) => {
    const headers: Record<string, string> = {
      "x-user": pick(users),
      "x-forwarded-for": ip,
    };
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await fetch(baseUrl + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    if (method === "GET" && path === "/api/scans" && res.ok) {
      const ids = (JSON.parse(text) as { scans: { id: string }[] }).scans.map((s) => s.id);
      if (ids.length > 0) knownIds = ids;
    }
  };

  const one = () => {
    // Half the calls become failed logins from one address: enough to fire SecurityAuthFailureSpike
    // (20 in 5 minutes) at any DEMO_TRAFFIC_RPS from 0.1 up.
    if (chaos.current().mode === "brute-force" && Math.random() < 0.5)
      return call("POST", "/api/auth/login", { user: attacker.user, password: "wrong" }, attacker.ip);
    const r = Math.random();
    const id = knownIds.length > 0 ? pick(knownIds) : "1";
    if (r < 0.4) return call("GET", "/api/scans");
    if (r < 0.7) return call("GET", `/api/scans/${id}`);
    if (r < 0.85) return call("GET", "/api/tools");
    if (r < 0.97) {
      // One login in ten fails: a steady trickle of login_failed security events.
      const password = Math.random() < 0.1 ? "wrong" : "demo";
      return call("POST", "/api/auth/login", { user: pick(users), password });
    }
    if (r < 0.985) return call("DELETE", `/api/scans/${id}`);
    // Rare: the scan scheduler creates most scans, at its own pace.
    if (r < 0.988) return call("POST", "/api/scans", { tool: pick(toolNames), target: "198.51.100.7" });
    return call("GET", "/api/no-such-route");
  };

  const timer =
    rps > 0
      ? setInterval(() => {
          if (inFlight >= maxInFlight) return;
          inFlight++;
          sent++;
          one()
            .catch(() => {
              /* the API's own metrics and logs record failures; the caller has nothing to add */
            })
            .finally(() => inFlight--);
        }, 1000 / rps)
      : undefined;

  return {
    async stop() {
      clearInterval(timer);
      const deadline = Date.now() + 5000;
      while (inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    },
    sent: () => sent,
  };
}
