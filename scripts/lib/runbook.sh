# Shared by the runbook scripts (scripts/*.sh): messages, exit codes, the Redis and HTTP clients
# configured from keycached's own environment variables. Sourced, never run.
# shellcheck shell=bash disable=SC2034  # the variables set here are read by the scripts

# Exit codes of every runbook script.
readonly EXIT_OK=0 EXIT_FAILED=1 EXIT_USAGE=2

say() { printf '%s\n' "$*"; }
warn() { printf '%s: warning: %s\n' "${0##*/}" "$*" >&2; }
die() { printf '%s: error: %s\n' "${0##*/}" "$*" >&2; exit "$EXIT_FAILED"; }
usage_error() {
  printf '%s: %s (see --help)\n' "${0##*/}" "$*" >&2
  exit "$EXIT_USAGE"
}
need() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed"
  done
}
# A usage error unless the option ($1) has a value ($2): `need_value "$@"` in the option loop.
need_value() {
  if [ $# -lt 2 ] || [ -z "$2" ]; then usage_error "$1 needs a value"; fi
}

# ---- Redis: REDIS_HOST, REDIS_PORT, REDIS_USERNAME, REDIS_PASSWORD(_FILE), REDIS_TLS*,
# REDIS_KEY_PREFIX as keycached reads them (docs/configuration.md). The password travels in
# REDISCLI_AUTH, never on the command line.
# Redis Cluster (REDIS_CLUSTER_ENABLED=true): REDIS_CLUSTER_NODES=host:port,... are the seeds and
# REDIS_HOST/REDIS_PORT become the first of them (redis_use_node moves them).
REDIS_HOST=${REDIS_HOST:-}
REDIS_PORT=${REDIS_PORT:-6379}
REDIS_KEY_PREFIX=${REDIS_KEY_PREFIX:-cache:apikeys:}
redis_cluster() { [ "${REDIS_CLUSTER_ENABLED:-false}" = true ]; }
redis_setup() {
  if redis_cluster; then
    [ -n "${REDIS_CLUSTER_NODES:-}" ] ||
      usage_error "REDIS_CLUSTER_ENABLED=true but REDIS_CLUSTER_NODES is not set"
    local first=${REDIS_CLUSTER_NODES%%,*}
    REDIS_HOST=${first%:*} REDIS_PORT=${first##*:}
  fi
  [ -n "$REDIS_HOST" ] || usage_error "REDIS_HOST is not set (the Redis keycached uses)"
  need redis-cli
  if [ -z "${REDIS_PASSWORD:-}" ] && [ -n "${REDIS_PASSWORD_FILE:-}" ]; then
    [ -r "$REDIS_PASSWORD_FILE" ] || die "cannot read REDIS_PASSWORD_FILE $REDIS_PASSWORD_FILE"
    REDIS_PASSWORD=$(cat "$REDIS_PASSWORD_FILE")
  fi
  REDIS_AUTH_ARGS=(--no-auth-warning)
  [ -z "${REDIS_USERNAME:-}" ] || REDIS_AUTH_ARGS+=(--user "$REDIS_USERNAME")
  if [ "${REDIS_TLS:-false}" = true ] || [ -n "${REDIS_TLS_CA:-}" ]; then
    REDIS_AUTH_ARGS+=(--tls)
    [ -z "${REDIS_TLS_CA:-}" ] || REDIS_AUTH_ARGS+=(--cacert "$REDIS_TLS_CA")
    [ -z "${REDIS_TLS_CERT:-}" ] || REDIS_AUTH_ARGS+=(--cert "$REDIS_TLS_CERT" --key "$REDIS_TLS_KEY")
    [ -z "${REDIS_TLS_SERVER_NAME:-}" ] || REDIS_AUTH_ARGS+=(--sni "$REDIS_TLS_SERVER_NAME")
  fi
  redis_use_node "$REDIS_HOST" "$REDIS_PORT"
}
# Points rcli and redis_scan_prefix at another node: redis_use_node HOST PORT.
redis_use_node() {
  REDIS_HOST=$1 REDIS_PORT=$2
  REDIS_ARGS=(-h "$REDIS_HOST" -p "$REDIS_PORT" "${REDIS_AUTH_ARGS[@]}")
}
# The nodes that hold keycache's keys, "host port" a line: REDIS_HOST:REDIS_PORT, or on a Cluster
# every primary serving slots, from CLUSTER SLOTS of the first seed that answers (the service's
# ACL user may run it). In CLUSTER SLOTS's CSV form a slot range is the only place where two
# bare integers follow each other (start, end), and its primary's address comes next.
redis_data_nodes() {
  if ! redis_cluster; then
    printf '%s %s\n' "$REDIS_HOST" "$REDIS_PORT"
    return 0
  fi
  local seed host port csv
  local -a seeds
  IFS=, read -ra seeds <<<"$REDIS_CLUSTER_NODES"
  for seed in "${seeds[@]}"; do
    host=${seed%:*} port=${seed##*:}
    csv=$(REDISCLI_AUTH=${REDIS_PASSWORD:-} timeout 10 redis-cli -h "$host" -p "$port" \
      "${REDIS_AUTH_ARGS[@]}" --csv CLUSTER SLOTS 2>/dev/null) || continue
    case "$csv" in [0-9]*) ;; *) continue ;; esac
    printf '%s\n' "$csv" | awk -F, -v seed="$host" '{
      for (i = 1; i + 3 <= NF; i++) {
        if ($i ~ /^[0-9]+$/ && $(i + 1) ~ /^[0-9]+$/) {
          ip = $(i + 2); gsub(/"/, "", ip)
          if (ip == "" || ip == "?") ip = seed
          print ip, $(i + 3)
          i += 3
        }
      }
    }' | sort -u
    return 0
  done
  return 1
}
# One command; prints the reply; fails (with redis-cli's message) on an error reply or when
# Redis does not answer within 10 s.
rcli() {
  local out
  out=$(REDISCLI_AUTH=${REDIS_PASSWORD:-} timeout 10 redis-cli "${REDIS_ARGS[@]}" "$@" 2>&1) || {
    printf '%s\n' "${out:-no answer from Redis at $REDIS_HOST:$REDIS_PORT}" >&2
    return 1
  }
  case "$out" in
    ERR* | WRONGPASS* | NOAUTH* | NOPERM* | "Could not connect"* | "Error:"* | READONLY* | OOM*)
      printf '%s\n' "$out" >&2
      return 1
      ;;
  esac
  printf '%s\n' "$out"
}
# Every key under REDIS_KEY_PREFIX (SCAN, never KEYS), one a line.
redis_scan_prefix() {
  local pattern
  pattern=$(printf '%s' "$REDIS_KEY_PREFIX" | sed 's/[][*?\\]/\\&/g')'*'
  REDISCLI_AUTH=${REDIS_PASSWORD:-} timeout 300 redis-cli "${REDIS_ARGS[@]}" --scan \
    --pattern "$pattern"
}

# ---- keycached over HTTP: KEYCACHE_URL (default http://127.0.0.1:3333), the admin token from
# ADMIN_TOKEN, ADMIN_TOKEN_FILE or ./var/admin-token.
KEYCACHE_URLS=()
admin_token() {
  if [ -n "${ADMIN_TOKEN:-}" ]; then
    printf '%s' "$ADMIN_TOKEN"
  elif [ -n "${ADMIN_TOKEN_FILE:-}" ]; then
    [ -r "$ADMIN_TOKEN_FILE" ] || die "cannot read ADMIN_TOKEN_FILE $ADMIN_TOKEN_FILE"
    cat "$ADMIN_TOKEN_FILE"
  elif [ -r "${KEYCACHE_DATA_DIR:-./var}/admin-token" ]; then
    cat "${KEYCACHE_DATA_DIR:-./var}/admin-token"
  else
    die "no admin token: set ADMIN_TOKEN or ADMIN_TOKEN_FILE"
  fi
}
urls() {
  [ ${#KEYCACHE_URLS[@]} -gt 0 ] || KEYCACHE_URLS=("${KEYCACHE_URL:-http://127.0.0.1:3333}")
  printf '%s\n' "${KEYCACHE_URLS[@]}"
}
# http METHOD URL [BODY] [--admin]: sets HTTP_STATUS and HTTP_BODY; returns 1 when nothing
# answered within 30 s. The token goes to curl on its standard input, never on the command line.
http() {
  local method=$1 url=$2 body=${3:-} admin=${4:-} out config=""
  need curl
  if [ "$admin" = --admin ]; then
    local token
    token=$(admin_token) || exit "$EXIT_FAILED"
    config=$(printf 'header = "Authorization: Bearer %s"' "$token")
  fi
  out=$(printf '%s\n' "$config" | curl -sS --max-time 30 -K - -X "$method" \
    -H 'Content-Type: application/json' ${body:+--data "$body"} -w '\n%{http_code}' "$url" 2>&1) || {
    HTTP_STATUS=0
    HTTP_BODY=$out
    return 1
  }
  HTTP_STATUS=${out##*$'\n'}
  HTTP_BODY=${out%$'\n'*}
}

# ---- keycached's state: DATABASE_URL and the secrets, as `keycached serve` resolves them in its
# working directory (--workdir of the scripts, default .).
WORKDIR=.
# In `dir`: an absolute path as it is, a relative one under WORKDIR.
in_workdir() {
  case "$1" in
    /*) printf '%s' "$1" ;;
    *) [ "$WORKDIR" = . ] && printf '%s' "$1" || printf '%s/%s' "$WORKDIR" "${1#./}" ;;
  esac
}
data_dir() { in_workdir "${KEYCACHE_DATA_DIR:-./var}"; }
# The SQLite file of DATABASE_URL (default sqlite:./var/keycache.db); "" for PostgreSQL.
sqlite_path() {
  local url=${DATABASE_URL:-sqlite:./var/keycache.db}
  case "$url" in
    sqlite:*)
      url=${url#sqlite:}
      url=${url#//}
      in_workdir "$url"
      ;;
    postgres://* | postgresql://*) ;;
    *) usage_error "DATABASE_URL has an unsupported scheme (sqlite:PATH or postgresql://...)" ;;
  esac
}
pepper_path() { printf '%s' "${KEYCACHE_PEPPER_FILE:-$(data_dir)/pepper}"; }
token_path() { printf '%s' "${ADMIN_TOKEN_FILE:-$(data_dir)/admin-token}"; }
