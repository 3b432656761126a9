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
bad=()
for f in "${files[@]}"; do
  if clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then continue; fi
  # Once more, keeping what it says: a file that differs says so again; a run that failed for
  # another reason (a busy machine once made clang-format fail on 42 well-formatted files)
  # passes or shows why.
  if ! out=$(clang-format --dry-run --Werror "$f" 2>&1); then
    bad+=("$f")
    case "$out" in
      *"code should be clang-formatted"*) ;;
      *) echo "check-format: clang-format failed on $f: ${out:0:300}" >&2 ;;
    esac
  fi
done
if [ ${#bad[@]} -gt 0 ]; then
  echo "check-format: ${#bad[@]} file(s) differ from .clang-format (run scripts/check-format.sh --fix):" >&2
  printf '  %s\n' "${bad[@]}" >&2
  exit 1
fi
echo "check-format: ${#files[@]} files formatted"
