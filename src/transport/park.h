/* Parking for idle threads: an event count on a futex. A thread that found
 * no work parks; anyone who makes work for it wakes it. A waker that runs
 * between the parker's last look and its sleep makes the sleep return at
 * once, so no wake-up is lost. Linux futexes; costs no CPU while parked.
 *
 * Why not Concurrency Kit's event count (ck_ec). Tried in its place (same
 * interface, multi-producer mode, its default ops tuning): ck_ec brings no
 * futex calls of its own (the ops table wants them written, as here), it is
 * not header-only (libcauseway would link libck, today it uses only ck's
 * inline ring and pr), a sleeper re-wakes on its backoff (2, 16, 128 ms, up
 * to 1 s) before it sleeps for good: measured 0.2-2.2 s after going idle, a
 * 64-node engine used 0.013-0.024% of a core against 0.002% here (5 runs
 * each); and its wake is a locked increment on a line every waker writes,
 * where this one only reads `sleeping`. engine_e2e deliveries/s (nodes 2, 8,
 * 64), in two sessions of 8 alternating rounds on 2 cores shared with other
 * builds: medians ck_ec/futex 1.04, 1.03, 1.10 and 1.07, 0.99, 0.97, inside
 * the spread between two copies of the same binary (0.97-1.25x). */
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
