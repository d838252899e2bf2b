#!/usr/bin/env bash
# Installs what the tests need on a Debian machine (as root, with apt-get) and runs every test:
# lint, typecheck, the drift check and the whole test suite (unit, integration, rules, routing, e2e).
# Usage: bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests start as real processes.
need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v redis-server >/dev/null || need+=(redis-server)
# The probes test makes a self-signed certificate for its TLS target.
command -v openssl >/dev/null || need+=(openssl)
command -v prometheus >/dev/null && command -v promtool >/dev/null || need+=(prometheus)
command -v prometheus-alertmanager >/dev/null && command -v amtool >/dev/null || need+=(prometheus-alertmanager)
# The benchmark's smoke test (bench/bench.test.ts) runs the Go exporters it compares with, and wrk.
for pkg in prometheus-node-exporter prometheus-postgres-exporter prometheus-redis-exporter wrk; do
  command -v "$pkg" >/dev/null || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "test.sh: installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "test.sh: missing Debian packages: ${need[*]} (run as root, or: sudo apt-get install ${need[*]})" >&2
    [ "${CI:-}" = "true" ] && exit 1
  fi
fi
# Debian starts nothing here without systemd; but on a machine with systemd, the packages' own
# services would hold the default ports. The tests use free ports of their own either way.

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-fund --no-audit
fi
# pg_dump, pg_restore and psql of every PostgreSQL major the tests start (test/postgres-majors.test.ts).
bash scripts/postgresql-clients.sh

npm run --silent lint
npm run --silent typecheck
npm test
