# What the bash tests that run node processes in network namespaces share
# (netns.sh, longcut.sh; sourced, never run). The caller defines
# fail MESSAGE (ends the run: run_fail), and holds its run in: dir (a scratch
# directory), node_pids, writer_pids and made_ns (arrays); a writer stops
# when $dir/stop exists.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# run_fail NAME NODES MESSAGE: says MESSAGE, and the last words of nodes
# 0..NODES-1 ($dir/outI), and ends the run.
run_fail() {
  local i
  echo "$1: FAIL: $3" >&2
  for ((i = 0; i < $2; i++)); do
    [ -s "$dir/out$i" ] && { echo "--- node $i said:" >&2; tail -n 20 "$dir/out$i" >&2; }
  done
  exit 1
}

# run_cleanup NAME: writers and nodes stopped, the namespaces (with their
# veths and nft tables) deleted, dir removed. For the EXIT trap.
run_cleanup() {
  set +e
  touch "$dir/stop"
  for p in "${writer_pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  stop_pids "${node_pids[@]}"
  wait 2>/dev/null
  for n in "${made_ns[@]}"; do ip netns del "$n" || echo "$1: could not delete namespace $n" >&2; done
  rm -rf "$dir"
}

now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }

# budget_start SECONDS VARIABLE: the run fails rather than go on past
# SECONDS from now (VARIABLE: the setting that chose them, for the message).
budget_start() {
  start_ms=$(now_ms)
  budget_end=$((start_ms + $1 * 1000))
  budget_what="$2 $1 s"
}
in_budget() { [ "$(now_ms)" -lt "$budget_end" ] || fail "out of time ($budget_what)"; }

# await SECONDS WHAT CMD...: polls CMD every 0.1 s until it succeeds; else
# fails saying WHAT, and what `why` prints then if it is defined.
await() {
  local secs=$1 what=$2 limit=$(($(now_ms) + $1 * 1000))
  shift 2
  until "$@"; do
    [ "$(now_ms)" -lt "$limit" ] ||
      fail "$what (not within $secs s)$(declare -F why >/dev/null && echo ": $(why)")"
    in_budget
    sleep 0.1
  done
}
