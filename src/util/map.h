/* A small open-addressing hash table of item pointers, for the replica's
 * indexes. The caller hashes and compares; the table stores (hash, item).
 *
 * Linear probing, capacity a power of two, load <= 1/2, deletion by backward
 * shift (no tombstones), so a lookup visits at most the run of occupied slots
 * that holds its hash. Not thread-safe. */
#ifndef CW_MAP_H
#define CW_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cw__map_slot {
    uint64_t hash;   /* 0 marks an empty slot; stored hashes are never 0 */
    void *item;
} cw__map_slot;

typedef struct cw__map {
    cw__map_slot *slots;
    size_t cap;      /* 0 or a power of two */
    size_t count;
} cw__map;

/* Compares an item with the key being looked up. */
typedef bool (*cw__map_eq)(const void *item, const void *key);

void cw__map_init(cw__map *m);
void cw__map_destroy(cw__map *m);
/* The item matching key, or NULL. */
void *cw__map_find(const cw__map *m, uint64_t hash, cw__map_eq eq, const void *key);
/* Adds item (the caller ensures no equal item is present). CW_ENOMEM. */
int cw__map_insert(cw__map *m, uint64_t hash, void *item);
/* Removes and returns the item matching key, or NULL. */
void *cw__map_remove(cw__map *m, uint64_t hash, cw__map_eq eq, const void *key);
/* Makes room for `extra` more items, so that many inserts cannot fail. */
int cw__map_reserve(cw__map *m, size_t extra);

/* Calls fn(item, ctx) for every item, in no particular order. */
void cw__map_each(const cw__map *m, void (*fn)(void *item, void *ctx), void *ctx);

/* 64-bit hashes. cw__hash_bytes is the same in every process. */
uint64_t cw__hash_bytes(const void *data, size_t len);
/* For keys that come from outside (clients, peers) into a table: seeded with
 * a random value drawn once per process, so that no one can choose keys that
 * collide in a table and make each lookup walk all of them (hash flooding).
 * Never stored or sent: another process hashes the same key differently. */
uint64_t cw__hash_key(const void *data, size_t len);
/* Makes cw__hash_key's seed `seed` if no key was hashed yet in this process,
 * so that a fuzz target's replay lays its tables out as the run that found
 * an input did: true if keys now hash with it, false if a seed was drawn
 * already. Call it before any other thread hashes a key or fixes a seed
 * (one thread, or after a happens-before with it), and never in a process
 * that takes keys from others: a known seed is what flooding needs. */
bool cw__hash_key_fix_seed(uint64_t seed);
static inline uint64_t cw__hash_u64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdu;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53u;
    return x ^ (x >> 33);
}

#endif
