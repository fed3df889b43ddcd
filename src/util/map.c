/* Open-addressing hash table (see map.h).
 *
 * Invariants:
 *  1. cap is 0 or a power of two, and count <= cap / 2.
 *  2. Every item is reachable from its home slot (hash & (cap-1)) through
 *     occupied slots only: insert probes forward, and remove shifts later
 *     entries of the run back so no hole breaks a run.
 */
#include "map.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <causeway/error.h>

static uint64_t fix_hash(uint64_t h) { return h ? h : 1; }

void cw__map_init(cw__map *m) { *m = (cw__map){0}; }

void cw__map_destroy(cw__map *m)
{
    free(m->slots);
    *m = (cw__map){0};
}

static void place(cw__map_slot *slots, size_t cap, uint64_t hash, void *item)
{
    size_t i = hash & (cap - 1);
    while (slots[i].hash)
        i = (i + 1) & (cap - 1);
    slots[i] = (cw__map_slot){hash, item};
}

static int grow_to(cw__map *m, size_t cap)
{
    cw__map_slot *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return CW_ENOMEM;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].hash)
            place(slots, cap, m->slots[i].hash, m->slots[i].item);
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return CW_OK;
}

int cw__map_reserve(cw__map *m, size_t extra)
{
    size_t need = (m->count + extra) * 2;
    if (need <= m->cap)
        return CW_OK;
    size_t cap = m->cap ? m->cap : 16;
    while (cap < need)
        cap *= 2;
    return grow_to(m, cap);
}

void *cw__map_find(const cw__map *m, uint64_t hash, cw__map_eq eq, const void *key)
{
    if (!m->count)
        return NULL;
    hash = fix_hash(hash);
    for (size_t i = hash & (m->cap - 1); m->slots[i].hash; i = (i + 1) & (m->cap - 1))
        if (m->slots[i].hash == hash && eq(m->slots[i].item, key))
            return m->slots[i].item;
    return NULL;
}

int cw__map_insert(cw__map *m, uint64_t hash, void *item)
{
    int rc = cw__map_reserve(m, 1);
    if (rc != CW_OK)
        return rc;
    place(m->slots, m->cap, fix_hash(hash), item);
    m->count++;
    return CW_OK;
}

void *cw__map_remove(cw__map *m, uint64_t hash, cw__map_eq eq, const void *key)
{
    if (!m->count)
        return NULL;
    hash = fix_hash(hash);
    size_t mask = m->cap - 1, i = hash & mask;
    while (m->slots[i].hash && !(m->slots[i].hash == hash && eq(m->slots[i].item, key)))
        i = (i + 1) & mask;
    if (!m->slots[i].hash)
        return NULL;
    void *item = m->slots[i].item;
    /* Backward shift: move later members of the run into the hole when their
     * home slot is not between the hole and their position. */
    size_t hole = i;
    for (size_t j = (i + 1) & mask; m->slots[j].hash; j = (j + 1) & mask) {
        size_t home = m->slots[j].hash & mask;
        bool home_after_hole = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!home_after_hole) {
            m->slots[hole] = m->slots[j];
            hole = j;
        }
    }
    m->slots[hole] = (cw__map_slot){0, NULL};
    m->count--;
    return item;
}

void cw__map_each(const cw__map *m, void (*fn)(void *item, void *ctx), void *ctx)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].hash)
            fn(m->slots[i].item, ctx);
}

static uint64_t load32(const unsigned char *p)
{
    uint32_t w;
    memcpy(&w, p, 4);
    return w;
}

/* The last len < 8 bytes as one word, with fixed-size loads only (a copy of
 * a variable length goes through the stack byte by byte, and reading the
 * word back then stalls on store forwarding). 4..7 bytes: two 4-byte loads
 * that may overlap; 1..3 bytes: the first, middle and last byte. The length
 * is hashed as a step of its own, so overlapping reads lose nothing. */
static uint64_t tail_word(const unsigned char *p, size_t len)
{
    if (len >= 4)
        return load32(p) | load32(p + len - 4) << 32;
    if (len)
        return (uint64_t)p[0] | (uint64_t)p[len / 2] << 8 | (uint64_t)p[len - 1] << 16;
    return 0;
}

/* The 128-bit product of a and b, its halves folded: a difference in any
 * bit of a reaches both halves, upwards and downwards (wyhash's mixing step). */
static uint64_t fold_mul(uint64_t a, uint64_t b)
{
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static uint64_t hash_seeded(const void *data, size_t len, uint64_t seed)
{
    /* One folded multiply per 8-byte word, the length first and the tail
     * word last, finished with a 64-bit mixer. (A plain multiply, as in
     * FNV, carries a difference only upwards: differences in the top bits
     * of two words cancelled, and such keys collided.) */
    const unsigned char *p = data;
    uint64_t h = fold_mul(len ^ 0xcbf29ce484222325u ^ seed, 0x9e3779b97f4a7c15u);
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = fold_mul(h ^ w, 0x9e3779b97f4a7c15u);
        p += 8;
        len -= 8;
    }
    h = fold_mul(h ^ tail_word(p, len), 0xbf58476d1ce4e5b9u);
    return cw__hash_u64(h);
}

uint64_t cw__hash_bytes(const void *data, size_t len) { return hash_seeded(data, len, 0); }

/* The process's key seed, drawn once; pthread_once orders the draw before
 * every use. Without the kernel's randomness (an old kernel, a sandbox),
 * the time and an address: not secret, but not known in advance either. */
static uint64_t key_seed;
static pthread_once_t key_seed_once = PTHREAD_ONCE_INIT;
/* A seed given before the first draw (cw__hash_key_fix_seed): written, then
 * read by the draw, on the calling thread, which no other thread hashes or
 * fixes beside (map.h); pthread_once orders the draw before every use. */
static bool seed_given;
static uint64_t given_seed;

static void draw_key_seed(void)
{
    if (seed_given) {
        key_seed = given_seed;
        return;
    }
    uint64_t s = 0;
    if (getrandom(&s, sizeof s, GRND_NONBLOCK) != (ssize_t)sizeof s) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        s = cw__hash_u64((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)(uintptr_t)&s);
    }
    key_seed = s;
}

bool cw__hash_key_fix_seed(uint64_t seed)
{
    if (!seed_given) { /* the first seed given is the one a draw takes */
        given_seed = seed;
        seed_given = true;
    }
    pthread_once(&key_seed_once, draw_key_seed);
    return key_seed == seed;
}

uint64_t cw__hash_key(const void *data, size_t len)
{
    pthread_once(&key_seed_once, draw_key_seed);
    return hash_seeded(data, len, key_seed);
}
