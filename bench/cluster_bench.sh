#!/usr/bin/env bash
# keycached on a Redis Cluster of 6 throw-away nodes (3 primaries + 3 replicas, made with
# `redis-cli --cluster create`, hardened as tests/support/redis_cluster_deployment.cc does them),
# each figure beside a reference measured in the same run:
#   1. the L2 path: GET /v1/auth under wrk -c C on keycached with L1 off and
#      REDIS_CLUSTER_ENABLED=true, over keys already in L2 (a warm-up pass loads them), against
#      `redis-benchmark --cluster -t get` at the same concurrency before and after (target >= 0.5x);
#   2. revocation propagation: instances A and B on the cluster, bench/propagation_bench creates
#      N keys on A, has B cache each, revokes it on A and polls B (target p99 <= 50 ms), and B's
#      keycache_invalidation_propagation_seconds;
#   3. failover windows: a primary killed under load (wrk on an instance with L1 on, and
#      bench/failover_probe creating, revoking and verifying a key every ~10 ms), 3 rounds, one
#      shard each: the time from the kill to the replica's promotion, the probe's failed and
#      slowest requests, and the time until the killed node, restarted at once after the
#      promotion, is a replica again and keycached reports itself healthy.
# Loopback only; every process it starts is stopped on exit.
#
#   bench/cluster_bench.sh [--sections "1 2 3"] [--duration S] [--connections C]
#                          [--revocations N] [--keys N] [--build-dir DIR] [--no-build]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build_dir="$root/build/release"
lua="$root/bench/wrk_rotate_keys.lua"
duration=10
connections=32
revocations=1000
keys=10000
sections="1 2 3"
build=1
usage="usage: bench/cluster_bench.sh [--sections \"1 2 3\"] [--duration S] [--connections C] [--revocations N] [--keys N] [--build-dir DIR] [--no-build]"
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration=${2:-}; shift 2 ;;
    --connections) connections=${2:-}; shift 2 ;;
    --revocations) revocations=${2:-}; shift 2 ;;
    --keys) keys=${2:-}; shift 2 ;;
    --sections) sections=${2:-}; shift 2 ;;
    --build-dir) build_dir=${2:-}; build=0; shift 2 ;;
    --no-build) build=0; shift ;;
    -h | --help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done
for v in $sections; do
  [[ "$v" =~ ^[123]$ ]] || { echo "cluster_bench: no section '$v' (1, 2 or 3)" >&2; exit 2; }
done
section() { [[ " $sections " == *" $1 "* ]]; }
for v in "$duration" "$connections" "$revocations" "$keys"; do
  [[ "$v" =~ ^[1-9][0-9]*$ ]] || { echo "cluster_bench: '$v' is not a positive whole number" >&2; exit 2; }
done
for tool in wrk redis-server redis-benchmark redis-cli curl ss; do
  command -v "$tool" >/dev/null || { echo "cluster_bench: $tool is missing (scripts/install-deps.sh)" >&2; exit 1; }
done

if [ "$build" -eq 1 ]; then
  echo "== building keycached, seed_keys, propagation_bench, failover_probe (release, -j2)"
  cmake --preset release -S "$root" >/dev/null
  cmake --build "$build_dir" -j2 --target keycached seed_keys propagation_bench failover_probe
fi
keycached="$build_dir/src/app/keycached"
seed_keys="$build_dir/bench/seed_keys"
propagation="$build_dir/bench/propagation_bench"
probe="$build_dir/bench/failover_probe"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/keycache-cluster-bench.XXXXXX")
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"

redis_pass=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
export REDISCLI_AUTH="$redis_pass"  # redis-cli reads it; keeps the password off command lines

# --- the cluster: start_cluster NAME makes 6 nodes in $tmp/cluster-NAME and joins them.
node_ports=()
node_pids=()
start_cluster() {
  local round=$1 i port dir hosts=""
  node_ports=()
  node_pids=()
  for i in 0 1 2 3 4 5; do
    port=$(free_port)
    dir="$tmp/cluster-$round/node-$i"
    mkdir -p "$dir"
    cat >"$dir/redis.conf" <<CONF
port $port
bind 127.0.0.1
dir $dir
requirepass $redis_pass
masterauth $redis_pass
maxmemory 256mb
maxmemory-policy noeviction
save ""
appendonly no
cluster-enabled yes
cluster-config-file nodes.conf
cluster-node-timeout 2000
cluster-port $(free_port)
cluster-replica-validity-factor 0
cluster-allow-reads-when-down no
rename-command FLUSHDB ""
rename-command FLUSHALL ""
rename-command KEYS ""
rename-command DEBUG ""
rename-command EVAL ""
rename-command SCRIPT ""
rename-command CONFIG CONFIG_$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')
CONF
    redis-server "$dir/redis.conf" >"$dir/redis.log" 2>&1 &
    pids+=("$!")
    node_pids+=("$!")
    node_ports+=("$port")
    hosts+=" 127.0.0.1:$port"
  done
  for port in "${node_ports[@]}"; do
    for _ in $(seq 1 100); do
      redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && break
      sleep 0.05
    done
  done
  # shellcheck disable=SC2086  # one argument per node
  redis-cli --cluster create $hosts --cluster-replicas 1 --cluster-yes >"$tmp/cluster-$round/create.log" 2>&1 ||
    { cat "$tmp/cluster-$round/create.log" >&2; exit 1; }
  wait_cluster_ok 60 || { echo "cluster_bench: the cluster did not become healthy" >&2; exit 1; }
  cluster_nodes="$(printf '127.0.0.1:%s,' "${node_ports[@]}")"
  cluster_nodes=${cluster_nodes%,}
}
# cluster_ok MIN: every live node says cluster_state:ok, and a live node's view has 3 primaries
# holding slots that are not failed and at least MIN connected nodes not failed.
cluster_ok() {
  local i port view
  for i in "${!node_ports[@]}"; do
    kill -0 "${node_pids[$i]}" 2>/dev/null || continue
    port=${node_ports[$i]}
    redis-cli -p "$port" cluster info 2>/dev/null | grep -q 'cluster_state:ok' || return 1
  done
  # (an assignment from a failed command would end the script under set -e: a node may refuse
  # a connection while it starts)
  view=$(redis-cli -p "$(live_port)" cluster nodes 2>/dev/null) || return 1
  [ "$(echo "$view" | awk '$3 ~ /master/ && $3 !~ /fail/ && NF >= 9' | wc -l)" -eq 3 ] &&
    [ "$(echo "$view" | awk '$3 !~ /fail/ && $8 == "connected"' | wc -l)" -ge "$1" ]
}
wait_cluster_ok() {
  for _ in $(seq 1 $(($1 * 10))); do cluster_ok 6 && return 0; sleep 0.1; done
  return 1
}
live_port() {
  local i
  for i in "${!node_ports[@]}"; do
    kill -0 "${node_pids[$i]}" 2>/dev/null && { echo "${node_ports[$i]}"; return 0; }
  done
}

echo "== starting a 6-node cluster (3 primaries, 3 replicas)"
start_cluster 1

echo "== seeding $keys keys"
"$seed_keys" --db "$tmp/keycache.db" --pepper-file "$tmp/pepper" --count "$keys" --hot "$keys" \
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
    REDIS_CLUSTER_ENABLED=true REDIS_CLUSTER_NODES="$cluster_nodes" REDIS_PASSWORD="$redis_pass" \
    KEYCACHE_INSTANCE_ID="$name" "$@" "$keycached" serve) >>"$tmp/$name.log" 2>&1 &
  pids+=("$!")
  kc_pid=$!
  kc_port=$port
  wait_http "http://127.0.0.1:$port/health/live" 20 && return 0
  echo "cluster_bench: keycached $name did not start" >&2; cat "$tmp/$name.log" >&2; exit 1
}
metric() {  # PORT REGEX: the sum of the matching samples
  curl -s "http://127.0.0.1:$1/metrics" | awk -v re="$2" '$0 ~ re {s += $NF} END {printf "%.0f", s}'
}

threads=$(( connections < 2 ? connections : 2 ))
if section 1; then
echo
echo "=== 1. L2 path on the cluster vs redis-benchmark --cluster GET, $connections concurrent;" \
  "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
redis-benchmark --cluster -h 127.0.0.1 -p "${node_ports[0]}" -a "$redis_pass" -t set -r "$keys" \
  -n 100000 -d 100 -q >/dev/null 2>&1
rb() {
  redis-benchmark --cluster -h 127.0.0.1 -p "${node_ports[0]}" -a "$redis_pass" -t get \
    -r "$keys" -n $((20000 * duration)) -c "$connections" -d 100 -q 2>/dev/null | tr '\r' '\n' |
    grep -E '^GET: .* requests per second' | tail -1 | awk '{printf "%.0f", $2}'
}
rb_before=$(rb)
start_keycached l2 KEYCACHE_L1_ENABLED=false
l2_port=$kc_port l2_pid=$kc_pid
wait_breaker "$l2_port" closed 10 || { echo "cluster_bench: breaker never closed" >&2; exit 1; }
url="http://127.0.0.1:$l2_port/v1/auth"
echo "-- warm-up: every key verified once (fills L2), then 3 s more"
wrk -t"$threads" -c"$connections" -d"$(( keys / 2000 + 3 ))s" --timeout 2s -s "$lua" "$url" -- \
  "$tmp/keys.txt" >/dev/null 2>&1
hit_re='^keycache_l2_operations_total\{operation="read_validation",result="hit"\}'
miss_re='^keycache_l2_operations_total\{operation="read_validation",result="miss"\}'
h0=$(metric "$l2_port" "$hit_re"); m0=$(metric "$l2_port" "$miss_re"); c0=$(cpu_ticks "$l2_pid")
wrk -t"$threads" -c"$connections" -d"${duration}s" --timeout 2s --latency -s "$lua" "$url" -- \
  "$tmp/keys.txt" >"$tmp/wrk-l2.txt" 2>&1
h1=$(metric "$l2_port" "$hit_re"); m1=$(metric "$l2_port" "$miss_re"); c1=$(cpu_ticks "$l2_pid")
stop_pid "$l2_pid"
rb_after=$(rb)
kc_rps=$(awk '$1 == "Requests/sec:" {printf "%.0f", $2}' "$tmp/wrk-l2.txt")
kc_n=$(awk '/requests in/ {print $1}' "$tmp/wrk-l2.txt")
kc_p99=$(awk '$1 == "99%" {print $2}' "$tmp/wrk-l2.txt")
non2xx=$(awk '/Non-2xx/ {print $NF}' "$tmp/wrk-l2.txt")
printf "keycached /v1/auth via L2 (L1 off): %s req/s, p99 %s, non-2xx %s;" "$kc_rps" "$kc_p99" "${non2xx:-0}"
printf " during it L2 reads: %s hits, %s misses; keycached CPU %s us/req\n" $((h1 - h0)) \
  $((m1 - m0)) "$(awk -v t=$((c1 - c0)) -v n="$kc_n" -v hz="$(getconf CLK_TCK)" \
  'BEGIN { printf "%.1f", n ? t * 1e6 / hz / n : 0 }')"
printf "redis-benchmark --cluster GET, before / after: %s / %s req/s\n" "$rb_before" "$rb_after"
awk -v a="$kc_rps" -v b="$rb_before" -v c="$rb_after" 'BEGIN { m = (b + c) / 2;
  if (m > 0) printf "ratio: %.2fx of the mean (target >= 0.50x: %s)\n", a / m,
    (a / m >= 0.5 ? "met" : "NOT met") }'

fi

if section 2; then
echo
echo "=== 2. revocation propagation on the cluster, $revocations revocations;" \
  "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
start_keycached a
a_port=$kc_port a_pid=$kc_pid
start_keycached b
b_port=$kc_port b_pid=$kc_pid
wait_breaker "$a_port" closed 10 && wait_breaker "$b_port" closed 10
sleep 0.5  # both subscriptions confirmed (they connect with the pool)
"$propagation" --a "$a_port" --b "$b_port" --token "$token" --count "$revocations"
histogram "$b_port" keycache_invalidation_propagation_seconds
stop_pid "$a_pid"
stop_pid "$b_pid"
fi

section 3 || exit 0

echo
echo "=== 3. a primary killed under load, 3 rounds (the primaries of slots 0, 5461, 10923);" \
  "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
# primary_of SLOT: the index in node_ports of the live primary serving SLOT
primary_of() {
  local port i
  port=$( (redis-cli -p "$(live_port)" cluster nodes 2>/dev/null || true) | awk -v s="$1" '
    $3 ~ /master/ && $3 !~ /fail/ { for (f = 9; f <= NF; f++) { n = split($f, r, "-");
      if (n == 1) r[2] = r[1]; if (s >= r[1] + 0 && s <= r[2] + 0) { split($2, a, "[:@]"); print a[2] } } }')
  for i in "${!node_ports[@]}"; do [ "${node_ports[$i]}" = "$port" ] && echo "$i"; done
  return 0
}
kc_healthy() {
  curl -s --max-time 1 "http://127.0.0.1:$f_port/health/cache" | grep -q '"held":true' &&
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$f_port/health/cache")" = 200 ]
}
start_keycached f
f_port=$kc_port
wait_breaker "$f_port" closed 10 || { echo "cluster_bench: breaker never closed" >&2; exit 1; }
for round in 1 2 3; do
  slot=$(( (round - 1) * 5461 + (round == 3 ? 1 : 0) ))
  victim=$(primary_of "$slot")
  [ -n "$victim" ] || { echo "cluster_bench: no primary found for slot $slot" >&2; exit 1; }
  wrk -t"$threads" -c"$connections" -d3600s --timeout 3s -s "$lua" \
    "http://127.0.0.1:$f_port/v1/auth" -- "$tmp/keys.txt" >"$tmp/wrk-f$round.txt" 2>&1 &
  wrk_pid=$!; pids+=("$wrk_pid")
  "$probe" --port "$f_port" --token "$token" --keys "$tmp/keys.txt" >"$tmp/probe-$round.txt" &
  probe_pid=$!; pids+=("$probe_pid")
  sleep 3
  t_kill=$(now_ms)
  kill -KILL "${node_pids[$victim]}"
  wait "${node_pids[$victim]}" 2>/dev/null || true
  forget_pid "${node_pids[$victim]}"
  t_promoted=0 t_healthy=0
  for _ in $(seq 1 600); do
    if [ "$(primary_of "$slot")" != "" ] && [ "$(primary_of "$slot")" != "$victim" ] && cluster_ok 5; then
      t_promoted=$(now_ms); break
    fi
    sleep 0.05
  done
  [ "$t_promoted" -gt 0 ] || { echo "cluster_bench: no replica promoted within 30 s" >&2; exit 1; }
  # the killed node comes back (its nodes.conf makes it a replica of the promoted one), as a
  # supervisor would restart it
  redis-server "$tmp/cluster-1/node-$victim/redis.conf" >>"$tmp/cluster-1/node-$victim/redis.log" 2>&1 &
  node_pids[victim]=$!; pids+=("$!")
  for _ in $(seq 1 1200); do
    if cluster_ok 6 && kc_healthy; then t_healthy=$(now_ms); break; fi
    sleep 0.05
  done
  sleep 3
  stop_pid "$probe_pid"
  stop_pid "$wrk_pid" INT
  awk -v k="$t_kill" -v p="$t_promoted" -v h="$t_healthy" -v r="$round" '
    $1 < k { if ($4 > base[$2]) base[$2] = $4; next }
    { n[$2]++; if ($4 > slow[$2]) slow[$2] = $4 }
    $3 != 200 && $3 != 201 { bad[$2]++; if (!first[$2]) first[$2] = $1; last[$2] = $1 + $4
                             codes[$2] = codes[$2] (index(codes[$2], " " $3 " ") ? "" : " " $3 " ") }
    END {
      printf "round %d: replica promoted (slots served) +%d ms; killed node back, cluster and " \
        "keycached healthy +%s ms\n", r, p - k, (h ? h - k : "never (60 s)")
      split("c w r", kinds, " "); names["c"] = "creates"; names["w"] = "revocations"
      names["r"] = "verifications"
      for (i = 1; i <= 3; i++) { q = kinds[i]
        printf "  probe %s: %d of %d failed", names[q], bad[q], n[q]
        if (bad[q]) printf " (status%s; first sent +%d ms, last answered +%d ms after the kill)",
          codes[q], first[q] - k, last[q] - k
        printf "; slowest answer %d ms after the kill, %d ms in the 3 s before\n", slow[q], base[q] }
    }' "$tmp/probe-$round.txt"
  awk '/Non-2xx|Socket errors|Requests\/sec|requests in/' "$tmp/wrk-f$round.txt" | sed 's/^/  wrk: /'
done
