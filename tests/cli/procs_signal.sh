#!/usr/bin/env bash
# causeway stress --processes leaves no node process and no run directory
# behind when the command alone gets SIGTERM, SIGINT or SIGHUP (kill PID, a
# supervisor: not the process group a terminal's ^C reaches) or SIGKILL,
# also after a node was killed and restarted (--kill) or while one is
# stopped (--stop).
#   tests/cli/procs_signal.sh CAUSEWAY
set -uo pipefail
cw=$1
failures=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# From /proc, not ps or pgrep (procps is not installed everywhere).
# Builtins only: a fork per /proc entry is slow on a busy machine.
stat_of() { # sets st_state and st_ppid from /proc/$1/stat (after the name's ')')
  local s rest
  read -r s <"/proc/$1/stat" 2>/dev/null || return 1
  rest=${s##*) }
  st_state=${rest%% *}
  rest=${rest#* }
  st_ppid=${rest%% *}
}
children_of() { # the pids whose parent is $1
  local f
  for f in /proc/[0-9]*; do
    stat_of "${f#/proc/}" && [ "$st_ppid" = "$1" ] && echo "${f#/proc/}"
  done
}
alive() { # the pids given that still run (not zombies)
  local n=0
  for k in "$@"; do
    stat_of "$k" && [ "$st_state" != Z ] && n=$((n + 1))
  done
  echo $n
}
run() { # SIGNAL WAIT ARGS...
  local sig=$1 wait=$2
  shift 2
  # Every signal at its default (a runner may ignore SIGHUP, which the
  # command then leaves ignored); stdout names the run's directory. The
  # file is emptied here first: the child truncates it only once it runs,
  # and the loop below could read the last run's directory before that.
  : >"$out"
  env --default-signal "$cw" stress --processes 3 --duration 30 --keys 8 --seed 7 "$@" >"$out" 2>&1 &
  local pid=$! kids="" t=0 run_dir
  # The line that names the run's directory comes as the writes begin (up
  # to 20 s on a loaded machine): --kill and --stop times count from it.
  for t in $(seq 200); do
    run_dir=$(sed -n 's|^  processes  *\(/[^ ]*\) .*|\1|p' "$out")
    [ -n "$run_dir" ] && break
    sleep 0.1
  done
  sleep "$wait"
  kids=$(children_of "$pid" | tr '\n' ' ') # the nodes and the keeper
  kill -"$sig" "$pid"
  wait "$pid" 2>/dev/null
  # A node under a sanitizer on a busy machine may take seconds to stop;
  # the keeper SIGKILLs any left after 10 s (EXIT_DEADLINE_S), then tidies.
  for t in $(seq 150); do
    [ "$(alive $kids)" = 0 ] && [ ! -e "$run_dir" ] && break
    sleep 0.1
  done
  local left
  left=$(alive $kids)
  if [ -z "$kids" ] || [ "$left" != 0 ] || [ -z "$run_dir" ] || [ -e "$run_dir" ]; then
    echo "FAIL: SIG$sig to causeway stress --processes 3 $*: children [$kids], $left still running 15 s later;" \
      "run directory '$run_dir' $([ -e "$run_dir" ] && echo "still there" || echo "gone or not printed")"
    for k in $kids; do kill -TERM "$k" 2>/dev/null; kill -CONT "$k" 2>/dev/null; done
    case $run_dir in /tmp/causeway-stress-*) rm -rf "$run_dir" ;; esac
    failures=$((failures + 1))
  fi
}
run TERM 2.5
run INT 2.5
run HUP 2.5
run KILL 2.5
run TERM 4 --kill 1:1
run KILL 4 --kill 1:1 # the restarted node too (forked by the main thread)
run TERM 3 --stop 1:1:20 # node 1 stopped: it takes its SIGTERM once continued
if [ "$failures" -ne 0 ]; then
  echo "procs_signal.sh: $failures check(s) failed"
  exit 1
fi
echo "procs_signal.sh: every check passed"
