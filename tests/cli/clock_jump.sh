#!/usr/bin/env bash
# A wall-clock jump on one node under last-writer-wins, for real: node 1
# runs under libfaketime (Debian's faketime), its wall clock (not its
# monotonic clock, as an NTP step would) moved while it runs.
#  1. Forward 30 s (within the 60 s drift bound): node 1's write carries a
#     timestamp 30 s ahead and wins over node 0's concurrent one made later
#     in real time (last-writer-wins is by timestamp), at every node; then
#     node 0, having applied it, writes the same key, and that write wins
#     (its hybrid logical clock followed node 1's: a causally later write is
#     never beaten by a clock).
#  2. Back 10 minutes: node 1's clock is now far behind its own hybrid
#     clock, so it refuses writes with 503 naming the drift, while nodes 0
#     and 2 go on.
#  3. Back to the true time: node 1 writes again.
# All the while the nodes converge: the same data and clock at all three;
# and `causeway check --policy lww` passes the nodes' traces.
# Skips (exit 0, saying so) where libfaketime is not installed.
#   tests/cli/clock_jump.sh CAUSEWAY
set -euo pipefail
cw=$1
ft=$(ls /usr/lib/*/faketime/libfaketimeMT.so.1 2>/dev/null | head -1 || true)
if [ -z "$ft" ]; then
  echo "clock_jump.sh: SKIPPED: libfaketime is not installed (apt-get install faketime)"
  exit 0
fi
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done; rm -rf "$dir"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ep() { echo "ipc://$dir/r$1"; }

echo "+0" >"$dir/offset"
for i in 0 1 2; do
  peers=()
  for j in 0 1 2; do [ "$j" != "$i" ] && peers+=(--peer "$j=$(ep "$j")"); done
  env=()
  # (An AddressSanitizer build wants its runtime first among the libraries;
  # libfaketime preloaded ahead of it is harmless, so the check is off.)
  [ "$i" = 1 ] && env=(LD_PRELOAD="$ft" FAKETIME_TIMESTAMP_FILE="$dir/offset" FAKETIME_NO_CACHE=1
                       FAKETIME_DONT_FAKE_MONOTONIC=1 ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0")
  env "${env[@]}" "$cw" node --id "$i" --nodes 3 --listen "$(ep "$i")" "${peers[@]}" --http 127.0.0.1:0 \
    --policy lww --fresh --trace "$dir/trace$i.jsonl" >"$dir/out$i" 2>"$dir/err$i" &
  pids+=($!)
done
. "$(dirname "$0")/lib.sh"
port() { node_http_port "$dir/out$1" || fail "node $1 did not start: $(cat "$dir/err$1")"; }
P=("$(port 0)" "$(port 1)" "$(port 2)")

write() { # write NODE KEY VALUE: the HTTP status; the body in $dir/w
  curl -s -o "$dir/w" -w '%{http_code}' -X POST "127.0.0.1:${P[$1]}/write" -d "{\"key\": \"$2\", \"value\": $3}"
}
value_at() { curl -s "127.0.0.1:${P[$1]}/read/$2" | grep -o '"value":[^,]*' | cut -d: -f2; }
await_value() { # await_value NODE KEY VALUE
  for _ in $(seq 200); do [ "$(value_at "$1" "$2")" = "$3" ] && return; sleep 0.05; done
  fail "node $1 reads $2 as '$(value_at "$1" "$2")', not $3"
}
converged() { # every node's data and clock the same
  for _ in $(seq 200); do
    for i in 0 1 2; do curl -s "127.0.0.1:${P[$i]}/status" | sed 's/"node":[0-9]*,//; s/"stable":{[^}]*}//' >"$dir/s$i"; done
    cmp -s "$dir/s0" "$dir/s1" && cmp -s "$dir/s0" "$dir/s2" && return
    sleep 0.05
  done
  fail "the nodes did not converge: $(cat "$dir/s0") / $(cat "$dir/s1") / $(cat "$dir/s2")"
}

[ "$(write 0 x 0)" = 200 ] || fail "first write: $(cat "$dir/w")"
for i in 0 1 2; do await_value "$i" x 0; done

# 1. Forward 30 s. Nodes 0 and 1 write x concurrently (their links held
# both ways), node 0 a moment later in real time: the greatest timestamp,
# node 1's, wins everywhere. Then node 0 writes x having seen it: its
# clock followed node 1's, so that write wins.
link() { # link AT FROM ACTION
  curl -s -o /dev/null -w '%{http_code}' -X POST "127.0.0.1:${P[$1]}/admin/link" \
    -d "{\"from\": $2, \"to\": $1, \"action\": \"$3\"}" | grep -q 200 || fail "admin/link $*"
}
echo "+30" >"$dir/offset"
link 0 1 hold
link 1 0 hold
[ "$(write 1 x 1)" = 200 ] || fail "node 1 ahead by 30 s refused a write: $(cat "$dir/w")"
[ "$(write 0 x 2)" = 200 ] || fail "node 0 refused a write: $(cat "$dir/w")"
link 0 1 release
link 1 0 release
for i in 0 1 2; do await_value "$i" x 1; done
[ "$(write 0 x 3)" = 200 ] || fail "node 0 refused a write after node 1's: $(cat "$dir/w")"
for i in 0 1 2; do await_value "$i" x 3; done
converged

# 2. Back 10 minutes.
echo "-600" >"$dir/offset"
code=$(write 1 y 1)
[ "$code" = 503 ] && grep -q 'ahead of the wall clock' "$dir/w" ||
  fail "node 1, its clock 10 minutes back, answered $code: $(cat "$dir/w")"
[ "$(write 0 y 2)" = 200 ] && [ "$(write 2 z 3)" = 200 ] || fail "nodes 0 and 2 stopped taking writes"
for i in 0 1 2; do await_value "$i" y 2; await_value "$i" z 3; done
converged

# 3. Back to the true time.
echo "+0" >"$dir/offset"
[ "$(write 1 y 4)" = 200 ] || fail "node 1 back at the true time refused a write: $(cat "$dir/w")"
for i in 0 1 2; do await_value "$i" y 4; done
converged
for p in "${pids[@]}"; do kill -TERM "$p"; done
for p in "${pids[@]}"; do wait "$p" || fail "a node exited $? on SIGTERM"; done
# The traces under last-writer-wins: causal order, clocks, reads of one
# maximal version, convergence (which version wins is the reads' above).
"$cw" check --policy lww "$dir"/trace?.jsonl >"$dir/check" 2>&1 || { cat "$dir/check" >&2; fail "causeway check"; }
pids=()
echo "clock_jump.sh: PASS"
