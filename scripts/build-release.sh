#!/usr/bin/env bash
# build-release.sh: the build steps of deploy/Dockerfile, runnable anywhere: installs the Debian
# 12 packages (scripts/install-deps.sh), configures a CMake preset, builds, and optionally
# installs keycached. CI runs it for its asan build (scripts/test.sh), scripts/run.sh for the
# release build, the Dockerfile's builder stage with --prefix.
set -euo pipefail
cd "$(dirname "$0")/.."

help() {
  cat <<'USAGE'
Usage: build-release.sh [--preset NAME] [--target TARGET] [--prefix DIR] [--no-deps]

  --preset NAME    CMake preset (default release: -O2, no tests)
  --target TARGET  what to build (default keycached; `all` for everything of the preset)
  --prefix DIR     then install the binary as DIR/bin/keycached (mode 0755)
  --no-deps        skip scripts/install-deps.sh (packages already present)
Parallel jobs: $JOBS, default the number of CPUs.

Exit codes: 0 built, 1 the build failed, 2 usage error.
USAGE
}

preset=release target=keycached prefix="" deps=1
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) help; exit 0 ;;
    --preset | --target | --prefix)
      if [ $# -lt 2 ] || [ -z "$2" ]; then
        echo "build-release.sh: $1 needs a value (see --help)" >&2
        exit 2
      fi
      case "$1" in
        --preset) preset=$2 ;;
        --target) target=$2 ;;
        --prefix) prefix=$2 ;;
      esac
      shift 2
      ;;
    --no-deps) deps=0; shift ;;
    *) echo "build-release.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

[ "$deps" = 0 ] || bash scripts/install-deps.sh
cmake --preset "$preset"
cmake --build --preset "$preset" -j "${JOBS:-$(nproc)}" --target "$target" || exit 1
if [ -n "$prefix" ]; then
  install -D -m 0755 "build/$preset/src/app/keycached" "$prefix/bin/keycached"
  echo "build-release.sh: installed $prefix/bin/keycached"
fi
