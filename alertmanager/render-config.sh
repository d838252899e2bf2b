#!/bin/sh
# Renders the Alertmanager configuration Alertmanager runs from the committed alertmanager.yml, the
# settings in the environment (.env through compose.yaml) and the secret files, then starts it:
#
#   render-config.sh <alertmanager.yml> <out-dir> <secrets-dir> [-- <alertmanager> <args>...]
#
# Alertmanager reads no environment variable in its configuration (upstream's choice), so compose runs
# this first, in the Alertmanager image (busybox sh and awk), at every start. It writes
# <out-dir>/alertmanager.yml and <out-dir>/settings.tmpl; a reload (POST /-/reload) rereads them.
#
# - Each receiver is on when it is configured and off (a receiver without integrations: nothing is
#   sent, nothing fails) when not: PagerDuty, Slack and the heartbeat when their secret file holds a
#   value, email when ALERTMANAGER_EMAIL_TO names recipients. The routes stay those of alertmanager.yml.
# - ALERTMANAGER_SMTP_SMARTHOST, _FROM, _REQUIRE_TLS, ALERTMANAGER_SLACK_CHANNEL and
#   ALERTMANAGER_HEARTBEAT_URL replace the committed values when set. SMTP authentication is on with
#   ALERTMANAGER_SMTP_AUTH_USERNAME (the password: secrets/alertmanager/alertmanager_smtp_password),
#   off without it.
# - GRAFANA_ROOT_URL and RUNBOOK_BASE_URL set the links of every notification (settings.tmpl).
# A value that does not fit is refused with one line naming the variable (exit 2); nothing is started.
set -eu

if [ "$#" -lt 3 ]; then
  echo "usage: render-config.sh <alertmanager.yml> <out-dir> <secrets-dir> [-- command...]" >&2
  exit 2
fi
in=$1
out=$2
secrets=$3
shift 3
templates=$(cd "$(dirname "$in")" && pwd)/templates

fail() {
  echo "render-config: $1" >&2
  exit 2
}
# check NAME REGEX WHAT: the variable, if set, must match the extended regular expression.
check() {
  eval "v=\${$1:-}"
  # grep matches line by line: a value of several lines is refused before it (YAML injection).
  if [ -n "$v" ] && { [ "$(printf '%s' "$v" | wc -l)" -ne 0 ] || ! printf '%s' "$v" | grep -Eq "$2"; }; then
    fail "$1: not $3"
  fi
}
url='^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~:/?#@!$&()*+,;=%-]*)?$'
addr='[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+'
check GRAFANA_ROOT_URL "$url" "an http(s) URL without quotes, spaces or braces"
check RUNBOOK_BASE_URL "$url" "an http(s) URL without quotes, spaces or braces"
check ALERTMANAGER_HEARTBEAT_URL "$url" "an http(s) URL without quotes, spaces or braces"
ALERTMANAGER_EMAIL_TO=$(printf '%s' "${ALERTMANAGER_EMAIL_TO:-}" | tr -d ' ')
check ALERTMANAGER_EMAIL_TO "^$addr(,$addr)*\$" "comma-separated e-mail addresses (local@domain)"
check ALERTMANAGER_SMTP_FROM "^$addr\$" "an e-mail address (local@domain)"
check ALERTMANAGER_SMTP_SMARTHOST '^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):[0-9]{1,5}$' "host:port"
check ALERTMANAGER_SMTP_AUTH_USERNAME '^[A-Za-z0-9._%+@-]+$' "a user name (letters, digits, . _ % + @ -)"
check ALERTMANAGER_SMTP_REQUIRE_TLS '^(true|false)$' "true or false"
check ALERTMANAGER_SLACK_CHANNEL '^[#@]?[A-Za-z0-9._-]{1,80}$' "a Slack channel (#name)"

# A secret file that exists and holds more than whitespace.
filled() { [ -f "$secrets/$1" ] && grep -q '[^[:space:]]' "$secrets/$1"; }
on=""
off=""
receiver() { # name, whether on, why off
  if [ "$2" = yes ]; then on="$on $1"; else off="$off $1 ($3);"; fi
}
if filled alertmanager_pagerduty_routing_key; then pd=yes; else pd=no; fi
if filled alertmanager_slack_api_url; then slack=yes; else slack=no; fi
if filled alertmanager_heartbeat_api_key; then hb=yes; else hb=no; fi
if [ -n "$ALERTMANAGER_EMAIL_TO" ]; then email=yes; else email=no; fi
receiver pagerduty "$pd" "secrets/alertmanager/alertmanager_pagerduty_routing_key is empty"
receiver slack "$slack" "secrets/alertmanager/alertmanager_slack_api_url is empty"
receiver email "$email" "ALERTMANAGER_EMAIL_TO is empty"
receiver heartbeat "$hb" "secrets/alertmanager/alertmanager_heartbeat_api_key is empty"
if [ "$email" = yes ] && [ -z "${ALERTMANAGER_SMTP_SMARTHOST:-}" ]; then
  fail "ALERTMANAGER_EMAIL_TO is set but ALERTMANAGER_SMTP_SMARTHOST is not (the SMTP relay, host:port)"
fi

mkdir -p "$out"
out=$(cd "$out" && pwd)
grafana=${GRAFANA_ROOT_URL:-http://localhost:3000}
grafana=${grafana%/}
runbooks=${RUNBOOK_BASE_URL:-}
runbooks=${runbooks%/}
{
  echo '{{/* Written by alertmanager/render-config.sh from GRAFANA_ROOT_URL and RUNBOOK_BASE_URL. */}}'
  echo "{{ define \"kali.grafana.url\" }}$grafana{{ end }}"
  if [ -n "$runbooks" ]; then
    echo "{{ define \"kali.runbook.base\" }}$runbooks{{ end }}"
  else
    # The committed default (definitions/rules.ts' runbookBaseUrl), taken from templates/settings.tmpl.
    grep '^{{ define "kali.runbook.base" }}' "$templates/settings.tmpl"
  fi
} >"$out/settings.tmpl.tmp"

awk -v pd="$pd" -v slack="$slack" -v email="$email" -v hb="$hb" \
  -v smarthost="${ALERTMANAGER_SMTP_SMARTHOST:-}" -v from="${ALERTMANAGER_SMTP_FROM:-}" \
  -v user="${ALERTMANAGER_SMTP_AUTH_USERNAME:-}" -v tls="${ALERTMANAGER_SMTP_REQUIRE_TLS:-}" \
  -v to="$ALERTMANAGER_EMAIL_TO" -v channel="${ALERTMANAGER_SLACK_CHANNEL:-}" \
  -v hburl="${ALERTMANAGER_HEARTBEAT_URL:-}" -v tmpl="$templates/kali.tmpl" -v settings="$out/settings.tmpl" '
  function q(s) { return "\"" s "\"" }
  BEGIN {
    print "# Rendered by alertmanager/render-config.sh from alertmanager/alertmanager.yml: edit that file"
    print "# (routes, inhibitions) or .env and the secret files (settings), never this one."
    enabled["pagerduty"] = pd; enabled["slack"] = slack; enabled["email"] = email; enabled["heartbeat"] = hb
  }
  /^[a-z_]+:/ { section = $1 }
  section == "global:" && /^  smtp_smarthost:/ && smarthost != "" { print "  smtp_smarthost: " q(smarthost); next }
  section == "global:" && /^  smtp_from:/ && from != "" { print "  smtp_from: " q(from); next }
  section == "global:" && /^  smtp_auth_(username|password_file):/ && user == "" { next }
  section == "global:" && /^  smtp_auth_username:/ { print "  smtp_auth_username: " q(user); next }
  section == "global:" && /^  smtp_require_tls:/ && tls != "" { print "  smtp_require_tls: " tls; next }
  section == "templates:" && /^  - / { if (!done) { print "  - " q(tmpl); print "  - " q(settings); done = 1 } next }
  section == "receivers:" && /^  - name: / { receiver = $3 }
  section == "receivers:" && /^    / && receiver in enabled && enabled[receiver] != "yes" { next }
  section == "receivers:" && receiver == "email" && /^      - to: / && to != "" { print "      - to: " q(to); next }
  section == "receivers:" && receiver == "slack" && /^      - channel: / && channel != "" { print "      - channel: " q(channel); next }
  section == "receivers:" && receiver == "heartbeat" && /^      - url: / && hburl != "" { print "      - url: " q(hburl); next }
  { print }
' "$in" >"$out/alertmanager.yml.tmp"
mv "$out/settings.tmpl.tmp" "$out/settings.tmpl"
mv "$out/alertmanager.yml.tmp" "$out/alertmanager.yml"

echo "render-config: receivers on:${on:- none}; off:${off:- none}"
if [ "$pd$slack$email" = nonono ]; then
  echo "render-config: warning: no receiver reaches people (set ALERTMANAGER_EMAIL_TO or fill secrets/alertmanager/, docs/alerting.md)" >&2
fi

if [ "${1:-}" = "--" ]; then
  shift
  exec "$@"
fi
