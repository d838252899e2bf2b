#!/bin/sh
# The stand-in redis image's entrypoint (tools/images/README.md), written here for what the official
# image's does and compose.yaml relies on: a first argument that is an option or a *.conf file is given
# to redis-server; redis-server started as root owns /data's files and runs as redis (999); a umask of
# 0022 becomes 0077 (the data files are redis' alone); and protected mode is off, as the official
# images build it, so other containers on the network can connect.
set -e
case "${1:-}" in
  -* | *.conf) set -- redis-server "$@" ;;
esac
if [ "${1:-}" = 'redis-server' ] && [ "$(id -u)" = '0' ]; then
  find . \! -user 999 -exec chown 999 '{}' +
  exec /usr/bin/setpriv --reuid=999 --regid=1000 --clear-groups "$0" "$@"
fi
if [ "$(umask)" = '0022' ]; then umask 0077; fi
if [ "${1:-}" = 'redis-server' ]; then
  case " $* " in
    *" --protected-mode "*) ;;
    *) set -- "$@" --protected-mode no ;;
  esac
fi
exec "$@"
