#!/usr/bin/env bash
# Checks that every C++ source of the tree is formatted by the checked-in .clang-format (Debian 12's
# clang-format). `--fix` rewrites the files instead. Exit status 1 lists the files that differ.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v clang-format >/dev/null; then
  echo "check-format: clang-format is not installed (scripts/install-deps.sh installs it)" >&2
  exit 2
fi
mapfile -t files < <(git ls-files -- '*.cc' '*.h' 2>/dev/null || find src tests bench -name '*.cc' -o -name '*.h')
if [ "${1:-}" = "--fix" ]; then
  clang-format -i "${files[@]}"
  exit 0
fi
# One clang-format per file, as many at once as there are cores; each prints the file's name if
# it differs. Once more for a file that failed, keeping what it says: a file that differs says so
# again; a run that failed for another reason (a busy machine once made clang-format fail on 42
# well-formatted files) passes or shows why.
check_one() {
  clang-format --dry-run --Werror "$1" >/dev/null 2>&1 && return 0
  local out
  if ! out=$(clang-format --dry-run --Werror "$1" 2>&1); then
    case "$out" in
      *"code should be clang-formatted"*) ;;
      *) echo "check-format: clang-format failed on $1: ${out:0:300}" >&2 ;;
    esac
    printf '%s\n' "$1"
  fi
}
export -f check_one
# shellcheck disable=SC2016  # "$@" is the inner bash's
mapfile -t bad < <(printf '%s\0' "${files[@]}" |
  xargs -0 -n 8 -P "$(nproc)" bash -c 'for f in "$@"; do check_one "$f"; done' check-format | sort)
if [ ${#bad[@]} -gt 0 ]; then
  echo "check-format: ${#bad[@]} file(s) differ from .clang-format (run scripts/check-format.sh --fix):" >&2
  printf '  %s\n' "${bad[@]}" >&2
  exit 1
fi
echo "check-format: ${#files[@]} files formatted"
