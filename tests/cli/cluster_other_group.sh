#!/usr/bin/env bash
# causeway cluster --data D --group g2 on the directories of a group g1:
# the nodes refuse their directories as they start (each exit 2, the
# command exit 1), and the
# command names each failure as a failure to start, not as a failed stop
# ("exited with status 2 as the nodes stopped (want exit 0)" was said of
# the nodes that failed after the first). Random base ports, retried while one is
# busy (cluster_scenario.sh).
#   tests/cli/cluster_other_group.sh CAUSEWAY
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cw=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# run NAME ARGS...: cluster ARGS on a free base port, its stderr in
# $dir/NAME.err; sets status.
run() {
  local name=$1
  shift
  for attempt in 1 2 3 4 5 6 7 8 9 10; do
    base=$((20000 + (RANDOM << 15 | RANDOM) % 39001))
    timeout 120 "$cw" cluster --nodes 3 --base-port "$base" "$@" >"$dir/$name.out" 2>"$dir/$name.err"
    status=$?
    cluster_port_busy "$dir/$name.err" || return 0
    echo "attempt $attempt: a port at base $base is busy; trying another" >&2
    [ "$name" = made ] && rm -rf "$dir/D"
  done
  echo "no free base port in 10 attempts" >&2
  exit 1
}
run made --scenario --data "$dir/D" --group g1
[ "$status" = 0 ] || { cat "$dir/made.out" "$dir/made.err"; echo "the scenario of group g1 exited $status"; exit 1; }
run other --data "$dir/D" --group g2
cat "$dir/other.err"
[ "$status" = 1 ] || { echo "group g2 on g1's directories: exit $status, want 1"; exit 1; }
# Each node that failed names its reason; the command names each failure
# as one to start. (A node the stop's SIGTERM reached before it opened its
# directory ends cleanly, without either.)
failed=0
for i in 0 1 2; do
  grep -Eq "node $i \(pid [0-9]+\) exited with status 2" "$dir/other.err" || continue
  failed=$((failed + 1))
  grep -q "D/node-$i holds a state of group 'g1', not of group 'g2'" "$dir/other.err" ||
    { echo "node $i did not say why it refused its directory"; exit 1; }
  grep -Eq "node $i \(pid [0-9]+\) exited with status 2 (before it served|while the cluster was starting)" \
    "$dir/other.err" || { echo "node $i's failure to start was named as something else"; exit 1; }
done
[ "$failed" -ge 1 ] || { echo "no node's failure was named"; exit 1; }
