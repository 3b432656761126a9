#!/usr/bin/env bash
# HTTP throughput and latency of GET /v1/auth on keycached, against nginx-light answering
# `return 200` with the same wrk settings in the same run, and nginx doing a little of a real
# answer's work (an access log line, three headers: the calibration for what CPU per request
# does to the tail on a machine wrk shares); then the HTTP layers alone (the same requests to
# GET /health/live on both: no verification), and the in-process figures of verify_bench.
# Loopback only; every process it starts is stopped on exit; bounded in time (about 2 minutes
# plus the build, plus seeding and 15 s more with --keys).
#
#   bench/http_bench.sh [--keys N] [--hot M] [--duration S] [--connections C] [--scope S]
#                       [--profile] [--no-build]
#
#   --keys N         also rerun the keycached part with a store of N keys (e.g. 1000000)
#   --hot M          keys wrk rotates over (default 10000, the whole default store)
#   --duration S     seconds of each measured wrk run (default 10; 3 more to warm up)
#   --connections C  wrk connections (default 64; wrk always uses 2 threads)
#   --scope S        send X-Required-Scope: S (seeded keys hold reports:read and users:write)
#   --profile        after the measured run, profile keycached under the same load (perf record,
#                    cpu-clock) and print where its time goes
#   --no-build       use the binaries already in build/release
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build_dir="$root/build/release"
lua="$root/bench/wrk_rotate_keys.lua"
base_keys=10000
big_keys=""
hot=10000
duration=10
warmup=3
connections=64
wrk_threads=2
scope=""
build=1
profile=0

usage() { sed -n '6,17p' "$0" | sed 's/^# \{0,1\}//'; }
is_count() { [[ "$1" =~ ^[1-9][0-9]*$ ]]; }

while [ $# -gt 0 ]; do
  case "$1" in
    --keys) big_keys=${2:-}; shift 2 ;;
    --hot) hot=${2:-}; shift 2 ;;
    --duration) duration=${2:-}; shift 2 ;;
    --connections) connections=${2:-}; shift 2 ;;
    --scope) scope=${2:-}; shift 2 ;;
    --no-build) build=0; shift ;;
    --profile) profile=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
for v in "$hot" "$duration" "$connections" ${big_keys:+"$big_keys"}; do
  is_count "$v" || { echo "http_bench: '$v' is not a positive whole number" >&2; exit 2; }
done
[ "$duration" -le 60 ] || { echo "http_bench: --duration is at most 60" >&2; exit 2; }
[ -z "$big_keys" ] || [ "$big_keys" -le 10000000 ] || { echo "http_bench: --keys is at most 10000000" >&2; exit 2; }

required_tools="wrk nginx curl ss"
[ "$profile" -eq 0 ] || required_tools="$required_tools perf"
for tool in $required_tools; do
  command -v "$tool" >/dev/null || {
    echo "http_bench: $tool is missing (scripts/install-deps.sh; perf: apt-get install linux-perf)" >&2
    exit 1
  }
done

if [ "$build" -eq 1 ]; then
  echo "== building keycached, seed_keys, verify_bench (release, -j1)"
  cmake --preset release -S "$root" >/dev/null
  cmake --build "$build_dir" -j1 --target keycached seed_keys verify_bench
fi
keycached="$build_dir/src/app/keycached"
seed_keys="$build_dir/bench/seed_keys"
verify_bench="$build_dir/bench/verify_bench"
for bin in "$keycached" "$seed_keys" "$verify_bench"; do
  [ -x "$bin" ] || { echo "http_bench: $bin is not built" >&2; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/keycache-http-bench.XXXXXX")
source "$root/bench/lib.sh"

# Polls until the URL answers (any status), at most 10 s.
wait_http() {
  for _ in $(seq 1 100); do
    curl -s -o /dev/null --max-time 1 "$1" && return 0
    sleep 0.1
  done
  return 1
}

# wrk_run URL KEYS_FILE SECONDS OUT
wrk_run() {
  timeout $(($3 + 30)) wrk -t"$wrk_threads" -c"$connections" -d"$3s" --timeout 2s --latency \
    -s "$lua" "$1" -- "$2" "$scope" >"$4" 2>&1
}

# CPU time (user + system, all threads) of a process and its children, in clock ticks. On a
# shared machine req/s depends on what else runs; CPU per request much less so.
cpu_ticks() {
  local user=0 sys=0 pid f
  for pid in "$1" $(pgrep -P "$1" || true); do
    # Fields after the ")" that closes the command name: utime is the 12th, stime the 13th.
    f=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null) || continue
    # shellcheck disable=SC2086  # the stat fields, split on purpose
    set -- $f
    user=$((user + ${12}))
    sys=$((sys + ${13}))
  done
  echo "$user $sys"
}
clk_tck=$(getconf CLK_TCK)

# One line per thread of a process and its children: "tid comm run_ns wait_ns voluntary
# involuntary", from /proc/<pid>/task/<tid>/schedstat (time on a CPU, time runnable but waiting
# for one) and status (context switches). Waiting for a CPU is what a request queued behind a
# preempted thread feels as latency.
sched_snapshot() {
  local pid t
  for pid in "$1" $(pgrep -P "$1" || true); do
    for t in /proc/"$pid"/task/*; do
      [ -r "$t/schedstat" ] || continue
      printf '%s %s %s %s\n' "${t##*/}" "$(tr ' ' '_' <"$t/comm")" \
        "$(cut -d' ' -f1-2 "$t/schedstat")" \
        "$(awk '/^voluntary_ctxt_switches/ { v = $2 } /^nonvoluntary_ctxt_switches/ { n = $2 }
                END { print v + 0, n + 0 }' "$t/status")"
    done
  done
}

# sched_report BEFORE AFTER REQUESTS: per busy thread, its CPU time, its wait for a CPU and its
# context switches during the run, then the totals per request.
sched_report() {
  awk -v n="$3" 'NR == FNR { run[$1] = $3; wait[$1] = $4; vol[$1] = $5; inv[$1] = $6; next }
    ($1 in run) {
      r = ($3 - run[$1]) / 1e6; w = ($4 - wait[$1]) / 1e6; v = $5 - vol[$1]; i = $6 - inv[$1]
      if (r < 1) next
      printf "  thread %-8s %-16s on CPU %8.1f ms, waiting for a CPU %8.1f ms, switches %7d voluntary %7d involuntary\n", $1, $2, r, w, v, i
      tr += r; tw += w; tv += v; ti += i }
    END { if (n > 0) printf "  per request: waiting for a CPU %.2f us, %.3f voluntary and %.3f involuntary switches\n", tw * 1000 / n, tv / n, ti / n }' \
    <(echo "$1") <(echo "$2")
}

# measure LABEL PID URL KEYS_FILE RESULT_FILE: warm-up, then the measured run with the server's
# CPU time around it, appended to the wrk output as "Server CPU seconds: X".
measure() {
  local label=$1 pid=$2 url=$3 keys_file=$4 out=$5 before after
  echo "== $label: warm-up ${warmup}s, then ${duration}s (load: $(cut -d' ' -f1-3 /proc/loadavg))"
  wrk_run "$url" "$keys_file" "$warmup" "$out.warmup"
  local sched_before sched_after requests
  before=$(cpu_ticks "$pid")
  sched_before=$(sched_snapshot "$pid")
  # bash's `time` reports the CPU time of the waited-for children: here, wrk's own.
  local TIMEFORMAT='%U %S' wrk_cpu
  wrk_cpu=$({ time wrk_run "$url" "$keys_file" "$duration" "$out"; } 2>&1)
  sched_after=$(sched_snapshot "$pid")
  after=$(cpu_ticks "$pid")
  awk -v b="$before" -v a="$after" -v hz="$clk_tck" -v w="$wrk_cpu" 'BEGIN {
    split(b, x, " "); split(a, y, " "); u = (y[1] - x[1]) / hz; s = (y[2] - x[2]) / hz
    printf "Server CPU seconds: %.2f (user %.2f, system %.2f)\n", u + s, u, s
    split(w, z, " "); printf "wrk CPU seconds: %.2f\n", z[1] + z[2] }' >>"$out"
  requests=$(awk '/requests in/ { print $1; exit }' "$out")
  { echo "Scheduling of the server's threads during the run:"
    sched_report "$sched_before" "$sched_after" "${requests:-0}"; } >>"$out"
  cat "$out"
  results+=("$label|$out")
}

# wrk_field FILE rps|p50|p99|non2xx|errors|cpu_us|cpu_split|user_us|wrk_us
# (latencies in ms; server CPU us per request, as user+system, its user part; wrk's CPU us per
# request)
wrk_field() {
  awk -v want="$2" '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0;
                     if (v ~ /s$/) return v * 1000; return v + 0 }
    $1 == "50%" { p50 = ms($2) }
    $1 == "99%" { p99 = ms($2) }
    $1 == "Requests/sec:" { rps = $2 }
    /Non-2xx or 3xx responses:/ { non2xx = $NF }
    /Socket errors:/ { sub(/^ *Socket errors: */, ""); errors = $0 }
    / requests in / { requests = $1 }
    /^Server CPU seconds:/ { cpu = $4; cpu_user = $6 + 0; cpu_sys = $8 + 0 }
    /^wrk CPU seconds:/ { wrk_cpu = $4 }
    END {
      if (want == "rps") printf "%.0f", rps
      else if (want == "p50") printf "%.3f", p50
      else if (want == "p99") printf "%.3f", p99
      else if (want == "non2xx") printf "%d", non2xx
      else if (want == "errors") printf "%s", (errors == "" ? "none" : errors)
      else if (want == "cpu_us") printf "%.1f", (requests > 0 ? cpu * 1e6 / requests : 0)
      else if (want == "wrk_us") printf "%.1f", (requests > 0 ? wrk_cpu * 1e6 / requests : 0)
      else if (want == "user_us") printf "%.2f", (requests > 0 ? cpu_user * 1e6 / requests : 0)
      else if (want == "cpu_split") printf "%.1f+%.1f", (requests > 0 ? cpu_user * 1e6 / requests : 0),
                                                     (requests > 0 ? cpu_sys * 1e6 / requests : 0)
    }' "$1"
}

results=()  # "label|file"

# Samples keycached (cpu-clock: the VM has no hardware counters) during one more loaded run.
profile_run() {
  local pid=$1 url=$2 dir=$3
  echo "== profiling keycached for ${duration}s (perf record -e cpu-clock -F 999)"
  perf record -q -e cpu-clock -F 999 -p "$pid" -o "$dir/perf.data" -- sleep "$duration" \
    >/dev/null 2>&1 &
  local perf_pid=$!
  pids+=("$perf_pid")
  wrk_run "$url" "$dir/keys.txt" "$duration" "$dir/wrk-profile.txt"
  wait "$perf_pid" || true
  forget_pid "$perf_pid"
  # awk reads to the end (no SIGPIPE under pipefail), keeping the first lines that are not comments.
  echo "-- share of keycached's CPU time by binary"
  perf report -i "$dir/perf.data" --stdio --no-children --sort dso 2>/dev/null |
    awk '!/^#/ && NF && ++n <= 8'
  echo "-- top 30 symbols"
  perf report -i "$dir/perf.data" --stdio --no-children --sort symbol 2>/dev/null |
    awk '!/^#/ && NF && ++n <= 30 { print substr($0, 1, 150) }'
}

run_keycached() {
  local count=$1 dir="$tmp/keycached-$1" port n_hot
  mkdir -p "$dir"
  n_hot=$((hot < count ? hot : count))
  echo "== seeding $count keys ($n_hot hot)"
  "$seed_keys" --db "$dir/keycache.db" --pepper-file "$tmp/pepper" --count "$count" \
    --hot "$n_hot" --out "$dir/keys.txt"
  port=$(free_port)
  # A clean environment and an empty working directory: no stray .env or API_KEY_* variables.
  (cd "$dir" && exec env -i PATH="$PATH" HOME="$dir" HOST=127.0.0.1 PORT="$port" \
    DATABASE_URL="sqlite:$dir/keycache.db" KEYCACHE_DATA_DIR="$dir" \
    KEYCACHE_PEPPER_FILE="$tmp/pepper" KEYCACHE_THREADS=2 KEYCACHE_ACCESS_LOG=false \
    LOG_LEVEL=warn KEYCACHE_SHUTDOWN_GRACE=2s "$keycached" serve) >"$dir/keycached.log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  if ! wait_http "http://127.0.0.1:$port/health/live"; then
    echo "http_bench: keycached did not start; its log:" >&2
    cat "$dir/keycached.log" >&2
    exit 1
  fi
  local url="http://127.0.0.1:$port/v1/auth" status
  status=$(curl -s -o /dev/null -w '%{http_code}' -H "X-API-Key: $(head -n1 "$dir/keys.txt")" \
    ${scope:+-H "X-Required-Scope: $scope"} "$url")
  if [ "$status" != 200 ]; then
    echo "http_bench: a seeded key got HTTP $status from keycached (expected 200)" >&2
    cat "$dir/keycached.log" >&2
    exit 1
  fi
  measure "keycached, $count keys" "$pid" "$url" "$dir/keys.txt" "$tmp/result-keycached-$count.txt"
  if [ "$count" = "$base_keys" ]; then
    measure "keycached /health/live" "$pid" "http://127.0.0.1:$port/health/live" \
      "$dir/keys.txt" "$tmp/result-keycached-live.txt"
  fi
  [ "$profile" -eq 0 ] || profile_run "$pid" "$url" "$dir"
  stop_pid "$pid"
}

# run_nginx [working]: nginx's static answer, or with "working" the same plus an access log line
# and three headers (bench/lib.sh), the calibration for what per-request work does to the tail.
run_nginx() {
  local work=${1:-} dir="$tmp/nginx${1:+-$1}" port label="nginx return 200"
  [ -z "$work" ] || label="nginx + log, 3 headers"
  mkdir -p "$dir"
  port=$(free_port)
  # One listening socket per worker, spread by the kernel, as keycached does (SO_REUSEPORT);
  # with a shared socket one worker often takes most of the 64 connections, and nginx's
  # req/s then swings between ~180k and ~300k from run to run.
  nginx_auth_conf "$dir" "$port" 2 " reuseport" "$work"
  nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" &
  local pid=$!
  pids+=("$pid")
  if ! wait_http "http://127.0.0.1:$port/v1/auth"; then
    echo "http_bench: nginx did not start; its log:" >&2
    cat "$dir/error.log" >&2
    exit 1
  fi
  local keys_file="$tmp/keycached-$base_keys/keys.txt"  # same requests as keycached got
  local url="http://127.0.0.1:$port/v1/auth"
  measure "$label" "$pid" "$url" "$keys_file" "$tmp/result-nginx${work:+-$work}.txt"
  if [ -z "$work" ]; then
    measure "nginx /health/live" "$pid" "http://127.0.0.1:$port/health/live" "$keys_file" \
      "$tmp/result-nginx-live.txt"
  fi
  stop_pid "$pid" QUIT
}

echo "== $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, wrk -t$wrk_threads -c$connections -d${duration}s"
run_keycached "$base_keys"
run_nginx
run_nginx working
[ -z "$big_keys" ] || run_keycached "$big_keys"

echo
echo "== in-process (verify_bench)"
"$verify_bench" --benchmark_min_time=0.3 \
  --benchmark_filter='BM_(ParseKey|HmacKey|OneShotHmac|VerifyCachedHit|L1GetFacts|L1MemoryPerEntry)'

echo
echo "== summary: GET /v1/auth (unless the label says /health/live), wrk -t$wrk_threads -c$connections -d${duration}s --latency, loopback, $(nproc) cores shared"
printf '%-24s %8s %7s %7s %11s %11s %8s %8s  %s\n' "server" "req/s" "p50 ms" "p99 ms" \
  "CPU us/req" "(user+sys)" "wrk us" "non-2xx" "socket errors"
for r in "${results[@]}"; do
  f=${r#*|}
  printf '%-24s %8s %7s %7s %11s %11s %8s %8s  %s\n' "${r%%|*}" "$(wrk_field "$f" rps)" \
    "$(wrk_field "$f" p50)" "$(wrk_field "$f" p99)" "$(wrk_field "$f" cpu_us)" \
    "$(wrk_field "$f" cpu_split)" "$(wrk_field "$f" wrk_us)" "$(wrk_field "$f" non2xx)" \
    "$(wrk_field "$f" errors)"
done
kc_rps=$(wrk_field "$tmp/result-keycached-$base_keys.txt" rps)
ng_rps=$(wrk_field "$tmp/result-nginx.txt" rps)
kc_p99=$(wrk_field "$tmp/result-keycached-$base_keys.txt" p99)
kc_cpu=$(wrk_field "$tmp/result-keycached-$base_keys.txt" cpu_us)
ng_cpu=$(wrk_field "$tmp/result-nginx.txt" cpu_us)
kc_wrk=$(wrk_field "$tmp/result-keycached-$base_keys.txt" wrk_us)
ng_wrk=$(wrk_field "$tmp/result-nginx.txt" wrk_us)
awk -v kc="$kc_rps" -v ng="$ng_rps" -v p99="$kc_p99" -v kc_cpu="$kc_cpu" -v ng_cpu="$ng_cpu" \
  -v kc_wrk="$kc_wrk" -v ng_wrk="$ng_wrk" 'BEGIN {
  printf "server CPU per request, nginx/keycached: %.2f (less dependent on other load than req/s)\n",
    (kc_cpu > 0 ? ng_cpu / kc_cpu : 0)
  # With the cores saturated by server + wrk alone, req/s = cores / (server + wrk CPU per request).
  printf "req/s ratio a CPU-bound idle machine would give, (nginx+wrk)/(keycached+wrk) CPU: %.2f\n",
    (kc_cpu + kc_wrk > 0 ? (ng_cpu + ng_wrk) / (kc_cpu + kc_wrk) : 0)
  ratio = ng > 0 ? kc / ng : 0
  printf "keycached/nginx req/s: %.2f (target >= 0.80: %s)\n", ratio, (ratio >= 0.8 ? "met" : "MISSED")
  printf "keycached p99: %.3f ms (target <= 2 ms: %s)\n", p99, (p99 <= 2 ? "met" : "MISSED")
}'
# The HTTP layers alone, and what the verification adds to keycached's: user time is what the
# two programs' own code costs (system time is mostly the same loopback TCP work on both).
awk -v kc_live="$(wrk_field "$tmp/result-keycached-live.txt" user_us)" \
  -v ng_live="$(wrk_field "$tmp/result-nginx-live.txt" user_us)" \
  -v kc_auth="$(wrk_field "$tmp/result-keycached-$base_keys.txt" user_us)" 'BEGIN {
  printf "HTTP layer alone (GET /health/live), user CPU per request: keycached %.2f us, nginx %.2f us (keycached/nginx %.2f)\n",
    kc_live, ng_live, (ng_live > 0 ? kc_live / ng_live : 0)
  printf "what the verification adds to keycached (user CPU, /v1/auth - /health/live): %.2f us per request\n",
    kc_auth - kc_live
}'
if [ -n "$big_keys" ]; then
  big_rps=$(wrk_field "$tmp/result-keycached-$big_keys.txt" rps)
  awk -v a="$kc_rps" -v b="$big_rps" -v n="$big_keys" -v m="$base_keys" 'BEGIN {
    printf "keycached req/s with %d keys / with %d keys: %.2f\n", n, m, (a > 0 ? b / a : 0) }'
fi
