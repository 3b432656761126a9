#!/usr/bin/env bash
# Builds the `fuzz` preset (clang-15, libFuzzer, ASan + UBSan) and runs each fuzz target of
# tests/fuzz/ for a while. Usage:
#   bash scripts/fuzz.sh [--seconds N] [--jobs J] [--merge] [target...]
#     --seconds N  how long each target fuzzes (default 10)
#     --jobs J     targets fuzzing at once, and build parallelism (default: nproc)
#     --merge      afterwards, minimise what this run found into tests/fuzz/corpus/ (-merge=1:
#                  only inputs that reach new coverage are added); without it that corpus is
#                  only read
#     target...    e.g. key_parse http_session (default: every tests/fuzz/*_fuzzer.cc)
# Each target fuzzes a working copy of its checked-in corpus (build/fuzz/corpus/<target>/, kept
# between runs) with its dictionary (tests/fuzz/<target>.dict) if it has one. A crash, leak,
# timeout or out-of-memory fails the run and leaves the reproducer in build/fuzz/crashes/<target>/;
# replay it with build/fuzz/tests/fuzz/<target>_fuzzer <file>. Logs: build/fuzz/logs/.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=10
jobs=$(nproc)
merge=0
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --merge) merge=1; shift ;;
    -h | --help) sed -n '2,16p' "$0"; exit 0 ;;
    -*) echo "fuzz: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
if [ ${#targets[@]} -eq 0 ]; then
  for source in tests/fuzz/*_fuzzer.cc; do
    name=$(basename "$source")
    targets+=("${name%_fuzzer.cc}")
  done
fi
for t in "${targets[@]}"; do
  [ -f "tests/fuzz/${t}_fuzzer.cc" ] || { echo "fuzz: no target '$t' in tests/fuzz/" >&2; exit 2; }
done

out=build/fuzz
cmake --preset fuzz >/dev/null
cmake --build "$out" -j "$jobs" --target "${targets[@]/%/_fuzzer}"

symbolizer=$(command -v llvm-symbolizer-15 || command -v llvm-symbolizer || true)
[ -n "$symbolizer" ] && export ASAN_SYMBOLIZER_PATH="$symbolizer"
# The unit tests' sanitizer settings, whoever calls this script.
export ASAN_OPTIONS="detect_leaks=1:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

# Fuzzes one target; its log holds libFuzzer's final stats and, on failure, the report.
run_one() {
  local t=$1
  local corpus="$out/corpus/$t" crashes="$out/crashes/$t"
  mkdir -p "$corpus" "$crashes"
  # A copy: new inputs land in the working corpus, never in the checked-in one.
  cp -n "tests/fuzz/corpus/$t"/* "$corpus"/ 2>/dev/null || true
  local args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
    -artifact_prefix="$crashes/")
  [ -f "tests/fuzz/$t.dict" ] && args+=(-dict="tests/fuzz/$t.dict")
  "$out/tests/fuzz/${t}_fuzzer" "${args[@]}" "$corpus" >"$out/logs/$t.log" 2>&1
}

mkdir -p "$out/logs"
rm -f "$out"/logs/*.rc
for t in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  echo "fuzz: $t for ${seconds}s"
  (
    rc=0
    run_one "$t" || rc=$?
    echo "$rc" >"$out/logs/$t.rc"
  ) &
done
wait

failed=0
echo
printf '%-24s %14s  %s\n' target executions result
for t in "${targets[@]}"; do
  log="$out/logs/$t.log"
  rc=$(cat "$out/logs/$t.rc" 2>/dev/null || echo 1)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  if [ "$rc" -eq 0 ]; then
    printf '%-24s %14s  %s\n' "$t" "${execs:-?}" ok
  else
    failed=1
    printf '%-24s %14s  %s\n' "$t" "${execs:-?}" "FAILED (exit $rc)"
  fi
done
for t in "${targets[@]}"; do
  [ "$(cat "$out/logs/$t.rc" 2>/dev/null || echo 1)" -eq 0 ] && continue
  echo
  echo "==== $t: end of $out/logs/$t.log"
  tail -n 60 "$out/logs/$t.log"
  grep -h 'Test unit written to' "$out/logs/$t.log" | sed "s|^|fuzz: $t: |" || true
done

if [ "$merge" -eq 1 ]; then
  for t in "${targets[@]}"; do
    before=$(find "tests/fuzz/corpus/$t" -type f | wc -l)
    "$out/tests/fuzz/${t}_fuzzer" -merge=1 -timeout=10 -rss_limit_mb=2048 \
      "tests/fuzz/corpus/$t" "$out/corpus/$t" >"$out/logs/$t.merge.log" 2>&1
    after=$(find "tests/fuzz/corpus/$t" -type f | wc -l)
    echo "fuzz: merged $((after - before)) new input(s) into tests/fuzz/corpus/$t"
  done
fi
exit "$failed"
