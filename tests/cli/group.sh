#!/usr/bin/env bash
# A group's name (--group) as a user meets it: two nodes of one group
# replicate; a node of another group (or of none) is refused on every link,
# counted, and said on stderr, and nothing of it reaches the other; a --data
# directory keeps its group's name, so a copy of another group's directory
# is refused at start (exit 2) and so is one started without the name; a
# directory made without a name takes the one given; POST /replicate needs
# the name in a header; a name that is not one is bad usage.
#   tests/cli/group.sh CAUSEWAY
set -euo pipefail
cw=$1
dir=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  [ -n "${KEEP:-}" ] && echo "kept $dir" >&2 || rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ep() { echo "ipc://$dir/r$1"; }

start() { # start NAME I ARGS...: node I of 2 (its output in $dir/NAME.*), HTTP port in $port
  local name=$1 i=$2
  shift 2
  "$cw" node --id "$i" --nodes 2 --listen "$(ep "$name")" --http 127.0.0.1:0 "$@" \
    >"$dir/$name.out" 2>"$dir/$name.err" &
  pids+=($!)
  for _ in $(seq 600); do
    port=$(grep -o 'http 127.0.0.1:[0-9]*' "$dir/$name.out" | cut -d: -f2 || true)
    [ -n "$port" ] && return
    sleep 0.05
  done
  fail "node $name did not start: $(cat "$dir/$name.err")"
}
metric() { curl -s "127.0.0.1:$1/metrics" | sed -n "s/^$2 //p"; }
write() { curl -s -o /dev/null -w '%{http_code}' -X POST "127.0.0.1:$1/write" -d "{\"key\": \"$2\", \"value\": 1}"; }
has() { [ "$(curl -s -o /dev/null -w '%{http_code}' "127.0.0.1:$1/read/$2")" = 200 ]; }

# Bad names are bad usage, before anything starts.
for bad in '' 'a b' 'a@b' "$(printf 'x%.0s' $(seq 65))"; do
  set +e
  "$cw" node --id 0 --nodes 1 --listen "$(ep bad)" --group "$bad" >/dev/null 2>"$dir/bad.err"
  status=$?
  set -e
  [ $status = 2 ] && grep -q "^causeway node: --group\( '.*'\)\{0,1\}: expected" "$dir/bad.err" ||
    fail "--group '$bad': exit $status, $(cat "$dir/bad.err")"
done

# Node 0 of group blue, node 1 of group green: no link between them.
start a0 0 --peer "1=$(ep b1)" --fresh --group blue
pa0=$port
start b1 1 --peer "0=$(ep a0)" --fresh --group green
pb1=$port
[ "$(write "$pa0" k0)" = 200 ] || fail "a write at node 0"
[ "$(write "$pb1" k1)" = 200 ] || fail "a write at node 1"
for _ in $(seq 100); do
  grep -q "refused node 1's messages: it is of group 'green', this node of group 'blue'" "$dir/a0.err" && break
  sleep 0.05
done
grep -q "refused node 1's messages: it is of group 'green', this node of group 'blue'" "$dir/a0.err" ||
  fail "node 0 did not say why it refused node 1: $(cat "$dir/a0.err")"
refused=$(metric "$pa0" causeway_refused_peer_total)
[ "${refused:-0}" -gt 0 ] || fail "node 0 counted no refused message: '$refused'"
has "$pa0" k1 && fail "node 0 of blue holds node 1's write of green"
has "$pb1" k0 && fail "node 1 of green holds node 0's write of blue"
# POST /replicate needs the group's name.
code=$(curl -s -o "$dir/rep.txt" -w '%{http_code}' -X POST --data-binary x "127.0.0.1:$pa0/replicate")
[ "$code" = 403 ] && grep -q "Causeway-Group: blue" "$dir/rep.txt" || fail "/replicate without the name: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Causeway-Group: blue' -X POST --data-binary x "127.0.0.1:$pa0/replicate")
[ "$code" = 400 ] || fail "/replicate with the name, a body that is no write: $code, not 400"
kill "${pids[@]}"
wait "${pids[@]}" 2>/dev/null || true
pids=()

# The same two with the same name replicate.
start c0 0 --peer "1=$(ep d1)" --fresh --group blue
pc0=$port
start d1 1 --peer "0=$(ep c0)" --fresh --group blue
pd1=$port
[ "$(write "$pc0" k)" = 200 ] || fail "a write at node 0 of blue"
for _ in $(seq 100); do has "$pd1" k && break; sleep 0.05; done
has "$pd1" k || fail "node 1 of blue did not get node 0's write"
kill "${pids[@]}"
wait "${pids[@]}" 2>/dev/null || true
pids=()

# A directory keeps its group's name.
one() { # one ARGS...: a one-node group on $dir/data, started and stopped; its exit status
  # The last start's port line must not be read for this one's: the shell may
  # look before the started node has truncated the file.
  rm -f "$dir/solo.out" "$dir/solo.err"
  "$cw" node --id 0 --nodes 1 --listen "$(ep solo)" --http 127.0.0.1:0 --data "$dir/data" "$@" \
    >"$dir/solo.out" 2>"$dir/solo.err" &
  local pid=$!
  for _ in $(seq 600); do
    grep -q 'http 127.0.0.1' "$dir/solo.out" 2>/dev/null && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.05
  done
  kill $pid 2>/dev/null || true
  set +e
  wait $pid
  status=$?
  set -e
}
one # made without a name
[ $status = 0 ] || fail "a new directory: exit $status, $(cat "$dir/solo.err")"
one --group blue # takes the name
[ $status = 0 ] || fail "a directory without a name, given one: exit $status, $(cat "$dir/solo.err")"
one --group green
[ $status = 2 ] && grep -q "holds a state of group 'blue', not of group 'green' (--group)" "$dir/solo.err" ||
  fail "another group's directory: exit $status, $(cat "$dir/solo.err")"
one
[ $status = 2 ] && grep -q "holds a state of group 'blue', not of a node without --group" "$dir/solo.err" ||
  fail "a group's directory without --group: exit $status, $(cat "$dir/solo.err")"
one --group blue
[ $status = 0 ] || fail "its own group's directory: exit $status, $(cat "$dir/solo.err")"
echo "PASS"
