#!/usr/bin/env bash
# A link cut for longer than TCP's retransmissions keep up with is back soon
# after it heals. Two `causeway node` processes, each in a network namespace
# of its own, joined by one veth pair (10.232.0.1 and .2); every packet on
# it is dropped for CW_LONGCUT_S seconds (default 14) by an nftables table
# in node 1's namespace (blackhole routes on both sides where there is no
# `nft`), while a writer at each node keeps writing. Both nodes must go on
# acknowledging writes through the cut. After it heals, each must read the
# other's last write within CW_LONGCUT_BOUND seconds (default 6).
#
# Why: TCP retransmits unacknowledged data at intervals that double while a
# cut lasts (from 200 ms: 0.2, 0.6, 1.4, 3.0, 6.2, 12.6, 25.4 s after the
# first loss), and a connection resumes only at its next retransmission: 11
# s or more after a cut of 14 s. At the end each namespace must hold two
# established connections, no old one left over from the cut. The nodes run with `--link-timeout-ms 1000`
# (CW_LONGCUT_ARGS replaces it): the kernel closes a connection whose data
# stays unacknowledged a second, ZeroMQ connects anew every second while
# the peer cannot be reached, and the first attempt after healing gets
# through. With CW_LONGCUT_ARGS='--link-timeout-ms 0' the bound fails.
#
# Needs root, `ip netns` and veth pairs; without them it prints
#   longcut: SKIPPED (REASON)
# and exits 77 (ctest reports the test as skipped). Everything it makes is
# named with this shell's PID and removed on exit (not on SIGKILL); the run
# fails rather than go on past CW_LONGCUT_BUDGET seconds (default 120: 24 s
# idle, 47 s seen under ASan on a loaded machine).
#   tests/cli/longcut.sh CAUSEWAY
set -euo pipefail
cw=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
P=$$
dir=$(mktemp -d)
cut_s=${CW_LONGCUT_S:-14}
bound_s=${CW_LONGCUT_BOUND:-6}
# TCP alone would retransmit 12.6 and 25.4 s into the cut: a heal between
# them, bound_s and a second before the second, tells the two apart.
late=$((25400 - bound_s * 1000 - 1000))
if [ $((cut_s * 1000)) -lt 12600 ] || [ $((cut_s * 1000)) -ge "$late" ]; then
  echo "longcut: CW_LONGCUT_S $cut_s with CW_LONGCUT_BOUND $bound_s cannot tell the option from TCP alone" >&2
  exit 2
fi
read -r -a node_args <<<"${CW_LONGCUT_ARGS---link-timeout-ms 1000}"
tag=$P-$RANDOM
made_ns=()
node_pids=()
writer_pids=()

say() { echo "longcut: $*"; }
fail() { run_fail longcut 2 "$*"; }
. "$(dirname "$0")/nsrun.bash"
trap 'run_cleanup longcut' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
budget_start "${CW_LONGCUT_BUDGET:-120}" CW_LONGCUT_BUDGET

ns() { echo "cwl${P}n$1"; }
veth() { echo "c${P}l$1"; }
addr() { echo "10.232.0.$(($1 + 1))"; }
skip() {
  echo "longcut: SKIPPED ($1)"
  exit 77
}
try() { "$@" 2>"$dir/try.err" || skip "'$*' failed: $(head -c 200 "$dir/try.err" | tr '\n' ' ' | sed 's/ *$//')"; }
[ "$(id -u)" = 0 ] || skip "not root"
command -v ip >/dev/null || skip "no ip command (iproute2)"
for i in 0 1; do
  try ip netns add "$(ns $i)"
  made_ns+=("$(ns $i)")
  try ip -n "$(ns $i)" link set lo up
done
try ip link add "$(veth 0)" netns "$(ns 0)" type veth peer name "$(veth 1)" netns "$(ns 1)"
for i in 0 1; do
  try ip -n "$(ns $i)" addr add "$(addr $i)/30" dev "$(veth $i)"
  try ip -n "$(ns $i)" link set "$(veth $i)" up
done

for i in 0 1; do
  j=$((1 - i))
  ip netns exec "$(ns $i)" "$cw" node --id "$i" --nodes 2 --fresh --listen tcp://0.0.0.0:7000 \
    --http 127.0.0.1:7100 --peer "$j=tcp://$(addr $j):7000" "${node_args[@]}" >"$dir/out$i" 2>&1 &
  node_pids[i]=$!
done
served() { grep -qs "http .*:7100" "$dir/out$1"; }
for i in 0 1; do await 10 "node $i printed no serving line" served "$i"; done
say "nodes serving (${node_args[*]:-default options})"

# at I CURL-ARGS...: curl in node I's namespace against its HTTP API.
at() {
  local i=$1
  shift
  ip netns exec "$(ns "$i")" curl -s --max-time 3 "$@"
}
write() { # write I KEY: the HTTP status of a write at node I (000: none)
  local code
  code=$(at "$1" -o "$dir/wbody$1" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -d "{\"key\":\"$2\",\"value\":\"v-$2-$tag\"}" "http://127.0.0.1:7100/write") || true
  echo "${code:-000}"
}
has() { [ "$(at "$1" -o /dev/null -w '%{http_code}' "http://127.0.0.1:7100/read/$2")" = 200 ]; }
# Writers: a write every 50 ms at each node; the acknowledged keys in order.
writer() {
  local i=$1 n=0 code
  while [ ! -e "$dir/stop" ]; do
    n=$((n + 1))
    code=$(write "$i" "w$i-$n")
    case $code in
      200) echo "w$i-$n" >>"$dir/acked$i" ;;
      000) echo "$n" >>"$dir/unanswered$i" ;; # curl gave up (a slow machine): not acknowledged
      *) echo "$code $(cat "$dir/wbody$i" 2>/dev/null)" >>"$dir/other$i" ;;
    esac
    sleep 0.05
  done
}
acked() { if [ -f "$dir/acked$1" ]; then wc -l <"$dir/acked$1"; else echo 0; fi; }
last_acked() { tail -n 1 "$dir/acked$1"; }
for i in 0 1; do
  writer "$i" >"$dir/writer$i.log" 2>&1 &
  writer_pids[i]=$!
done
await 10 "the writers got no acknowledgements" eval '[ "$(acked 0)" -ge 3 ] && [ "$(acked 1)" -ge 3 ]'
for i in 0 1; do
  k=$(last_acked "$i")
  await 10 "node $((1 - i)) never read $k, written at node $i before any cut" has $((1 - i)) "$k"
done
say "links up: each node reads the other's writes"

# The cut.
if command -v nft >/dev/null; then
  how="nftables table cwl$P in node 1's namespace"
  ip netns exec "$(ns 1)" nft -f - <<EOF
table inet cwl$P {
  chain in { type filter hook input priority 0; policy accept; iifname "$(veth 1)" drop; }
  chain out { type filter hook output priority 0; policy accept; oifname "$(veth 1)" drop; }
}
EOF
else
  how="blackhole routes (no nft command here)"
  ip -n "$(ns 0)" route add blackhole "$(addr 1)/32"
  ip -n "$(ns 1)" route add blackhole "$(addr 0)/32"
fi
t_cut=$(now_ms)
marks=("$(acked 0)" "$(acked 1)")
say "cut: every packet between the nodes dropped ($how) for $cut_s s"
sleep "$cut_s"
for i in 0 1; do
  [ "$(acked "$i")" -ge $((marks[i] + 10)) ] || fail "node $i acknowledged $(($(acked "$i") - marks[i])) writes in the cut"
done
k0=$(last_acked 0) k1=$(last_acked 1)
has 1 "$k0" && fail "node 1 read $k0, written at node 0 during the cut: nothing was cut"
has 0 "$k1" && fail "node 0 read $k1, written at node 1 during the cut: nothing was cut"
[ $(($(now_ms) - t_cut)) -lt $late ] || fail "the heal came $(($(now_ms) - t_cut)) ms into the cut (not under $late): too late to tell"
if [ "$how" = "${how#nft}" ]; then
  ip -n "$(ns 0)" route del blackhole "$(addr 1)/32"
  ip -n "$(ns 1)" route del blackhole "$(addr 0)/32"
else
  ip netns exec "$(ns 1)" nft delete table inet "cwl$P"
fi
t_heal=$(now_ms)
say "healed after $((t_heal - t_cut)) ms; $(($(acked 0) - marks[0])) and $(($(acked 1) - marks[1])) writes acknowledged in the cut"

# Back within the bound: each node reads the other's last write of the cut.
both() { has 1 "$k0" && has 0 "$k1"; }
limit=$((t_heal + bound_s * 1000))
until both; do
  [ "$(now_ms)" -lt "$limit" ] ||
    fail "$k0 (node 0) at node 1: $(has 1 "$k0" && echo read || echo missing); $k1 (node 1) at node 0:" \
      "$(has 0 "$k1" && echo read || echo missing), $bound_s s after healing"
  sleep 0.05
done
say "each node read the other's last write of the cut $(($(now_ms) - t_heal)) ms after healing (bound $bound_s s)"

# Then everything: one clock, nothing pending, every acknowledged write.
touch "$dir/stop"
for p in "${writer_pids[@]}"; do wait "$p"; done
writer_pids=()
status_of() { at "$1" http://127.0.0.1:7100/status | sed -n 's/^{"node":[0-9]*,"clock":\({[^}]*}\),"pending":\([0-9]*\),.*/\1 \2/p' || true; }
converged() {
  local s0 s1
  s0=$(status_of 0) s1=$(status_of 1)
  [ -n "$s0" ] && [ "$s0" = "$s1" ] && [ "${s0##* }" = 0 ]
}
why() { echo "node 0 $(status_of 0), node 1 $(status_of 1)"; }
await 15 "no convergence" converged
unset -f why
for i in 0 1; do
  for k in $(cat "$dir/acked$i"); do has $((1 - i)) "$k" || fail "node $((1 - i)) lost $k, acknowledged at node $i"; done
done
if cat "$dir"/other? 2>/dev/null | grep .; then fail "writers got the answers above (only 200, or none, is expected)"; fi
# No connection outlives the cut: each namespace ends with two, node i's
# link to its peer and the peer's link to it. (A sender's timeout closes its
# side without a word to the other; keepalive probes find and close that.)
links() { ip netns exec "$(ns "$1")" ss -Htn state established '( sport = :7000 or dport = :7000 )' | wc -l; }
two_links() { [ "$(links 0)" = 2 ] && [ "$(links 1)" = 2 ]; }
if command -v ss >/dev/null; then
  why() { echo "$(links 0) in node 0's namespace, $(links 1) in node 1's (2 each expected)"; }
  await 10 "connections left over" two_links
  unset -f why
else
  say "no ss command: not counting connections"
fi
for i in 0 1; do kill -TERM "${node_pids[i]}"; done
for i in 0 1; do wait "${node_pids[i]}" || fail "node $i exited $? on SIGTERM"; done
node_pids=()
say "PASS ($(($(acked 0) + $(acked 1))) acknowledged writes at both nodes; $((($(now_ms) - start_ms) / 1000)) s)"
