#!/usr/bin/env bash
# One command, one report (issue 10 §6): builds the release binaries, runs the benchmarks that
# each carry their reference measured in the same run, and writes bench/REPORT.md with the
# machine's description and PNG plots (gnuplot) in bench/report/:
#   - HTTP: keycached (default threads) against nginx in both configurations (one shared
#     listening socket, and reuseport) at 1..256 connections: req/s, p50, p99, p99.9, and
#     against the calibration, nginx with an access log line and three headers per answer;
#   - the latency percentile curves of the four at 64 connections;
#   - in process: BM_VerifyCachedHit and its control BM_HmacKey from 1 thread to twice the cores;
#   - verification cost with 10k, 100k and 1M keys in the store (warm L1, and cold: the store
#     read) against the store read alone.
# Loopback only; everything started is stopped on exit. About 7 minutes plus the build.
#
#   bench/report.sh [--no-build] [--duration S] [--out FILE]
#
#   --no-build    use the binaries already in build/release
#   --duration S  seconds of each measured wrk run (default 5; 1 more to warm up)
#   --out FILE    the report (default bench/REPORT.md; its plots go to <dir of FILE>/report/)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build_dir="$root/build/release"
lua="$root/bench/wrk_rotate_keys.lua"
build=1
duration=5
out="$root/bench/REPORT.md"
connections=(1 4 16 64 256)

usage() { sed -n '14,18p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) build=0; shift ;;
    --duration) duration=${2:-}; shift 2 ;;
    --out) out=${2:-}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
[[ "$duration" =~ ^[1-9][0-9]?$ ]] || { echo "report: --duration is 1..99 seconds" >&2; exit 2; }
[ -n "$out" ] || { echo "report: --out needs a file" >&2; exit 2; }
for tool in wrk nginx curl ss gnuplot awk; do
  command -v "$tool" >/dev/null || {
    echo "report: $tool is missing (bash scripts/install-deps.sh installs it)" >&2
    exit 1
  }
done

if [ "$build" -eq 1 ]; then
  echo "== building keycached, seed_keys, verify_bench (release)"
  cmake --preset release -S "$root" >/dev/null
  cmake --build "$build_dir" -j "$(nproc)" --target keycached seed_keys verify_bench
fi
keycached="$build_dir/src/app/keycached"
seed_keys="$build_dir/bench/seed_keys"
verify_bench="$build_dir/bench/verify_bench"
for bin in "$keycached" "$seed_keys" "$verify_bench"; do
  [ -x "$bin" ] || { echo "report: $bin is not built" >&2; exit 1; }
done

out_dir=$(cd "$(dirname "$out")" && pwd)
plots="$out_dir/report"
mkdir -p "$plots"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/keycache-report.XXXXXX")
source "$root/bench/lib.sh"

# ---- HTTP sweep -----------------------------------------------------------------------------
echo "== seeding 10000 keys"
"$seed_keys" --db "$tmp/keycache.db" --pepper-file "$tmp/pepper" --count 10000 --hot 10000 \
  --out "$tmp/keys.txt" >/dev/null

start_keycached() {
  local port=$1
  (cd "$tmp" && exec env -i PATH="$PATH" HOME="$tmp" HOST=127.0.0.1 PORT="$port" \
    DATABASE_URL="sqlite:$tmp/keycache.db" KEYCACHE_DATA_DIR="$tmp" \
    KEYCACHE_PEPPER_FILE="$tmp/pepper" KEYCACHE_ACCESS_LOG=false LOG_LEVEL=warn \
    KEYCACHE_SHUTDOWN_GRACE=2s "$keycached" serve) >"$tmp/keycached.log" 2>&1 &
  pids+=("$!")
  server_pid=$!
}

# start_nginx PORT reuseport|shared|working (working: reuseport, plus an access log line and
# three headers per answer; bench/lib.sh)
start_nginx() {
  local port=$1 mode=$2 dir="$tmp/nginx-$2" listen_opts="" work=""
  mkdir -p "$dir"
  [ "$mode" = shared ] || listen_opts=" reuseport"
  [ "$mode" != working ] || work=working
  nginx_auth_conf "$dir" "$port" "$(nproc)" "$listen_opts" "$work"
  nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" &
  pids+=("$!")
  server_pid=$!
}

# sweep LABEL: wrk over every connection count against the server on $port; one CSV line each:
# label,connections,req/s,p50_us,p99_us,p999_us,non2xx+errors
sweep() {
  local label=$1 c threads raw
  for c in "${connections[@]}"; do
    threads=$((c < 2 ? 1 : 2))
    timeout 60 wrk -t"$threads" -c"$c" -d1s -s "$lua" "http://127.0.0.1:$port/v1/auth" \
      -- "$tmp/keys.txt" >/dev/null 2>&1 || true
    raw="$tmp/wrk-$label-$c.txt"
    timeout $((duration + 60)) wrk -t"$threads" -c"$c" -d"${duration}s" --timeout 5s --latency \
      -s "$lua" "http://127.0.0.1:$port/v1/auth" -- "$tmp/keys.txt" >"$raw" 2>&1
    awk -v label="$label" -v c="$c" '
      $1 == "Requests/sec:" { rps = $2 }
      /Non-2xx or 3xx responses:/ { bad += $NF }
      /Socket errors:/ { n = split($0, f, /[ ,]+/); for (i = 1; i <= n; i++) if (f[i] ~ /^[0-9]+$/) bad += f[i] }
      /^latency-percentiles-us:/ {
        for (i = 2; i <= NF; i++) { split($i, kv, "="); p[kv[1]] = kv[2] }
        print $0 > "/dev/stderr"
      }
      END { printf "%s,%d,%.0f,%d,%d,%d,%d\n", label, c, rps, p["50"], p["99"], p["99.9"], bad }
    ' "$raw" 2>"$tmp/pct-$label-$c.txt" >>"$tmp/sweep.csv"
    echo "   $label c=$c: $(tail -n1 "$tmp/sweep.csv")"
  done
}

: >"$tmp/sweep.csv"
echo "== HTTP sweep: GET /v1/auth over 10000 rotated keys, ${duration}s per point (load $(cut -d' ' -f1-3 /proc/loadavg))"
for server in keycached nginx-shared nginx-reuseport nginx-working; do
  port=$(free_port)
  case "$server" in
    keycached) start_keycached "$port" ;;
    nginx-shared) start_nginx "$port" shared ;;
    nginx-reuseport) start_nginx "$port" reuseport ;;
    nginx-working) start_nginx "$port" working ;;
  esac
  wait_http "http://127.0.0.1:$port/health/live" 20 || {
    echo "report: $server did not start" >&2
    exit 1
  }
  if [ "$server" = keycached ]; then
    status=$(curl -s -o /dev/null -w '%{http_code}' -H "X-API-Key: $(head -n1 "$tmp/keys.txt")" \
      "http://127.0.0.1:$port/v1/auth")
    [ "$status" = 200 ] || { echo "report: a seeded key got HTTP $status" >&2; cat "$tmp/keycached.log" >&2; exit 1; }
  fi
  sweep "$server"
  if [ "$server" = keycached ]; then stop_pid "$server_pid"; else stop_pid "$server_pid" QUIT; fi
done

# ---- in process -----------------------------------------------------------------------------
echo "== verify_bench: threads (VerifyCachedHit, HmacKey) and store size (VerifyWarm/Cold, StoreFindById)"
# One run per benchmark: the CSV reporter wants the same user counters in every row of a run.
: >"$tmp/verify.csv"
for b in VerifyCachedHit VerifyCachedHitWithoutFront HmacKey VerifyWarm VerifyCold StoreFindById; do
  "$verify_bench" --benchmark_min_time=0.5 --benchmark_repetitions=3 \
    --benchmark_report_aggregates_only=true --benchmark_format=csv \
    --benchmark_filter="^BM_$b/" >>"$tmp/verify.csv" 2>"$tmp/verify.err" || {
    cat "$tmp/verify.err" >&2
    exit 1
  }
done
# name,iterations,real_time,cpu_time,time_unit,... (medians): "BM_X/real_time/threads:N_median"
awk -F, '$1 ~ /_median"?$/ {
  name = $1; gsub(/"/, "", name); sub(/_median$/, "", name)
  unit = $5; gsub(/"/, "", unit); f = (unit == "us" ? 1000 : unit == "ms" ? 1e6 : 1)
  printf "%s,%.1f,%.1f\n", name, $3 * f, $4 * f
}' "$tmp/verify.csv" >"$tmp/verify-medians.csv"

# ---- plots ----------------------------------------------------------------------------------
for label in keycached nginx-shared nginx-reuseport nginx-working; do
  grep "^$label," "$tmp/sweep.csv" | tr ',' ' ' >"$tmp/$label.dat"
  # percentile curve at 64 connections: "percentile microseconds"
  tr ' ' '\n' <"$tmp/pct-$label-64.txt" | awk -F= 'NF == 2 { print $1, $2 }' >"$tmp/$label-pct.dat"
done
awk -F, '$1 ~ /^BM_VerifyCachedHit\// { split($1, a, "threads:"); print a[2], 1e9 / $2 }' \
  "$tmp/verify-medians.csv" | sort -n >"$tmp/scaling-verify.dat"
awk -F, '$1 ~ /^BM_HmacKey\// { split($1, a, "threads:"); print a[2], 1e9 / $2 }' \
  "$tmp/verify-medians.csv" | sort -n >"$tmp/scaling-hmac.dat"
awk -F, '$1 ~ /^BM_VerifyCachedHitWithoutFront\// { split($1, a, "threads:"); print a[2], 1e9 / $2 }' \
  "$tmp/verify-medians.csv" | sort -n >"$tmp/scaling-nofront.dat"
for b in VerifyWarm VerifyCold StoreFindById; do
  awk -F, -v b="BM_$b/" 'index($1, b) == 1 { split($1, a, "/"); print a[2], $2 / 1000 }' \
    "$tmp/verify-medians.csv" | sort -n >"$tmp/keys-$b.dat"
done

plot() {  # FILE TITLE then gnuplot commands on stdin
  { printf 'set terminal pngcairo size 900,540 font ",10"\nset output "%s"\nset title "%s"\nset grid\nset key top left\n' "$1" "$2"; cat; } |
    gnuplot
}
series='"TMP/keycached.dat" using 2:COL with linespoints lw 2 title "keycached", "TMP/nginx-shared.dat" using 2:COL with linespoints title "nginx, shared socket", "TMP/nginx-reuseport.dat" using 2:COL with linespoints title "nginx, reuseport", "TMP/nginx-working.dat" using 2:COL with linespoints dt 2 title "nginx + access log, 3 headers"'
series=${series//TMP/$tmp}
plot "$plots/throughput.png" "GET /v1/auth: requests per second by connections" <<EOF
set logscale x 2
set xlabel "connections"
set ylabel "requests/s"
set yrange [0:*]
plot ${series//COL/3}
EOF
for col in 4:p50 5:p99 6:p99.9; do
  plot "$plots/latency-${col#*:}.png" "GET /v1/auth: ${col#*:} latency by connections" <<EOF
set logscale x 2
set logscale y
set xlabel "connections"
set ylabel "${col#*:} latency (microseconds)"
plot ${series//COL/${col%%:*}}
EOF
done
plot "$plots/percentiles-c64.png" "Latency percentiles at 64 connections" <<EOF
set logscale y
set xlabel "percentile"
set ylabel "latency (microseconds)"
set xtics ("50" 1, "75" 2, "90" 3, "95" 4, "99" 5, "99.5" 6, "99.9" 7, "99.99" 8)
plot "$tmp/keycached-pct.dat" using (\$0+1):2 with linespoints lw 2 title "keycached", \
     "$tmp/nginx-shared-pct.dat" using (\$0+1):2 with linespoints title "nginx, shared socket", \
     "$tmp/nginx-reuseport-pct.dat" using (\$0+1):2 with linespoints title "nginx, reuseport", \
     "$tmp/nginx-working-pct.dat" using (\$0+1):2 with linespoints dt 2 title "nginx + access log, 3 headers"
EOF
plot "$plots/thread-scaling.png" "In process: verifications per second by threads ($(nproc) cores)" <<EOF
set xlabel "threads"
set ylabel "operations/s (all threads)"
set xtics 1
set yrange [0:*]
plot "$tmp/scaling-verify.dat" using 1:2 with linespoints lw 2 title "BM_VerifyCachedHit", \
     "$tmp/scaling-nofront.dat" using 1:2 with linespoints title "BM_VerifyCachedHitWithoutFront (KEYCACHE_L1_HOT_ENTRIES=0)", \
     "$tmp/scaling-hmac.dat" using 1:2 with linespoints title "BM_HmacKey (control: nothing shared)"
EOF
plot "$plots/store-size.png" "Verification cost by keys in the store (1,000 hot keys)" <<EOF
set logscale x 10
set logscale y
set xlabel "keys in the store"
set ylabel "microseconds per call (wall)"
plot "$tmp/keys-VerifyWarm.dat" using 1:2 with linespoints lw 2 title "verify, L1 warm", \
     "$tmp/keys-VerifyCold.dat" using 1:2 with linespoints lw 2 title "verify, L1 miss (store read)", \
     "$tmp/keys-StoreFindById.dat" using 1:2 with linespoints title "store read alone"
EOF

# ---- the report -----------------------------------------------------------------------------
row() {  # LABEL C -> "req/s p50 p99 p99.9 errors" of that point
  awk -F, -v l="$1" -v c="$2" '$1 == l && $2 == c { printf "%s %s %s %s %s", $3, $4, $5, $6, $7 }' "$tmp/sweep.csv"
}
ms() { awk -v us="$1" 'BEGIN { printf "%.2f", us / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
{
  echo "# keycache benchmark report"
  echo
  echo "Written by \`bench/report.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC') at commit" \
    "\`$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)\`$(git -C "$root" diff --quiet -- . ':!bench/REPORT.md' ':!bench/report' 2>/dev/null || echo ' (with uncommitted changes)')."
  echo "Every figure stands beside its reference measured in the same run: absolute numbers on"
  echo "this shared machine drift from run to run, the ratios much less."
  echo
  echo "## Machine"
  echo
  echo "- CPU: $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(nproc) cores visible"
  echo "- memory: $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo); kernel $(uname -r)"
  echo "- load average before the run: $(cut -d' ' -f1-3 /proc/loadavg) (shared machine)"
  echo "- $(nginx -v 2>&1 | head -n1); $(wrk -v 2>&1 | head -n1 | cut -d' ' -f1-2); $(gnuplot --version)"
  echo
  echo "## HTTP: keycached against nginx, by connections"
  echo
  echo "GET \`/v1/auth\` with \`X-API-Key\` rotated over 10,000 seeded keys (every answer from L1)."
  echo "keycached with its default thread count (\`KEYCACHE_THREADS\` unset: one per core),"
  echo "access log off; nginx with \`worker_processes $(nproc)\` answering \`return 200\`, once with one"
  echo "shared listening socket and once with \`reuseport\`. wrk (1 thread for 1 connection, else 2),"
  echo "${duration} s per point after a 1 s warm-up, on the same cores as the server."
  echo
  echo "| connections | keycached req/s | p50 | p99 | p99.9 | nginx best req/s | p50 | p99 | p99.9 | req/s ratio | p99 ratio |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
  for c in "${connections[@]}"; do
    read -r k_rps k_50 k_99 k_999 k_bad <<<"$(row keycached "$c")"
    read -r s_rps s_50 s_99 s_999 _ <<<"$(row nginx-shared "$c")"
    read -r r_rps r_50 r_99 r_999 _ <<<"$(row nginx-reuseport "$c")"
    # nginx's best configuration at this point: the lower p99.
    if [ "$s_99" -le "$r_99" ]; then
      n_rps=$s_rps n_50=$s_50 n_99=$s_99 n_999=$s_999 which="shared"
    else
      n_rps=$r_rps n_50=$r_50 n_99=$r_99 n_999=$r_999 which="reuseport"
    fi
    printf '| %s | %s | %s ms | %s ms | %s ms | %s (%s) | %s ms | %s ms | %s ms | %s | %s |\n' \
      "$c" "$k_rps" "$(ms "$k_50")" "$(ms "$k_99")" "$(ms "$k_999")" "$n_rps" "$which" \
      "$(ms "$n_50")" "$(ms "$n_99")" "$(ms "$n_999")" \
      "$(ratio "$k_rps" "$n_rps")" "$(ratio "$k_99" "$n_99")"
    [ "$k_bad" = 0 ] || echo "| | **keycached: $k_bad non-2xx answers or socket errors** |"
  done
  echo
  echo "Targets (issue 10): req/s ratio ≥ 1.0 and p99 ratio ≤ 1.25 at 16, 64 and 256 connections."
  echo
  echo "Calibration, same run: nginx (reuseport) doing a little of what a real answer costs, an"
  echo "access log line (buffered) and three headers from the request. On cores that wrk shares,"
  echo "a server whose CPU per request comes near wrk's is preempted instead of sleeping, and"
  echo "its p99 becomes the scheduler's, whatever the server (bench/README.md, \"The HTTP tail:"
  echo "any server at wrk's CPU per request\")."
  echo
  echo "| connections | nginx + log, 3 headers req/s | p50 | p99 | keycached/it req/s | keycached/it p99 |"
  echo "|---|---|---|---|---|---|"
  for c in "${connections[@]}"; do
    read -r k_rps _ k_99 _ _ <<<"$(row keycached "$c")"
    read -r w_rps w_50 w_99 _ _ <<<"$(row nginx-working "$c")"
    printf '| %s | %s | %s ms | %s ms | %s | %s |\n' "$c" "$w_rps" "$(ms "$w_50")" "$(ms "$w_99")" \
      "$(ratio "$k_rps" "$w_rps")" "$(ratio "$k_99" "$w_99")"
  done
  echo
  echo "![throughput](report/throughput.png)"
  echo "![p50](report/latency-p50.png)"
  echo "![p99](report/latency-p99.png)"
  echo "![p99.9](report/latency-p99.9.png)"
  echo "![percentiles at 64 connections](report/percentiles-c64.png)"
  echo
  echo "## In process: scaling with threads"
  echo
  echo "\`verify_bench\`, medians of 3 repetitions: \`BM_VerifyCachedHit\` (the whole L1-hit"
  echo "verification: parse, HMAC, L1, decision, scope decision, usage, metrics) against"
  echo "\`BM_HmacKey\`, which shares nothing between threads and so shows what the machine gives."
  echo
  echo "| threads | VerifyCachedHit: wall ns per verification (all threads together) | verifications/s | speed-up | without the front: ns | its speed-up | HmacKey: wall ns per HMAC | HmacKey speed-up |"
  echo "|---|---|---|---|---|---|---|---|"
  v1=$(awk -F, '$1 ~ /^BM_VerifyCachedHit\/.*threads:1$/ { print $2 }' "$tmp/verify-medians.csv")
  h1=$(awk -F, '$1 ~ /^BM_HmacKey\/.*threads:1$/ { print $2 }' "$tmp/verify-medians.csv")
  n1=$(awk -F, '$1 ~ /^BM_VerifyCachedHitWithoutFront\/.*threads:1$/ { print $2 }' "$tmp/verify-medians.csv")
  while read -r t rate; do
    v=$(awk -F, -v t="threads:$t" '$1 ~ /^BM_VerifyCachedHit\// && $1 ~ t "$" { print $2 }' "$tmp/verify-medians.csv")
    h=$(awk -F, -v t="threads:$t" '$1 ~ /^BM_HmacKey\// && $1 ~ t "$" { print $2 }' "$tmp/verify-medians.csv")
    n=$(awk -F, -v t="threads:$t" '$1 ~ /^BM_VerifyCachedHitWithoutFront\// && $1 ~ t "$" { print $2 }' "$tmp/verify-medians.csv")
    awk -v t="$t" -v v="$v" -v r="$rate" -v v1="$v1" -v h="$h" -v h1="$h1" -v n="$n" -v n1="$n1" 'BEGIN {
      printf "| %d | %.0f | %.0f | %.2f× | %.0f | %.2f× | %.0f | %.2f× |\n", t, v, r, v1 / v, n, n1 / n, h, h1 / h }'
  done <"$tmp/scaling-verify.dat"
  echo
  echo "Target (issue 10): 2 threads ≥ 1.8× one thread, and one thread ≤ 250 ns."
  echo
  echo "![thread scaling](report/thread-scaling.png)"
  echo
  echo "## Verification cost by keys in the store"
  echo
  echo "| keys | verify, L1 warm | verify, L1 miss | store read alone |"
  echo "|---|---|---|---|"
  while read -r n warm; do
    cold=$(awk -v n="$n" '$1 == n { print $2 }' "$tmp/keys-VerifyCold.dat")
    read_only=$(awk -v n="$n" '$1 == n { print $2 }' "$tmp/keys-StoreFindById.dat")
    printf '| %s | %.2f µs | %.1f µs | %.2f µs |\n' "$n" "$warm" "$cold" "$read_only"
  done <"$tmp/keys-VerifyWarm.dat"
  echo
  echo "![store size](report/store-size.png)"
} >"$out"
echo "== wrote $out and $plots/*.png"
