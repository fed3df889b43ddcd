/* A replica's key-value store: each key holds the versions no other version
 * replaced (siblings, tombstones among them), as references to the writes'
 * messages. */
#ifndef CW_STORE_H
#define CW_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <causeway/msg.h>
#include <causeway/node.h>

#include "map.h"

/* A version, with what conflict decisions need kept beside the message so
 * that deciding never touches it. */
typedef struct cw__version {
    cw_hlc_timestamp ts;
    cw_node_id origin;
    bool tombstone;           /* a delete: kept, hidden by reads */
    uint64_t seq;
} cw__version;

/* Versions a key holds inside itself, where msgs and meta point while cap
 * is this: two, so a write that replaces the key's one version, or joins it
 * as a sibling, needs no memory. */
#define CW__KEY_INLINE 2

typedef struct cw__key {
    uint64_t hash;
    uint32_t count, cap;      /* versions */
    cw_msg **msgs;            /* the versions, ordered by (timestamp, origin) */
    cw__version *meta;        /* meta[i] describes msgs[i] */
    /* Room for CW__KEY_INLINE versions inside the key: a new key is one
     * allocation, and a write that replaces the one version, or joins it
     * as a sibling, reads and writes only the key's own lines. Beyond
     * that, one block holds cap metas, then cap message pointers. */
    cw_msg *msg_in[CW__KEY_INLINE];
    cw__version meta_in[CW__KEY_INLINE];
    size_t key_len;
    uint8_t key[];
} cw__key;

typedef struct cw__store {
    cw__map keys;             /* of cw__key */
} cw__store;

void cw__store_init(cw__store *s);
/* Releases every version. */
void cw__store_destroy(cw__store *s);
const cw__key *cw__store_find(const cw__store *s, const void *key, size_t key_len);

/* Applies a write: it replaces the versions its context covers (a plain
 * put's context is its clock without its own dot) and joins the others
 * (*conflict = true); under last-writer-wins only the greatest (timestamp,
 * origin) is kept, a tombstone competing like any write. Takes a reference
 * to m when it keeps it. CW_ENOMEM leaves the store unchanged.
 * Precondition: m is applied in causal order (the replica's delivery rule),
 * and its context is at or below its clock (the replica refuses a context
 * ahead of it), so every version m's context covers is already applied:
 * which versions survive does not depend on the order of arrival. O(1) a
 * version. */
int cw__store_apply(cw__store *s, cw_msg *m, cw_conflict_policy policy, bool *conflict);

/* Removes tombstone m from its key if it is still there (a later write may
 * have replaced it already), and the key once it holds nothing. */
void cw__store_forget(cw__store *s, const cw_msg *m);

/* Orders two versions by (timestamp, origin): -1, 0, 1. */
int cw__version_order(const cw__version *a, const cw__version *b);

#endif
