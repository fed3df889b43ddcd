#!/usr/bin/env bash
# The main job, from a fresh Debian 12 machine: installs what is missing,
# builds Causeway (Release) and runs `causeway demo`: a causal key-value store
# on three in-process replicas, step by step, ending with the system state of
# every node. The build is quiet when it succeeds; when it fails, its output
# is shown.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
log=build/run-build.log
mkdir -p build
# The same configuration scripts/test.sh builds, so running both builds once.
if ! { cmake --preset release -DCAUSEWAY_WERROR=ON && cmake --build --preset release -j "$(nproc)"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "run.sh: the build failed (its output is above, and in $log)" >&2
  exit 1
fi
exec build/release/causeway demo
