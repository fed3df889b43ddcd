/* Sparse vector clock: storage, element access, merge and compare.
 *
 * Invariants (checked by cw__vclock_is_canonical):
 *  1. ids[0..size) are strictly ascending; counters[0..size) are non-zero.
 *  2. size <= cap; counters and ids share one block of cap * 10 bytes
 *     (counters first, for 8-byte alignment), or both are NULL when cap == 0.
 *  3. A failing call returns before the first write to the clock, so the
 *     clock is unchanged: allocation always happens before any mutation.
 *
 * Costs: get is a binary search; merge and compare are one linear walk, with a
 * vectorised path when both clocks have the same ids (the common case inside
 * one cluster); merge grows capacity to size(dst) + size(src) at most once and
 * then merges in place; join writes the union of two clocks straight into a
 * third. Small clocks (the usual group is 3 to 16 nodes) take
 * paths that never call out: copies and moves of up to 8 entries and id
 * comparisons of up to 32 are inline, same-id merges of up to 8 entries and
 * compares below the kernel crossover are scalar loops, and everything else
 * sits in out-of-line functions so these paths save no registers. Measured
 * beside plain C in bench/bench_vclock.cc (README, Performance).
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include <causeway/error.h>
#define CW__VCLOCK_DEFINE /* cw_vclock_join's inline front, emitted here */
#include <causeway/vclock.h>

#include "kernels.h"
#include "vclock_internal.h"

/* A merge may stage up to size(dst) + size(src) entries before duplicates
 * collapse, so capacity may exceed the 65,536-entry limit on size. */
#define CAP_LIMIT (2u * CW_VCLOCK_MAX_ENTRIES)

bool cw__vclock_is_canonical(const cw_vclock *c)
{
    if (c->size > c->cap || c->size > CW_VCLOCK_MAX_ENTRIES)
        return false;
    if (c->cap && (!c->ids || !c->counters))
        return false;
    for (uint32_t i = 0; i < c->size; i++) {
        if (c->counters[i] == 0 || (i && c->ids[i - 1] >= c->ids[i]))
            return false;
    }
    return true;
}

void cw_vclock_init(cw_vclock *c)
{
    if (c)
        *c = (cw_vclock){0};
}

void cw_vclock_destroy(cw_vclock *c)
{
    if (!c)
        return;
    free(c->counters);
    *c = (cw_vclock){0};
}

void cw_vclock_clear(cw_vclock *c)
{
    if (c)
        c->size = 0;
}

/* Allocates a block for cap entries; NULL on failure. */
static uint64_t *alloc_block(size_t cap, cw_node_id **ids_out)
{
    uint64_t *counters = malloc(cap * (sizeof(uint64_t) + sizeof(cw_node_id)));
    if (counters)
        *ids_out = (cw_node_id *)(counters + cap);
    return counters;
}

/* Grows c to hold need entries; keep says whether its entries must survive.
 * On failure c is unchanged. Out of line: callers test need <= cap first,
 * and their fast paths then save no registers for an allocation. */
__attribute__((noinline)) static int grow(cw_vclock *c, size_t need, bool keep)
{
    if (need <= c->cap)
        return CW_OK;
    if (need > CAP_LIMIT)
        return CW_ELIMIT;
    size_t cap = c->cap * 2u > need ? c->cap * 2u : need;
    if (cap < 4)
        cap = 4;
    if (cap > CAP_LIMIT)
        cap = CAP_LIMIT;
    cw_node_id *ids;
    uint64_t *counters = alloc_block(cap, &ids);
    if (!counters)
        return CW_ENOMEM;
    if (keep && c->size) {
        memcpy(counters, c->counters, c->size * sizeof *counters);
        memcpy(ids, c->ids, c->size * sizeof *ids);
    }
    free(c->counters);
    c->counters = counters;
    c->ids = ids;
    c->cap = (uint32_t)cap;
    return CW_OK;
}

int cw__vclock_reserve(cw_vclock *c, size_t need, bool keep)
{
    return grow(c, need, keep);
}

/* Entries move in words loaded and stored whole: two possibly overlapping
 * words cover any length from one word to two. Every word is loaded before
 * any is stored, so source and destination may overlap, as in memmove. */
typedef struct { uint64_t w[2]; } word16;
static inline word16 load16(const void *p) { word16 v; memcpy(&v, p, sizeof v); return v; }
static inline uint64_t load8(const void *p) { uint64_t v; memcpy(&v, p, sizeof v); return v; }
static inline uint32_t load4(const void *p) { uint32_t v; memcpy(&v, p, sizeof v); return v; }
#define STORE(p, v) memcpy((p), &(v), sizeof(v))

/* Out of line: a large move's call to memmove would otherwise make every
 * caller save registers, small moves included. */
__attribute__((noinline)) static void move_entries_large(cw_node_id *did, uint64_t *dc, const cw_node_id *sid,
                                                         const uint64_t *sc, size_t n)
{
    memmove(dc, sc, n * sizeof *dc);
    memmove(did, sid, n * sizeof *did);
}

/* Most entries move_entries moves inline. */
#define SMALL_MOVE 8

/* memmove of n entries (ids and counters). Up to 8 entries move inline, in
 * one branch on n for both arrays: a clock of a few entries has 2n bytes of
 * ids and 8n of counters, and two calls to memmove for them cost more than
 * the merge around them (copy at n = 1: 57 instructions before, ~25 now). */
static inline void move_entries(cw_node_id *did, uint64_t *dc, const cw_node_id *sid, const uint64_t *sc,
                                size_t n)
{
    if (n > SMALL_MOVE) {
        move_entries_large(did, dc, sid, sc, n);
    } else if (n > 4) { /* counters: 32 bytes from each end; ids: 8 */
        word16 c0 = load16(sc), c1 = load16(sc + 2);
        word16 c2 = load16(sc + n - 4), c3 = load16(sc + n - 2);
        uint64_t i0 = load8(sid), i1 = load8(sid + n - 4);
        STORE(dc, c0), STORE(dc + 2, c1), STORE(dc + n - 4, c2), STORE(dc + n - 2, c3);
        STORE(did, i0), STORE(did + n - 4, i1);
    } else if (n > 1) { /* counters: 16 bytes from each end; ids: 4 */
        word16 c0 = load16(sc), c1 = load16(sc + n - 2);
        uint32_t i0 = load4(sid), i1 = load4(sid + n - 2);
        STORE(dc, c0), STORE(dc + n - 2, c1);
        STORE(did, i0), STORE(did + n - 2, i1);
    } else if (n) {
        *dc = *sc;
        *did = *sid;
    }
}

/* Largest n the inline id comparison takes; memcmp takes larger ones. */
#define SMALL_IDS 32

/* Whether a[0..n) == b[0..n), n <= SMALL_IDS, as 8-byte words (the last
 * overlapping the one before): no call, no early exit. Up to 8 ids the words
 * are those move_entries stores, so comparing a clock just copied loads
 * each word from one store (a load spanning two stores waits for both to
 * reach the cache: ~12 cycles). */
static inline bool ids_equal_small(const cw_node_id *a, const cw_node_id *b, size_t n)
{
    assert(n <= SMALL_IDS);
    if (n > 4) {
        uint64_t diff = 0;
        for (size_t i = 0; i + 4 < n; i += 4)
            diff |= load8(a + i) ^ load8(b + i);
        return (diff | (load8(a + n - 4) ^ load8(b + n - 4))) == 0;
    }
    if (n >= 2) /* 4 ids too: words of the width move_entries stores them in */
        return ((load4(a) ^ load4(b)) | (load4(a + n - 2) ^ load4(b + n - 2))) == 0;
    return n == 0 || a[0] == b[0];
}

/* Copy into a clock without room, or of more than SMALL_MOVE entries. Out of
 * line, so the small copy that fits saves no registers. */
__attribute__((noinline)) static int copy_general(cw_vclock *dst, const cw_vclock *src)
{
    uint32_t n = src->size;
    if (n > dst->cap) {
        int rc = grow(dst, n, false);
        if (rc != CW_OK)
            return rc;
    }
    move_entries(dst->ids, dst->counters, src->ids, src->counters, n);
    dst->size = n;
    return CW_OK;
}

int cw_vclock_copy(cw_vclock *dst, const cw_vclock *src)
{
    if (!dst || !src)
        return CW_EINVAL;
    if (dst == src)
        return CW_OK;
    uint32_t n = src->size;
    if (n > dst->cap || n > SMALL_MOVE)
        return copy_general(dst, src);
    move_entries(dst->ids, dst->counters, src->ids, src->counters, n);
    dst->size = n;
    return CW_OK;
}

size_t cw_vclock_size(const cw_vclock *c)
{
    return c ? c->size : 0;
}

/* Index of the first entry with id >= target (lower bound). */
static uint32_t lower_bound(const cw_vclock *c, cw_node_id target)
{
    uint32_t lo = 0, hi = c->size;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (c->ids[mid] < target)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

uint64_t cw_vclock_get(const cw_vclock *c, cw_node_id id)
{
    if (!c || !c->size)
        return 0;
    uint32_t i = lower_bound(c, id);
    return i < c->size && c->ids[i] == id ? c->counters[i] : 0;
}

int cw_vclock_entry(const cw_vclock *c, size_t index, cw_node_id *id_out, uint64_t *counter_out)
{
    if (!c || index >= c->size)
        return CW_EINVAL;
    if (id_out)
        *id_out = c->ids[index];
    if (counter_out)
        *counter_out = c->counters[index];
    return CW_OK;
}

int cw_vclock_set(cw_vclock *c, cw_node_id id, uint64_t counter)
{
    if (!c)
        return CW_EINVAL;
    uint32_t i = lower_bound(c, id);
    bool present = i < c->size && c->ids[i] == id;
    if (present) {
        if (counter) {
            c->counters[i] = counter;
        } else { /* remove: close the gap */
            memmove(c->counters + i, c->counters + i + 1, (c->size - i - 1) * sizeof *c->counters);
            memmove(c->ids + i, c->ids + i + 1, (c->size - i - 1) * sizeof *c->ids);
            c->size--;
        }
        return CW_OK;
    }
    if (!counter)
        return CW_OK;
    int rc = grow(c, (size_t)c->size + 1, true);
    if (rc != CW_OK)
        return rc;
    memmove(c->counters + i + 1, c->counters + i, (c->size - i) * sizeof *c->counters);
    memmove(c->ids + i + 1, c->ids + i, (c->size - i) * sizeof *c->ids);
    c->ids[i] = id;
    c->counters[i] = counter;
    c->size++;
    assert(cw__vclock_is_canonical(c));
    return CW_OK;
}

int cw_vclock_increment(cw_vclock *c, cw_node_id id)
{
    if (!c)
        return CW_EINVAL;
    uint64_t now = cw_vclock_get(c, id);
    if (now == UINT64_MAX)
        return CW_EOVERFLOW;
    return cw_vclock_set(c, id, now + 1);
}

/* dst[i] = max(dst[i], src[i]) for i < n, counters of two clocks with the
 * same ids. Up to SMALL_MOVE counters, the scalar loop: dst is often a
 * clock just copied, its counters stored by move_entries in 16-byte words,
 * which forward to 8-byte loads but not to a vector kernel's 32-byte ones
 * (measured, copy + merge of 4 entries: 12.2 ns with the loop, 15.9 with
 * AVX2, plain C 10.5-14.4). */
static inline void max_counters(uint64_t *dst, const uint64_t *src, size_t n)
{
    if (n <= SMALL_MOVE)
        cw__max_u64_inline(dst, src, n);
    else
        cw__max_u64(dst, src, n);
}

/* Merges (aid, ac, na) and (bid, bc, nb) into (oid, oc) from the front and
 * returns the number of entries written. (aid, ac) may lie inside the output
 * arrays at offset nb or more: the write index never passes i + j < i + nb
 * while b has entries left, so no unread entry of a is overwritten; the rest
 * of a then moves down with memmove. Branch-free: the predictor cannot be
 * fooled by how the two id sets interleave. */
static size_t merge_forward(cw_node_id *oid, uint64_t *oc,
                            const cw_node_id *aid, const uint64_t *ac, size_t na,
                            const cw_node_id *bid, const uint64_t *bc, size_t nb)
{
    size_t i = 0, j = 0, k = 0;
    while (i < na && j < nb) {
        /* Loads are unconditional and selections are masks: written as
         * `take_a ? ac[i] : 0` the compiler emits branches, which mispredict
         * on every irregular interleaving (measured: 2.5x slower). */
        cw_node_id x = aid[i], y = bid[j];
        uint64_t ca = ac[i], cb = bc[j];
        size_t take_a = x <= y, take_b = y <= x;
        uint64_t va = ca & (0 - (uint64_t)take_a), vb = cb & (0 - (uint64_t)take_b);
        oid[k] = take_a ? x : y;
        oc[k] = va > vb ? va : vb;
        k++;
        i += take_a;
        j += take_b;
    }
    if (i < na) {
        move_entries(oid + k, oc + k, aid + i, ac + i, na - i);
        k += na - i;
    } else if (j < nb) {
        move_entries(oid + k, oc + k, bid + j, bc + j, nb - j);
        k += nb - j;
    }
    return k;
}

/* Merge of any clocks but small ones with the same ids (cw_vclock_merge
 * takes those). Out of line, so that the small identical-ids call (the
 * common case inside a cluster) saves no registers: at n = 4 this
 * function's prologue and epilogue cost more than the max it needs. */
__attribute__((noinline)) static int merge_general(cw_vclock *dst, const cw_vclock *src)
{
    size_t na = dst->size, nb = src->size;
    /* Small clocks reach here with different ids (the front compared them). */
    if (na == nb && na > SMALL_IDS && memcmp(dst->ids, src->ids, na * sizeof *dst->ids) == 0) {
        cw__max_u64(dst->counters, src->counters, na);
        return CW_OK;
    }
    if (na == 0)
        return cw_vclock_copy(dst, src);

    size_t total = na + nb;
    cw_node_id *oid = dst->ids, *aid = dst->ids;
    uint64_t *oc = dst->counters, *ac = dst->counters;
    bool fresh = dst->cap < total;
    if (fresh) { /* merge into a new block, then release the old */
        oc = alloc_block(total, &oid);
        if (!oc)
            return CW_ENOMEM;
    } else { /* in place: lift dst's entries above room for src's, then merge down */
        aid += nb;
        ac += nb;
        move_entries(aid, ac, dst->ids, dst->counters, na);
    }
    size_t n = merge_forward(oid, oc, aid, ac, na, src->ids, src->counters, nb);
    if (fresh) {
        free(dst->counters);
        dst->counters = oc;
        dst->ids = oid;
        dst->cap = (uint32_t)total;
    }
    dst->size = (uint32_t)n;
    assert(cw__vclock_is_canonical(dst));
    return CW_OK;
}

int cw_vclock_merge(cw_vclock *dst, const cw_vclock *src)
{
    if (!dst || !src)
        return CW_EINVAL;
    size_t na = dst->size, nb = src->size;
    if (nb == 0 || dst == src)
        return CW_OK;
    if (na != nb || na > SMALL_IDS || !ids_equal_small(dst->ids, src->ids, na))
        return merge_general(dst, src);
    max_counters(dst->counters, src->counters, na);
    return CW_OK;
}

/* cw__vclock_join_general past its checks: out is neither a nor b. Out
 * of line, so the checks save no registers. */
__attribute__((noinline)) static int join_general(cw_vclock *out, const cw_vclock *a, const cw_vclock *b)
{
    size_t na = a->size, nb = b->size;
    /* The same ids (common inside a cluster) take a's entries, then the max. */
    bool same = na == nb && (na <= SMALL_IDS ? ids_equal_small(a->ids, b->ids, na)
                                             : memcmp(a->ids, b->ids, na * sizeof *a->ids) == 0);
    /* Room for the result: n entries, or the union (at most every id). */
    size_t need = same ? na : na + nb < CW_VCLOCK_MAX_ENTRIES ? na + nb : CW_VCLOCK_MAX_ENTRIES;
    if (need > out->cap) {
        int rc = grow(out, need, false);
        if (rc != CW_OK)
            return rc;
    }
    if (same) {
        move_entries(out->ids, out->counters, a->ids, a->counters, na);
        max_counters(out->counters, b->counters, na);
        out->size = (uint32_t)na;
    } else {
        out->size = (uint32_t)merge_forward(out->ids, out->counters, a->ids, a->counters, na, b->ids,
                                            b->counters, nb);
    }
    assert(cw__vclock_is_canonical(out));
    return CW_OK;
}

/* out = max(a, b) in one walk, straight into out's memory: no copy of a
 * first and no lifting of its entries above room for b's, as
 * cw_vclock_copy + cw_vclock_merge need. The walk is merge_forward's,
 * branch-free in how the two id sets interleave; the same ids take the
 * copy and vectorised max of a merge. cw_vclock_join (vclock.h) is the
 * front every caller inlines: it handles the small joins itself (two clocks
 * of the same 1 to 8 ids; two of at most one entry each) and calls this for
 * the rest, so here a pair of small clocks is a different-id pair, or one
 * whose out has no room. Beside the plain two-pointer walk (bench
 * vclock_join, docs/performance.md "Small joins in the caller"). */
const cw__vclock_empty cw__vclock_no_entry = {0, 0};

int cw__vclock_join_general(cw_vclock *out, const cw_vclock *a, const cw_vclock *b)
{
    if (!out || !a || !b)
        return CW_EINVAL;
    if (out == a)
        return cw_vclock_merge(out, b);
    if (out == b)
        return cw_vclock_merge(out, a);
    return join_general(out, a, b);
}

/* 4-way comparison by one walk over both clocks; an id on one side only
 * counts as 0 on the other (counters are never 0), so the same branch-free
 * step handles every case. A step takes at most one entry from each side,
 * so min(na - i, nb - j) steps run without testing either bound (measured at
 * n = 64, ~50% overlap: 24.7 instructions a call -> 18.9; merge_forward,
 * with more values live, got slower the same way and keeps its tests). */
/* One step of the walk: the entry with the smaller id from either side, or
 * one from each when the ids are equal. Loads are unconditional and the
 * selections masks, not branches (see merge_forward). */
static inline void compare_step(const cw_node_id *aid, const uint64_t *ac, const cw_node_id *bid,
                                const uint64_t *bc, size_t *i, size_t *j, unsigned *lt, unsigned *gt)
{
    cw_node_id x = aid[*i], y = bid[*j];
    uint64_t ca = ac[*i], cb = bc[*j];
    size_t in_a = x <= y, in_b = y <= x;
    uint64_t va = ca & (0 - (uint64_t)in_a), vb = cb & (0 - (uint64_t)in_b);
    *lt |= va < vb;
    *gt |= va > vb;
    *i += in_a;
    *j += in_b;
}

__attribute__((noinline)) static cw_order compare_walk(const cw_node_id *aid, const uint64_t *ac, size_t na, const cw_node_id *bid,
                             const uint64_t *bc, size_t nb)
{
    unsigned lt = 0, gt = 0;
    size_t i = 0, j = 0;
    for (size_t steps; (steps = na - i < nb - j ? na - i : nb - j) != 0;) {
        for (; steps; steps--) {
            compare_step(aid, ac, bid, bc, &i, &j, &lt, &gt);
            if (lt & gt)
                return CW_CONCURRENT;
        }
    }
    gt |= i < na;
    lt |= j < nb;
    return (cw_order)(lt | gt << 1);
}

/* Clocks of one size above SMALL_IDS: memcmp, then the kernel or the walk.
 * Out of line, so the call to memcmp costs small compares nothing. */
__attribute__((noinline)) static cw_order compare_large_same_size(const cw_vclock *a, const cw_vclock *b)
{
    size_t n = a->size;
    if (memcmp(a->ids, b->ids, n * sizeof *a->ids) == 0)
        return (cw_order)cw__order_u64(a->counters, b->counters, n);
    return compare_walk(a->ids, a->counters, n, b->ids, b->counters, n);
}

/* compare_walk inline and without its early exit, for clocks of up to
 * SMALL_WALK entries a side: a call and the exit test per step cost more
 * than the few steps they would save. */
#define SMALL_WALK 8
static inline cw_order compare_small(const cw_node_id *aid, const uint64_t *ac, size_t na, const cw_node_id *bid,
                                     const uint64_t *bc, size_t nb)
{
    unsigned lt = 0, gt = 0;
    size_t i = 0, j = 0;
    while (i < na && j < nb)
        compare_step(aid, ac, bid, bc, &i, &j, &lt, &gt);
    gt |= i < na;
    lt |= j < nb;
    return (cw_order)(lt | gt << 1);
}

cw_order cw_vclock_compare(const cw_vclock *a, const cw_vclock *b)
{
    static const cw_vclock empty = {0};
    if (!a)
        a = &empty;
    if (!b)
        b = &empty;
    size_t na = a->size, nb = b->size;
    if (na == nb) {
        if (na > SMALL_IDS)
            return compare_large_same_size(a, b);
        if (ids_equal_small(a->ids, b->ids, na))
            return (cw_order)cw__order_u64(a->counters, b->counters, na);
    }
    if (na <= SMALL_WALK && nb <= SMALL_WALK)
        return compare_small(a->ids, a->counters, na, b->ids, b->counters, nb);
    return compare_walk(a->ids, a->counters, na, b->ids, b->counters, nb);
}

const char *cw_order_name(cw_order o)
{
    switch (o) {
    case CW_EQUAL:      return "EQUAL";
    case CW_BEFORE:     return "BEFORE";
    case CW_AFTER:      return "AFTER";
    case CW_CONCURRENT: return "CONCURRENT";
    }
    return "UNKNOWN";
}

static int compare_entry(const void *pa, const void *pb)
{
    const cw__entry *a = pa, *b = pb;
    return (a->id > b->id) - (a->id < b->id);
}

int cw__vclock_assign_entries(cw_vclock *c, cw__entry *entries, size_t n)
{
    qsort(entries, n, sizeof *entries, compare_entry);
    size_t m = 0; /* collapse duplicates (max) and drop zeros, in place */
    for (size_t i = 0; i < n; i++) {
        if (m && entries[m - 1].id == entries[i].id) {
            if (entries[i].counter > entries[m - 1].counter)
                entries[m - 1].counter = entries[i].counter;
        } else {
            entries[m++] = entries[i];
        }
    }
    size_t kept = 0;
    for (size_t i = 0; i < m; i++)
        if (entries[i].counter)
            entries[kept++] = entries[i];
    return cw__vclock_assign_canonical(c, entries, kept);
}

size_t cw__dense_entries(const uint64_t *counters, uint32_t n)
{
    size_t entries = 0;
    for (uint32_t i = 0; i < n; i++)
        entries += counters[i] != 0;
    return entries;
}

int cw__vclock_assign_dense(cw_vclock *c, const uint64_t *counters, uint32_t n)
{
    size_t entries = cw__dense_entries(counters, n);
    int rc = grow(c, entries, false);
    if (rc != CW_OK)
        return rc;
    size_t k = 0;
    for (uint32_t i = 0; i < n; i++)
        if (counters[i]) {
            c->ids[k] = (cw_node_id)i;
            c->counters[k++] = counters[i];
        }
    c->size = (uint32_t)entries;
    assert(cw__vclock_is_canonical(c));
    return CW_OK;
}

int cw__vclock_assign_canonical(cw_vclock *c, const cw__entry *entries, size_t n)
{
    int rc = grow(c, n, false);
    if (rc != CW_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        c->ids[i] = entries[i].id;
        c->counters[i] = entries[i].counter;
    }
    c->size = (uint32_t)n;
    assert(cw__vclock_is_canonical(c));
    return CW_OK;
}
