#!/usr/bin/env bash
# Command 2 of the README (and what .ci/run runs): installs what is missing, builds every target
# in the `asan` preset (AddressSanitizer + UndefinedBehaviorSanitizer) and runs every test, then
# builds the fuzz targets (`fuzz` preset, clang) and fuzzes each for 10 seconds.
# The tests start the servers they need themselves, on ephemeral ports.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake --preset asan
cmake --build --preset asan -j "$(nproc)"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
ctest --preset asan
bash scripts/fuzz.sh --seconds 10
