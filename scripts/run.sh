#!/usr/bin/env bash
# The main job, from a fresh Debian 12 machine: installs what is missing,
# builds Causeway (Release) and runs the causeway command's clock tools on the
# Clockworks wire-format examples.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" >/dev/null
cw=build/release/causeway

show() { echo "\$ causeway $*"; "$cw" "$@"; echo; }
"$cw" version
echo
show clock compare "1:2,2:1" "1:1,2:2"
show clock compare "1:1,2:1" "1:2,2:1"
show clock merge "1:2,2:1" "1:1,2:2" "5:1"
show clock encode "1:2,2:3,5:1"
show clock decode "00000003 0002 0000000000000004 0001 0000000000000007 0002 0000000000000005"
show clock header "1:3,5:2,10:1;aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa;bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
