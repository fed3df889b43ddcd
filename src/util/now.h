/* The monotonic clock in nanoseconds, for the layers that time things
 * (the fault layer's delays, the engine's idle policy and latencies). */
#ifndef CW_NOW_H
#define CW_NOW_H

#include <stdint.h>
#include <time.h>

static inline uint64_t cw__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif
