#!/usr/bin/env bash
# capacity-planning.sh: measures what keycache's entries cost in Redis (MEMORY USAGE of a sample
# of the keys under REDIS_KEY_PREFIX) and in an instance's L1 (its /metrics), and projects the
# memory N API keys need in each.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib/runbook.sh"

help() {
  cat <<'USAGE'
Usage: capacity-planning.sh [--keys N] [--samples S] [--url URL]

Redis (REDIS_HOST, REDIS_PORT, REDIS_USERNAME, REDIS_PASSWORD(_FILE), REDIS_TLS*,
REDIS_KEY_PREFIX; the service's `keycache` user suffices): SCANs the keys under the prefix,
counts them by kind (v: validation entries, g: generations, u:/og: owner lists, c: usage
counters, hb: heartbeats), takes MEMORY USAGE of up to S of them (default 500, spread over the
scan) and prints the Redis bytes per API key (every kind but heartbeats, divided by the
validation entries) and the projection for N keys (default 1000000), with a maxmemory that
leaves 50 % headroom (fragmentation, replication and client buffers).
With --url (a warm keycached instance): its L1 bytes per cached key (cache_memory_bytes /
cache_size_entries{cache_type="validation"} from /metrics), the projected L1 for N keys and how
many keys its L1 budget (cache_memory_limit_bytes, KEYCACHE_L1_MAX_BYTES) holds.

Output: one "name: value" line per figure (bytes are plain integers).
Exit codes: 0 report printed, 1 Redis unreachable or nothing cached yet, 2 usage error.
USAGE
}

keys=1000000 samples=500 url=""
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) help; exit "$EXIT_OK" ;;
    --keys) need_value "$@"; keys=$2; shift 2 ;;
    --samples) need_value "$@"; samples=$2; shift 2 ;;
    --url) need_value "$@"; url=$2; shift 2 ;;
    *) usage_error "unknown argument: $1" ;;
  esac
done
[[ "$keys" =~ ^[1-9][0-9]*$ ]] || usage_error "--keys must be a positive number"
[[ "$samples" =~ ^[1-9][0-9]*$ ]] || usage_error "--samples must be a positive number"
redis_setup
need awk

rcli PING >/dev/null || die "Redis at $REDIS_HOST:$REDIS_PORT does not answer (or refused the credentials)"
work=$(mktemp -d)
trap 'rm -rf -- "$work"' EXIT
redis_scan_prefix >"$work/keys" || die "SCAN under '$REDIS_KEY_PREFIX' failed"
total=$(grep -c . "$work/keys" || true)
kind() { awk -v p="$REDIS_KEY_PREFIX" '{ k = substr($0, length(p) + 1); sub(/:.*/, "", k); print k }'; }
validation=$(kind <"$work/keys" | grep -cx v || true)
[ "$validation" -gt 0 ] ||
  die "no validation entries under '$REDIS_KEY_PREFIX' yet: run traffic (or scripts/restore-cache.sh) first"

# An even sample of the scan, measured in one redis-cli session (keys quoted for its parser).
awk -v n="$total" -v s="$samples" 'BEGIN { step = n > s ? n / s : 1; next_at = 0 }
  NR - 1 >= next_at { print; next_at += step }' "$work/keys" >"$work/sample"
sed 's/[\\"]/\\&/g; s/.*/MEMORY USAGE "&"/' "$work/sample" |
  REDISCLI_AUTH=${REDIS_PASSWORD:-} timeout 120 redis-cli "${REDIS_ARGS[@]}" >"$work/bytes" ||
  die "MEMORY USAGE failed (the user needs +memory|usage)"
[ "$(grep -c . "$work/bytes")" = "$(grep -c . "$work/sample")" ] ||
  die "MEMORY USAGE answered $(head -1 "$work/bytes")"

# Per kind: count in the scan x mean sampled bytes. Heartbeats are per instance, not per key.
redis_per_key=$(
  paste -d' ' <(kind <"$work/sample") "$work/bytes" | awk -v all="$work/keys" -v p="$REDIS_KEY_PREFIX" -v v="$validation" '
    { sum[$1] += $2; n[$1]++ }
    END {
      while ((getline line < all) > 0) { k = substr(line, length(p) + 1); sub(/:.*/, "", k); count[k]++ }
      for (k in count) if (k != "hb" && n[k] > 0) bytes += count[k] * sum[k] / n[k]
      printf "%d\n", bytes / v + 0.5
    }')
info=$(rcli INFO memory)
used=$(printf '%s\n' "$info" | sed -n 's/^used_memory:\([0-9]*\).*/\1/p')
maxmemory=$(printf '%s\n' "$info" | sed -n 's/^maxmemory:\([0-9]*\).*/\1/p')
projected=$((keys * redis_per_key))
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }

say "Cache capacity planning: prefix '$REDIS_KEY_PREFIX' on $REDIS_HOST:$REDIS_PORT"
say "entries_under_prefix: $total"
kind <"$work/keys" | sort | uniq -c | awk '{ printf "entries_%s: %s\n", $2, $1 }'
say "sampled_entries: $(grep -c . "$work/sample")"
say "redis_bytes_per_key: $redis_per_key"
say "redis_used_memory_bytes: ${used:-unknown}"
say "redis_maxmemory_bytes: ${maxmemory:-unknown}"
say "projected_keys: $keys"
say "projected_redis_bytes: $projected ($(mib "$projected"))"
say "recommended_maxmemory_bytes: $((projected * 3 / 2)) ($(mib $((projected * 3 / 2))))"
if [ -n "${maxmemory:-}" ] && [ "$maxmemory" -gt 0 ] && [ "$projected" -gt "$maxmemory" ]; then
  say "warning: $keys keys do not fit in maxmemory: Redis will evict (allkeys-lru) and more verifications reach the database"
fi

if [ -n "$url" ]; then
  if ! http GET "$url/metrics" || [ "$HTTP_STATUS" != 200 ]; then
    die "GET $url/metrics failed (HTTP ${HTTP_STATUS:-none})"
  fi
  # A here-string, not a pipe: awk stops at the first match, which would SIGPIPE a printf.
  metric() { awk -v m="$1" 'index($0, m) == 1 { printf "%d\n", $NF; exit }' <<<"$HTTP_BODY"; }
  l1_bytes=$(metric "cache_memory_bytes ")
  l1_limit=$(metric "cache_memory_limit_bytes ")
  l1_entries=$(metric 'cache_size_entries{cache_type="validation"}')
  if [ "${l1_entries:-0}" -gt 0 ]; then
    l1_per_key=$(((l1_bytes + l1_entries - 1) / l1_entries))
    say "l1_cached_keys: $l1_entries"
    say "l1_bytes_per_key: $l1_per_key"
    say "projected_l1_bytes: $((keys * l1_per_key)) ($(mib $((keys * l1_per_key))))"
    say "l1_budget_bytes: ${l1_limit:-unknown}"
    [ -z "${l1_limit:-}" ] || say "l1_budget_holds_keys: $((l1_limit / l1_per_key))"
  else
    say "l1_bytes_per_key: unknown (the instance at $url has no validation entries in L1 yet)"
  fi
fi
