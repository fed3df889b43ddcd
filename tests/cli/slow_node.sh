#!/usr/bin/env bash
# stress --processes with a node that does not answer for a while, paused
# from outside the run (as a loaded machine can keep one). For 2.5 s: its
# clients' calls time out (1 s each, at most 3 in a row), and the run takes
# them as writes that may have been made (the traces settle them); the
# verdict holds and the report counts them. A timed-out call at a node the
# run had not stopped failed the run (1 of about 52 loaded runs of
# cli_stress_processes_durable_kill under TSan). For 6 s: a client gets no
# answer to 4 calls in a row, and the run fails, saying so.
#   tests/cli/slow_node.sh CAUSEWAY
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cw=$1
out=$(mktemp)
json=$(mktemp)
trap 'rm -f "$out" "$json"' EXIT
# pause DURATION PAUSE: a run of DURATION s whose node 1 is paused for
# PAUSE s from 0.5 s after it said where it runs; sets status. The pause
# must fall within the writes, so it must begin by 1.5 s after that line
# was written (the file's time, read while the line is the last of the
# two it holds: the run writes nothing more until its report). A shell a
# loaded machine kept from it longer (once in an ASan suite run beside
# other load: node 1 was looked for only once the run was over, and was
# "not found") pauses nothing: that run is stopped and another made, up to
# 3 in all.
ms() { local t=${1/./}; echo $((10#${t:0:13})); } # ms: SECONDS.FRACTION, at least 3 digits of it
pause() {
  local attempt written late
  for attempt in 1 2 3; do
    "$cw" stress --processes 2 --duration "$1" --keys 50 --seed 7 --json "$json" >"$out" 2>&1 &
    pid=$!
    dir=
    for _ in $(seq 600); do
      dir=$(sed -n 's/^  processes  *\(\/[^ ]*\) .*/\1/p' "$out")
      [ -n "$dir" ] && break
      sleep 0.05
    done
    [ -n "$dir" ] || { stop_pids $pid; cat "$out"; echo "the run did not say where it runs"; exit 1; }
    written=$(ms "$(stat -c %.3Y "$out")")
    [ "$(wc -l <"$out")" = 2 ] || written=0 # the report too: the run is over
    node=$(pgrep -f -- "causeway node --id 1 .*$dir/" | head -n 1)
    late=$(($(ms "$EPOCHREALTIME") - written))
    [ $late -lt 500 ] && sleep "0.$(printf %03d $((500 - late)))"
    late=$(($(ms "$EPOCHREALTIME") - written))
    if [ $late -le 1500 ]; then
      [ -n "$node" ] || { stop_pids $pid; cat "$out"; echo "node 1 of the run not found"; exit 1; }
      kill -STOP "$node"
      sleep "$2"
      kill -CONT "$node"
      wait $pid
      status=$?
      cat "$out"
      return
    fi
    echo "node 1 not paused by 1.5 s after the run said where it runs (this shell came $late ms after: a loaded" \
      "machine); another run"
    stop_pids $pid
    wait $pid 2>/dev/null
  done
  cat "$out"
  echo "node 1 not paused in time in 3 runs"
  exit 1
}
pause 5 2.5
[ "$status" = 0 ] || { echo "paused for 2.5 s: exit $status, want 0"; exit 1; }
slow=$(sed -n 's/.*timed out at a stopped or killed node and \([1-9][0-9]*\) at a slow one.*/\1/p' "$out")
[ -n "$slow" ] || { echo "the paused node's timed-out calls were not counted"; exit 1; }
grep -q "\"writes_timed_out_at_slow\": $slow," "$json" ||
  { cat "$json"; echo "--json does not count the $slow timed-out calls"; exit 1; }
pause 8 6
[ "$status" = 1 ] || { echo "paused for 6 s: exit $status, want 1"; exit 1; }
grep -q "at node 1: a wait ran out of time (the node answered none of this client's last 4 calls)" "$out" ||
  { echo "the stuck node was not named"; exit 1; }
dir=$(sed -n 's/.*kept in \([^ ;)]*\).*/\1/p' "$out" | head -n 1)
case $dir in /tmp/causeway-stress-*) rm -rf "$dir" ;; esac
