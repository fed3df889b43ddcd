/* Key-value store with conflict detection.
 *
 * Invariants (checked by the replica's checker):
 *  1. Every key has >= 1 version; under CW_LAST_WRITER_WINS exactly 1.
 *  2. No version of a key covers another (by dot: cw__msg_covers).
 *  3. Versions are ordered by (timestamp, origin), so every replica holding
 *     the same set reads it in the same order.
 *  4. msgs[i] and meta[i] describe the same version; they move together.
 *  5. They are in the key's own room (cap CW__KEY_INLINE) exactly when
 *     count <= CW__KEY_INLINE, else in one block of cap >= count: an apply
 *     or a forget that leaves few enough versions moves them back
 *     (inline_again).
 * Cost of an apply: O(1) per version the key holds (see store.h), and no
 * access to the stored messages.
 */
#include "store.h"

#include <stdlib.h>
#include <string.h>

#include <causeway/dclock.h>
#include <causeway/error.h>

#include "kernels.h"
#include "msg_internal.h"

typedef struct lookup {
    const void *key;
    size_t len;
} lookup;

static bool key_eq(const void *item, const void *k)
{
    const cw__key *e = item;
    const lookup *l = k;
    /* An empty key may come as NULL: memcmp's arguments must be valid
     * pointers even for a length of 0. */
    return e->key_len == l->len && (l->len == 0 || memcmp(e->key, l->key, l->len) == 0);
}

void cw__store_init(cw__store *s) { cw__map_init(&s->keys); }

static void free_key(void *item, void *ctx)
{
    (void)ctx;
    cw__key *e = item;
    for (uint32_t i = 0; i < e->count; i++)
        cw__msg_unref(e->msgs[i]);
    if (e->meta != e->meta_in)
        free(e->meta);
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
    return cw__map_find(&s->keys, cw__hash_key(key, key_len), key_eq, &l);
}

int cw__version_order(const cw__version *a, const cw__version *b)
{
    int c = cw_hlc_compare(&a->ts, &b->ts);
    return c ? c : (a->origin > b->origin) - (a->origin < b->origin);
}

static cw__version version_of(const cw_msg *m)
{
    return (cw__version){m->ts, m->origin, (m->flags & CW__MSG_TOMBSTONE) != 0, m->seq};
}

static int new_key(cw__store *s, uint64_t hash, cw_msg *m)
{
    size_t key_len = m->key_len;
    const void *key = cw__msg_key_ptr(m);
    cw__key *e = malloc(sizeof *e + key_len);
    if (!e || cw__map_reserve(&s->keys, 1) != CW_OK) {
        free(e);
        return CW_ENOMEM;
    }
    *e = (cw__key){.hash = hash, .count = 1, .cap = CW__KEY_INLINE, .key_len = key_len};
    e->msgs = e->msg_in;
    e->meta = e->meta_in;
    memcpy(e->key, key, key_len);
    e->msg_in[0] = cw__msg_ref(m);
    e->meta_in[0] = version_of(m);
    cw__map_insert(&s->keys, hash, e); /* cannot fail: reserved */
    return CW_OK;
}

_Static_assert(sizeof(cw__version) % _Alignof(cw_msg *) == 0, "message pointers follow the metas");

/* Room for one more version, before any change: a block of twice the
 * capacity (metas, then message pointers), replacing the inline room or the
 * old block. */
static int reserve_version(cw__key *e)
{
    if (e->count < e->cap)
        return CW_OK;
    uint32_t cap = e->cap * 2;
    cw__version *meta = malloc(cap * (sizeof *meta + sizeof(cw_msg *)));
    if (!meta)
        return CW_ENOMEM;
    cw_msg **msgs = (cw_msg **)(void *)(meta + cap);
    memcpy(meta, e->meta, e->count * sizeof *meta);
    memcpy(msgs, e->msgs, e->count * sizeof *msgs);
    if (e->meta != e->meta_in)
        free(e->meta);
    e->meta = meta;
    e->msgs = msgs;
    e->cap = cap;
    return CW_OK;
}

/* Versions that fit in the key's own room again go back there, and the
 * block is freed: a key that had siblings for a while (a partition, a lost
 * write) reads as few lines as any other once they are resolved. (A key
 * that swings between two and three versions pays a malloc and a free a
 * swing.) */
static void inline_again(cw__key *e)
{
    if (e->meta == e->meta_in || e->count > CW__KEY_INLINE)
        return;
    memcpy(e->meta_in, e->meta, e->count * sizeof *e->meta);
    memcpy(e->msg_in, e->msgs, e->count * sizeof *e->msgs);
    free(e->meta);
    e->meta = e->meta_in;
    e->msgs = e->msg_in;
    e->cap = CW__KEY_INLINE;
}

int cw__store_apply(cw__store *s, cw_msg *m, cw_conflict_policy policy, bool *conflict)
{
    size_t key_len = m->key_len;
    const void *key = cw__msg_key_ptr(m);
    uint64_t hash = m->key_hash; /* cw__hash_key(key, key_len), made with m */
    lookup l = {key, key_len};
    cw__key *e = cw__map_find(&s->keys, hash, key_eq, &l);
    *conflict = false;
    if (!e)
        return new_key(s, hash, m);
    /* Room for one more only if m joins every version it does not cover
     * and they fill the room: counted before any change, so that CW_ENOMEM
     * leaves the key as it was. A key with room to spare (one version: most
     * keys, most of the time) skips the count. */
    if (e->count == e->cap && policy != CW_LAST_WRITER_WINS) {
        uint32_t left = 0;
        for (uint32_t i = 0; i < e->count; i++)
            left += !cw__msg_covers(m, e->meta[i].origin, e->meta[i].seq);
        if (left == e->cap && reserve_version(e) != CW_OK)
            return CW_ENOMEM;
    }
    /* Drop what m's context covers; keep the rest, as its siblings. */
    uint32_t kept = 0;
    for (uint32_t i = 0; i < e->count; i++) {
        if (cw__msg_covers(m, e->meta[i].origin, e->meta[i].seq)) {
            cw__msg_unref(e->msgs[i]);
        } else {
            *conflict = true;
            e->msgs[kept] = e->msgs[i];
            e->meta[kept++] = e->meta[i];
        }
    }
    e->count = kept;
    cw__version nv = version_of(m);
    uint32_t at;
    if (policy == CW_LAST_WRITER_WINS) {
        /* One version: the greatest (timestamp, origin). HLC order extends
         * causality, so every replica ends with the same winner. */
        if (kept && cw__version_order(&e->meta[0], &nv) > 0)
            return CW_OK;
        if (kept)
            cw__msg_unref(e->msgs[0]);
        at = 0;
        e->count = 1;
    } else {
        at = kept; /* insert in (timestamp, origin) order */
        while (at > 0 && cw__version_order(&e->meta[at - 1], &nv) > 0)
            at--;
        memmove(e->msgs + at + 1, e->msgs + at, (kept - at) * sizeof *e->msgs);
        memmove(e->meta + at + 1, e->meta + at, (kept - at) * sizeof *e->meta);
        e->count = kept + 1;
    }
    e->msgs[at] = cw__msg_ref(m);
    e->meta[at] = nv;
    inline_again(e);
    return CW_OK;
}

void cw__store_forget(cw__store *s, const cw_msg *m)
{
    size_t key_len = m->key_len;
    const void *key = cw__msg_key_ptr(m);
    uint64_t hash = m->key_hash; /* cw__hash_key(key, key_len), made with m */
    lookup l = {key, key_len};
    cw__key *e = cw__map_find(&s->keys, hash, key_eq, &l);
    if (!e)
        return;
    for (uint32_t i = 0; i < e->count; i++)
        if (e->msgs[i] == m) {
            cw__msg_unref(e->msgs[i]);
            memmove(e->msgs + i, e->msgs + i + 1, (e->count - i - 1) * sizeof *e->msgs);
            memmove(e->meta + i, e->meta + i + 1, (e->count - i - 1) * sizeof *e->meta);
            e->count--;
            inline_again(e);
            break;
        }
    if (!e->count) {
        cw__map_remove(&s->keys, hash, key_eq, &l);
        free_key(e, NULL);
    }
}
