/* Helpers shared by the cmocka tests: a seeded generator whose seed is named
 * in every property failure, clock builders, and allocation-failure
 * injection (failalloc.c). */
#ifndef CW_TESTUTIL_H
#define CW_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <causeway/causeway.h>

#include "splitmix.h"

/* ---- seeded generator (splitmix64) ----
 * The seed comes from CAUSEWAY_SEED, else from the time; every property
 * failure prints it, so `CAUSEWAY_SEED=<n> ./test_x` replays the run. */
static uint64_t tu_seed_value, tu_state;

static inline uint64_t tu_seed(void)
{
    if (!tu_seed_value) {
        const char *env = getenv("CAUSEWAY_SEED");
        tu_seed_value = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL) * 2654435761u;
        if (!tu_seed_value)
            tu_seed_value = 1;
        tu_state = tu_seed_value;
    }
    return tu_seed_value;
}

static inline uint64_t tu_rand(void)
{
    tu_seed();
    return cw__splitmix64(&tu_state);
}

/* Uniform in [0, n). */
static inline uint64_t tu_below(uint64_t n) { return n ? tu_rand() % n : 0; }

/* Fails the test, naming the seed that replays it. */
#define TU_CHECK(cond)                                                                     \
    do {                                                                                   \
        if (!(cond))                                                                       \
            fail_msg("%s:%d: property failed: %s (replay with CAUSEWAY_SEED=%llu)",         \
                     __FILE__, __LINE__, #cond, (unsigned long long)tu_seed());            \
    } while (0)

/* ---- clocks ---- */

/* Parses text that must be valid. */
static inline void tu_parse(cw_vclock *c, const char *text)
{
    assert_int_equal(cw_vclock_parse(c, text, strlen(text)), CW_OK);
}

/* Asserts that c formats to exactly text. */
#define tu_assert_clock(c, text)                                                           \
    do {                                                                                   \
        char tu_buf_[4096];                                                                \
        size_t tu_len_;                                                                    \
        assert_int_equal(cw_vclock_format((c), tu_buf_, sizeof tu_buf_, &tu_len_), CW_OK); \
        assert_string_equal(tu_buf_, (text));                                              \
    } while (0)

/* Asserts that read r holds exactly one version: string val with clock text. */
#define tu_assert_one_version(r, val, text)                                                \
    do {                                                                                   \
        assert_int_equal((r)->count, 1);                                                   \
        assert_int_equal((r)->versions[0].value_len, strlen(val));                         \
        assert_memory_equal((r)->versions[0].value, (val), strlen(val));                   \
        tu_assert_clock(&(r)->versions[0].clock, (text));                                  \
    } while (0)

/* A random clock over ids [0, universe) with about `density` (0..1) of them
 * present; counters small (so equal values are common) or full-range. */
static inline void tu_random_clock(cw_vclock *c, uint32_t universe, double density, bool small)
{
    cw_vclock_clear(c);
    for (uint32_t id = 0; id < universe; id++) {
        if ((double)tu_below(1000000) / 1e6 < density) {
            uint64_t v = small ? 1 + tu_below(4) : tu_rand() | 1;
            assert_int_equal(cw_vclock_set(c, (cw_node_id)id, v), CW_OK);
        }
    }
}

/* A merge function's result: the value "m" (malloc'd), CW_OK or CW_ENOMEM. */
static inline int tu_merged_m(void **value_out, size_t *len_out)
{
    if (!(*value_out = malloc(1)))
        return CW_ENOMEM;
    memcpy(*value_out, "m", 1);
    *len_out = 1;
    return CW_OK;
}

/* True when a and b hold the same entries. */
static inline bool tu_clock_equal(const cw_vclock *a, const cw_vclock *b)
{
    return a->size == b->size && (a->size == 0 || (memcmp(a->ids, b->ids, a->size * sizeof *a->ids) == 0 &&
                                                   memcmp(a->counters, b->counters, a->size * 8) == 0));
}

/* ---- allocation failure (failalloc.c; tests link with --wrap=malloc,calloc) ----
 * tu_fail_alloc_after(k): the next k allocations succeed, every later one
 * fails, until tu_fail_alloc_off(). */
void tu_fail_alloc_after(long k);
void tu_fail_alloc_off(void);
long tu_alloc_count(void);
/* tu_fail_realloc(1): every realloc of a nonzero size fails (realloc(NULL, n)
 * too), in every thread, while malloc, calloc and aligned_alloc go on, until
 * tu_fail_realloc(0). */
void tu_fail_realloc(int on);

#endif
