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
