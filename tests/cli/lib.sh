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
# to read and remove. no_verdict CW NAME ARGS...: the same for a run that
# stopped for this machine's memory or limits (exit 3, verdict NONE).
stopped() { _stopped_as 1 'FAIL: the run stopped before its check' fail "$@"; }
no_verdict() { _stopped_as 3 "NONE: the run stopped before its check, for this machine's" none "$@"; }
_stopped_as() {
  _st_want=$1 _st_text=$2 _st_json=$3 _st_cw=$4 _st_name=$5
  shift 5
  rm -f "$_st_name.json"
  "$_st_cw" stress "$@" --json "$_st_name.json" >"$_st_name.txt" 2>&1
  _st_status=$?
  cat "$_st_name.txt" "$_st_name.json"
  dir=$(sed -n 's/.*files kept in \([^)]*\)).*/\1/p' "$_st_name.txt")
  test $_st_status = "$_st_want" && grep -q "verdict  *$_st_text" "$_st_name.txt" &&
    grep -q 'replay  *causeway stress ' "$_st_name.txt" && grep -q "\"verdict\": \"$_st_json\"" "$_st_name.json" &&
    grep -q '"checked": false' "$_st_name.json"
}

# need_open_files N: ends the script with 77 (a skip) when the hard limit of
# open files is under N, what a run's client handles need.
need_open_files() {
  _nf_hard=$(ulimit -Hn)
  if test "$_nf_hard" != unlimited && test "$_nf_hard" -lt "$1"; then
    echo "ulimit -Hn is $_nf_hard, under $1"; exit 77
  fi
}

# stress_seed CW OUT NODE ARGS...: runs `CW stress ARGS`, its output in OUT.
# Status 0 when it passed; 2 when it stopped before its check because node
# NODE, one neither stopped nor killed, answered none of a client's 4 calls
# in a row (load, not the judge: its directory removed, a line said). Any other failure prints OUT
# and ends the script with 1, the run's traces left where OUT says.
stress_seed() {
  _ss_cw=$1 _ss_out=$2 _ss_node=$3
  shift 3
  rm -f "$_ss_out"
  "$_ss_cw" stress "$@" >"$_ss_out" 2>&1 && return 0
  if grep -q 'FAIL: the run stopped before its check' "$_ss_out" &&
    grep -q "at node $_ss_node: a wait ran out of time" "$_ss_out"; then
    _ss_dir=$(sed -n 's/.*kept in \([^ ;)]*\).*/\1/p' "$_ss_out" | head -n 1)
    test -n "$_ss_dir" && rm -rf "$_ss_dir"
    echo "a client's call at node $_ss_node timed out (load); the next seed"
    return 2
  fi
  cat "$_ss_out"
  exit 1
}

# cluster_port_busy FILE: whether `causeway cluster`'s stderr in FILE says
# one of its ports was busy, or a node could not bind one (taken between
# the command's check and the node's start).
cluster_port_busy() {
  grep -Eq 'causeway cluster: port [0-9]+ \(.*\) is busy|causeway node: .*Address already in use' "$1"
}
