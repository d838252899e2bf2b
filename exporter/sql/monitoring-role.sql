-- The exporter's PostgreSQL role, with the least privilege it needs (docs/database.md, "The exporter's
-- role", says exactly what it can do, tested on PostgreSQL 14 to 18 by test/postgres-majors.test.ts):
--   - pg_monitor: read pg_stat_activity (every session, not only its own: with pg_read_all_stats it
--     also reads other sessions' query text and client addresses), pg_stat_database, pg_locks,
--     pg_settings and pg_database_size() of every database; it grants no write and no table data;
--   - SELECT on the scans table, and USAGE on its schema;
--   - what every role gets from PUBLIC: TEMPORARY on the database (temporary tables of its own
--     session), left as is because revoking it is a database-wide change (docs/database.md says how).
-- On PostgreSQL 14 this script also revokes CREATE on schema public from PUBLIC: what 15 and later
-- do by default. That is a change for the whole database: any role that is not public's owner (or a
-- superuser) can then no longer create objects in public, as on 15 and later.
-- Run as a superuser (or a role with CREATEROLE and the grant option), in the application's database:
--   psql "$ADMIN_URL" -v ON_ERROR_STOP=1 -f exporter/sql/monitoring-role.sql
-- then give the role its password without writing it into a file or the shell history:
--   psql "$ADMIN_URL" -c '\password kali_agents_exporter'
-- and set DATABASE_URL (or DATABASE_URL_FILE) to postgres://kali_agents_exporter:PASSWORD@host/db.
-- Idempotent. If SCANS_TABLE is not public.scans, change the two GRANTs at the end.

DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'kali_agents_exporter') THEN
    CREATE ROLE kali_agents_exporter LOGIN;
  END IF;
END
$$;

-- The exporter holds at most two connections; the limit stops a misconfigured copy from taking more.
-- It leaves room for a connection that is closing while its replacement opens.
ALTER ROLE kali_agents_exporter LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE CONNECTION LIMIT 4;

GRANT pg_monitor TO kali_agents_exporter;

-- PostgreSQL 15's default on 14 (a no-op on 15 and later): PUBLIC may not create in schema public.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

GRANT USAGE ON SCHEMA public TO kali_agents_exporter;
GRANT SELECT ON TABLE public.scans TO kali_agents_exporter;
