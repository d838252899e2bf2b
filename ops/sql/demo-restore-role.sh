#!/bin/sh
# The demo PostgreSQL's first start (compose.yaml mounts this into /docker-entrypoint-initdb.d): the
# restore role of ops/sql/restore-role.sql, with the password secrets-init generated
# (secrets/postgres/demo_restore_password; the ops service's secrets/ops/ops_restore_database_url
# holds the same). A database that already exists gets it by hand: docs/operations/backup-and-recovery.md,
# "The restore role".
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" -f /etc/kali-agents/restore-role.sql
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v pw="$(cat /run/secrets/demo_restore_password)" <<'SQL'
ALTER ROLE kali_agents_restore PASSWORD :'pw';
SQL
