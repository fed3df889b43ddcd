#!/usr/bin/env bash
# causeway node at every thread limit from 1 to 12 (ulimit -u, as an
# unprivileged user: root is not held to it): it either starts, or exits 1
# with a line that names the thread it could not start. Never an abort:
# libzmq 4.3.4 asserts when it cannot start a context's threads, and a node
# at 3 or 4 threads ended with SIGABRT and a core before it looked for
# room first (src/util/thread_room.h). Skipped (exit 77) where it cannot
# run as user nobody.
#   tests/cli/thread_limit.sh CAUSEWAY
set -uo pipefail
cw=$(realpath "$1")
skip() {
  echo "thread_limit: SKIPPED ($1)"
  exit 77
}
[ "$(id -u)" = 0 ] || skip "not root"
command -v setpriv >/dev/null || skip "no setpriv (util-linux)"
nobody=$(id -u nobody 2>/dev/null) || skip "no user nobody"
as_nobody() { setpriv --reuid="$nobody" --regid="$(id -g nobody)" --clear-groups "$@"; }
as_nobody test -x "$cw" || skip "user nobody cannot run $cw (a directory on its path is not open to others)"
dir=$(mktemp -d)
chmod 777 "$dir"
trap 'rm -rf "$dir"' EXIT

refused_by_zmq=0 started=0
for n in $(seq 1 12); do
  # exec: the shell becomes the node, so the node is nobody's only process.
  timeout 4 setpriv --reuid="$nobody" --regid="$(id -g nobody)" --clear-groups bash -c \
    "ulimit -u $n && exec \"\$0\" node --id 0 --nodes 2 --listen ipc://$dir/r --peer 1=ipc://$dir/p \
     --http 127.0.0.1:0 --client ipc://$dir/c" "$cw" >"$dir/out" 2>&1
  status=$?
  line=$(tr '\n' ' ' <"$dir/out")
  if [ "$status" = 124 ] && grep -q '^causeway node 0 of 2: replication' "$dir/out"; then
    started=$((started + 1)) # it ran until the timeout stopped it
  elif [ "$status" = 1 ] && grep -Eq 'cannot start|Resource temporarily unavailable|limit on the number of threads' \
    "$dir/out" && ! grep -q 'src/thread.cpp' "$dir/out"; then
    grep -q "cannot start ZeroMQ's threads" "$dir/out" && refused_by_zmq=$((refused_by_zmq + 1))
  else
    echo "FAIL: at ulimit -u $n the node exited $status: $line" >&2
    exit 1
  fi
  echo "ulimit -u $n: exit $status: $line"
done
# The look before ZeroMQ's threads was what refused some limits, and the
# highest limits are enough to start (else this test proved nothing).
[ "$refused_by_zmq" -ge 1 ] || { echo "FAIL: no limit was refused before ZeroMQ's threads" >&2; exit 1; }
[ "$started" -ge 1 ] || { echo "FAIL: the node never started, even at ulimit -u 12" >&2; exit 1; }
echo "thread_limit: PASS ($refused_by_zmq refused before ZeroMQ's threads, $started started)"
