#!/usr/bin/env bash
# Three `causeway node` processes under real faults, while writers keep
# writing at every node over HTTP:
#   a. link down: the 0-1 link goes down for ~2 s, then up again;
#   b. dropped:   all traffic between nodes 1 and 2 is dropped for ~2 s;
#   c. paused:    node 2 is stopped (SIGSTOP) for ~2 s, then continued.
# During a and b every node must acknowledge writes (a 503 joining/stalled is
# tolerated and retried); during c the two others must. After healing, every
# acknowledged write (keys and values unique per write) must be read back at
# every node, as the one version of its key, and every node's /status must
# show the same clock with nothing pending. SIGTERM then stops every node
# with exit 0.
#
# With namespaces (root, `ip netns add` and veth pairs work): each node in a
# network namespace of its own, the three joined in a full mesh of veth
# pairs, one /30 a pair (10.231.P.1 and .2, P = 1 for 0-1, 2 for 0-2, 3 for
# 1-2) and no route through a third node, so node i reaches node j only over
# the i-j veth, and "link down" (a: `ip link set` on the 0-1 veth) cuts
# exactly the pair 0-1; 0-2 and 1-2 stay up. b is an nftables table in node
# 1's namespace dropping everything in and out of its 1-2 veth (with no `nft`
# command, blackhole routes on both sides instead, said so on a line); nothing
# is added to the host's own network namespace. Replication
# listens on tcp://0.0.0.0:7000 and HTTP on 0.0.0.0:7100 in each namespace
# (the test's curl runs in the node's namespace, on 127.0.0.1); the test
# checks that each fault really stops a peer's HTTP port from answering, and
# that it answers again after healing.
#
# Without them (not root, no `ip`, `ip netns add` or veth failing, or
# CW_NETNS=off) it prints
#   netns: SKIPPED namespaces (REASON); running the transport's own cut instead
# and runs the same scenario on one host: replication over ipc:// endpoints
# in a temporary directory, HTTP on 127.0.0.1 (ports the system picks), a as
# POST /admin/link "cut"/"heal" both ways between 0 and 1, b as "hold"/
# "release" both ways between 1 and 2, c as above. Same end-state checks.
#
# Environment: CW_NETNS=auto (default) | on (namespaces or fail) | off (the
# transport's cut); CW_NETNS_DEADLINE (seconds to converge after healing,
# default 15); CW_NETNS_TRACES (directory for the traces, default
# ./netns-traces-MODE, MODE netns or loopback).
#
# Every node writes --trace to CW_NETNS_TRACES/nodeI.jsonl, kept after the run
# (replaced by the next run's); `causeway check` judges them at the end.
#
# Everything made here (processes, namespaces with their veths and nft
# tables) is named with this shell's PID and removed on exit, failed, or
# interrupted (SIGINT, SIGTERM; not SIGKILL). The whole run fails rather
# than go on past CW_NETNS_BUDGET seconds (default 120: 16 s idle, over 60 s
# under ASan on a loaded machine).
#   tests/cli/netns.sh CAUSEWAY
set -euo pipefail
cw=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
P=$$
dir=$(mktemp -d)
deadline_s=${CW_NETNS_DEADLINE:-15}
tag=$P-$RANDOM
mode=loopback
made_ns=()
node_pids=()
writer_pids=()
port=()

say() { echo "netns: $*"; }
fail() { run_fail netns 3 "$*"; }

. "$(dirname "$0")/nsrun.bash"
trap 'run_cleanup netns' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
budget_start "${CW_NETNS_BUDGET:-120}" CW_NETNS_BUDGET

# Names: namespace of node I, node I's veth toward J, its address there.
ns() { echo "cwt${P}n$1"; }
veth() { echo "c${P}v$1$2"; }
pair() { case "$(($1 < $2 ? $1 : $2))$(($1 < $2 ? $2 : $1))" in 01) echo 1 ;; 02) echo 2 ;; 12) echo 3 ;; esac; }
addr() { echo "10.231.$(pair "$1" "$2").$(($1 < $2 ? 1 : 2))"; }
# nsx I CMD...: CMD where node I's clients are (its namespace, or here).
nsx() {
  local i=$1
  shift
  if [ $mode = netns ]; then ip netns exec "$(ns "$i")" "$@"; else "$@"; fi
}
url() { echo "http://127.0.0.1:${port[$1]}$2"; }

try() { "$@" 2>"$dir/try.err" || { reason="'$*' failed: $(head -c 200 "$dir/try.err" | tr '\n' ' ' | sed 's/ *$//')"; return 1; }; }
setup_netns() { # the mesh; 1 with $reason set where this machine cannot make it
  [ "${CW_NETNS:-auto}" != off ] || { reason="CW_NETNS=off"; return 1; }
  [ "$(id -u)" = 0 ] || { reason="not root"; return 1; }
  command -v ip >/dev/null || { reason="no ip command (iproute2)"; return 1; }
  local i j
  for i in 0 1 2; do
    try ip netns add "$(ns $i)" || return 1
    made_ns+=("$(ns $i)")
    try ip -n "$(ns $i)" link set lo up || return 1
  done
  for i in 0 1 2; do
    for j in 0 1 2; do
      [ "$i" -lt "$j" ] || continue
      try ip link add "$(veth $i $j)" netns "$(ns $i)" type veth peer name "$(veth $j $i)" netns "$(ns $j)" ||
        return 1
      try ip -n "$(ns $i)" addr add "$(addr $i $j)/30" dev "$(veth $i $j)" || return 1
      try ip -n "$(ns $j)" addr add "$(addr $j $i)/30" dev "$(veth $j $i)" || return 1
      try ip -n "$(ns $i)" link set "$(veth $i $j)" up || return 1
      try ip -n "$(ns $j)" link set "$(veth $j $i)" up || return 1
    done
  done
}

if setup_netns; then
  mode=netns
else
  [ "${CW_NETNS:-auto}" != on ] || fail "CW_NETNS=on but no namespaces: $reason"
  for n in "${made_ns[@]}"; do ip netns del "$n" 2>/dev/null || true; done
  made_ns=()
  say "SKIPPED namespaces ($reason); running the transport's own cut instead"
  echo "netns: SKIPPED namespaces ($reason); running the transport's own cut instead" >&2
fi

# The nodes, with the default options: no ZeroMQ heartbeats (a link that
# went silent carries on once TCP delivers again; tests/cli/paused.sh says
# why they are off).
traces=${CW_NETNS_TRACES:-$PWD/netns-traces-$mode}
mkdir -p "$traces"
rm -f "$traces"/node[012].jsonl
for i in 0 1 2; do
  args=(node --id "$i" --nodes 3 --fresh --trace "$traces/node$i.jsonl")
  if [ $mode = netns ]; then
    args+=(--listen tcp://0.0.0.0:7000 --http 0.0.0.0:7100)
    for j in 0 1 2; do [ "$j" = "$i" ] || args+=(--peer "$j=tcp://$(addr $j $i):7000"); done
  else
    args+=(--listen "ipc://$dir/r$i" --http 127.0.0.1:0)
    for j in 0 1 2; do [ "$j" = "$i" ] || args+=(--peer "$j=ipc://$dir/r$j"); done
  fi
  pre=()
  [ $mode = loopback ] || pre=(ip netns exec "$(ns $i)") # which execs: its PID is the node's
  "${pre[@]}" "$cw" "${args[@]}" >"$dir/out$i" 2>&1 &
  node_pids[i]=$!
done
served() { grep -q "http .*:[0-9]" "$dir/out$1"; }
for i in 0 1 2; do
  await 10 "node $i printed no serving line" served "$i"
  port[i]=$(grep -o 'http [^ ]*:[0-9]*' "$dir/out$i" | sed 's/.*://')
  [ "$(cat "/proc/${node_pids[i]}/comm")" = causeway ] || fail "PID ${node_pids[i]} is not node $i"
done
say "mode $mode; nodes serving (HTTP ports ${port[*]}); traces in $traces"

# post I PATH BODY OUT: the HTTP status of POST PATH at node I (000: none).
post() {
  local code
  code=$(nsx "$1" curl -s -o "$4" -w '%{http_code}' --max-time 3 -X POST -H 'Content-Type: application/json' \
    -d "$3" "$(url "$1" "$2")") || true
  echo "${code:-000}"
}
# write_must I KEY: a write at node I that must be acknowledged; 503 and no
# answer are retried for up to 10 s.
write_must() {
  local i=$1 key=$2 value="m-$2-$tag" code limit=$(($(now_ms) + 10000))
  while :; do
    code=$(post "$i" /write "{\"key\":\"$key\",\"value\":\"$value\"}" "$dir/must.body")
    case $code in
      200) echo "$key $value" >>"$dir/must$i"; return ;;
      503 | 000)
        kill -0 "${node_pids[i]}" 2>/dev/null || fail "node $i is gone: $(wait "${node_pids[i]}"; echo "exit $?")"
        [ "$(now_ms)" -lt "$limit" ] || fail "write of $key at node $i: still $code after 10 s"
        in_budget ;;
      *) fail "write of $key at node $i answered $code: $(cat "$dir/must.body")" ;;
    esac
    sleep 0.1
  done
}
admin() { # admin AT FROM ACTION: POST /admin/link at node AT about what comes from FROM
  local code
  code=$(post "$1" /admin/link "{\"from\":$2,\"to\":$1,\"action\":\"$3\"}" "$dir/admin.body")
  [ "$code" = 200 ] || fail "admin $3 $2->$1 answered $code: $(cat "$dir/admin.body")"
}

# Writers: one per node, unique keys and values, each acknowledged write
# recorded; a writer skips its node while the node is paused.
writer() {
  local i=$1 n=0 code
  while [ ! -e "$dir/stop" ]; do
    if [ -e "$dir/paused$i" ]; then sleep 0.05; continue; fi
    n=$((n + 1))
    code=$(post "$i" /write "{\"key\":\"w$i-$n\",\"value\":\"v$i-$n-$tag\"}" "$dir/wbody$i")
    case $code in
      200) echo "w$i-$n v$i-$n-$tag" >>"$dir/acked$i" ;;
      503) echo "$code" >>"$dir/busy$i" ;;    # joining or stalled: tolerated, not acknowledged
      *) echo "$code $(cat "$dir/wbody$i" 2>/dev/null)" >>"$dir/other$i" ;;
    esac
    sleep 0.02
  done
}
acked() { if [ -f "$dir/acked$1" ]; then wc -l <"$dir/acked$1"; else echo 0; fi; }
for i in 0 1 2; do write_must "$i" "start$i"; done
for i in 0 1 2; do
  writer "$i" >"$dir/writer$i.log" 2>&1 &
  writer_pids[i]=$!
done
# more_acked I N: node I's writer has N acknowledged writes more than at $mark_I.
more_acked() { [ "$(acked "$1")" -ge $(($2 + $3)) ]; }
writes_during() { # writes_during PHASE NODES...: each node acknowledges writes now
  local phase=$1 i
  shift
  local -a mark=()
  for i in "$@"; do mark[i]=$(acked "$i"); done
  for i in "$@"; do write_must "$i" "$phase$i"; done
  for i in "$@"; do await 10 "node $i: no writes acknowledged while $phase" more_acked "$i" "${mark[i]}" 3; done
}
for i in 0 1 2; do await 10 "node $i: writer got no acknowledgement" more_acked "$i" 0 3; done

# reaches I J: node I's namespace reaches node J's HTTP port over their link.
reaches() { ip netns exec "$(ns "$1")" curl -s -o /dev/null --max-time "${3:-1}" "http://$(addr "$2" "$1"):7100/status"; }
cut_off() { ! reaches "$1" "$2" 0.5 && ! reaches "$2" "$1" 0.5; }
both_ways() { reaches "$1" "$2" && reaches "$2" "$1"; }

# a. The 0-1 link down for ~2 s.
t0=$(now_ms)
if [ $mode = netns ]; then
  ip -n "$(ns 0)" link set "$(veth 0 1)" down
  cut_off 0 1 || fail "link 0-1 is down but nodes 0 and 1 still reach each other"
  both_ways 0 2 && both_ways 1 2 || fail "link 0-1 is down and 0-2 or 1-2 went with it"
else
  admin 1 0 cut
  admin 0 1 cut
fi
say "a. link 0-1 down ($([ $mode = netns ] && echo "veth $(veth 0 1)" || echo "cut both ways"))"
writes_during linkdown 0 1 2
sleep "$(awk -v ms=$((2000 - ($(now_ms) - t0))) 'BEGIN { print (ms > 0 ? ms / 1000 : 0) }')"
if [ $mode = netns ]; then
  ip -n "$(ns 0)" link set "$(veth 0 1)" up
  await 10 "link 0-1 is up again but nodes 0 and 1 do not reach each other" both_ways 0 1
else
  admin 1 0 heal
  admin 0 1 heal
fi
say "a. link 0-1 $([ $mode = netns ] && echo up || echo healed) after $(($(now_ms) - t0)) ms"

# b. Everything between nodes 1 and 2 dropped for ~2 s.
t0=$(now_ms)
if [ $mode = netns ]; then
  if command -v nft >/dev/null; then
    how="nftables table cwt$P in node 1's namespace"
    ip netns exec "$(ns 1)" nft -f - <<EOF
table inet cwt$P {
  chain in { type filter hook input priority 0; policy accept; iifname "$(veth 1 2)" drop; }
  chain out { type filter hook output priority 0; policy accept; oifname "$(veth 1 2)" drop; }
}
EOF
  else
    how="blackhole routes (no nft command here)"
    say "b. no nft command: dropping with blackhole routes instead"
    ip -n "$(ns 1)" route add blackhole "$(addr 2 1)/32"
    ip -n "$(ns 2)" route add blackhole "$(addr 1 2)/32"
  fi
  cut_off 1 2 || fail "1-2 traffic is dropped but nodes 1 and 2 still reach each other"
else
  how="hold both ways (POST /admin/link)"
  admin 2 1 hold
  admin 1 2 hold
fi
say "b. traffic 1-2 dropped: $how"
writes_during dropped 0 1 2
sleep "$(awk -v ms=$((2000 - ($(now_ms) - t0))) 'BEGIN { print (ms > 0 ? ms / 1000 : 0) }')"
if [ $mode = netns ]; then
  if command -v nft >/dev/null; then
    ip netns exec "$(ns 1)" nft delete table inet "cwt$P"
  else
    ip -n "$(ns 1)" route del blackhole "$(addr 2 1)/32"
    ip -n "$(ns 2)" route del blackhole "$(addr 1 2)/32"
  fi
  await 10 "1-2 traffic is let through again but nodes 1 and 2 do not reach each other" both_ways 1 2
else
  admin 2 1 release
  admin 1 2 release
fi
say "b. traffic 1-2 let through after $(($(now_ms) - t0)) ms"

# c. Node 2 stopped for ~2 s; the others keep taking writes.
t0=$(now_ms)
touch "$dir/paused2"
sleep 0.1 # a write under way at node 2 finishes first
kill -STOP "${node_pids[2]}"
say "c. node 2 stopped"
writes_during paused 0 1
sleep "$(awk -v ms=$((2000 - ($(now_ms) - t0))) 'BEGIN { print (ms > 0 ? ms / 1000 : 0) }')"
kill -CONT "${node_pids[2]}"
rm -f "$dir/paused2"
say "c. node 2 continued after $(($(now_ms) - t0)) ms"
# It catches up: what 0 and 1 took while it was stopped reaches it.
has() { [ "$(nsx "$1" curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$(url "$1" "/read/$2")")" = 200 ]; }
t0=$(now_ms)
await "$deadline_s" "node 2 did not catch up after SIGCONT" has 2 paused0
await "$deadline_s" "node 2 did not catch up after SIGCONT" has 2 paused1
say "c. node 2 has what 0 and 1 took meanwhile after $(($(now_ms) - t0)) ms"
writes_during continued 2

# Heal is complete: stop writing, then wait for one clock everywhere.
touch "$dir/stop"
for p in "${writer_pids[@]}"; do wait "$p"; done
writer_pids=()
for i in 0 1 2; do write_must "$i" "end$i"; done
status_of() { # "CLOCK PENDING" of node I
  nsx "$1" curl -s --max-time 3 "$(url "$1" /status)" |
    sed -n 's/^{"node":[0-9]*,"clock":\({[^}]*}\),"pending":\([0-9]*\),.*/\1 \2/p' || true
}
converged() {
  local s0 s1 s2
  s0=$(status_of 0) s1=$(status_of 1) s2=$(status_of 2)
  [ -n "$s0" ] && [ "$s0" = "$s1" ] && [ "$s1" = "$s2" ] && [ "${s0##* }" = 0 ]
}
t0=$(now_ms)
until converged; do
  [ $(($(now_ms) - t0)) -lt $((deadline_s * 1000)) ] ||
    fail "no convergence within $deadline_s s: $(for i in 0 1 2; do echo "node $i: $(status_of $i);"; done)"
  in_budget
  sleep 0.1
done
say "converged in $(($(now_ms) - t0)) ms: clock $(status_of 0 | cut -d' ' -f1)"

# Every acknowledged write at every node, with its value, the one version.
cat "$dir"/acked? "$dir"/must? >"$dir/expected"
total=$(wc -l <"$dir/expected")
{
  echo 'write-out = "\n"'
  while read -r key _; do echo "url = \"$(url 0 "/read/$key")\""; done <"$dir/expected"
} >"$dir/reads.all"
for i in 0 1 2; do
  sed "s|:${port[0]}/read/|:${port[i]}/read/|" "$dir/reads.all" >"$dir/reads$i"
  nsx "$i" curl -s --max-time 60 -K "$dir/reads$i" >"$dir/got$i" || fail "reads at node $i failed"
  [ "$(wc -l <"$dir/got$i")" = "$total" ] || fail "node $i answered $(wc -l <"$dir/got$i") of $total reads"
  if grep -q '"siblings"' "$dir/got$i"; then fail "node $i: a key written once has siblings"; fi
  sed 's/^{"status":"success","value":"\([^"]*\)",.*/\1/' "$dir/got$i" |
    paste -d' ' "$dir/expected" - | awk -v node="$i" '$2 != $3 {
      print "netns: FAIL: node " node ": " $1 " is " $3 ", acknowledged as " $2 > "/dev/stderr"; bad = 1 }
      END { exit bad }' || fail "node $i lost acknowledged writes"
done
# The converged clock counts every acknowledged write of each node.
clock=$(status_of 0 | cut -d' ' -f1)
for i in 0 1 2; do
  n=$(cat "$dir/acked$i" "$dir/must$i" | wc -l)
  c=$(echo "$clock" | grep -o "\"$i\":[0-9]*" | cut -d: -f2)
  [ "$c" -ge "$n" ] || fail "clock $clock counts $c writes of node $i, which acknowledged $n"
done
# A writer's request may go unanswered (000: node 2 stopped under it, or a
# slow machine), never answered otherwise than 200 or 503.
if cat "$dir"/other? 2>/dev/null | grep -v '^000 '; then fail "writers got the answers above"; fi
say "$total acknowledged writes read back at all 3 nodes ($(acked 0)+$(acked 1)+$(acked 2) by the writers;" \
  "503 answers: $(cat "$dir"/busy? 2>/dev/null | wc -l); unanswered: $(cat "$dir"/other? 2>/dev/null | wc -l))"
metric() { nsx "$1" curl -s --max-time 3 "$(url "$1" /metrics)" | sed -n "s/^causeway_$2 //p" || true; }
if [ $mode = loopback ]; then
  dropped=$(metric 1 faults_dropped_total)
  [ "${dropped:-0}" -gt 0 ] || fail "node 1 dropped nothing from node 0 while cut"
fi
say "loss recovery (pulls/recovered/retransmitted) at nodes 0 1 2:" \
  "$(for i in 0 1 2; do echo -n "$(metric $i pulls_total)/$(metric $i recovered_total)/$(metric $i retransmitted_total) "; done)"

# SIGTERM: every node stops cleanly (and flushes its trace).
for i in 0 1 2; do kill -TERM "${node_pids[i]}"; done
for i in 0 1 2; do wait "${node_pids[i]}" || fail "node $i exited $? on SIGTERM"; done
node_pids=()
for i in 0 1 2; do [ -s "$traces/node$i.jsonl" ] || fail "node $i wrote no trace"; done
# The ground truth from the traces alone: causal order, every write's clock
# its causal past, reads, nothing lost or applied twice, convergence.
"$cw" check "$traces"/node[012].jsonl >"$dir/check" 2>&1 || { cat "$dir/check" >&2; fail "causeway check"; }
say "causeway check: $(grep '^ *verdict' "$dir/check" | tr -s ' ')"
t=$((($(now_ms) - start_ms) / 100))
say "PASS ($mode, ${t%?}.${t: -1} s)"
