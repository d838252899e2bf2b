#!/bin/sh
# The demo PostgreSQL's roles, run once by the image's entrypoint when it initialises an empty data
# directory (/docker-entrypoint-initdb.d; a data volume that exists already is left alone:
# docs/operations/security.md says how to add the roles to it). It creates the scans table the roles are
# granted on (exporter/sql/scans.sql, generated from definitions/scans-ddl.ts, which the demo applies
# again at its start: idempotent), then:
#   - kali_agents_exporter (exporter/sql/monitoring-role.sql): pg_monitor and SELECT on the scans table;
#   - kali_agents_ops (ops/sql/ops-role.sql): reads all, CREATEDB, DELETE on the scans table, and
#     nothing that runs programs on the server;
#   - kali_agents_restore (ops/sql/restore-role.sql): CREATEDB and nothing else, the role verify, restore
#     and the DR drill restore as (docs/operations/backup-and-recovery.md, "The restore role");
# and gives each the password secrets-init created (secrets/postgres/), read by psql itself (\set with
# a backquoted cat), so no password is on a command line or in the server's log.
set -eu
sql=${KALI_AGENTS_SQL_DIR:-/etc/kali-agents/sql}
secrets=${KALI_AGENTS_SECRETS_DIR:-/run/secrets}
for f in exporter_db_password ops_db_password demo_restore_password; do
  if [ ! -s "$secrets/$f" ]; then
    echo "10-roles.sh: $secrets/$f is missing or empty (secrets-init creates it)" >&2
    exit 1
  fi
done
psql -v ON_ERROR_STOP=1 -X -q --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -f "$sql/scans.sql" -f "$sql/monitoring-role.sql" -f "$sql/ops-role.sql" -f "$sql/restore-role.sql"
psql -v ON_ERROR_STOP=1 -X -q --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<SQL
\\set exporter_pw \`cat $secrets/exporter_db_password\`
\\set ops_pw \`cat $secrets/ops_db_password\`
\\set restore_pw \`cat $secrets/demo_restore_password\`
ALTER ROLE kali_agents_exporter PASSWORD :'exporter_pw';
ALTER ROLE kali_agents_ops PASSWORD :'ops_pw';
ALTER ROLE kali_agents_restore PASSWORD :'restore_pw';
SQL
echo "10-roles.sh: roles kali_agents_exporter, kali_agents_ops and kali_agents_restore ready"
