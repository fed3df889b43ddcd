/* splitmix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number
 * generators", 2014): a 64-bit state, one add and three xor-shift-multiplies
 * per number. The one seeded generator of the simulator, the tests and the
 * benchmarks, so a seed means the same stream in all of them. Statistically
 * good for workloads and schedules; not for anything secret. C and C++. */
#ifndef CW_SPLITMIX_H
#define CW_SPLITMIX_H

#include <stdint.h>

/* Advances *state and returns the next number of its stream. */
static inline uint64_t cw__splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

#endif
