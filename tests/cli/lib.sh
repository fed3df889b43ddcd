# Helpers the CLI test scripts share (POSIX sh; sourced, never run).

# node_http_port FILE [SECONDS]: the HTTP port a `causeway node --http
# 127.0.0.1:0` printed in its line to FILE, once it serves (waiting up to
# SECONDS, default 30: a sanitizer build on a loaded machine starts
# slowly); status 1, printing nothing, when it printed none.
node_http_port() {
  for _ in $(seq $((${2:-30} * 20))); do
    p=$(grep -o 'http 127.0.0.1:[0-9]*' "$1" 2>/dev/null | cut -d: -f2 || true)
    [ -n "$p" ] && { echo "$p"; return 0; }
    sleep 0.05
  done
  return 1
}

# stop_pids PID...: SIGCONT and SIGTERM to each, up to 3 s for all to exit,
# then SIGKILL to any left. Never fails (for cleanup traps).
stop_pids() {
  for _sp_pid in "$@"; do kill -CONT "$_sp_pid" 2>/dev/null; kill -TERM "$_sp_pid" 2>/dev/null; done
  for _ in $(seq 30); do
    _sp_alive=0
    for _sp_pid in "$@"; do kill -0 "$_sp_pid" 2>/dev/null && _sp_alive=1; done
    [ "$_sp_alive" = 0 ] && break
    sleep 0.1
  done
  for _sp_pid in "$@"; do kill -KILL "$_sp_pid" 2>/dev/null; done
  return 0
}

# stopped CW NAME ARGS...: runs `CW stress ARGS --json NAME.json`, its
# output in NAME.txt (both shown); true when it exited 1 with the verdict
# of a run stopped before its check, a replay line and an unjudged --json.
# Sets dir: the run directory it names as kept ("" if none), for the caller
# to read and remove.
stopped() {
  _st_cw=$1 _st_name=$2
  shift 2
  rm -f "$_st_name.json"
  "$_st_cw" stress "$@" --json "$_st_name.json" >"$_st_name.txt" 2>&1
  _st_status=$?
  cat "$_st_name.txt" "$_st_name.json"
  dir=$(sed -n 's/.*files kept in \([^)]*\)).*/\1/p' "$_st_name.txt")
  test $_st_status = 1 && grep -q 'verdict  *FAIL: the run stopped before its check' "$_st_name.txt" &&
    grep -q 'replay  *causeway stress ' "$_st_name.txt" && grep -q '"verdict": "fail"' "$_st_name.json" &&
    grep -q '"checked": false' "$_st_name.json"
}
