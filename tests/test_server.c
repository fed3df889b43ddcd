/* The node server (src/server/server.h): replicas in one test process, each
 * with its own ZeroMQ context and links, talking over ipc:// endpoints in a
 * scratch directory (no TCP port can collide). Covers joining (no write
 * before every peer answered), a restart without state that must not reuse
 * a sequence number and gets the data back, replication and convergence of
 * concurrent writers, a held link buffering a dependent write, and a
 * replica snapshot installed only on an empty node. */
#define _GNU_SOURCE /* syscall: the fdatasync below forwards to the kernel */
#include <dirent.h>
#include <fcntl.h>
#include <lmdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "testutil.h"
#include "free_port.h"

#include "bytes.h"
#include "crc32c.h"
#include "map.h"
#include "msg_internal.h"
#include "fault.h"
#include "now.h"
#include "server.h"

#define MAXN 6

typedef struct cluster {
    char secret[MAXN][41], public_key[MAXN][41];
    const char *curve_peers[MAXN];
    bool curve;
    char dir[64];
    char ep[MAXN][128];
    const char *peers[MAXN];
    uint32_t n;
    cw__server *s[MAXN];
    bool durable;              /* each node keeps its state in data[i] */
    char data[MAXN][128];
} cluster;

static uint64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

static void sleep_ms(unsigned ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

static size_t max_log_option; /* 0: the default */
static const cw__allow *allow_option[MAXN]; /* node i's --allow; NULL: none */
static size_t map_size_option; /* 0: the default */
static size_t max_buffered_option; /* 0: the default */
static uint64_t recovery_timeout_option; /* 0: this file's (20 ms) */
static cw__server_options fault_option; /* its fault fields only: the faults a node injects */

/* Every node a test started and has not stopped: a test that fails stops
 * them in its teardown, so that no node of it (an allow-list, a peer of
 * its endpoints) goes on running into the tests after it. */
#define LIVE_MAX (4 * MAXN)
static cw__server *live[LIVE_MAX];

/* cw__server_stop's result: CW_OK, or the last save's error. */
static int stop_server(cw__server *s)
{
    for (size_t k = 0; s && k < LIVE_MAX; k++)
        if (live[k] == s)
            live[k] = NULL;
    return cw__server_stop(s);
}

/* Starts node i of c with this file's options; its error code, and why in
 * err when not CW_OK. */
static int start_rc(cluster *c, uint32_t i, bool fresh, char *err, size_t err_len)
{
    cw__server_options o;
    cw__server_options_init(&o);
    o.self = i;
    o.nodes = c->n;
    o.listen = c->ep[i];
    o.peers = c->peers;
    o.fresh = fresh;
    if (c->curve) {
        o.curve_secret = c->secret[i];
        o.curve_peers = c->curve_peers;
    }
    o.max_log = max_log_option;
    o.allow = allow_option[i];
    if (c->durable) {
        o.data_dir = c->data[i];
        o.map_size = map_size_option;
    }
    o.report_interval_ns = 20000000u;
    o.recovery_timeout_ns = recovery_timeout_option ? recovery_timeout_option : 20000000u;
    if (max_buffered_option)
        o.max_buffered = max_buffered_option;
    o.fault_seed = fault_option.fault_seed;
    o.drop_probability = fault_option.drop_probability;
    o.delay_probability = fault_option.delay_probability;
    o.max_delay_us = fault_option.max_delay_us;
    err[0] = '\0';
    int rc = cw__server_start(&c->s[i], &o, err, err_len);
    if (rc != CW_OK)
        return rc;
    size_t k = 0;
    while (k < LIVE_MAX && live[k])
        k++;
    assert_true(k < LIVE_MAX);
    live[k] = c->s[i];
    return CW_OK;
}

static void start(cluster *c, uint32_t i, bool fresh)
{
    char err[200];
    int rc = start_rc(c, i, fresh, err, sizeof err);
    if (rc != CW_OK)
        fail_msg("server %u: %s (%s)", i, cw_strerror(rc), err);
}

/* The scratch directory of every cluster made and not closed: a test that
 * fails leaves its files there, and its teardown removes them. */
#define SCRATCH_MAX 8
static char scratch[SCRATCH_MAX][64];

static void scratch_keep(const char *dir)
{
    size_t k = 0;
    while (k < SCRATCH_MAX && scratch[k][0])
        k++;
    assert_true(k < SCRATCH_MAX);
    snprintf(scratch[k], sizeof scratch[k], "%s", dir);
}

static void scratch_forget(const char *dir)
{
    for (size_t k = 0; k < SCRATCH_MAX; k++)
        if (strcmp(scratch[k], dir) == 0)
            scratch[k][0] = '\0';
}

/* Removes path and, when it is a directory (not a link to one), all in it. */
static void remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    DIR *d = S_ISDIR(st.st_mode) ? opendir(path) : NULL;
    for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char p[512];
        if ((size_t)snprintf(p, sizeof p, "%s/%s", path, e->d_name) < sizeof p)
            remove_tree(p);
    }
    if (d)
        closedir(d);
    remove(path);
}

/* A test's teardown: the nodes a failed test left running stop, its
 * scratch directories go, and the options go back to their defaults. */
static int teardown(void **state)
{
    (void)state;
    for (size_t k = 0; k < LIVE_MAX; k++) {
        cw__server_stop(live[k]); /* NULL: nothing */
        live[k] = NULL;
    }
    for (size_t k = 0; k < SCRATCH_MAX; k++) {
        if (scratch[k][0])
            remove_tree(scratch[k]);
        scratch[k][0] = '\0';
    }
    max_log_option = 0;
    map_size_option = 0;
    memset(allow_option, 0, sizeof allow_option);
    return 0;
}

/* Starts every node of c (fresh) on a TCP port free a moment ago: node i
 * at host[i] (an address, "[::1]" for IPv6), binding bind_host[i] instead
 * when that is not NULL ("*": every address). A port taken between its
 * probe and its bind starts the whole cluster again on new ports. */
static void start_on_ports(cluster *c, const char *const *host, const char *const *bind_host)
{
    for (int t = 0;; t++) {
        unsigned port[MAXN];
        tu_free_ports(c->n, port);
        for (uint32_t i = 0; i < c->n; i++)
            snprintf(c->ep[i], sizeof c->ep[i], "tcp://%s:%u", host[i], port[i]);
        char err[200] = "";
        int rc = CW_OK;
        uint32_t i = 0;
        for (; i < c->n; i++) {
            if (bind_host && bind_host[i]) /* bound so, reached as host[i] by its peers */
                snprintf(c->ep[i], sizeof c->ep[i], "tcp://%s:%u", bind_host[i], port[i]);
            rc = start_rc(c, i, true, err, sizeof err);
            snprintf(c->ep[i], sizeof c->ep[i], "tcp://%s:%u", host[i], port[i]);
            if (rc != CW_OK)
                break;
        }
        if (i == c->n)
            return;
        if (!tu_in_use(err) || t + 1 == TU_PORT_TRIES)
            fail_msg("server %u: %s (%s)", i, cw_strerror(rc), err);
        for (uint32_t j = 0; j < i; j++) {
            stop_server(c->s[j]);
            c->s[j] = NULL;
        }
    }
}

/* A cluster of n nodes, none started: a directory of its own, each node's
 * endpoint and data directory in it. */
static void cluster_paths(cluster *c, uint32_t n, bool durable)
{
    memset(c, 0, sizeof *c);
    c->durable = durable;
    c->n = n;
    snprintf(c->dir, sizeof c->dir, "/tmp/cw-test-server-XXXXXX");
    assert_non_null(mkdtemp(c->dir));
    scratch_keep(c->dir);
    for (uint32_t i = 0; i < n; i++) {
        snprintf(c->ep[i], sizeof c->ep[i], "ipc://%s/node%u", c->dir, i);
        snprintf(c->data[i], sizeof c->data[i], "%s/data%u", c->dir, i);
        c->peers[i] = c->ep[i];
    }
}

static void cluster_open_with(cluster *c, uint32_t n, bool fresh, bool curve, bool durable)
{
    cluster_paths(c, n, durable);
    c->curve = curve;
    for (uint32_t i = 0; curve && i < n; i++) {
        assert_int_equal(zmq_curve_keypair(c->public_key[i], c->secret[i]), 0);
        c->curve_peers[i] = c->public_key[i];
    }
    for (uint32_t i = 0; i < n; i++)
        start(c, i, fresh);
}

/* Every node keeps its state in a directory of its own; all start fresh. */
static void cluster_open_durable(cluster *c, uint32_t n)
{
    cluster_open_with(c, n, true, false, true);
}

static void cluster_open(cluster *c, uint32_t n, bool fresh)
{
    cluster_open_with(c, n, fresh, false, false);
}

static void cluster_close(cluster *c)
{
    for (uint32_t i = 0; i < c->n; i++)
        stop_server(c->s[i]);
    for (uint32_t i = 0; i < c->n; i++) {
        char p[200];
        snprintf(p, sizeof p, "%s/node%u", c->dir, i);
        unlink(p);
        snprintf(p, sizeof p, "%s/data.mdb", c->data[i]);
        unlink(p);
        snprintf(p, sizeof p, "%s/lock.mdb", c->data[i]);
        unlink(p);
        snprintf(p, sizeof p, "%s/causeway.lock", c->data[i]);
        unlink(p);
        rmdir(c->data[i]);
    }
    rmdir(c->dir);
    scratch_forget(c->dir);
}

/* Stops node i and starts it again without --fresh: from its directory
 * when durable, else it joins its peers. */
static void restart(cluster *c, uint32_t i)
{
    stop_server(c->s[i]);
    c->s[i] = NULL;
    start(c, i, false);
}

/* A put that retries while the node is joining; the write's own seq. */
static uint64_t put(cw__server *s, const char *key, const char *value)
{
    cw_vclock clock;
    cw_vclock_init(&clock);
    int rc;
    uint64_t deadline = now_ms() + 10000;
    while ((rc = cw__server_write(s, key, strlen(key), value, strlen(value), NULL, false, &clock)) == CW_EJOINING &&
           now_ms() < deadline)
        sleep_ms(5);
    assert_int_equal(rc, CW_OK);
    uint64_t seq = cw_vclock_get(&clock, cw__server_self(s));
    cw_vclock_destroy(&clock);
    return seq;
}

/* Waits until key reads as value at s (up to 10 s). */
static void await_value(cw__server *s, const char *key, const char *value)
{
    uint64_t deadline = now_ms() + 10000;
    for (;;) {
        cw_read r;
        cw_read_init(&r);
        int rc = cw__server_read(s, key, strlen(key), &r);
        bool ok = rc == CW_OK && r.count == 1 && r.versions[0].value_len == strlen(value) &&
                  memcmp(r.versions[0].value, value, strlen(value)) == 0;
        cw_read_destroy(&r);
        if (ok)
            return;
        if (now_ms() > deadline)
            fail_msg("node %u: %s never read as %s (last rc %d)", cw__server_self(s), key, value, rc);
        sleep_ms(5);
    }
}

typedef struct node_view {
    uint64_t counters[MAXN];
    uint64_t buffered;
    uint64_t keys;
} node_view;

static void view(void *ctx, cw_node *n)
{
    node_view *v = ctx;
    const uint64_t *c = cw_node_counters(n);
    memset(v, 0, sizeof *v);
    for (uint32_t k = 0; k < 3; k++) /* the tests that look at a view have 3 nodes */
        v->counters[k] = c[k];
    cw_node_stats st;
    cw_node_get_stats(n, &st);
    v->buffered = st.buffered;
    v->keys = st.keys;
}

static node_view look(cw__server *s)
{
    node_view v;
    cw__server_with_node(s, view, &v);
    return v;
}

static bool joining(cw__server *s)
{
    cw__server_stats st;
    cw__server_get_stats(s, &st);
    return st.joining;
}

static void test_join_waits_for_every_peer(void **state)
{
    (void)state;
    cluster c;
    cluster_paths(&c, 3, false);
    /* Nodes 0 and 1 only: node 2 has not answered, so neither may write. */
    start(&c, 0, false);
    start(&c, 1, false);
    sleep_ms(300);
    assert_true(joining(c.s[0]));
    assert_int_equal(cw__server_write(c.s[0], "k", 1, "v", 1, NULL, false, NULL), CW_EJOINING);
    start(&c, 2, false);
    assert_int_equal(put(c.s[0], "k", "v"), 1);
    await_value(c.s[2], "k", "v");
    cluster_close(&c);
}

/* A group starting together without --fresh: every peer's head is empty,
 * so each node installs the empty state without asking for a copy. */
static void test_a_group_starting_together_sends_no_copy(void **state)
{
    (void)state;
    cluster c;
    cluster_open(&c, 3, false);
    assert_int_equal(put(c.s[0], "k", "v"), 1);
    await_value(c.s[1], "k", "v");
    await_value(c.s[2], "k", "v");
    for (uint32_t i = 0; i < 3; i++) {
        cw__server_stats st;
        cw__server_get_stats(c.s[i], &st);
        assert_false(st.joining);
        assert_int_equal(st.join_copies, 0);
    }
    cluster_close(&c);
}

static void test_replicates_and_converges(void **state)
{
    (void)state;
    cluster c;
    cluster_open(&c, 3, true);
    char key[16], value[16];
    for (int round = 0; round < 50; round++)
        for (uint32_t i = 0; i < 3; i++) {
            snprintf(key, sizeof key, "k%d", round % 7);
            snprintf(value, sizeof value, "%u-%d", i, round);
            put(c.s[i], key, value);
        }
    uint64_t deadline = now_ms() + 10000;
    for (;;) {
        node_view v[3];
        bool same = true;
        for (uint32_t i = 0; i < 3; i++) {
            v[i] = look(c.s[i]);
            same &= v[i].counters[0] == 50 && v[i].counters[1] == 50 && v[i].counters[2] == 50 && v[i].buffered == 0;
        }
        if (same)
            break;
        if (now_ms() > deadline)
            fail_msg("no convergence: node0 at %llu,%llu,%llu", (unsigned long long)v[0].counters[0],
                     (unsigned long long)v[0].counters[1], (unsigned long long)v[0].counters[2]);
        sleep_ms(10);
    }
    /* Every key reads the same versions everywhere. */
    for (int k = 0; k < 7; k++) {
        snprintf(key, sizeof key, "k%d", k);
        cw_read r[3];
        for (uint32_t i = 0; i < 3; i++) {
            cw_read_init(&r[i]);
            assert_int_equal(cw__server_read(c.s[i], key, strlen(key), &r[i]), CW_OK);
        }
        for (uint32_t i = 1; i < 3; i++) {
            assert_int_equal(r[i].count, r[0].count);
            for (size_t v = 0; v < r[0].count; v++) {
                assert_int_equal(r[i].versions[v].origin, r[0].versions[v].origin);
                assert_int_equal(r[i].versions[v].seq, r[0].versions[v].seq);
            }
        }
        for (uint32_t i = 0; i < 3; i++)
            cw_read_destroy(&r[i]);
    }
    cluster_close(&c);
}

static void test_held_link_buffers_the_dependent_write(void **state)
{
    (void)state;
    cluster c;
    cluster_open(&c, 3, true);
    assert_int_equal(cw__server_link(c.s[2], 0, 2, CW__LINK_HOLD), CW_OK);
    put(c.s[0], "x", "1");
    await_value(c.s[1], "x", "1");
    put(c.s[1], "y", "2");
    uint64_t deadline = now_ms() + 5000;
    while (look(c.s[2]).buffered != 1) {
        if (now_ms() > deadline)
            fail_msg("node2 never buffered y");
        sleep_ms(5);
    }
    sleep_ms(100); /* recovery must not get x past the hold either */
    assert_int_equal(look(c.s[2]).buffered, 1);
    assert_int_equal(look(c.s[2]).counters[0], 0);
    assert_int_equal(cw__server_link(c.s[2], 0, 2, CW__LINK_RELEASE), CW_OK);
    await_value(c.s[2], "y", "2");
    await_value(c.s[2], "x", "1");
    assert_int_equal(look(c.s[2]).buffered, 0);
    /* Links that do not end here are not this node's to hold. */
    assert_int_equal(cw__server_link(c.s[2], 0, 1, CW__LINK_HOLD), CW_EINVAL);
    assert_int_equal(cw__server_link(c.s[2], 2, 2, CW__LINK_HOLD), CW_EINVAL);
    cluster_close(&c);
}

static void test_restart_without_state_never_reuses_a_seq(void **state)
{
    (void)state;
    cluster c;
    cluster_open(&c, 3, true);
    for (int i = 0; i < 20; i++) {
        char v[8];
        snprintf(v, sizeof v, "%d", i);
        put(c.s[1], i % 2 ? "a" : "b", v);
    }
    put(c.s[0], "z", "from0");
    await_value(c.s[2], "a", "19");
    await_value(c.s[1], "z", "from0");
    /* Node 1 loses everything and comes back. */
    restart(&c, 1);
    assert_int_equal(put(c.s[1], "a", "after"), 21);
    /* It got its state back from its peers. */
    await_value(c.s[1], "b", "18");
    await_value(c.s[1], "z", "from0");
    await_value(c.s[0], "a", "after");
    await_value(c.s[2], "a", "after");
    cluster_close(&c);
}

static cw__server_stats stats_of(cw__server *s)
{
    cw__server_stats st;
    cw__server_get_stats(s, &st);
    return st;
}

/* The whole copies c's running nodes have sent. */
static uint64_t copies_sent(cluster *c)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < c->n; i++)
        if (c->s[i])
            n += stats_of(c->s[i]).join_copies;
    return n;
}

/* Waits (up to 10 s) until c's nodes have sent `want` whole copies, and
 * checks that no more follow for 300 ms. A sender counts its copy after
 * its last part went, which may be after the joiner installed it. */
static void await_copies(cluster *c, uint64_t want)
{
    uint64_t deadline = now_ms() + 10000;
    while (copies_sent(c) < want && now_ms() < deadline)
        sleep_ms(5);
    sleep_ms(300);
    assert_int_equal(copies_sent(c), want);
}

/* In a group of six a joiner asks every peer for the head of its state
 * (server.c invariant 4), takes writes only once every peer has answered,
 * never reusing a seq, and takes one whole copy: the chosen peer's. A
 * joiner that asked only some peers would never take a write; one that
 * took every peer's copy, as joiners did before heads, costs five. */
static void test_a_joiner_asks_every_peer_and_takes_one_copy(void **state)
{
    (void)state;
    cluster c;
    cluster_open(&c, 6, true);
    put(c.s[5], "mine", "1");
    put(c.s[0], "z", "from0");
    for (uint32_t i = 0; i < 5; i++)
        await_value(c.s[i], "mine", "1");
    await_value(c.s[5], "z", "from0");
    restart(&c, 5);
    assert_int_equal(put(c.s[5], "mine", "2"), 2);
    await_value(c.s[5], "z", "from0");
    for (uint32_t i = 0; i < 5; i++)
        await_value(c.s[i], "mine", "2");
    for (uint32_t i = 0; i < 5; i++)
        assert_true(stats_of(c.s[i]).join_heads >= 1);
    await_copies(&c, 1);
    cluster_close(&c);
}

/* A DEALER in the name id, lingering linger_ms at close; a send that
 * cannot be queued within 10 s fails instead of blocking (a node that never
 * takes the connection would otherwise hang the test until ctest's
 * timeout). */
static void *dealer(void *ctx, const char *id, size_t id_len, int linger_ms)
{
    void *d = zmq_socket(ctx, ZMQ_DEALER);
    int send_timeout_ms = 10000;
    zmq_setsockopt(d, ZMQ_LINGER, &linger_ms, sizeof linger_ms);
    zmq_setsockopt(d, ZMQ_SNDTIMEO, &send_timeout_ms, sizeof send_timeout_ms);
    zmq_setsockopt(d, ZMQ_ROUTING_ID, id, id_len);
    return d;
}

/* Raw sockets playing node `self` of c: a ROUTER bound at its endpoint
 * (what its peers send it) and a DEALER in its name connected to node
 * `to`. */
typedef struct raw_peer {
    void *ctx, *router, *d;
} raw_peer;

static raw_peer raw_open(cluster *c, uint32_t self, uint32_t to)
{
    char id[16];
    int id_len = snprintf(id, sizeof id, "cw-node-%u", self);
    raw_peer r = {zmq_ctx_new(), NULL, NULL};
    r.router = zmq_socket(r.ctx, ZMQ_ROUTER);
    r.d = dealer(r.ctx, id, (size_t)id_len, 0);
    int linger = 0;
    zmq_setsockopt(r.router, ZMQ_LINGER, &linger, sizeof linger);
    assert_int_equal(zmq_bind(r.router, c->ep[self]), 0);
    assert_int_equal(zmq_connect(r.d, c->ep[to]), 0);
    return r;
}

static void raw_close(raw_peer *r)
{
    zmq_close(r->d);
    zmq_close(r->router);
    zmq_ctx_term(r->ctx);
}

/* Reads one message from router: [routing id][first part][...]; the first
 * part into first (up to 16 bytes), its length returned (-1: none within
 * ms). */
static int raw_take(void *router, unsigned ms, uint8_t first[16])
{
    zmq_pollitem_t item = {router, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&item, 1, (long)ms) <= 0)
        return -1;
    int len = -1;
    for (int k = 0, more = 1; more; k++) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        assert_true(zmq_msg_recv(&part, router, 0) >= 0);
        if (k == 1) {
            len = (int)zmq_msg_size(&part);
            memcpy(first, zmq_msg_data(&part), len < 16 ? (size_t)len : 16);
        }
        more = zmq_msg_more(&part);
        zmq_msg_close(&part);
    }
    return len;
}

/* The nonce of the next request of `kind` ('J': a whole snapshot, 'H': a
 * head) that comes to router (within 10 s). */
static uint64_t raw_request(void *router, char kind)
{
    uint8_t b[16];
    uint64_t deadline = now_ms() + 10000;
    while (raw_take(router, 50, b) != 9 || b[0] != (uint8_t)kind)
        if (now_ms() > deadline)
            fail_msg("no '%c' request came", kind);
    return cw__load_be(b + 1, 8);
}

/* What a raw answer's head carries besides the clock, seen and nonce
 * (server.c's net.c, invariant 3). */
typedef enum raw_form {
    RAW_EARLIER,   /* nothing: a release before logs, its parts all versions */
    RAW_WHOLE,     /* the versions it declares, then log writes */
    RAW_HEAD_ONLY, /* versions 0 and flags 1: the answer to a head request */
} raw_form;

/* Sends an answer's first parts on d: 'S', then its head; `more`: parts
 * follow. */
static void raw_answer(void *d, const uint64_t *clock, uint32_t nodes, uint64_t seen, uint64_t nonce,
                       raw_form form, uint64_t versions, bool more)
{
    uint8_t head[MAXN * 8 + 32];
    size_t len = (size_t)nodes * 8;
    for (uint32_t k = 0; k < nodes; k++)
        cw__store_be(head + 8 * k, clock[k], 8);
    cw__store_be(head + len, seen, 8);
    cw__store_be(head + len + 8, nonce, 8);
    len += 16;
    if (form != RAW_EARLIER) {
        cw__store_be(head + len, form == RAW_WHOLE ? versions : 0, 8);
        len += 8;
    }
    if (form == RAW_HEAD_ONLY) {
        cw__store_be(head + len, 1, 8);
        len += 8;
    }
    assert_int_equal(zmq_send(d, "S", 1, ZMQ_SNDMORE), 1);
    assert_int_equal(zmq_send(d, head, len, more ? ZMQ_SNDMORE : 0), (int)len);
}

/* A peer of an earlier release answers no head request (it refuses one as
 * malformed): the joiner asks it for a whole snapshot after HEAD_WAIT_NS
 * (server.c), and joins. Node 1 is played here by raw sockets that answer
 * only a join request, as such a node does: with an empty store, in the
 * form of a release before logs. A joiner that only asked for heads would
 * wait for node 1 for ever. */
static void test_a_peer_of_an_earlier_release_answers_a_joiner(void **state)
{
    (void)state;
    cluster c;
    cluster_paths(&c, 3, false);
    start(&c, 0, true);
    put(c.s[0], "a", "1");
    raw_peer r = raw_open(&c, 1, 2);
    void *router = r.router, *d = r.d;
    start(&c, 2, false);
    int heads = 0, joins = 0;
    uint64_t deadline = now_ms() + 10000;
    while (joining(c.s[2]) && now_ms() < deadline) {
        uint8_t b[16];
        int len = raw_take(router, 20, b);
        heads += len == 9 && b[0] == 'H';
        if (len == 9 && b[0] == 'J') {
            joins++;
            const uint64_t none[3] = {0, 0, 0};
            raw_answer(d, none, 3, 0, cw__load_be(b + 1, 8), RAW_EARLIER, 0, false);
        }
    }
    assert_false(joining(c.s[2]));
    assert_true(heads >= 1);
    assert_true(joins >= 1);
    await_value(c.s[2], "a", "1");
    await_copies(&c, 1); /* node 0's: node 1 is not a server here */
    raw_close(&r);
    cluster_close(&c); /* node 1 never started: its server is NULL */
}

/* Three of four nodes restart without state at once, while node 0 holds
 * a store: each joiner asks two peers at a time, the joiners answer each
 * other with what they have taken, node 0 sends one copy at a time and
 * answers the others in turn (server.c invariants 4 and 7). Every joiner
 * ends holding the store and goes on numbering its own writes where its
 * old process stopped. */
static void test_three_of_four_restart_at_once(void **state)
{
    (void)state;
    cluster c;
    cluster_open(&c, 4, true);
    char key[32];
    for (int i = 0; i < 3000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        put(c.s[0], key, "v");
    }
    for (uint32_t i = 1; i < 4; i++) {
        snprintf(key, sizeof key, "mine%u", i);
        put(c.s[i], key, "1");
        assert_int_equal(put(c.s[i], key, "2"), 2);
    }
    for (uint32_t i = 1; i < 4; i++)
        for (uint32_t j = 1; j < 4; j++) {
            snprintf(key, sizeof key, "mine%u", j);
            await_value(c.s[i], key, "2");
        }
    await_value(c.s[3], "k2999", "v");
    for (uint32_t i = 1; i < 4; i++) {
        stop_server(c.s[i]);
        c.s[i] = NULL;
    }
    for (uint32_t i = 1; i < 4; i++)
        start(&c, i, false);
    for (uint32_t i = 1; i < 4; i++) {
        snprintf(key, sizeof key, "mine%u", i);
        assert_int_equal(put(c.s[i], key, "3"), 3); /* waits out the join */
    }
    for (uint32_t i = 0; i < 4; i++) {
        await_value(c.s[i], "k2999", "v");
        for (uint32_t j = 1; j < 4; j++) {
            snprintf(key, sizeof key, "mine%u", j);
            await_value(c.s[i], key, "3");
        }
    }
    cluster_close(&c);
}

static void test_replicate_refuses_malformed_and_own_writes(void **state)
{
    (void)state;
    cluster c;
    cluster_open(&c, 3, true);
    uint8_t junk[] = {1, 2, 3, 4, 5};
    const char *why = NULL;
    assert_int_equal(cw__server_replicate(c.s[0], junk, sizeof junk, &why), CW_EINVAL);
    assert_non_null(strstr(why, "malformed"));
    /* A write node 1 made, handed to node 0 by hand, is received like one
     * from a link; one claiming to be node 0's own is refused. */
    for (cw_node_id origin = 0; origin < 2; origin++) {
        cw_hlc_timestamp ts = {1, 0, origin};
        uint64_t clock[3] = {0, 0, 0};
        clock[origin] = 1;
        cw_msg *m;
        assert_int_equal(cw_msg_create(&m, origin, &ts, clock, 3, "h", 1, "v", 1), CW_OK);
        uint8_t buf[256];
        size_t len;
        assert_int_equal(cw_msg_encode(m, buf, sizeof buf, &len), CW_OK);
        why = NULL;
        assert_int_equal(cw__server_replicate(c.s[0], buf, len, &why), origin == 0 ? CW_EINVAL : CW_OK);
        if (origin == 0) /* the answer says why */
            assert_non_null(strstr(why, "a write of this node's own"));
        cw_msg_unref(m);
    }
    await_value(c.s[0], "h", "v");
    /* A write in node 1's name that depends on a write of node 0's that node
     * 0 never made: refused, and node 0 still takes writes (from a link this
     * would say node 0 is behind itself; HTTP cannot tell who sent it). */
    cw_hlc_timestamp ts = {2, 0, 1};
    uint64_t clock[3] = {1000000, 2, 0};
    cw_msg *m;
    assert_int_equal(cw_msg_create(&m, 1, &ts, clock, 3, "f", 1, "v", 1), CW_OK);
    uint8_t buf[256];
    size_t len;
    assert_int_equal(cw_msg_encode(m, buf, sizeof buf, &len), CW_OK);
    assert_int_equal(cw__server_replicate(c.s[0], buf, len, NULL), CW_EBADMSG);
    cw_msg_unref(m);
    cw__server_stats st;
    cw__server_get_stats(c.s[0], &st);
    assert_false(st.behind);
    cw_vclock clock_out;
    cw_vclock_init(&clock_out);
    assert_int_equal(cw__server_write(c.s[0], "after", 5, "1", 1, NULL, false, &clock_out), CW_OK);
    cw_vclock_destroy(&clock_out);
    cluster_close(&c);
}

static uint64_t refused(cw__server *s)
{
    cw__server_stats st;
    cw__server_get_stats(s, &st);
    return st.refused_peer;
}

static uint64_t malformed(cw__server *s)
{
    cw__server_stats st;
    cw__server_get_stats(s, &st);
    return st.malformed;
}

/* Waits (up to 10 s: a loaded machine) until stat(s) passes floor. */
static bool await_above(uint64_t (*stat)(cw__server *), cw__server *s, uint64_t floor)
{
    uint64_t deadline = now_ms() + 10000;
    while (stat(s) <= floor)
        if (now_ms() > deadline)
            return false;
        else
            sleep_ms(10);
    return true;
}

/* Sends one link frame to node 0 as `name`, from a DEALER with the given
 * keys; returns once it is queued (or the handshake never completes). */
static void send_as(cluster *c, const char *name, const char *pub, const char *sec)
{
    void *ctx = zmq_ctx_new();
    void *d = dealer(ctx, name, strlen(name), 200);
    zmq_setsockopt(d, ZMQ_CURVE_SERVERKEY, c->public_key[0], 41);
    zmq_setsockopt(d, ZMQ_CURVE_PUBLICKEY, pub, 41);
    zmq_setsockopt(d, ZMQ_CURVE_SECRETKEY, sec, 41);
    assert_int_equal(zmq_connect(d, c->ep[0]), 0);
    /* A report-sized frame: 'W', then bytes that are not a message. */
    zmq_send(d, "W", 1, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(d, "\0\1\2", 3, ZMQ_DONTWAIT);
    sleep_ms(300);
    zmq_close(d);
    zmq_ctx_term(ctx);
}

static void test_curve_admits_only_configured_peers(void **state)
{
    (void)state;
    cluster c;
    cluster_open_with(&c, 3, true, true, false);
    put(c.s[0], "x", "1");
    put(c.s[1], "y", "2");
    await_value(c.s[2], "x", "1");
    await_value(c.s[2], "y", "2");
    await_value(c.s[0], "y", "2");
    /* A stranger's key is refused at the handshake. */
    char pub[41], sec[41];
    assert_int_equal(zmq_curve_keypair(pub, sec), 0);
    uint64_t before = refused(c.s[0]);
    send_as(&c, "cw-node-1", pub, sec);
    assert_true(await_above(refused, c.s[0], before));
    /* Node 2's key speaking as node 1 is refused message by message. */
    before = refused(c.s[0]);
    send_as(&c, "cw-node-1", c.public_key[2], c.secret[2]);
    assert_true(await_above(refused, c.s[0], before));
    /* The cluster still works. */
    put(c.s[2], "z", "3");
    await_value(c.s[0], "z", "3");
    cluster_close(&c);
}

/* --allow: a node takes replication connections only from the addresses
 * it lists, with or without CURVE. Node 0 lists 10.0.0.0/8, so node 1's
 * writes (from 127.0.0.1) never reach it, and the refused connections are
 * counted; node 2 lists 127.0.0.1 and gets every write; node 0's own writes
 * still reach everyone (its links connect out). */
static void test_an_allow_list_refuses_other_addresses(void **state)
{
    (void)state;
    cw__allow away, here;
    char err[160];
    assert_int_equal(cw__allow_parse(&away, "10.0.0.0/8", err, sizeof err), CW_OK);
    assert_int_equal(cw__allow_parse(&here, "127.0.0.1,::1", err, sizeof err), CW_OK);
    cluster c;
    cluster_paths(&c, 3, false);
    const char *const v4_hosts[3] = {"127.0.0.1", "127.0.0.1", "127.0.0.1"};
    allow_option[0] = &away;
    allow_option[2] = &here;
    start_on_ports(&c, v4_hosts, NULL);
    allow_option[0] = allow_option[2] = NULL;
    put(c.s[0], "from0", "a");
    put(c.s[1], "from1", "b");
    await_value(c.s[1], "from0", "a");
    await_value(c.s[2], "from0", "a");
    await_value(c.s[2], "from1", "b");
    assert_true(await_above(refused, c.s[0], 0));
    sleep_ms(300);
    cw_read r;
    cw_read_init(&r);
    assert_int_equal(cw__server_read(c.s[0], "from1", 5, &r), CW_ENOTFOUND);
    cw_read_destroy(&r);
    assert_int_equal(refused(c.s[2]), 0);
    cluster_close(&c);
    /* Over IPv6: nodes on [::1], each listing ::1, and a node on every
     * address that lists 127.0.0.1 takes an IPv4 peer (its address comes
     * as ::ffff:127.0.0.1). */
    cw__allow v6, v4;
    assert_int_equal(cw__allow_parse(&v6, "::1", err, sizeof err), CW_OK);
    assert_int_equal(cw__allow_parse(&v4, "127.0.0.1", err, sizeof err), CW_OK);
    cluster_paths(&c, 3, false);
    const char *const mixed_hosts[3] = {"[::1]", "[::1]", "127.0.0.1"};
    const char *const mixed_binds[3] = {NULL, NULL, "*"}; /* node 2: every address, reached as 127.0.0.1 */
    allow_option[0] = allow_option[1] = &v6;
    allow_option[2] = &v4;
    start_on_ports(&c, mixed_hosts, mixed_binds);
    allow_option[0] = allow_option[1] = allow_option[2] = NULL;
    put(c.s[0], "v6", "a");
    put(c.s[2], "v4", "b");
    await_value(c.s[1], "v6", "a");
    await_value(c.s[2], "v6", "a");
    await_value(c.s[0], "v4", "b");
    await_value(c.s[1], "v4", "b");
    assert_int_equal(refused(c.s[0]) + refused(c.s[1]) + refused(c.s[2]), 0);
    cluster_close(&c);
}

/* A node whose writes a peer never confirms refuses writes once max_log of
 * them wait (backpressure, not loss), and says which peer they wait for and
 * when it last heard from it; when the peer is back every write accepted
 * before is everywhere and writes are taken again. */
static void test_full_log_refuses_then_recovers(void **state)
{
    (void)state;
    cluster c;
    max_log_option = 8;
    cluster_open(&c, 3, true);
    assert_int_equal(cw__server_write(c.s[2], "from2", 5, "v", 1, NULL, false, NULL), CW_OK);
    await_value(c.s[0], "from2", "v"); /* node 0 has heard from node 2 */
    stop_server(c.s[2]);
    c.s[2] = NULL;
    uint64_t accepted = 0;
    int rc = CW_OK;
    char key[32];
    for (int i = 0; i < 100 && rc == CW_OK; i++) {
        snprintf(key, sizeof key, "k%d", i);
        rc = cw__server_write(c.s[0], key, strlen(key), "v", 1, NULL, false, NULL);
        accepted += rc == CW_OK;
    }
    assert_int_equal(rc, CW_ESTALLED);
    assert_int_equal(accepted, 8);
    /* Named once stability has waited two report intervals for it. */
    cw__peer_word w = {.heard = false, .silence_ns = 0};
    uint32_t waits = CW_NODE_NONE;
    for (uint64_t until = now_ms() + 5000; (waits = cw__server_waits_for(c.s[0], &w)) == CW_NODE_NONE &&
                                           now_ms() < until;)
        sleep_ms(10);
    assert_int_equal(waits, 2);
    assert_true(w.heard);
    sleep_ms(200);
    cw__peer_word words[3];
    cw__server_peer_words(c.s[0], words);
    cw__peer_word later = words[2];
    assert_true(later.heard);
    assert_true(later.silence_ns >= w.silence_ns + 150000000u); /* nothing came meanwhile */
    assert_true(words[1].heard);
    assert_true(words[0].heard && words[0].silence_ns == 0); /* the node itself */
    /* Node 2 comes back without its state, joins, and confirms. */
    start(&c, 2, false);
    uint64_t deadline = now_ms() + 10000;
    while ((rc = cw__server_write(c.s[0], "after", 5, "v", 1, NULL, false, NULL)) == CW_ESTALLED &&
           now_ms() < deadline)
        sleep_ms(10);
    assert_int_equal(rc, CW_OK);
    for (uint64_t i = 0; i < accepted; i++) {
        snprintf(key, sizeof key, "k%llu", (unsigned long long)i);
        await_value(c.s[2], key, "v");
        await_value(c.s[1], key, "v");
    }
    await_value(c.s[2], "after", "v");
    for (uint64_t until = now_ms() + 5000; (waits = cw__server_waits_for(c.s[0], &w)) != CW_NODE_NONE &&
                                           now_ms() < until;)
        sleep_ms(10);
    assert_int_equal(waits, CW_NODE_NONE);
    cw__server_peer_words(c.s[0], words);
    assert_true(words[2].silence_ns < later.silence_ns); /* heard again */
    max_log_option = 0;
    cluster_close(&c);
}

/* A node answers a joiner's request by sending a copy of its store after it
 * lets its lock go (server.c invariant 7), with the joiner's link lent to
 * that copy; its clients' writes go on meanwhile, and those the lent link
 * did not carry reach the joiner later (it pulls them). Node 0 holds
 * JOIN_KEYS keys; a thread writes at node 0 while node 2 restarts without
 * state and joins, and for as long again after. Writes were dropped for
 * the lent link (node 0's link_full rose: a build that sent them into the
 * copy's message broke the copy, and one that never gave the link back
 * left node 2 behind), and node 2 ends with every one of node 0's writes. */
#define JOIN_KEYS 10000

typedef struct join_writer {
    cw__server *s;
    _Atomic bool stop;
    uint64_t last;   /* the seq of its last write */
    int failed;      /* a write's code other than CW_OK, or CW_OK */
} join_writer;

static void *write_during_join(void *arg)
{
    join_writer *w = arg;
    char key[32];
    for (int i = 0; !atomic_load(&w->stop) && w->failed == CW_OK; i++) {
        snprintf(key, sizeof key, "w%d", i % 100);
        cw_vclock clock;
        cw_vclock_init(&clock);
        w->failed = cw__server_write(w->s, key, strlen(key), "during", 6, NULL, false, &clock);
        if (w->failed == CW_OK)
            w->last = cw_vclock_get(&clock, 0);
        cw_vclock_destroy(&clock);
    }
    return NULL;
}

static void test_writes_go_on_while_a_peer_joins(void **state)
{
    (void)state;
    cluster c;
    cluster_open(&c, 3, true);
    char key[32];
    for (int i = 0; i < JOIN_KEYS; i++) {
        snprintf(key, sizeof key, "k%d", i);
        put(c.s[0], key, "v");
    }
    snprintf(key, sizeof key, "k%d", JOIN_KEYS - 1);
    await_value(c.s[2], key, "v");
    stop_server(c.s[2]);
    c.s[2] = NULL;
    /* Node 1 keeps node 0's writes from now on: node 0's state is the
     * larger, so node 2 takes node 0's copy (of two peers with the same
     * state it takes the first head that comes). */
    assert_int_equal(cw__server_link(c.s[1], 0, 1, CW__LINK_HOLD), CW_OK);
    put(c.s[0], "ahead", "v");
    cw__server_stats before;
    cw__server_get_stats(c.s[0], &before);
    join_writer w = {.s = c.s[0], .failed = CW_OK};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, write_during_join, &w), 0);
    uint64_t t0 = now_ms();
    char err[200];
    int started = start_rc(&c, 2, false, err, sizeof err);
    while (started == CW_OK && joining(c.s[2]) && now_ms() < t0 + 10000)
        sleep_ms(1);
    bool joined = started == CW_OK && !joining(c.s[2]);
    if (joined)
        sleep_ms(now_ms() - t0 + 50);
    atomic_store(&w.stop, true);
    pthread_join(t, NULL); /* before any assert: a failed case's teardown stops node 0, which it writes to */
    if (started != CW_OK)
        fail_msg("server 2: %s (%s)", cw_strerror(started), err);
    assert_true(joined);
    assert_int_equal(w.failed, CW_OK);
    assert_true(w.last > JOIN_KEYS);
    uint64_t deadline = now_ms() + 10000;
    while (stats_of(c.s[0]).join_copies < 1 && now_ms() < deadline) /* counted once sent (await_copies) */
        sleep_ms(5);
    cw__server_stats after = stats_of(c.s[0]);
    assert_int_equal(after.join_copies, 1);
    assert_true(after.link_full > before.link_full);
    assert_int_equal(cw__server_link(c.s[1], 0, 1, CW__LINK_RELEASE), CW_OK);
    deadline = now_ms() + 10000;
    while (look(c.s[2]).counters[0] < w.last && now_ms() < deadline)
        sleep_ms(5);
    assert_int_equal(look(c.s[2]).counters[0], w.last);
    assert_int_equal(look(c.s[2]).keys, look(c.s[0]).keys);
    cluster_close(&c);
}

/* Sends raw parts to node 0's ROUTER as `name` (no CURVE). */
static void poke(cluster *c, const char *name, const void *const *parts, const size_t *lens, int n)
{
    void *ctx = zmq_ctx_new();
    void *d = dealer(ctx, name, strlen(name), 500);
    assert_int_equal(zmq_connect(d, c->ep[0]), 0);
    for (int i = 0; i < n; i++)
        assert_true(zmq_send(d, parts[i], lens[i], i + 1 < n ? ZMQ_SNDMORE : 0) >= 0);
    sleep_ms(100);
    zmq_close(d);
    zmq_ctx_term(ctx);
}

/* Three fresh nodes; node `writer` writes key=value, seen at node 0; then
 * node 2 stops, so that a test can speak in its name (poke: with
 * ZMQ_ROUTER_HANDOVER a second connection under a live peer's name
 * displaces the first). */
static void open_without_node2(cluster *c, uint32_t writer, const char *key, const char *value)
{
    cluster_open(c, 3, true);
    put(c->s[writer], key, value);
    await_value(c->s[0], key, value);
    stop_server(c->s[2]);
    c->s[2] = NULL;
}

/* Hostile messages on the replication endpoint: a snapshot answer nobody
 * asked for with a part of the wrong size and parts after it, a join request
 * of the wrong size, a multipart link frame, bytes that are no frame. None
 * leaves the node reading out of step: it keeps replicating and stops at
 * once. Node 2 is down while its name is borrowed: with ZMQ_ROUTER_HANDOVER
 * a second connection under a live peer's name displaces the first, and
 * ZeroMQ renames what arrived on the displaced one, so it would count as a
 * stranger's message instead of reaching the parser. */
/* A process flooding head requests in a peer's name is answered at most
 * once every HEAD_ANSWER_NS (100 ms: server.c): each answer starts the
 * peer's stability round over if its old word was heard, and a flood must
 * not keep that round from closing. */
static void test_head_requests_are_answered_at_a_bounded_rate(void **state)
{
    (void)state;
    cluster c;
    open_without_node2(&c, 0, "a", "0");
    void *ctx = zmq_ctx_new();
    void *d = dealer(ctx, "cw-node-2", 9, 0);
    assert_int_equal(zmq_connect(d, c.ep[0]), 0);
    uint8_t h[9] = {'H', 0, 0, 0, 0, 0, 0, 0, 1};
    uint64_t t0 = now_ms();
    int sent = 0;
    while (now_ms() - t0 < 1000) {
        sent += zmq_send(d, h, sizeof h, ZMQ_DONTWAIT) == (int)sizeof h;
        if (sent % 64 == 0)
            sleep_ms(1);
    }
    uint64_t elapsed = now_ms() - t0;
    sleep_ms(200);
    uint64_t answered = stats_of(c.s[0]).join_heads;
    assert_true(sent > 100);
    assert_true(answered >= 1);
    assert_true(answered <= (elapsed + 200) / 100 + 2);
    zmq_close(d);
    zmq_ctx_term(ctx);
    cluster_close(&c);
}

/* The chosen peer's whole state holds less than its head did (it
 * restarted without state in between): the joiner does not install it,
 * and asks every peer again. Node 1 is played by raw sockets: its first
 * head says {2, 5, 0}, more than node 0's {2, 0, 0}; its whole answer is
 * empty, and from then on its heads are too. The joiner ends with node 0's
 * state; had it installed the empty copy, node 0's writes, stable before,
 * would be in no log to pull. */
static void test_a_copy_smaller_than_its_head_is_not_installed(void **state)
{
    (void)state;
    cluster c;
    cluster_paths(&c, 3, false);
    start(&c, 0, true);
    put(c.s[0], "a", "1");
    put(c.s[0], "b", "1");
    raw_peer r = raw_open(&c, 1, 2);
    void *router = r.router, *d = r.d;
    start(&c, 2, false);
    bool emptied = false;
    uint64_t deadline = now_ms() + 10000;
    while (joining(c.s[2]) && now_ms() < deadline) {
        uint8_t b[16];
        int len = raw_take(router, 20, b);
        if (len != 9 || (b[0] != 'H' && b[0] != 'J'))
            continue;
        const uint64_t first[3] = {2, 5, 0}, none[3] = {0, 0, 0};
        uint64_t nonce = cw__load_be(b + 1, 8);
        if (b[0] == 'H')
            raw_answer(d, emptied ? none : first, 3, 0, nonce, RAW_HEAD_ONLY, 0, false);
        else
            raw_answer(d, none, 3, 0, nonce, RAW_WHOLE, 0, false);
        emptied |= b[0] == 'J';
    }
    assert_true(emptied);
    assert_false(joining(c.s[2]));
    assert_int_equal(look(c.s[2]).counters[0], 2);
    await_value(c.s[2], "a", "1");
    raw_close(&r);
    cluster_close(&c);
}

static void test_hostile_link_messages(void **state)
{
    (void)state;
    cluster c;
    open_without_node2(&c, 2, "before", "0");
    const void *join[] = {"J"};
    size_t join_len[] = {1};
    poke(&c, "cw-node-2", join, join_len, 1);
    const void *head_req[] = {"H\0\0\0\0\0\0\0\0\0"}; /* a head request a byte too long */
    size_t head_req_len[] = {10};
    poke(&c, "cw-node-2", head_req, head_req_len, 1);
    const void *multi[] = {"\0abc", "\0def"};
    size_t multi_len[] = {4, 4};
    poke(&c, "cw-node-2", multi, multi_len, 2);
    const void *junk[] = {"\x07\x01\x02\x03"};
    size_t junk_len[] = {4};
    poke(&c, "cw-node-2", junk, junk_len, 1);
    poke(&c, "cw-node-9", junk, junk_len, 1); /* not a peer at all */
    assert_true(await_above(malformed, c.s[0], 3));
    assert_true(await_above(refused, c.s[0], 0));
    /* A well-formed first copy of node 1's write, sent by node 2: refused as
     * a peer speaking for another, not counted as malformed. */
    cw_hlc_timestamp ts = {1700000000000u, 0, 1};
    uint64_t clock[3] = {0, 7, 0};
    cw_msg *forged;
    assert_int_equal(cw_msg_create(&forged, 1, &ts, clock, 3, "k", 1, "v", 1), CW_OK);
    uint8_t frame[128] = {0}; /* tag 0: a whole frame, then the codec's bytes */
    size_t flen;
    assert_int_equal(cw_msg_encode(forged, frame + 1, sizeof frame - 1, &flen), CW_OK);
    cw_msg_unref(forged);
    const void *forged_part[] = {frame};
    size_t forged_len[] = {flen + 1};
    uint64_t refused_before = refused(c.s[0]), malformed_before = malformed(c.s[0]);
    poke(&c, "cw-node-2", forged_part, forged_len, 1);
    assert_true(await_above(refused, c.s[0], refused_before));
    assert_int_equal(malformed(c.s[0]), malformed_before);
    /* A retransmitted copy of node 0's own write, relayed by node 2: it
     * decodes, and the replica refuses it: counted as malformed. */
    uint64_t own_clock[3] = {9, 0, 0};
    cw_msg *own, *copy;
    assert_int_equal(cw_msg_create(&own, 0, &ts, own_clock, 3, "k", 1, "v", 1), CW_OK);
    assert_int_equal(cw__msg_retransmission(&copy, own, 0), CW_OK);
    cw_msg_unref(own);
    assert_int_equal(cw_msg_encode(copy, frame + 1, sizeof frame - 1, &flen), CW_OK);
    cw_msg_unref(copy);
    forged_len[0] = flen + 1;
    refused_before = refused(c.s[0]);
    poke(&c, "cw-node-2", forged_part, forged_len, 1);
    assert_true(await_above(malformed, c.s[0], malformed_before));
    assert_int_equal(refused(c.s[0]), refused_before);
    /* Node 0 still reads in step: node 1's write arrives, and node 2 joins
     * again from both and replicates. */
    put(c.s[1], "after", "1");
    await_value(c.s[0], "after", "1");
    start(&c, 2, false);
    put(c.s[2], "after2", "2");
    await_value(c.s[0], "after2", "2");
    await_value(c.s[2], "after", "1");
    /* Last, with nothing after it: a snapshot answer whose first part has
     * the wrong size, and one part after it. Left unread, that part would be
     * taken for the next message's routing id, and the loop would wait for
     * a part that never comes: the stop below would never end. */
    stop_server(c.s[2]);
    c.s[2] = NULL;
    const void *snap[] = {"S", "xx", "junk"};
    size_t snap_len[] = {1, 2, 4};
    uint64_t before = malformed(c.s[0]);
    poke(&c, "cw-node-2", snap, snap_len, 3);
    assert_true(await_above(malformed, c.s[0], before));
    uint64_t t0 = now_ms();
    cluster_close(&c);
    assert_true(now_ms() - t0 < 2000);
}

/* What node 0's fault layer does with the first copy of node `origin`'s
 * write seq as it arrives from its origin (fault_option's faults; fault.c
 * invariant 1: the seed decides). */
typedef enum fate { AT_ONCE, DELAYED, DROPPED } fate;

static void count_delivery(void *host, uint32_t lane, cw__route r)
{
    (void)lane;
    (void)r;
    ++*(int *)host;
}

/* How long a write of `fate` DELAYED is delayed, in us, in *delay_us. */
static fate fate_of(cw_node_id origin, uint64_t seq, uint32_t nodes, uint32_t *delay_us)
{
    cw__fault_options fo = {fault_option.fault_seed, fault_option.drop_probability, fault_option.delay_probability,
                            fault_option.max_delay_us, 0};
    int delivered = 0;
    cw__faults f;
    assert_int_equal(cw__faults_init(&f, &fo, 1, count_delivery, &delivered), CW_OK);
    uint64_t clock[MAXN] = {0};
    clock[origin] = seq;
    cw_msg *m;
    assert_int_equal(cw_msg_create(&m, origin, &(cw_hlc_timestamp){1, 0, origin}, clock, nodes, "k", 1, "v", 1),
                     CW_OK);
    cw__route r = {.msg = m, .to = 0, .sender_known = true, .sender = origin};
    fate fa = AT_ONCE;
    if (cw__faults_dropped_here(&f, 0, r)) {
        fa = DROPPED;
    } else {
        r.drop_drawn = true; /* as a node's arrival is routed (server.c, arrive) */
        uint64_t before = cw__now_ns();
        cw__faults_route(&f, 0, r, true);
        if (!delivered) {
            fa = DELAYED;
            *delay_us = (uint32_t)((f.lane[0].delayed[0].due_ns - before) / 1000u);
        }
    }
    cw_msg_unref(m);
    cw__faults_destroy(&f);
    return fa;
}

/* Sends node origin's write seq, made after `clock` (its own entry is
 * seq), to node 0 on d: a whole link frame, as origin's process would. */
static void send_write_on(void *d, cw_node_id origin, uint64_t seq, const uint64_t *clock, uint32_t nodes)
{
    uint64_t c[MAXN];
    memcpy(c, clock, nodes * sizeof *c);
    c[origin] = seq;
    cw_msg *m;
    assert_int_equal(cw_msg_create(&m, origin, &(cw_hlc_timestamp){1700000000000u, 0, origin}, c, nodes, "k", 1,
                                   "v", 1),
                     CW_OK);
    uint8_t frame[256] = {0}; /* tag 0: a whole frame, then the codec's bytes */
    size_t len;
    assert_int_equal(cw_msg_encode(m, frame + 1, sizeof frame - 1, &len), CW_OK);
    cw_msg_unref(m);
    assert_int_equal(zmq_send(d, frame, len + 1, 0), (int)len + 1);
}

/* A DEALER in node j's name connected to node 0 (no CURVE), on ctx. */
static void *peer_dealer(void *ctx, cluster *c, uint32_t j)
{
    char id[16];
    int id_len = snprintf(id, sizeof id, "cw-node-%u", j);
    void *d = dealer(ctx, id, (size_t)id_len, 0);
    assert_int_equal(zmq_connect(d, c->ep[0]), 0);
    return d;
}

static void node_stats_of(void *ctx, cw_node *n) { assert_int_equal(cw_node_get_stats(n, ctx), CW_OK); }

/* The replica's statistics (cw_node_stats) of s. */
static cw_node_stats node_stats(cw__server *s)
{
    cw_node_stats st;
    cw__server_with_node(s, node_stats_of, &st);
    return st;
}

static uint64_t pulls(cw__server *s) { return node_stats(s).pulls; }

/* Waits up to ms for s's buffer to hold `want` writes. */
static bool buffered_within(cw__server *s, uint64_t want, unsigned ms)
{
    for (uint64_t deadline = now_ms() + ms; look(s).buffered != want;) {
        if (now_ms() > deadline)
            return false;
        sleep_ms(1);
    }
    return true;
}

/* Waits up to ms for node `origin`'s writes applied at s to reach `want`. */
static bool applied_within(cw__server *s, cw_node_id origin, uint64_t want, unsigned ms)
{
    for (uint64_t deadline = now_ms() + ms; look(s).counters[origin] < want;) {
        if (now_ms() > deadline)
            return false;
        sleep_ms(1);
    }
    return true;
}

/* Waits up to ms for s to have sent more than `floor` pulls. */
static bool pulled_within(cw__server *s, uint64_t floor, unsigned ms)
{
    for (uint64_t deadline = now_ms() + ms; pulls(s) <= floor;) {
        if (now_ms() > deadline)
            return false;
        sleep_ms(1);
    }
    return true;
}

/* Node 0 (a process of its own) with node 1's and node 2's links played by
 * raw DEALERs, a 30 s recovery timeout and the faults of fault_option: a
 * pull within seconds is one the loss signal made. */
typedef struct signal_rig {
    cluster c;
    void *ctx, *d[3];
} signal_rig;

static void rig_open(signal_rig *g, uint32_t nodes)
{
    cluster_paths(&g->c, nodes, false);
    recovery_timeout_option = 30000000000u;
    start(&g->c, 0, true);
    recovery_timeout_option = 0;
    g->ctx = zmq_ctx_new();
    for (uint32_t j = 1; j < nodes; j++)
        g->d[j] = peer_dealer(g->ctx, &g->c, j);
}

static void rig_close(signal_rig *g)
{
    for (uint32_t j = 1; j < g->c.n; j++)
        zmq_close(g->d[j]);
    zmq_ctx_term(g->ctx);
    cluster_close(&g->c);
    fault_option = (cw__server_options){0};
}

/* A delayed copy comes later than what was sent after it, so it does not
 * show a loss (server.c invariant 8): node 1's write 1 is delayed on its
 * way into node 0, write 2 dropped, and write 1 applied once its delay is
 * over; the loss is still shown by write 3, which comes at once: node 0
 * pulls write 2 then, not after its 30 s timeout. (Were the word taken by
 * the delayed write 1, which shows no gap, write 3 would wait for it.) */
static void test_a_delayed_write_leaves_the_loss_signal_to_the_next(void **state)
{
    (void)state;
    fault_option.drop_probability = 0.3;
    fault_option.delay_probability = 0.3;
    fault_option.max_delay_us = 1000000;
    uint32_t delay_us = 0;
    /* The first seed that delays write 1 for 200 ms or more, drops write 2
     * and delivers write 3 at once. */
    while (fate_of(1, 1, 2, &delay_us) != DELAYED || delay_us < 200000 || fate_of(1, 2, 2, &delay_us) != DROPPED ||
           fate_of(1, 3, 2, &delay_us) != AT_ONCE)
        fault_option.fault_seed++;
    signal_rig g;
    rig_open(&g, 2);
    uint64_t none[MAXN] = {0};
    send_write_on(g.d[1], 1, 1, none, 2);
    send_write_on(g.d[1], 1, 2, none, 2);
    assert_true(applied_within(g.c.s[0], 1, 1, 5000)); /* write 1, out of its delay */
    uint64_t before = pulls(g.c.s[0]);
    send_write_on(g.d[1], 1, 3, none, 2);
    assert_true(pulled_within(g.c.s[0], before, 5000));
    rig_close(&g);
}

/* A write that shows a loss but that the replica cannot take (its buffer is
 * full) passes the word to the next (server.c, take_at_once): node 1's
 * write 1 is dropped on its way into node 0, whose one buffer slot holds
 * node 2's write 2; node 1's write 2, which shows the loss, is refused.
 * Once node 2's write 1 has emptied the buffer, node 1's write 3 shows the
 * loss and node 0 pulls at once, not after its 30 s timeout. */
static void test_a_refused_write_passes_the_loss_signal_on(void **state)
{
    (void)state;
    fault_option.drop_probability = 0.3;
    uint32_t unused;
    /* The first seed that drops node 1's write 1 and none of the others. */
    while (fate_of(1, 1, 3, &unused) != DROPPED || fate_of(1, 2, 3, &unused) != AT_ONCE ||
           fate_of(1, 3, 3, &unused) != AT_ONCE || fate_of(2, 1, 3, &unused) != AT_ONCE ||
           fate_of(2, 2, 3, &unused) != AT_ONCE)
        fault_option.fault_seed++;
    max_buffered_option = 1;
    signal_rig g;
    rig_open(&g, 3);
    max_buffered_option = 0;
    uint64_t none[MAXN] = {0};
    send_write_on(g.d[2], 2, 2, none, 3); /* waits for node 2's write 1 */
    assert_true(buffered_within(g.c.s[0], 1, 5000));
    send_write_on(g.d[1], 1, 1, none, 3); /* dropped */
    send_write_on(g.d[1], 1, 2, none, 3); /* shows the loss, and is refused */
    for (uint64_t deadline = now_ms() + 5000; node_stats(g.c.s[0]).rejected_full < 1;) {
        assert_true(now_ms() < deadline);
        sleep_ms(1);
    }
    send_write_on(g.d[2], 2, 1, none, 3);
    assert_true(applied_within(g.c.s[0], 2, 2, 5000));
    assert_int_equal(look(g.c.s[0]).buffered, 0);
    uint64_t before = pulls(g.c.s[0]);
    send_write_on(g.d[1], 1, 3, none, 3);
    assert_true(pulled_within(g.c.s[0], before, 5000));
    assert_int_equal(look(g.c.s[0]).counters[1], 0);
    rig_close(&g);
}

/* A pull from the wire asks for up to 256 writes, however large. Node 0's
 * link to node 2 (gone) is full with 75 MiB of its writes of 512 KiB: 20
 * pulls in node 2's name are answered with nothing, not with 20 x 150
 * copies made and encoded under the node's lock only to be lost. */
static void test_pulls_for_a_full_link_make_no_copies(void **state)
{
    (void)state;
    cluster c;
    open_without_node2(&c, 0, "before", "0");
    enum { WRITES = 150, VALUE = 512 << 10, PULLS = 20 };
    char *value = malloc(VALUE + 1);
    assert_non_null(value);
    memset(value, 'x', VALUE);
    value[VALUE] = 0;
    for (int i = 0; i < WRITES; i++)
        put(c.s[0], "big", value);
    free(value);
    cw_msg *pull;
    assert_int_equal(cw__msg_pull(&pull, 3, 2, 0, 0, 2, UINT64_MAX), CW_OK); /* the large writes */
    uint8_t batch[1 + PULLS * 32];
    size_t len = 1, flen;
    batch[0] = 'B';
    for (int i = 0; i < PULLS; i++) { /* [len][tag 0, a whole frame][the codec's bytes] */
        assert_int_equal(cw_msg_encode(pull, batch + len + 2, sizeof batch - len - 2, &flen), CW_OK);
        batch[len] = (uint8_t)(flen + 1);
        batch[len + 1] = 0;
        len += flen + 2;
    }
    cw_msg_unref(pull);
    uint64_t before = stats_of(c.s[0]).received;
    const void *parts[] = {batch};
    size_t lens[] = {len};
    poke(&c, "cw-node-2", parts, lens, 1);
    uint64_t deadline = now_ms() + 10000;
    while (stats_of(c.s[0]).received < before + PULLS && now_ms() < deadline)
        sleep_ms(5);
    assert_true(stats_of(c.s[0]).received >= before + PULLS);
    assert_int_equal(node_stats(c.s[0]).retransmitted, 0);
    /* Node 1's link is not full: it is answered. */
    put(c.s[0], "after", "1");
    await_value(c.s[1], "after", "1");
    cluster_close(&c);
}

/* A report in which a peer claims node 1 made 2^64 - 1 writes (a buggy or
 * hostile peer: nobody applied them) does not keep node 1 out once it
 * restarts without state: a joining node's peers tell it the last seq they
 * hold (applied or buffered), not the last one someone named. Before, node 0
 * answered 2^64 - 1, which node 1 refuses as malformed: it asked for ever. */
static void test_absurd_report_does_not_keep_a_restarted_node_out(void **state)
{
    (void)state;
    cluster c;
    open_without_node2(&c, 1, "a", "1");
    /* A whole frame: a report from node 2, {1: 2^64 - 1}. */
    const uint8_t report[] = {0, 2, 2, 0, 0, 2, 0, 0, 0, 1, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    const void *parts[] = {report};
    size_t lens[] = {sizeof report};
    uint64_t before = malformed(c.s[0]);
    poke(&c, "cw-node-2", parts, lens, 1);
    assert_int_equal(malformed(c.s[0]), before); /* a well-formed report */
    start(&c, 2, false);
    restart(&c, 1);
    assert_int_equal(put(c.s[1], "a", "2"), 2);
    await_value(c.s[0], "a", "2");
    await_value(c.s[2], "a", "2");
    cluster_close(&c);
}

/* Node `writer` of a 3-node cluster writes key=value; every node reads it. */
static void put_everywhere(cluster *c, uint32_t writer, const char *key, const char *value)
{
    put(c->s[writer], key, value);
    for (uint32_t i = 0; i < 3; i++)
        await_value(c->s[i], key, value);
}

/* One origin's entry in a node's stable clock: the node's log has let go
 * of that origin's writes up to it. */
typedef struct stable_view {
    cw_node_id origin;
    uint64_t seq;
} stable_view;

static void stable_of(void *ctx, cw_node *n)
{
    stable_view *v = ctx;
    cw_vclock st;
    cw_vclock_init(&st);
    v->seq = cw_node_stable(n, &st) == CW_OK ? cw_vclock_get(&st, v->origin) : 0;
    cw_vclock_destroy(&st);
}

static void await_stable(cw__server *s, cw_node_id origin, uint64_t seq)
{
    uint64_t deadline = now_ms() + 10000;
    for (;;) {
        stable_view v = {origin, 0};
        cw__server_with_node(s, stable_of, &v);
        if (v.seq >= seq)
            return;
        if (now_ms() > deadline)
            fail_msg("node %u: origin %u's seq %llu never stable", cw__server_self(s), origin,
                     (unsigned long long)seq);
        sleep_ms(5);
    }
}

/* A joining node answers a join request with its empty state (it must
 * answer: two nodes restarted at once each wait for the other). The joiner
 * must not install that state when a peer with the writes answers too,
 * even after it: a write stable before the restart is in no log any more,
 * so a node that installed nothing would never get it. Here node 0's answer
 * comes second for sure: it answered node 2's last process a moment ago
 * and answers one peer at most once a second (JOIN_ANSWER_NS), while node
 * 1, joining because node 2 is down, answers at once. */
static void test_a_joiner_takes_the_state_of_a_peer_that_has_it(void **state)
{
    (void)state;
    cluster c;
    cluster_open(&c, 3, true);
    put_everywhere(&c, 0, "a", "1");
    await_stable(c.s[0], 0, 1); /* node 0's log let go of it */
    stop_server(c.s[2]);
    start(&c, 2, false); /* node 0 answers node 2 now */
    await_value(c.s[2], "a", "1");
    stop_server(c.s[1]);
    stop_server(c.s[2]);
    c.s[1] = c.s[2] = NULL;
    start(&c, 1, false); /* joining until node 2 answers */
    start(&c, 2, false); /* node 1 answers at once, node 0 within about a second */
    await_value(c.s[2], "a", "1");
    await_value(c.s[1], "a", "1");
    assert_int_equal(put(c.s[2], "b", "2"), 1);
    await_value(c.s[0], "b", "2");
    cluster_close(&c);
}

/* What node s reads for key, for a failure's report: the first version's
 * value and dot. */
static const char *shown(cw__server *s, const char *key, char *out, size_t len)
{
    cw_read r;
    cw_read_init(&r);
    if (cw__server_read(s, key, strlen(key), &r) != CW_OK || r.count == 0)
        snprintf(out, len, "-");
    else
        snprintf(out, len, "%.*s (%u:%llu)%s", (int)r.versions[0].value_len, (const char *)r.versions[0].value,
                 r.versions[0].origin, (unsigned long long)r.versions[0].seq, r.count > 1 ? " +siblings" : "");
    cw_read_destroy(&r);
    return out;
}

/* Whether nodes a and b read the same versions (dots) of key. */
static bool same_versions(cw__server *a, cw__server *b, const char *key)
{
    cw_read r[2];
    cw_read_init(&r[0]);
    cw_read_init(&r[1]);
    int ra = cw__server_read(a, key, strlen(key), &r[0]), rb = cw__server_read(b, key, strlen(key), &r[1]);
    bool same = ra == rb && r[0].count == r[1].count;
    for (size_t x = 0; same && x < r[0].count; x++)
        same = r[0].versions[x].origin == r[1].versions[x].origin && r[0].versions[x].seq == r[1].versions[x].seq;
    cw_read_destroy(&r[0]);
    cw_read_destroy(&r[1]);
    return same;
}

/* Every node of a 3-node cluster ends with the same clock, nothing
 * buffered, and the same versions of each key. */
static void await_converged(cluster *c, const char *const *keys, size_t nkeys)
{
    uint64_t deadline = now_ms() + 10000;
    for (;;) {
        node_view v[3];
        bool same = true;
        for (uint32_t i = 0; i < 3; i++) {
            v[i] = look(c->s[i]);
            same &= v[i].buffered == 0 && memcmp(v[i].counters, v[0].counters, sizeof v[0].counters) == 0;
        }
        for (size_t k = 0; k < nkeys && same; k++)
            same = same_versions(c->s[0], c->s[1], keys[k]) && same_versions(c->s[0], c->s[2], keys[k]);
        if (same)
            return;
        if (now_ms() > deadline) {
            for (uint32_t i = 0; i < 3; i++) {
                print_message("node %u: clock %llu,%llu,%llu buffered %llu", i, (unsigned long long)v[i].counters[0],
                              (unsigned long long)v[i].counters[1], (unsigned long long)v[i].counters[2],
                              (unsigned long long)v[i].buffered);
                for (size_t k = 0; k < nkeys; k++) {
                    char out[64];
                    print_message(" %s=%s", keys[k], shown(c->s[i], keys[k], out, sizeof out));
                }
                print_message("\n");
            }
            fail_msg("the nodes did not converge in 10 s");
        }
        sleep_ms(10);
    }
}

/* A write of node 1's old process that its peers' fault layers keep (a held
 * link) has arrived there: the peers count it when they tell node 1's new
 * process which of its writes they hold, so the new process never numbers
 * a write with its seq. Before, they answered seq 1, node 1 wrote y as seq 2
 * too, and the nodes ended with the same clock but different writes under
 * (1, 2). */
static void test_a_held_write_of_the_old_process_keeps_its_seq(void **state)
{
    (void)state;
    cluster c;
    cluster_open(&c, 3, true);
    put_everywhere(&c, 1, "x", "base");
    assert_int_equal(cw__server_link(c.s[0], 1, 0, CW__LINK_HOLD), CW_OK);
    assert_int_equal(cw__server_link(c.s[2], 1, 2, CW__LINK_HOLD), CW_OK);
    assert_int_equal(put(c.s[1], "x", "old"), 2); /* reaches both peers, kept there */
    sleep_ms(100);
    restart(&c, 1);
    uint64_t heads = stats_of(c.s[0]).join_heads + stats_of(c.s[2]).join_heads, t0 = now_ms();
    sleep_ms(1000); /* node 1 has its answers, and asks again while the holds last */
    /* A round every JOIN_RETRY_NS (250 ms), a head request answered at most
     * every HEAD_ANSWER_NS (100 ms): a head from each peer a round, where
     * they answered thousands a second. */
    heads = stats_of(c.s[0]).join_heads + stats_of(c.s[2]).join_heads - heads;
    assert_true(heads <= 2 * ((now_ms() - t0) / 250 + 2));
    assert_true(joining(c.s[1]));
    assert_int_equal(cw__server_link(c.s[0], 1, 0, CW__LINK_RELEASE), CW_OK);
    assert_int_equal(cw__server_link(c.s[2], 1, 2, CW__LINK_RELEASE), CW_OK);
    assert_int_equal(put(c.s[1], "y", "new"), 3);
    const char *keys[] = {"x", "y"};
    await_converged(&c, keys, 2);
    await_value(c.s[1], "x", "old");
    cluster_close(&c);
}

/* Every node reads a=0; then node 0 is cut off from nodes 1 and 2 while
 * node 1 writes w=1 (its seq 1) and node 2 applies it: w is in node 1's and
 * node 2's logs only, and not stable. Then node 2 stops. */
static void write_w_behind_a_cut(cluster *c)
{
    put_everywhere(c, 0, "a", "0");
    assert_int_equal(cw__server_link(c->s[0], 1, 0, CW__LINK_CUT), CW_OK);
    assert_int_equal(cw__server_link(c->s[0], 2, 0, CW__LINK_CUT), CW_OK);
    assert_int_equal(put(c->s[1], "w", "1"), 1);
    await_value(c->s[2], "w", "1");
    stop_server(c->s[2]);
    c->s[2] = NULL;
}

/* A cut link at a node process loses the sender's retransmitted copies
 * too: node 0 cuts the link from node 1, node 1 writes w, node 2 applies w
 * and writes v after it (v reaches node 0 and waits there for w), then node
 * 2 stops. Node 1 is the only process left that holds w, and node 0 pulls
 * it from node 1: the answers cross the cut link, so w must not arrive
 * until the cut heals. Before, a copy answering a pull was not cut even
 * when the cut link's sender sent it, and node 0 applied w through the cut. */
static void test_a_cut_link_loses_the_senders_copies(void **state)
{
    (void)state;
    cluster c;
    cluster_open(&c, 3, true);
    put_everywhere(&c, 0, "a", "0");
    assert_int_equal(cw__server_link(c.s[0], 1, 0, CW__LINK_CUT), CW_OK);
    uint64_t w = put(c.s[1], "w", "1");
    await_value(c.s[2], "w", "1");
    put(c.s[2], "v", "2");
    uint64_t deadline = now_ms() + 10000;
    while (look(c.s[0]).buffered == 0) { /* v waits for w */
        if (now_ms() > deadline)
            fail_msg("v never reached node 0");
        sleep_ms(5);
    }
    stop_server(c.s[2]);
    c.s[2] = NULL;
    /* Many report intervals and recovery timeouts (20 ms each): node 0
     * asks node 1 for w over and over; none of its answers may arrive. */
    sleep_ms(600);
    node_view v = look(c.s[0]);
    assert_true(v.counters[1] < w);
    assert_int_equal(v.buffered, 1);
    assert_int_equal(cw__server_link(c.s[0], 1, 0, CW__LINK_HEAL), CW_OK);
    await_value(c.s[0], "w", "1");
    await_value(c.s[0], "v", "2");
    cluster_close(&c);
}

/* Ends write_w_behind_a_cut's cut, after node 1 wrote q: every node ends
 * with the same a, w and q, node 0 with w too. */
static void heal_and_converge(cluster *c)
{
    assert_int_equal(cw__server_link(c->s[0], 1, 0, CW__LINK_HEAL), CW_OK);
    assert_int_equal(cw__server_link(c->s[0], 2, 0, CW__LINK_HEAL), CW_OK);
    const char *keys[] = {"a", "w", "q"};
    await_converged(c, keys, 3);
    await_value(c->s[0], "w", "1");
}

/* A write not yet stable reaches a node that restarts without state with
 * its peer's log as well as its store: node 0 is cut off while node 1
 * writes w and node 2 applies it; node 2 restarts and installs node 1's
 * state, then node 1 restarts and installs node 2's. No process that
 * applied w itself is left, yet once the cut heals node 0 pulls w from a
 * log and the nodes converge. Before, an installed state came without a
 * log: node 0 never got w, and node 1's later write waited in its buffer
 * for good. */
static void test_a_joiner_takes_the_log_of_writes_not_yet_stable(void **state)
{
    (void)state;
    cluster c;
    cluster_open(&c, 3, true);
    write_w_behind_a_cut(&c);
    start(&c, 2, false);
    await_value(c.s[2], "w", "1"); /* installed from node 1 */
    restart(&c, 1);
    assert_int_equal(put(c.s[1], "q", "2"), 2); /* installed from node 2 */
    heal_and_converge(&c);
    cluster_close(&c);
}

/* A node that is joining tells a peer restarted meanwhile as much of the
 * peer's writes as the answers it has taken hold: it may install one of
 * them. Node 1's w (seq 1) is at node 2 only (node 0 is cut off). Node 2
 * restarts and takes node 1's answer, which holds w, then waits for node
 * 0's, due about a second later (node 0 answered node 2's name just
 * before). Node 1 restarts meanwhile: node 0 holds none of its writes, and
 * node 2, still joining, used to say it held none either, so node 1 wrote
 * q under seq 1 again while node 2 went on to install w under that dot.
 * Now node 1 joins once node 2 has w and gives q seq 2. */
static void test_a_joining_peer_tells_what_its_answers_hold(void **state)
{
    (void)state;
    cluster c;
    cluster_open(&c, 3, true);
    write_w_behind_a_cut(&c);
    const uint8_t join[9] = {'J', 0, 0, 0, 0, 0, 0, 0, 1};
    const void *parts[] = {join};
    size_t lens[] = {sizeof join};
    poke(&c, "cw-node-2", parts, lens, 1); /* node 0 answers node 2 next in a second */
    start(&c, 2, false);                   /* node 1 answers at once, with w */
    /* Counted from node 1's answer, not from node 2's start, which took
     * longer than the wait under ThreadSanitizer: node 1 then restarted
     * before node 2 had its answer, and w was lost with both processes.
     * (Since a joiner asks for heads first, node 0's one-second pace for
     * whole copies no longer holds node 2 back: on this host node 2 has
     * mostly joined by now, and the case is then not exercised.) */
    uint64_t deadline = now_ms() + 10000;
    while (stats_of(c.s[1]).join_heads + stats_of(c.s[1]).join_copies == 0 && now_ms() < deadline)
        sleep_ms(5);
    sleep_ms(100);
    if (!joining(c.s[2])) /* a stall of a second (a loaded host): the order this needs passed */
        print_message("node 2 joined already: the case is not exercised this run\n");
    restart(&c, 1);
    uint64_t seq = put(c.s[1], "q", "2");
    if (seq == 2) {
        heal_and_converge(&c);
    } else {
        /* A slow host (ThreadSanitizer in CI): node 2 began a new round
         * (every 250 ms) before node 1 restarted, which forgets the answers
         * it took, so no live process held w and seq 1 was free again. Then
         * w must be gone everywhere: a node 2 that installed w (1.1) beside
         * q (1.1) is the bug this test is for, and the nodes would differ. */
        print_message("node 2 forgot w with its round (seq %llu): the case is not exercised this run\n",
                      (unsigned long long)seq);
        assert_int_equal(seq, 1);
        assert_int_equal(cw__server_link(c.s[0], 1, 0, CW__LINK_HEAL), CW_OK);
        assert_int_equal(cw__server_link(c.s[0], 2, 0, CW__LINK_HEAL), CW_OK);
        const char *keys[] = {"a", "w", "q"};
        await_converged(&c, keys, 3);
        char out[64];
        assert_string_equal(shown(c.s[0], "w", out, sizeof out), "-");
    }
    cluster_close(&c);
}

/* Node 1, played by the test, answers node 0's join with a state holding
 * x = (1:1), which node 2 never gets: with a head of an earlier release (no
 * log), or of this one with a log that does not fit its clock (a write
 * above it). Node 0 installs that state (it holds the most writes) without
 * a log, and must take none of it as stable: x is not at node 2. Before,
 * it took x as stable at once (the earlier release's answer), or after a
 * restart from its directory (the log that did not fit: the saved stable
 * clock was read but not given back to the replica). */
static void joins_from_a_state_without_its_log(bool durable)
{
    cluster c;
    cluster_paths(&c, 3, durable);
    raw_peer r = raw_open(&c, 1, 0); /* node 1 is the test */
    void *router = r.router, *d = r.d;
    start(&c, 2, true);
    start(&c, 0, false); /* joins */
    uint64_t nonce = raw_request(router, 'J');
    uint64_t clock[3] = {0, 1, 0}, above[3] = {0, 2, 0};
    cw_hlc_timestamp ts = {1, 0, 1}, ts2 = {2, 0, 1};
    cw_msg *x, *beyond;
    assert_int_equal(cw_msg_create(&x, 1, &ts, clock, 3, "x", 1, "1", 1), CW_OK);
    assert_int_equal(cw_msg_create(&beyond, 1, &ts2, above, 3, "x", 1, "2", 1), CW_OK);
    uint8_t xb[256], bb[256];
    size_t xl, bl;
    assert_int_equal(cw_msg_encode(x, xb, sizeof xb, &xl), CW_OK);
    assert_int_equal(cw_msg_encode(beyond, bb, sizeof bb, &bl), CW_OK);
    cw_msg_unref(x);
    cw_msg_unref(beyond);
    raw_answer(d, clock, 3, 0, nonce, durable ? RAW_WHOLE : RAW_EARLIER, 1, true);
    assert_true(zmq_send(d, xb, xl, durable ? ZMQ_SNDMORE : 0) >= 0);
    if (durable)
        assert_true(zmq_send(d, bb, bl, 0) >= 0); /* the log: a write above the clock */
    await_value(c.s[0], "x", "1");
    stable_view v = {1, 0};
    cw__server_with_node(c.s[0], stable_of, &v);
    assert_int_equal(v.seq, 0);
    if (durable) {
        restart(&c, 0); /* from its directory */
        assert_false(joining(c.s[0]));
        cw__server_with_node(c.s[0], stable_of, &v);
        assert_int_equal(v.seq, 0);
    }
    assert_int_equal(look(c.s[2]).counters[1], 0);
    raw_close(&r);
    cluster_close(&c);
}

static void test_an_answer_without_a_log_takes_nothing_as_stable(void **state)
{
    (void)state;
    joins_from_a_state_without_its_log(false);
}

static void test_a_restart_keeps_the_saved_stable_clock(void **state)
{
    (void)state;
    joins_from_a_state_without_its_log(true);
}

/* The snapshot answers node 0 sends to node 2's endpoint (a ROUTER the
 * test binds there) within ms milliseconds. */
static int snapshots_within(void *router, unsigned ms)
{
    int count = 0;
    uint64_t deadline = now_ms() + ms;
    while (now_ms() < deadline) {
        zmq_pollitem_t item = {router, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, 50) <= 0)
            continue;
        bool first = true, snapshot = false;
        for (int more = 1; more;) { /* [routing id][channel][...] */
            zmq_msg_t part;
            zmq_msg_init(&part);
            assert_true(zmq_msg_recv(&part, router, 0) >= 0);
            if (!first && !snapshot && zmq_msg_size(&part) == 1 && *(char *)zmq_msg_data(&part) == 'S')
                snapshot = true;
            first = false;
            more = zmq_msg_more(&part);
            zmq_msg_close(&part);
        }
        count += snapshot;
    }
    return count;
}

/* A joiner asks every 250 ms until its answer comes; a store copy may take
 * longer than that to reach it. Node 0 answers one round (nonce) once, not
 * once a second: each copy waited in its memory beside the others (one
 * store copy a second, for as long as the joiner read slowly). A new round
 * is answered (after a second). */
static void test_a_join_round_is_answered_once(void **state)
{
    (void)state;
    cluster c;
    open_without_node2(&c, 0, "a", "1");
    char path[200];
    snprintf(path, sizeof path, "%s/node2", c.dir);
    unlink(path);
    raw_peer r = raw_open(&c, 2, 0); /* node 0's answers to node 2 come to r.router */
    void *router = r.router, *d = r.d;
    uint8_t join[9] = {'J', 0, 0, 0, 0, 0, 0, 0, 7};
    int answers = 0;
    for (int i = 0; i < 10; i++) { /* 2.5 s of one round's requests */
        assert_true(zmq_send(d, join, sizeof join, 0) == sizeof join);
        answers += snapshots_within(router, 250);
    }
    answers += snapshots_within(router, 300);
    assert_int_equal(answers, 1);
    join[8] = 8; /* the next round */
    assert_true(zmq_send(d, join, sizeof join, 0) == sizeof join);
    assert_int_equal(snapshots_within(router, 1500), 1);
    raw_close(&r);
    cluster_close(&c);
}

/* Durable state (--data): a node stopped and started again on its
 * directory serves at once (no joining: it knows its own last seq), holds
 * every write it answered, goes on with its own counter, and catches up on
 * what its peers wrote while it was away; a peer that was away catches up
 * from it. */
static void test_durable_restart_takes_its_state_back(void **state)
{
    (void)state;
    cluster c;
    cluster_open_durable(&c, 3);
    char key[32];
    uint64_t last = 0;
    for (int i = 0; i < 40; i++) {
        snprintf(key, sizeof key, "k%d", i);
        last = put(c.s[0], key, "v0");
    }
    put(c.s[1], "from1", "v1");
    /* Keys past LMDB's key size are kept under a prefix and a hash: two
     * that share the prefix stay apart. */
    static char long_a[2000], long_b[2000];
    memset(long_a, 'a', sizeof long_a - 1);
    memcpy(long_b, long_a, sizeof long_b);
    long_b[sizeof long_b - 2] = 'b';
    put(c.s[0], long_a, "A");
    last = put(c.s[0], long_b, "B");
    await_value(c.s[0], "from1", "v1");
    await_value(c.s[2], "k39", "v0");
    stop_server(c.s[0]);
    c.s[0] = NULL;
    put(c.s[1], "while-away", "v1"); /* node 0 misses it */
    start(&c, 0, false);
    assert_false(joining(c.s[0]));
    /* Writes wait to hear both peers (invariant 4b), then go on: no seq
     * reused, none skipped. The wait ended on both peers' answers to its
     * head requests, not at its 1 s bound. */
    assert_int_equal(put(c.s[0], "next", "n"), last + 1);
    assert_int_equal(stats_of(c.s[0]).verify_timeouts, 0);
    for (int i = 0; i < 40; i++) {
        snprintf(key, sizeof key, "k%d", i);
        await_value(c.s[0], key, "v0");
    }
    await_value(c.s[0], "from1", "v1");
    await_value(c.s[0], "while-away", "v1");
    await_value(c.s[0], long_a, "A");
    await_value(c.s[0], long_b, "B");
    /* Node 2 away while node 0 writes; back on its directory, it catches up. */
    stop_server(c.s[2]);
    c.s[2] = NULL;
    put(c.s[0], "while-2-away", "v0");
    start(&c, 2, false);
    assert_false(joining(c.s[2]));
    await_value(c.s[2], "while-2-away", "v0");
    await_value(c.s[2], "next", "n");
    assert_int_equal(put(c.s[2], "from2", "v2"), 1);
    assert_int_equal(stats_of(c.s[2]).verify_timeouts, 0);
    cluster_close(&c);
}

/* One database of a stopped node's LMDB state, open in a transaction. */
typedef struct state_txn {
    MDB_env *env;
    MDB_txn *t;
    MDB_dbi dbi;
} state_txn;

static state_txn state_open(const char *dir, const char *db, bool rdonly)
{
    state_txn s;
    assert_int_equal(mdb_env_create(&s.env), 0);
    assert_int_equal(mdb_env_set_maxdbs(s.env, 3), 0);
    assert_int_equal(mdb_env_open(s.env, dir, rdonly ? MDB_RDONLY : 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(s.env, NULL, rdonly ? MDB_RDONLY : 0, &s.t), 0);
    assert_int_equal(mdb_dbi_open(s.t, db, 0, &s.dbi), 0);
    return s;
}

/* Commits (or, read-only, ends) the transaction and closes the state. */
static void state_close(state_txn *s, bool rdonly)
{
    if (rdonly)
        mdb_txn_abort(s->t);
    else
        assert_int_equal(mdb_txn_commit(s->t), 0);
    mdb_env_close(s->env);
}

/* A record's value as durable.c saves it: its bytes, then the CRC-32C of
 * its database key and bytes, big-endian (out: len + 4 bytes). */
static size_t sealed(uint8_t *out, const void *key, size_t key_len, const void *bytes, size_t len)
{
    memcpy(out, bytes, len);
    uint32_t crc = cw__crc32c(cw__crc32c(0, key, key_len), bytes, len);
    for (int i = 0; i < 4; i++)
        out[len + (size_t)i] = (uint8_t)(crc >> (24 - 8 * i));
    return len + 4;
}

/* Writes meta record `name` of node 0's stopped state directly, sealed
 * (raw: as given, the way damage would). */
static void set_meta_as(cluster *c, const char *name, const void *bytes, size_t len, bool raw)
{
    state_txn st = state_open(c->data[0], "meta", false);
    uint8_t buf[256];
    assert_true(len + 4 <= sizeof buf);
    MDB_val k = {strlen(name), (void *)name}, v = {len, (void *)bytes};
    if (!raw)
        v = (MDB_val){sealed(buf, name, strlen(name), bytes, len), buf};
    assert_int_equal(mdb_put(st.t, st.dbi, &k, &v, 0), 0);
    state_close(&st, false);
}

static void set_meta(cluster *c, const char *name, const void *bytes, size_t len)
{
    set_meta_as(c, name, bytes, len, false);
}

/* Node 0's run mark (durable.c invariant 5) as a process that was killed
 * would leave it: mode 'n' or 'f', and a boot id. */
static void leave_run_mark(cluster *c, const char *mark) { set_meta(c, "running", mark, strlen(mark)); }

/* cw__hash_bytes's state after `words` 8-byte words of a buffer of len
 * bytes (util/map.c), to make two keys collide under a known seed. */
static uint64_t fold(uint64_t a, uint64_t b)
{
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static uint64_t hash_state(const uint8_t *buf, size_t len, size_t words)
{
    uint64_t h = fold(len ^ 0xcbf29ce484222325u, 0x9e3779b97f4a7c15u);
    for (size_t i = 0; i < words; i++) {
        uint64_t w;
        memcpy(&w, buf + 8 * i, 8);
        h = fold(h ^ w, 0x9e3779b97f4a7c15u);
    }
    return h;
}

static int write_key(cw__server *s, const uint8_t *key, size_t len, const char *value)
{
    return cw__server_write(s, key, len, value, strlen(value), NULL, false, NULL);
}

static int read_key(cw__server *s, const uint8_t *key, size_t len, char *value, size_t cap)
{
    cw_read r;
    cw_read_init(&r);
    int rc = cw__server_read(s, key, len, &r);
    if (rc == CW_OK)
        snprintf(value, cap, "%.*s", (int)r.versions[0].value_len, (const char *)r.versions[0].value);
    cw_read_destroy(&r);
    return rc;
}

/* Two long keys made to collide under the directory's seed (here set to a
 * known one) share a chain: both are kept apart, each deleted and written
 * again on its own, and both come back after a restart. */
static void test_durable_long_keys_that_collide(void **state)
{
    (void)state;
    enum { L = 512 };
    cluster c;
    cluster_open_durable(&c, 1);
    stop_server(c.s[0]);
    c.s[0] = NULL;
    uint8_t seed[8] = {0};
    set_meta(&c, "seed", seed, sizeof seed);
    /* [seed][key]: the keys share 400 bytes, differ in the next 8, and
     * the 8 after cancel the difference of the hash's state. */
    static uint8_t a[8 + L], b[8 + L];
    memset(a, 'k', sizeof a);
    memcpy(a, seed, 8);
    memcpy(b, a, sizeof b);
    memset(b + 8 + 400, 'j', 8);
    uint64_t d = hash_state(a, sizeof a, 52) ^ hash_state(b, sizeof b, 52), w;
    memcpy(&w, a + 8 + 408, 8);
    w ^= d;
    memcpy(b + 8 + 408, &w, 8);
    if (cw__hash_bytes(a, sizeof a) != cw__hash_bytes(b, sizeof b))
        fail_msg("the two keys do not collide: util/map.c's hash changed, update hash_state");
    const uint8_t *ka = a + 8, *kb = b + 8;
    start(&c, 0, false);
    char v[16];
    assert_int_equal(write_key(c.s[0], ka, L, "A"), CW_OK);
    assert_int_equal(write_key(c.s[0], kb, L, "B"), CW_OK);
    assert_int_equal(read_key(c.s[0], ka, L, v, sizeof v), CW_OK);
    assert_string_equal(v, "A");
    assert_int_equal(cw__server_write(c.s[0], ka, L, NULL, 0, NULL, true, NULL), CW_OK); /* delete a */
    stop_server(c.s[0]);
    start(&c, 0, false);
    assert_int_equal(read_key(c.s[0], ka, L, v, sizeof v), CW_ENOTFOUND);
    assert_int_equal(read_key(c.s[0], kb, L, v, sizeof v), CW_OK);
    assert_string_equal(v, "B");
    assert_int_equal(write_key(c.s[0], ka, L, "A2"), CW_OK);
    assert_int_equal(write_key(c.s[0], kb, L, "B2"), CW_OK);
    stop_server(c.s[0]);
    start(&c, 0, false);
    assert_int_equal(read_key(c.s[0], ka, L, v, sizeof v), CW_OK);
    assert_string_equal(v, "A2");
    assert_int_equal(read_key(c.s[0], kb, L, v, sizeof v), CW_OK);
    assert_string_equal(v, "B2");
    cluster_close(&c);
}

/* The options of node 0 of c on its directory, as a test starts it by
 * hand (to see its start refused, or to start it with an option of its
 * own). */
static void node0_durable_options(cluster *c, cw__server_options *o)
{
    cw__server_options_init(o);
    o->nodes = c->n;
    o->listen = c->ep[0];
    o->peers = c->peers;
    o->data_dir = c->data[0];
}

/* A --sync none node the machine went down under (its run mark names
 * another boot) is not taken back: its last saves may be lost while peers
 * hold writes it would number again. Killed on the same boot, or after
 * --sync full, it is. */
static void test_durable_sync_none_after_a_machine_crash(void **state)
{
    (void)state;
    cluster c;
    cluster_open_durable(&c, 1);
    put(c.s[0], "k", "v");
    stop_server(c.s[0]);
    c.s[0] = NULL;
    char boot[64] = "", mark[80];
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    if (f) {
        if (!fgets(boot, sizeof boot, f))
            boot[0] = 0;
        fclose(f);
    }
    boot[strcspn(boot, "\n")] = 0;
    snprintf(mark, sizeof mark, "n%s", boot); /* killed, same boot */
    leave_run_mark(&c, mark);
    start(&c, 0, false);
    await_value(c.s[0], "k", "v");
    stop_server(c.s[0]);
    c.s[0] = NULL;
    leave_run_mark(&c, "f00000000-another-boot"); /* --sync full: everything answered is on disk */
    start(&c, 0, false);
    stop_server(c.s[0]);
    c.s[0] = NULL;
    leave_run_mark(&c, "n00000000-another-boot");
    cw__server_options o;
    node0_durable_options(&c, &o);
    char err[300] = "";
    cw__server *s = NULL;
    assert_int_equal(cw__server_start(&s, &o, err, sizeof err), CW_EINVAL);
    assert_non_null(strstr(err, "machine went down"));
    cluster_close(&c);
}

/* This process's fdatasync and fsync take LMDB's calls (liblmdb is a
 * shared library; exported past the build's hidden visibility): each one
 * of a data.mdb is counted while counting_syncs (and, while holding_syncs,
 * held for up to 5 s once sync_held is set), then made as a system call. */
static atomic_bool counting_syncs, holding_syncs, sync_held;
static atomic_int data_syncs;

static void count_sync(int fd)
{
    if (!atomic_load(&counting_syncs) && !atomic_load(&holding_syncs))
        return;
    char link[64], path[512];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n < 0)
        return;
    path[n] = 0;
    if (n < 9 || strcmp(path + n - 9, "/data.mdb") != 0)
        return;
    if (atomic_load(&counting_syncs))
        atomic_fetch_add(&data_syncs, 1);
    if (atomic_load(&holding_syncs)) {
        atomic_store(&sync_held, true);
        struct timespec ts = {5, 0};
        nanosleep(&ts, NULL);
    }
}

__attribute__((visibility("default"))) int fdatasync(int fd)
{
    count_sync(fd);
    return (int)syscall(SYS_fdatasync, fd);
}

__attribute__((visibility("default"))) int fsync(int fd)
{
    count_sync(fd);
    return (int)syscall(SYS_fsync, fd);
}

/* A --sync none run's mark (and with it the refusal after a machine
 * crash) is on disk before the node serves: the saves after it are left to
 * the kernel, which may write none of them back before the machine goes
 * down, and a mark lost with them would let the next start take back the
 * older state on disk while peers hold writes it would number again. */
static void test_durable_sync_none_marks_the_run_on_disk(void **state)
{
    (void)state;
    cluster c;
    cluster_open_durable(&c, 1);
    put(c.s[0], "k", "v");
    stop_server(c.s[0]); /* a clean stop: no mark left */
    c.s[0] = NULL;
    cw__server_options o;
    node0_durable_options(&c, &o);
    o.sync_none = true;
    char err[300] = "";
    cw__server *s = NULL;
    atomic_store(&data_syncs, 0);
    atomic_store(&counting_syncs, true);
    int rc = cw__server_start(&s, &o, err, sizeof err);
    atomic_store(&counting_syncs, false);
    assert_int_equal(rc, CW_OK);
    assert_true(atomic_load(&data_syncs) > 0);
    assert_int_equal(stop_server(s), CW_OK);
    cluster_close(&c);
}

/* Another thread's fault at an address the CPU refuses (SI_KERNEL). */
static void *fault_elsewhere(void *arg)
{
    (void)arg;
    while (!atomic_load(&sync_held))
        usleep(1000);
    uintptr_t bad = (uintptr_t)1 << 63; /* not canonical: a general protection fault */
    return (void *)(uintptr_t) * (volatile const char *)bad;
}

/* A save holds the fault guard while the node's other threads run on: a
 * fault of another thread meanwhile (here while the save waits in its
 * fdatasync) is that thread's crash, not data.mdb's damage, so it must not
 * end the node with 'data.mdb is damaged' and exit 2 (which tells the
 * operator to move a sound directory aside). In a child process: it ends
 * as the crash does, killed by SIGSEGV. */
static void test_durable_fault_elsewhere_during_a_save_is_not_damage(void **state)
{
    (void)state;
    cluster c;
    cluster_open_durable(&c, 1);
    stop_server(c.s[0]);
    c.s[0] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGSEGV, SIG_DFL); /* the crash as it is: no test framework's handler */
        cw__server_options o;
        node0_durable_options(&c, &o);
        char err[300] = "";
        cw__server *s = NULL;
        if (cw__server_start(&s, &o, err, sizeof err) != CW_OK)
            _exit(3);
        pthread_t t;
        if (pthread_create(&t, NULL, fault_elsewhere, NULL) != 0)
            _exit(3);
        atomic_store(&holding_syncs, true);
        (void)cw__server_write(s, "x", 1, "1", 1, NULL, false, NULL); /* its save waits in fdatasync */
        _exit(4); /* the other thread's fault did not end the process */
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
    cluster_close(&c);
}

/* Empties node i's data directory (a new disk): it joins when it starts. */
static void empty_data(cluster *c, uint32_t i)
{
    const char *files[] = {"data.mdb", "lock.mdb", "causeway.lock"};
    for (int k = 0; k < 3; k++) {
        char path[300];
        snprintf(path, sizeof path, "%s/%s", c->data[i], files[k]);
        unlink(path);
    }
}

/* Copies file name from directory `from` to directory `to`. */
static void copy_file(const char *from, const char *to, const char *name)
{
    char a[300], b[300];
    snprintf(a, sizeof a, "%s/%s", from, name);
    snprintf(b, sizeof b, "%s/%s", to, name);
    FILE *in = fopen(a, "rb"), *out = fopen(b, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(in);
    assert_int_equal(fclose(out), 0);
}

/* Waits (up to 10 s) for a write at s to be refused for good: CW_EBEHIND. */
static void await_behind(cw__server *s)
{
    uint64_t deadline = now_ms() + 10000;
    int rc;
    while ((rc = cw__server_write(s, "after", 5, "x", 1, NULL, false, NULL)) != CW_EBEHIND) {
        if (now_ms() > deadline)
            fail_msg("node %u: a write got %s, not CW_EBEHIND", cw__server_self(s), cw_strerror(rc));
        sleep_ms(5);
    }
    cw__server_stats st;
    cw__server_get_stats(s, &st);
    assert_true(st.behind);
}

/* A durable cluster c whose node 0 wrote a = 1 (seq 1), was copied into
 * c->dir/backup, then wrote b = 2 (seq 2), which every other node holds;
 * node 0 is left stopped with its directory put back to the copy. */
static void make_node0_older(cluster *c)
{
    assert_int_equal(put(c->s[0], "a", "1"), 1);
    stop_server(c->s[0]);
    c->s[0] = NULL;
    char backup[160];
    snprintf(backup, sizeof backup, "%s/backup", c->dir);
    assert_int_equal(mkdir(backup, 0700), 0);
    copy_file(c->data[0], backup, "data.mdb");
    start(c, 0, false);
    assert_int_equal(put(c->s[0], "b", "2"), 2);
    for (uint32_t i = 1; i < c->n; i++)
        await_value(c->s[i], "b", "2");
    stop_server(c->s[0]);
    c->s[0] = NULL;
    copy_file(backup, c->data[0], "data.mdb");
    char p[300];
    snprintf(p, sizeof p, "%s/data.mdb", backup);
    unlink(p);
    rmdir(backup);
}

/* A node is never behind itself (server.c, invariant 4b). Node 0's
 * directory put back to an earlier copy (a restored backup) says it made
 * one write where its peers hold two: it takes no write, not even before
 * its peers speak, so seq 2 is never given twice (before, its next write
 * was seq 2 again, answered 200, and dropped at every peer as a duplicate:
 * the replicas differed for good). */
static void test_a_node_behind_itself_takes_no_writes(void **state)
{
    (void)state;
    cluster c;
    cluster_open_durable(&c, 3);
    make_node0_older(&c);
    start(&c, 0, false);
    await_behind(c.s[0]);
    assert_int_equal(look(c.s[0]).counters[0], 1);
    assert_int_equal(look(c.s[1]).counters[0], 2);
    await_value(c.s[1], "b", "2");
    cluster_close(&c);
}

static uint64_t received(cw__server *s) { return stats_of(s).received; }

/* A node that took its saved state back waits for every peer's answer to a
 * head request of its own (server.c invariant 4b), not for any word from
 * the peer: a peer's queue can hold a message made before the node's old
 * process stopped, which says less than the peer holds. Node 0's directory
 * is older than its last run; node 1 is played by raw sockets whose first
 * word is such a stale write, and which then answer the head request with
 * what node 1 holds. Had that write ended the wait, node 0 would have taken
 * a write under a seq node 1 holds. */
static void test_a_stale_word_does_not_end_a_restored_nodes_wait(void **state)
{
    (void)state;
    cluster c;
    cluster_open_durable(&c, 2);
    make_node0_older(&c);
    stop_server(c.s[1]);
    c.s[1] = NULL;
    raw_peer r = raw_open(&c, 1, 0);
    void *router = r.router, *d = r.d;
    start(&c, 0, false);
    /* The stale word: a write of node 1's made after node 0's first write
     * only (tag 0: a whole frame, then the codec's bytes). */
    cw_hlc_timestamp ts = {1700000000000u, 0, 1};
    uint64_t clock[2] = {1, 1};
    cw_msg *stale;
    assert_int_equal(cw_msg_create(&stale, 1, &ts, clock, 2, "s", 1, "v", 1), CW_OK);
    uint8_t frame[128] = {0};
    size_t flen;
    assert_int_equal(cw_msg_encode(stale, frame + 1, sizeof frame - 1, &flen), CW_OK);
    cw_msg_unref(stale);
    assert_int_equal(zmq_send(d, frame, flen + 1, 0), (int)flen + 1);
    assert_true(await_above(received, c.s[0], 0));
    sleep_ms(100); /* a few turns of node 0's loop */
    assert_int_equal(cw__server_write(c.s[0], "x", 1, "y", 1, NULL, false, NULL), CW_EJOINING);
    /* Node 0's head request, answered with what node 1 holds: node 0's
     * writes 1 and 2. */
    const uint64_t held[2] = {2, 0};
    raw_answer(d, held, 2, 2, raw_request(router, 'H'), RAW_HEAD_ONLY, 0, false);
    await_behind(c.s[0]);
    raw_close(&r);
    cluster_close(&c);
}

/* A durable node that joins (its directory emptied: a new disk) saves the
 * log it installs with the state, and serves it after its next start on
 * the directory. w is not stable (node 0 is cut off), so node 1's answer
 * to node 2 brings it in its log; then node 1 joins anew from node 2, and
 * once the cut heals node 0 can only pull w from a log that node 2 took
 * back from its directory. (Saving the installed store alone, the saved
 * log lacked w, and the directory read as if w were stable.) */
static void test_durable_join_saves_the_installed_log(void **state)
{
    (void)state;
    cluster c;
    cluster_open_durable(&c, 3);
    write_w_behind_a_cut(&c);
    empty_data(&c, 2);
    start(&c, 2, false); /* an empty directory: it joins */
    await_value(c.s[2], "w", "1");
    stop_server(c.s[2]); /* saves at stop */
    c.s[2] = NULL;
    start(&c, 2, false); /* takes its saved state back */
    assert_false(joining(c.s[2]));
    await_value(c.s[2], "w", "1");
    stop_server(c.s[1]);
    c.s[1] = NULL;
    empty_data(&c, 1);
    start(&c, 1, false); /* joins: node 2's state holds w, node 0's does not */
    await_value(c.s[1], "w", "1");
    assert_int_equal(cw__server_link(c.s[0], 1, 0, CW__LINK_HEAL), CW_OK);
    assert_int_equal(cw__server_link(c.s[0], 2, 0, CW__LINK_HEAL), CW_OK);
    const char *keys[] = {"a", "w"};
    await_converged(&c, keys, 2);
    cluster_close(&c);
}

static void *write_x(void *arg)
{
    cw__server *s = arg;
    return (void *)(intptr_t)cw__server_write(s, "x", 1, "1", 1, NULL, false, NULL);
}

/* A burst that one thread holds open (the client endpoint's) covers only
 * that thread's writes: another thread's write (an HTTP request's) is
 * saved before it is answered, and a read sees no write not yet saved. */
static void test_durable_write_saved_during_another_threads_burst(void **state)
{
    (void)state;
    cluster c;
    cluster_open_durable(&c, 1);
    cw__server_hold_sends(c.s[0]);
    assert_int_equal(cw__server_write(c.s[0], "mine", 4, "m", 1, NULL, false, NULL), CW_OK);
    cw__server_stats before, after;
    cw__server_get_stats(c.s[0], &before);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, write_x, c.s[0]), 0);
    void *rc;
    pthread_join(t, &rc);
    assert_int_equal((intptr_t)rc, CW_OK);
    cw__server_get_stats(c.s[0], &after);
    assert_true(after.saves > before.saves); /* saved before it was answered */
    cw__server_release_sends(c.s[0]);
    cluster_close(&c);
}

/* A full store (the LMDB map, as a full disk would) refuses writes with
 * CW_EIO and loses nothing it answered: started again with room, the node
 * holds every write it answered CW_OK, and takes writes again. Meanwhile no
 * read shows the write whose save failed. Its stop cannot save either, and
 * says so (`causeway node` exits 1 then); with room, a stop saves. */
static void test_durable_full_map_refuses_and_keeps_what_it_answered(void **state)
{
    (void)state;
    cluster c;
    map_size_option = (size_t)1 << 20;
    cluster_open_durable(&c, 1);
    static char value[8192];
    memset(value, 'x', sizeof value - 1);
    char key[32];
    int rc = CW_OK, answered = 0;
    for (int i = 0; i < 1000 && rc == CW_OK; i++) {
        snprintf(key, sizeof key, "k%d", i);
        rc = cw__server_write(c.s[0], key, strlen(key), value, strlen(value), NULL, false, NULL);
        answered += rc == CW_OK;
    }
    /* The write the save failed for is made, in memory: neither taken nor
     * refused. The next ones are refused, not made. */
    assert_int_equal(rc, CW_EUNSAVED);
    assert_true(answered > 10);
    char unsaved[32];
    snprintf(unsaved, sizeof unsaved, "k%d", answered);
    assert_int_equal(cw__server_write(c.s[0], "more", 4, "v", 1, NULL, false, NULL), CW_EIO);
    cw__server_stats st;
    cw__server_get_stats(c.s[0], &st);
    assert_true(st.durable && st.save_failed && st.failed_saves >= 2);
    /* A read that would show the unsaved write's dot (a kill would give it
     * to another write) is refused; a read of a saved key is served. */
    cw_read r;
    cw_read_init(&r);
    assert_int_equal(cw__server_read(c.s[0], unsaved, strlen(unsaved), &r), CW_EIO);
    assert_int_equal(cw__server_read(c.s[0], "k0", 2, &r), CW_OK);
    assert_int_equal(cw__server_read(c.s[0], "more", 4, &r), CW_ENOTFOUND);
    cw_read_destroy(&r);
    assert_int_not_equal(stop_server(c.s[0]), CW_OK);
    map_size_option = (size_t)64 << 20;
    start(&c, 0, false);
    for (int i = 0; i < answered; i++) {
        snprintf(key, sizeof key, "k%d", i);
        await_value(c.s[0], key, value);
    }
    cw_read_init(&r); /* the node stopped before any save of it worked: gone */
    assert_int_equal(cw__server_read(c.s[0], unsaved, strlen(unsaved), &r), CW_ENOTFOUND);
    cw_read_destroy(&r);
    assert_int_equal(cw__server_write(c.s[0], "more", 4, "v", 1, NULL, false, NULL), CW_OK);
    map_size_option = 0;
    assert_int_equal(stop_server(c.s[0]), CW_OK);
    c.s[0] = NULL;
    cluster_close(&c);
}

/* A directory that is another node's, another group's or policy's, holds
 * other files, or is not LMDB, is refused at start with a reason. */
static void test_durable_refuses_a_foreign_directory(void **state)
{
    (void)state;
    cluster c;
    cluster_open_durable(&c, 2);
    stop_server(c.s[1]);
    c.s[1] = NULL;
    cw__server_options o;
    cw__server_options_init(&o);
    o.self = 1;
    o.nodes = 2;
    o.listen = c.ep[1];
    o.peers = c.peers;
    o.data_dir = c.data[0]; /* node 0's */
    char err[256] = "";
    cw__server *s = NULL;
    /* While node 0 runs on it, no other process (or server) may. */
    o.self = 0;
    o.listen = "ipc:///nonexistent-dir/x";
    assert_int_equal(cw__server_start(&s, &o, err, sizeof err), CW_EINVAL);
    assert_non_null(strstr(err, "in use by another process"));
    o.self = 1;
    o.listen = c.ep[1];
    stop_server(c.s[0]);
    c.s[0] = NULL;
    assert_int_equal(cw__server_start(&s, &o, err, sizeof err), CW_EINVAL);
    assert_non_null(strstr(err, "holds node 0 of 2"));
    o.self = 0;
    o.policy = CW_LAST_WRITER_WINS;
    assert_int_equal(cw__server_start(&s, &o, err, sizeof err), CW_EINVAL);
    assert_non_null(strstr(err, "policy siblings"));
    char path[200];
    snprintf(path, sizeof path, "%s/stranger", c.data[1]);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    o.data_dir = c.data[1];
    o.self = 1;
    o.policy = CW_KEEP_SIBLINGS;
    assert_int_equal(cw__server_start(&s, &o, err, sizeof err), CW_EINVAL);
    assert_non_null(strstr(err, "not a Causeway state"));
    unlink(path);
    /* One of the state's own names that is not a regular file: a FIFO would
     * block its open, a directory failed it naming the DIR. */
    static const char *const odd[] = {"data.mdb", "lock.mdb", "causeway.lock"};
    char odd_dir[sizeof path - 16];
    snprintf(odd_dir, sizeof odd_dir, "%s-odd", c.data[1]);
    for (size_t k = 0; k < 3; k++) {
        assert_int_equal(mkdir(odd_dir, 0700), 0);
        snprintf(path, sizeof path, "%s/%s", odd_dir, odd[k]);
        assert_int_equal(k == 1 ? mkdir(path, 0700) : mkfifo(path, 0600), 0);
        o.data_dir = odd_dir;
        assert_int_equal(cw__server_start(&s, &o, err, sizeof err), CW_EINVAL);
        assert_non_null(strstr(err, "is not a regular file"));
        assert_non_null(strstr(err, odd[k]));
        assert_int_equal(remove(path), 0);
        assert_int_equal(rmdir(odd_dir), 0);
    }
    o.data_dir = c.data[1];
    snprintf(path, sizeof path, "%s/data.mdb", c.data[1]);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("not an LMDB file, not at all, but long enough to be read as one's header", f);
    fclose(f);
    assert_int_equal(cw__server_start(&s, &o, err, sizeof err), CW_EINVAL);
    /* Cut to nothing, or gone, in a directory that held a state: a state
     * lost, never a new one (before, both started at seq 1 as new). A
     * state cut elsewhere faults when read, which ends the process
     * (tests/cli/damaged.sh). */
    snprintf(path, sizeof path, "%s/data.mdb", c.data[0]);
    o.data_dir = c.data[0];
    o.self = 0;
    assert_int_equal(truncate(path, 0), 0);
    assert_int_equal(cw__server_start(&s, &o, err, sizeof err), CW_EINVAL);
    assert_non_null(strstr(err, "its data.mdb is empty"));
    assert_int_equal(unlink(path), 0);
    assert_int_equal(cw__server_start(&s, &o, err, sizeof err), CW_EINVAL);
    assert_non_null(strstr(err, "its data.mdb is gone"));
    cluster_close(&c);
}

/* A data.mdb may end before the last page LMDB counts: a page that a
 * transaction took and freed again is never written (LMDB leaves such
 * "loose" pages out of its flush). Such a state is whole, and a node once
 * refused it as truncated after a SIGKILL: the directory of acknowledged
 * writes would not start. Made here by raising the last page in both of
 * LMDB's meta pages (MDB_meta's mm_last_pg, at byte 136 of each), as such
 * a transaction leaves them. */
static void test_durable_takes_a_file_that_ends_before_its_last_page(void **state)
{
    (void)state;
    cluster c;
    cluster_open_durable(&c, 1);
    for (int i = 0; i < 50; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i);
        put(c.s[0], key, "value");
    }
    stop_server(c.s[0]);
    c.s[0] = NULL;
    MDB_env *env;
    MDB_envinfo info;
    MDB_stat st;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_open(env, c.data[0], MDB_RDONLY, 0600), 0);
    assert_int_equal(mdb_env_info(env, &info), 0);
    assert_int_equal(mdb_env_stat(env, &st), 0);
    mdb_env_close(env);
    char path[200];
    snprintf(path, sizeof path, "%s/data.mdb", c.data[0]);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    struct stat sb;
    assert_int_equal(fstat(fd, &sb), 0);
    assert_int_equal((uint64_t)sb.st_size, ((uint64_t)info.me_last_pgno + 1) * st.ms_psize);
    int found = 0;
    for (int meta = 0; meta < 2; meta++) {
        uint64_t last;
        off_t at = (off_t)meta * st.ms_psize + 136;
        assert_int_equal(pread(fd, &last, 8, at), 8);
        found += last == info.me_last_pgno; /* the active meta's, at least */
        last = info.me_last_pgno + 1;
        assert_int_equal(pwrite(fd, &last, 8, at), 8);
    }
    close(fd);
    assert_true(found >= 1);
    start(&c, 0, false);
    await_value(c.s[0], "k49", "value");
    put(c.s[0], "after", "value"); /* and it saves on */
    restart(&c, 0);
    await_value(c.s[0], "after", "value");
    cluster_close(&c);
}

/* Puts (len > 0) or deletes (val NULL) one record of a node's LMDB state,
 * sealed as durable.c seals it, so that only what the test changed is
 * damaged; the old value, its seal checked and taken off, goes to old (cap
 * bytes; *old_len). */
static void rewrite(const char *dir, const char *db, const void *key, size_t key_len, const void *val, size_t len,
                    uint8_t *old, size_t cap, size_t *old_len)
{
    state_txn st = state_open(dir, db, false);
    MDB_val k = {key_len, (void *)key}, v;
    if (old && mdb_get(st.t, st.dbi, &k, &v) == 0) {
        assert_true(v.mv_size >= 4 && v.mv_size - 4 <= cap);
        uint8_t again[1024];
        assert_true(v.mv_size <= sizeof again);
        assert_memory_equal(again, v.mv_data, sealed(again, key, key_len, v.mv_data, v.mv_size - 4));
        memcpy(old, v.mv_data, v.mv_size - 4);
        *old_len = v.mv_size - 4;
    }
    if (val) {
        uint8_t buf[1024];
        assert_true(len + 4 <= sizeof buf);
        MDB_val nv = {sealed(buf, key, key_len, val, len), buf};
        assert_int_equal(mdb_put(st.t, st.dbi, &k, &nv, 0), 0);
    } else {
        assert_int_equal(mdb_del(st.t, st.dbi, &k, NULL), 0);
    }
    state_close(&st, false);
}

static void expect_refused(cluster *c, const char *why)
{
    cw__server_options o;
    node0_durable_options(c, &o);
    char err[256] = "";
    cw__server *s = NULL;
    assert_int_equal(cw__server_start(&s, &o, err, sizeof err), CW_EINVAL);
    if (!strstr(err, why))
        fail_msg("refused for '%s', not '%s'", err, why);
}

/* A durable cluster of n nodes whose node 0 wrote x=1 and y=2 and stopped. */
static void open_stopped_with_xy(cluster *c, uint32_t n)
{
    cluster_open_durable(c, n);
    assert_int_equal(cw__server_write(c->s[0], "x", 1, "1", 1, NULL, false, NULL), CW_OK);
    assert_int_equal(cw__server_write(c->s[0], "y", 1, "2", 1, NULL, false, NULL), CW_OK);
    stop_server(c->s[0]);
    c->s[0] = NULL;
}

/* A state damaged on disk in ways LMDB cannot see is refused at start with
 * a reason, not taken in: a saved clock of zero beside saved writes (their
 * writes were thrown away and the seqs made again), a counter JSON cannot
 * carry, a key record with no version, a version saved twice (two siblings
 * with one dot). A directory path too long for the files in it is refused
 * (it named another file). */
static void test_durable_refuses_a_damaged_state(void **state)
{
    (void)state;
    cluster c;
    open_stopped_with_xy(&c, 1);
    uint8_t clock[8], zero[8] = {0}, huge[8] = {0x80, 0, 0, 0, 0, 0, 0, 1}, rec[256], empty[4] = {0};
    size_t clock_len = 0, rec_len = 0;
    rewrite(c.data[0], "meta", "clock", 5, zero, 8, clock, sizeof clock, &clock_len);
    assert_int_equal(clock_len, 8);
    expect_refused(&c, "clock is zero but it holds writes");
    rewrite(c.data[0], "meta", "clock", 5, huge, 8, NULL, 0, NULL);
    expect_refused(&c, "clock is damaged");
    rewrite(c.data[0], "meta", "clock", 5, clock, clock_len, NULL, 0, NULL);
    rewrite(c.data[0], "keys", "ky", 2, empty, 4, rec, sizeof rec, &rec_len);
    assert_true(rec_len > 8);
    expect_refused(&c, "does not decode");
    /* The record again, with its one version twice. */
    uint8_t twice[512];
    size_t one = rec_len - 4;
    memcpy(twice, rec, rec_len);
    twice[3] = 2;
    memcpy(twice + rec_len, rec + 4, one);
    rewrite(c.data[0], "keys", "ky", 2, twice, rec_len + one, NULL, 0, NULL);
    expect_refused(&c, "not consistent");
    rewrite(c.data[0], "keys", "ky", 2, rec, rec_len, NULL, 0, NULL);
    start(&c, 0, false); /* repaired: taken back */
    await_value(c.s[0], "y", "2");

    char longdir[4200];
    memset(longdir, 'd', sizeof longdir - 1);
    longdir[sizeof longdir - 1] = 0;
    memcpy(longdir, "/tmp/", 5);
    cw__server_options o;
    cw__server_options_init(&o);
    o.nodes = 1;
    o.listen = "ipc:///nonexistent-dir/x";
    o.data_dir = longdir;
    char err[256] = "";
    cw__server *s = NULL;
    assert_int_equal(cw__server_start(&s, &o, err, sizeof err), CW_EINVAL);
    assert_non_null(strstr(err, "too long"));
    cluster_close(&c);
}

/* Flips the low bit of the last byte before the seal of one record of a
 * stopped node's state, as a failing medium would: the seal is left as it
 * was. Flipped twice, the record is whole again. */
static void flip(const char *dir, const char *db, const void *key, size_t key_len)
{
    state_txn st = state_open(dir, db, false);
    MDB_val k = {key_len, (void *)key}, v;
    assert_int_equal(mdb_get(st.t, st.dbi, &k, &v), 0);
    uint8_t buf[1024];
    assert_true(v.mv_size > 4 && v.mv_size <= sizeof buf);
    memcpy(buf, v.mv_data, v.mv_size);
    buf[v.mv_size - 5] ^= 1;
    MDB_val nv = {v.mv_size, buf};
    assert_int_equal(mdb_put(st.t, st.dbi, &k, &nv, 0), 0);
    state_close(&st, false);
}

/* The database keys of every record of db in a stopped node's state (at
 * most 16, each under 64 bytes), but the format mark. */
static size_t records_of(const char *dir, const char *db, char keys[16][64], size_t lens[16])
{
    state_txn st = state_open(dir, db, true);
    MDB_cursor *cur;
    assert_int_equal(mdb_cursor_open(st.t, st.dbi, &cur), 0);
    MDB_val k, v;
    size_t n = 0;
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size == 6 && memcmp(k.mv_data, "format", 6) == 0)
            continue;
        assert_true(n < 16 && k.mv_size < 64);
        memcpy(keys[n], k.mv_data, k.mv_size);
        lens[n++] = k.mv_size;
    }
    mdb_cursor_close(cur);
    state_close(&st, true);
    return n;
}

/* Every record a node saved ends in a checksum of its key and bytes: one
 * bit flipped in any record (the node id, the seed, the clocks, a key's
 * versions, a log entry) refuses the start and says so, where the state
 * was taken in before (a value changed) or refused for another reason.
 * Undone, the state is taken back. */
static void test_durable_refuses_a_record_that_fails_its_checksum(void **state)
{
    (void)state;
    cluster c;
    open_stopped_with_xy(&c, 2);
    static const char *const dbs[] = {"meta", "keys", "log"};
    char keys[16][64];
    size_t lens[16], damaged = 0, log_records = 0;
    for (size_t d = 0; d < 3; d++) {
        size_t n = records_of(c.data[0], dbs[d], keys, lens);
        for (size_t i = 0; i < n; i++) {
            flip(c.data[0], dbs[d], keys[i], lens[i]);
            expect_refused(&c, "checksum does not match");
            flip(c.data[0], dbs[d], keys[i], lens[i]);
            damaged++;
        }
        log_records += d == 2 ? n : 0;
    }
    assert_true(damaged >= 6 + log_records); /* group, seed, clock, stable, x, y, the log */
    start(&c, 0, false);
    await_value(c.s[0], "x", "1");
    await_value(c.s[0], "y", "2");
    cluster_close(&c);
}

/* Flips one bit in a separator of every branch page of the keys tree in
 * file f (those of older transactions, free now, are there too, and which
 * one is the tree's is LMDB's to know): the first separator that ends
 * "key" and two digits, the first of them even (up: made one higher,
 * "kkey202" -> "kkey212") or odd ("kkey212" -> "kkey202"). How many it
 * flipped. LMDB's page layout (0.9): the page's flags at byte 10 (1: a
 * branch), its lower bound at 12, node offsets from 16, and a node's key
 * size at its byte 6, its key from byte 8. */
static unsigned flip_separators(FILE *f, bool up)
{
    long page = sysconf(_SC_PAGESIZE);
    uint8_t *pg = malloc((size_t)page);
    assert_non_null(pg);
    unsigned flipped = 0;
    for (long at = 2 * page; fseek(f, at, SEEK_SET) == 0 && fread(pg, 1, (size_t)page, f) == (size_t)page;
         at += page) {
        uint16_t flags, lower, off, ksize;
        memcpy(&flags, pg + 10, 2);
        memcpy(&lower, pg + 12, 2);
        if (!(flags & 1) || lower < 16 || lower > page)
            continue;
        for (unsigned i = 1; i < (lower - 16u) / 2; i++) { /* node 0's key is empty */
            memcpy(&off, pg + 16 + 2 * i, 2);
            if (off + 8u > (unsigned)page)
                break;
            memcpy(&ksize, pg + off + 6, 2);
            uint8_t *k = pg + off + 8;
            if (ksize < 6 || off + 8u + ksize > (unsigned)page || memcmp(k + ksize - 6, "key", 3) != 0 ||
                k[ksize - 2] < '0' || k[ksize - 2] > '9' || (k[ksize - 2] & 1) != !up || k[ksize - 2] == '9')
                continue;
            k[ksize - 2] ^= 1;
            assert_int_equal(fseek(f, at, SEEK_SET), 0);
            assert_int_equal(fwrite(pg, 1, (size_t)page, f), (size_t)page);
            flipped++;
            break;
        }
    }
    free(pg);
    assert_int_equal(fflush(f), 0);
    return flipped;
}

/* A bit flipped in a key of a branch page, which routes lookups and which
 * no cursor's walk reads (flip_separators): the keys between the old
 * separator and the new are looked for in the wrong leaf. A delete of one
 * of them found nothing there and took that for done: it was answered,
 * and the key came back at the next start. The start is refused instead,
 * with the separator moved up (the first key of a leaf routed left) and
 * down (the last key of a leaf routed right); with the file as it was, the
 * state is taken back. */
static void test_durable_refuses_a_misrouting_branch_key(void **state)
{
    (void)state;
    cluster c;
    cluster_open_durable(&c, 1);
    char key[16], value[64];
    for (int i = 100; i < 300; i++) {
        snprintf(key, sizeof key, "key%d", i);
        snprintf(value, sizeof value, "the value of %s, long enough to fill some pages", key);
        assert_int_equal(cw__server_write(c.s[0], key, strlen(key), value, strlen(value), NULL, false, NULL), CW_OK);
    }
    assert_int_equal(stop_server(c.s[0]), CW_OK);
    c.s[0] = NULL;
    char path[300];
    snprintf(path, sizeof path, "%s/data.mdb", c.data[0]);
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    uint8_t *was = malloc((size_t)size);
    assert_non_null(was);
    rewind(f);
    assert_int_equal(fread(was, 1, (size_t)size, f), (size_t)size);
    for (int up = 1; up >= 0; up--) {
        assert_true(flip_separators(f, up) > 0);
        expect_refused(&c, "damaged");
        rewind(f);
        assert_int_equal(fwrite(was, 1, (size_t)size, f), (size_t)size);
        assert_int_equal(fflush(f), 0);
    }
    assert_int_equal(fclose(f), 0);
    free(was);
    start(&c, 0, false);
    await_value(c.s[0], "key164", "the value of key164, long enough to fill some pages");
    cluster_close(&c);
}

/* Takes the seal off every record of db in a stopped node's state (but the
 * format mark's, which has none): the format before checksums. */
static void unseal_db(const char *dir, const char *db)
{
    char keys[16][64];
    size_t lens[16], n = records_of(dir, db, keys, lens);
    state_txn st = state_open(dir, db, false);
    for (size_t i = 0; i < n; i++) {
        MDB_val k = {lens[i], keys[i]}, v;
        assert_int_equal(mdb_get(st.t, st.dbi, &k, &v), 0);
        uint8_t buf[1024];
        assert_true(v.mv_size > 4 && v.mv_size <= sizeof buf);
        memcpy(buf, v.mv_data, v.mv_size - 4);
        MDB_val nv = {v.mv_size - 4, buf};
        assert_int_equal(mdb_put(st.t, st.dbi, &k, &nv, 0), 0);
    }
    state_close(&st, false);
}

/* A data directory of the format before checksums ('causeway-data 1') is
 * upgraded at start, in the open's one transaction: every record gets its
 * seal and the state comes back whole; from then on a damaged record is
 * caught. */
static void test_durable_upgrades_a_directory_without_checksums(void **state)
{
    (void)state;
    cluster c;
    open_stopped_with_xy(&c, 2);
    unseal_db(c.data[0], "meta");
    unseal_db(c.data[0], "keys");
    unseal_db(c.data[0], "log");
    set_meta_as(&c, "format", "causeway-data 1", 15, true);
    start(&c, 0, false);
    await_value(c.s[0], "x", "1");
    await_value(c.s[0], "y", "2");
    put(c.s[0], "z", "3");
    stop_server(c.s[0]);
    c.s[0] = NULL;
    flip(c.data[0], "keys", "kx", 2);
    expect_refused(&c, "checksum does not match");
    flip(c.data[0], "keys", "kx", 2);
    start(&c, 0, false);
    await_value(c.s[0], "x", "1");
    await_value(c.s[0], "z", "3");
    cluster_close(&c);
}

/* A data directory removed under a running node: saves fail (LMDB would
 * write on into the unlinked file and a restart would find nothing), so the
 * write that finds it gets CW_EUNSAVED and later ones CW_EIO, not 200s a
 * restart loses. */
static void test_durable_directory_removed_under_the_node(void **state)
{
    (void)state;
    cluster c;
    cluster_open_durable(&c, 1);
    assert_int_equal(cw__server_write(c.s[0], "x", 1, "1", 1, NULL, false, NULL), CW_OK);
    const char *files[] = {"data.mdb", "lock.mdb", "causeway.lock"};
    for (size_t i = 0; i < 3; i++) {
        char p[300];
        snprintf(p, sizeof p, "%s/%s", c.data[0], files[i]);
        assert_int_equal(unlink(p), 0);
    }
    assert_int_equal(rmdir(c.data[0]), 0);
    assert_int_equal(cw__server_write(c.s[0], "y", 1, "2", 1, NULL, false, NULL), CW_EUNSAVED);
    assert_int_equal(cw__server_write(c.s[0], "z", 1, "3", 1, NULL, false, NULL), CW_EIO);
    cluster_close(&c);
    /* data.mdb alone removed: a restart refuses the directory (its state
     * lost), so the saves are lost too. It was saved into the unlinked file
     * and answered made (CW_OK). */
    cluster_open_durable(&c, 1);
    assert_int_equal(cw__server_write(c.s[0], "x", 1, "1", 1, NULL, false, NULL), CW_OK);
    char p[300];
    snprintf(p, sizeof p, "%s/data.mdb", c.data[0]);
    assert_int_equal(unlink(p), 0);
    assert_int_equal(cw__server_write(c.s[0], "y", 1, "2", 1, NULL, false, NULL), CW_EUNSAVED);
    assert_int_equal(cw__server_write(c.s[0], "z", 1, "3", 1, NULL, false, NULL), CW_EIO);
    cluster_close(&c);
}

/* A node whose lock file was removed under it writes nothing more to the
 * directory, not even at its stop: another node may have taken it since
 * (here its run mark is left as that node's, a --sync none one still
 * running), and deleting the run mark at the stop deleted that node's,
 * so a machine crash under it would not be refused (invariant 5). */
static void test_durable_lock_removed_leaves_the_directory_alone(void **state)
{
    (void)state;
    cluster c;
    cluster_open_durable(&c, 1);
    assert_int_equal(cw__server_write(c.s[0], "x", 1, "1", 1, NULL, false, NULL), CW_OK);
    char p[300];
    snprintf(p, sizeof p, "%s/causeway.lock", c.data[0]);
    assert_int_equal(unlink(p), 0);
    const char *mark = "n00000000-the-next-owner";
    leave_run_mark(&c, mark);
    assert_int_equal(cw__server_write(c.s[0], "y", 1, "2", 1, NULL, false, NULL), CW_EUNSAVED);
    assert_int_not_equal(stop_server(c.s[0]), CW_OK); /* its unsaved write: a failed stop */
    c.s[0] = NULL;
    state_txn st = state_open(c.data[0], "meta", true);
    MDB_val k = {7, "running"}, v;
    assert_int_equal(mdb_get(st.t, st.dbi, &k, &v), 0);
    assert_true(v.mv_size == strlen(mark) + 4 && memcmp(v.mv_data, mark, strlen(mark)) == 0);
    state_close(&st, true);
    cluster_close(&c);
}

/* Writers on several threads at a durable node: a write another thread's
 * save covered must not flush the links while a third's is unsaved (debug
 * builds assert at every flush that nothing unsaved leaves: invariant 6;
 * a flush after a write another thread had saved once sent unsaved
 * writes, which a kill would have given to other writes). */
typedef struct writer_arg {
    cw__server *s;
    int id, made;
} writer_arg;

static void *durable_writer(void *p)
{
    writer_arg *w = p;
    char key[32];
    for (int i = 0; i < 300; i++) {
        snprintf(key, sizeof key, "w%d-%d", w->id, i % 20);
        w->made += cw__server_write(w->s, key, strlen(key), "v", 1, NULL, false, NULL) == CW_OK;
    }
    return NULL;
}

static void test_durable_writers_on_threads_send_only_saved(void **state)
{
    (void)state;
    cluster c;
    cluster_open_durable(&c, 2);
    pthread_t t[3];
    writer_arg w[3];
    int created = 0;
    for (; created < 3; created++) {
        w[created] = (writer_arg){c.s[0], created, 0};
        if (pthread_create(&t[created], NULL, durable_writer, &w[created]) != 0)
            break;
    }
    /* Every writer joined before any assert: a failed case's teardown
     * stops node 0, which they write to. */
    for (int i = 0; i < created; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(created, 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(w[i].made, 300);
    await_value(c.s[1], "w2-19", "v");
    cluster_close(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_join_waits_for_every_peer, teardown),
        cmocka_unit_test_teardown(test_a_group_starting_together_sends_no_copy, teardown),
        cmocka_unit_test_teardown(test_replicates_and_converges, teardown),
        cmocka_unit_test_teardown(test_held_link_buffers_the_dependent_write, teardown),
        cmocka_unit_test_teardown(test_a_cut_link_loses_the_senders_copies, teardown),
        cmocka_unit_test_teardown(test_restart_without_state_never_reuses_a_seq, teardown),
        cmocka_unit_test_teardown(test_a_joiner_asks_every_peer_and_takes_one_copy, teardown),
        cmocka_unit_test_teardown(test_a_peer_of_an_earlier_release_answers_a_joiner, teardown),
        cmocka_unit_test_teardown(test_three_of_four_restart_at_once, teardown),
        cmocka_unit_test_teardown(test_replicate_refuses_malformed_and_own_writes, teardown),
        cmocka_unit_test_teardown(test_curve_admits_only_configured_peers, teardown),
        cmocka_unit_test_teardown(test_an_allow_list_refuses_other_addresses, teardown),
        cmocka_unit_test_teardown(test_full_log_refuses_then_recovers, teardown),
        cmocka_unit_test_teardown(test_hostile_link_messages, teardown),
        cmocka_unit_test_teardown(test_pulls_for_a_full_link_make_no_copies, teardown),
        cmocka_unit_test_teardown(test_head_requests_are_answered_at_a_bounded_rate, teardown),
        cmocka_unit_test_teardown(test_a_copy_smaller_than_its_head_is_not_installed, teardown),
        cmocka_unit_test_teardown(test_absurd_report_does_not_keep_a_restarted_node_out, teardown),
        cmocka_unit_test_teardown(test_a_joiner_takes_the_state_of_a_peer_that_has_it, teardown),
        cmocka_unit_test_teardown(test_a_held_write_of_the_old_process_keeps_its_seq, teardown),
        cmocka_unit_test_teardown(test_a_joiner_takes_the_log_of_writes_not_yet_stable, teardown),
        cmocka_unit_test_teardown(test_a_joining_peer_tells_what_its_answers_hold, teardown),
        cmocka_unit_test_teardown(test_an_answer_without_a_log_takes_nothing_as_stable, teardown),
        cmocka_unit_test_teardown(test_a_restart_keeps_the_saved_stable_clock, teardown),
        cmocka_unit_test_teardown(test_a_join_round_is_answered_once, teardown),
        cmocka_unit_test_teardown(test_writes_go_on_while_a_peer_joins, teardown),
        cmocka_unit_test_teardown(test_durable_restart_takes_its_state_back, teardown),
        cmocka_unit_test_teardown(test_a_node_behind_itself_takes_no_writes, teardown),
        cmocka_unit_test_teardown(test_a_stale_word_does_not_end_a_restored_nodes_wait, teardown),
        cmocka_unit_test_teardown(test_durable_full_map_refuses_and_keeps_what_it_answered, teardown),
        cmocka_unit_test_teardown(test_durable_refuses_a_foreign_directory, teardown),
        cmocka_unit_test_teardown(test_durable_takes_a_file_that_ends_before_its_last_page, teardown),
        cmocka_unit_test_teardown(test_durable_write_saved_during_another_threads_burst, teardown),
        cmocka_unit_test_teardown(test_durable_sync_none_after_a_machine_crash, teardown),
        cmocka_unit_test_teardown(test_durable_sync_none_marks_the_run_on_disk, teardown),
        cmocka_unit_test_teardown(test_durable_fault_elsewhere_during_a_save_is_not_damage, teardown),
        cmocka_unit_test_teardown(test_durable_join_saves_the_installed_log, teardown),
        cmocka_unit_test_teardown(test_durable_long_keys_that_collide, teardown),
        cmocka_unit_test_teardown(test_durable_refuses_a_damaged_state, teardown),
        cmocka_unit_test_teardown(test_durable_refuses_a_record_that_fails_its_checksum, teardown),
        cmocka_unit_test_teardown(test_durable_upgrades_a_directory_without_checksums, teardown),
        cmocka_unit_test_teardown(test_durable_directory_removed_under_the_node, teardown),
        cmocka_unit_test_teardown(test_durable_lock_removed_leaves_the_directory_alone, teardown),
        cmocka_unit_test_teardown(test_durable_refuses_a_misrouting_branch_key, teardown),
        cmocka_unit_test_teardown(test_durable_writers_on_threads_send_only_saved, teardown),
        cmocka_unit_test_teardown(test_a_delayed_write_leaves_the_loss_signal_to_the_next, teardown),
        cmocka_unit_test_teardown(test_a_refused_write_passes_the_loss_signal_on, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
