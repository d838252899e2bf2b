-- The scans table the Kali Agents application writes and the exporter's scans collector reads: the
-- contract in docs/database.md. The exporter works with any table that has these columns and indexes
-- (SCANS_TABLE names it; `id` may be of any type); this file is the reference DDL, used by the demo
-- workload and the tests. Idempotent: it can run on every deploy.
--
-- Run in the schema that SCANS_TABLE names (public by default):
--   psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f exporter/sql/scans.sql

CREATE TABLE IF NOT EXISTS scans (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tool        text        NOT NULL,
  target      text        NOT NULL,
  status      text        NOT NULL DEFAULT 'queued',
  created_at  timestamptz NOT NULL DEFAULT now(),
  started_at  timestamptz,
  finished_at timestamptz,
  CONSTRAINT scans_status_check
    CHECK (status IN ('queued', 'running', 'success', 'failed', 'cancelled')),
  -- A scan has a finished_at exactly when it reached a final status: the exporter counts finished scans
  -- from finished_at, so a final row without one would never be counted.
  CONSTRAINT scans_finished_at_check
    CHECK ((status IN ('success', 'failed', 'cancelled')) = (finished_at IS NOT NULL))
);

-- Active scans (kali_agents_active_scans, kali_agents_oldest_running_scan_age_seconds): a partial index,
-- so its size follows the number of active scans, not the table's. The exporter's query repeats the
-- predicate literally so that the planner can use it.
CREATE INDEX IF NOT EXISTS scans_active_idx
  ON scans (status, tool, started_at)
  WHERE status IN ('queued', 'running');

-- Finished scans: the watermark reads (kali_agents_scans_total, kali_agents_scan_duration_seconds),
-- max(finished_at) (kali_agents_last_scan_finished_timestamp_seconds), the rows past retention, and the
-- 90-day cleanup's DELETE all walk this index from one end.
CREATE INDEX IF NOT EXISTS scans_finished_at_idx ON scans (finished_at);
