-- The role verify, restore and dr-drill restore backups as (OPS_RESTORE_DATABASE_URL,
-- docs/operations/backup-and-recovery.md, "The restore role"). A dump is SQL, run by pg_restore as the
-- role that restores it: a copy from a tampered bucket can hold a function that runs
-- `COPY … TO PROGRAM` (a command on the database server) or writes server files when a materialized
-- view is refreshed, and a superuser would run it. This role can do neither:
--   - LOGIN, CREATEDB (it creates the scratch databases and owns them and everything restored into
--     them), nothing else: no superuser, CREATEROLE, REPLICATION or BYPASSRLS;
--   - not a member of pg_execute_server_program, pg_read_server_files, pg_write_server_files (the
--     jobs check this before each restore of an off-site copy and refuse a role that is).
-- Run as a superuser (or a role with CREATEROLE), on the application's server:
--   psql "$ADMIN_URL" -v ON_ERROR_STOP=1 -f ops/sql/restore-role.sql
-- then give the role its password without writing it into a file or the shell history:
--   psql "$ADMIN_URL" -c '\password kali_agents_restore'
-- and set OPS_RESTORE_DATABASE_URL (or OPS_RESTORE_DATABASE_URL_FILE) to
-- postgres://kali_agents_restore:PASSWORD@host:5432/<the application's database>.
-- Idempotent.

DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'kali_agents_restore') THEN
    CREATE ROLE kali_agents_restore LOGIN;
  END IF;
END
$$;

ALTER ROLE kali_agents_restore LOGIN CREATEDB NOSUPERUSER NOCREATEROLE NOREPLICATION NOBYPASSRLS;

-- Revoked in case someone granted them; a warning only when they were not granted.
DO $$
DECLARE
  r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['pg_execute_server_program', 'pg_read_server_files', 'pg_write_server_files'] LOOP
    IF pg_has_role('kali_agents_restore', r, 'MEMBER') THEN
      EXECUTE format('REVOKE %I FROM kali_agents_restore', r);
    END IF;
  END LOOP;
END
$$;
