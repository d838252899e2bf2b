#!/bin/sh
# The stand-in node image's entrypoint (written here, behaving as the official image's does): a first
# argument that is an option (-e, --version), names no command on PATH, or is a file that is not
# executable (app.js) is run by node; anything else (npm, sh, an executable) runs as given.
set -e
first="${1:-}"
case "$first" in
  -*) set -- node "$@" ;;
  *)
    if [ -z "$(command -v -- "$first" 2>/dev/null)" ] || { [ -f "$first" ] && [ ! -x "$first" ]; }; then
      set -- node "$@"
    fi
    ;;
esac
exec "$@"
