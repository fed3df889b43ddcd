/* libcauseway-client (causeway/client.h) against a node server's client
 * endpoint (src/server/clients.c), in one process over ipc://: every call,
 * bytes carried exactly, contexts and siblings, errors the node gives, a
 * node that does not answer, and hostile requests on the raw socket. */
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "testutil.h"
#include "free_port.h"

#include <causeway/client.h>

#include "bytes.h"
#include "clients.h"
#include "now.h"
#include "proto.h"
#include "server.h"
#include "tsan.h"

typedef struct fixture {
    char dir[64], rep[128], cli[128];
    cw__server *s;
    cw__clients *cl;
    cw_client *c;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/cw-test-client-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->rep, sizeof f->rep, "ipc://%s/rep", f->dir);
    snprintf(f->cli, sizeof f->cli, "ipc://%s/cli", f->dir);
    cw__server_options o;
    cw__server_options_init(&o);
    o.listen = f->rep;
    o.max_value_len = 1000;
    char err[200];
    assert_int_equal(cw__server_start(&f->s, &o, err, sizeof err), CW_OK);
    assert_int_equal(cw__clients_start(&f->cl, f->s, f->cli, CW__CLIENTS_MAX_FRAME, NULL, err, sizeof err), CW_OK);
    assert_int_equal(cw_client_open(&f->c, f->cli, 2000), CW_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    cw_client_close(f->c);
    cw__clients_stop(f->cl);
    cw__server_stop(f->s);
    char p[200];
    snprintf(p, sizeof p, "%s/rep", f->dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/cli", f->dir);
    unlink(p);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* A DEALER on the node's client endpoint, for frames written by hand. */
static void *raw_client(const fixture *f, void *ctx)
{
    void *d = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0, rcvtimeo = 2000;
    zmq_setsockopt(d, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(d, ZMQ_RCVTIMEO, &rcvtimeo, sizeof rcvtimeo);
    assert_int_equal(zmq_connect(d, f->cli), 0);
    return d;
}

/* The writes the node has made, from its status. */
static uint64_t node_writes(const fixture *f)
{
    cw_client_status st;
    cw_client_status_init(&st);
    assert_int_equal(cw_client_get_status(f->c, &st), CW_OK);
    uint64_t w = st.writes;
    cw_client_status_destroy(&st);
    return w;
}

static void test_put_get_delete_round_trip(void **state)
{
    fixture *f = *state;
    const uint8_t key[] = {'k', 0, 0xff}, value[] = {0, 1, 2, 0xfe, 0};
    cw_vclock clock;
    cw_vclock_init(&clock);
    assert_int_equal(cw_client_put(f->c, key, sizeof key, value, sizeof value, NULL, &clock), CW_OK);
    assert_int_equal(cw_vclock_get(&clock, 0), 1);
    cw_read r;
    cw_read_init(&r);
    assert_int_equal(cw_client_get(f->c, key, sizeof key, &r), CW_OK);
    assert_int_equal(r.count, 1);
    assert_int_equal(r.versions[0].value_len, sizeof value);
    assert_memory_equal(r.versions[0].value, value, sizeof value);
    assert_int_equal(r.versions[0].origin, 0);
    assert_int_equal(r.versions[0].seq, 1);
    assert_int_equal(cw_vclock_compare(&r.versions[0].clock, &clock), CW_EQUAL);
    /* Two writes from the read's context are siblings; a third over both
     * replaces them. */
    cw_vclock ctx;
    cw_vclock_init(&ctx);
    assert_int_equal(cw_vclock_copy(&ctx, &r.context), CW_OK);
    assert_int_equal(cw_client_put(f->c, key, sizeof key, "a", 1, &ctx, NULL), CW_OK);
    assert_int_equal(cw_client_put(f->c, key, sizeof key, "b", 1, &ctx, NULL), CW_OK);
    assert_int_equal(cw_client_get(f->c, key, sizeof key, &r), CW_OK);
    assert_int_equal(r.count, 2);
    assert_int_equal(cw_client_delete(f->c, key, sizeof key, &r.context, &clock), CW_OK);
    assert_int_equal(cw_vclock_get(&clock, 0), 4);
    assert_int_equal(cw_client_get(f->c, key, sizeof key, &r), CW_ENOTFOUND);
    assert_int_equal(r.count, 0);
    /* An empty key and an empty value are values like any other. */
    assert_int_equal(cw_client_put(f->c, "", 0, "", 0, NULL, NULL), CW_OK);
    assert_int_equal(cw_client_get(f->c, "", 0, &r), CW_OK);
    assert_int_equal(r.count, 1);
    assert_int_equal(r.versions[0].value_len, 0);
    cw_read_destroy(&r);
    cw_vclock_destroy(&ctx);
    cw_vclock_destroy(&clock);
}

static void test_write_many_pipelines_a_batch(void **state)
{
    fixture *f = *state;
    enum { N = 500 };
    static cw_client_write w[N];
    static char keys[N][16];
    cw_vclock clocks[N];
    char big[1001];
    memset(big, 'v', sizeof big);
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof keys[i], "m%d", i % 50);
        cw_vclock_init(&clocks[i]);
        w[i] = (cw_client_write){.key = keys[i], .key_len = strlen(keys[i]), .value = "x", .value_len = 1,
                                 .tombstone = i % 10 == 9, .clock_out = &clocks[i]};
    }
    w[7].value = big; /* one write too large: its own error, the rest go on */
    w[7].value_len = sizeof big;
    assert_int_equal(cw_client_write_many(f->c, w, N), CW_OK);
    uint64_t seq = 0;
    for (int i = 0; i < N; i++) {
        if (i == 7) {
            assert_int_equal(w[i].result, CW_ELIMIT);
            continue;
        }
        assert_int_equal(w[i].result, CW_OK);
        /* Made in order: each write's seq is the next. */
        assert_int_equal(cw_vclock_get(&clocks[i], 0), ++seq);
    }
    for (int i = 0; i < N; i++)
        cw_vclock_destroy(&clocks[i]);
    /* More than one frame's worth (600 writes of 900 bytes: 540 KB): split
     * into frames the node takes, every write made. */
    enum { MANY = 600 };
    static char pad[900];
    memset(pad, 'p', sizeof pad);
    static cw_client_write mix[MANY];
    for (int i = 0; i < MANY; i++)
        mix[i] = (cw_client_write){.key = "s", .key_len = 1, .value = pad, .value_len = sizeof pad};
    assert_int_equal(cw_client_write_many(f->c, mix, MANY), CW_OK);
    for (int i = 0; i < MANY; i++)
        assert_int_equal(mix[i].result, CW_OK);
    assert_int_equal(node_writes(f), N - 1 + MANY);
    /* Nothing to send is an empty success; bad arguments change nothing. */
    assert_int_equal(cw_client_write_many(f->c, NULL, 0), CW_OK);
    cw_client_write bad = {.key = NULL, .key_len = 3};
    assert_int_equal(cw_client_write_many(f->c, &bad, 1), CW_EINVAL);
}

/* A call of more batches than a burst answers at once (150,000 writes:
 * 147 requests, all sent before any answer is read): every write is
 * answered. A node that queued at most 64 answers a client dropped about
 * half of them (the calls timed out on writes that were made). */
static void test_write_many_of_many_batches_loses_no_answer(void **state)
{
    fixture *f = *state;
    enum { N = 150000 };
    cw_client_write *w = calloc(N, sizeof *w);
    assert_non_null(w);
    static const char *keys[] = {"a", "b", "c", "d"};
    for (int i = 0; i < N; i++)
        w[i] = (cw_client_write){.key = keys[i % 4], .key_len = 1, .value = "x", .value_len = 1};
    assert_int_equal(cw_client_write_many(f->c, w, N), CW_OK);
    for (int i = 0; i < N; i++)
        if (w[i].result != CW_OK)
            fail_msg("write %d of %d: %s", i, N, cw_strerror(w[i].result));
    free(w);
}

/* A stand-in for a node: a ROUTER on a directory of its own, served by a
 * thread that answers `requests` requests, each with what answer() writes
 * into o (the k-th request's bytes given; false: stop). */
typedef bool (*fake_answer_fn)(void *ctx, int k, const uint8_t *req, size_t len, cw__out *o);
typedef struct fake_node {
    char dir[64], ep[128];
    void *ctx, *router;
    int requests;
    fake_answer_fn answer;
    void *answer_ctx;
    pthread_t th;
} fake_node;

static void *fake_node_main(void *arg)
{
    fake_node *f = arg;
    cw__out o = {NULL, 0, 0, false};
    for (int k = 0; k < f->requests; k++) {
        zmq_msg_t id, req;
        zmq_msg_init(&id);
        zmq_msg_init(&req);
        if (zmq_msg_recv(&id, f->router, 0) < 0 || zmq_msg_recv(&req, f->router, 0) < 0)
            break;
        o.len = 0;
        bool sent = f->answer(f->answer_ctx, k, zmq_msg_data(&req), zmq_msg_size(&req), &o) && !o.failed &&
                    zmq_msg_send(&id, f->router, ZMQ_SNDMORE) >= 0 && zmq_send(f->router, o.b, o.len, 0) >= 0;
        zmq_msg_close(&id);
        zmq_msg_close(&req);
        if (!sent)
            break;
    }
    free(o.b);
    return NULL;
}

/* Its ROUTER bound on a directory of its own; no thread yet. */
static void fake_node_bind(fake_node *f)
{
    snprintf(f->dir, sizeof f->dir, "/tmp/cw-test-client-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->ep, sizeof f->ep, "ipc://%s/node", f->dir);
    f->ctx = zmq_ctx_new();
    f->router = zmq_socket(f->ctx, ZMQ_ROUTER);
    assert_int_equal(zmq_bind(f->router, f->ep), 0);
}

static void fake_node_start(fake_node *f, int requests, fake_answer_fn answer, void *answer_ctx)
{
    fake_node_bind(f);
    f->requests = requests;
    f->answer = answer;
    f->answer_ctx = answer_ctx;
    assert_int_equal(pthread_create(&f->th, NULL, fake_node_main, f), 0);
}

/* Once it has answered its requests. */
static void fake_node_stop(fake_node *f)
{
    pthread_join(f->th, NULL);
    zmq_close(f->router);
    zmq_ctx_term(f->ctx);
    char path[160];
    snprintf(path, sizeof path, "%s/node", f->dir);
    unlink(path);
    rmdir(f->dir);
}

/* A node that serves batches slowly: each batch request answered
 * ANSWER_MS after the one before, every write made. */
enum { ANSWER_MS = 50 };

static bool answer_slowly(void *ctx, int k, const uint8_t *req, size_t len, cw__out *o)
{
    (void)k;
    nanosleep(&(struct timespec){0, ANSWER_MS * 1000000L}, NULL);
    uint32_t count = 0;
    cw__in in;
    if (cw__batch_open(req, len, &count, &in) != CW_OK)
        return false; /* not a batch: the call waits out its timeout, and the test fails there */
    cw__answer_head(o, CW__OP_BATCH, cw__load_be(req + 2, 8), CW_OK);
    cw__out_u32(o, count);
    for (uint32_t w = 0; w < count; w++) {
        cw__out_u32(o, 0);
        cw__out_clock(o, ctx);
    }
    return true;
}

/* A call that a node serves steadily, but for longer than the handle's
 * timeout (40 batch requests answered 50 ms apart, a 500 ms timeout):
 * each answer restarts the timeout, so every write is answered. When the
 * call sent every frame before it read an answer, the timeout ran from the
 * last frame sent, and the call ended after 10 answers. */
static void test_a_long_write_many_does_not_time_out(void **state)
{
    (void)state;
    enum { FRAMES = 40, N = FRAMES * 1024 };
    cw_vclock clock;
    cw_vclock_init(&clock);
    cw_vclock_set(&clock, 0, 1);
    fake_node f;
    fake_node_start(&f, FRAMES + 1, answer_slowly, &clock);
    cw_client *c;
    assert_int_equal(cw_client_open(&c, f.ep, 500), CW_OK);
    cw_client_write one = {.key = "w", .key_len = 1, .value = "x", .value_len = 1};
    assert_int_equal(cw_client_write_many(c, &one, 1), CW_OK); /* connected: the first answer came */
    cw_client_write *w = calloc(N, sizeof *w);
    assert_non_null(w);
    for (int i = 0; i < N; i++)
        w[i] = (cw_client_write){.key = "k", .key_len = 1, .value = "x", .value_len = 1};
    assert_int_equal(cw_client_write_many(c, w, N), CW_OK);
    for (int i = 0; i < N; i++)
        if (w[i].result != CW_OK)
            fail_msg("write %d of %d: %s", i, N, cw_strerror(w[i].result));
    free(w);
    fake_node_stop(&f);
    cw_client_close(c);
    cw_vclock_destroy(&clock);
}

/* A broken node: its k-th answer is a head (the request's op and id, a
 * status) and raw body bytes, the k-th of an array. */
typedef struct bad_answer {
    int32_t status;
    const uint8_t *body;
    size_t body_len;
} bad_answer;

static bool answer_badly(void *ctx, int k, const uint8_t *req, size_t len, cw__out *o)
{
    const bad_answer *a = (const bad_answer *)ctx + k;
    if (len < 10)
        return false;
    cw__answer_head(o, req[1], cw__load_be(req + 2, 8), a->status);
    cw__out_bytes(o, a->body, a->body_len);
    return true;
}

/* Answers a node cannot have sent are malformed answers (CW_EBADMSG), never
 * taken for what they claim: a status code error.h does not have (before,
 * handed to the caller as it came), a node id outside its group (before,
 * cut to 16 bits), a batch answer with bytes after its last result (a
 * misread answer: before, its results were taken), and a batch answer with
 * a status error.h does not have (before, dropped: the call timed out). */
static void test_a_broken_node_is_not_believed(void **state)
{
    (void)state;
    /* A status: node 70000 of 3, not joining, six counts, two empty clocks. */
    uint8_t status_body[4 + 4 + 1 + 48 + 4 + 4] = {0};
    cw__store_be(status_body, 70000, 4);
    cw__store_be(status_body + 4, 3, 4);
    /* A batch of two: each OK with an empty clock, then one byte more. */
    uint8_t batch_body[4 + 2 * (4 + 4) + 1] = {0};
    cw__store_be(batch_body, 2, 4);
    /* The same two results, whole: taken. */
    bad_answer answers[] = {
        {-12345, NULL, 0},
        {CW_OK, status_body, sizeof status_body},
        {CW_OK, batch_body, sizeof batch_body},
        {CW_OK, batch_body, sizeof batch_body - 1},
        {-12345, NULL, 0}, /* a batch's: its writes at once, not at the timeout */
    };
    fake_node f;
    fake_node_start(&f, 5, answer_badly, answers);
    cw_client *c;
    assert_int_equal(cw_client_open(&c, f.ep, 5000), CW_OK);
    assert_int_equal(cw_client_put(c, "k", 1, "v", 1, NULL, NULL), CW_EBADMSG);
    cw_client_status st;
    cw_client_status_init(&st);
    assert_int_equal(cw_client_get_status(c, &st), CW_EBADMSG);
    cw_client_status_destroy(&st);
    cw_client_write w[2] = {{"a", 1, "1", 1, false, NULL, NULL, 0}, {"b", 1, "2", 1, false, NULL, NULL, 0}};
    assert_int_equal(cw_client_write_many(c, w, 2), CW_OK);
    assert_int_equal(w[0].result, CW_EBADMSG);
    assert_int_equal(w[1].result, CW_EBADMSG);
    assert_int_equal(cw_client_write_many(c, w, 2), CW_OK);
    assert_int_equal(w[0].result, CW_OK);
    assert_int_equal(w[1].result, CW_OK);
    assert_int_equal(cw_client_write_many(c, w, 2), CW_OK);
    assert_int_equal(w[0].result, CW_EBADMSG);
    assert_int_equal(w[1].result, CW_EBADMSG);
    fake_node_stop(&f);
    cw_client_close(c);
}

/* The bytes this process has allocated and not freed (libzmq's too). */
#if CW_TSAN || defined(__SANITIZE_ADDRESS__)
size_t __sanitizer_get_current_allocated_bytes(void); /* sanitizer/allocator_interface.h */
static size_t allocated_bytes(void) { return __sanitizer_get_current_allocated_bytes(); }
#else
static size_t allocated_bytes(void)
{
    struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd;
}
#endif

/* A node that answers a get with one version of ctx's 32 MiB value. */
enum { LARGE_VALUE = 32 << 20 };

static bool answer_large_get(void *ctx, int k, const uint8_t *req, size_t len, cw__out *o)
{
    (void)k;
    if (len < 10)
        return false;
    cw_read r;
    cw_read_init(&r);
    cw_value_version v = {.value = ctx, .value_len = LARGE_VALUE, .origin = 0, .seq = 1};
    cw_vclock_init(&v.clock);
    cw_vclock_init(&v.context);
    r.count = 1;
    r.versions = &v;
    cw__answer_head(o, CW__OP_GET, cw__load_be(req + 2, 8), CW_OK);
    cw__answer_read(o, &r);
    return true;
}

/* A call lets go of its answer before it returns: an answer can be
 * CW_CLIENT_MAX_ANSWER bytes, copied out by then. Before, a handle held
 * its last answer until its next call or its close, so a get of a 200 MB
 * value kept 200 MB in the handle after the caller had freed the read. */
static void test_an_answer_is_not_held_after_its_call(void **state)
{
    (void)state;
    char *value = malloc(LARGE_VALUE);
    assert_non_null(value);
    memset(value, 'v', LARGE_VALUE);
    fake_node f;
    fake_node_start(&f, 1, answer_large_get, value);
    cw_client *c;
    assert_int_equal(cw_client_open(&c, f.ep, 30000), CW_OK);
    size_t before = allocated_bytes();
    cw_read r;
    cw_read_init(&r);
    assert_int_equal(cw_client_get(c, "k", 1, &r), CW_OK);
    assert_int_equal(r.count, 1);
    assert_int_equal(r.versions[0].value_len, LARGE_VALUE);
    cw_read_destroy(&r);
    fake_node_stop(&f); /* its answer's bytes freed too */
    size_t after = allocated_bytes();
    if (after > before && after - before > LARGE_VALUE / 4)
        fail_msg("%zu bytes still held after the get", after - before);
    cw_client_close(c);
    free(value);
}

/* A node that misbehaves in turn (hostile_main): request k's routing id
 * (the connection it came on) is kept in ids[k]. */
enum { HOSTILE_CALLS = 3 };
typedef struct hostile {
    fake_node f;
    uint8_t ids[HOSTILE_CALLS][8];
    size_t id_len[HOSTILE_CALLS];
} hostile;

/* Sends, to the connection `id`, one frame: an answer's head (op, answer
 * id, status) and body bytes; with `more`, a second part after it. */
static void send_frame(void *router, zmq_msg_t *id, uint8_t op, uint64_t answer_id, int32_t status,
                       const cw_vclock *clock, bool more)
{
    cw__out o = {NULL, 0, 0, false};
    cw__answer_head(&o, op, answer_id, status);
    if (clock)
        cw__out_clock(&o, clock);
    zmq_msg_t copy;
    zmq_msg_init(&copy);
    zmq_msg_copy(&copy, id);
    assert_true(zmq_msg_send(&copy, router, ZMQ_SNDMORE) >= 0);
    assert_true(zmq_send(router, o.b, o.len, more ? ZMQ_SNDMORE : 0) >= 0);
    if (more)
        assert_true(zmq_send(router, "tail", 4, 0) >= 0);
    free(o.b);
}

/* Request 0: no answer. Request 1: request 0's answer, late and with a
 * status this library does not know; a frame that is no answer; this
 * put's answer as a message of two parts; then its answer. Request 2: its
 * answer. */
static void *hostile_main(void *arg)
{
    hostile *h = arg;
    void *r = h->f.router;
    cw_vclock clock;
    cw_vclock_init(&clock);
    cw_vclock_set(&clock, 0, 1);
    uint64_t first = 0;
    for (int k = 0; k < HOSTILE_CALLS; k++) {
        zmq_msg_t id, req;
        zmq_msg_init(&id);
        zmq_msg_init(&req);
        if (zmq_msg_recv(&id, r, 0) < 0 || zmq_msg_recv(&req, r, 0) < 0 || zmq_msg_size(&req) < 10 ||
            zmq_msg_size(&id) > sizeof h->ids[k])
            break;
        h->id_len[k] = zmq_msg_size(&id);
        memcpy(h->ids[k], zmq_msg_data(&id), h->id_len[k]);
        const uint8_t *q = zmq_msg_data(&req);
        uint64_t rid = cw__load_be(q + 2, 8);
        if (k == 0)
            first = rid;
        if (k == 1) {
            send_frame(r, &id, q[1], first, -12345, NULL, false);
            zmq_msg_t copy;
            zmq_msg_init(&copy);
            zmq_msg_copy(&copy, &id);
            zmq_msg_send(&copy, r, ZMQ_SNDMORE);
            zmq_send(r, "junk", 4, 0);
            send_frame(r, &id, q[1], rid, CW_OK, &clock, true);
        }
        if (k >= 1)
            send_frame(r, &id, q[1], rid, CW_OK, &clock, false);
        zmq_msg_close(&id);
        zmq_msg_close(&req);
    }
    cw_vclock_destroy(&clock);
    return NULL;
}

/* What arrives and is no answer of the call's is dropped, not taken for
 * its answer: a late answer to a call that timed out, even with a status
 * this library does not know (before, CW_EBADMSG for the call after it),
 * a frame that is not an answer, a message of several parts (before,
 * CW_EBADMSG, and its tail failed the next call too). The handle keeps its
 * one connection after a timeout: a request that timed out is never made
 * after a later call's. */
static void test_frames_that_are_not_the_answer_are_dropped(void **state)
{
    (void)state;
    hostile h;
    memset(&h, 0, sizeof h);
    fake_node *f = &h.f;
    fake_node_bind(f);
    assert_int_equal(pthread_create(&f->th, NULL, hostile_main, &h), 0);
    cw_client *c;
    assert_int_equal(cw_client_open(&c, f->ep, 500), CW_OK);
    cw_vclock clock;
    cw_vclock_init(&clock);
    assert_int_equal(cw_client_put(c, "k", 1, "v", 1, NULL, &clock), CW_ETIMEDOUT);
    assert_int_equal(cw_client_put(c, "k", 1, "v", 1, NULL, &clock), CW_OK);
    tu_assert_clock(&clock, "0:1");
    cw_vclock_clear(&clock);
    assert_int_equal(cw_client_put(c, "k", 1, "v", 1, NULL, &clock), CW_OK); /* nothing left over */
    tu_assert_clock(&clock, "0:1");
    cw_vclock_destroy(&clock);
    fake_node_stop(f); /* joins its thread: h.ids are read after */
    cw_client_close(c);
    for (int k = 1; k < HOSTILE_CALLS; k++) /* one connection */
        assert_memory_equal(h.ids[k], h.ids[0], h.id_len[0]);
}

/* Out of memory while reading an answer's clock is CW_ENOMEM, not a
 * malformed answer (CW_EBADMSG, before: the caller was told the node had
 * sent bytes that do not decode, when its write had been made). */
static void test_no_memory_for_an_answer_is_not_a_bad_answer(void **state)
{
    (void)state;
    cw_vclock clock;
    cw_vclock_init(&clock);
    cw_vclock_set(&clock, 0, 7);
    cw__out o = {NULL, 0, 0, false};
    cw__out_u32(&o, 0);   /* node 0 */
    cw__out_u32(&o, 3);   /* of 3 */
    cw__out_u8(&o, 0);    /* not joining */
    for (int i = 0; i < 6; i++)
        cw__out_u64(&o, (uint64_t)i);
    cw__out_clock(&o, &clock);
    cw__out_clock(&o, &clock);
    assert_false(o.failed);
    cw_client_status st;
    cw_client_status_init(&st);
    cw__in in = {o.b, o.len, 0};
    tu_fail_alloc_after(0);
    int rc = cw__answer_take_status(&in, &st);
    tu_fail_alloc_off();
    assert_int_equal(rc, CW_ENOMEM);
    in.pos = 0;
    assert_int_equal(cw__answer_take_status(&in, &st), CW_OK);
    tu_assert_clock(&st.stable, "0:7");
    cw_client_status_destroy(&st);
    cw_vclock_destroy(&clock);
    free(o.b);
}

/* The node reading a request whose context it has no memory for answers
 * CW_ENOMEM, not CW_EBADMSG: the request was good, and the client may send
 * it again. A batch is read whole before any write of it is made
 * (clients.c), so such a batch makes none. */
static void test_no_memory_for_a_request_is_not_a_bad_request(void **state)
{
    (void)state;
    cw_vclock ctx;
    cw_vclock_init(&ctx);
    cw_vclock_set(&ctx, 0, 7);
    cw_vclock_set(&ctx, 2, 3);
    cw__out put = {NULL, 0, 0, false}, batch = {NULL, 0, 0, false};
    assert_int_equal(cw__request_encode(&put, CW__OP_PUT, 9, "k", 1, "v", 1, &ctx), CW_OK);
    cw__batch_begin(&batch, 10);
    cw__batch_add(&batch, false, "a", 1, "1", 1, NULL);
    cw__batch_add(&batch, true, "b", 1, NULL, 0, &ctx);
    assert_int_equal(cw__batch_end(&batch, 2), CW_OK);
    int short_of_memory = 0;
    for (long k = 0;; k++) {
        cw__request r;
        tu_fail_alloc_after(k);
        int rc = cw__request_decode(&r, put.b, put.len);
        tu_fail_alloc_off();
        assert_true(rc == CW_OK || rc == CW_ENOMEM);
        if (rc == CW_OK) {
            assert_true(r.has_context);
            assert_int_equal(cw_vclock_compare(&r.context, &ctx), CW_EQUAL);
        }
        cw__request_destroy(&r);
        if (rc == CW_OK)
            break;
        short_of_memory++;
    }
    for (long k = 0;; k++) {
        cw__request r;
        uint32_t count;
        cw__in in;
        assert_int_equal(cw__request_decode(&r, batch.b, batch.len), CW_OK);
        cw__request_destroy(&r);
        assert_int_equal(cw__batch_open(batch.b, batch.len, &count, &in), CW_OK);
        assert_int_equal(count, 2);
        assert_int_equal(cw__batch_next(&in, &r), CW_OK); /* no context: nothing to allocate */
        cw__request_destroy(&r);
        tu_fail_alloc_after(k);
        int rc = cw__batch_next(&in, &r);
        tu_fail_alloc_off();
        assert_true(rc == CW_OK || rc == CW_ENOMEM);
        if (rc == CW_OK) {
            assert_int_equal(r.op, CW__OP_DELETE);
            assert_int_equal(cw_vclock_compare(&r.context, &ctx), CW_EQUAL);
        }
        cw__request_destroy(&r);
        if (rc == CW_OK)
            break;
        short_of_memory++;
    }
    assert_true(short_of_memory >= 2); /* each context's decode did run short */
    /* The room the node reserves for a clock is what a full one encodes to. */
    cw_vclock full;
    cw_vclock_init(&full);
    for (cw_node_id i = 0; i < 5; i++)
        assert_int_equal(cw_vclock_set(&full, i, UINT64_MAX - i), CW_OK);
    assert_int_equal(cw__clock_room(5), cw_vclock_encoded_size(&full));
    cw_vclock_destroy(&full);
    free(put.b);
    free(batch.b);
    cw_vclock_destroy(&ctx);
}

/* Sends one raw request frame; the status of its answer, and its op and
 * id (both nullable). */
static int raw_status_of(void *d, const cw__out *o, uint8_t *op_out, uint64_t *id_out)
{
    assert_true(zmq_send(d, o->b, o->len, 0) >= 0);
    uint8_t ans[256];
    assert_true(zmq_recv(d, ans, sizeof ans, 0) >= 14);
    cw__in in = {ans, 14, 0};
    uint8_t op;
    uint64_t id;
    int status;
    assert_int_equal(cw__answer_take_head(&in, &op, &id, &status), CW_OK);
    if (op_out)
        *op_out = op;
    if (id_out)
        *id_out = id;
    return status;
}

static int raw_status(void *d, const cw__out *o) { return raw_status_of(d, o, NULL, NULL); }

/* A batch request with one malformed write is refused whole: no write of it
 * is made (the node reads the batch through before it makes any). */
static void test_malformed_batch_changes_nothing(void **state)
{
    fixture *f = *state;
    void *ctx = zmq_ctx_new();
    void *d = raw_client(f, ctx);
    cw__out o = {NULL, 0, 0, false};
    cw__batch_begin(&o, 77);
    cw__batch_add(&o, false, "a", 1, "1", 1, NULL);
    cw__batch_add(&o, false, "b", 1, "2", 1, NULL);
    assert_int_equal(cw__batch_end(&o, 2), CW_OK);
    size_t second = 14 + 1 + 4 + 1 + 4 + 1 + 1; /* head, then the first write */
    o.b[second] = 9;                             /* the second write's op: not a write */
    uint8_t op;
    uint64_t id;
    assert_int_equal(raw_status_of(d, &o, &op, &id), CW_EBADMSG);
    assert_int_equal(op, CW__OP_BATCH);
    assert_int_equal(id, 77);
    /* A count above the limit, and a count that says more than is there. */
    assert_int_equal(cw__batch_end(&o, CW__BATCH_MAX + 1), CW_OK);
    o.b[second] = CW__OP_PUT;
    raw_status(d, &o);
    assert_int_equal(cw__batch_end(&o, 3), CW_OK);
    raw_status(d, &o);
    free(o.b);
    zmq_close(d);
    zmq_ctx_term(ctx);
    assert_int_equal(node_writes(f), 0);
}

/* A node that cannot grow its answer while it serves a batch (every
 * realloc failing) still answers it whole: each write has the room for its
 * status and clock before it is made, so a write is either reported made
 * with its clock or CW_ENOMEM and not made. (The node once made them all and
 * sent an answer cut short, which the client read as CW_EBADMSG for every
 * write: made or not, unknown.) A batch that claims more writes than its
 * bytes can hold is malformed before anything is sized by its count. */
static void test_a_batch_answer_has_room_before_its_writes(void **state)
{
    fixture *f = *state;
    void *ctx = zmq_ctx_new();
    void *d = raw_client(f, ctx);
    /* A batch of 100 first, with memory: the node's arrays grow for such
     * writes, and its answer buffer to 2 KiB (an answer of 1,818 bytes).
     * Then 150, with no buffer able to grow: room for the head and 150
     * statuses, not for 150 clocks too. */
    enum { WARM = 100, N = 150 };
    cw__out o = {NULL, 0, 0, false};
    cw__batch_begin(&o, 77);
    for (int i = 0; i < WARM; i++)
        cw__batch_add(&o, false, "key", 3, "value", 5, NULL);
    assert_int_equal(cw__batch_end(&o, WARM), CW_OK);
    assert_int_equal(raw_status(d, &o), CW_OK);
    cw__batch_begin(&o, 78);
    for (int i = 0; i < N; i++)
        cw__batch_add(&o, false, "key", 3, "value", 5, NULL);
    assert_int_equal(cw__batch_end(&o, N), CW_OK);
    uint64_t before = node_writes(f);
    tu_fail_realloc(1);
    assert_true(zmq_send(d, o.b, o.len, 0) >= 0); /* libzmq's own allocations are not this one's */
    zmq_msg_t a;
    zmq_msg_init(&a);
    int got = zmq_msg_recv(&a, d, 0);
    tu_fail_realloc(0);
    assert_true(got >= 14);
    cw__in in = {zmq_msg_data(&a), zmq_msg_size(&a), 0};
    uint8_t op;
    uint64_t id;
    int status;
    assert_int_equal(cw__answer_take_head(&in, &op, &id, &status), CW_OK);
    assert_int_equal(id, 78);
    assert_int_equal(status, CW_OK);
    uint32_t count;
    assert_true(cw__in_u32(&in, &count));
    assert_int_equal(count, N);
    uint64_t made = 0, refused = 0;
    cw_vclock clock;
    cw_vclock_init(&clock);
    for (uint32_t i = 0; i < count; i++) {
        uint32_t rc;
        assert_true(cw__in_u32(&in, &rc));
        if ((int32_t)rc == CW_OK) {
            assert_int_equal(cw__in_clock(&in, &clock), CW_OK);
            made++;
        } else {
            assert_int_equal((int32_t)rc, CW_ENOMEM);
            refused++;
        }
    }
    assert_int_equal(in.pos, in.len);
    zmq_msg_close(&a);
    print_message("# %llu made, %llu refused\n", (unsigned long long)made, (unsigned long long)refused);
    assert_true(made > 0 && refused > 0);            /* the answer did run out of room */
    assert_int_equal(node_writes(f), before + made); /* and only the writes reported made were made */
    /* 3 writes claimed in the bytes of 2. */
    o.len = 14 + 2 * 10;
    assert_int_equal(cw__batch_end(&o, 3), CW_OK);
    uint32_t n;
    assert_int_equal(cw__batch_open(o.b, o.len, &n, &in), CW_EBADMSG);
    assert_int_equal(cw__batch_end(&o, 2), CW_OK);
    assert_int_equal(cw__batch_open(o.b, o.len, &n, &in), CW_OK);
    cw_vclock_destroy(&clock);
    free(o.b);
    zmq_close(d);
    zmq_ctx_term(ctx);
}

/* A delete that carries a value is malformed (CW_EBADMSG), alone or in a
 * batch, and makes nothing: the node once made it a delete and dropped the
 * value without a word. */
static void test_delete_with_a_value_is_refused(void **state)
{
    fixture *f = *state;
    void *ctx = zmq_ctx_new();
    void *d = raw_client(f, ctx);
    cw__out o = {NULL, 0, 0, false};
    assert_int_equal(cw__request_encode(&o, CW__OP_DELETE, 5, "a", 1, "v", 1, NULL), CW_OK);
    assert_int_equal(raw_status(d, &o), CW_EBADMSG);
    o.len = 0;
    assert_int_equal(cw__request_encode(&o, CW__OP_DELETE, 6, "a", 1, NULL, 0, NULL), CW_OK);
    assert_int_equal(raw_status(d, &o), CW_OK); /* the same delete without it is one */
    cw__batch_begin(&o, 7);
    cw__batch_add(&o, false, "b", 1, "2", 1, NULL);
    cw__out_u8(&o, CW__OP_DELETE); /* by hand: cw__batch_add never writes a delete's value */
    cw__out_blob(&o, "b", 1);
    cw__out_blob(&o, "v", 1);
    cw__out_u8(&o, 0);
    assert_int_equal(cw__batch_end(&o, 2), CW_OK);
    assert_int_equal(raw_status(d, &o), CW_EBADMSG);
    free(o.b);
    zmq_close(d);
    zmq_ctx_term(ctx);
    assert_int_equal(node_writes(f), 1);
}

/* --client-allow: the endpoint takes connections only from the addresses
 * it lists. One that lists 10.0.0.0/8 refuses this process (127.0.0.1) at
 * the handshake, so its calls time out and nothing is made, and counts the
 * refusals; one that lists 127.0.0.1 serves it, and so does one on IPv6
 * that lists ::1. */
static void test_client_allow_refuses_other_addresses(void **state)
{
    fixture *f = *state;
    const char *lists[3] = {"10.0.0.0/8", "127.0.0.1", "::1"};
    const char *hosts[3] = {"127.0.0.1", "127.0.0.1", "[::1]"};
    for (int i = 0; i < 3; i++) {
        bool admitted = i > 0;
        cw__allow allow;
        char err[200], ep[64], key[16];
        assert_int_equal(cw__allow_parse(&allow, lists[i], err, sizeof err), CW_OK);
        snprintf(key, sizeof key, "allowed%d", i);
        cw__clients *cl;
        cw_client *c;
        int rc = CW_EIO;
        for (int t = 0; t < TU_PORT_TRIES && rc != CW_OK; t++) {
            snprintf(ep, sizeof ep, "tcp://%s:%u", hosts[i], tu_free_port());
            err[0] = '\0';
            rc = cw__clients_start(&cl, f->s, ep, CW__CLIENTS_MAX_FRAME, &allow, err, sizeof err);
            if (rc != CW_OK && !tu_in_use(err))
                fail_msg("clients on %s: %s (%s)", ep, cw_strerror(rc), err);
        }
        assert_int_equal(rc, CW_OK);
        assert_int_equal(cw_client_open(&c, ep, admitted ? 5000 : 500), CW_OK);
        assert_int_equal(cw_client_put(c, key, strlen(key), "1", 1, NULL, NULL), admitted ? CW_OK : CW_ETIMEDOUT);
        if (admitted)
            assert_int_equal(cw__clients_refused(cl), 0);
        else
            assert_true(cw__clients_refused(cl) > 0);
        cw_client_close(c);
        cw__clients_stop(cl);
        cw_read r;
        cw_read_init(&r);
        assert_int_equal(cw__server_read(f->s, key, strlen(key), &r), admitted ? CW_OK : CW_ENOTFOUND);
        cw_read_destroy(&r);
    }
}

static void test_node_errors_come_back(void **state)
{
    fixture *f = *state;
    char big[1001];
    memset(big, 'v', sizeof big);
    assert_int_equal(cw_client_put(f->c, "k", 1, big, sizeof big, NULL, NULL), CW_ELIMIT);
    cw_vclock ahead;
    cw_vclock_init(&ahead);
    cw_vclock_set(&ahead, 0, 99); /* a context this node will never reach */
    assert_int_equal(cw_client_put(f->c, "k", 1, "v", 1, &ahead, NULL), CW_EAHEAD);
    cw_vclock_clear(&ahead);
    cw_vclock_set(&ahead, 7, 1); /* an id outside the group */
    assert_int_equal(cw_client_put(f->c, "k", 1, "v", 1, &ahead, NULL), CW_EINVAL);
    for (uint32_t id = 1; id < CW_VCLOCK_MAX_ENTRIES; id++) /* about as wide as a clock can be: answered, not dropped */
        cw_vclock_set(&ahead, (cw_node_id)id, 1);
    assert_int_equal(cw_client_put(f->c, "k", 1, "v", 1, &ahead, NULL), CW_EINVAL);
    cw_vclock_destroy(&ahead);
    cw_client_status st;
    cw_client_status_init(&st);
    assert_int_equal(cw_client_get_status(f->c, &st), CW_OK);
    assert_int_equal(st.node, 0);
    assert_int_equal(st.nodes, 1);
    assert_false(st.joining);
    assert_int_equal(st.writes, 0); /* the refused writes made nothing */
    cw_client_status_destroy(&st);
    assert_int_equal(cw_client_put(NULL, "k", 1, "v", 1, NULL, NULL), CW_EINVAL);
    assert_int_equal(cw_client_get(f->c, NULL, 3, NULL), CW_EINVAL);
    /* Larger than any node takes: the node's socket would drop the request
     * unanswered, so the client says so at once instead of timing out. */
    size_t huge = CW__CLIENTS_MAX_FRAME + 1; /* what the node's socket takes, and one byte */
    char *v = calloc(1, huge), key[CW_NODE_DEFAULT_MAX_KEY_LEN + 1];
    assert_non_null(v);
    memset(key, 'k', sizeof key);
    assert_int_equal(cw_client_put(f->c, "k", 1, v, huge, NULL, NULL), CW_ELIMIT);
    assert_int_equal(cw_client_delete(f->c, key, sizeof key, NULL, NULL), CW_ELIMIT);
    cw_read r;
    cw_read_init(&r);
    assert_int_equal(cw_client_get(f->c, key, sizeof key, &r), CW_ELIMIT);
    cw_read_destroy(&r);
    /* In a batch such a write gets its own CW_ELIMIT, unsent, and the
     * writes around it are made, in order. */
    cw_client_write w[5] = {
        {"a", 1, "v", 1, false, NULL, NULL, 0},   {"b", 1, v, huge, false, NULL, NULL, 0},
        {"c", 1, "v", 1, false, NULL, NULL, 0},   {key, sizeof key, NULL, 0, true, NULL, NULL, 0},
        {key, sizeof key, "v", 1, false, NULL, NULL, 0},
    };
    assert_int_equal(cw_client_write_many(f->c, w, 5), CW_OK);
    int want[5] = {CW_OK, CW_ELIMIT, CW_OK, CW_ELIMIT, CW_ELIMIT};
    for (int i = 0; i < 5; i++)
        assert_int_equal(w[i].result, want[i]);
    free(v);
    cw_client_status_init(&st);
    assert_int_equal(cw_client_get_status(f->c, &st), CW_OK);
    assert_int_equal(st.writes, 2);
    cw_client_status_destroy(&st);
    assert_int_equal(cw_client_put(f->c, "k", 1, "v", 1, NULL, NULL), CW_OK); /* the connection serves on */
}

static void test_no_node_times_out(void **state)
{
    fixture *f = *state;
    char ep[200];
    snprintf(ep, sizeof ep, "ipc://%s/nobody", f->dir);
    cw_client *c;
    assert_int_equal(cw_client_open(&c, ep, 100), CW_OK);
    assert_int_equal(cw_client_put(c, "k", 1, "v", 1, NULL, NULL), CW_ETIMEDOUT);
    cw_client_close(c);
    /* Many calls to a node that is away: each gives up at its deadline;
     * none waits on a queue (a queue of 1,000 requests once blocked the
     * 1,000th call for good). */
    assert_int_equal(cw_client_open(&c, ep, 1), CW_OK);
    for (int i = 0; i < 1500; i++)
        assert_int_equal(cw_client_put(c, "k", 1, "v", 1, NULL, NULL), CW_ETIMEDOUT);
    cw_client_write w[3] = {{.key = "a", .key_len = 1}, {.key = "b", .key_len = 1}, {.key = "c", .key_len = 1}};
    assert_int_equal(cw_client_write_many(c, w, 3), CW_ETIMEDOUT);
    for (int i = 0; i < 3; i++)
        assert_int_equal(w[i].result, CW_ETIMEDOUT);
    cw_client_close(c);
    assert_int_equal(cw_client_open(&c, "nonsense://x", 100), CW_EIO);
    assert_int_equal(cw_client_open(&c, "", 100), CW_EINVAL);
    cw_client_status_init(NULL); /* ignored, as cw_client_status_destroy(NULL) */
    cw_client_status_destroy(NULL);
}

/* A tcp:// endpoint whose port is not 1 to 65535 in digits is malformed
 * (CW_EIO), where ZeroMQ would take it: it reads the port with atoi and
 * keeps 16 bits, so tcp://127.0.0.1:99999 connected to port 34463, another
 * service, and a typo's trailing letter was dropped. */
static void test_an_endpoint_port_is_a_port(void **state)
{
    (void)state;
    const char *bad[] = {"tcp://127.0.0.1:99999", "tcp://127.0.0.1:65536", "tcp://127.0.0.1:7201x",
                         "tcp://127.0.0.1:0",     "tcp://127.0.0.1:+7201", "tcp://127.0.0.1: 7201",
                         "tcp://127.0.0.1:",      "tcp://127.0.0.1",       "tcp://[::1]:99999",
                         "tcp://127.0.0.1:000007201"};
    const char *good[] = {"tcp://127.0.0.1:7201", "tcp://127.0.0.1:65535", "tcp://[::1]:1", "tcp://localhost:07201",
                          "ipc:///tmp/cw-test-client-port"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cw_client *c = NULL;
        if (cw_client_open(&c, bad[i], 100) != CW_EIO)
            fail_msg("%s was taken", bad[i]);
        assert_null(c);
    }
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        cw_client *c = NULL;
        if (cw_client_open(&c, good[i], 100) != CW_OK)
            fail_msg("%s was refused", good[i]);
        cw_client_close(c);
    }
}

/* Raw frames on the client socket: every one gets an answer or nothing, the
 * node keeps serving, and nothing is written. */
static void test_hostile_requests(void **state)
{
    fixture *f = *state;
    void *ctx = zmq_ctx_new();
    void *d = raw_client(f, ctx);
    uint8_t frame[64];
    for (int i = 0; i < 300; i++) {
        size_t len = (size_t)tu_below(sizeof frame);
        for (size_t k = 0; k < len; k++)
            frame[k] = (uint8_t)tu_rand();
        if (len > 1 && i % 3 == 0)
            frame[0] = 1; /* the right version, so the rest is parsed */
        assert_true(zmq_send(d, frame, len, 0) >= 0);
        uint8_t ans[256];
        int n = zmq_recv(d, ans, sizeof ans, 0);
        TU_CHECK(n >= 14); /* a head: version, op, id, status */
        int32_t status = (int32_t)((uint32_t)ans[10] << 24 | (uint32_t)ans[11] << 16 | (uint32_t)ans[12] << 8 | ans[13]);
        TU_CHECK(status < 0 || (status == 0 && len > 1 && (frame[1] == 3 || frame[1] == 4)));
    }
    zmq_close(d);
    zmq_ctx_term(ctx);
    assert_int_equal(node_writes(f), 0);
}

/* The status of the answer to frame (len bytes; with a second frame of one
 * byte after it when two_frames), sent raw on d; the answer must name the
 * request's id, a single byte here. */
static int32_t raw_answer(void *d, const uint8_t *frame, size_t len, bool two_frames)
{
    assert_true(zmq_send(d, frame, len, two_frames ? ZMQ_SNDMORE : 0) >= 0);
    if (two_frames)
        assert_true(zmq_send(d, "x", 1, 0) >= 0);
    uint8_t ans[256];
    int n = zmq_recv(d, ans, sizeof ans, 0);
    assert_true(n >= 14);
    assert_int_equal(ans[9], frame[9]);
    return (int32_t)((uint32_t)ans[10] << 24 | (uint32_t)ans[11] << 16 | (uint32_t)ans[12] << 8 | ans[13]);
}

/* A get of a key longer than the node's limit, sent raw (libcauseway-client
 * refuses it before sending): CW_ELIMIT, as a put or delete of it is, not
 * CW_ENOTFOUND. */
static void test_a_get_of_a_key_too_long_is_elimit(void **state)
{
    fixture *f = *state;
    void *ctx = zmq_ctx_new();
    void *d = raw_client(f, ctx);
    enum { KEY = 4097 };
    static uint8_t frame[10 + 4 + KEY + 4 + 1];
    frame[0] = 1; /* version */
    frame[1] = 3; /* get */
    memset(frame + 2, 0, 8);
    frame[9] = 7; /* id 7 */
    frame[10] = 0, frame[11] = 0, frame[12] = KEY >> 8, frame[13] = KEY & 0xff;
    memset(frame + 14, 'k', KEY);
    memset(frame + 14 + KEY, 0, 5); /* no value, no context */
    assert_int_equal(raw_answer(d, frame, sizeof frame, false), CW_ELIMIT);
    zmq_close(d);
    zmq_ctx_term(ctx);
}

/* Requests that carry what their op has no use for, or come in more than
 * one frame, are malformed (CW_EBADMSG), and nothing is made: a status with
 * a key, a get with a value or a context, a put in two frames. A status
 * with a key answered 0, a get with a value CW_EINVAL, and the two-frame put
 * was made from its first frame. */
static void test_requests_with_what_their_op_has_no_use_for(void **state)
{
    fixture *f = *state;
    void *ctx = zmq_ctx_new();
    void *d = raw_client(f, ctx);
    /* version 1, op, id 9, key "k", value (empty or "v"), has_context, context */
    const uint8_t status_key[] = {1, 4, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 1, 'k', 0, 0, 0, 0, 0};
    const uint8_t get_value[] = {1, 3, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 1, 'k', 0, 0, 0, 1, 'v', 0};
    const uint8_t get_context[] = {1, 3, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 1, 'k', 0, 0, 0, 0, 1, 0, 0, 0, 0};
    const uint8_t put[] = {1, 1, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 1, 'k', 0, 0, 0, 1, 'v', 0};
    const uint8_t status[] = {1, 4, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(raw_answer(d, status, sizeof status, false), CW_OK); /* the well-formed ones are served */
    assert_int_equal(raw_answer(d, status_key, sizeof status_key, false), CW_EBADMSG);
    assert_int_equal(raw_answer(d, get_value, sizeof get_value, false), CW_EBADMSG);
    assert_int_equal(raw_answer(d, get_context, sizeof get_context, false), CW_EBADMSG);
    assert_int_equal(raw_answer(d, put, sizeof put, true), CW_EBADMSG);
    assert_int_equal(node_writes(f), 0);
    assert_int_equal(raw_answer(d, put, sizeof put, false), CW_OK);
    assert_int_equal(node_writes(f), 1);
    zmq_close(d);
    zmq_ctx_term(ctx);
}

/* A connection that never speaks ZeroMQ is closed once the handshake
 * interval passes (5 s): with ZeroMQ's default (30 s) a flood of them held
 * the node's descriptors that long. The node serves on. */
static void test_a_silent_connection_is_closed(void **state)
{
    fixture *f = *state;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s/cli", f->dir);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    uint64_t t0 = cw__now_ns();
    /* ZeroMQ's greeting comes at once; then the end, or nothing for 20 s. */
    struct pollfd p = {.fd = fd, .events = POLLIN};
    char buf[256];
    ssize_t n = 1;
    while (n > 0 && poll(&p, 1, 20000) == 1)
        n = read(fd, buf, sizeof buf);
    double secs = (double)(cw__now_ns() - t0) / 1e9;
    TU_CHECK(n == 0 || (n < 0 && errno == ECONNRESET));
    TU_CHECK(secs < 15.0);
    close(fd);
    assert_int_equal(node_writes(f), 0);
}

/* A client that sends requests and does not read their answers: the node
 * holds a bounded number of its answers (64 queued, and those of one burst
 * parked), and drops its later requests unserved (nothing made), instead of
 * holding every answer (10,000 a connection: 2,000 unread gets of a 1 MB
 * value took a node to 1.7 GB). Every request served is answered once the
 * client reads, and then it is served again. */
/* A fixture on the heap with a fresh node that takes values of up to
 * max_value_len, and requests of up to max_frame from clients. */
static fixture *open_node(size_t max_value_len, size_t max_frame)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/cw-test-client-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->rep, sizeof f->rep, "ipc://%s/rep", f->dir);
    snprintf(f->cli, sizeof f->cli, "ipc://%s/cli", f->dir);
    cw__server_options o;
    cw__server_options_init(&o);
    o.listen = f->rep;
    o.fresh = true;
    o.max_value_len = max_value_len;
    char err[200];
    assert_int_equal(cw__server_start(&f->s, &o, err, sizeof err), CW_OK);
    assert_int_equal(cw__clients_start(&f->cl, f->s, f->cli, max_frame, NULL, err, sizeof err), CW_OK);
    assert_int_equal(cw_client_open(&f->c, f->cli, 30000), CW_OK); /* slow under sanitizers */
    return f;
}

/* Sends n gets of "k" on d, ids from first on; flags 0 or ZMQ_DONTWAIT
 * (then a send the socket has no room for is left out). */
static void ask_unread(void *d, uint64_t first, uint64_t n, int flags)
{
    cw__out out = {NULL, 0, 0, false};
    for (uint64_t i = 0; i < n; i++) {
        out.len = 0;
        assert_int_equal(cw__request_encode(&out, CW__OP_GET, first + i, "k", 1, NULL, 0, NULL), CW_OK);
        assert_true(zmq_send(d, out.b, out.len, flags) >= 0 || (flags == ZMQ_DONTWAIT && errno == EAGAIN));
    }
    free(out.b);
}

/* A DEALER that asks for n gets of key k (ids from 1000) and reads none of
 * the answers yet; it holds little of what comes. */
static void *unread_gets(const fixture *f, void *ctx, uint64_t n)
{
    void *d = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0, hwm = 1, buf = 4096;
    zmq_setsockopt(d, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(d, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(d, ZMQ_RCVBUF, &buf, sizeof buf);
    assert_int_equal(zmq_connect(d, f->cli), 0);
    ask_unread(d, 1000, n, 0);
    return d;
}

/* A key whose versions pass what a client takes (CW_CLIENT_MAX_ANSWER:
 * 257 siblings of 1 MiB, each written with an empty context) is answered
 * CW_ELIMIT by the node, and the handle serves the next call at once
 * (before, the node sent it, the client's socket refused the frame and
 * ended its connection for good: every later call timed out). */
static void test_a_read_larger_than_a_client_takes_is_refused(void **state)
{
    (void)state;
    enum { MIB = 1 << 20, SIBLINGS = (int)(CW_CLIENT_MAX_ANSWER / MIB) + 1 };
    fixture *f = open_node(MIB, CW__CLIENTS_MAX_FRAME);
    char *v = malloc(MIB);
    assert_non_null(v);
    memset(v, 'v', MIB);
    cw_vclock none;
    cw_vclock_init(&none);
    for (int i = 0; i < SIBLINGS; i++)
        assert_int_equal(cw_client_put(f->c, "big", 3, v, MIB, &none, NULL), CW_OK);
    free(v);
    cw_vclock_destroy(&none);
    cw_read r;
    cw_read_init(&r);
    assert_int_equal(cw_client_get(f->c, "big", 3, &r), CW_ELIMIT);
    assert_int_equal(r.count, 0);
    assert_int_equal(cw_client_put(f->c, "small", 5, "v", 1, NULL, NULL), CW_OK);
    assert_int_equal(cw_client_get(f->c, "small", 5, &r), CW_OK);
    cw_read_destroy(&r);
    teardown((void **)&f);
}

/* A read over the bytes a host would answer is refused on the values'
 * size alone, before any copy of them: no allocation is made (with every
 * allocation failing, a copy would give CW_ENOMEM), and the read is left as
 * it was. A tombstone's value is not counted. Each refusal of a large key
 * (CW_ELIMIT, or CW_EFULL while answers hold their budget) once cost a
 * copy of all its siblings under the server's lock. */
static void test_a_read_too_large_is_refused_before_its_copy(void **state)
{
    (void)state;
    fixture *f = open_node(1000, CW__CLIENTS_MAX_FRAME);
    static char v[1000];
    memset(v, 'v', sizeof v);
    cw_vclock none;
    cw_vclock_init(&none);
    for (int i = 0; i < 3; i++)
        assert_int_equal(cw_client_put(f->c, "k", 1, v, sizeof v, &none, NULL), CW_OK);
    assert_int_equal(cw_client_delete(f->c, "gone", 4, NULL, NULL), CW_OK);
    cw_vclock_destroy(&none);
    cw_read r;
    cw_read_init(&r);
    size_t values = 0;
    tu_fail_alloc_after(0);
    int rc = cw__server_read_at_most(f->s, "k", 1, 2999, &values, &r);
    tu_fail_alloc_off();
    assert_int_equal(rc, CW_ELIMIT);
    assert_int_equal(values, 3000);
    assert_int_equal(r.count, 0);
    assert_int_equal(cw__server_read_at_most(f->s, "k", 1, 3000, &values, &r), CW_OK);
    assert_int_equal(r.count, 3);
    assert_int_equal(cw__server_read_at_most(f->s, "gone", 4, 0, &values, &r), CW_ENOTFOUND);
    assert_int_equal(values, 0);
    assert_int_equal(cw__server_read_at_most(f->s, "never", 5, 0, &values, &r), CW_ENOTFOUND);
    cw_read_destroy(&r);
    teardown((void **)&f);
}

/* A node whose key "k" holds one value of 100,000 bytes. */
static fixture *open_with_key_of_100k(void)
{
    fixture *f = open_node(100000, 300 * 1024);
    static char big[100000];
    memset(big, 'v', sizeof big);
    assert_int_equal(cw_client_put(f->c, "k", 1, big, sizeof big, NULL, NULL), CW_OK);
    return f;
}

static void test_a_client_that_does_not_read_is_not_served(void **state)
{
    (void)state;
    fixture *f = open_with_key_of_100k();
    void *ctx = zmq_ctx_new();
    enum { N = 600 };
    void *d = unread_gets(f, ctx, N); /* 60 MB of answers asked for */
    cw__out out = {NULL, 0, 0, false};
    for (int waited = 0; cw__clients_unserved(f->cl) == 0 && waited < 10000; waited += 10)
        nanosleep(&(struct timespec){0, 10000000}, NULL);
    uint64_t unserved = cw__clients_unserved(f->cl);
    assert_true(unserved > 0);
    int answered = 0;
    uint8_t *seen = calloc(N, 1);
    assert_non_null(seen);
    for (;;) { /* now it reads: every request served has its answer */
        zmq_pollitem_t item = {d, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, 1000) <= 0)
            break;
        zmq_msg_t a;
        zmq_msg_init(&a);
        assert_true(zmq_msg_recv(&a, d, 0) >= 14);
        cw__in in = {zmq_msg_data(&a), zmq_msg_size(&a), 0};
        uint8_t op;
        uint64_t id;
        int status;
        assert_int_equal(cw__answer_take_head(&in, &op, &id, &status), CW_OK);
        assert_int_equal(status, CW_OK);
        assert_true(id >= 1000 && id < 1000 + N && !seen[id - 1000]);
        seen[id - 1000] = 1;
        answered++;
        zmq_msg_close(&a);
    }
    print_message("# %d gets answered, %llu not served\n", answered,
                  (unsigned long long)cw__clients_unserved(f->cl));
    assert_int_equal((uint64_t)answered + cw__clients_unserved(f->cl), N);
    assert_true(answered < N);
    out.len = 0; /* served again */
    assert_int_equal(cw__request_encode(&out, CW__OP_GET, 5, "k", 1, NULL, 0, NULL), CW_OK);
    assert_true(zmq_send(d, out.b, out.len, 0) >= 0);
    zmq_msg_t a;
    zmq_msg_init(&a);
    assert_true(zmq_msg_recv(&a, d, 0) >= 14);
    zmq_msg_close(&a);
    free(seen);
    free(out.b);
    zmq_close(d);
    zmq_ctx_term(ctx);
    void *st = f;
    teardown(&st);
}

/* Memory the C library keeps after a burst of answers is given back
 * (clients.c, invariant 8): once 64 MiB of answers were let go, and then
 * none for 1 s, a trim is made. 2,000 connections that did not read their
 * answers left a node at ~500 MB after they closed. */
static void test_memory_is_given_back_after_a_burst_of_answers(void **state)
{
    (void)state;
    enum { VALUE = 1000000, GETS = 80 }; /* 80 MB of answers */
    fixture *f = open_node(VALUE, CW__CLIENTS_MAX_FRAME);
    char *big = malloc(VALUE);
    assert_non_null(big);
    memset(big, 'v', VALUE);
    assert_int_equal(cw_client_put(f->c, "k", 1, big, VALUE, NULL, NULL), CW_OK);
    free(big);
    assert_int_equal(cw__clients_trims(f->cl), 0);
    for (int i = 0; i < GETS; i++) {
        cw_read rd;
        cw_read_init(&rd);
        assert_int_equal(cw_client_get(f->c, "k", 1, &rd), CW_OK);
        cw_read_destroy(&rd);
    }
    for (int waited = 0; cw__clients_trims(f->cl) == 0 && waited < 20000; waited += 10)
        nanosleep(&(struct timespec){0, 10000000}, NULL);
    assert_int_equal(cw__clients_trims(f->cl), 1);
    void *st = f;
    teardown(&st);
}

/* Answers to clients that do not read are bounded (clients.c, invariant
 * 7): one client that leaves 40 gets unread of a key with three siblings of
 * 1 MB would make the node keep every answer of 3 MB (up to 192: 64
 * queued, a burst's parked); more siblings make each as large as the
 * store. One such client holds at most its connection's share (16 MiB)
 * and one answer more, and another client's large read is still served;
 * eight of them hold at most 64 MiB and one answer more between them, past
 * which a large read is CW_EFULL (retry later). Small reads and writes are
 * served throughout, and once those clients go every byte counted is given
 * back. */
static void test_answers_held_for_clients_are_bounded(void **state)
{
    (void)state;
    enum { ANSWER = 3100000, STRANGERS = 8 };
    fixture *f = open_node(1000000, CW__CLIENTS_MAX_FRAME);
    char *big = malloc(1000000);
    assert_non_null(big);
    memset(big, 'v', 1000000);
    cw_vclock none; /* a context that names no version: each put is a sibling */
    cw_vclock_init(&none);
    for (int i = 0; i < 3; i++)
        assert_int_equal(cw_client_put(f->c, "k", 1, big, 1000000, &none, NULL), CW_OK);
    free(big);
    assert_int_equal(cw_client_put(f->c, "s", 1, "small", 5, NULL, NULL), CW_OK);
    void *ctx = zmq_ctx_new();
    void *d[STRANGERS];
    d[0] = unread_gets(f, ctx, 40);
    for (int waited = 0; cw__clients_refused_large(f->cl) == 0 && waited < 20000; waited += 10)
        nanosleep(&(struct timespec){0, 10000000}, NULL);
    assert_true(cw__clients_refused_large(f->cl) > 0); /* of its own gets, served in one burst */
    size_t held = cw__clients_held(f->cl);
    print_message("# one client that does not read: held %zu bytes\n", held);
    assert_true(held >= CW__CLIENTS_CONNECTION_HELD / 2 && held <= CW__CLIENTS_CONNECTION_HELD + ANSWER);
    cw_read rd;
    cw_read_init(&rd);
    assert_int_equal(cw_client_get(f->c, "k", 1, &rd), CW_OK); /* the others' large reads go on */
    assert_int_equal(rd.count, 3);
    /* More of them: the total is bounded. */
    for (int i = 1; i < STRANGERS; i++)
        d[i] = unread_gets(f, ctx, 40);
    /* Their shares (8 x 16 MiB) pass the total: it is reached, and no
     * more than one answer past it is held. The kernel's buffers take
     * answers off the node (its send buffer grows to a few MB a
     * connection), and a get served once the total is held is refused,
     * so 40 gets each may leave the total just short of reached: they
     * keep asking until those buffers are full and it is, and for 300 ms
     * more, while the peak must stay within one answer of the total. */
    size_t peak = 0;
    uint64_t next = 1040;
    for (int waited = 0, after = 0; after < 300 && waited < 20000; waited += 10) {
        held = cw__clients_held(f->cl);
        peak = held > peak ? held : peak;
        after += peak >= CW__CLIENTS_ANSWERS_HELD ? 10 : 0;
        if (waited % 100 == 0) {
            for (int i = 1; i < STRANGERS; i++)
                ask_unread(d[i], next, 8, ZMQ_DONTWAIT);
            next += 8;
        }
        nanosleep(&(struct timespec){0, 10000000}, NULL);
    }
    assert_true(peak <= CW__CLIENTS_ANSWERS_HELD + ANSWER);
    nanosleep(&(struct timespec){0, 100000000}, NULL); /* their gets not served yet would be now */
    held = cw__clients_held(f->cl);
    print_message("# %d clients that do not read: held %zu bytes (at most %zu)\n", STRANGERS, held, peak);
    assert_true(peak >= CW__CLIENTS_ANSWERS_HELD && held <= CW__CLIENTS_ANSWERS_HELD + ANSWER);
    /* Refused while that much is held; served if those clients' libzmq
     * took an answer or two meanwhile: either way held stays bounded. */
    int rc = cw_client_get(f->c, "k", 1, &rd);
    assert_true(rc == CW_EFULL || rc == CW_OK);
    assert_true(cw__clients_held(f->cl) <= CW__CLIENTS_ANSWERS_HELD + 2 * ANSWER);
    assert_int_equal(cw_client_get(f->c, "s", 1, &rd), CW_OK);
    assert_int_equal(rd.count, 1);
    assert_memory_equal(rd.versions[0].value, "small", 5);
    assert_int_equal(cw_client_put(f->c, "s", 1, "again", 5, NULL, NULL), CW_OK);
    print_message("# large gets refused: %llu\n", (unsigned long long)cw__clients_refused_large(f->cl));
    for (int i = 0; i < STRANGERS; i++)
        zmq_close(d[i]); /* they go: libzmq drops what it held for them */
    zmq_ctx_term(ctx);
    rc = CW_EFULL;
    for (int waited = 0; rc == CW_EFULL && waited < 20000; waited += 10) {
        rc = cw_client_get(f->c, "k", 1, &rd);
        if (rc == CW_EFULL)
            nanosleep(&(struct timespec){0, 10000000}, NULL);
    }
    assert_int_equal(rc, CW_OK);
    assert_int_equal(rd.count, 3);
    assert_int_equal(rd.versions[0].value_len, 1000000);
    cw_read_destroy(&rd);
    for (int waited = 0; cw__clients_held(f->cl) && waited < 20000; waited += 10) /* every count comes back */
        nanosleep(&(struct timespec){0, 10000000}, NULL);
    assert_int_equal(cw__clients_held(f->cl), 0);
    void *st = f;
    teardown(&st);
}

/* Connections come and go, some leaving answers unread: what the node
 * keeps of each (its share of the answers held, clients.c invariant 7) is
 * forgotten once its answers are released, so it stays bounded however
 * many connections came, and every byte counted comes back. */
static void test_connections_are_forgotten(void **state)
{
    (void)state;
    fixture *f = open_with_key_of_100k();
    void *ctx = zmq_ctx_new();
    for (int i = 0; i < 300; i++) {
        bool reads = i % 2 == 0;
        int gets = reads ? 1 + i % 3 : 8; /* 800 KB: more than the sockets' buffers take */
        void *d = unread_gets(f, ctx, (uint64_t)gets);
        if (reads) {
            for (int k = 0; k < gets; k++) {
                zmq_msg_t a;
                zmq_msg_init(&a);
                assert_true(zmq_msg_recv(&a, d, 0) > 100000);
                zmq_msg_close(&a);
            }
        } else { /* leaves with answers held for it */
            for (int waited = 0; cw__clients_held(f->cl) == 0 && waited < 1000; waited += 1)
                nanosleep(&(struct timespec){0, 1000000}, NULL);
        }
        zmq_close(d);
    }
    zmq_ctx_term(ctx);
    for (int waited = 0; cw__clients_held(f->cl) && waited < 20000; waited += 10)
        nanosleep(&(struct timespec){0, 10000000}, NULL);
    assert_int_equal(cw__clients_held(f->cl), 0);
    cw_read rd;
    cw_read_init(&rd);
    assert_int_equal(cw_client_get(f->c, "k", 1, &rd), CW_OK);
    cw_read_destroy(&rd);
    print_message("# 301 connections, %zu kept track of\n", cw__clients_tracked(f->cl));
    assert_true(cw__clients_tracked(f->cl) <= 2 * CW__CLIENTS_CONNS_SWEEP_MIN);
    void *st = f;
    teardown(&st);
}

/* A client-served node with --data in f->dir/data and a 1 MiB map. */
static void open_durable_sized(fixture *f, size_t map_size)
{
    snprintf(f->rep, sizeof f->rep, "ipc://%s/rep", f->dir);
    snprintf(f->cli, sizeof f->cli, "ipc://%s/cli", f->dir);
    char data[128];
    snprintf(data, sizeof data, "%s/data", f->dir);
    cw__server_options o;
    cw__server_options_init(&o);
    o.listen = f->rep;
    o.fresh = true;
    o.data_dir = data;
    o.map_size = map_size;
    o.max_key_len = 64;
    o.max_value_len = 100000;
    char err[200];
    assert_int_equal(cw__server_start(&f->s, &o, err, sizeof err), CW_OK);
    assert_int_equal(cw__clients_start(&f->cl, f->s, f->cli, 300 * 1024, NULL, err, sizeof err), CW_OK);
    assert_int_equal(cw_client_open(&f->c, f->cli, 5000), CW_OK);
}

static void open_durable(fixture *f)
{
    open_durable_sized(f, (size_t)1 << 20);
}

static void close_durable(fixture *f)
{
    cw_client_close(f->c);
    cw__clients_stop(f->cl);
    cw__server_stop(f->s);
    const char *files[] = {"data/data.mdb", "data/lock.mdb", "data/causeway.lock", "data", "rep", "cli"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char p[200];
        snprintf(p, sizeof p, "%s/%s", f->dir, files[i]);
        if (unlink(p) != 0)
            rmdir(p);
    }
}

/* 10 KB puts until one is not saved (CW_EUNSAVED): how many were. */
static int fill(fixture *f, int at_most)
{
    static char v[10000];
    memset(v, 'v', sizeof v);
    for (int i = 0; i < at_most; i++) {
        char key[16];
        snprintf(key, sizeof key, "f%d", i);
        int rc = cw_client_put(f->c, key, strlen(key), v, sizeof v, NULL, NULL);
        if (rc == CW_EUNSAVED)
            return i;
        assert_int_equal(rc, CW_OK);
    }
    return at_most;
}

/* A node with --data whose save fails at the end of a batch: each write the
 * batch made answers CW_EUNSAVED (made, outcome unknown), a write refused in
 * it keeps its own code, and writes after it get CW_EIO (not made). A batch
 * used to answer CW_EUNSAVED for every write, made or not. */
static void test_batch_not_saved_says_which_writes_were_made(void **state)
{
    (void)state;
    fixture f = {0};
    snprintf(f.dir, sizeof f.dir, "/tmp/cw-test-client-XXXXXX");
    assert_non_null(mkdtemp(f.dir));
    /* How many 10 KB writes the map takes; then, afresh, two fewer, so
     * the batch's 120 KB cannot be saved. */
    open_durable(&f);
    int room = fill(&f, 1000);
    assert_true(room > 2 && room < 1000);
    close_durable(&f);
    open_durable(&f);
    assert_int_equal(fill(&f, room - 2), room - 2);
    static char big[60000];
    memset(big, 'v', sizeof big);
    char long_key[65];
    memset(long_key, 'k', sizeof long_key);
    cw_client_write w[3] = {
        {"b0", 2, big, sizeof big, false, NULL, NULL, 0},
        {long_key, sizeof long_key, "v", 1, false, NULL, NULL, 0}, /* above max_key_len: refused */
        {"b1", 2, big, sizeof big, false, NULL, NULL, 0},
    };
    assert_int_equal(cw_client_write_many(f.c, w, 3), CW_OK);
    assert_int_equal(w[0].result, CW_EUNSAVED);
    assert_int_equal(w[1].result, CW_ELIMIT);
    assert_int_equal(w[2].result, CW_EUNSAVED);
    assert_int_equal(cw_client_put(f.c, "after", 5, "v", 1, NULL, NULL), CW_EIO); /* not made */
    cw_client_write more[2] = {{"m0", 2, "v", 1, false, NULL, NULL, 0}, {"m1", 2, "v", 1, false, NULL, NULL, 0}};
    assert_int_equal(cw_client_write_many(f.c, more, 2), CW_OK);
    assert_int_equal(more[0].result, CW_EIO);
    assert_int_equal(more[1].result, CW_EIO);
    close_durable(&f);
    rmdir(f.dir);
}

/* A burst ends once its requests made 4,096 writes (clients.c invariant
 * 4), and a durable node saves a burst's writes once, before its answers:
 * a pipelined cw_client_write_many of 32 batches of 1,024 writes is saved
 * (and answered) every few batches, not once after all of them (which, on
 * a slow node, took longer than the client's timeout). */
static void test_a_pipelined_write_many_is_saved_in_bursts(void **state)
{
    (void)state;
    enum { BATCH = 1024, N = 32 * BATCH, MOST_A_SAVE = 4096 + BATCH };
    fixture f = {0};
    snprintf(f.dir, sizeof f.dir, "/tmp/cw-test-client-XXXXXX");
    assert_non_null(mkdtemp(f.dir));
    open_durable_sized(&f, (size_t)64 << 20);
    cw_client_write *w = calloc(N, sizeof *w);
    assert_non_null(w);
    static const char *keys[] = {"a", "b", "c", "d"};
    for (int i = 0; i < N; i++)
        w[i] = (cw_client_write){.key = keys[i % 4], .key_len = 1, .value = "x", .value_len = 1};
    cw__server_stats before, after;
    cw__server_get_stats(f.s, &before);
    assert_int_equal(cw_client_write_many(f.c, w, N), CW_OK);
    cw__server_get_stats(f.s, &after);
    for (int i = 0; i < N; i++)
        if (w[i].result != CW_OK)
            fail_msg("write %d of %d: %s", i, N, cw_strerror(w[i].result));
    uint64_t saves = after.saves - before.saves;
    print_message("# %d pipelined writes: %llu saves\n", N, (unsigned long long)saves);
    assert_true(saves >= (N + MOST_A_SAVE - 1) / MOST_A_SAVE);
    free(w);
    close_durable(&f);
    rmdir(f.dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_get_delete_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_many_pipelines_a_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_many_of_many_batches_loses_no_answer, setup, teardown),
        cmocka_unit_test(test_a_long_write_many_does_not_time_out),
        cmocka_unit_test(test_a_broken_node_is_not_believed),
        cmocka_unit_test(test_frames_that_are_not_the_answer_are_dropped),
        cmocka_unit_test(test_an_answer_is_not_held_after_its_call),
        cmocka_unit_test(test_no_memory_for_an_answer_is_not_a_bad_answer),
        cmocka_unit_test(test_no_memory_for_a_request_is_not_a_bad_request),
        cmocka_unit_test_setup_teardown(test_malformed_batch_changes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_batch_answer_has_room_before_its_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_with_a_value_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_node_errors_come_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_allow_refuses_other_addresses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_node_times_out, setup, teardown),
        cmocka_unit_test(test_an_endpoint_port_is_a_port),
        cmocka_unit_test_setup_teardown(test_hostile_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_get_of_a_key_too_long_is_elimit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_requests_with_what_their_op_has_no_use_for, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_silent_connection_is_closed, setup, teardown),
        cmocka_unit_test(test_a_read_larger_than_a_client_takes_is_refused),
        cmocka_unit_test(test_a_read_too_large_is_refused_before_its_copy),
        cmocka_unit_test(test_a_client_that_does_not_read_is_not_served),
        cmocka_unit_test(test_memory_is_given_back_after_a_burst_of_answers),
        cmocka_unit_test(test_answers_held_for_clients_are_bounded),
        cmocka_unit_test(test_connections_are_forgotten),
        cmocka_unit_test(test_batch_not_saved_says_which_writes_were_made),
        cmocka_unit_test(test_a_pipelined_write_many_is_saved_in_bursts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
