#!/usr/bin/env bash
# Command 2 of the README (and what .ci/run runs): installs what is missing, checks formatting,
# builds every target in the `asan` preset (AddressSanitizer + UndefinedBehaviorSanitizer, with
# KC_DCHECKs live) and runs every test, then builds the concurrent components' tests with
# ThreadSanitizer (`tsan` preset) and runs them, and finally builds the fuzz targets (`fuzz`
# preset, clang) and fuzzes each briefly.
# The tests start the servers they need themselves, on ephemeral ports (and, for partition tests,
# inside network namespaces they create and remove).
set -euo pipefail
cd "$(dirname "$0")/.."

started=$(date +%s)
stage() { echo "== test.sh: $1 ($(( $(date +%s) - started )) s elapsed)"; }

bash scripts/install-deps.sh
stage "formatting"
bash scripts/check-format.sh

stage "asan build"
# The same script as deploy/Dockerfile's build stage (which uses the release preset).
bash scripts/build-release.sh --no-deps --preset asan --target all
stage "asan tests"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
ctest --preset asan

stage "tsan build"
cmake --preset tsan
cmake --build --preset tsan -j "$(nproc)"
stage "tsan tests"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:history_size=4"
ctest --preset tsan

stage "fuzz"
bash scripts/fuzz.sh --seconds 10
stage "done"
