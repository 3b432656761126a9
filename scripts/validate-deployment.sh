#!/usr/bin/env bash
# validate-deployment.sh: checks a running keycache deployment — every instance's health
# endpoints and admin token, the Redis it uses (reachable, authenticated, usable under the key
# prefix, evicting rather than refusing writes) — and says what is wrong.
# shellcheck source-path=SCRIPTDIR
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib/runbook.sh"

help() {
  cat <<'USAGE'
Usage: validate-deployment.sh [--url URL]... [--no-redis]

Checks a running keycache deployment and prints one line per check (OK / WARN / FAIL):
  - each instance (--url, repeatable; default $KEYCACHE_URL or http://127.0.0.1:3333):
    /health/live and /health/ready answer 200, /health/cache answers (its status and hit rate
    are shown), the admin token is accepted (GET /admin/cache/stats);
  - Redis (unless --no-redis or REDIS_HOST is unset), with keycached's variables REDIS_HOST,
    REDIS_PORT, REDIS_USERNAME, REDIS_PASSWORD(_FILE), REDIS_TLS*, REDIS_KEY_PREFIX: PING with
    the credentials, SET/GET/UNLINK of a probe key under the prefix (what the service needs),
    maxmemory set and an allkeys-* eviction policy (INFO; CONFIG is renamed on a hardened Redis).
The admin token comes from ADMIN_TOKEN, ADMIN_TOKEN_FILE or ./var/admin-token.

Exit codes: 0 every check passed (warnings allowed), 1 a check failed, 2 usage error.
USAGE
}

check_redis=1
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) help; exit "$EXIT_OK" ;;
    --url) need_value "$@"; KEYCACHE_URLS+=("$2"); shift 2 ;;
    --no-redis) check_redis=0; shift ;;
    *) usage_error "unknown argument: $1" ;;
  esac
done

failures=0
ok() { say "OK    $*"; }
warned() { say "WARN  $*"; }
failed() { say "FAIL  $*"; failures=$((failures + 1)); }

while IFS= read -r url; do
  for path in /health/live /health/ready; do
    if http GET "$url$path" && [ "$HTTP_STATUS" = 200 ]; then
      ok "$url$path 200"
    else
      failed "$url$path answered ${HTTP_STATUS:-nothing}: $HTTP_BODY"
    fi
  done
  if http GET "$url/health/cache"; then
    summary=$(printf '%s' "$HTTP_BODY" | tr -d '\n' | grep -o '"status":"[a-z]*"' | sed -n 1p)
    if [ "$HTTP_STATUS" = 200 ]; then
      ok "$url/health/cache 200 ${summary}"
    else
      warned "$url/health/cache $HTTP_STATUS ${summary} (degraded: see docs/operations.md)"
    fi
  else
    failed "$url/health/cache did not answer: $HTTP_BODY"
  fi
  if http GET "$url/admin/cache/stats" "" --admin && [ "$HTTP_STATUS" = 200 ]; then
    ok "$url admin token accepted"
  else
    failed "$url admin token refused (HTTP ${HTTP_STATUS:-none}): check ADMIN_TOKEN"
  fi
done < <(urls)

if [ "$check_redis" = 1 ] && [ -n "$REDIS_HOST" ]; then
  redis_setup
  if pong=$(rcli PING 2>&1) && [ "$pong" = PONG ]; then
    ok "Redis $REDIS_HOST:$REDIS_PORT answers PING${REDIS_USERNAME:+ as $REDIS_USERNAME}"
    probe="${REDIS_KEY_PREFIX}validate:$$"
    if rcli SET "$probe" ok EX 60 >/dev/null && [ "$(rcli GET "$probe")" = ok ] &&
      rcli UNLINK "$probe" >/dev/null; then
      ok "Redis SET/GET/UNLINK under $REDIS_KEY_PREFIX"
    else
      failed "Redis refused SET/GET/UNLINK under $REDIS_KEY_PREFIX (ACL key pattern? read-only replica?)"
    fi
    if memory=$(rcli INFO memory); then
      maxmemory=$(printf '%s\n' "$memory" | sed -n 's/^maxmemory:\([0-9]*\).*/\1/p')
      policy=$(printf '%s\n' "$memory" | sed -n 's/^maxmemory_policy:\([a-z-]*\).*/\1/p')
      if [ "${maxmemory:-0}" -gt 0 ]; then
        ok "Redis maxmemory $maxmemory bytes"
      else
        warned "Redis has no maxmemory: it can grow until the host runs out of memory"
      fi
      case "$policy" in
        allkeys-*) ok "Redis maxmemory-policy $policy" ;;
        *) failed "Redis maxmemory-policy is '$policy': a full Redis refuses writes (OOM) instead of evicting; use allkeys-lru" ;;
      esac
    else
      failed "Redis refused INFO (the service's ACL user needs +info)"
    fi
  else
    failed "Redis $REDIS_HOST:$REDIS_PORT: ${pong:-no answer} (address, REDIS_USERNAME/REDIS_PASSWORD, TLS?)"
  fi
elif [ "$check_redis" = 1 ]; then
  say "SKIP  Redis: REDIS_HOST is not set"
fi

if [ "$failures" -gt 0 ]; then
  say "$failures check(s) failed"
  exit "$EXIT_FAILED"
fi
say "deployment valid"
