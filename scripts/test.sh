#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine:
#   installs what is missing, then builds and runs
#   1. the suite in a Debug build (asserts on, warnings are errors),
#   2. the suite under AddressSanitizer + UndefinedBehaviorSanitizer,
#   3. the suite under ThreadSanitizer,
#   4. each libFuzzer target briefly (CAUSEWAY_FUZZ_SECONDS, default 10),
#   5. the benchmark suite's build and a one-benchmark smoke run.
# Tests labelled "long" are skipped unless CAUSEWAY_LONG=1.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

exclude=(-LE long)
[ "${CAUSEWAY_LONG:-0}" = 1 ] && exclude=()
jobs=$(nproc)

run_preset() {
  local preset=$1
  echo "== $preset"
  cmake --preset "$preset" -DCAUSEWAY_WERROR=ON >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
  ctest --preset "$preset" -j "$jobs" "${exclude[@]}"
}

run_preset asan
run_preset tsan
echo "== fuzz"
scripts/fuzz.sh "${CAUSEWAY_FUZZ_SECONDS:-10}"
echo "== bench (build and smoke run)"
cmake --preset release -DCAUSEWAY_WERROR=ON >/dev/null
cmake --build --preset release -j "$jobs"
build/release/bench/causeway_bench --benchmark_filter='dense_merge/64$' --benchmark_min_time=0.01 >/dev/null
run_preset debug
