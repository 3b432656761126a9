#!/usr/bin/env bash
# restore.sh: restores a backup made by backup.sh (the database, the pepper, the admin token)
# into a stopped keycache deployment; refuses to overwrite existing state without --force.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib/runbook.sh"

help() {
  cat <<'USAGE'
Usage: restore.sh --from DIR [--workdir DIR] [--force]

Restores the backup in DIR (made by scripts/backup.sh; its MANIFEST checksums are verified
first) to where keycached's variables point: DATABASE_URL (default sqlite:./var/keycache.db),
KEYCACHE_PEPPER_FILE or <data dir>/pepper, ADMIN_TOKEN_FILE or <data dir>/admin-token
(KEYCACHE_DATA_DIR, default ./var; relative paths under --workdir, default .).

Stop every keycached instance first. On SQLite this is checked: a running instance holds a lock
on <database>.instances and the restore refuses. On PostgreSQL, stop them yourself.

Existing state is never overwritten without --force: a database that exists (SQLite file, or
PostgreSQL with keys in api_keys), a pepper or admin token that differs from the backup's.
With --force the SQLite file and the secrets it replaces are kept beside them as
*.before-restore-<time>. Redis needs nothing: after the restart the caches fill from the
database (scripts/restore-cache.sh warms them).

Exit codes: 0 restored, 1 refused or failed (nothing was changed unless it says so), 2 usage
error.
USAGE
}

from="" force=0
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) help; exit "$EXIT_OK" ;;
    --from) need_value "$@"; from=$2; shift 2 ;;
    --workdir) need_value "$@"; WORKDIR=$2; shift 2 ;;
    --force) force=1; shift ;;
    *) usage_error "unknown argument: $1" ;;
  esac
done
[ -n "$from" ] || usage_error "--from DIR is required"
[ -d "$WORKDIR" ] || usage_error "--workdir $WORKDIR is not a directory"
[ -f "$from/MANIFEST" ] || die "$from is not a backup made by backup.sh (no MANIFEST)"
[ -f "$from/pepper" ] || die "$from has no pepper: its keys could not verify"
(cd "$from" && grep -E '^[0-9a-f]{64}  ' MANIFEST | sha256sum --check --quiet --strict) ||
  die "$from fails its MANIFEST checksums: the backup is damaged"

stamp=$(date -u +%Y%m%dT%H%M%SZ)
umask 077

# Refuses when `target` exists with other content than `source`, unless --force.
check_secret() {
  local source=$1 target=$2 name=$3
  if [ -e "$target" ] && ! cmp -s "$source" "$target" && [ "$force" = 0 ]; then
    die "$target holds another $name than the backup's; --force replaces it"
  fi
}
pepper=$(pepper_path)
token=$(token_path)
if [ -n "${KEYCACHE_PEPPER:-}" ] && [ "$KEYCACHE_PEPPER" != "$(cat "$from/pepper")" ]; then
  die "KEYCACHE_PEPPER is set to another pepper than the backup's: no restored key would verify"
fi
[ -n "${KEYCACHE_PEPPER:-}" ] || check_secret "$from/pepper" "$pepper" pepper
[ ! -f "$from/admin-token" ] || [ -n "${ADMIN_TOKEN:-}" ] ||
  check_secret "$from/admin-token" "$token" "admin token"

db=$(sqlite_path)
if [ -n "$db" ]; then
  need sqlite3 flock
  [ -f "$from/keycache.db" ] || die "$from holds no SQLite database (keycache.db) but DATABASE_URL is SQLite"
  mkdir -p "$(dirname "$db")"
  if [ -e "$db.instances" ] && ! flock -n -x "$db.instances" true; then
    die "a keycached process serves $db (it holds $db.instances): stop every instance first"
  fi
  if [ -e "$db" ] && [ "$force" = 0 ]; then
    die "$db exists; --force replaces it (the current file is kept as $db.before-restore-$stamp)"
  fi
  cp "$from/keycache.db" "$db.restoring"
  for f in "$db" "$db-wal" "$db-shm"; do
    [ ! -e "$f" ] || mv -- "$f" "${f}.before-restore-$stamp"
  done
  mv -- "$db.restoring" "$db"
  keys=$(sqlite3 "$db" "SELECT count(*) FROM api_keys;")
  say "restored $db ($keys keys)"
else
  need pg_restore psql
  [ -f "$from/keycache.pgdump" ] || die "$from holds no PostgreSQL dump (keycache.pgdump) but DATABASE_URL is PostgreSQL"
  # Two queries: a statement naming a missing table fails even in a branch that is not taken.
  table=$(psql -X -tA -v ON_ERROR_STOP=1 -d "$DATABASE_URL" \
    -c "SELECT to_regclass('api_keys') IS NOT NULL;") ||
    die "cannot reach the database of DATABASE_URL"
  existing=0
  if [ "$table" = t ]; then
    existing=$(psql -X -tA -v ON_ERROR_STOP=1 -d "$DATABASE_URL" -c "SELECT count(*) FROM api_keys;") ||
      die "cannot count the keys of the database of DATABASE_URL"
  fi
  if [ "$existing" != 0 ] && [ "$force" = 0 ]; then
    die "the database holds $existing keys; --force replaces its content with the backup's"
  fi
  pg_restore --clean --if-exists --no-owner --single-transaction -d "$DATABASE_URL" \
    "$from/keycache.pgdump" || die "pg_restore failed (the transaction was rolled back)"
  say "restored the PostgreSQL database from $from/keycache.pgdump"
fi

# Secrets: written only when the environment does not already set them.
install_secret() {
  local source=$1 target=$2
  if [ -e "$target" ] && ! cmp -s "$source" "$target"; then
    mv -- "$target" "$target.before-restore-$stamp"
  fi
  mkdir -p "$(dirname "$target")"
  cp "$source" "$target"
  chmod 600 "$target"
}
[ -n "${KEYCACHE_PEPPER:-}" ] || install_secret "$from/pepper" "$pepper"
if [ -f "$from/admin-token" ] && [ -z "${ADMIN_TOKEN:-}" ]; then
  install_secret "$from/admin-token" "$token"
fi
say "restored the pepper and admin token; start keycached, then warm its caches (scripts/restore-cache.sh)"
