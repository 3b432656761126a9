# shellcheck shell=bash disable=SC2154  # tmp is set by the sourcing script
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

# start_postgres: a throw-away PostgreSQL 15 in "$tmp/pg" (fsync and synchronous_commit off, trust
# on loopback, no system service) with a database `keycache`; sets pg_port and pg_url. initdb and
# postgres refuse to run as root, so as root the postgres user runs them (it gets "$tmp").
# Extra arguments are passed to postgres (e.g. -c max_connections=200).
start_postgres() {
  local pg_bin=${KEYCACHE_PG_BINDIR:-/usr/lib/postgresql/15/bin} as_pg=()
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres "$tmp"
    as_pg=(runuser -u postgres --)
  fi
  pg_port=$(free_port)
  "${as_pg[@]}" "$pg_bin/initdb" -D "$tmp/pg" -U keycache -A trust --encoding=UTF8 --locale=C \
    --no-sync >"$tmp/initdb.log" 2>&1 || { cat "$tmp/initdb.log" >&2; return 1; }
  "${as_pg[@]}" "$pg_bin/postgres" -D "$tmp/pg" -p "$pg_port" -c listen_addresses=127.0.0.1 \
    -c unix_socket_directories="$tmp" -c fsync=off -c synchronous_commit=off "$@" \
    >"$tmp/postgres.log" 2>&1 &
  pids+=("$!")
  for _ in $(seq 1 200); do
    "$pg_bin/pg_isready" -q -h 127.0.0.1 -p "$pg_port" && break
    sleep 0.05
  done
  "$pg_bin/psql" -q -h 127.0.0.1 -p "$pg_port" -U keycache -d postgres -c 'CREATE DATABASE keycache'
  # shellcheck disable=SC2034  # read by the sourcing script
  pg_url="postgresql://keycache@127.0.0.1:$pg_port/keycache"
}

# wait_http URL SECONDS: until URL answers (any status).
wait_http() {
  for _ in $(seq 1 $(($2 * 20))); do
    curl -s -o /dev/null --max-time 1 "$1" && return 0
    sleep 0.05
  done
  return 1
}

# cpu_ticks PID...: user + system clock ticks consumed so far by those processes (all threads).
cpu_ticks() {
  local total=0 pid f
  for pid in "$@"; do
    f=$(cut -d')' -f2 "/proc/$pid/stat" 2>/dev/null) || continue
    # fields after "pid (comm)": state is 1st, utime 12th, stime 13th
    total=$((total + $(echo "$f" | awk '{print $12 + $13}')))
  done
  echo "$total"
}

# ctx_switches PID: voluntary + involuntary context switches so far, over all its threads.
ctx_switches() {
  cat "/proc/$1/task/"*/status 2>/dev/null |
    awk '/^(voluntary|nonvoluntary)_ctxt_switches:/ {s += $2} END {printf "%.0f", s}'
}

# histogram PORT NAME: the cumulative buckets of histogram NAME on an instance's /metrics, as
# "le=count" pairs on one line, then the sample count.
histogram() {
  curl -s "http://127.0.0.1:$1/metrics" | awk -v n="$2" '
    index($0, n "_bucket{") == 1 { match($0, /le="[^"]*"/); b = b " " substr($0, RSTART + 4, RLENGTH - 5) "=" $NF }
    index($0, n "_count") == 1 { c = $NF }
    END { printf "%s buckets (le=cumulative count):%s; count %s\n", n, b, c }'
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# breaker PORT: the Redis tier's circuit breaker on an instance ("open", "closed", or empty).
breaker() {
  curl -s --max-time 1 "http://127.0.0.1:$1/health/cache" | grep -o '"breaker":"[a-z]*"' | cut -d'"' -f4
}
wait_breaker() {  # PORT STATE SECONDS
  for _ in $(seq 1 $(($3 * 20))); do [ "$(breaker "$1")" = "$2" ] && return 0; sleep 0.05; done
  return 1
}

# nginx_auth_conf DIR PORT WORKERS LISTEN_OPTS [working]: writes DIR/nginx.conf for the
# benchmarks' reference: nginx answering `GET /v1/auth` with a fixed 200 as cheaply as it can
# (LISTEN_OPTS: "" for one shared listening socket, " reuseport" for one per worker). With
# "working", it also does what a real answer adds to a static one: an access log line (buffered,
# as production nginx is usually configured) and three response headers taken from the request.
# `GET /health/live` answers keycached's liveness body, for comparing the HTTP layers alone.
nginx_auth_conf() {
  local dir=$1 port=$2 workers=$3 listen_opts=$4 work=${5:-}
  local access_log="access_log off;" headers=""
  if [ "$work" = working ]; then
    access_log="access_log $dir/access.log combined buffer=256k;"
    # shellcheck disable=SC2016  # nginx variables, not the shell's
    headers='add_header X-Request-Id $request_id; add_header X-Key $http_x_api_key; add_header X-Time $msec;'
  fi
  cat >"$dir/nginx.conf" <<EOF
worker_processes $workers;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
  $access_log
  keepalive_requests 1000000;
  keepalive_timeout 60s;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  server {
    listen 127.0.0.1:$port$listen_opts;
    location = /v1/auth {
      default_type application/json;
      $headers
      return 200 '{"code":"VALID"}';
    }
    location = /health/live {
      default_type application/json;
      return 200 '{"status":"ok"}';
    }
  }
}
EOF
}
