// The contracts with the Kali Agents application that more than one program relies on (docs/database.md,
// DESIGN "Contracts with the application"): where the scans are, how long they are kept, and the Redis
// keys the application writes. The exporter reads them, the ops jobs clean them up, the demo workload
// writes them; the shared configuration rows (lib/config/shared.ts) take their defaults from here.
import { thresholds } from "./thresholds.ts";

export const application = {
  /** The scans table, `schema.table`. */
  scansTable: "public.scans",
  /** Rows that finished longer ago than this are past retention (counted by the exporter, deleted by cleanup). */
  scansRetentionDays: thresholds.scans.retentionDays,
  /** Redis lists holding queued scan ids. */
  scanQueueKeys: ["kali:scans:queue"],
  /** Prefix of the application's cache keys in Redis. */
  redisCachePrefix: "kali:cache:",
} as const;
