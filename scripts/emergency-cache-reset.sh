#!/usr/bin/env bash
# emergency-cache-reset.sh: empties keycache's caches everywhere without FLUSHALL (disabled on a
# hardened Redis, and it would take everything else in the database with it): the admin
# invalidation (every instance drops its L1, the shared generations move), then SCAN + UNLINK of
# every key under REDIS_KEY_PREFIX, then optionally a warm-up. The database is untouched; the
# service keeps answering from it throughout.
# shellcheck source-path=SCRIPTDIR
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib/runbook.sh"

help() {
  cat <<'USAGE'
Usage: emergency-cache-reset.sh [--url URL]... [--warm] [--redis-only]

1. POST /admin/cache/invalidate {} (all) with the admin token on the first --url (default
   $KEYCACHE_URL or http://127.0.0.1:3333): every instance drops its L1 and the invalidation is
   in force everywhere once it answers 200 (skipped with --redis-only, e.g. when no instance
   runs);
2. SCAN MATCH <REDIS_KEY_PREFIX>* and UNLINK in batches: every entry, generation, usage counter
   and heartbeat under the prefix (nothing else in Redis is touched; no FLUSHALL, no KEYS);
3. with --warm, POST /admin/cache/warm on every --url.
Running instances write their heartbeat keys (<prefix>hb:{...}) again within a second: the count
printed at the end says how many keys are under the prefix, and how many are heartbeats.

Redis: REDIS_HOST, REDIS_PORT, REDIS_USERNAME, REDIS_PASSWORD(_FILE), REDIS_TLS*,
REDIS_KEY_PREFIX (default cache:apikeys:) — the service's own `keycache` user suffices. Redis
Cluster (REDIS_CLUSTER_ENABLED=true, REDIS_CLUSTER_NODES=host:port,...): every primary that
serves slots (CLUSTER SLOTS of the first seed that answers) is scanned and emptied.

Exit codes: 0 reset, 1 the invalidation or Redis failed (say which), 2 usage error.
USAGE
}

warm=0 redis_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) help; exit "$EXIT_OK" ;;
    --url) need_value "$@"; KEYCACHE_URLS+=("$2"); shift 2 ;;
    --warm) warm=1; shift ;;
    --redis-only) redis_only=1; shift ;;
    *) usage_error "unknown argument: $1" ;;
  esac
done
redis_setup
say "EMERGENCY: resetting keycache's caches under '$REDIS_KEY_PREFIX' on $REDIS_HOST:$REDIS_PORT$(redis_cluster && printf ' (Cluster)')"

if [ "$redis_only" = 0 ]; then
  first=$(urls | head -1)
  if http POST "$first/admin/cache/invalidate" '{}' --admin && [ "$HTTP_STATUS" = 200 ]; then
    say "1. invalidated every instance's cache through $first"
  else
    die "the invalidation through $first failed (HTTP ${HTTP_STATUS:-none}): $HTTP_BODY"
  fi
fi

rcli PING >/dev/null || die "Redis at $REDIS_HOST:$REDIS_PORT does not answer (or refused the credentials)"
nodes=$(redis_data_nodes) || die "no seed of REDIS_CLUSTER_NODES answered CLUSTER SLOTS"
keys_file=$(mktemp)
trap 'rm -f -- "$keys_file"' EXIT
# UNLINK in batches of 500 on one Redis; one key a command on a Cluster (the keys of a batch
# would lie in several slots: CROSSSLOT), pipelined through one redis-cli session per primary.
unlink_batches() {
  local n batch=()
  while IFS= read -r key; do
    [ -n "$key" ] || continue
    batch+=("$key")
    if [ ${#batch[@]} -ge 500 ]; then
      n=$(rcli UNLINK "${batch[@]}") || return 1
      printf '%s\n' "$n"
      batch=()
    fi
  done <"$keys_file"
  [ ${#batch[@]} -eq 0 ] || rcli UNLINK "${batch[@]}"
}
unlink_each() {
  local replies
  replies=$(sed 's/[\\"]/\\&/g; s/.*/UNLINK "&"/' "$keys_file" |
    REDISCLI_AUTH=${REDIS_PASSWORD:-} timeout 300 redis-cli "${REDIS_ARGS[@]}") || return 1
  printf '%s\n' "$replies" | grep -v '^[0-9]*$' >&2 && return 1
  printf '%s\n' "$replies"
}
unlinked=0 remaining=0 heartbeats=0
while read -r host port; do
  redis_use_node "$host" "$port"
  redis_scan_prefix >"$keys_file" ||
    die "SCAN under '$REDIS_KEY_PREFIX' on $host:$port failed (Redis down, or the user lacks SCAN)"
  if redis_cluster; then
    counts=$(unlink_each) || die "UNLINK refused on $host:$port after $unlinked keys"
  else
    counts=$(unlink_batches) || die "UNLINK refused after $unlinked keys"
  fi
  unlinked=$((unlinked + $(printf '%s\n' "$counts" | awk '{ s += $1 } END { print s + 0 }')))
  remaining=$((remaining + $(redis_scan_prefix | grep -c . || true)))
  heartbeats=$((heartbeats + $(redis_scan_prefix | grep -c "^${REDIS_KEY_PREFIX}hb:" || true)))
done <<<"$nodes"
where=$(printf '%s\n' "$nodes" | awk '{ printf "%s%s:%s", NR > 1 ? ", " : "", $1, $2 }')
say "2. unlinked $unlinked keys under '$REDIS_KEY_PREFIX' on $where"
say "   $remaining keys under the prefix now ($heartbeats heartbeats of running instances)"

if [ "$warm" = 1 ]; then
  warm_args=()
  while IFS= read -r url; do warm_args+=(--url "$url"); done < <(urls)
  "$here/restore-cache.sh" "${warm_args[@]}" || die "the warm-up failed"
  say "3. warmed"
fi
say "emergency cache reset done; verifications are answered from the database until the caches fill"
