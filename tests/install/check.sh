#!/usr/bin/env bash
# Installs the build tree into a fresh prefix, moves it elsewhere (the
# package must not depend on where it was installed), then builds and runs an
# outside program through pkg-config and through find_package, shared and
# static, and runs the installed causeway command.
#   check.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/staging" >/dev/null
mv "$work/staging" "$work/prefix"
prefix=$work/prefix
pcdir=$(dirname "$(find "$prefix" -name causeway.pc)")
# The public headers, causeway/verify.h among them, and no private one.
test -f "$prefix/include/causeway/verify.h"
test -s "$prefix/share/doc/causeway/formats.md"   # the document the headers cite
private=$(find "$prefix/include" -name '*_internal.h' -o -name 'history.h' -o -name 'sim.h')
if [ -n "$private" ]; then echo "private headers installed: $private" >&2; exit 1; fi

# 1. pkg-config, shared library.
PKG_CONFIG_PATH=$pcdir cc -std=c11 -Wall -Werror "$src/tests/install/consumer.c" \
  $(PKG_CONFIG_PATH=$pcdir pkg-config --cflags --libs causeway) -o "$work/pc_consumer"
"$work/pc_consumer"
# 1b. Optimised: the small dense clocks' inline merge and compare run in it.
PKG_CONFIG_PATH=$pcdir cc -std=c11 -O2 -Wall -Werror "$src/tests/install/consumer.c" \
  $(PKG_CONFIG_PATH=$pcdir pkg-config --cflags --libs causeway) -o "$work/pc_consumer_o2"
"$work/pc_consumer_o2"
# 2. pkg-config, static library (the archive named explicitly, as a
#    static-only consumer would; --static adds the private dependencies).
pc() { PKG_CONFIG_PATH=$pcdir pkg-config "$@" causeway; }
cc -std=c11 -Wall -Werror "$src/tests/install/consumer.c" $(pc --cflags) \
  "$(pc --variable=libdir)/libcauseway.a" $(pc --static --libs-only-other) -o "$work/pc_static"
"$work/pc_static"
# 2b. The README's embedding example, exactly as printed there.
awk '/^## Embedding/ {on = 1} on && /^```c$/ {code = 1; next} code && /^```$/ {exit} code' \
  "$src/README.md" >"$work/readme_app.c"
grep -q 'int main' "$work/readme_app.c"
PKG_CONFIG_PATH=$pcdir cc -std=c11 -Wall -Werror "$work/readme_app.c" \
  $(PKG_CONFIG_PATH=$pcdir pkg-config --cflags --libs causeway) -o "$work/readme_app"
"$work/readme_app" | grep -qx 'node 2 reads x = 1'
# 3. find_package, shared and static.
cmake -S "$src/tests/install" -B "$work/consumer" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/consumer" >/dev/null
"$work/consumer/consumer_shared"
"$work/consumer/consumer_static"
# 3b. libcauseway-client through pkg-config, against an installed node.
PKG_CONFIG_PATH=$pcdir cc -std=c11 -Wall -Werror "$src/tests/install/client_consumer.c" \
  $(PKG_CONFIG_PATH=$pcdir pkg-config --cflags --libs causeway-client) -o "$work/client_consumer"
"$prefix/bin/causeway" node --id 0 --nodes 1 --listen "ipc://$work/rep" --client "ipc://$work/cli" >/dev/null &
node_pid=$!
"$work/client_consumer" "ipc://$work/cli" | grep -qx 'client ok'
kill -TERM $node_pid
wait $node_pid
# 4. The installed command works: clock tools, demo, a short verified stress
#    run, and (when the benchmarks were built and installed) bench with plots.
"$prefix/bin/causeway" clock compare 1:1 2:1 | grep -qx CONCURRENT
"$prefix/bin/causeway" demo | grep -q "All nodes at clock 0:1,1:1"
"$prefix/bin/causeway" stress --nodes 4 --writes 200 --keys 2 --delay 0.2 --dup 0.1 --seed 5 | grep -q "verdict *PASS"
"$src/tests/cli/usage.sh" "$prefix/bin/causeway" >/dev/null   # errors, help, exit codes
if [ -x "$prefix/bin/causeway-bench" ]; then
  (cd "$work" && "$prefix/bin/causeway" bench --filter 'dense_merge/64$|memcpy:dense_merge/64$' \
     --min-time 0.01 --repetitions 1 --out bench >/dev/null)
  test -s "$work/bench/clocks.png" && test -s "$work/bench/bench.json"
  # The end-to-end grid from the command line, every run in e2e.csv.
  (cd "$work" && "$prefix/bin/causeway" bench --nodes 2,4 --workers 0 --faults off --min-time 0.01 \
     --repetitions 1 --out e2e >/dev/null)
  test "$(wc -l <"$work/e2e/e2e.csv")" = 3 && test -s "$work/e2e/engine.png" && test -s "$work/e2e/engine.csv"
  # Each run carries the host's phase: a line's trip between cores in ns, measured before it.
  awk -F, 'NR > 1 { rows++; if ($8 !~ /^[0-9.e+]+$/ || $8 <= 0) bad = 1 } END { exit !(rows == 2 && !bad) }' \
    "$work/e2e/e2e.csv" || { echo "e2e.csv lacks line_transfer_ns:" >&2; cat "$work/e2e/e2e.csv" >&2; exit 1; }
  # Beside each engine row, the same workload on one thread (column 7, a rate).
  awk '!/^#/ { rows++; if ($7 !~ /^[0-9.e+]+$/ || $7 <= 0) bad = 1 } END { exit !(rows == 2 && !bad) }' \
    "$work/e2e/engine.dat" || { echo "engine.dat lacks the one-thread rates:" >&2; cat "$work/e2e/engine.dat" >&2; exit 1; }
  # A filter that matches nothing is the user's error, named as such (exit 2).
  set +e
  msg=$("$prefix/bin/causeway" bench --filter 'no_such_benchmark' --out "$work/none" 2>&1)
  status=$?
  set -e
  [ "$status" = 2 ] && grep -q "matches no benchmark" <<<"$msg" \
    || { echo "bench with an empty filter: exit $status: $msg" >&2; exit 1; }
  echo "installed causeway bench: ok"
fi
# 5. Only the public API is exported.
lib=$(find "$prefix" -name 'libcauseway.so.*.*' | head -1)
bad=$(nm -D --defined-only "$lib" | awk '$2 ~ /[TDB]/ {print $3}' | grep -v '^cw_' || true)
if [ -n "$bad" ]; then echo "non-API symbols exported: $bad" >&2; exit 1; fi
exported=$(nm -D --defined-only "$lib")
for f in cw_sim_run cw_sim_create cw_history_create cw_history_verdict; do
  grep -q " T $f\$" <<<"$exported" || { echo "$f not exported" >&2; exit 1; }
done
echo "install check passed ($(nm -D --defined-only "$lib" | grep -c ' T cw_') exported functions)"
