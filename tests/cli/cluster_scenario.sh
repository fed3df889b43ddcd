#!/usr/bin/env bash
# causeway cluster --scenario on a free range of ports: a random base port P
# in 20000..59000, retried while the command reports one of its 2*N ports
# (P+i, P+100+i) busy, or a node could not bind one (taken between the
# command's check and the node's start), so that parallel tests and a busy
# machine do not collide with it.
# With CW_EVERY_NODE_SAYS set, each node's start-up line must match that
# extended regular expression too (what the options gave every node).
#   tests/cli/cluster_scenario.sh CAUSEWAY [NODES [CLUSTER-OPTIONS...]]
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cw=$1
nodes=${2:-3}
shift $(($# < 2 ? $# : 2))
err=$(mktemp)
out=$(mktemp)
trap 'rm -f "$err" "$out"' EXIT
for attempt in 1 2 3 4 5 6 7 8 9 10; do
  base=$((20000 + (RANDOM << 15 | RANDOM) % 39001))
  "$cw" cluster --nodes "$nodes" --scenario --base-port "$base" "$@" 2>"$err" >"$out"
  status=$?
  cat "$out"
  cat "$err" >&2
  if [ "$status" = 1 ] && cluster_port_busy "$err"; then
    echo "attempt $attempt: a port at base $base is busy; trying another" >&2
    continue
  fi
  if [ "$status" = 0 ] && [ -n "${CW_EVERY_NODE_SAYS:-}" ]; then
    said=$(grep -E "^causeway node [0-9]+ of $nodes: " "$out" | grep -Ec "$CW_EVERY_NODE_SAYS")
    if [ "$said" != "$nodes" ]; then
      echo "$said of $nodes nodes' start-up lines match '$CW_EVERY_NODE_SAYS'" >&2
      exit 1
    fi
  fi
  exit "$status"
done
echo "no free base port in 10 attempts" >&2
exit 1
