# Shared by the benchmark scripts (sourced, not run): process tracking and cleanup, free ports.
# The sourcing script sets `tmp` (a directory removed on exit) before sourcing this file.
# shellcheck shell=bash disable=SC2154

pids=()

# TERM (or another signal, e.g. QUIT for nginx), then up to 10 s for the process to go, then KILL.
stop_pid() {
  local pid=$1 sig=${2:-TERM}
  kill -"$sig" "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  forget_pid "$pid"
}
forget_pid() {
  local kept=() p
  for p in ${pids[@]+"${pids[@]}"}; do [ "$p" = "$1" ] || kept+=("$p"); done
  pids=(${kept[@]+"${kept[@]}"})
}
cleanup() {
  for pid in ${pids[@]+"${pids[@]}"}; do stop_pid "$pid"; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A loopback port nothing listens on, below the ephemeral range (32768+) that outgoing
# connections (wrk's, the Redis pool's) take their local ports from.
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 12000))
    if [ -z "$(ss -Htln "sport = :$p")" ]; then echo "$p"; return 0; fi
  done
  echo "$(basename "$0"): no free port found" >&2
  return 1
}
