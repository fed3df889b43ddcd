#!/usr/bin/env bash
# causeway stress --processes whose program is removed (as a rebuild
# replaces it) while the run goes on: the killed node is restarted from the
# run's own program (/proc/self/exe), not from the path, and the run is
# judged as any other: PASS. It was a violation (exit 1, "node 1 did not
# come back after its restart"), the restart finding no program; and a
# program replaced at its path would have restarted a node of another
# build.
#   tests/cli/procs_exec.sh CAUSEWAY
set -uo pipefail
cw=$1
work=$(mktemp -d)
run_dir=
trap 'rm -rf "$work" ${run_dir:+"$run_dir"}' EXIT
nodes_of() { # how many processes run "$1 node ..."
  local f n=0 cmd
  for f in /proc/[0-9]*/cmdline; do
    IFS= read -r -d '' cmd <"$f" 2>/dev/null && [ "$cmd" = "$1" ] || continue
    tr '\0' ' ' <"$f" 2>/dev/null | grep -q "^$1 node " && n=$((n + 1))
  done
  echo "$n"
}
cp "$cw" "$work/cw"
# Node 1 is killed 2 s into the writes and restarted.
"$work/cw" stress --processes 3 --duration 4 --kill 1:2 --keys 4 --seed 5 >"$work/run.txt" 2>&1 &
bg=$!
for _ in $(seq 600); do [ "$(nodes_of "$work/cw")" -ge 3 ] && break; sleep 0.05; done # up to 30 s
[ "$(nodes_of "$work/cw")" -ge 3 ] || { echo "FAIL: the run's 3 nodes did not start:"; cat "$work/run.txt"; exit 1; }
rm "$work/cw"
removed=$(date +%s.%N)
status=0
wait "$bg" || status=$?
run_dir=$(sed -n 's/.*files kept in \([^)]*\)).*/\1/p' "$work/run.txt")
if [ "$status" = 0 ] && grep -q "node 1 killed at .* and restarted" "$work/run.txt" &&
  grep -q "verdict  *PASS" "$work/run.txt"; then
  # The removal came as the 3 nodes started, before they joined and the 2 s
  # of writes before the kill began (a shell held back past the restart
  # would pass here without testing it).
  kill_line=$(grep -o "node 1 killed at [0-9.]* s" "$work/run.txt")
  echo "procs_exec.sh: PASS ($kill_line; the program removed $(awk -v r="$removed" -v n="$(date +%s.%N)" 'BEGIN { printf "%.1f", n - r }') s before the run ended)"
  exit 0
fi
echo "FAIL: a run whose program was removed, exit $status:"
cat "$work/run.txt"
exit 1
