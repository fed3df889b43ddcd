#!/bin/sh
# An idle node gives back the memory a burst of heavy reads took: each HTTP
# pool thread parsed its reads' values in its own C-library heap, which kept
# them after they were freed (8 readers of a 300 KB value of [{},{},...]
# left the node at ~200 MB idle, where it served from ~15 MB). Once the
# burst is over (1 s without a large free), causeway_http_memory_trims_total
# counts a trim, and (outside the sanitizers, whose allocators keep memory
# their own way) the node's resident memory is back under 100 MB.
#   tests/cli/trim.sh CAUSEWAY
set -u
. "$(dirname "$0")/lib.sh"
CW=$1
rm -f trim.out trim.err trim_body.json
"$CW" node --id 0 --nodes 1 --listen tcp://127.0.0.1:0 --http 127.0.0.1:0 --http-threads 8 --fresh \
  >trim.out 2>trim.err &
pid=$!
trap 'stop_pids $pid; rm -f trim_body.json' EXIT
port=$(node_http_port trim.out) || { cat trim.out trim.err; echo "the node did not start"; exit 1; }
# {"key": "heavy", "value": [{},{},... 100,000 of them]}: ~300 KB, ~25 MB parsed
{ printf '{"key": "heavy", "value": ['; yes '{},' | head -n 99999 | tr -d '\n'; printf '{}]}'; } >trim_body.json
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary @trim_body.json "http://127.0.0.1:$port/write")
test "$code" = 200 || { echo "the write was answered $code, not 200"; exit 1; }
# 8 readers, 2 reads each, retrying a 503 (the parses' bound) until served.
readers=
for r in 1 2 3 4 5 6 7 8; do
  (
    for _ in 1 2; do
      for _ in $(seq 200); do
        code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/read/heavy")
        [ "$code" = 200 ] && break
        sleep 0.05
      done
      test "$code" = 200 || { echo "reader $r: answered $code"; exit 1; }
    done
  ) &
  readers="$readers $!"
done
failed=0
for reader in $readers; do wait "$reader" || failed=1; done
test $failed = 0 || { echo "a reader was not served"; exit 1; }
# Within 10 s of the last read (the trim waits for 1 s without a large
# free), a trim is counted and, outside the sanitizers, the node is small.
case "$(ldd "$CW" 2>/dev/null)" in
*libasan* | *libtsan*) sanitized=1 ;;
*) sanitized=0 ;;
esac
trims=0 rss=0
for _ in $(seq 100); do
  trims=$(curl -s "http://127.0.0.1:$port/metrics" | awk '$1 == "causeway_http_memory_trims_total" { print $2 }')
  rss=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$pid/status")
  [ "${trims:-0}" -ge 1 ] && { [ $sanitized = 1 ] || [ "$rss" -lt 102400 ]; } && break
  sleep 0.1
done
echo "trims ${trims:-none}; resident $rss kB after the reads"
test "${trims:-0}" -ge 1 || { echo "no trim counted after the reads (causeway_http_memory_trims_total ${trims:-none})"; exit 1; }
test $sanitized = 1 || test "$rss" -lt 102400 || { echo "the idle node holds $rss kB, want under 100 MB"; exit 1; }
