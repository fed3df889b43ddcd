# Helpers the CLI test scripts share (POSIX sh; sourced, never run).

# node_http_port FILE [SECONDS]: the HTTP port a `causeway node --http
# 127.0.0.1:0` printed in its line to FILE, once it serves (waiting up to
# SECONDS, default 10); status 1, printing nothing, when it printed none.
node_http_port() {
  for _ in $(seq $((${2:-10} * 20))); do
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
