#!/usr/bin/env bash
# stress --processes with a node that does not answer for 2.5 s, paused
# from outside the run (as a loaded machine can keep one): its clients'
# calls time out, and the run takes them as writes that may have been made
# (the traces settle them) while the node answers again within 10 s; the
# verdict holds and the report counts them. A timed-out call at a node
# the run had not stopped failed the run (1 of about 52 loaded runs of
# cli_stress_processes_durable_kill under TSan).
#   tests/cli/slow_node.sh CAUSEWAY
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cw=$1
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$cw" stress --processes 2 --duration 5 --keys 50 --seed 7 >"$out" 2>&1 &
pid=$!
dir=
for _ in $(seq 600); do
  dir=$(sed -n 's/^  processes  *\(\/[^ ]*\) .*/\1/p' "$out")
  [ -n "$dir" ] && break
  sleep 0.05
done
node=$(pgrep -f -- "causeway node --id 1 .*$dir/" | head -n 1)
[ -n "$dir" ] && [ -n "$node" ] || { stop_pids $pid; cat "$out"; echo "node 1 of the run not found"; exit 1; }
sleep 0.5
kill -STOP "$node"
sleep 2.5
kill -CONT "$node"
wait $pid
status=$?
cat "$out"
[ "$status" = 0 ] || { echo "exit $status, want 0"; exit 1; }
grep -Eq 'timed out at a stopped or killed node and [1-9][0-9]* at a slow one' "$out" ||
  { echo "the paused node's timed-out calls were not counted"; exit 1; }
