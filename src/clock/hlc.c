/* Hybrid logical clock (Kulkarni, Demirbas et al. 2014).
 *
 * Invariants:
 *  1. Every timestamp issued is greater than every timestamp issued or adopted
 *     before it (by wall, then counter; the node id breaks ties between nodes).
 *  2. last.wall_ms <= CW_HLC_MAX_WALL; an operation that would pass it fails
 *     with CW_EOVERFLOW and changes nothing.
 *  3. A remote timestamp more than max_drift_ms ahead of the wall clock is
 *     refused (CW_EDRIFT) and changes nothing, so one bad peer cannot drag
 *     every clock into the future.
 */
#include <string.h>
#include <time.h>

#include <causeway/error.h>
#include <causeway/hlc.h>

#include "bytes.h"
#include "hlc_internal.h"
#include "decimal.h"

static uint64_t realtime_ms(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int cw_hlc_init(cw_hlc *h, cw_node_id node, cw_wall_clock_fn now, void *now_ctx,
                uint64_t max_drift_ms)
{
    if (!h)
        return CW_EINVAL;
    h->last = (cw_hlc_timestamp){0, 0, node};
    h->now = now ? now : realtime_ms;
    h->now_ctx = now ? now_ctx : NULL;
    h->max_drift_ms = max_drift_ms ? max_drift_ms : CW_HLC_DEFAULT_MAX_DRIFT_MS;
    return CW_OK;
}

/* The next timestamp after (wall, counter) at physical time pt: the larger
 * wall with counter 0 if pt moved ahead, else the same wall with counter + 1,
 * rolling into the next millisecond when the counter is exhausted. */
static int advance(uint64_t wall, uint32_t counter, uint64_t pt, cw_hlc_timestamp *next)
{
    if (pt > wall) {
        wall = pt;
        counter = 0;
    } else if (counter < UINT16_MAX) {
        counter++;
    } else {
        /* A wall past the range (a remote or observed timestamp not from
         * the codec) must not wrap to 0 here. */
        if (wall >= CW_HLC_MAX_WALL)
            return CW_EOVERFLOW;
        wall++;
        counter = 0;
    }
    if (wall > CW_HLC_MAX_WALL)
        return CW_EOVERFLOW;
    next->wall_ms = wall;
    next->counter = (uint16_t)counter;
    return CW_OK;
}

int cw_hlc_now(cw_hlc *h, cw_hlc_timestamp *out)
{
    if (!h)
        return CW_EINVAL;
    return cw__hlc_now_at(h, h->now(h->now_ctx), out);
}

int cw__hlc_now_at(cw_hlc *h, uint64_t pt, cw_hlc_timestamp *out)
{
    cw_hlc_timestamp next = h->last;
    int rc = advance(h->last.wall_ms, h->last.counter, pt, &next);
    if (rc != CW_OK)
        return rc;
    h->last = next;
    if (out)
        *out = next;
    return CW_OK;
}

int cw_hlc_update(cw_hlc *h, const cw_hlc_timestamp *remote, cw_hlc_timestamp *out)
{
    if (!h || !remote)
        return CW_EINVAL;
    uint64_t pt = h->now(h->now_ctx);
    if (remote->wall_ms > pt && remote->wall_ms - pt > h->max_drift_ms)
        return CW_EDRIFT;
    /* Start from the later of local and remote (wall, counter), then advance. */
    uint64_t wall = h->last.wall_ms;
    uint32_t counter = h->last.counter;
    if (remote->wall_ms > wall || (remote->wall_ms == wall && remote->counter > counter)) {
        wall = remote->wall_ms;
        counter = remote->counter;
    }
    cw_hlc_timestamp next = h->last;
    int rc = advance(wall, counter, pt, &next);
    if (rc != CW_OK)
        return rc;
    h->last = next;
    if (out)
        *out = next;
    return CW_OK;
}

void cw_hlc_observe(cw_hlc *h, const cw_hlc_timestamp *seen)
{
    if (!h || !seen)
        return;
    if (seen->wall_ms > h->last.wall_ms ||
        (seen->wall_ms == h->last.wall_ms && seen->counter > h->last.counter)) {
        h->last.wall_ms = seen->wall_ms;
        h->last.counter = seen->counter;
    }
}

int cw_hlc_compare(const cw_hlc_timestamp *a, const cw_hlc_timestamp *b)
{
    if (a->wall_ms != b->wall_ms)
        return a->wall_ms < b->wall_ms ? -1 : 1;
    if (a->counter != b->counter)
        return a->counter < b->counter ? -1 : 1;
    return (a->node > b->node) - (a->node < b->node);
}

int cw_hlc_format(const cw_hlc_timestamp *t, char *buf, size_t cap, size_t *len_out)
{
    /* Beyond 2^48 - 1 no timestamp exists (its text would not parse back,
     * and would pass CW_HLC_TEXT_MAX). */
    if (!t || !len_out || (!buf && cap) || t->wall_ms > CW_HLC_MAX_WALL)
        return CW_EINVAL;
    unsigned ww = cw__decimal_len(t->wall_ms), cw = cw__decimal_len(t->counter);
    unsigned nw = cw__decimal_len(t->node);
    ww = ww < 13 ? 13 : ww;
    cw = cw < 4 ? 4 : cw;
    size_t need = (size_t)ww + 1 + cw + 1 + nw;
    if (need + 1 > cap) {
        *len_out = need;
        return CW_ENOSPC;
    }
    char *p = buf;
    cw__decimal_write(p, ww, t->wall_ms);
    p += ww;
    *p++ = '.';
    cw__decimal_write(p, cw, t->counter);
    p += cw;
    *p++ = '@';
    cw__decimal_write(p, nw, t->node);
    p[nw] = '\0';
    *len_out = need;
    return CW_OK;
}

int cw_hlc_parse(cw_hlc_timestamp *out, const char *text, size_t len)
{
    if (!out || (!text && len))
        return CW_EINVAL;
    const char *at = len ? memchr(text, '@', len) : NULL;
    if (!at)
        return CW_EPARSE;
    size_t head = (size_t)(at - text);
    const char *dot = memchr(text, '.', head);
    if (!dot)
        return CW_EPARSE;
    size_t wall_len = (size_t)(dot - text);
    uint64_t wall, counter, node;
    if (!cw__decimal_parse(text, wall_len, CW_HLC_MAX_WALL, &wall) ||
        !cw__decimal_parse(dot + 1, head - wall_len - 1, UINT16_MAX, &counter) ||
        !cw__decimal_parse(at + 1, len - head - 1, UINT16_MAX, &node))
        return CW_EPARSE;
    *out = (cw_hlc_timestamp){wall, (uint16_t)counter, (cw_node_id)node};
    return CW_OK;
}

int cw_hlc_encode(const cw_hlc_timestamp *t, uint8_t *buf, size_t cap)
{
    if (!t || !buf)
        return CW_EINVAL;
    if (t->wall_ms > CW_HLC_MAX_WALL)
        return CW_EINVAL;
    if (cap < CW_HLC_BINARY_SIZE)
        return CW_ENOSPC;
    uint8_t *p = cw__store_be(buf, t->wall_ms, 6);
    p = cw__store_be(p, t->counter, 2);
    cw__store_be(p, t->node, 2);
    return CW_OK;
}

int cw_hlc_decode(cw_hlc_timestamp *out, const uint8_t *buf, size_t len)
{
    if (!out || (!buf && len))
        return CW_EINVAL;
    if (len < CW_HLC_BINARY_SIZE)
        return CW_ETRUNC;
    *out = (cw_hlc_timestamp){cw__load_be(buf, 6), (uint16_t)cw__load_be(buf + 6, 2),
                              (cw_node_id)cw__load_be(buf + 8, 2)};
    return CW_OK;
}
