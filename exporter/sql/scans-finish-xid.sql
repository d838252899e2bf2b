-- Brings a live scans table created before finish_xid existed up to exporter/sql/scans.sql, without a
-- long lock, on any size (measured on 10 million rows: docs/performance.md). Idempotent: run it again
-- after an interruption. Run with psql (CREATE INDEX CONCURRENTLY cannot run inside a transaction, and
-- \gexec is psql's), in the schema that SCANS_TABLE names (public by default), as the table's owner:
--   psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f exporter/sql/scans-finish-xid.sql
--
-- 1. The column: catalog only (no default, so no rewrite), under a brief ACCESS EXCLUSIVE lock; 2. the
-- trigger function and the two triggers, under a brief SHARE ROW EXCLUSIVE lock (it waits for the
-- transactions already writing the table, so every finish after it is stamped); 3. the index, built
-- CONCURRENTLY (writes go on). No backfill: rows finished before the triggers have no stamp and are
-- counted by the exporter's start-up count, so nothing has to be rewritten.
-- lock_timeout makes steps 1 and 2 give up (and the script stop) instead of queueing every other
-- session behind a long transaction; run it again later then.

SET lock_timeout = '5s';

DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_attribute
                 WHERE attrelid = 'scans'::regclass AND attname = 'finish_xid' AND NOT attisdropped) THEN
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

DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_trigger WHERE tgrelid = 'scans'::regclass AND tgname = 'scans_finish_insert') THEN
    CREATE TRIGGER scans_finish_insert BEFORE INSERT ON scans FOR EACH ROW
      WHEN (NEW.status IN ('success', 'failed', 'cancelled'))
      EXECUTE FUNCTION scans_stamp_finish_xid();
  END IF;
  IF NOT EXISTS (SELECT FROM pg_trigger WHERE tgrelid = 'scans'::regclass AND tgname = 'scans_finish_update') THEN
    CREATE TRIGGER scans_finish_update BEFORE UPDATE ON scans FOR EACH ROW
      WHEN (NEW.status IN ('success', 'failed', 'cancelled')
            AND OLD.status NOT IN ('success', 'failed', 'cancelled'))
      EXECUTE FUNCTION scans_stamp_finish_xid();
  END IF;
END
$$;

-- An earlier run interrupted during the build leaves an INVALID index, which IF NOT EXISTS would keep:
-- drop it (concurrently too) and build again.
SELECT format('DROP INDEX CONCURRENTLY %I.%I', n.nspname, c.relname)
  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE i.indrelid = 'scans'::regclass AND c.relname = 'scans_finish_xid_idx' AND NOT i.indisvalid
\gexec

RESET lock_timeout;
CREATE INDEX CONCURRENTLY IF NOT EXISTS scans_finish_xid_idx
  ON scans (finish_xid, id) WHERE finish_xid IS NOT NULL;
