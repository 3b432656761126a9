#!/usr/bin/env bash
# backup.sh: backs up keycache's real state — the database (SQLite through its online backup
# API, PostgreSQL with pg_dump) and the pepper and admin token — into a new directory. Redis
# holds only copies of the database and is not part of it.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib/runbook.sh"

help() {
  cat <<'USAGE'
Usage: backup.sh --out DIR [--workdir DIR]

Writes into DIR (created, mode 0700; it must not exist or be empty):
  keycache.db       SQLite: a consistent copy taken with sqlite3's online backup (.backup) while
                    keycached runs, checked with PRAGMA integrity_check
  keycache.pgdump   PostgreSQL (DATABASE_URL=postgresql://...): pg_dump --format=custom
  pepper            the pepper (KEYCACHE_PEPPER, KEYCACHE_PEPPER_FILE or <data dir>/pepper)
  admin-token       the admin token (ADMIN_TOKEN, ADMIN_TOKEN_FILE or <data dir>/admin-token)
  MANIFEST          what was backed up, when, and the SHA-256 of every file

Reads keycached's own variables: DATABASE_URL (default sqlite:./var/keycache.db),
KEYCACHE_DATA_DIR (default ./var), KEYCACHE_PEPPER(_FILE), ADMIN_TOKEN(_FILE); relative paths
are resolved in --workdir (keycached's working directory; default .).

LOSING THE PEPPER INVALIDATES EVERY KEY: keep this backup's pepper as safe as the database and
never in the same place as a copy of it that others can read.
Restore with scripts/restore.sh. Redis needs no backup: it holds only copies.

Exit codes: 0 done, 1 failed (nothing usable was written), 2 usage error.
USAGE
}

out=""
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) help; exit "$EXIT_OK" ;;
    --out) need_value "$@"; out=$2; shift 2 ;;
    --workdir) need_value "$@"; WORKDIR=$2; shift 2 ;;
    *) usage_error "unknown argument: $1" ;;
  esac
done
[ -n "$out" ] || usage_error "--out DIR is required"
[ -d "$WORKDIR" ] || usage_error "--workdir $WORKDIR is not a directory"
if [ -e "$out" ] && [ -n "$(ls -A "$out" 2>/dev/null)" ]; then
  die "$out exists and is not empty: choose a new directory"
fi
umask 077
mkdir -p "$out"
cleanup() {
  local status=$?
  if [ "$status" -ne 0 ]; then
    warn "backup failed; removing the incomplete $out"
    rm -rf -- "$out"
  fi
}
trap cleanup EXIT

db=$(sqlite_path)
if [ -n "$db" ]; then
  need sqlite3
  [ -f "$db" ] || die "no SQLite database at $db (DATABASE_URL, --workdir?)"
  # The online backup API: a consistent snapshot while keycached keeps writing.
  sqlite3 "$db" ".timeout 10000" ".backup '$out/keycache.db'" || die "sqlite3 .backup of $db failed"
  check=$(sqlite3 "$out/keycache.db" "PRAGMA integrity_check;")
  [ "$check" = ok ] || die "the copy of $db fails its integrity check: $check"
  keys=$(sqlite3 "$out/keycache.db" "SELECT count(*) FROM api_keys;")
  source_desc="sqlite $db ($keys keys)"
else
  need pg_dump
  pg_dump --format=custom --no-owner --file="$out/keycache.pgdump" "$DATABASE_URL" ||
    die "pg_dump failed"
  source_desc="postgresql (pg_dump --format=custom)"
fi

if [ -n "${KEYCACHE_PEPPER:-}" ]; then
  printf '%s' "$KEYCACHE_PEPPER" >"$out/pepper"
else
  pepper=$(pepper_path)
  [ -r "$pepper" ] || die "cannot read the pepper at $pepper (KEYCACHE_PEPPER_FILE?): without it the backup is useless"
  cp "$pepper" "$out/pepper"
fi
if [ -n "${ADMIN_TOKEN:-}" ]; then
  printf '%s' "$ADMIN_TOKEN" >"$out/admin-token"
elif [ -r "$(token_path)" ]; then
  cp "$(token_path)" "$out/admin-token"
else
  warn "no admin token found (ADMIN_TOKEN, ADMIN_TOKEN_FILE, $(token_path)): not backed up"
fi

{
  say "keycache backup"
  say "created: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  say "database: $source_desc"
  (cd "$out" && sha256sum -- keycache.* pepper admin-token 2>/dev/null)
} >"$out/MANIFEST"
chmod 600 "$out"/*

say "backup written to $out: $source_desc, pepper$([ -f "$out/admin-token" ] && printf ', admin token')"
say "!!! $out/pepper is the HMAC key of every stored key hash: LOSING THE PEPPER INVALIDATES"
say "!!! EVERY KEY, and anyone holding it with the database can test guesses offline. Store this"
say "!!! backup encrypted, apart from other copies of the database. Redis holds only copies."
