#!/usr/bin/env bash
# backup-redis.sh: the deployment guide's RDB snapshot of Redis (BGSAVE, wait for LASTSAVE to
# move, copy the RDB file, gzip), for those who want one. keycache does not need it: Redis
# holds only copies of the database (scripts/backup.sh backs up the real state).
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib/runbook.sh"

help() {
  cat <<'USAGE'
Usage: backup-redis.sh --out DIR [--redis-dir DIR] [--dbfilename NAME] [--timeout SECONDS]
                       [--keep-days N]

Runs on the Redis host: BGSAVE, waits (up to --timeout, default 120 s) until LASTSAVE moves and
INFO persistence reports the save ok, then copies <redis-dir>/<dbfilename> (default
/var/lib/redis/dump.rdb: `dir` and `dbfilename` of deploy/redis/redis.conf; CONFIG GET is not
available on a hardened Redis) to DIR/dump_<UTC time>.rdb.gz. --keep-days N deletes this
script's snapshots in DIR older than N days.

Redis is reached with REDIS_HOST, REDIS_PORT, REDIS_USERNAME, REDIS_PASSWORD(_FILE), REDIS_TLS*;
the user needs BGSAVE, LASTSAVE and INFO (the `default` user of deploy/redis/users.acl, not the
service's `keycache` user).

Exit codes: 0 snapshot written, 1 failed (Redis down, refused, save failed or timed out), 2 usage
error.
USAGE
}

out="" redis_dir=/var/lib/redis dbfilename=dump.rdb timeout_s=120 keep_days=""
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) help; exit "$EXIT_OK" ;;
    --out) need_value "$@"; out=$2; shift 2 ;;
    --redis-dir) need_value "$@"; redis_dir=$2; shift 2 ;;
    --dbfilename) need_value "$@"; dbfilename=$2; shift 2 ;;
    --timeout) need_value "$@"; timeout_s=$2; shift 2 ;;
    --keep-days) need_value "$@"; keep_days=$2; shift 2 ;;
    *) usage_error "unknown argument: $1" ;;
  esac
done
[ -n "$out" ] || usage_error "--out DIR is required"
[[ "$timeout_s" =~ ^[0-9]+$ ]] || usage_error "--timeout must be a number of seconds"
[ -z "$keep_days" ] || [[ "$keep_days" =~ ^[0-9]+$ ]] || usage_error "--keep-days must be a number"
redis_setup

before=$(rcli LASTSAVE) || die "Redis at $REDIS_HOST:$REDIS_PORT refused LASTSAVE"
# LASTSAVE counts whole seconds: start the save in a later second than the last one, so that
# its completion is visible.
while [ "$(date +%s)" -le "$before" ]; do sleep 0.2; done
started=$(date +%s)
while ! reply=$(rcli BGSAVE 2>&1); do
  case "$reply" in
    *"in progress"*) ;; # another save runs: wait for it, then ours
    *) die "BGSAVE refused: $reply" ;;
  esac
  [ $(($(date +%s) - started)) -lt "$timeout_s" ] || die "a save already in progress did not end in ${timeout_s} s"
  sleep 0.5
done
while :; do
  now=$(rcli LASTSAVE) || die "Redis stopped answering during the save"
  [ "$now" -le "$before" ] || break
  [ $(($(date +%s) - started)) -lt "$timeout_s" ] || die "the save did not complete within ${timeout_s} s"
  sleep 0.2
done
persistence=$(rcli INFO persistence) || die "Redis stopped answering after the save"
status=$(printf '%s\n' "$persistence" | tr -d '\r' | sed -n 's/^rdb_last_bgsave_status://p')
[ "$status" = ok ] ||
  die "Redis reports the save failed (INFO persistence: rdb_last_bgsave_status:${status:-missing})"

rdb="$redis_dir/$dbfilename"
[ -r "$rdb" ] || die "cannot read $rdb (--redis-dir / --dbfilename; run this on the Redis host)"
umask 077
mkdir -p "$out"
target="$out/dump_$(date -u +%Y%m%d_%H%M%S).rdb"
cp -- "$rdb" "$target"
gzip -f -- "$target"
if [ -n "$keep_days" ]; then
  find "$out" -maxdepth 1 -name 'dump_*.rdb.gz' -mtime +"$keep_days" -delete
fi
say "Redis snapshot written: $target.gz ($(stat -c %s "$target.gz") bytes)"
say "note: Redis holds only copies of keycache's database; scripts/backup.sh backs up the state"
