#!/usr/bin/env bash
# causeway cluster --scenario stopped (SIGTERM) while its nodes start: no
# scenario ran, so the command must not exit 0 as if it held. It exits 1
# and says the scenario was interrupted, as when stopped partway through.
# A random base port, retried while one is busy (cluster_scenario.sh).
#   tests/cli/cluster_stopped.sh CAUSEWAY
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cw=$1
out=$(mktemp)
err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
for attempt in 1 2 3 4 5 6 7 8 9 10; do
  base=$((20000 + (RANDOM << 15 | RANDOM) % 39001))
  : >"$out"
  "$cw" cluster --nodes 3 --scenario --base-port "$base" >"$out" 2>"$err" &
  pid=$!
  # The first node's start-up line: the nodes are starting, none serves yet.
  for _ in $(seq 1 3000); do
    grep -q '^node 0: starting' "$out" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.01
  done
  kill -TERM "$pid" 2>/dev/null
  wait "$pid"
  status=$?
  cat "$out"
  cat "$err" >&2
  if [ "$status" = 1 ] && cluster_port_busy "$err"; then
    echo "attempt $attempt: a port at base $base is busy; trying another" >&2
    continue
  fi
  if [ "$status" != 1 ] || ! grep -q 'the scenario was interrupted' "$err"; then
    echo "stopped while its nodes started: exit $status, want 1 and 'the scenario was interrupted'" >&2
    exit 1
  fi
  if grep -q 'Causal consistency verified' "$out"; then
    echo "the scenario ran to its end before the stop; the test could not stop it while starting" >&2
    exit 77
  fi
  exit 0
done
echo "no free base port in 10 attempts" >&2
exit 1
