#!/usr/bin/env bash
# A damaged --data directory is refused with a reason, never a crash: a node
# of one with 300 keys saved is stopped, and each page of its data.mdb in
# turn is zeroed in a copy of the directory, which a node is then started
# on. Every start must end in a refusal (exit 1 or 2, with a reason on
# stderr) or serve (still running when `timeout` stops it): never killed by
# a signal (LMDB asserts on a page its tree does not expect, and aborted
# the process before). At least one page must be refused as damaged.
#   tests/cli/damaged.sh CAUSEWAY
set -euo pipefail
cw=$1
dir=$(mktemp -d)
pid=x
cleanup() {
  [ "$pid" != x ] && kill -KILL "$pid" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$cw" node --id 0 --nodes 1 --listen "ipc://$dir/r" --http 127.0.0.1:0 --data "$dir/base" --fresh \
  >"$dir/out" 2>"$dir/err" &
pid=$!
port=
for _ in $(seq 200); do
  port=$(grep -o 'http 127.0.0.1:[0-9]*' "$dir/out" | cut -d: -f2 || true)
  [ -n "$port" ] && break
  sleep 0.05
done
[ -n "$port" ] || fail "the node did not start: $(cat "$dir/err")"
args=()
for i in $(seq 300); do
  [ "$i" -gt 1 ] && args+=(--next)
  args+=(-s -o /dev/null -X POST "localhost:$port/write" -d "{\"key\": \"key-$i\", \"value\": \"value of key $i, long enough to fill pages\"}")
done
curl "${args[@]}"
kill -TERM "$pid"
wait "$pid" || fail "the node did not stop cleanly"
pid=x

pages=$(($(stat -c %s "$dir/base/data.mdb") / 4096))
[ "$pages" -ge 8 ] || fail "only $pages pages: the test needs a tree of several"
damaged=0
for p in $(seq 2 $((pages - 1))); do
  rm -rf "$dir/copy"
  cp -r "$dir/base" "$dir/copy"
  dd if=/dev/zero of="$dir/copy/data.mdb" bs=4096 seek="$p" count=1 conv=notrunc status=none
  status=0
  timeout 1 "$cw" node --id 0 --nodes 1 --listen "ipc://$dir/c" --data "$dir/copy" >/dev/null 2>"$dir/err" ||
    status=$?
  case $status in
    124) ;; # served until stopped: the page was not in use
    1 | 2) [ -s "$dir/err" ] || fail "page $p: refused (exit $status) without a reason" ;;
    *) fail "page $p zeroed: exit $status ($(head -c 300 "$dir/err"))" ;;
  esac
  ! grep -q "Sanitizer" "$dir/err" || fail "page $p: a sanitizer's report: $(head -c 600 "$dir/err")"
  grep -q "damaged" "$dir/err" && damaged=$((damaged + 1))
done
[ "$damaged" -gt 0 ] || fail "no zeroed page of $pages was refused as damaged"
echo "damaged.sh: $((pages - 2)) pages zeroed one at a time, $damaged refused as damaged, none crashed"
