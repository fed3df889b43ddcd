#!/bin/sh
# causeway check as a user meets it (docs/traces.md):
#  - the traces of a real run (stress --processes --keep-traces) pass;
#  - hand-written traces pass, and each planted violation exits 1 naming
#    its rule, file and line: causal order, a clock that is not the causal
#    past (a missed and a false concurrency: precision and recall drop), a
#    read's siblings, a lost write, a write applied twice, divergence; a
#    restarted node passes, and fails when it writes again a lost dot that
#    a read had returned;
#  - a toy replicated store that is not Causeway (toy_replicas.awk) passes,
#    and fails with its planted bug;
#  - malformed or hostile input exits 2 naming FILE:LINE;
#  - --policy lww: the traces of three real `causeway node --policy lww`
#    processes (concurrent writes and deletes to one key, links held) pass,
#    and fail the siblings rule; hand-written LWW traces pass, and a read of
#    two versions, of a replaced version, of one not applied, of nothing
#    beside a live maximal version, and final reads that disagree each exit
#    1 naming the rule.
#   tests/cli/check.sh CAUSEWAY [real|planted|toy|malformed|lww]  (default: all)
set -eu
cw=$1
part=${2:-all}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
dir=$(mktemp -d)
pids=""
trap 'for p in $pids; do kill -KILL "$p" 2>/dev/null || true; done; rm -rf "$dir"' EXIT
cd "$dir"

fail() { echo "FAIL: $*" >&2; cat out.txt err.txt >&2 2>/dev/null || true; exit 1; }

# expect STATUS PATTERN TRACE...: causeway check exits STATUS and prints
# PATTERN (a grep -E pattern) on stdout or stderr.
expect() {
  want=$1 pattern=$2
  shift 2
  status=0
  "$cw" check "$@" >out.txt 2>err.txt || status=$?
  [ "$status" = "$want" ] || fail "causeway check $* exited $status, not $want"
  ! grep -q "Sanitizer" err.txt || fail "causeway check $*: a sanitizer's report" # exit 1 would hide it
  cat out.txt err.txt | grep -Eq -- "$pattern" || fail "causeway check $*: no /$pattern/"
}

real_run() {
"$cw" stress --processes 3 --writes 300 --keys 4 --reads 0.3 --rmw 0.3 --deletes 0.1 --seed 61 \
  --keep-traces >run.txt || { cat run.txt; fail "the stress run"; }
kept=$(sed -n 's/.*traces kept in //p' run.txt)
[ -n "$kept" ] && [ -f "$kept/trace-0.jsonl" ] || fail "stress --keep-traces kept no traces"
[ -z "$(find "$kept" -type s)" ] || fail "stress --keep-traces kept the nodes' ipc endpoints: $(ls "$kept")"
expect 0 "concurrency +precision 1\.0000, recall 1\.0000.*" "$kept"/trace-*.jsonl
grep -Eq "verdict +PASS" out.txt || fail "no PASS for the real run"
rm -rf "$kept"
}

# Hand-written traces: 3 nodes, keys a and b.
# a: (0,1) and (1,1) concurrent, then (2,1) replaces both with its context;
# b: (1,2), then (2,2) deletes it. Every node ends reading both keys.
traces() {
cat >n0.jsonl <<'EOF'
{"node": 0, "op": "install", "clock": {"0": 0, "1": 0, "2": 0}}
{"node": 0, "op": "write", "dot": [0, 1], "key": "a", "clock": {"0": 1, "1": 0, "2": 0}}
{"node": 0, "op": "apply", "dot": [1, 1]}
{"node": 0, "op": "read", "key": "a", "dots": [[0, 1], [1, 1]]}
{"node": 0, "op": "apply", "dot": [1, 2]}
{"node": 0, "op": "apply", "dot": [2, 1]}
{"node": 0, "op": "apply", "dot": [2, 2]}
{"node": 0, "op": "read", "key": "a", "dots": [[2, 1]]}
{"node": 0, "op": "read", "key": "b", "dots": []}
EOF
cat >n1.jsonl <<'EOF'
{"node": 1, "op": "write", "dot": [1, 1], "key": "a", "clock": {"0": 0, "1": 1, "2": 0}}
{"node": 1, "op": "apply", "dot": [0, 1]}
{"node": 1, "op": "write", "dot": [1, 2], "key": "b", "clock": {"0": 1, "1": 2, "2": 0}}
{"node": 1, "op": "apply", "dot": [2, 1]}
{"node": 1, "op": "apply", "dot": [2, 2]}
{"node": 1, "op": "read", "key": "a", "dots": [[2, 1]]}
{"node": 1, "op": "read", "key": "b", "dots": []}
EOF
cat >n2.jsonl <<'EOF'
{"node": 2, "op": "apply", "dot": [0, 1]}
{"node": 2, "op": "apply", "dot": [1, 1]}
{"node": 2, "op": "apply", "dot": [1, 2]}
{"node": 2, "op": "write", "dot": [2, 1], "key": "a", "clock": {"0": 1, "1": 2, "2": 1}, "context": {"0": 1, "1": 1, "2": 0}}
{"node": 2, "op": "write", "dot": [2, 2], "key": "b", "clock": {"0": 1, "1": 2, "2": 2}, "delete": true}
{"node": 2, "op": "read", "key": "a", "dots": [[2, 1]]}
{"node": 2, "op": "read", "key": "b", "dots": []}
EOF
}

planted() {
traces
expect 0 "concurrent pairs +1 of 4 same-key pairs" n0.jsonl n1.jsonl n2.jsonl
grep -Eq "precision 1\.0000, recall 1\.0000" out.txt || fail "precision and recall of a correct trace"
cat n0.jsonl n1.jsonl n2.jsonl >all.jsonl # one file for every node is as good
expect 0 "verdict +PASS" all.jsonl
# One node's trace alone: the writes it applied come from traces not given,
# and the violation says so.
expect 1 "unknown write.*a write no trace holds \(no trace of its node was given: check every node's trace together\)" n0.jsonl
# Keys are bytes: two keys that differ after a NUL are two keys (as a node's
# trace writes them), not one whose reads would look stale.
cat >nul.jsonl <<'EOF'
{"node": 0, "op": "install", "clock": {"0": 0}}
{"node": 0, "op": "write", "dot": [0, 1], "key": "k\u0000a", "clock": {"0": 1}}
{"node": 0, "op": "write", "dot": [0, 2], "key": "k\u0000b", "clock": {"0": 2}}
{"node": 0, "op": "read", "key": "k\u0000a", "dots": [[0, 1]]}
{"node": 0, "op": "read", "key": "k\u0000b", "dots": [[0, 2]]}
EOF
expect 0 "verdict +PASS" nul.jsonl
grep -Eq "writes +2 \(2 keys" out.txt || fail "keys that differ after a NUL were merged"
# A read that returns one version twice is wrong (a version is one write).
cat >twice.jsonl <<'EOF'
{"node": 0, "op": "install", "clock": {"0": 0}}
{"node": 0, "op": "write", "dot": [0, 1], "key": "a", "clock": {"0": 1}}
{"node": 0, "op": "read", "key": "a", "dots": [[0, 1], [0, 1]]}
EOF
expect 1 "violation +\[read siblings\] twice.jsonl:3: node 0: node 0 read version 0\.1 of a key \(a\) twice" twice.jsonl

# plant FILE LINE NEWTEXT: a copy of FILE (bad-FILE) with line LINE replaced
# (NEWTEXT empty: deleted; "dup": the line twice).
plant() {
  awk -v n="$2" -v t="$3" 'NR == n { if (t == "dup") { print; print } else if (t != "") print t; next } { print }' \
    "$1" >"bad-$1"
}

# Causal order: node 2 applies (1,2) before (0,1), which (1,2) depends on.
plant n2.jsonl 1 ""
printf '%s\n' '{"node": 2, "op": "apply", "dot": [0, 1]}' >>bad-n2.jsonl
expect 1 "violation +\[causal order\] bad-n2.jsonl:2: node 2: .*before write 0\.1 it depends on" \
  n0.jsonl n1.jsonl bad-n2.jsonl

# Clocks that are not the causal past: (1,1) claims to follow (0,1) (a
# concurrent pair missed) and (2,2) claims not to follow (1,2) (an ordered
# pair called concurrent): precision and recall both fall to 0.
plant n1.jsonl 1 '{"node": 1, "op": "write", "dot": [1, 1], "key": "a", "clock": {"0": 1, "1": 1, "2": 0}}'
plant n2.jsonl 5 '{"node": 2, "op": "write", "dot": [2, 2], "key": "b", "clock": {"0": 1, "1": 1, "2": 2}, "delete": true}'
expect 1 "violation +\[clock is not the causal past\] bad-n1.jsonl:1: node 1: write 1\.1 was stamped" \
  n0.jsonl bad-n1.jsonl bad-n2.jsonl
grep -Eq "precision 0\.0000, recall 0\.0000 \(the clocks' verdicts: 1 pairs called concurrent that are ordered, 1 concurrent pairs missed; 2 clocks" out.txt ||
  fail "precision and recall of wrong clocks"

# A read's siblings: node 0 returns (1,1) without its concurrent (0,1).
plant n0.jsonl 4 '{"node": 0, "op": "read", "key": "a", "dots": [[1, 1]]}'
expect 1 "violation +\[read siblings\] bad-n0.jsonl:4: node 0: node 0 read a key \(a\) without write 0\.1" \
  bad-n0.jsonl n1.jsonl n2.jsonl

# A context that did not cover (0,1): it stays a sibling of (2,1), and the
# reads that miss it are lost updates.
plant n2.jsonl 4 '{"node": 2, "op": "write", "dot": [2, 1], "key": "a", "clock": {"0": 1, "1": 2, "2": 1}, "context": {"0": 0, "1": 1, "2": 0}}'
expect 1 "violation +\[read siblings\] bad-n2.jsonl:6: node 2: .*without write 0\.1.*lost update" n0.jsonl n1.jsonl bad-n2.jsonl

# A node's own writes can be siblings: (0,3)'s empty context left (0,1)
# live, and a read of (0,3) alone lost it, though (0,3) is node 0's last.
printf '%s\n' '{"node": 0, "op": "write", "dot": [0, 1], "key": "k", "clock": {"0": 1}}' \
  '{"node": 0, "op": "write", "dot": [0, 2], "key": "j", "clock": {"0": 2}}' \
  '{"node": 0, "op": "write", "dot": [0, 3], "key": "k", "clock": {"0": 3}, "context": {}}' \
  '{"node": 0, "op": "read", "key": "k", "dots": [[0, 3]]}' >own.jsonl
expect 1 "violation +\[read siblings\] own.jsonl:4: node 0: .*without write 0\.1.*lost update" own.jsonl
sed -i 's/"dots": \[\[0, 3\]\]/"dots": [[0, 1], [0, 3]]/' own.jsonl
expect 0 "verdict +PASS" own.jsonl
# The same, but (0,4) with a context covering both replaces them after the
# read: (0,1) is no final version, yet the read had lost it.
sed 's/"dots": \[\[0, 1\], \[0, 3\]\]/"dots": [[0, 3]]/' own.jsonl >later.jsonl
printf '%s\n' '{"node": 0, "op": "write", "dot": [0, 4], "key": "k", "clock": {"0": 4}, "context": {"0": 3}}' >>later.jsonl
expect 1 "violation +\[read siblings\] later.jsonl:4: node 0: .*without write 0\.1.*by the read's end superseded" later.jsonl
cp own.jsonl later.jsonl
printf '%s\n' '{"node": 0, "op": "write", "dot": [0, 4], "key": "k", "clock": {"0": 4}, "context": {"0": 3}}' >>later.jsonl
expect 0 "verdict +PASS" later.jsonl

# A node killed after a plain delete that reached no peer: the delete is
# lost with it, so its read that found nothing after it cannot be judged
# (node 0's 0.1 is live again to the ground truth).
printf '%s\n' '{"node": 0, "op": "install", "clock": {"0": 0, "1": 0}}' \
  '{"node": 0, "op": "write", "dot": [0, 1], "key": "k", "clock": {"0": 1, "1": 0}}' >lost0.jsonl
printf '%s\n' '{"node": 1, "op": "install", "clock": {"0": 0, "1": 0}}' \
  '{"node": 1, "op": "apply", "dot": [0, 1]}' \
  '{"node": 1, "op": "write", "dot": [1, 1], "key": "k", "clock": {"0": 1, "1": 1}, "delete": true}' \
  '{"node": 1, "op": "read", "key": "k", "dots": []}' \
  '{"node": 1, "op": "write", "dot": [1, 2], "key": "z", "clock": {"0": 1, "1": 2}}' \
  '{"node": 1, "op": "install", "clock": {"0": 1, "1": 0}}' \
  '{"node": 1, "op": "read", "key": "k", "dots": [[0, 1]]}' >lost1.jsonl
expect 0 "verdict +PASS" lost0.jsonl lost1.jsonl
grep -Eq "lost with processes +2 writes" out.txt || fail "the delete and write lost with node 1's process"

# A lost write: node 1 never applies (2,2).
plant n1.jsonl 5 ""
expect 1 "violation +\[lost write\] bad-n1.jsonl:6: node 1: node 1's trace ends without write \(2, 2\) \(written at n2.jsonl:5\)" \
  n0.jsonl bad-n1.jsonl n2.jsonl

# A write applied twice: node 0 applies (1,1) again.
plant n0.jsonl 3 dup
expect 1 "violation +\[applied twice\] bad-n0.jsonl:4: node 0: .*applied twice" bad-n0.jsonl n1.jsonl n2.jsonl

# Divergence: node 1 ends holding the siblings (2,1) replaced.
plant n1.jsonl 6 '{"node": 1, "op": "read", "key": "a", "dots": [[0, 1], [1, 1]]}'
expect 1 "violation +\[divergence\] bad-n1.jsonl:6: node 1: nodes 0 and 1 end with different versions of a" \
  n0.jsonl bad-n1.jsonl n2.jsonl
# --json names the trace whose line it was; a path that is not UTF-8 has
# '?' for its other bytes (JSON holds only UTF-8; the field was dropped).
odd=$(printf 'bad\377\001name.jsonl')
cp bad-n1.jsonl "$odd"
expect 1 "divergence" --json odd.json n0.jsonl "$odd" n2.jsonl
grep -q '"file": "bad??name.jsonl"' odd.json && grep -q '"reads_checked": ' odd.json && grep -q '"joining_reads": 0,' odd.json || fail "--json of a trace named in bytes that are not UTF-8: $(cat odd.json)"
# A long key is shown cut between characters, so the message keeps what
# follows it (it ended inside a 6,001-byte key, half a character last).
long=x$(printf '\303\251%.0s' $(seq 3000))
for f in n0 n1 n2; do sed "s/\"key\": \"a\"/\"key\": \"$long\"/" $f.jsonl >long-$f.jsonl; done
plant long-n1.jsonl 6 "{\"node\": 1, \"op\": \"read\", \"key\": \"$long\", \"dots\": [[0, 1], [1, 1]]}"
expect 1 "violation +\[divergence\] bad-long-n1.jsonl:6: node 1: nodes 0 and 1 end with different versions of x(é){23}\.\.\. \(a key of 6001 bytes\): 1 at long-n0.jsonl:8, 2 here" long-n0.jsonl bad-long-n1.jsonl long-n2.jsonl
# Final reads compare as sets: the same versions in another order agree,
# and as many with one other do not. (0,2) replaces (0,1); (1,1) is their
# sibling.
cat >sib0.jsonl <<'EOF'
{"node": 0, "op": "install", "clock": {"0": 0, "1": 0}}
{"node": 0, "op": "write", "dot": [0, 1], "key": "s", "clock": {"0": 1, "1": 0}}
{"node": 0, "op": "write", "dot": [0, 2], "key": "s", "clock": {"0": 2, "1": 0}}
{"node": 0, "op": "apply", "dot": [1, 1]}
{"node": 0, "op": "read", "key": "s", "dots": [[0, 2], [1, 1]]}
EOF
cat >sib1.jsonl <<'EOF'
{"node": 1, "op": "install", "clock": {"0": 0, "1": 0}}
{"node": 1, "op": "write", "dot": [1, 1], "key": "s", "clock": {"0": 0, "1": 1}}
{"node": 1, "op": "apply", "dot": [0, 1]}
{"node": 1, "op": "apply", "dot": [0, 2]}
{"node": 1, "op": "read", "key": "s", "dots": [[1, 1], [0, 2]]}
EOF
expect 0 "verdict +PASS" sib0.jsonl sib1.jsonl
plant sib1.jsonl 5 '{"node": 1, "op": "read", "key": "s", "dots": [[1, 1], [0, 1]]}'
expect 1 "violation +\[divergence\] bad-sib1.jsonl:5: node 1: nodes 0 and 1 end with different versions of s: 2 at sib0.jsonl:5, 2 here" \
  sib0.jsonl bad-sib1.jsonl


# A restart: node 1 dies after writing (1,2), which reached no one, and its
# new incarnation installs (0,1) and (1,1) and writes (1,2) again: lost
# with the old process, no violation. Had a read returned the lost (1,2),
# writing that dot again is one.
cat >r0.jsonl <<'EOF'
{"node": 0, "op": "install", "clock": {"0": 0, "1": 0}}
{"node": 0, "op": "write", "dot": [0, 1], "key": "a", "clock": {"0": 1, "1": 0}}
{"node": 0, "op": "apply", "dot": [1, 1]}
{"node": 0, "op": "apply", "dot": [1, 2]}
{"node": 0, "op": "read", "key": "b", "dots": [[1, 1]]}
{"node": 0, "op": "read", "key": "c", "dots": [[1, 2]]}
EOF
cat >r1.jsonl <<'EOF'
{"node": 1, "op": "install", "clock": {"0": 0, "1": 0}}
{"node": 1, "op": "write", "dot": [1, 1], "key": "b", "clock": {"0": 0, "1": 1}}
{"node": 1, "op": "write", "dot": [1, 2], "key": "b", "clock": {"0": 0, "1": 2}}
{"node": 1, "op": "read", "key": "a", "dots": []}
{"node": 1, "op": "install", "clock": {"0": 1, "1": 1}}
{"node": 1, "op": "write", "dot": [1, 2], "key": "c", "clock": {"0": 1, "1": 2}}
{"node": 1, "op": "read", "key": "b", "dots": [[1, 1]]}
{"node": 1, "op": "read", "key": "c", "dots": [[1, 2]]}
EOF
expect 0 "restart +node 1 restarted: history node 2 .*up to 1\)" r0.jsonl r1.jsonl
grep -Eq "lost with processes +1 writes reached no node that ran on; 1 of their dots written again" out.txt ||
  fail "the lost write of the restart"
# Node 1 restarts again: each incarnation installs more of its own writes.
head -n 4 r1.jsonl >twice.jsonl
cat >>twice.jsonl <<'EOF'
{"node": 1, "op": "install", "clock": {"0": 1, "1": 1}}
{"node": 1, "op": "write", "dot": [1, 2], "key": "c", "clock": {"0": 1, "1": 2}}
{"node": 1, "op": "write", "dot": [1, 3], "key": "c", "clock": {"0": 1, "1": 3}}
{"node": 1, "op": "install", "clock": {"0": 1, "1": 2}}
{"node": 1, "op": "write", "dot": [1, 3], "key": "d", "clock": {"0": 1, "1": 3}}
{"node": 1, "op": "read", "key": "c", "dots": [[1, 2]]}
{"node": 1, "op": "read", "key": "d", "dots": [[1, 3]]}
EOF
head -n 4 r0.jsonl >twice0.jsonl
printf '%s\n' '{"node": 0, "op": "apply", "dot": [1, 3]}' '{"node": 0, "op": "read", "key": "d", "dots": [[1, 3]]}' >>twice0.jsonl
expect 0 "restart +node 1 restarted: history node 3 .*up to 2\)" twice0.jsonl twice.jsonl
grep -Eq "lost with processes +2 writes" out.txt || fail "the lost writes of two restarts"
# A lost dot a read returned stays lost over a restart that wrote nothing:
# the incarnation after it must not write that dot again either.
head -n 3 r1.jsonl >skip.jsonl
cat >>skip.jsonl <<'EOF'
{"node": 1, "op": "read", "key": "b", "dots": [[1, 2]]}
{"node": 1, "op": "install", "clock": {"0": 1, "1": 1}}
{"node": 1, "op": "install", "clock": {"0": 1, "1": 1}}
{"node": 1, "op": "write", "dot": [1, 2], "key": "c", "clock": {"0": 1, "1": 2}}
{"node": 1, "op": "read", "key": "c", "dots": [[1, 2]]}
EOF
expect 1 "violation +\[sequence number reused\] skip.jsonl:7: node 1: .*wrote \(1, 2\) again" r0.jsonl skip.jsonl
# The dead incarnation's reads of its lost writes go unjudged only when
# they are such writes: made before the read, to its key, not deletes; and
# the lost writes' dots go on 1, 2, 3, ... too.
head -n 3 r0.jsonl >lr0.jsonl
head -n 3 r1.jsonl >lostread.jsonl
printf '%s\n' '{"node": 1, "op": "read", "key": "b", "dots": [[1, 7]]}' \
  '{"node": 1, "op": "install", "clock": {"0": 1, "1": 1}}' '{"node": 1, "op": "read", "key": "b", "dots": [[1, 1]]}' \
  >>lostread.jsonl
expect 1 "violation +\[read siblings\] lostread.jsonl:4: node 1: node 1 read version 1\.7 of a key \(b\), which it had not made" \
  lr0.jsonl lostread.jsonl
sed 's/"key": "b", "dots": \[\[1, 7\]\]/"key": "a", "dots": [[1, 2]]/' lostread.jsonl >lostkey.jsonl
expect 1 "violation +\[read siblings\] lostkey.jsonl:4: node 1: .*version 1\.2 of a key \(a\), which is no write to that key" \
  lr0.jsonl lostkey.jsonl
sed 's/"dot": \[1, 2\]/"dot": [1, 3]/' lostread.jsonl >lostskip.jsonl
expect 1 "violation +\[sequence number skipped\] lostskip.jsonl:3: node 1: node 1 wrote dot \(1, 3\) after its write 1" \
  lr0.jsonl lostskip.jsonl

# The old incarnation's last line, cut by the crash, is dropped.
plant r1.jsonl 3 dup
plant bad-r1.jsonl 4 '{"node": 1, "op": "wri'
expect 0 "lost with processes .*a last line cut by a crash, dropped" r0.jsonl bad-bad-r1.jsonl
plant r1.jsonl 3 dup
plant bad-r1.jsonl 4 '{"node": 1, "op": "read", "key": "b", "dots": [[1, 2]]}'
expect 1 "violation +\[sequence number reused\] bad-bad-r1.jsonl:7: node 1: .*wrote \(1, 2\) again" r0.jsonl bad-bad-r1.jsonl
}

not_causeway() {
awk -v seed=7 -f "$here/toy_replicas.awk" >toy.jsonl
expect 0 "verdict +PASS" toy.jsonl
awk -v seed=7 -v bug=1 -f "$here/toy_replicas.awk" >toy-bug.jsonl
expect 1 "violation +\[clock is not the causal past\] toy-bug.jsonl:[0-9]+: " --json toy.json toy-bug.jsonl
grep -q '"verdict": "fail"' toy.json && grep -q '"rule": "clock is not the causal past"' toy.json &&
  grep -q '"file": "toy-bug.jsonl"' toy.json || fail "the verdict as JSON"
grep -Eq "precision 0\.[0-9]+, recall" out.txt || fail "the toy's bug leaves precision at 1"

}

malformed() {
traces
bad() { # bad LINE PATTERN: a trace of a good line, then LINE
  head -n 1 n1.jsonl >hostile.jsonl
  printf '%s\n' "$1" >>hostile.jsonl
  expect 2 "causeway check: hostile.jsonl:2: .*$2" hostile.jsonl
}
bad '{"node": 0, "op": "write"' "not JSON"
bad '{"node": 0, "op": "apply", "dot": [1, 99999999999999999999999]}' "a number out of range"
bad '{"node": 18446744073709551616, "op": "apply", "dot": [1, 1]}' "a number out of range \(integers from -2\^63 to 2\^63 - 1\)"
bad '{"node": 4294967296, "op": "apply", "dot": [1, 1]}' "no \"node\" id in range"
bad '{"node": 64, "op": "apply", "dot": [1, 1]}' "no \"node\" id in range \(an integer from 0, below 64 and the group's size\)"
bad '{"node": "0", "op": "apply", "dot": [1, 1]}' "no \"node\" id in range"
bad '{"node": 0, "op": "apply", "dot": [1, 0]}' "an apply's \"dot\" is not"
bad '{"node": 0, "op": "apply", "dot": [1, 1, 1]}' "an apply's \"dot\" is not"
bad '{"node": 0, "op": "apply", "dot": [0, 1]}' "an apply's \"dot\" is not"
bad '{"node": 0, "op": "write", "dot": [0, 1], "key": "a"}' "a clock is an object"
bad '{"node": 0, "op": "write", "dot": [0, 1], "key": 5, "clock": {}}' "a write has no \"key\" string"
bad '{"node": 0, "op": "write", "dot": [0, 1], "key": "a", "clock": {"0": -1}}' "counter is not a whole number"
bad '{"node": 0, "op": "write", "dot": [0, 1], "key": "a", "clock": {"99": 1}}' "key is not a node id"
bad '{"node": 0, "op": "write", "dot": [0, 1], "key": "a", "clock": {"x": 1}}' "key is not a node id"
bad '{"node": 0, "op": "write", "dot": [0, 1], "key": "a", "clock": {" 1": 1}}' "key is not a node id"
bad '{"node": 0, "op": "write", "dot": [0, 1], "key": "a", "clock": {"01": 1}}' "key is not a node id"
bad '{"node": 0, "op": "write", "dot": [0, 1], "key": "a", "clock": {"0": 1, "0": 2}}' "a name given twice"
bad '{"node": 0, "node": 1, "op": "apply", "dot": [1, 1]}' "a name given twice"
# A message quotes the line with its control characters as '?'.
bad "$(printf '\033[31mRED\033]0;title\007')" "not JSON: \?\[31mRED\?\]0;title\?"
! grep -q "$(printf '\033')" err.txt || fail "an escape reached the terminal"
# C1 controls too (CSI, OSC, ST as UTF-8), and not other characters.
bad "$(printf 'x\302\2332J\302\2350;t\302\234 \303\251')" "not JSON: x\?\?2J\?\?0;t\?\? $(printf '\303\251')"
! grep -q "$(printf '\302\233')" err.txt || fail "a CSI reached the terminal"
# A lone 9B is CSI to a terminal not in UTF-8 mode: bytes that are not
# UTF-8 become '?'.
bad "$(printf 'y\2332J \342\202')" "not JSON: y\?2J \?\?"
bad '{"node": 0, "op": "read", "key": "a", "dots": [[0]]}' "a read's dot is not"
# A NUL in a line is quoted as '?', not where the quote ends.
head -n 1 n1.jsonl >hostile.jsonl
printf '{"node": 1, "op": "apply", "dot": [0, 1]}\000tail\n' >>hostile.jsonl
expect 2 "causeway check: hostile.jsonl:2: not JSON: .*\]\}\?tail" hostile.jsonl
bad '{"node": 0, "op": "read", "key": "a"}' "a read needs"
bad '{"node": 0, "op": "merge"}' "\"op\" is not"
bad '[1, 2]' "no \"op\""
bad "$(awk 'BEGIN { for (i = 0; i < 5000; i++) printf "["; for (i = 0; i < 5000; i++) printf "]" }')" "not JSON"
# A whole JSON line that is malformed is no line a crash cut short, even
# when a restart's install follows it: exit 2, not a PASS that hides it.
cat >forgive.jsonl <<'EOF'
{"node": 0, "op": "write", "dot": [0, 1], "key": "k", "clock": {"0": 1}}
{"node": 1, "op": "apply", "dot": [0, 1]}
{"node": 1, "op": "write", "dot": [1, 1], "key": "k", "clock": {"0": 1, "1": 1}, "delete": "yes"}
{"node": 0, "op": "install", "clock": {"0": 1}}
{"node": 0, "op": "read", "key": "k", "dots": [[0, 1]]}
EOF
expect 2 "causeway check: forgive.jsonl:3: " forgive.jsonl
# An install of writes no trace holds names the first one missing.
printf '%s\n' '{"node": 0, "op": "install", "clock": {"1": 3}}' '{"node": 0, "op": "read", "key": "k", "dots": []}' >inst.jsonl
expect 1 "\[unknown write\] inst.jsonl:1: .*a state covering \(1, 1\)" inst.jsonl
# Writes to one key nearly all with wrong clocks: the verdict at once,
# precision and recall said not measured (their pairs grow as the square).
awk 'BEGIN { for (i = 1; i <= 4000; i++)
  printf "{\"node\": 0, \"op\": \"write\", \"dot\": [0, %d], \"key\": \"k\", \"clock\": {\"0\": %d, \"1\": 1}}\n", i, i }' >square.jsonl
expect 1 "precision and recall not measured: 4000 clocks" square.jsonl
"$cw" check --json square.json square.jsonl >/dev/null 2>&1 || true
grep -q '"precision": null' square.json || fail "--json: precision is not null when not measured"
expect 2 "nothing.jsonl: No such file" nothing.jsonl
# A write whose clock leaves out its own entry: its clock is wrong, and the
# message says which entry.
printf '%s\n' '{"node": 0, "op": "write", "dot": [0, 1], "key": "k", "clock": {}}' >noown.jsonl
expect 1 "\[clock is not the causal past\] noown.jsonl:1: node 0: node 0 wrote \(0, 1\) with a clock whose own entry is 0" \
  noown.jsonl
# Two writes that each follow the other (each node applies the other's
# before making its own): a causal cycle, not a write no trace holds.
printf '%s\n' '{"node": 0, "op": "apply", "dot": [1, 1]}' \
  '{"node": 0, "op": "write", "dot": [0, 1], "key": "k", "clock": {"0": 1, "1": 1}}' >cycle0.jsonl
printf '%s\n' '{"node": 1, "op": "apply", "dot": [0, 1]}' \
  '{"node": 1, "op": "write", "dot": [1, 1], "key": "k", "clock": {"0": 1, "1": 1}}' >cycle1.jsonl
expect 1 "\[causal order\] cycle0.jsonl:1: node 0: history node 0 applied \(1, 1\) before node 1 made it .*a causal cycle" \
  cycle0.jsonl cycle1.jsonl
# One file given twice, under two names: its lines are not a second node's.
expect 2 "square.jsonl and \./square.jsonl are one file: give each trace once" square.jsonl ./square.jsonl
# Nor is a trace the --json file: the verdict was written over it.
cp square.jsonl kept.jsonl
expect 2 "--json 'kept.jsonl' is the trace \./kept.jsonl: the verdict would be written over it" --json kept.jsonl ./kept.jsonl
cmp -s square.jsonl kept.jsonl || fail "check --json over its trace changed the trace"
: >empty.jsonl
expect 2 "the traces hold no event" empty.jsonl
expect 2 "causeway check: expected TRACE.jsonl" # no trace at all
# Huge but well-formed numbers are violations, not allocations or crashes.
printf '%s\n' '{"node": 0, "op": "write", "dot": [0, 9223372036854775807], "key": "a", "clock": {"0": 9223372036854775807}}' >huge.jsonl
expect 1 "\[sequence number skipped\] huge.jsonl:1" huge.jsonl
printf '%s\n' '{"node": 1, "op": "apply", "dot": [0, 9223372036854775807]}' >huge.jsonl
expect 1 "\[unknown write\] huge.jsonl:1" huge.jsonl
# A file that is not a trace is refused at its first overlong line, not read
# until memory runs out; a line over 1 MiB is no line a node writes.
expect 2 "causeway check: /dev/zero:1: a line longer than 1048576 bytes" /dev/zero
head -n 1 n1.jsonl >long.jsonl
awk 'BEGIN { printf "{\"node\": 1, \"op\": \"read\", \"key\": \""; for (i = 0; i < 1100; i++) printf "%01000d", 0; print "\", \"dots\": []}" }' >>long.jsonl
expect 2 "causeway check: long.jsonl:2: a line longer than" long.jsonl
# A pass that cannot be written is exit 3, never 1 (a violation): its
# --json file, and its report on standard output. A violation stays 1 (it
# was 3 with --json unwritable, where sim and stress gave 1).
expect 3 "cannot write /dev/full" --json /dev/full n0.jsonl n1.jsonl n2.jsonl
expect 1 "cannot write /dev/full" --json /dev/full huge.jsonl
grep -q "\[unknown write\] huge.jsonl:1" out.txt || fail "a violation with --json unwritable: $(cat out.txt)"
status=0
"$cw" check n0.jsonl n1.jsonl n2.jsonl >/dev/full 2>err.txt || status=$?
[ "$status" = 3 ] && grep -q "cannot write the output" err.txt ||
  fail "a report that could not be written exited $status: $(cat err.txt)"
# Lines of whitespace only (a CRLF file's last line among them) are empty.
{ sed 's/$/\r/' n0.jsonl; printf '  \t\r\n\r\n'; } >crlf.jsonl
expect 0 "verdict +PASS" crlf.jsonl n1.jsonl n2.jsonl
}

# Three `causeway node --policy lww` processes, each tracing; writes made
# while every link is held (so they are truly concurrent), then released.
lww_run() {
for i in 0 1 2; do
  peers=""
  for j in 0 1 2; do [ "$j" != "$i" ] && peers="$peers --peer $j=ipc://$dir/r$j"; done
  # shellcheck disable=SC2086 # $peers is words on purpose
  "$cw" node --id "$i" --nodes 3 --listen "ipc://$dir/r$i" $peers --http 127.0.0.1:0 --policy lww \
    --trace "$dir/t$i.jsonl" --fresh >"node$i.out" 2>"node$i.err" &
  pids="$pids $!"
done
port() { node_http_port "node$1.out" || fail "node $1 did not start: $(cat "node$1.err")"; }
P0=$(port 0) P1=$(port 1) P2=$(port 2)
at() { case $1 in 0) echo "$P0" ;; 1) echo "$P1" ;; *) echo "$P2" ;; esac; }
post() { # post NODE ROUTE BODY: 200 or fail (503 retried while the node joins)
  for _ in $(seq 200); do
    code=$(curl -s -o resp.txt -w '%{http_code}' -X POST "127.0.0.1:$(at "$1")/$2" -d "$3")
    [ "$code" = 200 ] && return
    [ "$code" = 503 ] || break
    sleep 0.05
  done
  fail "POST /$2 $3 at node $1: $code $(cat resp.txt)"
}
links() { # links ACTION: every link, both ways, held or released
  for to in 0 1 2; do for from in 0 1 2; do
    [ "$from" = "$to" ] || post "$to" admin/link "{\"from\": $from, \"to\": $to, \"action\": \"$1\"}"
  done; done
}
settle() { # settle CLOCK: every node's clock is CLOCK (every write applied everywhere)
  for _ in $(seq 200); do
    n=0
    for i in 0 1 2; do
      curl -s "127.0.0.1:$(at "$i")/status" | grep -q "\"clock\":$1" && n=$((n + 1))
    done
    [ "$n" = 3 ] && return
    sleep 0.05
  done
  fail "the nodes did not reach clock $1"
}
post 0 write '{"key": "b", "value": 0}'
post 0 write '{"key": "c", "value": 0}'
settle '{"0":2,"1":0,"2":0}'
links hold
post 0 write '{"key": "a", "value": 0}'
post 1 write '{"key": "a", "value": 1}'
post 2 write '{"key": "a", "value": 2}'
post 1 write '{"key": "b", "value": 1}'
post 2 delete '{"key": "b"}'
post 1 delete '{"key": "c"}'
links release
settle '{"0":3,"1":3,"2":2}'
for i in 0 1 2; do for k in a b c d; do
  code=$(curl -s -o resp.txt -w '%{http_code}' "127.0.0.1:$(at "$i")/read/$k")
  [ "$code" = 200 ] || [ "$code" = 404 ] || fail "read $k at node $i: $code"
done; done
for p in $pids; do kill -TERM "$p"; done
for p in $pids; do wait "$p" || fail "a node exited $? on SIGTERM"; done
pids=""
expect 0 "verdict +PASS: .*last-writer-wins" --policy lww --json lww.json t0.jsonl t1.jsonl t2.jsonl
grep -Eq "concurrent pairs +([4-9]|[1-9][0-9]+) of" out.txt || fail "the run made too few concurrent writes"
grep -Eq "reads +12 checked" out.txt || fail "every node's final reads"
grep -q '"policy": "lww"' lww.json || fail "the policy in the JSON verdict"
# Keep-siblings expects a, written at three nodes at once, to read as three.
expect 1 "violation +\[read siblings\] t[0-2].jsonl:[0-9]+: " t0.jsonl t1.jsonl t2.jsonl
}

# Hand-written LWW traces: a written at nodes 0 and 1 at once, then by node
# 0 having applied both; b written at node 0 and deleted at node 1 at once
# (the delete wins: both nodes read b as not found).
lww_planted() {
cat >l0.jsonl <<'EOF'
{"node": 0, "op": "install", "clock": {"0": 0, "1": 0}}
{"node": 0, "op": "write", "dot": [0, 1], "key": "a", "clock": {"0": 1, "1": 0}}
{"node": 0, "op": "apply", "dot": [1, 1]}
{"node": 0, "op": "read", "key": "a", "dots": [[1, 1]]}
{"node": 0, "op": "write", "dot": [0, 2], "key": "a", "clock": {"0": 2, "1": 1}}
{"node": 0, "op": "read", "key": "a", "dots": [[0, 2]]}
{"node": 0, "op": "write", "dot": [0, 3], "key": "b", "clock": {"0": 3, "1": 1}}
{"node": 0, "op": "apply", "dot": [1, 2]}
{"node": 0, "op": "read", "key": "a", "dots": [[0, 2]]}
{"node": 0, "op": "read", "key": "b", "dots": []}
EOF
cat >l1.jsonl <<'EOF'
{"node": 1, "op": "install", "clock": {"0": 0, "1": 0}}
{"node": 1, "op": "write", "dot": [1, 1], "key": "a", "clock": {"0": 0, "1": 1}}
{"node": 1, "op": "apply", "dot": [0, 1]}
{"node": 1, "op": "write", "dot": [1, 2], "key": "b", "clock": {"0": 1, "1": 2}, "delete": true}
{"node": 1, "op": "apply", "dot": [0, 2]}
{"node": 1, "op": "apply", "dot": [0, 3]}
{"node": 1, "op": "read", "key": "a", "dots": [[0, 2]]}
{"node": 1, "op": "read", "key": "b", "dots": []}
EOF
expect 0 "verdict +PASS" --policy lww l0.jsonl l1.jsonl
grep -Eq "concurrent pairs +2 of 4" out.txt || fail "the LWW traces' concurrent pairs"
expect 1 "violation +\[read siblings\] l0.jsonl:4: node 0: .*without write 0\.1" l0.jsonl l1.jsonl
plant() { awk -v n="$2" -v t="$3" 'NR == n { print t; next } { print }' "$1" >"bad-$1"; }
plant l0.jsonl 4 '{"node": 0, "op": "read", "key": "a", "dots": [[0, 1], [1, 1]]}'
expect 1 "violation +\[read lww\] bad-l0.jsonl:4: node 0: node 0 read 2 versions of a key \(a\); last-writer-wins keeps one" \
  --policy lww bad-l0.jsonl l1.jsonl
plant l0.jsonl 6 '{"node": 0, "op": "read", "key": "a", "dots": [[0, 1]]}'
expect 1 "violation +\[read lww\] bad-l0.jsonl:6: node 0: .*version 0\.1 of a key \(a\) after applying write 0\.2" \
  --policy lww bad-l0.jsonl l1.jsonl
plant l0.jsonl 4 '{"node": 0, "op": "read", "key": "a", "dots": [[1, 2]]}'
expect 1 "violation +\[read lww\] bad-l0.jsonl:4: node 0: " --policy lww bad-l0.jsonl l1.jsonl
plant l0.jsonl 6 '{"node": 0, "op": "read", "key": "a", "dots": []}'
expect 1 "violation +\[read lww\] bad-l0.jsonl:6: node 0: node 0 read nothing of a key \(a\) after applying write 0\.2" \
  --policy lww bad-l0.jsonl l1.jsonl
plant l1.jsonl 8 '{"node": 1, "op": "read", "key": "b", "dots": [[0, 3]]}'
expect 1 "violation +\[divergence\] bad-l1.jsonl:8: node 1: nodes 0 and 1 end with different versions of b" \
  --policy lww l0.jsonl bad-l1.jsonl
expect 2 "siblings\|lww" --policy timestamps l0.jsonl
}

case $part in
  real) real_run ;;
  planted) planted ;;
  toy) not_causeway ;;
  malformed) malformed ;;
  lww) lww_planted; lww_run ;;
  all) real_run; planted; not_causeway; malformed; lww_planted; lww_run ;;
  *) fail "unknown part $part" ;;
esac
echo "check.sh $part: passed"
