#!/usr/bin/env bash
# The miss path on PostgreSQL: keycached with its cache off (API_KEY_CACHE_ENABLED=false and no
# Redis, so every verification is a store read) on a throw-away PostgreSQL 15, GET /v1/auth
# under wrk over N distinct seeded keys, against `pgbench -S -M prepared` (select-only, one
# indexed point lookup per transaction) on the same server at the same concurrency, measured
# before and after keycached in the same run. Sweeps the concurrency (default 1 8 32); prints
# each ratio against the target (>= 0.5x) and the CPU each side's servers spent per request.
# Loopback only; every process it starts is stopped on exit.
#
#   bench/pg_miss_bench.sh [--clients "1 8 32"] [--duration S] [--keys N] [--db-threads T]
#                          [--usage-flush DURATION] [--pipeline BOOL] [--build-dir DIR]
#                          [--no-build]
#
# --keys: seeded keys, all of them in wrk's key file (default 100000); --db-threads:
# keycached's KEYCACHE_DB_THREADS (default 2, the default); --usage-flush: its
# KEYCACHE_USAGE_FLUSH_INTERVAL (default 1s, the default; 1h keeps the usage UPDATEs out of the
# measured runs); --pipeline: its KEYCACHE_DB_PIPELINE (default true, the default: each HTTP
# thread reads on its own pipelined connection; false: every read goes to the pool);
# --build-dir: where keycached and seed_keys are (default build/release, which this script
# builds first unless --no-build).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build_dir="$root/build/release"
lua="$root/bench/wrk_rotate_keys.lua"
clients="1 8 32"
duration=10
keys=100000
db_threads=2
usage_flush=1s
pipeline=true
build=1
usage="usage: bench/pg_miss_bench.sh [--clients \"1 8 32\"] [--duration S] [--keys N] [--db-threads T] [--usage-flush DURATION] [--pipeline BOOL] [--build-dir DIR] [--no-build]"
while [ $# -gt 0 ]; do
  case "$1" in
    --clients) clients=${2:-}; shift 2 ;;
    --duration) duration=${2:-}; shift 2 ;;
    --keys) keys=${2:-}; shift 2 ;;
    --db-threads) db_threads=${2:-}; shift 2 ;;
    --usage-flush) usage_flush=${2:-}; shift 2 ;;
    --pipeline) pipeline=${2:-}; shift 2 ;;
    --build-dir) build_dir=${2:-}; build=0; shift 2 ;;
    --no-build) build=0; shift ;;
    -h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done
for v in "$duration" "$keys" "$db_threads" $clients; do
  [[ "$v" =~ ^[1-9][0-9]*$ ]] || { echo "pg_miss_bench: '$v' is not a positive whole number" >&2; exit 2; }
done
[[ "$pipeline" == true || "$pipeline" == false ]] || { echo "pg_miss_bench: --pipeline takes true or false" >&2; exit 2; }
pg_bin=${KEYCACHE_PG_BINDIR:-/usr/lib/postgresql/15/bin}
for tool in "$pg_bin/initdb" "$pg_bin/postgres" "$pg_bin/pg_isready" "$pg_bin/psql" \
  "$pg_bin/pgbench" wrk curl ss; do
  command -v "$tool" >/dev/null || { echo "pg_miss_bench: $tool is missing (scripts/install-deps.sh)" >&2; exit 1; }
done

if [ "$build" -eq 1 ]; then
  echo "== building keycached, seed_keys (release, -j2)"
  cmake --preset release -S "$root" >/dev/null
  cmake --build "$build_dir" -j2 --target keycached seed_keys
fi
keycached="$build_dir/src/app/keycached"
seed_keys="$build_dir/bench/seed_keys"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/keycache-pg-miss.XXXXXX")
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"

max_clients=0
for c in $clients; do [ "$c" -gt "$max_clients" ] && max_clients=$c; done
start_postgres -c max_connections=$((max_clients + 40)) -c shared_buffers=128MB
pg_conn=(-h 127.0.0.1 -p "$pg_port" -U keycache)
token="bench-admin-token-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"

# --- keys: seeded into SQLite, moved to PostgreSQL with keycached export/import (docs/scaling.md)
echo "== seeding $keys keys (SQLite, then keycached export | import into PostgreSQL)"
"$seed_keys" --db "$tmp/seed.db" --pepper-file "$tmp/pepper" --count "$keys" --hot "$keys" \
  --out "$tmp/keys.txt" >/dev/null
mkdir -p "$tmp/tool"
tool_env=(env -i PATH="$PATH" HOME="$tmp/tool" KEYCACHE_DATA_DIR="$tmp/tool"
  KEYCACHE_PEPPER_FILE="$tmp/pepper" ADMIN_TOKEN="$token" LOG_LEVEL=warn)
(cd "$tmp/tool" && "${tool_env[@]}" DATABASE_URL="sqlite:$tmp/seed.db" "$keycached" export \
  --out "$tmp/keys.jsonl") >/dev/null
(cd "$tmp/tool" && "${tool_env[@]}" DATABASE_URL="$pg_url" "$keycached" import \
  --in "$tmp/keys.jsonl") >/dev/null
rm -f "$tmp/keys.jsonl" "$tmp/seed.db"
"$pg_bin/psql" -q "${pg_conn[@]}" -d keycache -c 'VACUUM ANALYZE'

echo "== pgbench -i -s 10 (1,000,000 accounts) in the same database"
"$pg_bin/pgbench" -i -q -s 10 "${pg_conn[@]}" keycache >"$tmp/pgbench-init.log" 2>&1 ||
  { cat "$tmp/pgbench-init.log" >&2; exit 1; }
"$pg_bin/psql" -q "${pg_conn[@]}" -d keycache -c 'VACUUM ANALYZE'

# PostgreSQL's CPU so far: the postmaster and its live children, plus the children it has reaped
# (pgbench's backends exit before the second sample).
postmaster_pid=$(head -1 "$tmp/pg/postmaster.pid")
pg_cpu_ticks() {
  local live reaped children
  mapfile -t children < <(pgrep -P "$postmaster_pid" || true)
  live=$(cpu_ticks "$postmaster_pid" ${children[@]+"${children[@]}"})
  reaped=$(cut -d')' -f2 "/proc/$postmaster_pid/stat" | awk '{print $14 + $15}')
  echo $((live + reaped))
}
tick_us=$((1000000 / $(getconf CLK_TCK)))

# pgbench_run C: prints "tps pg_cpu_us_per_txn"
pgbench_run() {
  local c=$1 before after out tps
  before=$(pg_cpu_ticks)
  out=$("$pg_bin/pgbench" -S -M prepared -n -c "$c" -j "$(( c < 2 ? c : 2 ))" -T "$duration" \
    "${pg_conn[@]}" keycache 2>&1) || { echo "$out" >&2; return 1; }
  after=$(pg_cpu_ticks)
  tps=$(echo "$out" | awk '/^tps = / {printf "%.0f", $3; exit}')
  awk -v t="$tps" -v d="$duration" -v ticks=$((after - before)) -v us="$tick_us" \
    'BEGIN { printf "%s %.1f\n", t, (t > 0 ? ticks * us / (t * d) : 0) }'
}

# --- keycached, cache off: every verification reads PostgreSQL
kc_port=$(free_port)
mkdir -p "$tmp/kc"
(cd "$tmp/kc" && exec env -i PATH="$PATH" HOME="$tmp/kc" HOST=127.0.0.1 PORT="$kc_port" \
  DATABASE_URL="$pg_url" KEYCACHE_DATA_DIR="$tmp/kc" KEYCACHE_PEPPER_FILE="$tmp/pepper" \
  ADMIN_TOKEN="$token" KEYCACHE_THREADS=2 KEYCACHE_DB_THREADS="$db_threads" \
  KEYCACHE_USAGE_FLUSH_INTERVAL="$usage_flush" KEYCACHE_DB_PIPELINE="$pipeline" \
  API_KEY_CACHE_ENABLED=false KEYCACHE_ACCESS_LOG=false LOG_LEVEL=warn \
  KEYCACHE_SHUTDOWN_GRACE=2s KEYCACHE_INSTANCE_ID=miss "$keycached" serve) \
  >"$tmp/kc.log" 2>&1 &
kc_pid=$!
pids+=("$kc_pid")
wait_http "http://127.0.0.1:$kc_port/health/live" 20 ||
  { echo "pg_miss_bench: keycached did not start" >&2; cat "$tmp/kc.log" >&2; exit 1; }
first_key=$(head -1 "$tmp/keys.txt")
status=$(curl -s -o /dev/null -w '%{http_code}' -H "X-API-Key: $first_key" \
  "http://127.0.0.1:$kc_port/v1/auth")
[ "$status" = 200 ] || { echo "pg_miss_bench: a seeded key got $status, not 200" >&2; exit 1; }
# With the cache off every answer says BYPASS: it was read from the store (verifier.cc).
cache_status=$(curl -s -D - -o /dev/null -H "X-API-Key: $first_key" \
  "http://127.0.0.1:$kc_port/v1/auth" | tr -d '\r' | awk -F': ' 'tolower($1) == "x-cache-status" {print $2}')
[ "$cache_status" = BYPASS ] ||
  { echo "pg_miss_bench: X-Cache-Status is '$cache_status', not BYPASS" >&2; exit 1; }
# VALID answers read from the store: with the cache off, a VALID answer is BYPASS only after a
# store read (Verifier::Complete), so this counter moves once per store read that found the key.
store_reads() {
  curl -s "http://127.0.0.1:$kc_port/metrics" | awk \
    '/^keycache_verifications_total\{code="VALID",cache_status="bypass"\}/ {printf "%.0f", $NF}'
}

# wrk_run C: prints "req/s p99 non2xx kc_cpu_us_per_req pg_cpu_us_per_req store_reads_per_req
# kc_context_switches_per_req"
wrk_run() {
  local c=$1 t k0 k1 p0 p1 r0 r1 s0 s1 out
  t=$(( c < 2 ? c : 2 ))
  wrk -t"$t" -c"$c" -d2s --timeout 5s -s "$lua" "http://127.0.0.1:$kc_port/v1/auth" -- \
    "$tmp/keys.txt" >/dev/null 2>&1
  r0=$(store_reads); k0=$(cpu_ticks "$kc_pid"); p0=$(pg_cpu_ticks); s0=$(ctx_switches "$kc_pid")
  out=$(wrk -t"$t" -c"$c" -d"${duration}s" --timeout 5s --latency -s "$lua" \
    "http://127.0.0.1:$kc_port/v1/auth" -- "$tmp/keys.txt" 2>&1)
  k1=$(cpu_ticks "$kc_pid"); p1=$(pg_cpu_ticks); s1=$(ctx_switches "$kc_pid"); r1=$(store_reads)
  echo "$out" >>"$tmp/wrk.log"
  echo "$out" | awk -v kt=$((k1 - k0)) -v pt=$((p1 - p0)) -v rd=$((r1 - r0)) -v cs=$((s1 - s0)) -v us="$tick_us" '
    $1 == "Requests/sec:" { rps = $2 } $1 == "99%" { p99 = $2 }
    $0 ~ /requests in/ { n = $1 } /Non-2xx/ { bad = $NF }
    END { printf "%.0f %s %d %.1f %.1f %.2f %.1f\n", rps, p99, bad, (n ? kt * us / n : 0),
                 (n ? pt * us / n : 0), (n ? rd / n : 0), (n ? cs / n : 0) }'
}

echo
echo "=== miss path on PostgreSQL vs pgbench -S, ${duration} s per run, $keys distinct keys," \
  "KEYCACHE_DB_THREADS=$db_threads," \
  "KEYCACHE_USAGE_FLUSH_INTERVAL=$usage_flush, KEYCACHE_DB_PIPELINE=$pipeline; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
results=()
for c in $clients; do
  read -r pb1 pbcpu1 < <(pgbench_run "$c")
  read -r rps p99 bad kcpu kpg reads kcs < <(wrk_run "$c")
  read -r pb2 pbcpu2 < <(pgbench_run "$c")
  [ "$bad" -eq 0 ] || echo "pg_miss_bench: $bad non-2xx answers at $c clients (see $tmp/wrk.log)" >&2
  line=$(awk -v c="$c" -v a="$rps" -v b1="$pb1" -v b2="$pb2" -v p99="$p99" -v kc="$kcpu" \
    -v kp="$kpg" -v r="$reads" -v cs="$kcs" -v pc1="$pbcpu1" -v pc2="$pbcpu2" 'BEGIN {
      m = (b1 + b2) / 2
      printf "%3d | %7d | %5.2f | %7s | %5.1f + %5.1f | %4.1f | %7d / %7d | %5.1f / %5.1f | %.2fx %s",
        c, a, r, p99, kc, kp, cs, b1, b2, pc1, pc2, (m ? a / m : 0),
        (m && a / m >= 0.5 ? "met" : "NOT met") }')
  results+=("$line")
  echo "  clients $c done: $line"
done
echo
echo "clients | keycached req/s | VALID store reads/req | p99 | CPU us/req keycached + postgres |" \
  "keycached context switches/req |" \
  "pgbench -S tps before / after | postgres CPU us/txn before / after | ratio (target >= 0.5x)"
printf '%s\n' "${results[@]}"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
