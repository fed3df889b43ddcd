/* Loss recovery and causal stability of one replica (see recovery.h).
 *
 * Gaps. seen[o] is the highest seq of origin o this replica knows to exist:
 * raised by a buffered write's own seq, by the counter a buffered write waits
 * for (its blocker), and by a peer's report. Origin o has a gap while
 * seen[o] > V[o]. A gap is not yet a loss: the write may be in flight. Each
 * tick marks how far seen reached (mark_seq at mark_ns); writes up to a mark
 * older than recovery_timeout are pulled: every missing run (neither applied
 * nor buffered) in the first PULL_SPAN seqs past V[o], one pull each. Pulls
 * go to the origin, then to the node that said it holds the writes, then
 * round robin over all peers (the origin may be cut off or gone; a silent
 * peer's turn goes to one of the next two that talks: next_target),
 * repeating until V[o] moves, with a doubling back-off, slower for peers
 * that still talk (tick_gap); while answers arrive, the window of what was
 * asked slides on without asking again (tick_gap). An answer is a copy of
 * each write asked for, marked retransmitted, sent only to the asker; copies of
 * writes that arrived meanwhile are dropped as duplicates. A host whose
 * transport knows a message from o was lost (cw__node_link_lost: a link that
 * numbers its messages sees the skip when the next one comes) makes o's gap
 * a loss: it is pulled at the next tick, not after the timeout. A host that
 * knows the window's peer lost its answer of o's write s on the way
 * (cw__node_answer_lost) has what the window misses up to s asked of that
 * peer again at the next tick: it answers, and in order.
 *
 * Stability. Every node's applied clock only grows, so any clock a peer once
 * sent (a report, or a write's clock, which is what its origin had applied)
 * is a lower bound of what it has applied now. A round takes the minimum of
 * this node's clock and the first clock heard from each peer; when every
 * peer has been heard, stable = max(stable, that minimum), and the log drops
 * the writes at or below it. A round opens one report interval after the
 * last one closed (stability_interval, by default the report interval), so
 * stability costs O(nodes) per peer per interval, not per write; at once
 * while this node's own writes not yet stable are half of max_log or more
 * (round_due), so its puts do not wait for the pace.
 *
 * A gap that only others vouch for (a write waiting on it, a report) is not
 * pulled while its origin still sends this node its writes or reports
 * (tick_gap): the origin's own messages come in order, so its later write
 * or its report shows a loss for sure; only an origin that sent neither for
 * two report intervals (cut off, gone) is pulled around. (Its pulls do not
 * count here, though they do for whom to ask: talks.)
 *
 * The timeout adapts per origin to the network it meets: a write that comes
 * twice, once itself and once as an answer, in either order, says it was
 * late, not lost, and doubles that origin's timeout (up to 32 times the
 * option); an answer that is applied halves it back. Under queueing deeper
 * than the timeout (many nodes on few cores) the pulls of writes merely
 * late stop, and under real loss the timeout stays near the option.
 *
 * Reports. A node that has sent no clock (write or report) for a report
 * interval sends its clock to every peer if it applied anything since, or
 * holds unstable writes (then the report asks peers to keep reporting:
 * a flagged report), or a peer asked. With nothing unstable anywhere the
 * reports stop.
 *
 * Tombstones. A delete stays in the store, hidden, until it is stable (every
 * node applied it) and no write concurrent with it can still arrive here:
 * a node k's writes concurrent with it were made before k applied it, so
 * they are at most the clock k sent in the round that made it stable; the
 * round's maximum of the clocks heard bounds them all, and once stable
 * reaches that bar every such write has been applied here. (Under
 * last-writer-wins a tombstone forgotten sooner would let a concurrent put
 * that arrives later win here and lose elsewhere.) A single node forgets a
 * tombstone as soon as it is applied.
 *
 * Invariants:
 *  1. stable <= V pointwise, and stable only grows.
 *  2. With recovery on, the log holds o's writes stable-trim .. V[o]:
 *     ring[o].base + ring[o].len == V[o] (every applied write is logged).
 *  3. gaps lists each origin with in_gaps set exactly once; an origin whose
 *     seen passed V is in it (it leaves at a tick that finds seen <= V).
 *  4. Nothing here changes the store or the buffer; a failure to send (a
 *     refusal, out of memory) loses nothing: the tick repeats the pull or
 *     the report.
 */
#include <stdlib.h>
#include <string.h>

#include <causeway/error.h>

#include "msg_internal.h"
#include "node_internal.h"
#include "node_state.h"
#include "recovery.h"
#include "store.h"
#include "vec.h"

/* Seqs past V[o] one tick looks at for missing runs, and the most writes one
 * pull is answered with (a pull from the wire may ask for any range). */
#define PULL_SPAN 256u
/* A gap's first pulls ask for this many seqs past V; each window answered
 * whole doubles it, up to PULL_SPAN, and so does one that timed out
 * answered in part (some answers buffered), or after V moved when the host
 * said some of its answers were lost (cw__node_answer_lost); any other
 * timeout sets it back. So a write merely late costs a few copies, a
 * backlog (a node back from a cut) still streams in at full windows, and so
 * does one over a lossy link. */
#define PULL_MIN_SPAN 16u
/* Pulls one origin's gap sends in one tick (one per missing run). */
#define PULL_RUNS 16u
/* An origin's adapted timeout and the back-off together double up to
 * recovery_timeout << MAX_BACKOFF_SHIFT, never more. */
#define MAX_BACKOFF_SHIFT 5u
/* Windows timed out at a peer that still talks per doubling of the wait
 * (tick_gap). */
#define TALKING_TRIES 8u

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* The replica's time as a mark of when a peer was heard: never 0, which
 * means never heard. */
static uint64_t stamp(const struct cw_node *n) { return n->now_ns ? n->now_ns : 1; }

/* The longest a peer may say nothing and still count as talking: a full
 * back-off. */
static uint64_t longest_silence(const struct cw_node *n)
{
    return n->opt.recovery_timeout_ns << MAX_BACKOFF_SHIFT;
}

/* Node j, as a peer, sent a word of its own here now (talks).
 *
 * What is kept: the longest gap lately between j's words (spoke_gap_ns).
 * Only time while this node missed writes counts toward a gap: their
 * holders report every interval until the writes are stable, so a long
 * silence then means lost words. A peer with nothing to say may be quiet
 * for long on a link that loses nothing, and that says nothing of loss.
 *
 * Decay and cap: each later moment j is heard takes an eighth off (words
 * at one moment count once), so it halves in five moments and a link that
 * stopped losing is judged by its report interval again within a few
 * dozen. A gap counts at most half the longest silence (more would change
 * nothing in talks). */
static void spoke(struct cw_node *n, uint32_t j)
{
    cw__gap *g = &n->gap[j];
    uint64_t now = stamp(n);
    if (g->spoke_ns && now > g->spoke_ns) {
        g->spoke_gap_ns -= g->spoke_gap_ns / 8;
        uint64_t from = g->spoke_ns > n->missing_since_ns ? g->spoke_ns : n->missing_since_ns;
        uint64_t d = n->gap_count && now > from ? min_u64(now - from, longest_silence(n) / 2) : 0;
        if (d > g->spoke_gap_ns)
            g->spoke_gap_ns = d;
    }
    g->spoke_ns = now;
}

static void want_tick(struct cw_node *n, uint64_t at)
{
    if (at < n->next_tick_ns)
        n->next_tick_ns = at;
}

/* When the next round may open (see the top, "Stability"): at the pace, or
 * at once while this node's own writes not yet stable are half of max_log
 * or more. Its puts wait for stability from max_log on: with rounds at the
 * pace alone (20 ns x nodes^3 in the engine: 21 s at 1,024 nodes) they
 * waited for it, past any stall timeout; now they wait at most as long as
 * a round takes (every peer heard: about a report interval). A round makes
 * stable only what was written before it opened, so one opened at half
 * lets the other half be written meanwhile (at 1,024 nodes with the
 * engine's defaults, 4,096 writes against a round of about 1 s). Only a
 * node that writes this much opens rounds sooner: they cost what its
 * peers' reports do. */
static uint64_t round_due(const struct cw_node *n)
{
    cw_node_id self = n->opt.self;
    if (n->recovering && n->clock.counters[self] - n->st.stable[self] >= n->opt.max_log - n->opt.max_log / 2)
        return n->now_ns;
    return n->st.closed_ns + n->opt.stability_interval_ns;
}

/* ---- lifecycle ---- */

static void open_round(struct cw_node *n)
{
    cw__stability *st = &n->st;
    memcpy(st->round_min, n->clock.counters, (size_t)n->n * sizeof(uint64_t));
    /* The maximum matters only to tombstones already here (those applied
     * during the round wait for the next one: collect_tombstones). */
    st->tracks_max = st->tombs_len > 0;
    if (st->tracks_max)
        memcpy(st->round_max, n->clock.counters, (size_t)n->n * sizeof(uint64_t));
    memset(st->heard, 0, ((size_t)n->n + 63) / 64 * sizeof(uint64_t));
    st->heard_count = 0;
    st->open = true;
    st->opened_ns = n->now_ns;
}

int cw__recovery_init(struct cw_node *n)
{
    size_t words = ((size_t)n->n + 63) / 64;
    n->st.stable = calloc(n->n, sizeof(uint64_t));
    n->st.round_min = calloc(n->n, sizeof(uint64_t));
    n->st.round_max = calloc(n->n, sizeof(uint64_t));
    n->st.heard = calloc(words, sizeof(uint64_t));
    n->gap = calloc(n->n, sizeof *n->gap);
    n->gaps = calloc(n->n, sizeof *n->gaps);
    n->in_gaps = calloc(n->n, sizeof *n->in_gaps);
    n->next_tick_ns = UINT64_MAX;
    n->recovering = n->opt.send_to && n->n > 1;
    int rc = n->st.stable && n->st.round_min && n->st.round_max && n->st.heard && n->gap && n->gaps && n->in_gaps
                 ? CW_OK
                 : CW_ENOMEM;
    if (rc == CW_OK && n->recovering)
        rc = cw__log_init(&n->log, n->n);
    if (rc != CW_OK) {
        cw__recovery_destroy(n);
        return rc;
    }
    if (n->n > 1)
        open_round(n);
    return CW_OK;
}

void cw__recovery_destroy(struct cw_node *n)
{
    if (n->log.ring)
        cw__log_destroy(&n->log);
    for (size_t i = 0; i < n->st.tombs_len; i++)
        cw__msg_unref(n->st.tombs[i]);
    free(n->st.tombs);
    for (size_t g = 0; g < n->st.groups_len; g++) {
        for (size_t i = 0; i < n->st.groups[g].len; i++)
            cw__msg_unref(n->st.groups[g].msgs[i]);
        free(n->st.groups[g].msgs);
        free(n->st.groups[g].bar);
    }
    free(n->st.groups);
    free(n->st.stable);
    free(n->st.round_min);
    free(n->st.round_max);
    free(n->st.heard);
    free(n->gap);
    free(n->gaps);
    free(n->in_gaps);
}

/* ---- the log ---- */

/* A tombstone leaves the store; the driver hears of it (node.h on_forget). */
static void forget(struct cw_node *n, cw_msg *m)
{
    cw__store_forget(&n->store, m);
    if (n->opt.on_forget) {
        n->in_callback++;
        n->opt.on_forget(n->opt.forget_ctx, m);
        n->in_callback--;
    }
}

int cw__recovery_reserve(struct cw_node *n, const cw_msg *m)
{
    cw__stability *st = &n->st;
    if ((m->flags & CW__MSG_TOMBSTONE) && n->n > 1) { /* room to track it */
        cw_msg **room = cw__vec_room(st->tombs, st->tombs_len, &st->tombs_cap, sizeof *room);
        if (!room)
            return CW_ENOMEM;
        st->tombs = room;
    }
    return n->recovering ? cw__log_reserve(&n->log, m->origin) : CW_OK;
}

void cw__recovery_applied(struct cw_node *n, cw_msg *m)
{
    if (m->flags & CW__MSG_TOMBSTONE) {
        if (n->n == 1)
            forget(n, m); /* stable at once, and nothing is concurrent */
        else
            n->st.tombs[n->st.tombs_len++] = cw__msg_ref(m); /* room reserved */
    }
    if (n->recovering)
        cw__log_append(&n->log, m);
    if (m->origin == n->opt.self && !n->st.open && n->n > 1)
        want_tick(n, round_due(n)); /* its own writes may make a round due now */
    if (m->flags & CW__MSG_RETRANSMITTED) {
        n->recovered++;
        cw__gap *g = &n->gap[m->origin];
        g->slow -= g->slow > 0; /* the pull was needed: its timeout may shrink */
        /* The window's last answer: slide it at the next tick, not after
         * the timeout (tick_gap). */
        if (n->in_gaps[m->origin] && m->seq >= n->gap[m->origin].pulled_upto)
            want_tick(n, n->now_ns);
    }
    /* The first write applied since this node's clock last went out makes
     * a report due (unless a write of its own carries the clock first). */
    if (n->applied_total++ == n->reported_total)
        want_tick(n, n->reported_ns + n->opt.report_interval_ns);
}

/* The replica's time moves to now_ns if that is later. The first round
 * opened before the replica knew any time (at create, as 0): it counts as
 * opened at the first time it learns, so a round is not taken for stalled
 * (and a peer named as the stability blocker) at the first tick or put. */
static void advance(cw_node *n, uint64_t now_ns)
{
    if (now_ns <= n->now_ns)
        return;
    if (n->now_ns == 0 && n->st.open && n->st.opened_ns == 0)
        n->st.opened_ns = now_ns;
    n->now_ns = now_ns;
}

void cw__node_note_time(cw_node *n, uint64_t now_ns)
{
    if (n)
        advance(n, now_ns < CW_NODE_MAX_TIME_NS ? now_ns : CW_NODE_MAX_TIME_NS);
}

void cw__node_link_lost(cw_node *n, cw_node_id from)
{
    if (!n || !n->recovering || from >= n->n || from == n->opt.self)
        return;
    cw__gap *g = &n->gap[from];
    if (!n->in_gaps[from] || g->strong_seen <= n->clock.counters[from])
        return;
    g->lost = true;
    want_tick(n, n->now_ns);
}

void cw__node_report_now(cw_node *n)
{
    if (!n || !n->recovering)
        return;
    n->report_now = true;
    want_tick(n, n->now_ns);
}

void cw__node_ask_reports(cw_node *n)
{
    if (!n || !n->recovering)
        return;
    n->ask_reports = true;
    cw__node_report_now(n);
}

void cw__recovery_sent_clock(struct cw_node *n)
{
    n->reported_total = n->applied_total;
    n->reported_ns = n->now_ns;
    n->wrote_last = true;
}

/* ---- stability ---- */

/* Tombstones, at a round's close (see the top): those now stable wait as
 * one group for the round's maximum; the groups whose bar stable reached
 * leave the store. Out of memory, the stable ones wait for the next round. */
static void collect_tombstones(struct cw_node *n)
{
    cw__stability *st = &n->st;
    size_t kept = 0, moved = 0;
    for (size_t i = 0; i < st->tombs_len && st->tracks_max; i++) /* no maximum: no bar to wait for */
        moved += st->tombs[i]->seq <= st->stable[st->tombs[i]->origin];
    cw__tomb_group *room = moved ? cw__vec_room(st->groups, st->groups_len, &st->groups_cap, sizeof *room) : NULL;
    cw__tomb_group g = {NULL, NULL, 0};
    if (room) {
        st->groups = room;
        g.bar = malloc((size_t)n->n * sizeof *g.bar);
        g.msgs = malloc(moved * sizeof *g.msgs);
    }
    if (g.bar && g.msgs) {
        memcpy(g.bar, st->round_max, (size_t)n->n * sizeof *g.bar);
        for (size_t i = 0; i < st->tombs_len; i++) {
            cw_msg *t = st->tombs[i];
            if (t->seq <= st->stable[t->origin])
                g.msgs[g.len++] = t;
            else
                st->tombs[kept++] = t;
        }
        st->tombs_len = kept;
        st->groups[st->groups_len++] = g;
    } else {
        free(g.bar);
        free(g.msgs);
    }
    /* Every group is looked at, not only the oldest: with honest peers a
     * later group's bar is never below an earlier one's (clocks only grow),
     * but a report of writes no node made (a peer whose state is wrong)
     * raises one group's bar beyond reach, and must not keep every later
     * delete in the store with it. */
    size_t waiting = 0;
    for (size_t j = 0; j < st->groups_len; j++) {
        cw__tomb_group *h = &st->groups[j];
        bool reached = true;
        for (uint32_t k = 0; k < n->n && reached; k++)
            reached = st->stable[k] >= h->bar[k];
        if (!reached) {
            st->groups[waiting++] = *h; /* oldest first still */
            continue;
        }
        for (size_t i = 0; i < h->len; i++) {
            forget(n, h->msgs[i]);
            cw__msg_unref(h->msgs[i]);
        }
        free(h->msgs);
        free(h->bar);
    }
    st->groups_len = waiting;
}

/* Every peer has been heard: stable moves up to the round's minimum, the
 * log drops what became stable, and tombstones may leave. */
static void close_round(struct cw_node *n)
{
    cw__stability *st = &n->st;
    for (uint32_t k = 0; k < n->n; k++) {
        if (st->round_min[k] <= st->stable[k])
            continue;
        st->stable[k] = st->round_min[k];
        if (n->recovering)
            cw__log_trim(&n->log, (cw_node_id)k, st->stable[k]);
    }
    if (st->tombs_len || st->groups_len)
        collect_tombstones(n);
    st->open = false;
    st->closed_ns = n->now_ns;
    want_tick(n, round_due(n));
}

void cw__recovery_heard(struct cw_node *n, cw_node_id from, const uint64_t *applied)
{
    cw__stability *st = &n->st;
    uint64_t bit = (uint64_t)1 << (from & 63);
    if (!st->open || (st->heard[from >> 6] & bit) || from == n->opt.self)
        return;
    st->heard[from >> 6] |= bit;
    for (uint32_t k = 0; k < n->n; k++)
        st->round_min[k] = min_u64(st->round_min[k], applied[k]);
    if (st->tracks_max)
        for (uint32_t k = 0; k < n->n; k++)
            st->round_max[k] = applied[k] > st->round_max[k] ? applied[k] : st->round_max[k];
    if (++st->heard_count == n->n - 1)
        close_round(n);
}

uint64_t cw_node_seen(const cw_node *n, cw_node_id origin)
{
    if (!n || origin >= n->n)
        return 0;
    /* Only what is here (applied, or held: buffered or released and not
     * yet applied): a seq that a report or a buffered write's clock names
     * was applied by a peer, whose own answer to the joiner holds it;
     * taking their word here would let one report of an absurd counter
     * keep the joiner out for ever. Asked once a join answer, not on a
     * delivery. */
    uint64_t v = n->clock.counters[origin], buffered = cw__buffer_last_seq(&n->buf, origin);
    if (buffered > v)
        v = buffered;
    for (size_t i = 0; i < n->work_count; i++)
        if (n->work[i].msg->origin == origin && n->work[i].msg->seq > v)
            v = n->work[i].msg->seq;
    return v;
}

void cw_node_peer_restarted(cw_node *n, cw_node_id peer)
{
    if (!n || peer >= n->n || peer == n->opt.self || !n->st.open || n->in_callback)
        return;
    cw__stability *st = &n->st;
    /* The open round may hold the peer's old word: start it over, so every
     * round that closes from now on heard the peer as it is now. */
    if (st->heard[peer >> 6] & ((uint64_t)1 << (peer & 63)))
        open_round(n);
}

/* ---- gaps ---- */

void cw__recovery_sent_before(struct cw_node *n, cw_node_id origin, uint64_t seq)
{
    cw__gap *g = &n->gap[origin];
    if (seq > g->strong_seen)
        g->strong_seen = seq;
}

void cw__recovery_heard_origin(struct cw_node *n, cw_node_id origin)
{
    spoke(n, origin);
    n->gap[origin].heard_ns = n->gap[origin].spoke_ns;
}

void cw__recovery_twice(struct cw_node *n, const cw_msg *m)
{
    /* Which copy came first says whether a pull was needless. Two answers
     * (a pull repeated after its answer was lost) or two first copies (a
     * duplicating network) say nothing. */
    const cw_msg *had = n->recovering ? cw__log_at(&n->log, m->origin, m->seq) : NULL;
    if (!had)
        return;
    bool answer_now = m->flags & CW__MSG_RETRANSMITTED, answer_then = had->flags & CW__MSG_RETRANSMITTED;
    /* The write came first, then the answer: late, not lost. The answer
     * came first and the write after (an answer may overtake the link's
     * backlog: transport.h): late too, and applying the answer took one
     * step off (apply), so this puts two back. */
    uint32_t up = answer_now && !answer_then ? 1 : !answer_now && answer_then ? 2 : 0;
    cw__gap *g = &n->gap[m->origin];
    /* With the back-off, never past MAX_BACKOFF_SHIFT in all: tick_gap. */
    g->slow = (uint8_t)(g->slow + up < MAX_BACKOFF_SHIFT ? g->slow + up : MAX_BACKOFF_SHIFT);
}

void cw__recovery_saw(struct cw_node *n, cw_node_id origin, uint64_t seq, uint32_t holder)
{
    cw__gap *g = &n->gap[origin];
    if (seq <= g->seen || origin == n->opt.self)
        return;
    g->seen = seq;
    g->seen_from = holder;
    if (!n->in_gaps[origin] && seq > n->clock.counters[origin]) {
        n->in_gaps[origin] = true;
        if (!n->missing_since_ns)
            n->missing_since_ns = stamp(n);
        n->gaps[n->gap_count++] = origin;
        g->mark_seq = seq;
        g->mark_ns = n->now_ns;
        g->attempts = g->backoff = g->tries = 0;
        g->answered = false;
        want_tick(n, n->now_ns + n->opt.recovery_timeout_ns);
    }
}

/* Whether seq of origin is here: applied, or buffered. */
static bool held(const struct cw_node *n, cw_node_id origin, uint64_t seq)
{
    if (seq <= n->clock.counters[origin])
        return true;
    const cw_msg *h = n->buf.heads[origin].msg;
    if (h && h->seq == seq)
        return true;
    cw__ring *r = &n->buf.rings[origin];
    const cw__slot *s = r->count ? cw__ring_at(r, seq) : NULL;
    return s && s->msg && s->msg->seq == seq;
}

void cw__node_answer_lost(cw_node *n, cw_node_id from, cw_node_id origin, uint64_t seq)
{
    if (!n || !n->recovering || origin >= n->n || origin == n->opt.self || !n->in_gaps[origin])
        return;
    cw__gap *g = &n->gap[origin];
    if (from != g->target || seq > g->pulled_upto || held(n, origin, seq)) /* held: also at or below V */
        return;
    if (seq > g->answer_lost)
        g->answer_lost = seq;
    g->window_lossy = true;
    want_tick(n, n->now_ns);
}

/* Who the window of turn a for origin's writes goes to: the origin, then
 * the node that said it holds them, then every peer in turn. */
static uint32_t pull_target(const struct cw_node *n, cw_node_id origin, const cw__gap *g, uint32_t a)
{
    uint32_t self = n->opt.self;
    if (a % 3 == 0)
        return origin;
    if (a % 3 == 1 && g->seen_from != self && g->seen_from < n->n)
        return g->seen_from;
    uint32_t t = (self + 1 + a / 3) % n->n;
    return t == self ? (t + 1) % n->n : t;
}

/* Whether peer j sent a message of its own (a write, a report, a pull)
 * here lately: within twice the longer of a report interval and the longest
 * gap lately between its words (spoke), and never longer than a full
 * back-off, so a peer that reports seldom, or has gone, is not taken for one
 * that talks. (A pull says as much as a report: the peer is there and its
 * link to this node carries; over a lossy link it is often the one word
 * that comes, as a peer that misses writes pulls every timeout. Over a link
 * that loses three in four, two reports in a row are both lost more often
 * than not: its gaps, not the interval, say how long its silence must be.
 * A peer whose gaps while this node missed writes were at most an interval
 * is judged silent after two intervals still.) */
static bool talks(const struct cw_node *n, uint32_t j, uint64_t now)
{
    uint64_t heard = n->gap[j].spoke_ns, gap = n->gap[j].spoke_gap_ns;
    uint64_t half = gap > n->opt.report_interval_ns ? gap : n->opt.report_interval_ns;
    uint64_t longest = longest_silence(n);
    return heard && now - heard < (half < longest / 2 ? 2 * half : longest);
}

/* Who the next window goes to: pull_target's next choice, or one of the two
 * after it that talks when that one is silent (a silent peer is likely cut
 * off or gone: its turn would hold up a peer that could answer). Sets
 * attempts to the turn taken; *silent says whether that peer is silent. */
static uint32_t next_target(const struct cw_node *n, cw_node_id origin, cw__gap *g, uint64_t now, bool *silent)
{
    for (uint32_t k = 0; k < 3; k++) {
        uint32_t t = pull_target(n, origin, g, g->attempts + k);
        if (talks(n, t, now)) {
            g->attempts += k;
            *silent = false;
            return t;
        }
    }
    *silent = true;
    return pull_target(n, origin, g, g->attempts);
}

static bool send_pull(struct cw_node *n, uint32_t to, cw_node_id origin, uint64_t from, uint64_t upto)
{
    cw_msg *m;
    if (cw__msg_pull(&m, n->n, n->opt.self, to, origin, from, upto) != CW_OK)
        return false;
    n->in_callback++;
    int rc = n->opt.send_to(n->opt.send_to_ctx, to, m);
    n->in_callback--;
    cw__msg_unref(m);
    n->pulls += rc == 0;
    return rc == 0;
}

/* Pulls every missing run of origin's from `from` up to the mark and
 * `until`, at most the gap's span (PULL_MIN_SPAN .. PULL_SPAN) seqs past V,
 * from `to`. (The answers come in order, so each applies as the one before
 * it did, buffer room or not.) The highest seq asked for (from - 1 if
 * none). */
static uint64_t pull_missing(struct cw_node *n, cw_node_id origin, const cw__gap *g, uint64_t from, uint64_t until,
                             uint32_t to)
{
    uint64_t v = n->clock.counters[origin];
    /* Near the top of the counters (a peer's state installed with one
     * there) V + span is capped rather than wrapped, and a seq that wraps
     * to 0 (the run after one ending at UINT64_MAX, or a window that
     * reached it) is at or below V: the walk stops there. */
    uint64_t span_end = g->span > UINT64_MAX - v ? UINT64_MAX : v + g->span;
    uint64_t last = min_u64(min_u64(g->mark_seq, span_end), until), asked = from - 1;
    uint32_t runs = 0;
    for (uint64_t s = from; s > v && s <= last && runs < PULL_RUNS;) {
        if (held(n, origin, s)) {
            s++;
            continue;
        }
        uint64_t end = s;
        while (end < last && !held(n, origin, end + 1))
            end++;
        if (!send_pull(n, to, origin, s, end))
            break;
        asked = end;
        runs++;
        s = end + 1;
    }
    return asked;
}

/* One origin's gap at a tick: gone, young, answers on their way, or pulled
 * (with back-off). False when the gap is gone.
 *
 * A window is what the last full pull asked for, V+1 .. pulled_upto. While
 * its answers may still come (before pull_next_ns) nothing in it is asked
 * again, unless the host says the window's peer lost one of them
 * (cw__node_answer_lost); if V moved meanwhile (answers are arriving) the
 * window slides: only the seqs past it are asked for, from the same peer.
 * Once it times out, the whole window is asked for again, from the next
 * peer, the timeout doubling while V does not move and no answer to a
 * window with V + 1 missing is buffered (every window for a silent peer,
 * every TALKING_TRIES for one that talks). So a backlog streams in, each
 * write asked for once per timeout, instead of every tick asking again for
 * all it still lacks. */
static bool tick_gap(struct cw_node *n, cw_node_id origin, uint64_t now)
{
    cw__gap *g = &n->gap[origin];
    uint64_t v = n->clock.counters[origin];
    if (g->answer_lost <= v)
        g->answer_lost = 0; /* it came after all */
    if (g->seen <= v) {
        g->lost = false;
        return false;
    }
    if (g->strong_seen <= v)
        g->lost = false; /* what the origin vouched for came: that loss is repaired */
    /* Only others say the writes exist (a write waiting on them, a report),
     * and the origin itself still sends its writes or reports here: they
     * come in order on its link, so a lost one shows as a gap in what it
     * sends (a later write, or its own report): wait for that rather than
     * pull what is likely on its way. Once it has sent neither for two
     * report intervals (cut off, or gone), pull from whoever holds them.
     * (A lost answer does not wait: the peer that answered holds the
     * write.) */
    uint64_t quiet = g->heard_ns + 2 * n->opt.report_interval_ns;
    if (g->strong_seen <= v && g->heard_ns && now < quiet && !g->answer_lost) {
        want_tick(n, quiet);
        return true;
    }
    /* The timeout's doublings: this origin's lateness; with the back-off
     * below, never past MAX_BACKOFF_SHIFT in all, so a missing write is
     * asked for at least every recovery_timeout << MAX_BACKOFF_SHIFT once
     * pulling started. */
    uint32_t base = g->slow; /* at most MAX_BACKOFF_SHIFT */
    uint64_t timeout = n->opt.recovery_timeout_ns << base;
    if (g->mark_seq <= v) { /* the marked writes came: mark what is known now */
        g->mark_seq = g->seen;
        g->mark_ns = now;
    }
    /* A loss the host reported (cw__node_link_lost) is not waited out:
     * every write known to exist now is asked for. (Asking only for those
     * the origin itself vouched for measured no better: docs/performance.md,
     * "A loss signal from the transport".) */
    if (g->lost)
        g->mark_seq = g->seen;
    if (now - g->mark_ns < timeout && !g->lost && !g->answer_lost) {
        want_tick(n, g->mark_ns + timeout);
        return true;
    }
    bool moved = v != g->pulled_v;
    if (moved)
        g->attempts = g->backoff = g->tries = 0; /* progress: the next back-off starts short */
    /* An answer from the window's peer was lost (cw__node_answer_lost): that
     * peer answers, in order, so what the window misses up to it is asked of
     * it again now; the window's timeout and back-off stay. (A window timed
     * out is asked again whole below.) */
    if (g->answer_lost && now < g->pull_next_ns)
        (void)pull_missing(n, origin, g, v + 1, g->answer_lost, g->target);
    g->answer_lost = 0;
    if (g->pulled_upto > v && now < g->pull_next_ns) { /* answers on their way */
        if (moved && n->recovering) {
            if (v >= g->pulled_upto && g->span < PULL_SPAN)
                g->span *= 2; /* the whole window came: a backlog, not a stray */
            g->pulled_v = v;
            uint64_t upto = pull_missing(n, origin, g, g->pulled_upto + 1, UINT64_MAX, g->target);
            if (upto > g->pulled_upto) {
                g->pulled_upto = upto;
                g->pull_next_ns = now + timeout;
            }
        }
        want_tick(n, g->pull_next_ns);
        return true;
    }
    /* A window that timed out when an answer was buffered since the last
     * timeout, while its first write is still missing, met a lossy path,
     * not one that does not answer: the back-off starts short again, as when
     * V moves (a path that answers is not asked less often; the next window
     * waits one timeout, whoever it goes to), and the span grows below.
     * (With the first write here, V waits on another origin's gap, not on
     * this window's answers.) */
    bool answered = g->answered && !held(n, origin, v + 1);
    g->answered = false;
    if (answered)
        g->backoff = g->tries = 0;
    /* The window's span (PULL_MIN_SPAN): one answered whole doubles, and so
     * does one that timed out answered in part, or after V moved with the
     * host saying some of its answers were lost (a lossy network, where few
     * windows are answered whole); any other window that timed out starts
     * small (one whose answers were refused for a full buffer, at one
     * seq). */
    bool timed_out = g->pulled_upto > v, refused = g->choked;
    if (v != g->choked_v) /* V moved since the refusal (maybe while the window slid on) */
        g->choked = false;
    if (!g->span || (timed_out && (refused || (!answered && (v == g->window_v || !g->window_lossy)))))
        g->span = g->choked ? 1 : PULL_MIN_SPAN;
    else if ((timed_out || moved) && g->span < PULL_SPAN)
        g->span *= 2;
    bool silent;
    g->target = next_target(n, origin, g, now, &silent);
    if (n->recovering)
        g->pulled_upto = pull_missing(n, origin, g, v + 1, UINT64_MAX, g->target);
    g->lost = g->window_lossy = false;
    g->pulled_v = g->window_v = v;
    /* The back-off: a peer gone silent (cut off, gone, stopped) is asked
     * less and less often, the wait doubling with each window. One that
     * still talks to this node most likely lost the pull or its answers (or
     * is late: `slow` above), so the wait doubles only every
     * TALKING_TRIES windows: over a very lossy network most windows time
     * out, and a back-off grown on each would slow the repair severalfold,
     * while a path that never answers (a link cut one way, or held) still
     * backs off to the full wait within TALKING_TRIES x MAX_BACKOFF_SHIFT
     * windows. */
    uint32_t shift = base + g->backoff < MAX_BACKOFF_SHIFT ? g->backoff : MAX_BACKOFF_SHIFT - base;
    if (silent || ++g->tries == TALKING_TRIES) {
        g->tries = 0;
        if (g->backoff < MAX_BACKOFF_SHIFT)
            g->backoff++;
    }
    g->attempts++;
    g->pull_next_ns = now + (timeout << shift);
    /* Writes seen since the mark start their own timeout now. */
    if (g->seen > g->mark_seq) {
        g->mark_seq = g->seen;
        g->mark_ns = now;
    }
    want_tick(n, g->pull_next_ns);
    return true;
}

/* ---- reports ---- */

static void maybe_report(struct cw_node *n, uint64_t now)
{
    /* Writes waiting for stability: logged ones, and tombstones waiting to
     * be collected (they need rounds after they became stable). */
    bool unstable = n->log.entries > 0 || n->st.tombs_len || n->st.groups_len;
    if (!n->recovering || !(n->applied_total != n->reported_total || unstable || n->wanted || n->report_now))
        return;
    /* After this node's own writes stop, its last clock is reported soon:
     * a peer that lost its last write learns of it only from this report.
     * (Twice the longer of the timeout and the stability interval: ticks
     * come about every stability interval, so a node writing without pause
     * never reports.) */
    uint64_t interval = n->opt.report_interval_ns;
    if (n->wrote_last) {
        uint64_t tail = 2 * (n->opt.recovery_timeout_ns > n->opt.stability_interval_ns ? n->opt.recovery_timeout_ns
                                                                                       : n->opt.stability_interval_ns);
        interval = tail < interval ? tail : interval;
    }
    uint64_t due = n->report_now ? now : n->reported_ns + interval;
    if (now < due) {
        want_tick(n, due);
        return;
    }
    cw_msg *m;
    bool ask = unstable || n->ask_reports;
    if (cw__msg_report(&m, n->n, n->opt.self, n->clock.counters, ask ? CW__MSG_WANTS_REPORTS : 0) != CW_OK) {
        want_tick(n, now + n->opt.report_interval_ns); /* out of memory: next interval */
        return;
    }
    n->in_callback++;
    int rc = n->opt.send_to(n->opt.send_to_ctx, CW_NODE_ALL, m);
    n->in_callback--;
    cw__msg_unref(m);
    /* Sent or refused, the next try is an interval away. */
    n->reported_ns = now;
    n->report_now = false;
    if (rc == 0) {
        n->reports++;
        n->reported_total = n->applied_total;
        n->wanted = false;
        n->wrote_last = false;
        n->ask_reports = false;
    }
    if (unstable || n->wanted)
        want_tick(n, now + n->opt.report_interval_ns);
}

int cw__recovery_report(struct cw_node *n, const cw_msg *r)
{
    cw_node_id from = r->origin;
    cw__recovery_heard_origin(n, from);
    cw__recovery_sent_before(n, from, r->counters[from]); /* its own writes, sent before this */
    cw__recovery_heard(n, from, r->counters);
    const uint64_t *v = n->clock.counters;
    for (uint32_t k = 0; k < n->n; k++)
        if (r->counters[k] > v[k])
            cw__recovery_saw(n, (cw_node_id)k, r->counters[k], from);
    if (r->flags & CW__MSG_WANTS_REPORTS) {
        n->wanted = true;
        want_tick(n, n->reported_ns + n->opt.report_interval_ns);
    }
    return CW_OK;
}

/* ---- pulls ---- */

int cw__recovery_pull(struct cw_node *n, const cw_msg *p)
{
    if (!n->recovering)
        return CW_OK; /* nothing logged: nothing to serve */
    cw_node_id origin = (cw_node_id)p->counters[0], asker = p->origin;
    spoke(n, asker); /* it talks (talks); the codec checked asker */
    uint64_t from = p->counters[1], to = p->counters[2];
    const cw__log_ring *r = &n->log.ring[origin];
    if (from <= r->base)
        from = r->base + 1;
    to = min_u64(to, r->base + r->len);
    if (to >= from && to - from >= PULL_SPAN)
        to = from + PULL_SPAN - 1;
    for (uint64_t s = from; s <= to && s >= from; s++) {
        cw_msg *copy;
        if (cw__msg_retransmission(&copy, cw__log_at(&n->log, origin, s), asker) != CW_OK)
            break; /* out of memory: the asker pulls again */
        n->in_callback++;
        int rc = n->opt.send_to(n->opt.send_to_ctx, asker, copy);
        n->in_callback--;
        cw__msg_unref(copy);
        if (rc != 0)
            break; /* refused: the asker pulls again */
        n->retransmitted++;
    }
    return CW_OK;
}

/* ---- the tick, and what it tells ---- */

int cw_node_tick(cw_node *n, uint64_t now_ns, uint64_t *next_ns)
{
    if (!n || n->in_callback || now_ns > CW_NODE_MAX_TIME_NS)
        return CW_EINVAL;
    advance(n, now_ns);
    now_ns = n->now_ns; /* time never goes back here */
    n->next_tick_ns = UINT64_MAX;
    for (uint32_t i = 0; i < n->gap_count;) {
        cw_node_id o = (cw_node_id)n->gaps[i];
        if (tick_gap(n, o, now_ns)) {
            i++;
        } else {
            n->in_gaps[o] = false;
            n->gaps[i] = n->gaps[--n->gap_count];
        }
    }
    if (!n->gap_count)
        n->missing_since_ns = 0;
    cw__stability *st = &n->st;
    if (n->n > 1 && !st->open) {
        uint64_t due = round_due(n);
        if (now_ns >= due)
            open_round(n);
        else
            want_tick(n, due);
    }
    /* One tick once the open round counts as stalled, so the statistics
     * name the blocker even if nothing else ticks this node. */
    uint64_t stalled = st->opened_ns + 2 * n->opt.report_interval_ns + 1;
    if (n->n > 1 && st->open && now_ns < stalled)
        want_tick(n, stalled);
    maybe_report(n, now_ns);
    if (next_ns)
        *next_ns = n->next_tick_ns;
    return CW_OK;
}

uint64_t cw_node_next_tick(const cw_node *n) { return n ? n->next_tick_ns : UINT64_MAX; }

int cw_node_stable(const cw_node *n, cw_vclock *out)
{
    if (!n || !out)
        return CW_EINVAL;
    if (n->n == 1)
        return cw_dclock_to_sparse(&n->clock, out);
    cw_dclock d = {n->st.stable, n->n};
    return cw_dclock_to_sparse(&d, out);
}

void cw__node_each_logged(const cw_node *n, void (*fn)(void *ctx, const cw_msg *m), void *ctx)
{
    for (uint32_t o = 0; n->recovering && o < n->n; o++) {
        const cw__log_ring *r = &n->log.ring[o];
        /* Counted from base, not up to base + len: an empty log above a
         * clock entry of UINT64_MAX (a peer's state installed) has base + 1
         * at 0. */
        for (uint64_t i = 1; i <= r->len; i++)
            fn(ctx, cw__log_at(&n->log, (cw_node_id)o, r->base + i));
    }
}

const uint64_t *cw__node_stable_counters(const cw_node *n)
{
    return n->n == 1 ? n->clock.counters : n->st.stable;
}

uint32_t cw__node_stability_blocker(const cw_node *n)
{
    const cw__stability *st = &n->st;
    /* Stalled: the round has waited for more than two intervals. */
    if (n->n == 1 || !st->open || n->now_ns - st->opened_ns <= 2 * n->opt.report_interval_ns)
        return CW_NODE_NONE;
    /* Nothing here waits for stability (the log is empty): a round left
     * open because every node went quiet holds nothing back. */
    if (n->recovering && n->log.entries == 0)
        return CW_NODE_NONE;
    for (uint32_t k = 0; k < n->n; k++)
        if (k != n->opt.self && !(st->heard[k >> 6] & ((uint64_t)1 << (k & 63))))
            return k;
    return CW_NODE_NONE;
}

void cw__node_cap_stable(cw_node *n, const uint64_t *cap)
{
    for (uint32_t k = 0; n->recovering && k < n->n; k++)
        if (n->st.stable[k] > cap[k])
            n->st.stable[k] = cap[k];
}
