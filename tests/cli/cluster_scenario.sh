#!/usr/bin/env bash
# causeway cluster --scenario on a free range of ports: a random base port P
# in 20000..59000, retried while the command reports one of its 2*N ports
# (P+i, P+100+i) busy, or a node could not bind one (taken between the
# command's check and the node's start), so that parallel tests and a busy
# machine do not collide with it.
#   tests/cli/cluster_scenario.sh CAUSEWAY [NODES [CLUSTER-OPTIONS...]]
set -uo pipefail
cw=$1
nodes=${2:-3}
shift $(($# < 2 ? $# : 2))
err=$(mktemp)
trap 'rm -f "$err"' EXIT
for attempt in 1 2 3 4 5 6 7 8 9 10; do
  base=$((20000 + (RANDOM << 15 | RANDOM) % 39001))
  "$cw" cluster --nodes "$nodes" --scenario --base-port "$base" "$@" 2>"$err"
  status=$?
  cat "$err" >&2
  if [ "$status" = 1 ] && grep -Eq 'causeway cluster: port [0-9]+ \(.*\) is busy|causeway node: .*Address already in use' "$err"; then
    echo "attempt $attempt: a port at base $base is busy; trying another" >&2
    continue
  fi
  exit "$status"
done
echo "no free base port in 10 attempts" >&2
exit 1
