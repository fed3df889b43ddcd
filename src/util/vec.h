/* Growing arrays: the one helper behind every array the library grows one
 * element at a time (the engine's retry and pending lists, the fault layer's
 * delay heap and hold queues), or makes room in ahead of a run of pushes
 * that must not allocate (the transport's pending list, a worker's list
 * for its own nodes). */
#ifndef CW_VEC_H
#define CW_VEC_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* For an array of `len` elements of `elem` bytes in `*cap` slots: the array
 * with room for n more, n >= 1 (so that NULL means only failure: an empty
 * array is NULL), doubling from 64 until it fits, in one realloc; or NULL
 * if memory ran out or the size would not fit in a size_t (the array and
 * *cap unchanged). */
static inline void *cw__vec_reserve(void *array, size_t len, size_t *cap, size_t n, size_t elem)
{
    assert(n >= 1);
    if (*cap - len >= n)
        return array;
    size_t grown_cap = *cap ? *cap : 64;
    while (grown_cap - len < n) {
        if (grown_cap > SIZE_MAX / 2 / elem)
            return NULL;
        grown_cap *= 2;
    }
    void *grown = realloc(array, grown_cap * elem);
    if (grown)
        *cap = grown_cap;
    return grown;
}

/* Room for one more: amortised O(1) a push. */
static inline void *cw__vec_room(void *array, size_t len, size_t *cap, size_t elem)
{
    return cw__vec_reserve(array, len, cap, 1, elem);
}

#endif
