#!/usr/bin/env bash
# restore-cache.sh: re-warms keycache's caches after a Redis loss, a restore or a reset: POST
# /admin/cache/warm on every instance given. Nothing is restored from a Redis snapshot: the
# caches are copies of the database and fill from it.
# shellcheck source-path=SCRIPTDIR
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib/runbook.sh"

help() {
  cat <<'USAGE'
Usage: restore-cache.sh [--url URL]...

Calls POST /admin/cache/warm with the admin token on each instance (--url, repeatable; default
$KEYCACHE_URL or http://127.0.0.1:3333) and prints what each loaded. The admin token comes from
ADMIN_TOKEN, ADMIN_TOKEN_FILE or ./var/admin-token.

Exit codes: 0 every instance warmed, 1 an instance refused or did not answer (409: its cache is
off; 401: wrong token), 2 usage error.
USAGE
}

while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) help; exit "$EXIT_OK" ;;
    --url) need_value "$@"; KEYCACHE_URLS+=("$2"); shift 2 ;;
    *) usage_error "unknown argument: $1" ;;
  esac
done

failures=0
while IFS= read -r url; do
  if http POST "$url/admin/cache/warm" "" --admin && [ "$HTTP_STATUS" = 200 ]; then
    say "$url warmed: $HTTP_BODY"
  else
    printf '%s: %s: warm-up failed (HTTP %s): %s\n' "${0##*/}" "$url" "${HTTP_STATUS:-none}" \
      "$HTTP_BODY" >&2
    failures=$((failures + 1))
  fi
done < <(urls)
[ "$failures" = 0 ] || exit "$EXIT_FAILED"
