/* Per-node clock coordinator (Clockworks' VectorClockCoordinator model).
 *
 * Invariants:
 *  1. Every access to clock_ and stats_ holds lock_.
 *  2. Each operation reserves all the memory it needs before its first
 *     change, so it either completes or changes nothing.
 */
#include <string.h>

#include <causeway/coordinator.h>
#include <causeway/error.h>

#include "vclock_internal.h"

int cw_coordinator_init(cw_coordinator *co, cw_node_id self)
{
    if (!co)
        return CW_EINVAL;
    memset(co, 0, sizeof *co);
    if (pthread_mutex_init(&co->lock_, NULL) != 0)
        return CW_ENOMEM;
    co->self_ = self;
    cw_vclock_init(&co->clock_);
    return CW_OK;
}

void cw_coordinator_destroy(cw_coordinator *co)
{
    if (!co)
        return;
    cw_vclock_destroy(&co->clock_);
    pthread_mutex_destroy(&co->lock_);
}

/* Ticks the own entry; the caller holds the lock and has reserved room for
 * one more entry, so only overflow can fail. */
static int tick_locked(cw_coordinator *co)
{
    return cw_vclock_increment(&co->clock_, co->self_);
}

int cw_coordinator_before_send(cw_coordinator *co, cw_vclock *out)
{
    if (!co || !out)
        return CW_EINVAL;
    pthread_mutex_lock(&co->lock_);
    size_t need = co->clock_.size + 1u;
    int rc = cw__vclock_reserve(&co->clock_, need, true);
    /* out's entries kept: the tick below can still fail (CW_EOVERFLOW),
     * and out must then be as the caller gave it. */
    if (rc == CW_OK)
        rc = cw__vclock_reserve(out, need, true);
    if (rc == CW_OK)
        rc = tick_locked(co);
    if (rc == CW_OK) {
        cw_vclock_copy(out, &co->clock_); /* cannot fail: out has room */
        co->stats_.sends++;
    }
    pthread_mutex_unlock(&co->lock_);
    return rc;
}

int cw_coordinator_before_receive(cw_coordinator *co, const cw_vclock *remote)
{
    if (!co || !remote)
        return CW_EINVAL;
    pthread_mutex_lock(&co->lock_);
    uint64_t own = cw_vclock_get(&co->clock_, co->self_);
    uint64_t seen = cw_vclock_get(remote, co->self_);
    int rc = (own > seen ? own : seen) == UINT64_MAX ? CW_EOVERFLOW : CW_OK;
    /* Room for the merge staging and the own entry. */
    if (rc == CW_OK)
        rc = cw__vclock_reserve(&co->clock_, (size_t)co->clock_.size + remote->size + 1u, true);
    if (rc == CW_OK) {
        cw_order before = cw_vclock_compare(&co->clock_, remote);
        cw_vclock_merge(&co->clock_, remote);
        tick_locked(co);
        co->stats_.receives++;
        co->stats_.merges += (before & CW_BEFORE) != 0; /* remote had something new */
    }
    pthread_mutex_unlock(&co->lock_);
    return rc;
}

int cw_coordinator_local_event(cw_coordinator *co)
{
    if (!co)
        return CW_EINVAL;
    pthread_mutex_lock(&co->lock_);
    int rc = cw__vclock_reserve(&co->clock_, (size_t)co->clock_.size + 1u, true);
    if (rc == CW_OK)
        rc = tick_locked(co);
    if (rc == CW_OK)
        co->stats_.local_events++;
    pthread_mutex_unlock(&co->lock_);
    return rc;
}

int cw_coordinator_current(cw_coordinator *co, cw_vclock *out)
{
    if (!co || !out)
        return CW_EINVAL;
    pthread_mutex_lock(&co->lock_);
    int rc = cw_vclock_copy(out, &co->clock_);
    pthread_mutex_unlock(&co->lock_);
    return rc;
}

void cw_coordinator_get_stats(cw_coordinator *co, cw_coordinator_stats *out)
{
    if (!co || !out)
        return;
    pthread_mutex_lock(&co->lock_);
    *out = co->stats_;
    pthread_mutex_unlock(&co->lock_);
}
