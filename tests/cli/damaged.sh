#!/usr/bin/env bash
# A damaged --data directory is refused with a reason, never a crash: a node
# of one with 300 keys saved is stopped, and each page of its data.mdb in
# turn is damaged in a copy of the directory, which a node is then started
# on: zeroed; with one bit flipped in its first record's offset (byte 17,
# which LMDB trusts: a read then lands outside the page); or the file cut
# short at that page. Every start must end in a refusal (exit 1 or 2, with
# a reason on stderr) or serve with all 300 keys: never be killed by a
# signal (LMDB asserts on a page its tree does not expect and aborted the
# process; a flipped offset or a cut file faulted, SIGSEGV or SIGBUS). In
# each way at least one page must be refused as damaged. Last, the file is
# cut short under a running node: its next save must end it with the
# reason (exit 2), not a SIGBUS.
#   tests/cli/damaged.sh CAUSEWAY
set -euo pipefail
cw=$1
dir=$(mktemp -d)
pid=x
cleanup() {
  [ "$pid" != x ] && kill -KILL "$pid" 2>/dev/null || true
  [ -n "${KEEP:-}" ] && echo "kept $dir" >&2 || rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

serve() { # serve WHAT DIR ENDPOINT ARGS...: a node on DIR (pid, port), or fail naming WHAT
  local what=$1 data=$2 listen=$3
  shift 3
  rm -f "$dir/out"
  "$cw" node --id 0 --nodes 1 --listen "$listen" --http 127.0.0.1:0 --data "$data" "$@" >"$dir/out" 2>"$dir/err" &
  pid=$!
  port=
  for _ in $(seq 600); do
    port=$(grep -o 'http 127.0.0.1:[0-9]*' "$dir/out" | cut -d: -f2 || true)
    [ -n "$port" ] && return
    sleep 0.05
  done
  fail "$what: the node did not start: $(cat "$dir/err")"
}

serve "the first node" "$dir/base" "ipc://$dir/r" --fresh
args=()
for i in $(seq 300); do
  [ "$i" -gt 1 ] && args+=(--next)
  args+=(-s -o /dev/null -X POST "127.0.0.1:$port/write" -d "{\"key\": \"key-$i\", \"value\": \"value of key $i, long enough to fill pages\"}")
done
curl "${args[@]}"
keys=$(curl -s "127.0.0.1:$port/metrics" | grep '^causeway_keys ' || true)
[ "$keys" = "causeway_keys 300" ] || fail "300 keys written, the node holds: $keys"
kill -TERM "$pid"
wait "$pid" || fail "the node did not stop cleanly"
pid=x

pages=$(($(stat -c %s "$dir/base/data.mdb") / 4096))
[ "$pages" -ge 8 ] || fail "only $pages pages: the test needs a tree of several"
summary=
for how in zero flip cut; do
  damaged=0
  for p in $(seq 2 $((pages - 1))); do
    rm -rf "$dir/copy"
    cp -r "$dir/base" "$dir/copy"
    case $how in
      zero) dd if=/dev/zero of="$dir/copy/data.mdb" bs=4096 seek="$p" count=1 conv=notrunc status=none ;;
      flip)
        at=$((p * 4096 + 17))
        byte=$(od -An -tu1 -j "$at" -N1 "$dir/copy/data.mdb" | tr -d ' ')
        printf "$(printf '\\%03o' $((byte ^ 64)))" |
          dd of="$dir/copy/data.mdb" bs=1 seek="$at" count=1 conv=notrunc status=none
        ;;
      cut) truncate -s $((p * 4096)) "$dir/copy/data.mdb" ;;
    esac
    what="page $p ($how)"
    rm -f "$dir/out" # the last node's port line must not be read for this one's (the shell may look first)
    "$cw" node --id 0 --nodes 1 --listen "ipc://$dir/c" --http 127.0.0.1:0 --data "$dir/copy" \
      >"$dir/out" 2>"$dir/err" &
    pid=$!
    port=
    for _ in $(seq 600); do # served (its port printed), or ended
      port=$(grep -o 'http 127.0.0.1:[0-9]*' "$dir/out" | cut -d: -f2 || true)
      [ -n "$port" ] || ! kill -0 "$pid" 2>/dev/null && break
      sleep 0.05
    done
    [ -n "$port" ] || ! kill -0 "$pid" 2>/dev/null || fail "$what: neither served nor refused in 30 s"
    if [ -n "$port" ]; then # the page was not in use: every key is there
      keys=$(curl -s "127.0.0.1:$port/metrics" | grep '^causeway_keys ' || true)
      [ "$keys" = "causeway_keys 300" ] || fail "$what: the node serves without its 300 keys: '$keys'"
      kill -TERM "$pid"
      wait "$pid" || fail "$what: the node served, then did not stop cleanly"
    else
      status=0
      wait "$pid" || status=$?
      case $status in
        1 | 2) [ -s "$dir/err" ] || fail "$what: refused (exit $status) without a reason" ;;
        *) fail "$what: exit $status ($(head -c 300 "$dir/err"))" ;;
      esac
    fi
    pid=x
    ! grep -q "Sanitizer" "$dir/err" || fail "$what: a sanitizer's report: $(head -c 600 "$dir/err")"
    grep -q "damaged" "$dir/err" && damaged=$((damaged + 1))
  done
  [ "$damaged" -gt 0 ] || fail "no page of $pages damaged so ($how) was refused as damaged"
  summary="$summary $how: $damaged refused as damaged;"
done
# Cut short under a running node: its next save (a write), or a look at
# the map's use (GET /metrics, once the meta pages are gone), faults
# reading data.mdb, which must end the node with the reason (exit 2), as
# damage a save meets does, not kill it with SIGBUS.
cut_running() { # cut_running WHAT BYTES ROUTE CURL-ARGS...: the file cut to BYTES, then the request
  local what="cut to $2 bytes under a running node, then $1" bytes=$2 route=$3 status=0
  shift 3
  rm -rf "$dir/copy"
  cp -r "$dir/base" "$dir/copy"
  serve "$what" "$dir/copy" "ipc://$dir/c"
  truncate -s "$bytes" "$dir/copy/data.mdb"
  curl -s -m 5 -o /dev/null "$@" "127.0.0.1:$port/$route" || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  kill -0 "$pid" 2>/dev/null && fail "$what: the node runs on over the cut file"
  wait "$pid" || status=$?
  pid=x
  [ "$status" = 2 ] || fail "$what: exit $status, not 2 ($(head -c 300 "$dir/err"))"
  grep -q "data.mdb is damaged" "$dir/err" || fail "$what: no reason: $(head -c 300 "$dir/err")"
  ! grep -q "Sanitizer" "$dir/err" || fail "$what: a sanitizer's report: $(head -c 600 "$dir/err")"
}
cut_running "a write" $((pages / 2 * 4096)) write -X POST -d '{"key": "key-1", "value": "after the cut"}'
cut_running "GET /metrics" 0 metrics # its meta pages gone
echo "damaged.sh: $((pages - 2)) pages damaged one at a time in three ways, none crashed:$summary; a file cut under a running node (a write, GET /metrics) ended it with the reason"
