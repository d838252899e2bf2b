#!/usr/bin/env bash
# The stand-in postgres image's entrypoint (tools/images/README.md), written here for what compose.yaml
# and the tests use from the official image's: POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB (each also
# as *_FILE, read from a file), POSTGRES_INITDB_ARGS, POSTGRES_HOST_AUTH_METHOD, the scripts of
# /docker-entrypoint-initdb.d (*.sh, *.sql, *.sql.gz) run once on an empty data directory, PGDATA, and
# the server run as the postgres user (999) when the container starts as root.
set -Eeuo pipefail

die() { echo "docker-entrypoint.sh: $*" >&2; exit 1; }

# NAME from NAME or from the file NAME_FILE names (not both); $2 is the default.
from_env_or_file() {
  local name="$1" fallback="${2:-}" file_var="${1}_FILE" value
  if [ -n "${!name:-}" ] && [ -n "${!file_var:-}" ]; then
    die "both $name and $file_var are set: set one"
  fi
  value="$fallback"
  if [ -n "${!name:-}" ]; then
    value="${!name}"
  elif [ -n "${!file_var:-}" ]; then
    [ -r "${!file_var}" ] || die "$file_var names ${!file_var}, which cannot be read"
    value="$(<"${!file_var}")"
  fi
  export "$name"="$value"
  unset "$file_var"
}

# An option as the first argument is an option of the server.
if [ "${1:0:1}" = '-' ]; then set -- postgres "$@"; fi

if [ "$1" = 'postgres' ]; then
  if [ "$(id -u)" = '0' ]; then
    # The data and socket folders belong to postgres (a fresh named volume is root's), then the rest
    # of this script and the server run as postgres.
    mkdir -p "$PGDATA" /var/run/postgresql
    chown postgres:postgres "$PGDATA" /var/run/postgresql
    chmod 700 "$PGDATA"
    chmod 3777 /var/run/postgresql
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$BASH_SOURCE" "$@"
  fi

  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    from_env_or_file POSTGRES_USER postgres
    from_env_or_file POSTGRES_PASSWORD
    from_env_or_file POSTGRES_DB "$POSTGRES_USER"
    from_env_or_file POSTGRES_INITDB_ARGS
    auth="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
    if [ -z "$POSTGRES_PASSWORD" ] && [ "$auth" != 'trust' ]; then
      die "the database is uninitialized and no superuser password is set: set POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE (or POSTGRES_HOST_AUTH_METHOD=trust to allow every connection without one)"
    fi

    mkdir -p "$PGDATA"
    chmod 700 "$PGDATA"
    pwfile="$(mktemp)"
    printf '%s' "$POSTGRES_PASSWORD" >"$pwfile"
    # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of options
    initdb --username="$POSTGRES_USER" --pwfile="$pwfile" $POSTGRES_INITDB_ARGS
    rm -f "$pwfile"
    # Connections from other containers: with the password (or without, when the method is trust).
    printf '\nhost all all all %s\n' "$auth" >>"$PGDATA/pg_hba.conf"

    # A server on the Unix socket only, for the set-up; no client can reach it from outside meanwhile.
    pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p ${PGPORT:-5432}" -w start
    export PGPASSWORD="$POSTGRES_PASSWORD"
    run_psql() { psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc "$@"; }
    if [ "$POSTGRES_DB" != 'postgres' ]; then
      run_psql --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
    fi
    for f in /docker-entrypoint-initdb.d/*; do
      [ -e "$f" ] || continue
      case "$f" in
        *.sh)
          if [ -x "$f" ]; then
            echo "docker-entrypoint.sh: running $f"
            "$f"
          else
            echo "docker-entrypoint.sh: sourcing $f"
            # shellcheck disable=SC1090
            . "$f"
          fi
          ;;
        *.sql) echo "docker-entrypoint.sh: running $f"; run_psql --dbname "$POSTGRES_DB" -f "$f" ;;
        *.sql.gz) echo "docker-entrypoint.sh: running $f"; gunzip -c "$f" | run_psql --dbname "$POSTGRES_DB" ;;
        *) echo "docker-entrypoint.sh: ignoring $f" ;;
      esac
    done
    unset PGPASSWORD
    pg_ctl -D "$PGDATA" -m fast -w stop
    echo "docker-entrypoint.sh: PostgreSQL init process complete; ready for start up."
  fi
fi

exec "$@"
