#!/usr/bin/env bash
# Revocation propagation over PostgreSQL LISTEN/NOTIFY (docs/adr/0005): a throw-away PostgreSQL
# 15 server and two keycached instances on it without Redis; bench/propagation_bench creates N
# keys on A, has B cache each (X-Cache-Status HIT), revokes it on A and polls B until it refuses.
# Prints the client-observed p50/p90/p99/max and B's keycache_invalidation_propagation_pg_seconds.
# Loopback only; every process it starts is stopped on exit.
#
#   bench/pg_notify_bench.sh [--revocations N] [--build-dir DIR] [--no-build]
#
# --build-dir: where keycached (src/app/) and propagation_bench (bench/) are; default
# build/release, which this script builds first unless --no-build.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build_dir="$root/build/release"
revocations=1000
build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --revocations) revocations=${2:-}; shift 2 ;;
    --build-dir) build_dir=${2:-}; build=0; shift 2 ;;
    --no-build) build=0; shift ;;
    -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: bench/pg_notify_bench.sh [--revocations N] [--build-dir DIR] [--no-build]" >&2; exit 2 ;;
  esac
done
[[ "$revocations" =~ ^[1-9][0-9]*$ ]] || { echo "pg_notify_bench: '$revocations' is not a positive whole number" >&2; exit 2; }
pg_bin=${KEYCACHE_PG_BINDIR:-/usr/lib/postgresql/15/bin}
for tool in "$pg_bin/initdb" "$pg_bin/postgres" "$pg_bin/pg_isready" "$pg_bin/psql" curl ss; do
  command -v "$tool" >/dev/null || { echo "pg_notify_bench: $tool is missing (scripts/install-deps.sh)" >&2; exit 1; }
done

if [ "$build" -eq 1 ]; then
  echo "== building keycached, propagation_bench (release, -j1)"
  cmake --preset release -S "$root" >/dev/null
  cmake --build "$build_dir" -j1 --target keycached propagation_bench
fi
keycached="$build_dir/src/app/keycached"
propagation="$build_dir/bench/propagation_bench"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/keycache-pg-bench.XXXXXX")
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"

start_postgres -c max_connections=100
url=$pg_url
token="bench-admin-token-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
pepper="bench-pepper-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"

# start_keycached NAME: sets NAME_port (no subshell, so the pid is tracked for cleanup)
start_keycached() {
  local name=$1 port
  port=$(free_port)
  mkdir -p "$tmp/$name"
  (cd "$tmp/$name" && exec env -i PATH="$PATH" HOME="$tmp/$name" HOST=127.0.0.1 PORT="$port" \
    DATABASE_URL="$url" KEYCACHE_DATA_DIR="$tmp/$name" KEYCACHE_PEPPER="$pepper" \
    ADMIN_TOKEN="$token" KEYCACHE_THREADS=2 KEYCACHE_ACCESS_LOG=false LOG_LEVEL=warn \
    KEYCACHE_SHUTDOWN_GRACE=2s KEYCACHE_INSTANCE_ID="$name" "$keycached" serve) \
    >"$tmp/$name.log" 2>&1 &
  pids+=("$!")
  eval "${name}_port=$port"
  for _ in $(seq 1 400); do
    curl -s --max-time 1 "http://127.0.0.1:$port/health/cache" | grep -q '"held":true' && return 0
    sleep 0.05
  done
  echo "pg_notify_bench: keycached $name did not get its coherence lease" >&2
  cat "$tmp/$name.log" >&2
  exit 1
}
start_keycached a
start_keycached b

echo "=== revocation propagation over LISTEN/NOTIFY, $revocations keys;" \
  "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
# shellcheck disable=SC2154  # a_port and b_port are set by start_keycached through eval
"$propagation" --a "$a_port" --b "$b_port" --token "$token" --count "$revocations"
histogram "$b_port" keycache_invalidation_propagation_pg_seconds
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
