#!/usr/bin/env bash
# Durable nodes (--data) as a user meets them, with real SIGKILLs: three
# nodes keep their state in directories of their own; clients write to
# every node over HTTP while a node drawn at random is killed with SIGKILL
# and started again on its directory, four times (node 0 at least once).
# At the end every write that was answered 200 is at every node with its
# value, and no two answered writes of one node share a sequence number (a
# restart never reuses one); and `causeway check` passes the nodes' traces.
#   tests/cli/durable.sh CAUSEWAY
set -euo pipefail
cw=$1
dir=$(mktemp -d)
pids=(x x x)
writers=()
cleanup() {
  for p in "${writers[@]}" "${pids[@]}"; do [ "$p" != x ] && kill -KILL "$p" 2>/dev/null || true; done
  [ -n "${KEEP:-}" ] && echo "kept $dir" >&2 || rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ep() { echo "ipc://$dir/r$1"; }

start() { # start I [--fresh]: node I on its directory; its HTTP port in $dir/port$I
  local i=$1 peers=() j
  shift
  for j in 0 1 2; do [ "$j" != "$i" ] && peers+=(--peer "$j=$(ep "$j")"); done
  rm -f "$dir/port$i" "$dir/out$i" # the old process's line must not be read for the new one's
  "$cw" node --id "$i" --nodes 3 --listen "$(ep "$i")" "${peers[@]}" --http 127.0.0.1:0 \
    --data "$dir/data$i" --trace "$dir/trace$i.jsonl" "$@" >"$dir/out$i" 2>>"$dir/err$i" &
  pids[$i]=$!
  for _ in $(seq 600); do
    p=$(grep -o 'http 127.0.0.1:[0-9]*' "$dir/out$i" | cut -d: -f2 || true)
    [ -n "$p" ] && { echo "$p" >"$dir/port$i.tmp"; mv "$dir/port$i.tmp" "$dir/port$i"; return; }
    sleep 0.05
  done
  fail "node $i did not start: $(cat "$dir/err$i")"
}

writer() { # writer I: writes w<I>-<n> to node I until $dir/stop; logs "key value seq" of each 200
  local i=$1 n=0 code port
  while [ ! -e "$dir/stop" ]; do
    n=$((n + 1))
    port=$(cat "$dir/port$i" 2>/dev/null || true)
    [ -z "$port" ] && { sleep 0.02; continue; }
    code=$(curl -s -m 2 -o "$dir/ans$i" -w '%{http_code}' -X POST "127.0.0.1:$port/write" \
      -d "{\"key\": \"w$i-$n\", \"value\": $n}" || true)
    if [ "$code" = 200 ]; then
      seq=$(grep -o "\"$i\":[0-9]*" "$dir/ans$i" | head -1 | cut -d: -f2)
      echo "w$i-$n $n $seq" >>"$dir/acked$i"
    fi
  done
}

for i in 0 1 2; do start "$i" --fresh; done
touch "$dir/acked0" "$dir/acked1" "$dir/acked2"
for i in 0 1 2; do writer "$i" & writers+=($!); done
for victim in 0 $((RANDOM % 3)) $((RANDOM % 3)) $((RANDOM % 3)); do
  sleep 0.6
  kill -KILL "${pids[$victim]}"
  wait "${pids[$victim]}" 2>/dev/null || true
  pids[$victim]=x
  sleep 0.2
  start "$victim" # no --fresh: it takes its state back
  echo "killed and restarted node $victim" >>"$dir/kills"
done
# Writers go on until every node answered more than 10 writes (slow builds,
# such as ThreadSanitizer's, restart nodes slowly), at least 0.7 s more,
# at most 20 s more.
sleep 0.7
for _ in $(seq 200); do
  enough=1
  for i in 0 1 2; do [ "$(wc -l <"$dir/acked$i")" -gt 10 ] || enough=0; done
  [ "$enough" = 1 ] && break
  sleep 0.1
done
touch "$dir/stop"
for w in "${writers[@]}"; do wait "$w"; done
writers=()

for i in 0 1 2; do
  a=$(wc -l <"$dir/acked$i")
  [ "$a" -gt 10 ] || fail "too few writes answered at node $i: $a"
  dups=$(cut -d" " -f3 "$dir/acked$i" | sort -n | uniq -d | head -3 | tr "\n" " ")
  [ -z "${dups// /}" ] || fail "node $i answered two writes with one seq: $dups"
done

# Every answered write at every node: the whole state of each node, once.
for i in 0 1 2; do
  port=$(cat "$dir/port$i")
  ok=0
  for _ in $(seq 300); do
    curl -s "127.0.0.1:$port/status" >"$dir/status$i"
    missing=$(cat "$dir/acked0" "$dir/acked1" "$dir/acked2" | while read -r key value _; do
      grep -q "\"$key\":{\"value\":$value," "$dir/status$i" || echo "$key"
    done | head -1)
    [ -z "$missing" ] && { ok=1; break; }
    sleep 0.1
  done
  [ "$ok" = 1 ] || fail "node $i lacks answered write $missing"
done
curl -s "127.0.0.1:$(cat "$dir/port0")/metrics" >"$dir/metrics" # not piped to grep -q: pipefail
grep -q '^causeway_saves_total [1-9]' "$dir/metrics" || fail "node 0's /metrics shows no saves"
for i in 0 1 2; do kill -TERM "${pids[$i]}"; done
for i in 0 1 2; do wait "${pids[$i]}" || fail "node $i exited $? on SIGTERM"; pids[$i]=x; done
# The ground truth from the traces (each restart an install of the node's
# saved state): causal order, clocks, nothing lost or applied twice.
"$cw" check "$dir"/trace?.jsonl >"$dir/check" 2>&1 || { cat "$dir/check" >&2; fail "causeway check"; }
echo "durable.sh: PASS ($(cat "$dir"/acked? | wc -l) writes answered across 4 SIGKILLs: $(cut -d' ' -f5 "$dir/kills" | tr '\n' ' '))"
