#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for a while.
#   scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 20)
# Each input must finish within 10 s (-timeout): a hang is a failure.
# New interesting inputs go to a scratch corpus under build/; the committed
# corpus in tests/fuzz/corpus/<target>/ seeds each run. A crash leaves its input
# in build/fuzz/; add it to tests/fuzz/corpus/<target>/ with the fix, so every
# build replays it from then on.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
# The whole tree, warnings as errors: the one build clang makes, so that its
# warnings (-Wcast-align, -Wformat-nonliteral) fail a run as gcc's do.
cmake --preset fuzz -DCAUSEWAY_WERROR=ON >/dev/null
cmake --build --preset fuzz >/dev/null
for t in text header binary msg replica recovery wire trace proto; do
  scratch=build/fuzz/scratch_$t
  mkdir -p "$scratch"
  echo "fuzz_$t: ${seconds}s"
  build/fuzz/tests/fuzz/fuzz_$t -max_total_time="$seconds" -max_len=4096 -timeout=10 -print_final_stats=1 \
    -artifact_prefix=build/fuzz/crash_${t}_ "$scratch" tests/fuzz/corpus/$t 2>&1 \
    | grep -E '^(stat::number_of_executed_units|stat::new_units_added|==[0-9]+==|SUMMARY|artifact_prefix)' || true
  if ls build/fuzz/crash_${t}_* >/dev/null 2>&1; then
    echo "fuzz_$t: crash inputs in build/fuzz/ (crash_${t}_*)" >&2
    exit 1
  fi
done
echo "fuzz: no crashes"
