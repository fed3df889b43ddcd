#!/bin/sh
# stress --processes with read-modify-writes that read nothing and plain
# writes of the same keys, timed out together at a stopped node
# (tests/CMakeLists.txt says why): the judge pairs a timed-out write with a
# trace write of its own kind, a context write that read nothing with one
# traced with an empty context, never with a plain write.
#   tests/cli/stop_empty_reads.sh CAUSEWAY
set -u
. "$(dirname "$0")/lib.sh"
need_open_files 1100
made=0
for seed in 1 2 3 4 5 6; do
  stress_seed "$1" empty_reads.txt 0 --processes 2 --duration 0.5 --keys 300 --rmw 0.5 --clients 128 \
    --stop 1:0.05:1.6 --seed $seed || continue
  n=$(sed -n 's/.*timed out at a stopped or killed node and [0-9]* at a slow one: \([0-9]*\) of those made.*/\1/p' empty_reads.txt)
  echo "seed $seed: ${n:-no} timed-out writes made"
  test -n "$n" && made=$((made + n))
done
test $made -gt 0 || { echo "no timed-out write was made in any run"; exit 77; }
