#!/bin/sh
# stress --processes with more siblings at the end than 64 (tests/CMakeLists.txt
# says why): the judge takes every version a node holds.
#   tests/cli/many_siblings.sh CAUSEWAY
set -u
. "$(dirname "$0")/lib.sh"
need_open_files 2100
for seed in 1 2 3 4 5 6; do
  stress_seed "$1" siblings.txt 1 --processes 2 --duration 0.6 --keys 1 --rmw 1 --clients 256 \
    --stop 0:0.3:0.9 --seed $seed || continue
  left=$(sed -n 's/.*at most \([0-9]*\) truly concurrent writes\{0,1\} left.*/\1/p' siblings.txt)
  test -n "$left" || { cat siblings.txt; echo "no count of siblings left in the report"; exit 1; }
  echo "seed $seed: $left siblings left"
  test "$left" -gt 64 && grep -q 'verdict  *PASS' siblings.txt && exit 0
done
echo "no run left more than 64 siblings"; exit 77
