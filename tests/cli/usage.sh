#!/usr/bin/env bash
# The causeway command as a user meets it: every bad option names the option,
# the value and what is allowed, with exit status 2; help exits 0 and lists
# every option with its range and default; nothing nonsensical runs.
#   tests/cli/usage.sh CAUSEWAY   (the built or the installed command)
set -uo pipefail
cw=$1
case $cw in */*) cw=$(cd "$(dirname "$cw")" && pwd)/$(basename "$cw") ;; esac # runs from other directories too
failures=0
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# expect STATUS PATTERN ARGS...: the command exits with STATUS and its output
# (stdout and stderr together, as one text: . matches newlines too) matches
# the extended regex PATTERN.
expect() {
  local want=$1 pattern=$2
  shift 2
  local out status
  out=$(timeout 60 "$cw" "$@" </dev/null 2>&1)
  status=$?
  if [ "$status" != "$want" ] || ! grep -Ezq -- "$pattern" <<<"$out"; then
    echo "FAIL: causeway $* -> exit $status (want $want), output:"
    head -c 600 <<<"$out"
    echo
    failures=$((failures + 1))
  fi
}

# Errors: which option, what was given, what is allowed; exit 2.
expect 2 "--nodes '4294967297': expected a whole number from 1 to 65536" stress --nodes 4294967297 --writes 1
expect 2 "--clients '4294967297': expected a whole number from 1 to 256" stress --nodes 2 --writes 1 --clients 4294967297
expect 2 "--delay '': expected a number from 0 to 1" stress --nodes 2 --writes 1 --delay ""
expect 2 "--delay '1.5': expected a number from 0 to 1" stress --nodes 2 --writes 1 --delay 1.5
expect 2 "--delay 0.5: --max-delay-us 0 delays nothing" stress --nodes 2 --writes 1 --delay 0.5 --max-delay-us 0
expect 2 "--dup 'nan': expected" stress --nodes 2 --writes 1 --dup nan
# Certain loss would never end (nothing can be recovered): refused at once.
expect 2 "--drop '1': expected a number from 0 to 0.9" stress --nodes 2 --writes 1 --drop 1
expect 2 "--dup '1': expected a number from 0 to 0.99" sim --seed 1 --dup 1
# Decimal numbers only, as with whole numbers: no hex float.
expect 2 "--drop '0x0.1p0': expected a number from 0 to 0.9" stress --nodes 2 --writes 1 --drop 0x0.1p0
# strtod skips any blank before a number, a newline too: refused, as the
# numbers within --partition, --stop and --kill are when blank or hex.
expect 2 "--dup '.0.5': expected a number from 0 to 0.99" sim --seed 1 --dup $'\n0.5'
expect 2 "--dup '.0.5': expected a number from 0 to 0.99" sim --seed 1 --dup $'\v0.5'
expect 2 "--partition '0x1:0x1': expected START:LEN" stress --nodes 2 --writes 1 --partition 0x1:0x1
expect 2 "--partition '1: 1': expected START:LEN" stress --nodes 2 --writes 1 --partition '1: 1'
expect 2 "--kill '0:0x1': expected I:A" stress --processes 3 --writes 1 --kill 0:0x1
expect 2 "--kill ' 0:1': expected I:A" stress --processes 3 --writes 1 --kill ' 0:1'
expect 2 "--stop '\+0:1:2': expected I:A:B" stress --processes 3 --writes 1 --stop +0:1:2
expect 2 "--stop '0:1: 2': expected I:A:B" stress --processes 3 --writes 1 --stop '0:1: 2'
# The messages give the bound a time is refused for.
expect 2 "--kill '0:4000': expected I:A, node I below 3, seconds 0 <= A <= 3600" stress --processes 3 --writes 1 --kill 0:4000
expect 2 "--stop '0:1:4000': expected I:A:B, node I below 3, seconds 0 <= A < B <= 3600" stress --processes 3 \
  --writes 1 --stop 0:1:4000
expect 2 "--sync goes with --data" cluster --nodes 3 --sync none
# The scenario checks clocks from empty nodes: an earlier run's state is
# refused before anything starts, naming the directory that holds it.
mkdir -p "$scratch/sc/node-1" && : >"$scratch/sc/node-1/data.mdb"
expect 2 "--scenario --data $scratch/sc: $scratch/sc/node-1 holds an earlier run's state" \
  cluster --nodes 3 --base-port 1 --scenario --data "$scratch/sc"
expect 3 "cannot make the ground-truth history for 65536 nodes and 1 writes: .*it would pass this machine's physical memory" stress --nodes 65536 --writes 1
# Writes whose ground truth alone would pass the machine's memory (8 bytes
# a node a write: 33 TB here) are refused at once, where the run grew until
# the kernel killed it.
expect 3 "cannot make the ground-truth history for 4096 nodes and 1000000000 writes: it would pass this machine's physical memory" \
  stress --nodes 4096 --writes 1000000000 --seed 1
# A run that cannot start for memory gives no verdict (3, as sim), still
# says how to replay it, and --json records what stopped it, unjudged.
expect 3 "verdict  *NONE: the run stopped before its check, for this machine's memory.*stopped  *cannot make the ground-truth history.*replay  *causeway stress --nodes 65536 .*--seed 3" \
  stress --nodes 65536 --writes 1 --seed 3 --json "$scratch/unstarted.json"
grep -q '"checked": false' "$scratch/unstarted.json" && grep -q '"verdict": "none"' "$scratch/unstarted.json" &&
  grep -q '"stopped": "cannot make the ground-truth history' "$scratch/unstarted.json" ||
  { echo "FAIL: stress --nodes 65536 --json: no unjudged record"; cat "$scratch/unstarted.json"; failures=$((failures + 1)); }
expect 1 "cannot read /dev/zero: more than 64 MiB" clock compare @/dev/zero 1:1
# A --json file is made empty before a run, so that an earlier run's verdict
# never outlives one that gives none (refused here, exit 2 or 3); sim's run
# refused for memory records it as stress's does.
echo '{"verdict": "pass"}' >"$scratch/stale.json"
expect 3 "the run stopped: .*quadratic in --nodes" sim --seed 1 --nodes 65536 --json "$scratch/stale.json"
grep -q '"verdict": "none"' "$scratch/stale.json" && grep -q '"checked": false' "$scratch/stale.json" &&
  grep -q '"replay": "causeway sim --seed 1 --nodes 65536' "$scratch/stale.json" ||
  { echo "FAIL: sim --nodes 65536 --json: no unjudged record"; cat "$scratch/stale.json"; failures=$((failures + 1)); }
echo '{"verdict": "pass"}' >"$scratch/stale.json"
printf 'not a trace\n' >"$scratch/bad.jsonl"
expect 2 "bad.jsonl" check --json "$scratch/stale.json" "$scratch/bad.jsonl"
[ ! -s "$scratch/stale.json" ] ||
  { echo "FAIL: check of a malformed trace kept an earlier --json: $(cat "$scratch/stale.json")"; failures=$((failures + 1)); }
# --json on standard output (the report's) or on --history's file is refused.
expect 2 "--json -: standard output holds the report: give a file" sim --seed 1 --json -
out=$("$cw" sim --seed 1 --json /dev/stdout 2>&1 >"$scratch/both.txt")
status=$?
[ "$status" = 2 ] && grep -q "is standard output, which holds the report: give another file" <<<"$out" ||
  { echo "FAIL: sim --json /dev/stdout >FILE -> $status: $out"; failures=$((failures + 1)); }
echo "an earlier failure's history" >"$scratch/one"
expect 2 "--json and --history name one file: the history would be written over" \
  stress --nodes 2 --writes 10 --seed 1 --json "$scratch/one" --history "$scratch/one"
grep -q "an earlier failure's history" "$scratch/one" ||
  { echo "FAIL: the refused --json emptied --history's file"; failures=$((failures + 1)); }
# With --duration, --writes is a cap: it is not refused for what the cap
# would take (the history bounds what the run makes).
expect 0 "verdict +PASS" stress --nodes 4 --duration 0.05 --writes 1000000000 --seed 1
expect 0 "verdict +PASS" sim --seed 1 --json /dev/null
# A latency with no sample is null, not 0 (no write was timed after the warm-up).
expect 0 "verdict +PASS" stress --nodes 2 --rate 2 --warmup 0.4 --duration 0.5 --seed 1 --json "$scratch/untimed.json"
grep -q '"count": 0,' "$scratch/untimed.json" && grep -q '"p50_us": null' "$scratch/untimed.json" &&
  grep -q '"partition_made": null' "$scratch/untimed.json" && grep -q '"replay": "causeway stress --nodes 2 ' "$scratch/untimed.json" ||
  { echo "FAIL: stress with no timed write: $(cat "$scratch/untimed.json")"; failures=$((failures + 1)); }
expect 2 "'--policy' after t.jsonl: options go before TRACE.jsonl" check t.jsonl --policy lww
expect 2 "--keys '-1': expected a whole number from 1" stress --nodes 2 --writes 1 --keys -1
expect 2 "--max-delay-us '-1': expected a whole number from 0" stress --nodes 2 --writes 1 --max-delay-us -1
expect 2 "--max-delay-us: applies to --delay only" stress --nodes 2 --writes 1 --max-delay-us 500
expect 2 "--max-delay-us: applies to --delay only" stress --nodes 2 --writes 1 --delay 0 --max-delay-us 500
expect 2 "--writes '-1': expected a whole number from 1" stress --nodes 2 --writes -1
expect 2 "--writes ' 5': expected" stress --nodes 2 --writes " 5"
expect 2 "--seed '0x10': expected a whole number" stress --nodes 2 --writes 1 --seed 0x10
# Seeds stay within what JSON carries exactly as an integer (a seed of 2^64-1
# used to be written as -1, which replays nothing).
expect 2 "--seed '9223372036854775808': expected a whole number from 0 to 2\^63-1" \
  stress --nodes 2 --writes 1 --seed 9223372036854775808
# A clock file with a NUL byte is not silently cut at it.
printf '1:2\0garbage' >"$scratch/nul.txt"
expect 1 "holds a NUL byte" clock compare @"$scratch/nul.txt" 1:2
printf '1:2 \t\r\n' >"$scratch/blanks.txt" # an editor's line end, tabs kept
expect 0 "^EQUAL" clock compare @"$scratch/blanks.txt" 1:2
printf '%s\t\n' "$("$cw" clock encode 1:2)" >"$scratch/hex.txt"
expect 0 "^1:2" clock decode @"$scratch/hex.txt"
expect 2 "--nodes is required \(or --processes\)" stress --writes 1
expect 0 "--nodes N +replicas[[:space:]]+a whole number from 1 to 65536; required unless --processes[[:space:]]" stress --help
expect 2 "--nodes needs a value" stress --writes 1 --nodes
expect 2 "--workers 3: expected at most --nodes \(2\)" stress --nodes 2 --writes 1 --workers 3
# Known before the run, not after it: the history's file (the evidence of a
# failure), a partition that would begin after --duration.
expect 2 "--history '/nonexistent/h': cannot write it" stress --nodes 2 --writes 1 --history /nonexistent/h
expect 2 "--partition 1:1: starts at or after the run's end \(--duration 1\)" stress --nodes 2 --duration 1 --partition 1:1
expect 2 "--policy 'fifo': expected one of siblings\|lww" stress --nodes 2 --writes 1 --policy fifo
expect 2 "unknown option '--nodez'" stress --nodez 2 --writes 1
# --processes reads every key at every node at the end: --keys is bounded
# (10,000,000 keys at 2 nodes used to run for minutes after a 10-write run).
expect 2 "--keys 10000000: expected at most 524288 with --processes 2" stress --processes 2 --writes 10 --keys 10000000
expect 2 "--keys 1000000000: expected at most 16384 with --processes 64" stress --processes 64 --writes 10 --keys 1000000000
expect 2 "--kill given twice" stress --processes 3 --writes 10 --kill 0:1 --kill 1:1
expect 2 "--stop and --kill name the same node 1" stress --processes 3 --writes 10 --stop 1:1:2 --kill 1:1.5
expect 2 "--stop 1:2:3: starts at or after the run's end \\(--duration 0.5\\)" stress --processes 3 --duration 0.5 \
  --stop 1:2:3
expect 2 "--stop 1:0.5:1: starts at or after the run's end" stress --processes 3 --duration 0.5 --stop 1:0.5:1
expect 2 "node 0 is alone in its half of --partition then, so without --data" stress --processes 3 --writes 10 \
  --partition 0.3:2 --kill 0:1.5
expect 2 "--kill 0:0.5 with --drop 0.3: without --data a write of node 0 that is lost on every link" stress \
  --processes 3 --duration 1 --kill 0:0.5 --drop 0.3
# --workers is the in-process engine's; a missing value is named as missing
# (--nodes N, implied by --processes, was appended and taken for it).
expect 2 "--workers: not with --processes" stress --processes 2 --writes 5 --workers 1
expect 2 "--writes needs a value" stress --processes 3 --writes
expect 2 "--processes 'abc': expected a whole number from 2 to 64" stress --processes abc --writes 5
expect 2 "unexpected argument 'extra'" stress --nodes 2 --writes 1 extra
expect 2 "--json '$scratch/no/such/dir/x.json': cannot write it: No such file" \
  stress --nodes 2 --writes 1 --json "$scratch/no/such/dir/x.json"
expect 2 "--writes or --duration is required" stress --nodes 2
expect 2 "--duration '0': expected a number from 0.001 to 86400" stress --nodes 2 --duration 0
expect 2 "--value-size '0': expected a whole number from 1 to 1048576" stress --nodes 2 --writes 1 --value-size 0
expect 2 "--value-size '1048577': expected" stress --nodes 2 --writes 1 --value-size 1048577
expect 2 "--key-dist 'pareto': expected one of uniform\|zipfian" stress --nodes 2 --writes 1 --key-dist pareto
expect 2 "--zipf-theta '1': expected a number from 0.01 to 0.999" stress --nodes 2 --writes 1 --key-dist zipfian --zipf-theta 1
expect 2 "--zipf-theta: applies to --key-dist zipfian only" stress --nodes 2 --writes 1 --zipf-theta 0.5
expect 2 "--keys 200000000: expected at most 100000000 with --key-dist zipfian" stress --nodes 2 --writes 1 --keys 200000000 --key-dist zipfian
expect 2 "--reads '1': expected a number from 0 to 0.99" stress --nodes 2 --writes 1 --reads 1
expect 2 "--rate '0': expected a number from 1 to 1e\+09" stress --nodes 2 --writes 1 --rate 0
expect 2 "--warmup '-1': expected a number from 0.001" stress --nodes 2 --writes 1 --warmup -1
expect 2 "--warmup 2: expected less than --duration \(1\)" stress --nodes 2 --duration 1 --warmup 2
expect 2 "--partition '1': expected START:LEN, seconds" stress --nodes 2 --writes 1 --partition 1
expect 2 "--partition '1:0': expected START:LEN" stress --nodes 2 --writes 1 --partition 1:0
expect 2 "--partition '-1:2': expected START:LEN" stress --nodes 2 --writes 1 --partition -1:2
expect 2 "--partition: needs at least 2 nodes" stress --nodes 1 --writes 1 --partition 0:1
expect 2 "--rate: not with --sequential" stress --nodes 2 --writes 1 --rate 10 --sequential
expect 2 "--seed is required" sim --nodes 3
expect 2 "--nodes '0': expected a whole number from 1 to 65536" sim --seed 1 --nodes 0
expect 2 "--writes '100000001': expected a whole number from 1 to 100000000" sim --seed 1 --writes 100000001
expect 2 "--refuse '1': expected a number from 0 to 0.99" sim --seed 1 --refuse 1
expect 2 "--partition-steps: applies to --partitions only" sim --seed 1 --partition-steps 5
expect 2 "--max-buffered '0': expected a whole number from 1 to 4294967296" sim --seed 1 --max-buffered 0
expect 2 "--policy 'fifo': expected one of siblings\|lww" sim --seed 1 --policy fifo
expect 2 "--json '$scratch/no/such/dir/x.json': cannot write it" sim --seed 1 --json "$scratch/no/such/dir/x.json"
# A group too large for this machine (~650 GB at 65,536 nodes) is refused,
# not reported as a failed verdict to replay.
expect 3 "the run stopped: .*quadratic in --nodes" sim --seed 1 --nodes 65536 --writes 1
expect 2 "unexpected argument 'extra'" demo extra
expect 2 "--repetitions '0': expected a whole number from 1 to 1000" bench --repetitions 0
expect 2 "--repetitions '-1': expected" bench --repetitions -1
expect 2 "--min-time '0': expected a number from 0.001" bench --min-time 0
expect 2 "--nodes '1': expected whole numbers from 2 to 4096" bench --nodes 1
expect 2 "--nodes '8,,16': expected whole numbers" bench --nodes 8,,16
expect 2 "--nodes '8,': expected whole numbers" bench --nodes 8,
expect 2 "--workers '-1': expected whole numbers from 0 to 4096" bench --workers -1
expect 2 "--workers 8: above every --nodes value \(at most 2\)" bench --nodes 2 --workers 8
expect 2 "--faults 'maybe': expected one of off\|on\|both" bench --faults maybe
expect 0 "--nodes LIST.*--faults WHICH.*one of off\|on\|both; default both" bench --help
# A benchmark program (here a stand-in) that wrote no JSON is named with the
# reason; tables that cannot be written (a file size limit, as a full disk)
# fail the run, where every table was left empty and the run passed.
cat >"$scratch/bench.sh" <<'END'
#!/bin/sh
out=
for a in "$@"; do
  case $a in --benchmark_list_tests=true) echo dense_merge/4; exit 0 ;; --benchmark_out=*) out=${a#--benchmark_out=} ;; esac
done
one='{"benchmarks": [{"run_name": "dense_merge/4", "real_time": 5, "time_unit": "ns"}]}'
[ -n "$NO_JSON" ] || printf '%s\n' "${JSON:-$one}" >"$out"
END
chmod +x "$scratch/bench.sh"
NO_JSON=1 CAUSEWAY_BENCH=$scratch/bench.sh expect 1 "cannot read $scratch/b0/bench.json: No such file or directory" \
  bench --out "$scratch/b0"
mkdir "$scratch/b1" && NO_JSON= "$scratch/bench.sh" --benchmark_out="$scratch/b1/bench.json" # read again: CAUSEWAY_BENCH_REUSE
out=$(cd "$scratch" && trap '' XFSZ && ulimit -f 0 && CAUSEWAY_BENCH_REUSE=1 CAUSEWAY_BENCH=$scratch/bench.sh "$cw" bench --out b1 2>&1)
status=$?
[ $status = 1 ] && grep -q "cannot write the tables (\*.dat, \*.csv) in b1" <<<"$out" ||
  { echo "FAIL: bench with its tables not written -> $status: $out"; failures=$((failures + 1)); }
# Google Benchmark writes NaN and Infinity for counters it cannot compute
# (the cv of a counter that was 0 in every repetition), which is not JSON:
# the kept bench.json has null for them. Written beside it and renamed, so
# a write that fails keeps the file whole and names it.
bad_json='{"benchmarks": [{"run_name": "engine_e2e/nodes:2/faults:0/workers:0/iterations:1/manual_time",
  "aggregate_name": "median", "deliveries_per_s": 1651783, "repl_p50_us": 12.345678901, "repl_p99_us": NaN,
  "stalls": NaN},
  {"run_name": "engine_e2e/nodes:2/faults:0/workers:0/iterations:1/manual_time", "aggregate_name": "cv",
  "deliveries_per_s": Infinity, "repl_p50_us": -Infinity, "stalls": -NaN}]}'
out=$(cd "$scratch" && JSON=$bad_json CAUSEWAY_BENCH=$scratch/bench.sh "$cw" bench --out b2 2>&1)
status=$?
{ [ $status = 0 ] || grep -q "no plot drawn" <<<"$out"; } && ! grep -Eq 'NaN|Infinity' "$scratch/b2/bench.json" &&
  [ "$(grep -o null "$scratch/b2/bench.json" | wc -l)" = 5 ] && [ "$(ls "$scratch/b2" | grep -c bench.json)" = 1 ] ||
  { echo "FAIL: bench.json with NaN -> $status: $out"; cat "$scratch/b2/bench.json"; failures=$((failures + 1)); }
# The tables give whole numbers whole and others to the digit that tells
# them apart (%g wrote 1.65178e+06 and 12.3457), and a null figure (p99
# here) as none, not 0.
grep -qx '2,0,0,1651783,12.345678901,,,' "$scratch/b2/e2e.csv" &&
  grep -qx '2 1651783 NaN 12.345678901 NaN NaN NaN' "$scratch/b2/engine.dat" &&
  grep -qx '2,1651783,,12.345678901,,,' "$scratch/b2/engine.csv" ||
  { echo "FAIL: bench tables rounded:"; cat "$scratch/b2/e2e.csv" "$scratch/b2/engine.dat"; failures=$((failures + 1)); }
mkdir "$scratch/b3" && JSON=$bad_json NO_JSON= "$scratch/bench.sh" --benchmark_out="$scratch/b3/bench.json"
cp "$scratch/b3/bench.json" "$scratch/b3.json"
out=$(cd "$scratch" && trap '' XFSZ && ulimit -f 0 && CAUSEWAY_BENCH_REUSE=1 CAUSEWAY_BENCH=$scratch/bench.sh "$cw" bench --out b3 2>&1)
status=$?
[ $status = 1 ] && grep -q "cannot write b3/bench.json: File too large" <<<"$out" &&
  cmp -s "$scratch/b3.json" "$scratch/b3/bench.json" && [ "$(ls "$scratch/b3")" = bench.json ] ||
  { echo "FAIL: bench.json not rewritten -> $status: $out"; ls "$scratch/b3"; failures=$((failures + 1)); }
# With standard output closed, the pipe that counts the benchmarks took
# descriptor 1 and the program's list went nowhere: 'matches no benchmark'.
out=$(CAUSEWAY_BENCH=$scratch/bench.sh "$cw" bench --list 2>&1 >&-)
! grep -q "matches no benchmark" <<<"$out" || { echo "FAIL: bench --list >&-: $out"; failures=$((failures + 1)); }
expect 2 "unknown command 'frob'" frob
expect 2 "unknown subcommand 'frob'" clock frob
expect 2 "expected A B" clock compare 1:1
# A huge bad clock is not echoed back whole.
big=$(printf '1:1,%.0s' $(seq 1 20000))x
expect 1 "cannot parse clock '1:1,1:1.*\.\.\.' \(80001 characters\): malformed text input" clock compare "$big" 1:1
out=$("$cw" clock compare "$big" 1:1 2>&1)
[ ${#out} -lt 600 ] || { echo "FAIL: a 80 KB bad clock was echoed back (${#out} bytes)"; failures=$((failures + 1)); }

# Help: exit 0, every option with its range and default.
expect 0 "--nodes N.*a whole number from 1 to 65536; required" help stress
expect 0 "--writes W.*required without --duration.*--key-dist NAME.*default uniform.*--zipf-theta T.*default 0.99" stress --help
expect 0 "--keys K.*default 8" stress --help
expect 0 "--policy NAME.*one of siblings\|lww; default siblings" stress --help
expect 0 "--repetitions N.*from 1 to 1000; default 3" bench --help
expect 0 "--seed S.*required.*--hold P.*default 0.*--max-unsent U.*default 4096" sim --help
expect 0 "usage: causeway demo" demo --help
expect 0 "usage: causeway <command>" help --help
# A node's --peer and exit statuses are in its help; an option name too long
# for the column has its help on the next line.
expect 0 "--peer J=ENDPOINT +node J's replication endpoint.*Exit status: 0 stopped by SIGTERM or SIGINT \(before it served too: .*\); 1 .*2 bad arguments" node --help
expect 0 "  --recovery-timeout-ms MS[[:cntrl:]] {25}a write missing this long" node --help
expect 0 "  --link-timeout-ms MS +TCP links: .*default 30000" node --help
expect 2 "--link-timeout-ms '600001': expected a whole number from 0 to 600000" node --id 0 --nodes 1 \
  --listen "ipc://$scratch/n" --link-timeout-ms 600001
expect 2 "--link-timeout-ms '999': expected 0 \\(off\\) or a whole number from 1000 to 600000" node --id 0 \
  --nodes 1 --listen "ipc://$scratch/n" --link-timeout-ms 999
expect 0 "usage: causeway demo" help demo
expect 0 "usage: causeway check \\[options\\] TRACE.jsonl.*--json FILE" help check
expect 2 "causeway check: expected TRACE.jsonl" check
expect 2 "--keep-traces: applies to --processes only" stress --nodes 2 --writes 1 --keep-traces
expect 2 "--data: applies to --processes only" stress --nodes 2 --writes 1 --data
expect 2 "--converge-within: applies to --processes only" stress --nodes 2 --writes 1 --converge-within 60
expect 2 "--converge-within '0': expected a number from 0.001 to 86400" stress --processes 3 --writes 1 --converge-within 0
expect 0 "usage: causeway clock merge A \[B\.\.\.\]" clock merge --help
expect 0 "usage: causeway clock merge" help clock merge
# help takes one command (and a clock subcommand): more was taken for the
# command's own arguments ('--seed is required', a trace file named x).
expect 2 "causeway help: unexpected argument 'extra'" help sim extra
expect 2 "causeway help: unexpected argument 'x'" help check x
expect 2 "causeway help: unexpected argument 'x'" help clock merge x
expect 0 "commands:" help
expect 0 "^causeway [0-9]+\.[0-9]+\.[0-9]+" version

# The simulator: passes, and the same options replay the same run exactly.
sim_args=(sim --seed 3 --nodes 5 --writes 300 --keys 3 --dup 0.2 --hold 0.05 --refuse 0.2 --policy lww)
expect 0 "concurrent pairs +[1-9][0-9]* of.*verdict +PASS" "${sim_args[@]}"
a=$("$cw" "${sim_args[@]}" | grep -v simulated)
b=$("$cw" "${sim_args[@]}" | grep -v simulated)
[ -n "$a" ] && [ "$a" = "$b" ] || { echo "FAIL: two runs of causeway ${sim_args[*]} differ"; failures=$((failures + 1)); }

# A failing stress run (the checker is handed a history with one application
# left out) names the violation, writes the history it checked, and prints
# the whole command that replays it; that command fails the same way.
# (Which violation is met first depends on the threads' interleaving: the
# left-out application is node 3's own first write, so what is named first
# may be node 3, a node that applied that write, or a write stamped after it.)
# It counts the writes made, not those checked up to the violation.
expect 1 "writes +300 in .*history +$scratch/h.txt .*verdict +FAIL.*violation +[a-z]+ [0-9]+.*replay +causeway stress --nodes 4 --writes 300 --keys 3 --key-dist uniform --reads 0 --workers 0 --clients 4 --delay 0.1 --max-delay-us 200 --dup 0 --drop 0 --policy siblings --seed 21 --sabotage-history" \
  stress --nodes 4 --writes 300 --keys 3 --delay 0.1 --seed 21 --sabotage-history --history "$scratch/h.txt"
if ! head -1 "$scratch/h.txt" | grep -qx "causeway-history 1" || ! grep -q "^write 0 1 6b[0-9a-f]* [0-9]*\.[0-9]* 0:1" "$scratch/h.txt" \
  || ! grep -q "^violation [a-z]* [0-9]" "$scratch/h.txt"; then
  echo "FAIL: the history file of a failed stress run:"; head -5 "$scratch/h.txt"; failures=$((failures + 1))
fi
replay=$(cd "$scratch" && "$cw" stress --nodes 4 --writes 300 --keys 3 --delay 0.1 --seed 21 --sabotage-history | sed -n 's/^  replay *causeway //p')
(cd "$scratch" && timeout 60 "$cw" $replay >/dev/null 2>&1)
[ $? = 1 ] && [ -s "$scratch/causeway-stress-21.history" ] || { echo "FAIL: the replay '$replay' did not fail the same way"; failures=$((failures + 1)); }

# Asking whether --history can be written changes nothing there: a file
# that is there keeps its bytes, a link to nothing stays a link, and a path
# with nothing at it stays empty after a run that passes.
echo keep >"$scratch/kept.history"
ln -s "$scratch/target.history" "$scratch/link.history"
for f in kept link fresh; do
  "$cw" stress --nodes 2 --writes 20 --seed 5 --history "$scratch/$f.history" >/dev/null ||
    { echo "FAIL: stress --history $f.history"; failures=$((failures + 1)); }
done
[ "$(cat "$scratch/kept.history")" = keep ] && [ -L "$scratch/link.history" ] && [ ! -e "$scratch/fresh.history" ] ||
  { echo "FAIL: checking --history changed what was there:"; ls -la "$scratch"; failures=$((failures + 1)); }
# Nor is a FIFO opened to ask: its reader took that for the end of its input
# and went, and the JSON's write then waited for a reader for ever.
mkfifo "$scratch/fifo.json"
timeout 30 cat "$scratch/fifo.json" >"$scratch/fifo.out" &
reader=$!
timeout 30 "$cw" sim --seed 1 --writes 5 --json "$scratch/fifo.json" >/dev/null 2>&1
status=$?
wait "$reader"
[ $status = 0 ] && grep -q '"verdict": "pass"' "$scratch/fifo.out" ||
  { echo "FAIL: sim --json FIFO -> $status, the reader got: $(head -c 200 "$scratch/fifo.out")"; failures=$((failures + 1)); }
# A FIFO its user may not write is still refused before the run (exit 2),
# by its permission: checked as another user where this one is root (and
# that user may run the build's binary).
as_nobody() { timeout 30 setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups "$@"; }
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && id nobody >/dev/null 2>&1 &&
  as_nobody "$cw" version >/dev/null 2>&1; then
  mkfifo -m 0444 "$scratch/ro.json"
  chmod 0755 "$scratch"
  out=$(as_nobody "$cw" sim --seed 1 --writes 5 --json "$scratch/ro.json" 2>&1 >/dev/null)
  status=$?
  [ $status = 2 ] && grep -q "ro.json.*cannot write it: Permission denied" <<<"$out" ||
    { echo "FAIL: sim --json, a FIFO it may not write -> $status: $out"; failures=$((failures + 1)); }
fi

# Clocks from standard input and from a file.
printf '1:2,2:5\n' >"$scratch/c.txt"
expect 0 "^1:3,2:5[[:space:]]*$" clock merge @"$scratch/c.txt" 1:3
out=$(printf '1:2,2:5\n' | "$cw" clock compare - 1:2)
[ "$out" = AFTER ] || { echo "FAIL: clock compare - 1:2 read '$out'"; failures=$((failures + 1)); }
expect 1 "cannot read '$scratch/none'" clock compare @"$scratch/none" 1:1
# Standard input holds one operand: a second '-' used to read nothing, the
# empty clock (compare - - printed AFTER).
out=$(echo 1:1 | "$cw" clock compare - - 2>&1)
status=$?
[ $status = 2 ] && grep -q "'-' given twice" <<<"$out" || { echo "FAIL: clock compare - - -> $status: $out"; failures=$((failures + 1)); }

# With standard output closed, a node of stress --processes kept its own
# closed too (its output file took descriptor 1, and went): its trace took
# descriptor 1, its banner went into the trace, and the run failed on a
# malformed line. The verdict (in --json) is the run's own.
"$cw" stress --processes 3 --writes 100 --seed 2 --json "$scratch/closed.json" >&- 2>/dev/null
grep -q '"verdict": "pass"' "$scratch/closed.json" ||
  { echo "FAIL: stress --processes >&-: $(grep -E '"(verdict|violation)"' "$scratch/closed.json")"; failures=$((failures + 1)); }

# Output that cannot be written is a failure, not a silent success.
if [ -w /dev/full ]; then
  "$cw" clock merge 1:2 >/dev/full 2>/dev/null
  status=$?
  [ "$status" = 1 ] || { echo "FAIL: clock merge >/dev/full exited $status (want 1)"; failures=$((failures + 1)); }
  # sim's 1 is a violation: a verdict not written where asked is 3.
  "$cw" sim --seed 1 >/dev/full 2>/dev/null
  status=$?
  [ "$status" = 3 ] || { echo "FAIL: sim >/dev/full exited $status (want 3)"; failures=$((failures + 1)); }
  "$cw" sim --seed 1 --json /dev/full >/dev/null 2>&1
  status=$?
  [ "$status" = 3 ] || { echo "FAIL: sim --json /dev/full exited $status (want 3)"; failures=$((failures + 1)); }
  # stress likewise: a pass whose report or --json is not written gave no
  # verdict (3); 1 stays a violation.
  "$cw" stress --nodes 2 --writes 20 --seed 1 >/dev/full 2>/dev/null
  status=$?
  [ "$status" = 3 ] || { echo "FAIL: stress >/dev/full exited $status (want 3)"; failures=$((failures + 1)); }
  "$cw" stress --nodes 2 --writes 20 --seed 1 --json /dev/full >/dev/null 2>&1
  status=$?
  [ "$status" = 3 ] || { echo "FAIL: stress --json /dev/full exited $status (want 3)"; failures=$((failures + 1)); }
  # --processes: the run's directory, kept, is named (its traces are the record).
  out=$("$cw" stress --processes 2 --writes 20 --seed 1 --json /dev/full 2>&1 >/dev/null)
  status=$?
  kept=$(sed -n "s/.*the processes' traces are kept in //p" <<<"$out")
  [ "$status" = 3 ] && [ -f "$kept/trace-0.jsonl" ] ||
    { echo "FAIL: stress --processes --json /dev/full -> $status: $out"; failures=$((failures + 1)); }
  [ -z "$kept" ] || rm -rf "$kept"
  "$cw" stress --nodes 4 --writes 300 --keys 3 --seed 21 --sabotage-history --history "$scratch/full.h" \
    --json /dev/full >/dev/null 2>&1
  status=$?
  [ "$status" = 1 ] || { echo "FAIL: a violating stress --json /dev/full exited $status (want 1)"; failures=$((failures + 1)); }
  # The dump's write error is said as one, not as an invalid argument.
  out=$("$cw" demo 2>&1 >/dev/full)
  status=$?
  [ "$status" = 1 ] && grep -q "state could not be printed: standard output cannot be written" <<<"$out" &&
    ! grep -q "invalid argument" <<<"$out" || { echo "FAIL: demo >/dev/full -> $status: $out"; failures=$((failures + 1)); }
fi

if [ "$failures" -ne 0 ]; then
  echo "usage.sh: $failures check(s) failed"
  exit 1
fi
echo "usage.sh: every check passed"
