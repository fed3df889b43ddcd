#!/usr/bin/env bash
# Builds the benchmark suite (Release) and runs it: Google Benchmark's JSON
# goes to build/bench/<name>.json and the ratio table to build/bench/<name>.md.
# Each benchmark runs REPS times (default 5) and the table shows medians,
# because single wall-clock runs on a shared machine vary by 20-30%.
#   scripts/bench.sh [FILTER] [MIN_TIME] [REPS]    e.g. scripts/bench.sh 'dense_' 0.1 5
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
filter=${1:-.}
min_time=${2:-0.05}
reps=${3:-5}
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" >/dev/null
mkdir -p build/bench
name=clock
build/release/bench/causeway_bench --benchmark_filter="$filter" --benchmark_min_time="$min_time" \
  --benchmark_repetitions="$reps" --benchmark_report_aggregates_only=true \
  --benchmark_out=build/bench/$name.json --benchmark_out_format=json | tee build/bench/$name.txt
sed -n '/^| benchmark/,$p' build/bench/$name.txt > build/bench/$name.md
echo "wrote build/bench/$name.json and build/bench/$name.md"
