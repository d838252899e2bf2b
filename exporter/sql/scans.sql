-- Generated from definitions/scans-ddl.ts by `npm run generate`. DO NOT EDIT: change the TypeScript
-- and regenerate (test/drift.test.ts fails when this file differs).
--
-- The scans table the Kali Agents application writes and the exporter's scans collector reads: the
-- contract in docs/database.md. The exporter works with any table that has these columns and indexes
-- (SCANS_TABLE names it; its id may be of any type); this is the reference DDL, which the demo workload
-- applies at start and the tests use. Idempotent: it can run on every deploy, and on a live table it
-- never holds a long lock (on a large table built before finish_xid existed, run
-- exporter/sql/scans-finish-xid.sql first: this refuses to build that index with a lock, and says so).
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
  -- The transaction that made the scan final, set by the trigger below (never by the application): the
  -- exporter counts each finished scan once, when that transaction's commit becomes visible to it.
  finish_xid  xid8,
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

-- Finished scans, counted once each (kali_agents_scans_total, kali_agents_scan_duration_seconds): the
-- trigger stamps a row with its transaction's id (pg_current_xact_id(), the top-level one) when the row
-- reaches a final status, and the exporter reads the rows whose stamping transaction committed since its
-- last read, by comparing that id with the snapshots it took (docs/database.md, "How finished scans are
-- counted"). Stamping the id first also makes sure the transaction has one before the row is written.
-- A tracking table created before this column existed: add it (catalog only, no rewrite, no backfill:
-- rows finished before it have no stamp and are counted by the exporter's start-up count).
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_attribute
                 WHERE attrelid = 'scans'::regclass AND attname = 'finish_xid' AND NOT attisdropped) THEN
    SET LOCAL lock_timeout = '5s';
    ALTER TABLE scans ADD COLUMN finish_xid xid8;
  END IF;
END
$$;

CREATE OR REPLACE FUNCTION scans_stamp_finish_xid() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.finish_xid := pg_current_xact_id();
  RETURN NEW;
END
$$;

-- Only rows becoming final fire it (the WHEN clauses), so queued and running writes cost nothing more.
-- Created only when missing: CREATE TRIGGER takes a lock that would queue behind long transactions.
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_trigger WHERE tgrelid = 'scans'::regclass AND tgname = 'scans_finish_insert') THEN
    SET LOCAL lock_timeout = '5s';
    CREATE TRIGGER scans_finish_insert BEFORE INSERT ON scans FOR EACH ROW
      WHEN (NEW.status IN ('success', 'failed', 'cancelled'))
      EXECUTE FUNCTION scans_stamp_finish_xid();
  END IF;
  IF NOT EXISTS (SELECT FROM pg_trigger WHERE tgrelid = 'scans'::regclass AND tgname = 'scans_finish_update') THEN
    SET LOCAL lock_timeout = '5s';
    CREATE TRIGGER scans_finish_update BEFORE UPDATE ON scans FOR EACH ROW
      WHEN (NEW.status IN ('success', 'failed', 'cancelled')
            AND OLD.status NOT IN ('success', 'failed', 'cancelled'))
      EXECUTE FUNCTION scans_stamp_finish_xid();
  END IF;
END
$$;

-- The exporter's read of newly committed finished scans: keyset pages on (finish_xid, id). Partial, so
-- rows finished before the column existed take no room. Built here only on a small table (a new one);
-- on a large one CREATE INDEX would block writes while it runs, so this refuses and names the script
-- that builds it CONCURRENTLY.
DO $$
DECLARE
  estimate float4;
BEGIN
  IF NOT EXISTS (SELECT FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                 WHERE i.indrelid = 'scans'::regclass AND c.relname = 'scans_finish_xid_idx') THEN
    SELECT reltuples INTO estimate FROM pg_class WHERE oid = 'scans'::regclass;
    IF estimate > 100000 THEN
      RAISE EXCEPTION 'scans_finish_xid_idx is missing on a table of about % rows', estimate::bigint
        USING HINT = 'build it without blocking writes: psql "$DATABASE_URL" -v ON_ERROR_STOP=1 '
                     '-f exporter/sql/scans-finish-xid.sql, then run this file again';
    END IF;
    CREATE INDEX scans_finish_xid_idx ON scans (finish_xid, id) WHERE finish_xid IS NOT NULL;
  END IF;
END
$$;
