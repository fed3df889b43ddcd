#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine:
#   installs what is missing, then builds and runs
#   1. the layer check: an upward #include must not compile
#      (scripts/check-layers.sh),
#   2. the suite under AddressSanitizer + UndefinedBehaviorSanitizer,
#   3. the suite under ThreadSanitizer, and the engine and transport tests
#      under ThreadSanitizer turned on by plain compiler flags, as a user
#      would (no CAUSEWAY_SANITIZE),
#   4. each libFuzzer target briefly (CAUSEWAY_FUZZ_SECONDS, default 10),
#   5. the benchmark suite's build, and `causeway bench` end to end on a few
#      benchmarks (JSON, tables and plots), then the installed package,
#   6. a build with the tests turned off, as a packager would configure it,
#   7. the suite in a Debug build (asserts on, warnings are errors).
# Tests labelled "long" are skipped unless CAUSEWAY_LONG=1.
set -euo pipefail
cd "$(dirname "$0")/.."

step="installing dependencies"
passed=()
# One verdict line at the end, whatever happens.
trap 'status=$?; if [ $status -eq 0 ]; then echo "test.sh: PASS (${passed[*]})"; else
      echo "test.sh: FAIL at: $step (passed before it: ${passed[*]:-none})"; fi' EXIT
begin() { step=$1; echo "== $1"; }
done_step() { passed+=("$step"); }
scripts/install-deps.sh

exclude=(-LE long)
[ "${CAUSEWAY_LONG:-0}" = 1 ] && exclude=()
jobs=$(nproc)

run_preset() {
  local preset=$1
  begin "$preset"
  cmake --preset "$preset" -DCAUSEWAY_WERROR=ON >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
  ctest --preset "$preset" -j "$jobs" "${exclude[@]}"
  done_step
}

begin "layers (an upward #include must not compile)"
scripts/check-layers.sh
done_step
run_preset asan
run_preset tsan
begin "plain -fsanitize=thread (no CAUSEWAY_SANITIZE): engine and transport"
cmake -S . -B build/plain-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCAUSEWAY_WERROR=ON \
  -DCMAKE_C_FLAGS="-fsanitize=thread -fno-omit-frame-pointer" -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread \
  -DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=thread >/dev/null
cmake --build build/plain-tsan -j "$jobs"
(cd build/plain-tsan && ctest -R 'engine|transport' -j "$jobs" --output-on-failure "${exclude[@]}")
done_step
begin fuzz
scripts/fuzz.sh "${CAUSEWAY_FUZZ_SECONDS:-10}"
done_step
begin "bench (build and smoke run) and the installed package"
cmake --preset release -DCAUSEWAY_WERROR=ON >/dev/null
cmake --build --preset release -j "$jobs"
rm -rf build/bench-smoke
build/release/causeway bench --filter 'dense_merge/64$|memcpy:dense_merge/64$|buffer_drain/100/|queue_handoff' \
  --min-time 0.01 --repetitions 1 --out build/bench-smoke >/dev/null
for png in clocks buffer queue; do test -s "build/bench-smoke/$png.png"; done
# --list with a filter that matches nothing is the user's mistake too (exit 2).
status=0
build/release/causeway bench --list --filter 'no_such_benchmark' >/dev/null 2>&1 || status=$?
test "$status" = 2
tests/install/check.sh build/release .   # the installed package, causeway-bench included
done_step
begin "build without tests (what a packager configures)"
cmake -S . -B build/no-tests -G Ninja -DCMAKE_BUILD_TYPE=Release -DCAUSEWAY_BUILD_TESTS=OFF \
  -DCAUSEWAY_WERROR=ON >/dev/null
cmake --build build/no-tests -j "$jobs" >/dev/null
done_step
run_preset debug
