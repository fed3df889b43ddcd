/* Futex event count (see park.h).
 *
 * The parker stores sleeping = 1 and then re-checks for work; a waker
 * publishes work and then loads sleeping. Both are seq_cst, so at least one
 * sees the other (store-load ordering, as in Dekker's algorithm): either the
 * parker finds the work, or the waker sees sleeping and bumps the epoch, which
 * makes a later futex wait on the old epoch return at once. */
#define _GNU_SOURCE
#include "park.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

uint32_t cw__park_prepare(cw__parker *p)
{
    uint32_t epoch = atomic_load_explicit(&p->epoch, memory_order_acquire);
    /* seq_cst: ordered before the caller's re-check of its work sources,
     * against the waker's seq_cst load of `sleeping` after publishing. */
    atomic_store_explicit(&p->sleeping, 1, memory_order_seq_cst);
    return epoch;
}

void cw__park_wait(cw__parker *p, uint32_t epoch, uint64_t timeout_ns)
{
    struct timespec ts = {(time_t)(timeout_ns / 1000000000u), (long)(timeout_ns % 1000000000u)};
    syscall(SYS_futex, &p->epoch, FUTEX_WAIT_PRIVATE, epoch, timeout_ns ? &ts : NULL, NULL, 0);
    atomic_store_explicit(&p->sleeping, 0, memory_order_relaxed);
}

void cw__park_cancel(cw__parker *p)
{
    atomic_store_explicit(&p->sleeping, 0, memory_order_relaxed);
}

void cw__park_wake(cw__parker *p)
{
    /* seq_cst fence: the caller's publication of work is ordered before this
     * load (pairs with the seq_cst store in cw__park_prepare). */
    atomic_thread_fence(memory_order_seq_cst);
    if (!atomic_load_explicit(&p->sleeping, memory_order_seq_cst))
        return;
    /* Release: the bump is ordered after the work it announces. */
    atomic_fetch_add_explicit(&p->epoch, 1, memory_order_release);
    syscall(SYS_futex, &p->epoch, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}
