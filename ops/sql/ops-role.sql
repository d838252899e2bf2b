-- The ops jobs' PostgreSQL role (docs/operations/backup-and-recovery.md, docs/operations/security.md),
-- with what the jobs need and nothing that runs a program on the server:
--   - backup (pg_dump) reads every table, view and sequence: pg_read_all_data (PostgreSQL 14+), which
--     grants no write;
--   - verify, restore and the DR drill restore into databases of their own: CREATEDB. What they restore
--     belongs to this role (pg_restore --no-owner --no-privileges), in databases it owns;
--   - cleanup deletes old rows of the scans table: DELETE, and UPDATE on finished_at, which its
--     SELECT ... FOR UPDATE SKIP LOCKED needs (row locks ask for UPDATE on a column).
-- Not a superuser and no member of pg_execute_server_program, pg_read_server_files or
-- pg_write_server_files: a crafted dump restored by this role cannot run COPY ... TO PROGRAM or read and
-- write the server's files (a function it restores runs with this role's rights).
-- Run as a superuser (or a role with CREATEROLE and the grant option), in the application's database:
--   psql "$ADMIN_URL" -v ON_ERROR_STOP=1 -f ops/sql/ops-role.sql
-- then give the role its password (psql "$ADMIN_URL" -c '\password kali_agents_ops') and set the ops
-- DATABASE_URL to postgres://kali_agents_ops:PASSWORD@host/db. compose's demo PostgreSQL runs it at
-- initialisation (postgres/initdb/10-roles.sh). Idempotent. If SCANS_TABLE is not public.scans,
-- change the GRANTs at the end.

DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'kali_agents_ops') THEN
    CREATE ROLE kali_agents_ops LOGIN;
  END IF;
END
$$;

-- A job holds one or two connections (backup: its snapshot's and pg_dump's).
ALTER ROLE kali_agents_ops LOGIN NOSUPERUSER CREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
  CONNECTION LIMIT 6;

GRANT pg_read_all_data TO kali_agents_ops;

GRANT USAGE ON SCHEMA public TO kali_agents_ops;
GRANT SELECT, DELETE ON TABLE public.scans TO kali_agents_ops;
GRANT UPDATE (finished_at) ON TABLE public.scans TO kali_agents_ops;
