/* One replica: clock, store, causal delivery buffer, statistics.
 *
 * Invariants (checked by cw__node_check):
 *  1. Delivery rule (Birman-Schiper-Stephenson): a write m from j is applied
 *     only when m[j] == V[j] + 1 and m[k] <= V[k] for every k != j.
 *  2. No buffered write is deliverable: a pending write is not its sender's
 *     next (seq > V[j] + 1); a waiting head has a registered blocker k with
 *     m[k] > V[k], and every entry below k is met.
 *  3. Every buffered write is reachable from exactly one index entry: its
 *     sender's ring at its seq, or (as its sender's head) its blocker's
 *     waiting list, by counter.
 *  4. The node clock equals the merge of all applied writes: V[k] is the
 *     number of writes from k applied here, counting those a state install
 *     (install.c) stands for (each origin's writes apply in
 *     sequence order, and invariant 1 puts every other entry of a write's
 *     clock at or below V).
 *  5. The buffer never rescans: after a write from o reaches V[o] = c, only
 *     the front of o's waiting list (the heads waiting for c) and ring slot
 *     c + 1 of o are looked at, and a re-examined head resumes its scan at
 *     its blocker (V only grows, so entries below stay met). Work per
 *     delivered write is O(nodes) vector work plus O(1) index operations,
 *     whatever the number of buffered writes, but for one step: filing a
 *     head walks back past the heads waiting on the same node for later
 *     counters, none when heads reach that node's list in counter order (as
 *     after a lost write), up to nodes - 2 when they come in falling order;
 *     no buffered write has an allocation of its own.
 *  6. A failed call changes nothing: the memory any step could need (ring
 *     slots, the work stack) is reserved when a write enters the buffer.
 *  7. Memory is bounded: at most max_buffered writes wait, holding at most
 *     max_buffered_bytes (buf.bytes, cw__msg_bytes of each) unless one write
 *     alone is larger, and the rings hold at most 4 * max_buffered + 16 *
 *     nodes slots in total (CW_EFULL beyond any of them).
 *  8. Every local write is taken by send exactly once, in sequence order: the
 *     unsent queue holds this node's own writes V[self] - len + 1 .. V[self],
 *     oldest first, each offered again only by cw_node_flush; a write joins
 *     the queue when it or an earlier one was refused, never leaves it before
 *     send takes it, and the queue has room for it before the write is made.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <causeway/dclock.h>
#include <causeway/error.h>
#include <causeway/node.h>

#include "buffer.h"
#include "histogram.h"
#include "hlc_internal.h"
#include "kernels.h"
#include "msg_internal.h"
#include "node_internal.h"
#include "node_state.h"
#include "recovery.h"
#include "now.h"
#include "store.h"
#include "vclock_internal.h"


/* In debug builds every call ends with the full invariant check for groups
 * of up to 16 nodes holding up to 4096 keys in rings of up to 4096 slots,
 * and every 1024th call beyond (the check costs O(store * nodes + ring
 * slots), too much to run on each delivery of 1024 replicas, of a store of
 * 100,000 keys, or of a buffer of 20,000 writes: at 8 nodes and 1% loss a
 * sanitizer build spent a minute on checks and looked hung). */
#ifndef NDEBUG
static bool check_now(cw_node *n)
{
    return (n->n <= 16 && n->store.keys.count <= 4096 && n->buf.ring_slots <= 4096) || (++n->checks & 1023) == 0;
}
#endif

static uint64_t monotonic_ns(void *ctx)
{
    (void)ctx;
    return cw__now_ns();
}

void cw_node_options_init(cw_node_options *o)
{
    if (!o)
        return;
    *o = (cw_node_options){0};
    o->nodes = 1;
    o->policy = CW_KEEP_SIBLINGS;
    o->max_key_len = CW_NODE_DEFAULT_MAX_KEY_LEN;
    o->max_value_len = CW_NODE_DEFAULT_MAX_VALUE_LEN;
    o->max_buffered = CW_NODE_DEFAULT_MAX_BUFFERED;
    o->max_buffered_bytes = CW_NODE_DEFAULT_MAX_BUFFERED_BYTES;
    o->max_unsent = CW_NODE_DEFAULT_MAX_UNSENT;
    o->max_log = CW_NODE_DEFAULT_MAX_LOG;
    o->max_siblings = CW_NODE_DEFAULT_MAX_SIBLINGS;
    o->recovery_timeout_ns = CW_NODE_DEFAULT_RECOVERY_TIMEOUT_NS;
    o->report_interval_ns = CW_NODE_DEFAULT_REPORT_INTERVAL_NS;
}

bool cw__node_options_valid(const cw_node_options *o)
{
    return o->nodes > 0 && o->nodes <= CW_VCLOCK_MAX_ENTRIES && o->self < o->nodes && (o->nodes == 1 || o->send) &&
           (unsigned)o->policy <= CW_MERGE_CALLBACK && (o->policy != CW_MERGE_CALLBACK || o->merge) &&
           o->max_buffered > 0 && o->max_buffered <= CW_NODE_MAX_BUFFERED_LIMIT && o->max_unsent > 0 &&
           o->recovery_timeout_ns <= CW_NODE_MAX_INTERVAL_NS && o->report_interval_ns <= CW_NODE_MAX_INTERVAL_NS &&
           o->stability_interval_ns <= CW_NODE_MAX_INTERVAL_NS;
}

size_t cw__node_footprint(uint32_t nodes)
{
    size_t per_sender = 2 * sizeof(uint64_t) + sizeof(cw__ring) + sizeof(cw__head) + sizeof(cw__waitlist) +
                        /* recovery: gap state, the gap list, the log's ring,
                         * stable and the round's minimum, a bit heard */
                        sizeof(cw__gap) + sizeof(uint32_t) + sizeof(bool) + sizeof(cw__log_ring) +
                        2 * sizeof(uint64_t) + 1;
    return sizeof(cw_node) + 16 * sizeof(cw__slot) + (size_t)nodes * per_sender;
}

int cw_node_create(cw_node **out, const cw_node_options *o)
{
    if (!out || !o || !cw__node_options_valid(o))
        return CW_EINVAL;
    cw_node *n = calloc(1, sizeof *n);
    if (!n)
        return CW_ENOMEM;
    n->opt = *o;
    n->n = o->nodes;
    if (!n->opt.ns_clock)
        n->opt.ns_clock = monotonic_ns;
    /* 0 takes the default, for options filled before these fields existed. */
    if (!n->opt.max_log)
        n->opt.max_log = CW_NODE_DEFAULT_MAX_LOG;
    if (!n->opt.max_siblings)
        n->opt.max_siblings = CW_NODE_DEFAULT_MAX_SIBLINGS;
    if (!n->opt.recovery_timeout_ns)
        n->opt.recovery_timeout_ns = CW_NODE_DEFAULT_RECOVERY_TIMEOUT_NS;
    if (!n->opt.report_interval_ns)
        n->opt.report_interval_ns = CW_NODE_DEFAULT_REPORT_INTERVAL_NS;
    if (!n->opt.stability_interval_ns)
        n->opt.stability_interval_ns = n->opt.report_interval_ns;
    if (!n->opt.max_buffered_bytes)
        n->opt.max_buffered_bytes = CW_NODE_DEFAULT_MAX_BUFFERED_BYTES;
    n->applied_from = calloc(o->nodes, sizeof *n->applied_from);
    n->work_cap = 16;
    n->work = malloc(n->work_cap * sizeof *n->work);
    if (!n->applied_from || !n->work || cw_dclock_init(&n->clock, o->nodes) != CW_OK ||
        cw__buffer_init(&n->buf, o->nodes) != CW_OK || cw__recovery_init(n) != CW_OK) {
        cw__buffer_destroy(&n->buf, n->n);
        free(n->applied_from);
        free(n->work);
        cw_dclock_destroy(&n->clock);
        free(n);
        return CW_ENOMEM;
    }
    cw_hlc_init(&n->hlc, o->self, o->wall_clock, o->wall_ctx, o->max_drift_ms);
    cw__store_init(&n->store);
    *out = n;
    return CW_OK;
}

void cw_node_destroy(cw_node *n)
{
    if (!n || n->in_callback) /* from a callback: the caller below still uses it */
        return;
    for (size_t i = 0; i < n->work_count; i++)
        cw__msg_unref(n->work[i].msg);
    for (size_t i = 0; i < n->unsent_len; i++)
        cw__msg_unref(n->unsent[i]);
    free(n->unsent);
    cw__recovery_destroy(n);
    cw__buffer_destroy(&n->buf, n->n);
    cw__store_destroy(&n->store);
    cw_dclock_destroy(&n->clock);
    free(n->applied_from);
    free(n->work);
    free(n->context);
    free(n);
}

cw_node_id cw_node_self(const cw_node *n) { return n->opt.self; }
const uint64_t *cw_node_counters(const cw_node *n) { return n ? n->clock.counters : NULL; }

int cw_node_clock(const cw_node *n, cw_vclock *out)
{
    if (!n || !out)
        return CW_EINVAL;
    return cw_dclock_to_sparse(&n->clock, out);
}

/* ---- clock drift ---- */

/* Whether a remote timestamp is within the drift bound, for the statistic.
 * The wall clock is read only when the timestamp is ahead of the latest
 * reading by more than the bound, so steady traffic costs no clock reads;
 * after this node's wall clock steps back, the latest reading is the larger
 * one, and anomalies are undercounted until the wall clock passes it again. */
static bool within_drift(cw_node *n, const cw_hlc_timestamp *ts)
{
    if (ts->wall_ms <= n->wall_seen || ts->wall_ms - n->wall_seen <= n->hlc.max_drift_ms)
        return true;
    uint64_t wall = n->hlc.now(n->hlc.now_ctx);
    if (wall > n->wall_seen)
        n->wall_seen = wall;
    return ts->wall_ms <= n->wall_seen || ts->wall_ms - n->wall_seen <= n->hlc.max_drift_ms;
}

bool cw__node_follow(cw_node *n, const cw_hlc_timestamp *ts)
{
    if (within_drift(n, ts)) {
        cw_hlc_observe(&n->hlc, ts);
        return true;
    }
    n->clock_anomalies++;
    if (n->opt.policy == CW_LAST_WRITER_WINS) {
        cw_hlc_observe(&n->hlc, ts);
        return false;
    }
    /* within_drift read the wall clock: wall_seen + max_drift_ms is below
     * ts->wall_ms, so below 2^48. Counter 0, so the next put here is within
     * the bound (its wall part is at most max_drift_ms ahead). */
    cw_hlc_timestamp bound = {.wall_ms = n->wall_seen + n->hlc.max_drift_ms, .counter = 0, .node = ts->node};
    cw_hlc_observe(&n->hlc, &bound);
    return false;
}

/* ---- applying writes ---- */

/* How far ahead a cascade along one sender's ring starts loading: messages
 * 2 and CASCADE_AHEAD seqs on, their ring slots 2 * CASCADE_AHEAD on. A
 * delivery takes ~100 ns and a buffered message is usually cold (a deep
 * buffer outgrows the caches), so one step ahead is not enough. */
#define CASCADE_AHEAD 6

/* Applies one write (local or remote) to the store and the clock. Remote
 * writes merge their clock into V; a local write already ticked V. */
static int apply(cw_node *n, cw_msg *m, bool remote, uint64_t arrived_ns, uint64_t now_ns)
{
    bool conflict;
    int rc = cw__recovery_reserve(n, m);
    if (rc == CW_OK)
        rc = cw__store_apply(&n->store, m, n->opt.policy, &conflict);
    if (rc != CW_OK)
        return rc;
    cw__recovery_applied(n, m);
    cw_node_id o = m->origin;
    n->applied_from[o]++;
    n->conflicts += conflict;
    if (remote) {
        /* V = max(V, m) changes only the origin's entry: the delivery rule
         * put every other entry of m at or below V. */
        assert(cw__kernels()->first_gt_u64(m->counters, n->clock.counters, n->n) == o);
        n->clock.counters[o] = m->seq;
        cw__node_follow(n, &m->ts);
        n->delivered++;
        cw__hist_add(&n->buffering, arrived_ns && now_ns > arrived_ns ? now_ns - arrived_ns : 0);
    }
    if (n->opt.on_apply) {
        n->in_callback++;
        n->opt.on_apply(n->opt.apply_ctx, m);
        n->in_callback--;
    }
    return CW_OK;
}

/* The first k >= from, k != origin, with m[k] > V[k]; n->n if none. */
static uint32_t next_blocker(const cw_node *n, const cw_msg *m, uint32_t from)
{
    const cw__kernel_table *k = cw__kernels();
    const uint64_t *mc = m->counters, *v = n->clock.counters;
    uint32_t o = m->origin;
    if (from <= o) {
        size_t at = from + k->first_gt_u64(mc + from, v + from, o - from);
        if (at < o)
            return (uint32_t)at;
        from = o + 1;
    }
    return from + (uint32_t)k->first_gt_u64(mc + from, v + from, n->n - from);
}

/* The head of sender o (its next write), arrived at `arrived`: release it to
 * the work stack (returns true), or file it in the waiting list of its
 * first unmet dependency at or after `from` (returns false). */
static bool file_head(cw_node *n, cw_msg *m, uint64_t arrived, uint32_t from)
{
    uint32_t k = next_blocker(n, m, from);
    cw__head *h = &n->buf.heads[m->origin];
    if (k == n->n) {
        h->msg = NULL;
        n->work[n->work_count++] = (cw__slot){m, arrived};
        return true;
    }
    /* m's origin had applied k's write m[k], which has not come here. */
    cw__recovery_saw(n, (cw_node_id)k, m->counters[k], m->origin);
    *h = (cw__head){m, arrived, (cw_node_id)k, m->counters[k], k, CW__NO_HEAD, CW__NO_HEAD}; /* linked by the put */
    cw__waiting_put(&n->buf, h);
    return false;
}

/* m left the buffer for the work stack. */
static void unbuffer(cw_node *n, const cw_msg *m)
{
    n->buf.count--;
    n->buf.bytes -= cw__msg_bytes(m);
}

/* Starts loading the write buffered at seq in ring r (cap > 0), if any. */
static void prefetch_buffered(cw__ring *r, uint64_t seq)
{
    const cw__slot *s = cw__ring_at(r, seq);
    if (s->msg)
        cw__msg_prefetch(s->msg);
}

/* V[o] has just reached c: look at exactly what that can release. Both kinds
 * of candidate are counted as buffered until released. */
static void release(cw_node *n, cw_node_id o, uint64_t c)
{
    cw__head *h;
    while ((h = cw__waiting_take(&n->buf, o, c)) != NULL) {
        cw_msg *m = h->msg; /* file_head clears h when it releases m */
        if (file_head(n, m, h->arrived_ns, h->scan_from))
            unbuffer(n, m);
    }
    cw__ring *r = &n->buf.rings[o];
    cw__slot *s = r->count ? cw__ring_at(r, c + 1) : NULL;
    if (s && s->msg) { /* the sender's next write is here: it is now the head */
        cw__slot next = *s;
        *s = (cw__slot){NULL, 0};
        r->count--;
        /* A cascade usually goes on with this sender's following writes:
         * start loading them while this one is applied. (A slot beyond the
         * ring's span aliases an empty or unrelated slot: a wasted load.) */
        if (r->count) {
            __builtin_prefetch(cw__ring_at(r, c + 2 * CASCADE_AHEAD), 1);
            prefetch_buffered(r, c + 2);
            prefetch_buffered(r, c + CASCADE_AHEAD);
        }
        if (file_head(n, next.msg, next.arrived_ns, 0))
            unbuffer(n, next.msg);
    }
}

/* How often a drain, and cw__node_receive_many_pausable between arrivals,
 * ask the host's pause whether to stop. */
#define PAUSE_EVERY 16

/* Applies released writes until none is left. On CW_ENOMEM the write stays
 * on the stack and the next call resumes. Within
 * cw__node_receive_many_pausable it also stops when the host's pause says
 * so (every PAUSE_EVERY writes), leaving the rest with n->paused set: one
 * write recovered can release thousands buffered behind it (measured at 8
 * nodes and 1% loss: drains of up to 1 ms), and a client waiting for the
 * node's lock would wait for all of them. */
static int drain(cw_node *n, size_t *delivered)
{
    uint64_t now = 0;
    unsigned applied = 0;
    n->paused = false;
    while (n->work_count) {
        if (n->pause && ++applied % PAUSE_EVERY == 0 && n->pause(n->pause_ctx)) {
            n->paused = true;
            return CW_OK;
        }
        cw__slot r = n->work[n->work_count - 1];
        if (r.arrived_ns && !now)
            now = n->opt.ns_clock(n->opt.ns_ctx);
        int rc = apply(n, r.msg, true, r.arrived_ns, now);
        if (rc != CW_OK)
            return rc;
        n->work_count--;
        if (delivered)
            (*delivered)++;
        cw_node_id o = r.msg->origin;
        release(n, o, n->clock.counters[o]);
        cw__msg_unref(r.msg);
    }
    assert(!check_now(n) || cw__node_check(n));
    return CW_OK;
}

/* Room on the work stack for everything buffered, plus one, to be released at once. */
static int reserve_work(cw_node *n)
{
    size_t need = n->buf.count + 2;
    if (need <= n->work_cap)
        return CW_OK;
    size_t cap = n->work_cap * 2 > need ? n->work_cap * 2 : need;
    cw__slot *w = realloc(n->work, cap * sizeof *w);
    if (!w)
        return CW_ENOMEM;
    n->work = w;
    n->work_cap = cap;
    return CW_OK;
}

/* When the message being taken arrived: now, or when its batch was handed over. */
static uint64_t arrival_ns(cw_node *n)
{
    if (!n->in_batch)
        return n->opt.ns_clock(n->opt.ns_ctx);
    if (!n->batch_arrival_ns)
        n->batch_arrival_ns = n->opt.ns_clock(n->opt.ns_ctx);
    return n->batch_arrival_ns;
}

/* Whether ring r may grow to hold a span of `span` seqs within the budget of
 * 4 * max_buffered + 16 * nodes slots over all rings (invariant 7). */
static bool ring_budget_allows(const cw_node *n, const cw__ring *r, uint64_t span)
{
    if (span <= r->cap)
        return true;
    /* max_buffered <= CW_NODE_MAX_BUFFERED_LIMIT (2^32) and nodes <= 2^16, so
     * the budget cannot wrap; a span beyond it (a seq from the wire far
     * ahead) is refused before a capacity is computed from it. */
    uint64_t budget = 4 * (uint64_t)n->opt.max_buffered + 16 * (uint64_t)n->n;
    if (span > budget)
        return false;
    uint64_t cap = cw__ring_cap_for(r, span);
    return cap && n->buf.ring_slots - r->cap + cap <= budget;
}

/* Buffers m (not deliverable now): in its sender's ring, or as its sender's
 * waiting head blocked at `blocker`. */
static int buffer_write(cw_node *n, cw_msg *m, bool head, uint32_t blocker)
{
    cw_node_id o = m->origin;
    uint64_t seq = m->seq, first = n->clock.counters[o] + 2;
    cw__ring *r = &n->buf.rings[o];
    size_t bytes = cw__msg_bytes(m);
    /* The byte budget admits any one write into an empty buffer: a write
     * larger than it is still delivered, in its turn. */
    if (n->buf.count >= n->opt.max_buffered ||
        (n->buf.count && (n->buf.bytes > n->opt.max_buffered_bytes ||
                          bytes > n->opt.max_buffered_bytes - n->buf.bytes)) ||
        (!head && !ring_budget_allows(n, r, seq - first + 1))) {
        n->rejected_full++;
        if (m->flags & CW__MSG_RETRANSMITTED) { /* answers that cannot wait here: ask for one at a time */
            n->gap[o].choked = true;
            n->gap[o].choked_v = n->clock.counters[o];
        }
        return CW_EFULL;
    }
    int rc = reserve_work(n);
    if (rc == CW_OK && !head)
        rc = cw__ring_fit(&n->buf, r, first, seq - first + 1);
    if (rc != CW_OK)
        return rc;
    uint64_t now = arrival_ns(n);
    n->buf.count++;
    n->buf.bytes += bytes;
    if (n->buf.count > n->buf.high_water)
        n->buf.high_water = n->buf.count;
    if (head) {
        file_head(n, cw__msg_ref(m), now, blocker);
    } else {
        *cw__ring_at(r, seq) = (cw__slot){cw__msg_ref(m), now};
        r->count++;
    }
    return CW_OK;
}

/* A pull or a report: answered or taken in at once. */
static int receive_control(cw_node *n, const cw_msg *m, cw_receive_result *result)
{
    int rc = m->kind == CW_MSG_PULL ? cw__recovery_pull(n, m) : cw__recovery_report(n, m);
    if (rc == CW_OK && result)
        *result = CW_RECEIVE_DELIVERED;
    return rc;
}

/* A write taken (applied, buffered or found a duplicate) says what its
 * origin had applied, and, sent by the origin itself, that the origin still
 * talks to this node. Only once taken: a refused receive changes nothing
 * (node.h), and hearing can close a stability round (trims the log, forgets
 * tombstones). */
static void heard(cw_node *n, const cw_msg *m)
{
    cw__recovery_heard(n, m->origin, m->counters);
    if (!(m->flags & CW__MSG_RETRANSMITTED))
        cw__recovery_heard_origin(n, m->origin);
}

static int receive(cw_node *n, cw_msg *m, cw_receive_result *result, size_t *delivered)
{
    if (!n || !m || n->in_callback)
        return CW_EINVAL;
    cw_node_id o = m->origin;
    if (m->nodes != n->n || o == n->opt.self || m->kind > CW_MSG_REPORT)
        return CW_EINVAL;
    if (m->key_len > n->opt.max_key_len || m->value_len > n->opt.max_value_len)
        return CW_ELIMIT;
    if (delivered)
        *delivered = 0;
    /* Finish anything an earlier call left. Only then: a drain ends with the
     * debug builds' full check, which a receive refused for a full buffer
     * or found a duplicate (no change) would run for nothing, again and
     * again while a host offers a full buffer its messages. */
    int rc = n->work_count ? drain(n, delivered) : CW_OK;
    if (rc != CW_OK)
        return rc;
    if (m->kind != CW_MSG_WRITE)
        return receive_control(n, m, result);
    uint64_t seq = m->seq, have = n->clock.counters[o];
    bool head = seq == have + 1;
    cw__slot *slot = head ? NULL : cw__ring_at(&n->buf.rings[o], seq);
    if (seq <= have || (head && n->buf.heads[o].msg) || (slot && slot->msg == m) ||
        (slot && slot->msg && slot->msg->seq == seq)) {
        n->duplicates++;
        heard(n, m);
        cw__recovery_twice(n, m);
        if (result)
            *result = CW_RECEIVE_DUPLICATE;
        return CW_OK;
    }

    uint32_t blocker = head ? next_blocker(n, m, 0) : n->n;
    if (head && blocker == n->n) { /* deliverable now: apply, then what it releases */
        if ((rc = reserve_work(n)) != CW_OK || (rc = apply(n, m, true, 0, 0)) != CW_OK)
            return rc;
        heard(n, m);
        if (delivered)
            (*delivered)++;
        if (result)
            *result = CW_RECEIVE_DELIVERED;
        release(n, o, seq);
        /* m is applied whatever happens next; a released write that runs out
         * of memory stays on the work stack for the next call. */
        drain(n, delivered);
        return CW_OK;
    }
    if ((rc = buffer_write(n, m, head, blocker)) != CW_OK)
        return rc;
    heard(n, m);
    cw__recovery_saw(n, o, seq, o);
    if (m->flags & CW__MSG_RETRANSMITTED) /* after saw, which clears it for a new gap */
        n->gap[o].answered = true; /* an answer that waits here: the window is answered, in part */
    if (!(m->flags & CW__MSG_RETRANSMITTED))
        cw__recovery_sent_before(n, o, seq - 1); /* its link is in order: seq - 1 went first */
    if (result)
        *result = CW_RECEIVE_BUFFERED;
    assert(!check_now(n) || cw__node_check(n));
    return CW_OK;
}

int cw_node_receive(cw_node *n, cw_msg *m, cw_receive_result *result, size_t *delivered)
{
    int rc = receive(n, m, result, delivered);
    if (rc == CW_ENOMEM)
        n->rejected_memory++; /* the one change a refusal makes (node.h) */
    return rc;
}

/* How far ahead cw_node_receive_many starts loading. A batch is the only
 * look-ahead an arrival has, so every header in it is requested before the
 * first arrival is taken: their misses to memory then overlap instead of
 * following one another. Ring slots need the header (origin, seq), so they
 * are requested RECEIVE_AHEAD arrivals ahead, when it has come in. */
#define HEADERS_AHEAD 64
#define RECEIVE_AHEAD 8

/* Starts loading the ring slot m would wait in, from m's header (requested
 * earlier, so by now in cache, or at least on its way). */
static void prefetch_slot(const cw_node *n, const cw_msg *m)
{
    if (!m || m->origin >= n->n)
        return;
    const cw__ring *r = &n->buf.rings[m->origin];
    if (r->cap)
        __builtin_prefetch(&r->slots[m->seq & (r->cap - 1)], 1);
}

int cw_node_receive_many(cw_node *n, cw_msg *const *msgs, size_t count, size_t *taken, size_t *delivered)
{
    return cw__node_receive_many_pausable(n, msgs, count, taken, delivered, NULL, NULL);
}

bool cw__node_paused(const cw_node *n) { return n->paused; }

int cw__node_receive_many_pausable(cw_node *n, cw_msg *const *msgs, size_t count, size_t *taken,
                                   size_t *delivered, bool (*pause)(void *ctx), void *pause_ctx)
{
    if (taken)
        *taken = 0;
    if (delivered)
        *delivered = 0;
    if (!n || (!msgs && count) || n->in_callback)
        return CW_EINVAL;
    /* One clock reading for the batch instead of one per buffered write
     * (~20 ns each here, as much as the rest of an arrival). */
    n->in_batch = true;
    n->batch_arrival_ns = 0;
    n->pause = pause;
    n->pause_ctx = pause_ctx;
    int rc = CW_OK;
    /* The header line is everything an arrival reads, and holds the
     * reference count it writes when the message is buffered. */
    for (size_t i = 0; i < count && i < HEADERS_AHEAD; i++)
        __builtin_prefetch(msgs[i], 1);
    for (size_t i = 0; i < count && i < RECEIVE_AHEAD; i++)
        prefetch_slot(n, msgs[i]);
    for (size_t i = 0; rc == CW_OK; i++) {
        size_t d = 0;
        /* What a drain left (paused, or out of memory) first: no arrival is
         * taken before it (a write on the work stack is neither applied nor
         * buffered, so a copy of it arriving would not be seen as a
         * duplicate). Out of memory, arrival i is refused with the error,
         * as cw_node_receive refuses it; with no arrival left the rest
         * waits for the next call, as after a drain that follows an
         * application. */
        if (n->work_count) {
            int drained = drain(n, &d);
            if (delivered)
                *delivered += d;
            if (drained != CW_OK) {
                rc = i < count ? drained : CW_OK;
                if (rc == CW_ENOMEM)
                    n->rejected_memory++; /* arrival i refused, as cw_node_receive counts it */
                break;
            }
            if (n->paused)
                break;
        }
        if (i == count)
            break;
        if (pause && i % PAUSE_EVERY == PAUSE_EVERY - 1 && pause(pause_ctx))
            break;
        if (i + HEADERS_AHEAD < count)
            __builtin_prefetch(msgs[i + HEADERS_AHEAD], 1);
        if (i + RECEIVE_AHEAD < count)
            prefetch_slot(n, msgs[i + RECEIVE_AHEAD]);
        d = 0;
        rc = cw_node_receive(n, msgs[i], NULL, &d);
        if (delivered)
            *delivered += d;
        if (rc == CW_OK && taken)
            (*taken)++;
        if (n->paused) /* taken, and its drain stopped for the pause */
            break;
    }
    n->in_batch = false;
    n->pause = NULL;
    return rc;
}

/* ---- local writes and sending ---- */

/* Room in the unsent queue for one more message, so that a write, once
 * made, can always be kept if its send is refused (invariant 8). */
static int reserve_unsent(cw_node *n)
{
    if (n->unsent_len < n->unsent_cap)
        return CW_OK;
    size_t cap = n->unsent_cap ? n->unsent_cap * 2 : 8;
    if (cap > n->opt.max_unsent)
        cap = n->opt.max_unsent;
    cw_msg **q = realloc(n->unsent, cap * sizeof *q);
    if (!q)
        return CW_ENOMEM;
    n->unsent = q;
    n->unsent_cap = cap;
    return CW_OK;
}

/* Offers m to the driver; true if it took it. */
static bool offer(cw_node *n, cw_msg *m, int *refusal)
{
    n->in_callback++;
    int rc = n->opt.send(n->opt.send_ctx, m);
    n->in_callback--;
    if (rc == 0)
        return true;
    n->send_refusals++;
    *refusal = rc < 0 ? rc : CW_EFULL;
    return false;
}

int cw_node_flush(cw_node *n, size_t *sent)
{
    if (sent)
        *sent = 0;
    if (!n || n->in_callback)
        return CW_EINVAL;
    size_t taken = 0;
    int rc = CW_OK;
    while (taken < n->unsent_len && offer(n, n->unsent[taken], &rc)) {
        cw__msg_unref(n->unsent[taken]);
        taken++;
    }
    n->unsent_len -= taken;
    if (taken) /* (the queue may not be allocated yet when nothing was taken) */
        memmove(n->unsent, n->unsent + taken, n->unsent_len * sizeof *n->unsent);
    if (sent)
        *sent = taken;
    return n->unsent_len ? rc : CW_OK;
}

size_t cw_node_unsent(const cw_node *n) { return n ? n->unsent_len : 0; }

int cw__node_write_refused(const cw_node *n, size_t key_len, size_t value_len, const cw_vclock *context,
                           bool ahead_too)
{
    if (key_len > n->opt.max_key_len || value_len > n->opt.max_value_len)
        return CW_ELIMIT;
    /* Every id first: a context naming a node outside the group is a bad
     * argument (CW_EINVAL), whatever else it covers; waiting cannot mend it
     * as it mends one ahead of this node. */
    for (uint32_t i = 0; context && i < context->size; i++)
        if (context->ids[i] >= n->n)
            return CW_EINVAL;
    for (uint32_t i = 0; ahead_too && context && i < context->size; i++)
        if (context->counters[i] > n->clock.counters[context->ids[i]])
            return CW_EAHEAD;
    return CW_OK;
}

/* The dense form of a client's context in n->context (n->n counters).
 * CW_EINVAL (an id out of range), CW_EAHEAD (it covers writes this node has
 * not applied), CW_ENOMEM. */
static int dense_context(cw_node *n, const cw_vclock *context)
{
    int rc = cw__node_write_refused(n, 0, 0, context, true);
    if (rc != CW_OK)
        return rc;
    if (!n->context && !(n->context = malloc((size_t)n->n * sizeof *n->context)))
        return CW_ENOMEM;
    memset(n->context, 0, (size_t)n->n * sizeof *n->context);
    for (uint32_t i = 0; i < context->size; i++)
        n->context[context->ids[i]] = context->counters[i];
    return CW_OK;
}

/* The versions a write with this context would leave its key with: those
 * it does not cover, live or tombstones, and itself, at most max_siblings.
 * (Each origin's versions of the key then stay within max_siblings at every
 * node: a write's message carries its clock, so a node applies it only
 * after whatever its origin had replaced.) Tombstones count: deletes with a
 * context that covers nothing would otherwise pile up until stable. The
 * context is sparse, so the engine can ask before a put waits; the versions
 * are read only past max_siblings versions. Under last-writer-wins one
 * version survives. */
bool cw__node_too_many_siblings(const cw_node *n, const void *key, size_t key_len, const cw_vclock *context)
{
    const cw__key *k = n->opt.policy == CW_LAST_WRITER_WINS ? NULL : cw__store_find(&n->store, key, key_len);
    if (!k || k->count < n->opt.max_siblings)
        return false;
    size_t left = 0;
    for (uint32_t i = 0; i < k->count; i++)
        left += cw_vclock_get(context, k->meta[i].origin) < k->meta[i].seq;
    return left >= n->opt.max_siblings;
}

/* A local write: a put (value), with the client's context or without (the
 * node's clock), or a delete (tombstone). */
static int write_local(cw_node *n, const void *key, size_t key_len, const void *value, size_t value_len,
                       const cw_vclock *context, bool tombstone, cw_vclock *clock_out)
{
    if (!n || (!key && key_len) || (!value && value_len) || n->in_callback)
        return CW_EINVAL;
    int rc = cw__node_write_refused(n, key_len, value_len, NULL, false);
    if (rc != CW_OK)
        return rc;
    /* A drain paused for its host's client (this put) is finished by the
     * host after it: a plain write need not wait for it. A write with a
     * context does, first, so that a context covering those writes is not
     * taken for one ahead of the node (CW_EAHEAD). */
    rc = n->paused && !context ? CW_OK : drain(n, NULL);
    if (rc != CW_OK)
        return rc;
    if (context && (rc = dense_context(n, context)) != CW_OK)
        return rc;
    if (context && cw__node_too_many_siblings(n, key, key_len, context)) {
        n->siblings_refused++;
        return CW_ESIBLINGS;
    }
    uint64_t *v = n->clock.counters;
    cw_node_id self = n->opt.self;
    if (v[self] == UINT64_MAX)
        return CW_EOVERFLOW;
    if (n->unsent_len >= n->opt.max_unsent)
        return CW_EFULL;
    if (n->recovering && v[self] - n->st.stable[self] >= n->opt.max_log)
        return CW_ESTALLED; /* own writes not yet stable: bounds every node's log */
    if (n->opt.send && (rc = reserve_unsent(n)) != CW_OK)
        return rc;
    /* Its entries kept: a refusal below (CW_EDRIFT, CW_ENOMEM) must leave
     * clock_out as the caller gave it, not a grown block of garbage. */
    if (clock_out && (rc = cw__vclock_reserve(clock_out, n->n, true)) != CW_OK)
        return rc;
    cw_hlc saved = n->hlc;
    cw_hlc_timestamp ts;
    /* The drift bound is enforced where a write is made: here, against the
     * wall clock read for this timestamp (no cheaper test holds after the
     * wall clock steps back or a millisecond's counter rolls over). Peers
     * apply whatever timestamp the write carries. */
    uint64_t wall = n->hlc.now(n->hlc.now_ctx);
    if ((rc = cw__hlc_now_at(&n->hlc, wall, &ts)) != CW_OK)
        return rc;
    if (ts.wall_ms > wall && ts.wall_ms - wall > n->hlc.max_drift_ms) {
        n->hlc = saved;
        return CW_EDRIFT;
    }
    v[self]++;
    cw_msg *m;
    rc = cw__msg_write(&m, self, &ts, v, n->n, context ? n->context : NULL, tombstone, key, key_len, value,
                       value_len);
    if (rc == CW_OK && (rc = apply(n, m, false, 0, 0)) != CW_OK)
        cw__msg_unref(m);
    if (rc != CW_OK) {
        v[self]--;
        n->hlc = saved;
        return rc;
    }
    n->writes++;
    if (clock_out)
        cw_dclock_to_sparse(&n->clock, clock_out); /* cannot fail: reserved */
    /* The write is made: from here its message is either taken or kept. */
    int refusal;
    if (n->opt.send && (n->unsent_len || !offer(n, m, &refusal))) {
        n->unsent[n->unsent_len++] = m; /* room reserved above; the node's reference */
    } else {
        cw__recovery_sent_clock(n); /* its clock is this node's report */
        cw__msg_unref(m);
    }
    /* V[self] moved like any entry a delivery moves: a buffered write from a
     * peer that had seen this write before we made it (a peer that knew more
     * of us than we did, e.g. after we lost our state) waits on exactly
     * (self, V[self]). The work stack has room for every buffered write, so
     * the release cannot fail; a drain that runs out of memory leaves the
     * rest for the next call, and the put stands. */
    release(n, self, v[self]);
    if (!n->paused)
        drain(n, NULL);
    assert(!check_now(n) || cw__node_check(n));
    return CW_OK;
}

int cw_node_put(cw_node *n, const void *key, size_t key_len, const void *value, size_t value_len,
                cw_vclock *clock_out)
{
    return write_local(n, key, key_len, value, value_len, NULL, false, clock_out);
}

int cw_node_put_ctx(cw_node *n, const void *key, size_t key_len, const void *value, size_t value_len,
                    const cw_vclock *context, cw_vclock *clock_out)
{
    return write_local(n, key, key_len, value, value_len, context, false, clock_out);
}

int cw_node_delete(cw_node *n, const void *key, size_t key_len, const cw_vclock *context, cw_vclock *clock_out)
{
    return write_local(n, key, key_len, NULL, 0, context, true, clock_out);
}

/* ---- reads ---- */

void cw_read_init(cw_read *r)
{
    if (r)
        *r = (cw_read){0};
}

static void destroy_version(cw_value_version *v)
{
    free(v->value);
    cw_vclock_destroy(&v->clock);
    cw_vclock_destroy(&v->context);
}

void cw_read_destroy(cw_read *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->count; i++)
        destroy_version(&r->versions[i]);
    free(r->versions);
    cw_vclock_destroy(&r->context);
    *r = (cw_read){0};
}

/* Copies a version out of a message. */
static int copy_version(cw_value_version *v, const cw_msg *m)
{
    size_t len;
    const void *value = cw_msg_value(m, &len);
    *v = (cw_value_version){.value = malloc(len ? len : 1), .value_len = len, .timestamp = cw_msg_timestamp(m),
                            .origin = cw_msg_origin(m), .seq = cw_msg_seq(m)};
    if (!v->value)
        return CW_ENOMEM;
    memcpy(v->value, value, len);
    int rc = cw_msg_clock(m, &v->clock);
    /* A plain put's context is its clock without its own dot: a copy of the
     * sparse clock just made is cheaper than a second pass over N counters. */
    if (rc == CW_OK && cw__msg_context(m))
        rc = cw_msg_context(m, &v->context);
    else if (rc == CW_OK && (rc = cw_vclock_copy(&v->context, &v->clock)) == CW_OK)
        rc = cw_vclock_set(&v->context, v->origin, v->seq - 1);
    if (rc != CW_OK)
        destroy_version(v);
    return rc;
}

cw_order cw_version_compare(const cw_value_version *a, const cw_value_version *b)
{
    static const cw_value_version none = {0}; /* dot (0, 0): covered by every context */
    if (!a)
        a = &none;
    if (!b)
        b = &none;
    if (a->origin == b->origin && a->seq == b->seq)
        return CW_EQUAL;
    if (cw_vclock_get(&b->context, a->origin) >= a->seq)
        return CW_BEFORE;
    if (cw_vclock_get(&a->context, b->origin) >= b->seq)
        return CW_AFTER;
    return CW_CONCURRENT;
}

/* A walk over the node's state (each_key, key_versions, each_pending, a
 * read's merge) hands the caller's function what the node holds, borrowed:
 * a call from it that changed the node would free or move what the walk is
 * at. So the walk counts as a callback, and every call that changes the
 * node refuses (CW_EINVAL) while it runs. The mark is bookkeeping, not the
 * node's state, which the walk leaves as it was: that is why these take a
 * const node, and why marking it casts the const away (every node is
 * allocated writable by cw_node_create). */
static unsigned *walk_mark(const cw_node *n)
{
    return &((cw_node *)(uintptr_t)n)->in_callback;
}

/* Replaces siblings by the merge callback's value, with the merged clock and
 * context and the greatest (timestamp, origin). The value is the callback's
 * own allocation, or one of the siblings' values handed back (a merge that
 * picks one): the read then keeps that one instead of freeing it. */
static int merge_siblings(const cw_node *n, cw_read *r)
{
    void *value = NULL;
    size_t len = 0;
    ++*walk_mark(n);
    int rc = n->opt.merge(n->opt.merge_ctx, r->versions, r->count, &value, &len);
    --*walk_mark(n);
    if (rc != CW_OK) /* the node takes nothing from *value_out */
        return rc < 0 ? rc : CW_EINVAL;
    size_t own = r->count; /* the sibling whose value came back, if any */
    bool inside = false;   /* a pointer into a sibling's value: no allocation of its own */
    for (size_t i = 0; i < r->count; i++) {
        uintptr_t v = (uintptr_t)value, at = (uintptr_t)r->versions[i].value;
        if (value && value == r->versions[i].value)
            own = i;
        else if (value && r->versions[i].value && v > at && v - at < r->versions[i].value_len)
            inside = true;
    }
    if ((!value && len) || inside || (own < r->count && len > r->versions[own].value_len))
        return CW_EINVAL; /* nothing of the callback's own to free */
    cw_value_version *last = &r->versions[r->count - 1];
    for (size_t i = 0; i + 1 < r->count && rc == CW_OK; i++)
        if ((rc = cw_vclock_merge(&last->clock, &r->versions[i].clock)) == CW_OK)
            rc = cw_vclock_merge(&last->context, &r->versions[i].context);
    if (rc != CW_OK) {
        if (own == r->count)
            free(value);
        return rc;
    }
    if (own < r->count)
        r->versions[own].value = NULL; /* moved into the merged version */
    for (size_t i = 0; i + 1 < r->count; i++)
        destroy_version(&r->versions[i]);
    free(last->value);
    last->value = value;
    last->value_len = len;
    r->versions[0] = *last;
    r->count = 1;
    return CW_OK;
}

/* The read's context: every version the key holds here, tombstones too,
 * by its dot (an origin's greatest seq among them). */
static int read_context(const cw_node *n, const cw__key *e, cw_vclock *out)
{
    int rc = cw__vclock_reserve(out, n->n < e->count ? n->n : e->count, false);
    if (rc != CW_OK)
        return rc;
    cw_vclock_clear(out);
    for (uint32_t i = 0; i < e->count && rc == CW_OK; i++)
        if (e->meta[i].seq > cw_vclock_get(out, e->meta[i].origin))
            rc = cw_vclock_set(out, e->meta[i].origin, e->meta[i].seq);
    return rc;
}

int cw__node_get_at_most(cw_node *n, const void *key, size_t key_len, size_t most, size_t *values, cw_read *out)
{
    *values = 0;
    if (!n || !out || (!key && key_len))
        return CW_EINVAL;
    const cw__key *e = cw__store_find(&n->store, key, key_len);
    if (!e) { /* nothing here: no version, an empty context */
        cw_read_destroy(out);
        return CW_ENOTFOUND;
    }
    for (uint32_t i = 0; i < e->count; i++)
        if (!e->meta[i].tombstone)
            *values += e->msgs[i]->value_len;
    if (*values > most) /* refused before anything is copied */
        return CW_ELIMIT;
    cw_read r = {0, calloc(e->count, sizeof(cw_value_version)), {0}};
    if (!r.versions)
        return CW_ENOMEM;
    int rc = read_context(n, e, &r.context);
    for (uint32_t i = 0; i < e->count && rc == CW_OK; i++)
        if (!e->meta[i].tombstone && (rc = copy_version(&r.versions[r.count], e->msgs[i])) == CW_OK)
            r.count++;
    if (rc == CW_OK && r.count > 1 && n->opt.policy == CW_MERGE_CALLBACK)
        rc = merge_siblings(n, &r);
    if (rc != CW_OK) {
        cw_read_destroy(&r);
        return rc;
    }
    cw_read_destroy(out);
    *out = r;
    return r.count ? CW_OK : CW_ENOTFOUND; /* deleted: the context still covers the tombstones */
}

int cw_node_get(cw_node *n, const void *key, size_t key_len, cw_read *out)
{
    size_t values;
    return cw__node_get_at_most(n, key, key_len, SIZE_MAX, &values, out);
}

/* ---- statistics, iteration, dump ---- */

int cw_node_get_stats(const cw_node *n, cw_node_stats *out)
{
    if (!n || !out)
        return CW_EINVAL;
    *out = (cw_node_stats){
        .writes = n->writes,
        .delivered = n->delivered,
        .buffered = n->buf.count + n->work_count,
        .max_buffered = n->buf.high_water,
        .buffered_bytes = n->buf.bytes,
        .duplicates = n->duplicates,
        .conflicts = n->conflicts,
        .keys = n->store.keys.count,
        .rejected_full = n->rejected_full,
        .rejected_memory = n->rejected_memory,
        .unsent = n->unsent_len,
        .send_refusals = n->send_refusals,
        .siblings_refused = n->siblings_refused,
        .clock_anomalies = n->clock_anomalies,
        .retransmitted = n->retransmitted,
        .recovered = n->recovered,
        .log_entries = n->log.entries,
        .pulls = n->pulls,
        .reports = n->reports,
        .missing = n->gap_count,
        .stability_blocker = cw__node_stability_blocker(n),
    };
    cw__hist_latency(&n->buffering, &out->buffering);
    return CW_OK;
}

void cw__node_add_buffering(const cw_node *n, struct cw__histogram *into)
{
    cw__hist_merge(into, &n->buffering);
}

typedef struct each_key_ctx {
    cw_key_fn fn;
    void *ctx;
} each_key_ctx;

static void visit_key(void *item, void *ctx)
{
    const cw__key *e = item;
    each_key_ctx *c = ctx;
    c->fn(c->ctx, e->key, e->key_len, (const cw_msg *const *)e->msgs, e->count);
}

void cw_node_each_key(const cw_node *n, cw_key_fn fn, void *ctx)
{
    if (!n || !fn)
        return;
    each_key_ctx c = {fn, ctx};
    ++*walk_mark(n);
    cw__map_each(&n->store.keys, visit_key, &c);
    --*walk_mark(n);
}

int cw_node_key_versions(const cw_node *n, const void *key, size_t key_len, cw_key_fn fn, void *ctx)
{
    if (!n || !fn || (!key && key_len))
        return CW_EINVAL;
    if (!key)
        key = "";
    const cw__key *e = cw__store_find(&n->store, key, key_len);
    ++*walk_mark(n);
    fn(ctx, key, key_len, e ? (const cw_msg *const *)e->msgs : NULL, e ? e->count : 0);
    --*walk_mark(n);
    return CW_OK;
}

void cw_node_each_pending(const cw_node *n, void (*fn)(void *ctx, const cw_msg *msg), void *ctx)
{
    if (!n || !fn)
        return;
    ++*walk_mark(n);
    for (uint32_t o = 0; o < n->n; o++) {
        const cw__ring *r = &n->buf.rings[o];
        for (uint64_t i = 0; r->count && i < r->cap; i++)
            if (r->slots[i].msg)
                fn(ctx, r->slots[i].msg);
        if (n->buf.heads[o].msg)
            fn(ctx, n->buf.heads[o].msg);
    }
    for (size_t i = 0; i < n->work_count; i++)
        fn(ctx, n->work[i].msg);
    --*walk_mark(n);
}

/* ---- invariant checker (invariants 2-4, and the store's) ---- */

typedef struct check_ctx {
    const cw_node *n;
    bool ok;
    size_t heads;
} check_ctx;

/* Every head in node k's waiting list is its sender's next write, blocked
 * first on k's entry, linked both ways, in counter order. */
static void check_waiting(check_ctx *c, cw_node_id k)
{
    const cw_node *n = c->n;
    const cw__waitlist *l = &n->buf.waiting[k];
    uint32_t prev = CW__NO_HEAD;
    for (uint32_t s = l->first; s != CW__NO_HEAD && c->ok; prev = s, s = n->buf.heads[s].next) {
        const cw__head *h = &n->buf.heads[s];
        c->ok &= s < n->n && h->msg != NULL && h->prev == prev && h->node == k &&
                 c->heads < n->n && (prev == CW__NO_HEAD || n->buf.heads[prev].counter <= h->counter);
        if (!c->ok)
            return;
        const uint64_t *m = cw_msg_counters(h->msg, NULL);
        c->ok &= cw_msg_origin(h->msg) == s && cw_msg_seq(h->msg) == n->clock.counters[s] + 1 && s != k &&
                 h->counter == m[k] && m[k] > n->clock.counters[k] && next_blocker(n, h->msg, 0) == k;
        c->heads++;
    }
    c->ok &= l->last == prev;
}

/* Every ring holds only later writes of its sender, each at its seq's slot. */
/* The writes in the rings, and (into *bytes) what they hold. */
static size_t check_rings(const cw_node *n, bool *ok, size_t *bytes)
{
    size_t total = 0;
    for (uint32_t o = 0; o < n->n; o++) {
        const cw__ring *r = &n->buf.rings[o];
        size_t count = 0;
        for (uint64_t i = 0; i < r->cap; i++) {
            const cw_msg *m = r->slots[i].msg;
            if (!m)
                continue;
            uint64_t seq = cw_msg_seq(m);
            *ok &= cw_msg_origin(m) == o && (seq & (r->cap - 1)) == i &&
                   seq > n->clock.counters[o] + 1 && seq - n->clock.counters[o] - 2 < r->cap;
            count++;
            *bytes += cw__msg_bytes(m);
        }
        *ok &= count == r->count;
        total += count;
    }
    return total;
}

static void check_key(void *item, void *ctx)
{
    const cw__key *e = item;
    check_ctx *c = ctx;
    const uint64_t *v = c->n->clock.counters;
    c->ok &= e->count >= 1 && (c->n->opt.policy != CW_LAST_WRITER_WINS || e->count == 1);
    /* Versions in the key's own room exactly when they fit (store.c). */
    bool in_room = e->meta == e->meta_in && e->msgs == e->msg_in;
    c->ok &= e->count <= e->cap && in_room == (e->count <= CW__KEY_INLINE) &&
             (!in_room || e->cap == CW__KEY_INLINE);
    for (uint32_t i = 0; i < e->count; i++) {
        const cw__version *x = &e->meta[i];
        const uint64_t *m = cw_msg_counters(e->msgs[i], NULL);
        c->ok &= x->origin == cw_msg_origin(e->msgs[i]) && x->seq == cw_msg_seq(e->msgs[i]);
        unsigned o = cw__kernels()->order_u64(m, v, c->n->n);
        c->ok &= (o & CW_AFTER) == 0; /* applied writes are at or below V */
        c->ok &= x->tombstone == cw_msg_tombstone(e->msgs[i]);
        for (uint32_t j = i + 1; j < e->count; j++) { /* siblings: neither replaced the other */
            c->ok &= !cw__msg_covers(e->msgs[i], e->meta[j].origin, e->meta[j].seq) &&
                     !cw__msg_covers(e->msgs[j], x->origin, x->seq);
            c->ok &= cw__version_order(x, &e->meta[j]) < 0;
        }
    }
}

bool cw__node_check(const cw_node *n)
{
    check_ctx c = {n, true, 0};
    for (uint32_t k = 0; k < n->n; k++)
        c.ok &= n->clock.counters[k] == n->applied_from[k];
    size_t bytes = 0; /* invariant 7: what the buffered writes hold */
    size_t in_rings = check_rings(n, &c.ok, &bytes);
    for (cw_node_id k = 0; k < n->n; k++)
        check_waiting(&c, k);
    size_t heads = 0;
    for (uint32_t k = 0; k < n->n; k++)
        if (n->buf.heads[k].msg) {
            heads++;
            bytes += cw__msg_bytes(n->buf.heads[k].msg);
        }
    c.ok &= heads == c.heads && n->buf.count == in_rings + heads;
    c.ok &= bytes == n->buf.bytes && (n->buf.count <= 1 || bytes <= n->opt.max_buffered_bytes);
    /* Invariant 8: the queue holds the newest local writes, in order. */
    c.ok &= n->unsent_len <= n->unsent_cap && n->unsent_len <= n->opt.max_unsent &&
            n->unsent_len <= n->clock.counters[n->opt.self];
    for (size_t i = 0; i < n->unsent_len; i++)
        c.ok &= cw_msg_origin(n->unsent[i]) == n->opt.self &&
                cw_msg_seq(n->unsent[i]) == n->clock.counters[n->opt.self] - n->unsent_len + 1 + i;
    cw__map_each(&n->store.keys, check_key, &c);
    /* Recovery (recovery.c invariants 1-3). */
    const uint64_t *stable = cw__node_stable_counters(n);
    size_t logged = 0;
    for (uint32_t k = 0; k < n->n; k++) {
        c.ok &= stable[k] <= n->clock.counters[k];
        if (n->recovering) {
            const cw__log_ring *r = &n->log.ring[k];
            c.ok &= r->base + r->len == n->clock.counters[k] && r->len <= r->cap;
            logged += r->len;
        }
        c.ok &= !n->in_gaps[k] || k != n->opt.self;
    }
    c.ok &= logged == n->log.entries;
    size_t listed = 0;
    for (uint32_t i = 0; i < n->gap_count; i++)
        listed += n->in_gaps[n->gaps[i]];
    c.ok &= listed == n->gap_count;
    return c.ok;
}
