#!/usr/bin/env bash
# The main job, from a fresh Debian 12 machine: installs what is missing,
# builds Causeway (Release) and runs `causeway demo`: seed 003's causal
# key-value store on three in-process replicas, step by step, ending with the
# system state of every node.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" >/dev/null
exec build/release/causeway demo
