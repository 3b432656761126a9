#!/usr/bin/env bash
# The Redis tier's figures, each beside a reference measured in the same run on this machine:
#   1. the L2 path against `redis-benchmark -t get` at the same concurrency C: in process
#      (bench/l2_path_bench: C loops verifying through Verifier with L1 off, no HTTP), and end to
#      end (GET /v1/auth on keycached with KEYCACHE_L1_ENABLED=false under wrk -c C, where wrk
#      and the HTTP layer share the same cores);
#   2. revocation propagation between two instances (bench/propagation_bench, >= 200 keys);
#   3. the circuit breaker: time from a killed Redis answering again to the breaker closing.
# Loopback only; every process it starts is stopped on exit.
#
#   bench/redis_bench.sh [--duration S] [--connections C] [--revocations N] [--no-build]
# shellcheck disable=SC2154  # l2_port, a_port, ... are set by start_keycached's eval
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build_dir="$root/build/release"
lua="$root/bench/wrk_rotate_keys.lua"
duration=10
connections=32
revocations=250
build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration=${2:-}; shift 2 ;;
    --connections) connections=${2:-}; shift 2 ;;
    --revocations) revocations=${2:-}; shift 2 ;;
    --no-build) build=0; shift ;;
    -h | --help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: bench/redis_bench.sh [--duration S] [--connections C] [--revocations N] [--no-build]" >&2; exit 2 ;;
  esac
done
for v in "$duration" "$connections" "$revocations"; do
  [[ "$v" =~ ^[1-9][0-9]*$ ]] || { echo "redis_bench: '$v' is not a positive whole number" >&2; exit 2; }
done
for tool in wrk redis-server redis-benchmark redis-cli curl ss; do
  command -v "$tool" >/dev/null || { echo "redis_bench: $tool is missing (scripts/install-deps.sh)" >&2; exit 1; }
done

if [ "$build" -eq 1 ]; then
  echo "== building keycached, seed_keys, propagation_bench, l2_path_bench (release, -j1)"
  cmake --preset release -S "$root" >/dev/null
  cmake --build "$build_dir" -j1 --target keycached seed_keys propagation_bench l2_path_bench
fi
keycached="$build_dir/src/app/keycached"
seed_keys="$build_dir/bench/seed_keys"
propagation="$build_dir/bench/propagation_bench"
l2_path="$build_dir/bench/l2_path_bench"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/keycache-redis-bench.XXXXXX")
source "$root/bench/lib.sh"

# --- Redis, configured as the deployment guide hardens it.
redis_port=$(free_port)
redis_pass=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
cat >"$tmp/redis.conf" <<CONF
port $redis_port
bind 127.0.0.1
requirepass $redis_pass
maxmemory 256mb
maxmemory-policy allkeys-lru
save ""
appendonly no
dir $tmp
rename-command FLUSHDB ""
rename-command FLUSHALL ""
rename-command KEYS ""
rename-command CONFIG ""
rename-command DEBUG ""
rename-command EVAL ""
rename-command SCRIPT ""
rename-command SHUTDOWN SHUTDOWN_$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')
CONF
start_redis() {
  redis-server "$tmp/redis.conf" >"$tmp/redis.log" 2>&1 &
  redis_pid=$!
  pids+=("$redis_pid")
  for _ in $(seq 1 100); do
    redis-cli -p "$redis_port" -a "$redis_pass" --no-auth-warning ping 2>/dev/null | grep -q PONG && return 0
    sleep 0.05
  done
  echo "redis_bench: redis-server did not start" >&2; cat "$tmp/redis.log" >&2; exit 1
}
start_redis

# --- keys
echo "== seeding 10000 keys"
"$seed_keys" --db "$tmp/keycache.db" --pepper-file "$tmp/pepper" --count 10000 --hot 10000 \
  --out "$tmp/keys.txt" >/dev/null
token="bench-admin-token-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"

# start_keycached NAME EXTRA_ENV...: sets kc_port and kc_pid (no subshell, so the pid is tracked
# for cleanup)
start_keycached() {
  local name=$1; shift
  local port; port=$(free_port)
  mkdir -p "$tmp/$name"
  (cd "$tmp/$name" && exec env -i PATH="$PATH" HOME="$tmp/$name" HOST=127.0.0.1 PORT="$port" \
    DATABASE_URL="sqlite:$tmp/keycache.db" KEYCACHE_DATA_DIR="$tmp/$name" \
    KEYCACHE_PEPPER_FILE="$tmp/pepper" ADMIN_TOKEN="$token" KEYCACHE_THREADS=2 \
    KEYCACHE_ACCESS_LOG=false LOG_LEVEL=warn KEYCACHE_SHUTDOWN_GRACE=2s \
    REDIS_HOST=127.0.0.1 REDIS_PORT="$redis_port" REDIS_PASSWORD="$redis_pass" \
    KEYCACHE_INSTANCE_ID="$name" "$@" "$keycached" serve) >"$tmp/$name.log" 2>&1 &
  pids+=("$!")
  kc_pid=$!
  kc_port=$port
  for _ in $(seq 1 200); do
    curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/health/live" && return 0
    sleep 0.05
  done
  echo "redis_bench: keycached $name did not start" >&2; cat "$tmp/$name.log" >&2; exit 1
}

echo
echo "=== 1. L2 path vs redis-benchmark GET, $connections concurrent"
redis-benchmark -p "$redis_port" -a "$redis_pass" -t set -r 10000 -n 100000 -d 100 -q >/dev/null 2>&1
rb() {
  redis-benchmark -p "$redis_port" -a "$redis_pass" -t get -r 10000 -n $((20000 * duration)) \
    -c "$connections" -d 100 -q 2>/dev/null | tr '\r' '\n' | grep -E '^GET: .* requests per second' |
    tail -1 | awk '{printf "%.0f", $2}'
}
rb_before=$(rb)
"$l2_path" --port "$redis_port" --password "$redis_pass" --connections "$connections" \
  --seconds "$duration" | tee "$tmp/l2path.txt"
rb_after=$(rb)
inproc=$(awk '{print $2}' "$tmp/l2path.txt")
printf "redis-benchmark GET (before, after): %s, %s req/s\n" "$rb_before" "$rb_after"
awk -v a="$inproc" -v b="$rb_before" -v c="$rb_after" 'BEGIN {
  m = (b + c) / 2; if (m > 0) printf "in-process ratio: %.2f (target >= 0.50)\n", a / m }'
echo "-- end to end over HTTP (wrk -t2 -c$connections on /v1/auth, L1 off)"
start_keycached l2 KEYCACHE_L1_ENABLED=false
l2_port=$kc_port l2_pid=$kc_pid
wait_breaker "$l2_port" closed 10 || { echo "redis_bench: breaker never closed" >&2; exit 1; }
url="http://127.0.0.1:$l2_port/v1/auth"
wrk -t2 -c"$connections" -d3s --timeout 2s -s "$lua" "$url" -- "$tmp/keys.txt" >/dev/null 2>&1
wrk -t2 -c"$connections" -d"${duration}s" --timeout 2s --latency -s "$lua" "$url" -- \
  "$tmp/keys.txt" >"$tmp/wrk-l2.txt" 2>&1
hits=$(curl -s "http://127.0.0.1:$l2_port/metrics" |
  awk '/^keycache_l2_operations_total\{operation="read_validation",result="hit"\}/ {print $2}')
misses=$(curl -s "http://127.0.0.1:$l2_port/metrics" |
  awk '/^keycache_l2_operations_total\{operation="read_validation",result="miss"\}/ {print $2}')
stop_pid "$l2_pid"
rb_http=$(rb)
kc_rps=$(awk '$1 == "Requests/sec:" {printf "%.0f", $2}' "$tmp/wrk-l2.txt")
kc_p99=$(awk '$1 == "99%" {print $2}' "$tmp/wrk-l2.txt")
non2xx=$(awk '/Non-2xx/ {print $NF}' "$tmp/wrk-l2.txt")
printf "keycached /v1/auth via L2: %s req/s (p99 %s, non-2xx %s; L2 reads: %s hits, %s misses)\n" \
  "$kc_rps" "$kc_p99" "${non2xx:-0}" "${hits:-0}" "${misses:-0}"
printf "redis-benchmark GET right after: %s req/s\n" "$rb_http"
awk -v a="$kc_rps" -v b="$rb_http" 'BEGIN { if (b > 0) printf "end-to-end ratio: %.2f\n", a / b }'

echo
echo "=== 2. revocation propagation between two instances, $revocations revocations"
start_keycached a
a_port=$kc_port
start_keycached b
b_port=$kc_port
wait_breaker "$a_port" closed 10 && wait_breaker "$b_port" closed 10
sleep 0.5  # both subscriptions confirmed (they connect with the pool)
"$propagation" --a "$a_port" --b "$b_port" --token "$token" --count "$revocations"

echo
echo "=== 3. circuit breaker: Redis killed, restarted; time until the breaker closes"
for round in 1 2 3; do
  kill -KILL "$redis_pid"; wait "$redis_pid" 2>/dev/null || true
  wait_breaker "$a_port" open 15 || { echo "redis_bench: breaker did not open" >&2; exit 1; }
  redis-server "$tmp/redis.conf" >>"$tmp/redis.log" 2>&1 &
  redis_pid=$!; pids+=("$redis_pid")
  until redis-cli -p "$redis_port" -a "$redis_pass" --no-auth-warning ping 2>/dev/null | grep -q PONG; do
    sleep 0.005
  done
  t_up=$(now_ms)
  until [ "$(breaker "$a_port")" = closed ]; do
    sleep 0.01
    [ $(($(now_ms) - t_up)) -lt 30000 ] || { echo "redis_bench: breaker still open after 30 s" >&2; exit 1; }
  done
  echo "round $round: breaker closed $(($(now_ms) - t_up)) ms after Redis answered PING (target <= 2000)"
done
