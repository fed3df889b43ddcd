#!/bin/sh
# A node whose trace cannot be written (--trace /dev/full) serves, and at
# SIGTERM says so and exits 1, as node --help promises ("a trace that
# cannot be written"): it exited 0 without a word, the trace lost. It says
# so at once too, on stderr and in /metrics (causeway_trace_failed). A trace
# on a FIFO nobody reads is refused at start (the start hung, deaf to
# SIGTERM); one with its reader gets every line. A --data node past its
# file size limit reports the failed save instead of dying of SIGXFSZ.
#   tests/cli/trace_full.sh CAUSEWAY
set -u
. "$(dirname "$0")/lib.sh"
CW=$1
rm -f trace_full.out trace_full.err trace_fifo
# served TRACE KEY: a node tracing to TRACE takes a write of KEY over HTTP
# (200), then SIGTERM; sets status, its exit (descriptor 3 not inherited).
served() {
  "$CW" node --id 0 --nodes 1 --listen tcp://127.0.0.1:0 --http 127.0.0.1:0 --fresh --trace "$1" \
    >trace_full.out 2>trace_full.err 3<&- &
  pid=$!
  trap 'stop_pids $pid ${reader:-}' EXIT
  port=$(node_http_port trace_full.out) || { cat trace_full.out trace_full.err; echo "the node did not start"; exit 1; }
  code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -d "{\"key\": \"$2\", \"value\": 1}" \
    "http://127.0.0.1:$port/write")
  test "$code" = 200 || { echo "the write was answered $code, not 200"; exit 1; }
  failed=$(curl -s "http://127.0.0.1:$port/metrics" | awk '$1 == "causeway_trace_failed" { print $2 }')
  kill -TERM $pid
  wait $pid
  status=$?
}
served /dev/full k
trap - EXIT
cat trace_full.err
test $status = 1 || { echo "exit $status, want 1"; exit 1; }
grep -q 'causeway node: --trace /dev/full: part of the trace could not be written' trace_full.err || exit 1
# ... and says so as it happens, on stderr and in /metrics, before its stop.
test "$failed" = 1 || { echo "causeway_trace_failed '$failed' while the trace failed, want 1"; exit 1; }
grep -q 'causeway node: a line of the trace could not be written (a full disk or a closed pipe?): the node serves on' \
  trace_full.err || { echo "no word on stderr as the trace failed"; exit 1; }

mkfifo trace_fifo
status=0
timeout -s KILL 20 "$CW" node --id 0 --nodes 1 --listen tcp://127.0.0.1:0 --fresh --trace trace_fifo \
  >/dev/null 2>trace_full.err || status=$?
cat trace_full.err
test $status = 1 || { echo "a trace on a FIFO without a reader: exit $status, want 1"; exit 1; }
grep -q 'causeway node: --trace trace_fifo: a FIFO that no process reads (start its reader first)' trace_full.err ||
  exit 1
# The FIFO has a reader before the node opens it: this shell's own end
# (read-write, so opening it waits for nobody), then cat's; the shell's end
# is closed once the node is done, so that cat sees the end (neither cat
# nor the node inherits it).
exec 3<>trace_fifo
cat trace_fifo >trace_fifo.out 3<&- &
reader=$!
served trace_fifo fifo
exec 3<&-
test $status = 0 || { cat trace_full.err; echo "a node tracing to a FIFO exited $status on SIGTERM"; exit 1; }
test "$failed" = 0 || { echo "causeway_trace_failed '$failed' with a trace written, want 0"; exit 1; }
wait $reader
trap - EXIT
grep -q '"fifo"' trace_fifo.out || { echo "the FIFO's reader did not get the write: $(cat trace_fifo.out)"; exit 1; }
rm -f trace_fifo trace_fifo.out

# A --data node past its file size limit (ulimit -f, as a disk that fills):
# its save fails with EFBIG, the write is answered 500 (made, not saved),
# later ones 503, and SIGTERM ends it with exit 1 and the reason. It was
# killed by SIGXFSZ (exit 153) without a word, the write unanswered.
rm -rf trace_full.data
(ulimit -f 200 && exec "$CW" node --id 0 --nodes 1 --listen tcp://127.0.0.1:0 --http 127.0.0.1:0 --fresh \
  --data trace_full.data >trace_full.out 2>trace_full.err 3<&-) &
pid=$!
trap 'stop_pids $pid; rm -rf trace_full.data' EXIT
port=$(node_http_port trace_full.out) || { cat trace_full.out trace_full.err; echo "the node did not start"; exit 1; }
value=$(printf '%03000d' 0)
codes=
for i in $(seq 200); do
  code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -d "{\"key\": \"k$i\", \"value\": \"$value\"}" \
    "http://127.0.0.1:$port/write")
  codes="$codes $code"
  [ "$code" = 503 ] || [ "$code" = 000 ] && break
done
kill -TERM $pid
wait $pid
status=$?
trap - EXIT
rm -rf trace_full.data
cat trace_full.err
case "$codes" in
*" 200 500 503") ;;
*) echo "writes past the file size limit were answered:$codes (want 200s, then 500, then 503)"; exit 1 ;;
esac
test $status = 1 || { echo "a node past its file size limit: exit $status on SIGTERM, want 1"; exit 1; }
grep -q "saving state failed: saving (past this process's file size limit, ulimit -f): File too large" \
  trace_full.err || exit 1
