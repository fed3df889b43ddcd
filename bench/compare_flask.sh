#!/usr/bin/env bash
# Causeway's HTTP API beside the seed's system in Python, in one run: starts
# three Flask nodes (bench/flask_node.py), then runs the node-process
# benchmarks with the same libcurl load generator (1 and 8 keep-alive
# connections) against both, so cw_vs_flask is a ratio measured in the same
# run on the same cores. Stops the Flask nodes on exit.
#
# Not part of CI and not a project dependency: it needs Debian's python3 with
# Flask and requests (apt-get install -y python3-flask python3-requests).
#   bench/compare_flask.sh [BENCH_BINARY] [REPS] [BENCHMARK ARGS...]
#   e.g. bench/compare_flask.sh /tmp/bbuild/bench/causeway_bench 3
# CAUSEWAY_BENCH_FLASK_WRITES (default 1000): writes per Flask batch.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bench=${1:-$here/../build/release/bench/causeway_bench}
reps=${2:-3}
py=/usr/bin/python3
"$py" -c 'import flask, requests' 2>/dev/null || {
  echo "compare_flask.sh: needs $py with flask and requests (apt-get install python3-flask python3-requests)" >&2
  exit 2
}
ports=$("$py" - <<'PY'
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(",".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
PY
)
log=$(mktemp -d)
pids=()
stop() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap stop EXIT
for i in 0 1 2; do
  "$py" "$here/flask_node.py" "$i" "$ports" >"$log/flask$i.log" 2>&1 &
  pids+=($!)
done
for i in 1 2 3; do
  port=$(echo "$ports" | cut -d, -f"$i")
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$port/status" >/dev/null && break
    sleep 0.1
  done
done
echo "Flask nodes on 127.0.0.1 ports $ports (logs in $log)"
CAUSEWAY_BENCH_FLASK=$ports "$bench" \
  --benchmark_filter='node_procs/' \
  --benchmark_repetitions="$reps" --benchmark_report_aggregates_only=true "${@:3}"
