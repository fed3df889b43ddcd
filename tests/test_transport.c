/* The in-process transport alone (transport.h, inproc.c) and the fault layer
 * (fault.h): per-link order, backpressure without loss, fan-out, batch take,
 * seeded fault decisions, holds that keep order, and parking that loses no
 * wake-up. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <unistd.h>

#include "testutil.h"

#include "fault.h"
#include "msg_internal.h"
#include "transport.h"

static const cw_hlc_timestamp TS = {1700000000123u, 7, 2};

/* A write from origin with sequence number seq, in a 4-node system. */
static cw_msg *msg(cw_node_id origin, uint64_t seq)
{
    uint64_t clock[4] = {0};
    clock[origin] = seq;
    cw_msg *m = NULL;
    assert_int_equal(cw_msg_create(&m, origin, &TS, clock, 4, "k", 1, "v", 1), CW_OK);
    return m;
}

static uint32_t refs(cw_msg *m) { return atomic_load(&m->refs); }

static cw__transport *open_inproc(uint32_t endpoints, uint32_t ring_capacity)
{
    cw__transport *t = NULL;
    assert_int_equal(cw__transport_inproc(&t, endpoints, ring_capacity), CW_OK);
    assert_non_null(t);
    return t;
}

static void test_bad_arguments(void **state)
{
    (void)state;
    cw__transport *t = NULL;
    assert_int_equal(cw__transport_inproc(&t, 0, 64), CW_EINVAL);
    assert_int_equal(cw__transport_inproc(NULL, 2, 64), CW_EINVAL);
    assert_null(t);
    cw__faults f;
    cw__fault_options o = {.seed = 1, .delay_probability = 1.5};
    assert_int_equal(cw__faults_init(&f, &o, 1, NULL, NULL), CW_EINVAL);
    o = (cw__fault_options){.seed = 1, .duplicate_probability = -0.1};
    assert_int_equal(cw__faults_init(&f, &o, 1, NULL, NULL), CW_EINVAL);
}

/* ---- one link between two threads: order, nothing lost ---- */

enum { HANDOFF = 200000 };

typedef struct link_arg {
    cw__transport *t;
    cw_msg **m;
} link_arg;

static void *producer(void *p)
{
    link_arg *a = p;
    for (uint64_t i = 0; i < HANDOFF; i++) {
        cw__transport_send(a->t, 0, 1, a->m[i]);
        cw__transport_wake(a->t, 1);
        if (cw__transport_sending(a->t, 0))
            cw__transport_flush(a->t, 0);
    }
    while (cw__transport_sending(a->t, 0)) {
        if (!cw__transport_flush(a->t, 0))
            sched_yield();
    }
    return NULL;
}

/* Runs `sender` on a thread over n messages of origin 0 (seqs 1..n, in
 * a.m) for the link 0 -> 1, and takes them at endpoint 1 on this thread:
 * they must come in the order sent, none lost. Returns once the sender
 * has returned; the messages are still the caller's. */
static link_arg link_run(cw__transport *t, uint64_t n, void *(*sender)(void *))
{
    link_arg a = {t, malloc(n * sizeof(cw_msg *))};
    assert_non_null(a.m);
    for (uint64_t i = 0; i < n; i++)
        a.m[i] = msg(0, i + 1);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, sender, &a), 0);
    uint64_t next = 1;
    while (next <= n) {
        cw_msg *batch[32];
        size_t got = cw__transport_take(t, 1, batch, 32);
        for (size_t i = 0; i < got; i++, next++) {
            assert_int_equal(cw_msg_seq(batch[i]), next); /* in the order sent, none lost */
            assert_ptr_equal(batch[i], a.m[next - 1]);
            cw_msg_unref(batch[i]);
        }
        if (!got)
            sched_yield();
    }
    pthread_join(th, NULL);
    return a;
}

static void test_handoff_keeps_order_between_threads(void **state)
{
    (void)state;
    cw__transport *t = open_inproc(2, 64);
    link_arg a = link_run(t, HANDOFF, producer);
    assert_int_equal(cw__transport_take(t, 1, (cw_msg *[1]){NULL}, 1), 0);
    for (uint64_t i = 0; i < HANDOFF; i++) {
        assert_int_equal(refs(a.m[i]), 1); /* the transport kept no reference */
        cw_msg_unref(a.m[i]);
    }
    free(a.m);
    cw__transport_destroy(t);
}

/* ---- a full ring: the rest waits on the sender, in order ---- */

static void test_full_ring_keeps_the_rest_in_order(void **state)
{
    (void)state;
    cw__transport *t = open_inproc(3, 4); /* rings hold 3 */
    cw_msg *m[100];
    for (int i = 0; i < 100; i++) {
        m[i] = msg(0, (uint64_t)i + 1);
        cw__transport_send(t, 0, i % 2 ? 2 : 1, m[i]);
        assert_int_equal(refs(m[i]), 2); /* the send took its own reference */
    }
    assert_true(cw__transport_sending(t, 0));
    assert_true(cw__transport_arrived(t, 1));
    assert_false(cw__transport_arrived(t, 0));
    /* Nothing more moves until the receivers take: flush moves nothing. */
    assert_false(cw__transport_flush(t, 0));
    uint64_t next[3] = {0, 1, 2};
    int received = 0;
    while (received < 100) {
        for (uint32_t to = 1; to <= 2; to++) {
            cw_msg *batch[2];
            size_t n = cw__transport_take(t, to, batch, 2);
            for (size_t i = 0; i < n; i++, received++) {
                assert_int_equal(cw_msg_seq(batch[i]), next[to]); /* odd seqs to 1, even to 2, in order */
                next[to] += 2;
                cw_msg_unref(batch[i]);
            }
        }
        cw__transport_flush(t, 0);
    }
    assert_false(cw__transport_sending(t, 0));
    for (int i = 0; i < 100; i++) {
        assert_int_equal(refs(m[i]), 1);
        cw_msg_unref(m[i]);
    }
    cw__transport_destroy(t);
}

/* Pulls and retransmitted copies sent to one endpoint overtake a backlog of
 * writes on the link (so recovery does not wait behind it); a report keeps
 * its place behind the writes it counts; once the recovery ring is full,
 * recovery traffic waits in the link's order; nothing is lost or doubled. */
static void test_recovery_traffic_overtakes_a_backlog(void **state)
{
    (void)state;
    uint32_t fast = cw__inproc_fast_capacity(64); /* holds fast - 1 */
    cw__transport *t = open_inproc(2, 64);
    enum { WRITES = 40 };
    cw_msg *w[WRITES];
    for (int i = 0; i < WRITES; i++) {
        w[i] = msg(0, (uint64_t)i + 1);
        cw__transport_send(t, 0, 1, w[i]);
    }
    uint64_t applied[4] = {3, 0, 0, 0};
    cw_msg *report = NULL, *answer = NULL;
    assert_int_equal(cw__msg_report(&report, 4, 0, applied, 0), CW_OK);
    cw__transport_send_all(t, 0, report);
    assert_int_equal(cw__msg_retransmission(&answer, w[2], 1), CW_OK);
    cw_msg **pulls = calloc(fast + 2, sizeof *pulls);
    assert_non_null(pulls);
    for (uint32_t i = 0; i < fast + 2; i++) { /* past the recovery ring's room */
        assert_int_equal(cw__msg_pull(&pulls[i], 4, 0, 1, 2, i + 1, i + 1), CW_OK);
        cw__transport_send(t, 0, 1, pulls[i]);
    }
    cw__transport_send(t, 0, 1, answer);
    cw_msg *got[128];
    size_t n = cw__transport_take(t, 1, got, 128);
    assert_int_equal(n, WRITES + 1 + fast + 3);
    size_t at = 0;
    for (uint32_t i = 0; i + 1 < fast; i++) /* the recovery ring, first */
        assert_ptr_equal(got[at++], pulls[i]);
    for (int i = 0; i < WRITES; i++) /* then the link, in order */
        assert_ptr_equal(got[at++], w[i]);
    assert_ptr_equal(got[at++], report); /* behind the writes it counts */
    for (uint32_t i = fast - 1; i < fast + 2; i++) /* what the full ring refused, in order */
        assert_ptr_equal(got[at++], pulls[i]);
    assert_ptr_equal(got[at++], answer);
    for (size_t i = 0; i < n; i++)
        cw_msg_unref(got[i]);
    assert_int_equal(cw__transport_take(t, 1, got, 128), 0);
    /* With room again, an answer overtakes the writes sent before it. */
    cw__transport_send(t, 0, 1, w[0]);
    cw__transport_send(t, 0, 1, answer);
    assert_int_equal(cw__transport_take(t, 1, got, 128), 2);
    assert_ptr_equal(got[0], answer);
    assert_ptr_equal(got[1], w[0]);
    cw_msg_unref(got[0]);
    cw_msg_unref(got[1]);
    for (int i = 0; i < WRITES; i++) {
        assert_int_equal(refs(w[i]), 1);
        cw_msg_unref(w[i]);
    }
    for (uint32_t i = 0; i < fast + 2; i++) {
        assert_int_equal(refs(pulls[i]), 1);
        cw_msg_unref(pulls[i]);
    }
    assert_int_equal(refs(answer), 1);
    assert_int_equal(refs(report), 1);
    cw_msg_unref(answer);
    cw_msg_unref(report);
    free(pulls);
    cw__transport_destroy(t);
}

/* Destroy drops what is still in flight (rings and pending sends): with
 * AddressSanitizer, a leak fails this test. */
static void test_destroy_drops_what_is_in_flight(void **state)
{
    (void)state;
    cw__transport *t = open_inproc(2, 4);
    cw_msg *m = msg(0, 1), *pull = NULL;
    for (int i = 0; i < 10; i++)
        cw__transport_send(t, 0, 1, m);
    assert_int_equal(refs(m), 11);
    /* ... and the recovery lane, full and past it. */
    assert_int_equal(cw__msg_pull(&pull, 4, 0, 1, 2, 1, 1), CW_OK);
    for (int i = 0; i < 40; i++)
        cw__transport_send(t, 0, 1, pull);
    assert_int_equal(refs(pull), 41);
    cw__transport_destroy(t);
    assert_int_equal(refs(m), 1);
    assert_int_equal(refs(pull), 1);
    cw_msg_unref(m);
    cw_msg_unref(pull);
}

/* take_recovery takes the recovery lane alone, and leaves the writes. */
static void test_take_recovery_takes_the_lane_alone(void **state)
{
    (void)state;
    cw__transport *t = open_inproc(3, 64);
    cw_msg *w = msg(0, 1), *pull = NULL, *got[8];
    assert_int_equal(cw__msg_pull(&pull, 4, 2, 1, 0, 1, 1), CW_OK);
    cw__transport_send(t, 0, 1, w);
    cw__transport_send(t, 2, 1, pull);
    assert_int_equal(cw__transport_take_recovery(t, 1, got, 8), 1);
    assert_ptr_equal(got[0], pull);
    cw_msg_unref(got[0]);
    assert_int_equal(cw__transport_take_recovery(t, 1, got, 8), 0);
    assert_true(cw__transport_arrived(t, 1));
    assert_int_equal(cw__transport_take(t, 1, got, 8), 1);
    assert_ptr_equal(got[0], w);
    cw_msg_unref(got[0]);
    assert_int_equal(refs(w), 1);
    assert_int_equal(refs(pull), 1);
    cw_msg_unref(w);
    cw_msg_unref(pull);
    cw__transport_destroy(t);
}

/* ---- fan-out and batches ---- */

static void test_send_all_reaches_every_other_endpoint_once(void **state)
{
    (void)state;
    cw__transport *t = open_inproc(4, 64);
    cw_msg *m = msg(1, 1);
    cw__transport_send_all(t, 1, m);
    assert_int_equal(refs(m), 4);
    for (uint32_t at = 0; at < 4; at++) {
        cw_msg *batch[4];
        size_t n = cw__transport_take(t, at, batch, 4);
        assert_int_equal(n, at == 1 ? 0 : 1);
        for (size_t i = 0; i < n; i++) {
            assert_ptr_equal(batch[i], m);
            cw_msg_unref(batch[i]);
        }
    }
    assert_int_equal(refs(m), 1);
    cw_msg_unref(m);
    cw__transport_destroy(t);
}

static void test_take_batches_round_robin(void **state)
{
    (void)state;
    cw__transport *t = open_inproc(4, 64);
    cw_msg *m[3][10];
    for (uint32_t from = 1; from <= 3; from++)
        for (uint64_t s = 0; s < 10; s++) {
            m[from - 1][s] = msg((cw_node_id)from, s + 1);
            cw__transport_send(t, from, 0, m[from - 1][s]);
            cw_msg_unref(m[from - 1][s]); /* the ring's reference is the only one now */
        }
    uint64_t next[4] = {0, 1, 1, 1};
    bool seen[4] = {false};
    size_t total = 0, takes = 0;
    for (;;) {
        cw_msg *batch[5];
        size_t n = cw__transport_take(t, 0, batch, 5);
        if (!n)
            break;
        assert_true(n <= 5);
        for (size_t i = 0; i < n; i++) {
            cw_node_id o = cw_msg_origin(batch[i]);
            assert_int_equal(cw_msg_seq(batch[i]), next[o]++); /* each link in order */
            if (takes < 3)
                seen[o] = true;
            cw_msg_unref(batch[i]);
        }
        total += n;
        takes++;
    }
    assert_int_equal(total, 30);
    assert_true(seen[1] && seen[2] && seen[3]); /* the first three takes visit every sender */
    cw__transport_destroy(t);
}

/* ---- wake and park ---- */

enum { WAKES = 100000 };

typedef struct park_arg {
    cw__transport *t;
    _Atomic uint64_t posted, seen;
    _Atomic bool stop;
} park_arg;

/* A busy wait of about n loop turns, to move where the other thread's next
 * step lands. */
static void spin(unsigned n)
{
    for (volatile unsigned k = 0; k < n; k++)
        ;
}

/* Endpoint 0's thread: takes posted work, parks (no timeout) when there is
 * none. A lost wake-up leaves it asleep with work posted. Its pauses sweep
 * the poster's next post across the whole park sequence: before prepare,
 * between prepare and the last look (which only F1 and F2 in park.c order),
 * and between the last look and the futex wait (which only the claimant's
 * epoch bump covers). */
static void *parker(void *p)
{
    park_arg *a = p;
    for (unsigned round = 0; !atomic_load(&a->stop); round++) {
        uint64_t posted = atomic_load(&a->posted);
        if (atomic_load(&a->seen) < posted) {
            atomic_store(&a->seen, posted);
            continue;
        }
        spin(round % 61);
        uint32_t ticket = cw__transport_park_prepare(a->t, 0);
        /* Relaxed, as the engine's has_work: only park.c's F1 orders this
         * look after prepare's store of sleeping. */
        if (atomic_load_explicit(&a->posted, memory_order_relaxed) > atomic_load(&a->seen) ||
            atomic_load(&a->stop)) {
            cw__transport_park_cancel(a->t, 0);
            continue;
        }
        if (round % 4 == 0) /* as if preempted before the futex wait */
            spin(round % 397 * 8);
        cw__transport_park_wait(a->t, 0, ticket, 0);
    }
    return NULL;
}

static void test_park_loses_no_wake_up(void **state)
{
    (void)state;
    cw__transport *t = open_inproc(2, 64);
    park_arg a = {.t = t};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, parker, &a), 0);
    for (uint64_t i = 1; i <= WAKES; i++) {
        /* Release, not seq_cst (which is a full barrier on x86): as the
         * engine publishes, so only park.c's F2 orders this before the
         * wake's load of sleeping. */
        atomic_store_explicit(&a.posted, i, memory_order_release);
        cw__transport_wake(t, 0);
        /* Each piece of work is seen, within 10 s, before the next is posted:
         * a lost wake-up would leave the parker asleep here. */
        struct timespec start;
        clock_gettime(CLOCK_MONOTONIC, &start);
        while (atomic_load(&a.seen) < i) {
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            if (now.tv_sec - start.tv_sec > 10)
                fail_msg("wake-up %llu lost: the parker slept with work posted", (unsigned long long)i);
            if (i % 64 == 0) /* sometimes let it fall asleep first */
                sched_yield();
        }
    }
    atomic_store(&a.stop, true);
    cw__transport_wake(t, 0);
    pthread_join(th, NULL);
    cw__transport_destroy(t);
}

/* ---- the fault layer ---- */

typedef struct record {
    cw__routes got;      /* deliveries, in order, one reference each */
} record;

static void record_delivery(void *host, uint32_t lane, cw__route r)
{
    (void)lane;
    record *rec = host;
    assert_true(cw__routes_push(&rec->got, r));
    cw__msg_ref(r.msg);
}

/* Faults with none drawn (seed 7) over `lanes` lanes, delivering to rec. */
static void open_faults(cw__faults *f, uint32_t lanes, record *rec)
{
    cw__fault_options o = {.seed = 7};
    assert_int_equal(cw__faults_init(f, &o, lanes, record_delivery, rec), CW_OK);
}

/* Routes 400 messages (origins 0 and 1, to nodes 2 and 3) through faults
 * with this seed; returns, per route, whether it was delivered at once,
 * duplicated, and delayed. */
static void decide(uint64_t seed, uint8_t decisions[400], record *rec, uint64_t *injected)
{
    cw__faults f;
    cw__fault_options o = {.seed = seed, .delay_probability = 0.3, .max_delay_us = 200, .duplicate_probability = 0.3};
    assert_int_equal(cw__faults_init(&f, &o, 1, record_delivery, rec), CW_OK);
    assert_false(cw__faults_direct(&f));
    for (int i = 0; i < 400; i++) {
        cw_msg *m = msg((cw_node_id)(i % 2), (uint64_t)i / 4 + 1);
        size_t before = rec->got.len;
        cw__faults_route(&f, 0, (cw__route){.msg = m, .to = (cw_node_id)(2 + i / 2 % 2)}, true);
        uint8_t d = (uint8_t)(rec->got.len - before); /* delivered now: 0, 1 or 2 copies */
        d |= (uint8_t)((cw__faults_injected(&f) > *injected) << 2);
        *injected = cw__faults_injected(&f);
        decisions[i] = d;
        cw_msg_unref(m);
    }
    while (cw__faults_next_due(&f, 0)) /* the delayed ones arrive too */
        if (!cw__faults_release_due(&f, 0))
            sched_yield();
    cw__faults_destroy(&f);
}

static void test_fault_decisions_follow_the_seed(void **state)
{
    (void)state;
    uint8_t a[400], b[400], c[400];
    record ra = {{0}}, rb = {{0}}, rc = {{0}};
    uint64_t ia = 0, ib = 0, ic = 0;
    decide(42, a, &ra, &ia);
    decide(42, b, &rb, &ib);
    decide(43, c, &rc, &ic);
    assert_memory_equal(a, b, sizeof a); /* same seed, same decisions */
    assert_int_equal(ia, ib);
    assert_memory_not_equal(a, c, sizeof a);
    /* Every route arrives, once plus once per duplicate, whether delayed or not. */
    assert_int_equal(ra.got.len, 400 + ia);
    assert_int_equal(rc.got.len, 400 + ic);
    assert_true(ia > 60 && ia < 180); /* ~30% duplicated */
    size_t delayed = 0; /* copies made (1, or 2 if duplicated) less those delivered at once */
    for (int i = 0; i < 400; i++)
        delayed += 1u + ((a[i] >> 2) & 1u) - (a[i] & 3u);
    assert_true(delayed > 80 && delayed < 200); /* ~30% of ~520 copies */
    cw__routes_release(&ra.got);
    cw__routes_release(&rb.got);
    cw__routes_release(&rc.got);
}

/* Routes 400 messages (writes of origins 0 and 1 and, every third, a
 * report, to nodes 2 and 3) through drop, delay and duplicate with seed 42,
 * each either through cw__faults_route alone or, as a node process does
 * (drop_first), through cw__faults_dropped_here and then the route with
 * drop_drawn set. Per route: copies delivered at once, duplicated, and
 * dropped (the original, or the duplicate: never both). */
static void decide_dropping(bool drop_first, uint8_t decisions[400], record *rec)
{
    cw__faults f;
    cw__fault_options o = {.seed = 42, .drop_probability = 0.3, .delay_probability = 0.3, .max_delay_us = 200,
                           .duplicate_probability = 0.3};
    assert_int_equal(cw__faults_init(&f, &o, 1, record_delivery, rec), CW_OK);
    assert_true(cw__faults_drop_first(&f));
    assert_false(cw__faults_drop_only(&f));
    uint64_t injected = 0, dropped = 0;
    for (int i = 0; i < 400; i++) {
        cw_msg *m;
        if (i % 3 == 2) {
            uint64_t applied[4] = {(uint64_t)i, 0, 0, 0};
            assert_int_equal(cw__msg_report(&m, 4, (cw_node_id)(i % 2), applied, 0), CW_OK);
        } else {
            m = msg((cw_node_id)(i % 2), (uint64_t)i / 4 + 1);
        }
        cw__route r = {.msg = m, .to = (cw_node_id)(2 + i / 2 % 2)};
        size_t before = rec->got.len;
        if (!drop_first || !cw__faults_dropped_here(&f, 0, r)) {
            r.drop_drawn = drop_first;
            cw__faults_route(&f, 0, r, true);
        }
        uint8_t d = (uint8_t)(rec->got.len - before);
        d |= (uint8_t)((cw__faults_injected(&f) > injected) << 2);
        d |= (uint8_t)((cw__faults_dropped(&f) - dropped) << 3);
        injected = cw__faults_injected(&f);
        dropped = cw__faults_dropped(&f);
        decisions[i] = d;
        cw_msg_unref(m);
    }
    while (cw__faults_next_due(&f, 0))
        if (!cw__faults_release_due(&f, 0))
            sched_yield();
    cw__faults_destroy(&f);
}

/* A host that draws each arrival's drop before the route (where it still
 * knows the link's order) gets the same seeded decisions as the route
 * alone: the route does not draw that drop again, and a duplicate draws
 * its own. */
static void test_a_drop_drawn_first_decides_the_same(void **state)
{
    (void)state;
    uint8_t alone[400], first[400];
    record ra = {{0}}, rf = {{0}};
    decide_dropping(false, alone, &ra);
    decide_dropping(true, first, &rf);
    assert_memory_equal(alone, first, sizeof alone);
    assert_int_equal(ra.got.len, rf.got.len);
    size_t drops = 0, reports_dropped = 0;
    for (int i = 0; i < 400; i++) {
        drops += alone[i] >> 3;
        reports_dropped += i % 3 == 2 && (alone[i] >> 3);
    }
    assert_true(drops > 70 && drops < 200); /* ~30% of ~470 copies */
    assert_true(reports_dropped > 10);
    cw__routes_release(&ra.got);
    cw__routes_release(&rf.got);
}

static void test_hold_keeps_order_until_released(void **state)
{
    (void)state;
    record rec = {{0}};
    cw__faults f;
    open_faults(&f, 2, &rec);
    assert_true(cw__faults_direct(&f));
    bool released = true;
    assert_int_equal(cw__faults_hold(&f, 0, 3, true, 1, &released), CW_OK);
    assert_false(released);
    assert_false(cw__faults_direct(&f));
    for (uint64_t s = 1; s <= 50; s++) {
        cw_msg *m0 = msg(0, s), *m1 = msg(1, s);
        cw__faults_route(&f, 1, (cw__route){.msg = m0, .to = 3}, true); /* held */
        cw__faults_route(&f, 1, (cw__route){.msg = m1, .to = 3}, true); /* another link: delivered */
        cw_msg_unref(m0);
        cw_msg_unref(m1);
    }
    assert_int_equal(rec.got.len, 50);
    assert_int_equal(cw__faults_parked(&f), 50);
    assert_false(cw__faults_take_released(&f, 1));
    assert_int_equal(cw__faults_hold(&f, 0, 3, false, 1, &released), CW_OK);
    assert_true(released);
    assert_int_equal(cw__faults_injected(&f), 50);
    assert_true(cw__faults_pending(&f, 1, 0));
    assert_false(cw__faults_take_released(&f, 0)); /* released to lane 1 only */
    assert_true(cw__faults_take_released(&f, 1));
    assert_int_equal(rec.got.len, 100);
    for (uint64_t s = 1; s <= 50; s++) { /* held ones, in the order routed */
        assert_int_equal(cw_msg_origin(rec.got.r[49 + s].msg), 0);
        assert_int_equal(cw_msg_seq(rec.got.r[49 + s].msg), s);
    }
    assert_true(cw__faults_direct(&f));
    cw__faults_destroy(&f);
    cw__routes_release(&rec.got);
}

/* Releases reach their lane in the order they were made, across takes:
 * two links released one after the other, a link held and released twice
 * before the lane takes anything, and a release after a take (the list
 * starts again). A hold placed after a release does not keep the routes
 * that release sent back: they would arrive after routes held later. */
static void test_releases_arrive_in_their_order(void **state)
{
    (void)state;
    record rec = {{0}};
    cw__faults f;
    open_faults(&f, 2, &rec);
    bool released;
    cw_msg *m[7];
    for (uint64_t i = 0; i < 4; i++)
        m[i] = msg(0, i + 1);
    for (uint64_t i = 4; i < 7; i++)
        m[i] = msg(1, i - 3);
#define ROUTE(x) cw__faults_route(&f, 1, (cw__route){.msg = (x), .to = 3}, true)
    assert_int_equal(cw__faults_hold(&f, 0, 3, true, 1, &released), CW_OK);
    assert_int_equal(cw__faults_hold(&f, 1, 3, true, 1, &released), CW_OK);
    ROUTE(m[0]);
    ROUTE(m[4]);
    ROUTE(m[5]);
    assert_int_equal(cw__faults_hold(&f, 1, 3, false, 1, &released), CW_OK); /* 1 -> 3 first */
    assert_int_equal(cw__faults_hold(&f, 0, 3, false, 1, &released), CW_OK);
    assert_int_equal(cw__faults_hold(&f, 0, 3, true, 1, &released), CW_OK); /* held again */
    ROUTE(m[1]);
    assert_int_equal(cw__faults_hold(&f, 0, 3, false, 1, &released), CW_OK);
    assert_int_equal(cw__faults_parked_seq(&f, 1, 0, 3), 2); /* on the list, not yet delivered */
    assert_true(cw__faults_take_released(&f, 1));
    assert_false(cw__faults_take_released(&f, 1));
    assert_int_equal(rec.got.len, 4);
    assert_ptr_equal(rec.got.r[0].msg, m[4]);
    assert_ptr_equal(rec.got.r[1].msg, m[5]);
    assert_ptr_equal(rec.got.r[2].msg, m[0]);
    assert_ptr_equal(rec.got.r[3].msg, m[1]);
    /* After a take: the next release is listed again. */
    assert_int_equal(cw__faults_hold(&f, 0, 3, true, 1, &released), CW_OK);
    ROUTE(m[2]);
    ROUTE(m[6]); /* 1 -> 3 is not held: delivered */
    assert_int_equal(cw__faults_hold(&f, 0, 3, false, 1, &released), CW_OK);
    assert_true(released);
    /* Held again before the lane takes: m[2] went back before this hold,
     * so the hold keeps only m[3], and m[2] arrives first. */
    assert_int_equal(cw__faults_hold(&f, 0, 3, true, 1, &released), CW_OK);
    ROUTE(m[3]);
    assert_true(cw__faults_take_released(&f, 1));
    assert_int_equal(rec.got.len, 6);
    assert_ptr_equal(rec.got.r[4].msg, m[6]);
    assert_ptr_equal(rec.got.r[5].msg, m[2]);
    assert_int_equal(cw__faults_hold(&f, 0, 3, false, 1, &released), CW_OK);
    assert_true(cw__faults_take_released(&f, 1));
    assert_int_equal(rec.got.len, 7);
    assert_ptr_equal(rec.got.r[6].msg, m[3]);
    assert_int_equal(cw__faults_injected(&f), 6);
    assert_int_equal(cw__faults_parked(&f), 6);
    /* Destroyed with releases on a lane and links held, with and without
     * routes: every message and entry is freed (the sanitizer's leak check). */
    assert_int_equal(cw__faults_hold(&f, 0, 3, true, 1, &released), CW_OK);
    ROUTE(m[0]);
    assert_int_equal(cw__faults_hold(&f, 0, 3, false, 1, &released), CW_OK);
    assert_int_equal(cw__faults_hold(&f, 1, 3, true, 1, &released), CW_OK);
    ROUTE(m[4]);
    assert_int_equal(cw__faults_hold(&f, 2, 3, true, 1, &released), CW_OK);
    assert_int_equal(cw__faults_hold(&f, 2, 0, false, 0, &released), CW_OK); /* never held: nothing */
    assert_false(released);
#undef ROUTE
    cw__faults_destroy(&f);
    for (size_t i = 0; i < 7; i++)
        cw_msg_unref(m[i]);
    cw__routes_release(&rec.got);
}

/* Teardown of a test that injects allocation failures: a failed assertion
 * leaves the injection on, and the next test would wait for memory. */
static int failures_off(void **state)
{
    (void)state;
    tu_fail_alloc_off();
    tu_fail_realloc(0);
    return 0;
}

/* Room reserved on a sender's pending list takes that many sends past a
 * full ring with no memory at all (a host that must not wait for memory
 * reserves first, and refuses what it would send when it cannot); without
 * memory the reservation is refused, and nothing was sent. Here a send that
 * needed memory would give up (the host closing) and drop its message. */
static void test_reserved_sends_need_no_memory(void **state)
{
    (void)state;
    cw__transport *t = open_inproc(2, 4); /* the ring holds 3 */
    _Atomic bool closing = true;
    t->closing = &closing;
    tu_fail_realloc(1);
    assert_false(cw__transport_reserve(t, 0, 10, 10));
    assert_false(cw__transport_sending(t, 0));
    assert_false(cw__transport_arrived(t, 1));
    tu_fail_realloc(0);
    assert_true(cw__transport_reserve(t, 0, 10, 10));
    assert_true(cw__transport_reserve(t, 1, 0, 0)); /* nothing to make room for */
    cw_msg *m[10];
    for (int i = 0; i < 10; i++)
        m[i] = msg(0, (uint64_t)i + 1); /* made before the failures */
    tu_fail_realloc(1);
    tu_fail_alloc_after(0);
    long before = tu_alloc_count();
    for (int i = 0; i < 10; i++) {
        cw__transport_send(t, 0, 1, m[i]);
        assert_int_equal(refs(m[i]), 2); /* kept: not one dropped */
    }
    assert_int_equal(tu_alloc_count(), before); /* and nothing allocated */
    tu_fail_alloc_off();
    tu_fail_realloc(0);
    assert_true(cw__transport_sending(t, 0));
    uint64_t next = 1;
    do {
        cw_msg *batch[4];
        size_t n;
        while ((n = cw__transport_take(t, 1, batch, 4)) > 0)
            for (size_t i = 0; i < n; i++, next++) {
                assert_int_equal(cw_msg_seq(batch[i]), next);
                cw_msg_unref(batch[i]);
            }
    } while (cw__transport_flush(t, 0));
    assert_int_equal(next, 11);
    for (int i = 0; i < 10; i++)
        cw_msg_unref(m[i]);
    cw__transport_destroy(t);
}

/* With nothing pending, room in the rings is room enough: sends that fit
 * in every ring from the sender (counted by the most any one endpoint
 * gets) need no memory, so a reservation for them holds with no memory at
 * all (before, it asked for pending room it would not use, and a host
 * short of memory refused its reports, pulls and answers though every link
 * had room). One more than a ring takes still needs memory. */
static void test_room_in_the_rings_needs_no_memory(void **state)
{
    (void)state;
    cw__transport *t = open_inproc(3, 4); /* each ring holds 3 */
    _Atomic bool closing = true;          /* a send that needed memory would drop */
    t->closing = &closing;
    cw_msg *m[3];
    for (int i = 0; i < 3; i++)
        m[i] = msg(0, (uint64_t)i + 1);
    tu_fail_realloc(1);
    tu_fail_alloc_after(0);
    assert_false(cw__transport_reserve(t, 0, 4, 4)); /* more than a ring takes */
    assert_true(cw__transport_reserve(t, 0, 6, 3));  /* three for each ring */
    long before = tu_alloc_count();
    cw__transport_send_all(t, 0, m[0]); /* one in each ring */
    assert_int_equal(tu_alloc_count(), before); /* asked for no memory */
    assert_false(cw__transport_reserve(t, 0, 3, 3));
    assert_true(cw__transport_reserve(t, 0, 2, 2));
    before = tu_alloc_count();
    cw__transport_send(t, 0, 1, m[1]);
    cw__transport_send(t, 0, 1, m[2]); /* the ring to 1 is full now */
    assert_int_equal(tu_alloc_count(), before);
    assert_false(cw__transport_reserve(t, 0, 1, 1));
    tu_fail_alloc_off();
    tu_fail_realloc(0);
    assert_false(cw__transport_sending(t, 0)); /* nothing waits: all went into rings */
    for (uint32_t to = 1; to < 3; to++) {
        cw_msg *batch[4];
        size_t n = cw__transport_take(t, to, batch, 4);
        assert_int_equal(n, to == 1 ? 3 : 1);
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(cw_msg_seq(batch[i]), i + 1);
            cw_msg_unref(batch[i]);
        }
    }
    assert_true(cw__transport_reserve(t, 0, 6, 3)); /* taken: room again */
    /* Once sends wait on the pending list, the next goes behind them
     * whatever room the ring has since: only the list's room counts. Fill
     * the ring to 1 and the list to its capacity (64), then take the ring. */
    for (int i = 0; i < 3 + 64; i++)
        cw__transport_send(t, 0, 1, m[0]);
    assert_true(cw__transport_sending(t, 0));
    cw_msg *batch[3];
    assert_int_equal(cw__transport_take(t, 1, batch, 3), 3);
    for (int i = 0; i < 3; i++)
        cw_msg_unref(batch[i]);
    tu_fail_realloc(1);
    assert_false(cw__transport_reserve(t, 0, 1, 1));
    tu_fail_realloc(0);
    for (int i = 0; i < 3; i++)
        cw_msg_unref(m[i]);
    cw__transport_destroy(t); /* drops what the list holds */
}

/* The same while the receiver takes on another thread: with no memory at
 * all, a sender that sends only what it reserved (waiting, reserving again,
 * while the ring is full) loses nothing; a send past its room would have
 * needed memory, and with the host closing it would have dropped its
 * message (a gap the receiver sees). Under ThreadSanitizer this is the
 * room's look at the receiver's progress while the receiver moves it. */
enum { RESERVED = 20000 };

static void *reserving_sender(void *p)
{
    link_arg *a = p;
    tu_fail_realloc(1);
    tu_fail_alloc_after(0);
    for (uint64_t i = 0; i < RESERVED; i++) {
        while (!cw__transport_reserve(a->t, 0, 1, 1))
            sched_yield(); /* the ring is full: the receiver makes room */
        cw__transport_send(a->t, 0, 1, a->m[i]);
    }
    return NULL;
}

static void test_room_in_the_rings_between_threads(void **state)
{
    (void)state;
    cw__transport *t = open_inproc(2, 8);
    _Atomic bool closing = true;
    t->closing = &closing;
    link_arg a = link_run(t, RESERVED, reserving_sender);
    tu_fail_alloc_off();
    tu_fail_realloc(0);
    assert_false(cw__transport_sending(t, 0)); /* every send went into the ring */
    for (uint64_t i = 0; i < RESERVED; i++)
        cw_msg_unref(a.m[i]);
    free(a.m);
    cw__transport_destroy(t);
}

/* ---- waiting for memory, without a lock ---- */

/* A recorder with room for `cap` deliveries made up front, so that it needs
 * no memory while allocations fail. */
static void record_with_room(record *rec, size_t cap)
{
    rec->got = (cw__routes){.r = malloc(cap * sizeof *rec->got.r), .cap = cap};
    assert_non_null(rec->got.r);
}

/* Two lanes of faults with none drawn, delivering to rec (room for 256
 * made up front), counting threads that wait for memory in waits; and the
 * thread that will wait. */
typedef struct waiting_faults {
    record rec;
    cw__faults f;
    _Atomic uint32_t waits;
    pthread_t th;
} waiting_faults;

static void open_waiting(waiting_faults *w)
{
    record_with_room(&w->rec, 256);
    open_faults(&w->f, 2, &w->rec);
    atomic_store(&w->waits, 0);
    w->f.memory_waits = &w->waits;
}

/* Makes every realloc fail, runs fn(arg) on w's thread, and returns once
 * that thread waits for memory. */
static void start_waiting(waiting_faults *w, void *(*fn)(void *), void *arg)
{
    tu_fail_realloc(1);
    assert_int_equal(pthread_create(&w->th, NULL, fn, arg), 0);
    while (atomic_load(&w->waits) == 0)
        sched_yield();
}

/* Gives memory back and joins w's thread. */
static void end_waiting(waiting_faults *w)
{
    tu_fail_realloc(0);
    assert_int_equal(pthread_join(w->th, NULL), 0);
}

/* Drops the test's references to its count messages m, and frees w. */
static void close_waiting(waiting_faults *w, cw_msg **m, size_t count)
{
    for (size_t i = 0; i < count; i++)
        cw_msg_unref(m[i]);
    cw__faults_destroy(&w->f);
    cw__routes_release(&w->rec.got);
}

typedef struct fault_call {
    cw__faults *f;
    cw_node_id from, to;
    cw_msg *m;      /* to route (else: release the hold on from -> to) */
    int rc;
} fault_call;

static void *route_one(void *p)
{
    fault_call *c = p;
    cw__faults_route(c->f, 1, (cw__route){.msg = c->m, .to = c->to}, true);
    return NULL;
}

/* A release needs no memory: the hold made its room. With every
 * allocation failing, a release onto a lane whose list already holds an
 * earlier release returns at once and waits for nothing, and the held
 * writes arrive in order after the earlier ones. A hold that cannot make
 * that room fails and holds nothing: the next route is delivered. (A
 * release used to push each route onto the lane's list, and waited for
 * memory when the list could not grow: in a node process, under the
 * server's lock, where the lane's thread needs that lock to take it.) */
static void test_a_release_needs_no_memory(void **state)
{
    (void)state;
    waiting_faults w;
    open_waiting(&w);
    cw__faults *f = &w.f;
    bool released;
    cw_msg *m[102];
    /* Lane 1's released list holds one release (of link 1 -> 3). */
    assert_int_equal(cw__faults_hold(f, 1, 3, true, 1, &released), CW_OK);
    m[100] = msg(1, 1);
    cw__faults_route(f, 1, (cw__route){.msg = m[100], .to = 3}, true);
    assert_int_equal(cw__faults_hold(f, 1, 3, false, 1, &released), CW_OK);
    assert_true(released);
    assert_int_equal(cw__faults_hold(f, 0, 3, true, 1, &released), CW_OK);
    for (uint64_t s = 0; s < 100; s++) {
        m[s] = msg(0, s + 1);
        cw__faults_route(f, 1, (cw__route){.msg = m[s], .to = 3}, true); /* held */
    }
    m[101] = msg(1, 2);
    assert_int_equal(w.rec.got.len, 0);
    tu_fail_realloc(1);
    tu_fail_alloc_after(0);
    alarm(20); /* the watchdog: a release (or a route) waiting for memory would never return */
    assert_int_equal(cw__faults_hold(f, 0, 3, false, 1, &released), CW_OK);
    assert_true(released);
    assert_int_equal(atomic_load(&w.waits), 0);
    /* A hold out of memory, of a link never held or of one held before:
     * refused, and the link stays open. */
    assert_int_equal(cw__faults_hold(f, 2, 3, true, 1, &released), CW_ENOMEM);
    assert_int_equal(cw__faults_hold(f, 1, 3, true, 1, &released), CW_ENOMEM);
    cw__faults_route(f, 1, (cw__route){.msg = m[101], .to = 3}, true);
    alarm(0);
    tu_fail_alloc_off();
    tu_fail_realloc(0);
    assert_int_equal(w.rec.got.len, 1);
    assert_ptr_equal(w.rec.got.r[0].msg, m[101]);
    assert_int_equal(cw__faults_parked(f), 101);
    assert_true(cw__faults_take_released(f, 1));
    assert_false(cw__faults_take_released(f, 1)); /* all of it, at once */
    assert_int_equal(w.rec.got.len, 102);
    assert_ptr_equal(w.rec.got.r[1].msg, m[100]);
    for (uint64_t s = 0; s < 100; s++)
        assert_ptr_equal(w.rec.got.r[s + 2].msg, m[s]);
    assert_int_equal(cw__faults_injected(f), 101);
    close_waiting(&w, m, 102);
}

/* A route a held link keeps while memory lacks waits for memory without
 * the fault layer's lock: the host's calls go on meanwhile (a release here,
 * which used to wait on that lock for as long as memory lacked), and the
 * route, no longer held, is delivered at once. */
static void test_a_held_route_waits_for_memory_without_a_lock(void **state)
{
    (void)state;
    waiting_faults w;
    open_waiting(&w);
    cw__faults *f = &w.f;
    bool released;
    assert_int_equal(cw__faults_hold(f, 0, 3, true, 0, &released), CW_OK);
    cw_msg *m[65];
    for (uint64_t s = 0; s < 65; s++)
        m[s] = msg(0, s + 1);
    for (uint64_t s = 0; s < 64; s++) /* the hold's queue: full at 64 */
        cw__faults_route(f, 0, (cw__route){.msg = m[s], .to = 3}, true);
    assert_int_equal(cw__faults_parked(f), 64);
    fault_call c = {.f = f, .to = 3, .m = m[64]};
    start_waiting(&w, route_one, &c);
    alarm(20); /* the watchdog: a release waiting on the lock would never return */
    assert_int_equal(cw__faults_hold(f, 0, 3, false, 0, &released), CW_OK);
    alarm(0);
    assert_true(released);
    end_waiting(&w);
    assert_int_equal(w.rec.got.len, 1); /* the waiting route, no longer held */
    assert_ptr_equal(w.rec.got.r[0].msg, m[64]);
    assert_int_equal(cw__faults_parked(f), 64); /* never kept */
    assert_true(cw__faults_take_released(f, 0));
    assert_int_equal(w.rec.got.len, 65);
    for (uint64_t s = 0; s < 64; s++)
        assert_ptr_equal(w.rec.got.r[s + 1].msg, m[s]);
    close_waiting(&w, m, 65);
}

/* A host whose replicas recover losses (lose_unkept: a node process,
 * which routes under its own lock) does not wait for memory to keep a held
 * route: the route is lost, counted as a cut's loss, and the hold keeps
 * what it had. */
static void test_a_host_that_recovers_loses_what_a_hold_cannot_keep(void **state)
{
    (void)state;
    waiting_faults w;
    open_waiting(&w);
    cw__faults *f = &w.f;
    f->lose_unkept = true;
    bool released;
    assert_int_equal(cw__faults_hold(f, 0, 3, true, 0, &released), CW_OK);
    cw_msg *m[65];
    for (uint64_t s = 0; s < 65; s++)
        m[s] = msg(0, s + 1);
    for (uint64_t s = 0; s < 64; s++) /* the hold's queue: full at 64 */
        cw__faults_route(f, 0, (cw__route){.msg = m[s], .to = 3}, true);
    tu_fail_realloc(1);
    alarm(20); /* the watchdog: a route waiting for memory would never return */
    cw__faults_route(f, 0, (cw__route){.msg = m[64], .to = 3}, true);
    alarm(0);
    tu_fail_realloc(0);
    assert_int_equal(atomic_load(&w.waits), 0);
    assert_int_equal(w.rec.got.len, 0);
    assert_int_equal(cw__faults_parked(f), 64);
    assert_int_equal(cw__faults_lost(f), 1);
    assert_int_equal(cw__faults_dropped(f), 1);
    assert_int_equal(cw__faults_hold(f, 0, 3, false, 0, &released), CW_OK);
    assert_true(cw__faults_take_released(f, 0));
    assert_int_equal(w.rec.got.len, 64);
    for (uint64_t s = 0; s < 64; s++)
        assert_ptr_equal(w.rec.got.r[s].msg, m[s]);
    close_waiting(&w, m, 65);
}

/* Whether routing r through f delivered it (rec counts deliveries). */
static bool delivered(cw__faults *f, record *rec, cw__route r)
{
    size_t before = rec->got.len;
    cw__faults_route(f, 0, r, true);
    return rec->got.len > before;
}

/* A cut link loses what crosses it: a write's first copy by its origin's
 * link; a retransmitted copy by the link from whoever sent it, when the
 * route names that sender (a node process's links know it), so a cut from
 * node 0 also stops copies node 0 sends in answer to a pull, and not those
 * another node relays; a copy whose sender is unknown had its cut decided
 * where it was sent (the engine's). Drop decides copies the same way. */
static void test_cut_decides_copies_by_their_sender(void **state)
{
    (void)state;
    record rec = {{0}};
    cw__faults f;
    cw__fault_options o = {.seed = 7};
    assert_int_equal(cw__faults_init(&f, &o, 1, record_delivery, &rec), CW_OK);
    assert_int_equal(cw__faults_cut(&f, 0, 3, true), CW_OK);
    cw_msg *w0 = msg(0, 1), *w1 = msg(1, 1), *c0 = NULL, *c1 = NULL;
    assert_int_equal(cw__msg_retransmission(&c0, w0, 3), CW_OK);
    assert_int_equal(cw__msg_retransmission(&c1, w1, 3), CW_OK);
    assert_false(delivered(&f, &rec, (cw__route){.msg = w0, .to = 3})); /* the first copy, by its origin */
    assert_true(delivered(&f, &rec, (cw__route){.msg = w1, .to = 3}));
    assert_true(delivered(&f, &rec, (cw__route){.msg = c0, .to = 3}));  /* sender unknown: decided where sent */
    assert_false(delivered(&f, &rec, (cw__route){.msg = c0, .to = 3, .sender_known = true, .sender = 0}));  /* node 0 answers: cut */
    assert_true(delivered(&f, &rec, (cw__route){.msg = c0, .to = 3, .sender_known = true, .sender = 1}));   /* node 1 relays 0's write */
    assert_false(delivered(&f, &rec, (cw__route){.msg = c1, .to = 3, .sender_known = true, .sender = 0}));  /* 1's write, sent by node 0 */
    assert_true(delivered(&f, &rec, (cw__route){.msg = c1, .to = 3, .sender_known = true, .sender = 2}));
    assert_int_equal(cw__faults_cut(&f, 0, 3, false), CW_OK); /* healed */
    assert_true(delivered(&f, &rec, (cw__route){.msg = c0, .to = 3, .sender_known = true, .sender = 0}));
    cw__faults_destroy(&f);

    o.drop_probability = 1; /* every route drawn is lost */
    assert_int_equal(cw__faults_init(&f, &o, 1, record_delivery, &rec), CW_OK);
    assert_true(delivered(&f, &rec, (cw__route){.msg = c0, .to = 3})); /* dropped, if at all, where sent */
    assert_false(delivered(&f, &rec, (cw__route){.msg = c0, .to = 3, .sender_known = true, .sender = 1}));
    assert_false(delivered(&f, &rec, (cw__route){.msg = w1, .to = 3}));
    cw__faults_destroy(&f);
    cw__routes_release(&rec.got);
    cw_msg_unref(w0);
    cw_msg_unref(w1);
    cw_msg_unref(c0);
    cw_msg_unref(c1);
}

/* A peer that restarted without its state: the reports and pulls its old
 * process sent, still in the delay heap, are dropped; its writes and
 * everyone else's messages stay, and the heap stays in order. */
static void test_forget_reports_of_a_restarted_peer(void **state)
{
    (void)state;
    record rec = {{0}};
    cw__faults f;
    cw__fault_options o = {.seed = 9, .delay_probability = 1, .max_delay_us = 2000};
    assert_int_equal(cw__faults_init(&f, &o, 1, record_delivery, &rec), CW_OK);
    uint64_t applied[4] = {3, 1, 2, 0};
    cw_msg *kept[12], *gone[12];
    size_t nk = 0, ng = 0;
    for (int i = 0; i < 6; i++) {
        cw_msg *w = msg(2, (uint64_t)i + 1), *r2 = NULL, *p2 = NULL, *r1 = NULL;
        assert_int_equal(cw__msg_report(&r2, 4, 2, applied, 0), CW_OK);
        assert_int_equal(cw__msg_pull(&p2, 4, 2, 3, 0, 1, 2), CW_OK);
        assert_int_equal(cw__msg_report(&r1, 4, 1, applied, 0), CW_OK);
        cw_msg *all[4] = {w, r2, p2, r1};
        for (int k = 0; k < 4; k++)
            cw__faults_route(&f, 0, (cw__route){.msg = all[k], .to = 3}, true);
        kept[nk++] = w;
        kept[nk++] = r1;
        gone[ng++] = r2;
        gone[ng++] = p2;
    }
    assert_int_equal(rec.got.len, 0); /* every one delayed */
    assert_int_equal(cw__faults_dropped(&f), 0);
    assert_int_equal(cw__faults_forget_reports_of(&f, 0, 2), 12);
    assert_int_equal(cw__faults_dropped(&f), 12); /* lost, and counted as such */
    assert_int_equal(f.lane[0].dlen, 12);
    for (size_t i = 1; i < f.lane[0].dlen; i++) /* still a heap */
        assert_true(f.lane[0].delayed[(i - 1) / 2].due_ns <= f.lane[0].delayed[i].due_ns);
    for (size_t i = 0; i < ng; i++)
        assert_int_equal(refs(gone[i]), 1); /* only ours left */
    assert_int_equal(cw__faults_forget_reports_of(&f, 0, 2), 0);
    while (cw__faults_next_due(&f, 0))
        if (!cw__faults_release_due(&f, 0))
            sched_yield();
    assert_int_equal(rec.got.len, 12);
    for (size_t i = 0; i < rec.got.len; i++) {
        const cw_msg *m = rec.got.r[i].msg;
        assert_true(cw_msg_origin(m) != 2 || cw_msg_kind_of(m) == CW_MSG_WRITE);
    }
    cw__faults_destroy(&f);
    cw__routes_release(&rec.got);
    for (size_t i = 0; i < nk; i++)
        cw_msg_unref(kept[i]);
    for (size_t i = 0; i < ng; i++)
        cw_msg_unref(gone[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_handoff_keeps_order_between_threads),
        cmocka_unit_test(test_full_ring_keeps_the_rest_in_order),
        cmocka_unit_test(test_recovery_traffic_overtakes_a_backlog),
        cmocka_unit_test(test_take_recovery_takes_the_lane_alone),
        cmocka_unit_test(test_destroy_drops_what_is_in_flight),
        cmocka_unit_test(test_send_all_reaches_every_other_endpoint_once),
        cmocka_unit_test(test_take_batches_round_robin),
        cmocka_unit_test(test_park_loses_no_wake_up),
        cmocka_unit_test(test_fault_decisions_follow_the_seed),
        cmocka_unit_test(test_a_drop_drawn_first_decides_the_same),
        cmocka_unit_test(test_hold_keeps_order_until_released),
        cmocka_unit_test(test_releases_arrive_in_their_order),
        cmocka_unit_test_teardown(test_reserved_sends_need_no_memory, failures_off),
        cmocka_unit_test_teardown(test_room_in_the_rings_needs_no_memory, failures_off),
        cmocka_unit_test_teardown(test_room_in_the_rings_between_threads, failures_off),
        cmocka_unit_test_teardown(test_a_release_needs_no_memory, failures_off),
        cmocka_unit_test(test_a_held_route_waits_for_memory_without_a_lock),
        cmocka_unit_test_teardown(test_a_host_that_recovers_loses_what_a_hold_cannot_keep, failures_off),
        cmocka_unit_test(test_cut_decides_copies_by_their_sender),
        cmocka_unit_test(test_forget_reports_of_a_restarted_peer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
