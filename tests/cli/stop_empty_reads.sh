#!/bin/sh
# stress --processes with read-modify-writes that read nothing and plain
# writes of the same keys, timed out together at a stopped node
# (tests/CMakeLists.txt says why): the judge pairs a timed-out write with a
# trace write of its own kind, a context write that read nothing with one
# traced with an empty context, never with a plain write.
#   tests/cli/stop_empty_reads.sh CAUSEWAY
set -u
hard=$(ulimit -Hn)
if test "$hard" != unlimited && test "$hard" -lt 1100; then echo "ulimit -Hn is $hard, under 1,100"; exit 77; fi
made=0
for seed in 1 2 3 4 5 6; do
  rm -f empty_reads.txt
  "$1" stress --processes 2 --duration 0.5 --keys 300 --rmw 0.5 --clients 128 --stop 1:0.05:1.6 --seed $seed \
    >empty_reads.txt 2>&1
  status=$?
  dir=$(sed -n 's/.*kept in \([^ ;)]*\).*/\1/p' empty_reads.txt | head -n 1)
  if test $status != 0; then
    if grep -q 'FAIL: the run stopped before its check' empty_reads.txt &&
      grep -q 'at node 0: a wait ran out of time' empty_reads.txt; then
      test -n "$dir" && rm -rf "$dir"
      echo "seed $seed: a client's call at node 0 timed out (load); the next seed"; continue
    fi
    cat empty_reads.txt; exit 1 # the run's traces stay where the report says
  fi
  n=$(sed -n 's/.*timed out at a stopped or killed node: \([0-9]*\) of those made.*/\1/p' empty_reads.txt)
  echo "seed $seed: ${n:-no} timed-out writes made"
  test -n "$n" && made=$((made + n))
done
test $made -gt 0 || { echo "no timed-out write was made in any run"; exit 77; }
