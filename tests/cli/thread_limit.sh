#!/usr/bin/env bash
# Thread limits (ulimit -u), met as an unprivileged user: root is not held
# to them. libzmq 4.3.4 asserts when it cannot start a context's threads,
# and before the look for room (src/util/thread_room.h) a node at 3 or 4
# threads ended with SIGABRT and a core.
#  - causeway node at every limit from 1 to 12 either starts, or exits 1
#    with a line that names what could not start;
#  - a libcauseway-client handle (CLIENT_OPEN, tests/client_open.c) at
#    limits 1 to 4 opens, or is refused with CW_EIO.
# Never an abort. The processes run as a user id nothing else uses (the
# limit counts every process of the user). Skipped (exit 77) where that
# cannot be done.
#   tests/cli/thread_limit.sh CAUSEWAY CLIENT_OPEN
set -uo pipefail
cw=$(realpath "$1")
client_open=$(realpath "$2")
skip() {
  echo "thread_limit: SKIPPED ($1)"
  exit 77
}
[ "$(id -u)" = 0 ] || skip "not root"
command -v setpriv >/dev/null || skip "no setpriv (util-linux)"
uid=$((200000 + $$ % 100000)) # no passwd entry needed; no other process has it
as_user() { setpriv --reuid="$uid" --regid="$uid" --clear-groups "$@"; }
as_user test -x "$cw" -a -x "$client_open" || skip "user $uid cannot run the programs (a directory on the path is not open to others)"
dir=$(mktemp -d)
chmod 777 "$dir"
trap 'rm -rf "$dir"' EXIT

# limit N PROGRAM ARGS...: PROGRAM run as the user under ulimit -u N (exec:
# the shell becomes it, so it is the user's only process), its output in
# $dir/out. A node that prints its line and still runs 2 s later is stopped
# (SIGTERM, passed on by timeout) and the status is 124, as a node stopped
# by the timeout; else the status is PROGRAM's. At most 60 s: a start under ThreadSanitizer
# on a loaded machine took 2.9 s, and the 4 s this waited before (stopping
# every node at 4 s) failed a start that came later as one that hung.
limit() {
  local n=$1 pid
  shift
  : >"$dir/out" # the last run's line must not be read for this one's (the child truncates it only once it runs)
  # LeakSanitizer needs a thread of its own at exit, which these limits
  # refuse (it then ends the process with an error of its own): off here.
  ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
    timeout -k 5 60 setpriv --reuid="$uid" --regid="$uid" --clear-groups bash -c "ulimit -u $n && exec \"\$@\"" bash "$@" \
    >"$dir/out" 2>&1 &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    if grep -q '^causeway node 0 of 2: replication' "$dir/out"; then
      # It serves: it runs 2 s more (an abort then is its status, as when
      # the timeout came 4 s after the start), and is then stopped.
      for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
      kill -0 "$pid" 2>/dev/null || { wait "$pid"; return; }
      kill -TERM "$pid"
      wait "$pid"
      return 124
    fi
    sleep 0.05
  done
  wait "$pid"
}
abort_seen() { grep -q 'src/thread.cpp' "$dir/out"; }

refused_by_zmq=0 started=0
for n in $(seq 1 12); do
  limit "$n" "$cw" node --id 0 --nodes 2 --listen "ipc://$dir/r" --peer "1=ipc://$dir/p" --http 127.0.0.1:0 \
    --client "ipc://$dir/c"
  status=$?
  line=$(tr '\n' ' ' <"$dir/out")
  if [ "$status" = 124 ] && grep -q '^causeway node 0 of 2: replication' "$dir/out"; then
    started=$((started + 1)) # it served until it was stopped
  elif [ "$status" = 1 ] && ! abort_seen &&
    grep -Eq 'cannot start|ulimit -u|limit on the number of threads' "$dir/out"; then
    grep -q "cannot start ZeroMQ's threads" "$dir/out" && refused_by_zmq=$((refused_by_zmq + 1))
  else
    echo "FAIL: at ulimit -u $n the node exited $status: $line" >&2
    exit 1
  fi
  echo "node, ulimit -u $n: exit $status: $line"
done
# The look before ZeroMQ's threads was what refused some limits, and the
# highest limits are enough to start (else this test proved nothing).
[ "$refused_by_zmq" -ge 1 ] || { echo "FAIL: no limit was refused before ZeroMQ's threads" >&2; exit 1; }
[ "$started" -ge 1 ] || { echo "FAIL: the node never started, even at ulimit -u 12" >&2; exit 1; }

refused=0 opened=0
for n in 1 2 3 4; do
  limit "$n" "$client_open" "ipc://$dir/nobody-listens"
  status=$?
  line=$(tr '\n' ' ' <"$dir/out")
  if [ "$status" = 0 ] && grep -q '^opened' "$dir/out"; then
    opened=$((opened + 1))
  elif [ "$status" = 1 ] && ! abort_seen && grep -q 'network or operating-system call failed' "$dir/out"; then
    refused=$((refused + 1))
  else
    echo "FAIL: at ulimit -u $n a client handle exited $status: $line" >&2
    exit 1
  fi
  echo "client handle, ulimit -u $n: exit $status: $line"
done
[ "$refused" -ge 1 ] && [ "$opened" -ge 1 ] ||
  { echo "FAIL: client handles: $refused refused, $opened opened (want both)" >&2; exit 1; }
echo "thread_limit: PASS (node: $refused_by_zmq refused before ZeroMQ's threads, $started started;" \
  "client handles: $refused refused, $opened opened)"
