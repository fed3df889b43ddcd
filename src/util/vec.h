/* Growing arrays: the one helper behind every array the library grows one
 * element at a time (the engine's retry and pending lists, the fault layer's
 * delay heap and hold queues). */
#ifndef CW_VEC_H
#define CW_VEC_H

#include <stddef.h>
#include <stdlib.h>

/* For an array of `len` elements of `elem` bytes in `*cap` slots: the array
 * with room for one more (doubling, from 64), or NULL if memory ran out (the
 * array and *cap unchanged). Amortised O(1) a push. */
static inline void *cw__vec_room(void *array, size_t len, size_t *cap, size_t elem)
{
    if (len < *cap)
        return array;
    size_t grown_cap = *cap ? *cap * 2 : 64;
    void *grown = realloc(array, grown_cap * elem);
    if (grown)
        *cap = grown_cap;
    return grown;
}

#endif
