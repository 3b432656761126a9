#!/usr/bin/env bash
# Soak: the model-based multi-instance test (tests/model) for 10 minutes against a release build:
# three keycached instances sharing a Redis and a SQLite database, client threads checking every
# answer against the oracle while one fault at a time is injected (Redis killed, paused,
# read-only, out of memory, connections killed, a silent network cut, the database locked, a
# revoked ACL permission). The driver samples each instance's RSS (/proc/<pid>/status VmRSS)
# every second and fails when it grows more than --rss-growth % between the warm-up and the end.
# Prints the test's report (operations, answers, faults, ambiguous changes, staleness, RSS).
#
#   bench/soak.sh [--seconds N] [--warmup N] [--rss-growth PCT] [--seed N] [--no-build]
#                 [--keycached PATH]   (another keycached binary than build/release's)
#
# Needs root (the test makes network namespaces), ip and nft (scripts/install-deps.sh). Builds
# build/release with the tests enabled (reusing what is built there), under nice, -j2.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build_dir="$root/build/release"
seconds=600
warmup=120
growth=5
seed=""
build=1
keycached="$build_dir/src/app/keycached"
usage="usage: bench/soak.sh [--seconds N] [--warmup N] [--rss-growth PCT] [--seed N] [--no-build] [--keycached PATH]"
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=${2:-}; shift 2 ;;
    --warmup) warmup=${2:-}; shift 2 ;;
    --rss-growth) growth=${2:-}; shift 2 ;;
    --seed) seed=${2:-}; shift 2 ;;
    --no-build) build=0; shift ;;
    --keycached) keycached=${2:-}; shift 2 ;;
    -h | --help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done
for v in "$seconds" "$warmup" "$growth" ${seed:+"$seed"}; do
  [[ "$v" =~ ^[0-9]+$ ]] || { echo "soak: '$v' is not a whole number" >&2; exit 2; }
done
if [ "$warmup" -ge "$seconds" ]; then
  echo "soak: the warm-up (${warmup} s) must be shorter than the run (${seconds} s)" >&2
  exit 2
fi
[ "$(id -u)" -eq 0 ] || { echo "soak: run as root (network namespaces)" >&2; exit 1; }
for tool in redis-server redis-cli ip nft; do
  command -v "$tool" >/dev/null || { echo "soak: $tool is missing (scripts/install-deps.sh)" >&2; exit 1; }
done

if [ "$build" -eq 1 ]; then
  echo "== building keycached and model_tests (release, tests on, -j2, nice)"
  cmake --preset release -S "$root" -DKEYCACHE_BUILD_TESTS=ON >/dev/null
  nice -n 19 cmake --build "$build_dir" -j2 --target keycached model_tests
fi
driver="$build_dir/tests/model/model_tests"
for f in "$keycached" "$driver"; do
  [ -x "$f" ] || { echo "soak: $f is missing; run without --no-build" >&2; exit 1; }
done

export KEYCACHED_BIN="$keycached"
export KEYCACHE_MODEL_SECONDS="$seconds"
export KEYCACHE_MODEL_WARMUP_SECONDS="$warmup"
export KEYCACHE_MODEL_RSS_GROWTH_PCT="$growth"
if [ -n "$seed" ]; then export KEYCACHE_MODEL_SEED="$seed"; fi
echo "== soak: ${seconds} s, RSS growth limit ${growth} % after ${warmup} s of warm-up"
exec nice -n 19 "$driver" --gtest_filter='Stores/Model.*/sqlite'
