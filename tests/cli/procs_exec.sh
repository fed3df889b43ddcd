#!/usr/bin/env bash
# causeway stress --processes when a node process cannot be run: this
# program removed (or replaced by a rebuild) while the run goes on, so the
# restart of a killed node finds no program. That is this machine's, not
# the nodes': exit 3, verdict NONE, naming the program and the reason (the
# child's exit 127 was taken for a node that started and exited: exit 1,
# "node 1 exited with status 127 before it accepted writes").
#   tests/cli/procs_exec.sh CAUSEWAY
set -uo pipefail
cw=$1
work=$(mktemp -d)
run_dir=
trap 'rm -rf "$work" ${run_dir:+"$run_dir"}' EXIT
. "$(dirname "$0")/lib.sh"
nodes_of() { # how many processes run "$1 node ..."
  local f n=0 cmd
  for f in /proc/[0-9]*/cmdline; do
    IFS= read -r -d '' cmd <"$f" 2>/dev/null && [ "$cmd" = "$1" ] || continue
    tr '\0' ' ' <"$f" 2>/dev/null | grep -q "^$1 node " && n=$((n + 1))
  done
  echo "$n"
}
for attempt in 1 2 3; do
  cp "$cw" "$work/cw"
  # Node 1 is killed 2 s into the writes and restarted from the program's path.
  (no_verdict "$work/cw" "$work/run" --processes 3 --duration 4 --kill 1:2 --keys 4 --seed 5) >"$work/all.txt" 2>&1 &
  bg=$!
  for _ in $(seq 600); do [ "$(nodes_of "$work/cw")" -ge 3 ] && break; sleep 0.05; done # up to 30 s
  [ "$(nodes_of "$work/cw")" -ge 3 ] || { echo "FAIL: the run's 3 nodes did not start:"; cat "$work/all.txt"; exit 1; }
  rm "$work/cw"
  status=0
  wait "$bg" || status=$?
  run_dir=$(sed -n 's/.*files kept in \([^)]*\)).*/\1/p' "$work/run.txt")
  if [ "$status" = 0 ]; then
    grep -q "stopped  *the run failed: starting node 1: cannot run $work/cw: No such file or directory" \
      "$work/run.txt" && grep -q '"stopped": "the run failed: starting node 1: cannot run' "$work/run.json" ||
      { echo "FAIL: the reason is not named:"; cat "$work/all.txt"; exit 1; }
    # The keeper removes every node; the killed node's restart left none.
    [ "$(nodes_of "$work/cw")" = 0 ] || { echo "FAIL: node processes left behind"; exit 1; }
    echo "procs_exec.sh: PASS"
    exit 0
  fi
  # The program was still there when node 1 was restarted: this shell came
  # late (a loaded machine), not the command's fault. Another run.
  if grep -q "node 1 killed at .* and restarted" "$work/run.txt" && grep -q "verdict  *PASS" "$work/run.txt"; then
    echo "procs_exec.sh: run $attempt: node 1 was restarted before the program was removed; another run"
    rm -rf ${run_dir:+"$run_dir"}
    run_dir=
    continue
  fi
  echo "FAIL: a node process that could not be run:"
  cat "$work/all.txt"
  exit 1
done
echo "FAIL: three runs restarted node 1 before this shell removed the program"
exit 1
