/* Futex event count (see park.h).
 *
 * Invariants:
 *  1. No wake-up is lost (Dekker, store-then-load on both sides):
 *       parker: store sleeping = 1; seq_cst fence F1; look for work
 *       waker:  publish work;       seq_cst fence F2; load sleeping
 *     F1 and F2 are both in the single total order S of seq_cst operations.
 *     If F2 comes first, the parker's look for work (after F1) sees the work;
 *     if F1 comes first, the waker's load (after F2) sees that sleeping = 1
 *     or a later value of it.
 *  2. One FUTEX_WAKE per park: a waker that reads sleeping = 1 claims it
 *     with an exchange to 0; only the claimant bumps the epoch and makes the
 *     syscall. A waker that reads 0 (or loses the claim) returns at once, and
 *     loses nothing: by 1, either its F2 precedes the parker's next F1, so
 *     that look finds the work, or the 0 it read is later than the parker's
 *     latest sleeping = 1, so it was written by a claimant (who bumped the
 *     epoch: the wait returns, and the parker looks again) or by the parker
 *     itself (awake, it looks again before it can sleep).
 *     Without the claim every publish made a FUTEX_WAKE from the wake until
 *     the woken thread ran (sleeping stayed 1 until it did): on two
 *     oversubscribed cores, up to ~100 syscalls per park (measured with perf
 *     syscall tracepoints; docs/performance.md, "Where an engine's time goes").
 *  3. A claim after prepare's epoch load moves the epoch past the value the
 *     wait compares with, so the wait returns at once. */
#define _GNU_SOURCE
#include "park.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

uint32_t cw__park_prepare(cw__parker *p)
{
    /* Acquire: pairs with the claimant's release bump in cw__park_wake; read
     * before the sleeping store, so a claim of that store bumps past it
     * (invariant 3). */
    uint32_t epoch = atomic_load_explicit(&p->epoch, memory_order_acquire);
    /* Relaxed: F1 below orders it before the caller's look for work. */
    atomic_store_explicit(&p->sleeping, 1, memory_order_relaxed);
    /* F1: orders the store above before the caller's re-check of its work
     * (relaxed flags and ck_ring indexes, which a seq_cst store alone does
     * not order in C11); pairs with F2 in cw__park_wake (invariant 1). */
    atomic_thread_fence(memory_order_seq_cst);
    return epoch;
}

void cw__park_wait(cw__parker *p, uint32_t epoch, uint64_t timeout_ns)
{
    struct timespec ts = {(time_t)(timeout_ns / 1000000000u), (long)(timeout_ns % 1000000000u)};
    syscall(SYS_futex, &p->epoch, FUTEX_WAIT_PRIVATE, epoch, timeout_ns ? &ts : NULL, NULL, 0);
    /* Relaxed: awake again (already 0 if a waker claimed); a waker that reads
     * this 0 is covered by the next prepare's F1 (invariant 2). */
    atomic_store_explicit(&p->sleeping, 0, memory_order_relaxed);
}

void cw__park_cancel(cw__parker *p)
{
    /* Relaxed: as in cw__park_wait; the owner is about to look for work. */
    atomic_store_explicit(&p->sleeping, 0, memory_order_relaxed);
}

void cw__park_wake(cw__parker *p)
{
    /* F2: the caller's publication of work is ordered before the load
     * below; pairs with F1 in cw__park_prepare (invariant 1). */
    atomic_thread_fence(memory_order_seq_cst);
    /* Relaxed: ordered by F2. The common case while the owner runs: one
     * load of a line the owner rarely writes, no syscall. */
    if (!atomic_load_explicit(&p->sleeping, memory_order_relaxed))
        return;
    /* Claim the wake-up (invariant 2): only the waker that moves sleeping
     * 1 -> 0 makes the syscall. Relaxed: the claim orders nothing; the bump
     * below publishes. */
    if (!atomic_exchange_explicit(&p->sleeping, 0, memory_order_relaxed))
        return;
    /* Release: the bump is ordered after the work it announces; pairs with
     * the acquire load of the epoch in cw__park_prepare. */
    atomic_fetch_add_explicit(&p->epoch, 1, memory_order_release);
    syscall(SYS_futex, &p->epoch, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}
