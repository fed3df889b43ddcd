/* Lamport clock. Invariant: time only grows, and a failed call changes nothing. */
#include <causeway/error.h>
#include <causeway/lamport.h>

void cw_lamport_init(cw_lamport *l)
{
    if (l)
        l->time = 0;
}

int cw_lamport_tick(cw_lamport *l, uint64_t *stamp_out)
{
    if (!l)
        return CW_EINVAL;
    if (l->time == UINT64_MAX)
        return CW_EOVERFLOW;
    l->time++;
    if (stamp_out)
        *stamp_out = l->time;
    return CW_OK;
}

int cw_lamport_receive(cw_lamport *l, uint64_t remote, uint64_t *stamp_out)
{
    if (!l)
        return CW_EINVAL;
    uint64_t m = l->time > remote ? l->time : remote;
    if (m == UINT64_MAX)
        return CW_EOVERFLOW;
    l->time = m + 1;
    if (stamp_out)
        *stamp_out = l->time;
    return CW_OK;
}
