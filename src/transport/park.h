/* Parking for idle threads: an event count on a futex. A thread that found
 * no work parks; anyone who makes work for it wakes it. A waker that runs
 * between the parker's last look and its sleep makes the sleep return at
 * once, so no wake-up is lost. Linux futexes; costs no CPU while parked. */
#ifndef CW_PARK_H
#define CW_PARK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct cw__parker {
    _Atomic uint32_t epoch;     /* bumped by every wake */
    _Atomic uint32_t sleeping;  /* the owner is between prepare and wake-up */
} cw__parker;

/* Owner: announce the intent to sleep and get the epoch to sleep on. Then
 * look for work once more; if none, call cw__park_wait. */
uint32_t cw__park_prepare(cw__parker *p);
/* Owner: sleep until woken, the epoch moves, or timeout_ns (0 = no limit). */
void cw__park_wait(cw__parker *p, uint32_t epoch, uint64_t timeout_ns);
/* Owner: it found work after prepare and will not sleep. */
void cw__park_cancel(cw__parker *p);
/* Anyone, after publishing work: wake the owner if it sleeps or is about to. */
void cw__park_wake(cw__parker *p);

#endif
