/* Parking for idle threads: an event count on a futex. A thread that found
 * no work parks; anyone who makes work for it wakes it. A waker that runs
 * between the parker's last look and its sleep makes the sleep return at
 * once, so no wake-up is lost. Linux futexes; costs no CPU while parked.
 *
 * Why not Concurrency Kit's event count (ck_ec). Tried in its place (same
 * interface, multi-producer mode, busy_loop_iter 0): ck_ec brings no futex
 * calls of its own (the ops table wants them written, as here), it is not
 * header-only (libcauseway would link libck, today it uses only ck's inline
 * ring and pr), its waits re-wake on a backoff (2 ms, 16 ms, ...): an idle
 * 64-node engine used 0.022-0.024% of a core against 0.002% here; and its
 * wake is a locked increment on a line every waker writes, where this one
 * only reads `sleeping`. engine_e2e deliveries/s in the same session (2
 * cores shared with other builds, load 12-22) were within noise: medians
 * ck_ec/futex 1.04x at 2 nodes, 1.03x at 8, 1.10x at 64 over 8 alternating
 * rounds, with ranges wider than 3x on both. */
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
