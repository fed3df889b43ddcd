# A toy causally replicated key-value store that is not Causeway: three
# replicas with vector clocks of their own, causal delivery from a pool of
# messages in flight, multi-value registers (a write replaces every version
# its replica holds of the key; an arriving write replaces the versions its
# clock covers). It writes its run in the trace format of docs/traces.md,
# to be judged by `causeway check`.
#   awk -v seed=S [-v writes=W] [-v bug=1] -f toy_replicas.awk > toy.jsonl
# bug=1: an arriving write is not merged into its replica's clock, so later
# writes there carry clocks short of their causal past (check must exit 1).
# POSIX awk only; the schedule comes from srand(seed), so any awk gives a
# valid run of its own.

function clock_json(o, s,    k, t) {
    t = "{"
    for (k = 0; k < N; k++)
        t = t (k ? ", " : "") "\"" k "\": " wc[o, s, k]
    return t "}"
}

function write(i,    key, s, k) {
    key = "k" int(rand() * KEYS)
    s = ++vc[i, i]
    app[i, i] = s                 # a replica applies its own write as it makes it
    for (k = 0; k < N; k++)
        wc[i, s, k] = vc[i, k]
    wkey[i, s] = key
    held[i, key] = i ":" s        # the new version replaces every one held
    printf "{\"node\": %d, \"op\": \"write\", \"dot\": [%d, %d], \"key\": \"%s\", \"clock\": %s}\n", i, i, s, key, clock_json(i, s)
    for (k = 0; k < N; k++)
        if (k != i) {
            pend_to[npend] = k; pend_o[npend] = i; pend_s[npend] = s; npend++
        }
}

# Causal delivery: the next write of its origin, and its clock's past applied.
function deliverable(j, o, s,    k) {
    if (app[j, o] != s - 1)
        return 0
    for (k = 0; k < N; k++)
        if (k != o && wc[o, s, k] > app[j, k])
            return 0
    return 1
}

function deliver(p,    j, o, s, key, n, v, i, parts, kept) {
    j = pend_to[p]; o = pend_o[p]; s = pend_s[p]
    key = wkey[o, s]
    app[j, o] = s
    if (!bug)
        vc[j, o] = s
    kept = ""
    n = split(held[j, key], v, " ")
    for (i = 1; i <= n; i++) {
        split(v[i], parts, ":")
        if (wc[o, s, parts[1]] < parts[2])   # not covered by the arriving write
            kept = kept (kept == "" ? "" : " ") v[i]
    }
    held[j, key] = kept (kept == "" ? "" : " ") o ":" s
    printf "{\"node\": %d, \"op\": \"apply\", \"dot\": [%d, %d]}\n", j, o, s
    npend--
    pend_to[p] = pend_to[npend]; pend_o[p] = pend_o[npend]; pend_s[p] = pend_s[npend]
}

function read(i, key,    n, v, t, d, parts) {
    n = split(held[i, key], v, " ")
    t = ""
    for (d = 1; d <= n; d++) {
        split(v[d], parts, ":")
        t = t (d > 1 ? ", " : "") "[" parts[1] ", " parts[2] "]"
    }
    printf "{\"node\": %d, \"op\": \"read\", \"key\": \"%s\", \"dots\": [%s]}\n", i, key, t
}

BEGIN {
    N = 3; KEYS = 3
    if (writes == "") writes = 60
    srand(seed + 0)
    for (i = 0; i < N; i++)
        for (k = 0; k < N; k++)
            vc[i, k] = app[i, k] = 0
    made = npend = 0
    while (made < writes || npend > 0) {
        r = rand()
        if (made < writes && r < 0.4) {
            write(int(rand() * N)); made++
        } else if (r < 0.5) {
            read(int(rand() * N), "k" int(rand() * KEYS))
        } else if (npend > 0) {
            p = int(rand() * npend)
            if (deliverable(pend_to[p], pend_o[p], pend_s[p]))
                deliver(p)
        }
    }
    for (i = 0; i < N; i++)          # every replica reads every key at the end
        for (k = 0; k < KEYS; k++)
            read(i, "k" k)
}
