/* Key-value store with conflict detection.
 *
 * Invariants (checked by the replica's checker):
 *  1. Every key has >= 1 version; under CW_LAST_WRITER_WINS exactly 1.
 *  2. The versions of a key have pairwise CONCURRENT clocks.
 *  3. Versions are ordered by (timestamp, origin), so every replica holding
 *     the same set reads it in the same order.
 * Cost of an apply: one clock comparison (O(nodes), vectorised) per version
 * the key holds.
 */
#include "store.h"

#include <stdlib.h>
#include <string.h>

#include <causeway/dclock.h>
#include <causeway/error.h>

#include "kernels.h"

typedef struct lookup {
    const void *key;
    size_t len;
} lookup;

static bool key_eq(const void *item, const void *k)
{
    const cw__key *e = item;
    const lookup *l = k;
    return e->key_len == l->len && memcmp(e->key, l->key, l->len) == 0;
}

void cw__store_init(cw__store *s) { cw__map_init(&s->keys); }

static void free_key(void *item, void *ctx)
{
    (void)ctx;
    cw__key *e = item;
    for (uint32_t i = 0; i < e->count; i++)
        cw_msg_unref(e->versions[i]);
    free(e->versions);
    free(e);
}

void cw__store_destroy(cw__store *s)
{
    cw__map_each(&s->keys, free_key, NULL);
    cw__map_destroy(&s->keys);
}

const cw__key *cw__store_find(const cw__store *s, const void *key, size_t key_len)
{
    lookup l = {key, key_len};
    return cw__map_find(&s->keys, cw__hash_bytes(key, key_len), key_eq, &l);
}

int cw__msg_ts_order(const cw_msg *a, const cw_msg *b)
{
    cw_hlc_timestamp ta = cw_msg_timestamp(a), tb = cw_msg_timestamp(b);
    int c = cw_hlc_compare(&ta, &tb);
    if (c)
        return c;
    cw_node_id oa = cw_msg_origin(a), ob = cw_msg_origin(b);
    return (oa > ob) - (oa < ob);
}

static cw_order clock_order(const cw_msg *a, const cw_msg *b)
{
    uint32_t n;
    const uint64_t *ca = cw_msg_counters(a, &n), *cb = cw_msg_counters(b, NULL);
    return (cw_order)cw__kernels()->order_u64(ca, cb, n);
}

static int new_key(cw__store *s, uint64_t hash, cw_msg *m)
{
    size_t key_len;
    const void *key = cw_msg_key(m, &key_len);
    cw__key *e = malloc(sizeof *e + key_len);
    cw_msg **versions = malloc(sizeof *versions);
    if (!e || !versions || cw__map_reserve(&s->keys, 1) != CW_OK) {
        free(e);
        free(versions);
        return CW_ENOMEM;
    }
    *e = (cw__key){hash, 1, 1, versions, key_len};
    memcpy(e->key, key, key_len);
    versions[0] = cw_msg_ref(m);
    cw__map_insert(&s->keys, hash, e); /* cannot fail: reserved */
    return CW_OK;
}

int cw__store_apply(cw__store *s, cw_msg *m, cw_conflict_policy policy, bool *conflict)
{
    size_t key_len;
    const void *key = cw_msg_key(m, &key_len);
    uint64_t hash = cw__hash_bytes(key, key_len);
    lookup l = {key, key_len};
    cw__key *e = cw__map_find(&s->keys, hash, key_eq, &l);
    *conflict = false;
    if (!e)
        return new_key(s, hash, m);
    if (e->count == e->cap) { /* room for one more, before any change */
        uint32_t cap = e->cap * 2;
        cw_msg **grown = realloc(e->versions, cap * sizeof *grown);
        if (!grown)
            return CW_ENOMEM;
        e->versions = grown;
        e->cap = cap;
    }
    /* Drop what m dominates; keep what is concurrent with it. Causal
     * delivery means no kept version can dominate m; if one did, m would be
     * obsolete and is not stored. */
    bool dominated = false;
    uint32_t kept = 0;
    for (uint32_t i = 0; i < e->count; i++) {
        cw_order o = clock_order(m, e->versions[i]);
        if (o == CW_CONCURRENT || o == CW_BEFORE) {
            *conflict |= o == CW_CONCURRENT;
            dominated |= o == CW_BEFORE;
            e->versions[kept++] = e->versions[i];
        } else {
            cw_msg_unref(e->versions[i]);
        }
    }
    e->count = kept;
    if (dominated)
        return CW_OK;
    if (policy == CW_LAST_WRITER_WINS) {
        /* One version: the greatest (timestamp, origin). HLC order extends
         * causality, so every replica ends with the same winner. */
        if (kept && cw__msg_ts_order(e->versions[0], m) > 0)
            return CW_OK;
        if (kept)
            cw_msg_unref(e->versions[0]);
        e->versions[0] = cw_msg_ref(m);
        e->count = 1;
        return CW_OK;
    }
    uint32_t at = kept; /* insert in (timestamp, origin) order */
    while (at > 0 && cw__msg_ts_order(e->versions[at - 1], m) > 0)
        at--;
    memmove(e->versions + at + 1, e->versions + at, (kept - at) * sizeof *e->versions);
    e->versions[at] = cw_msg_ref(m);
    e->count = kept + 1;
    return CW_OK;
}
