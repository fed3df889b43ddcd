/* A replica's key-value store: each key holds the versions whose clocks are
 * pairwise concurrent (siblings), as references to the writes' messages. */
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
    uint64_t seq;
} cw__version;

typedef struct cw__key {
    uint64_t hash;
    uint32_t count, cap;      /* versions */
    cw_msg **msgs;            /* the versions, ordered by (timestamp, origin) */
    cw__version *meta;        /* meta[i] describes msgs[i] */
    /* Room for one version inside the key, where msgs and meta point while
     * cap is 1: most keys hold one version, so a new key is one allocation.
     * Beyond that, one block holds cap metas, then cap message pointers. */
    cw_msg *msg1;
    cw__version meta1;
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

/* Applies a write: it replaces the versions its clock dominates and joins
 * those it is concurrent with (*conflict = true); under last-writer-wins only
 * the greatest (timestamp, origin) is kept. Takes a reference to m when it
 * keeps it. CW_ENOMEM leaves the store unchanged.
 * Precondition: m's clock is its causal past and m is applied in causal order
 * (the replica's delivery rule), so no kept version can follow m, and a
 * version v precedes m exactly when m[origin(v)] >= seq(v): O(1) a version. */
int cw__store_apply(cw__store *s, cw_msg *m, cw_conflict_policy policy, bool *conflict);

/* Orders two versions by (timestamp, origin): -1, 0, 1. */
int cw__version_order(const cw__version *a, const cw__version *b);

#endif
