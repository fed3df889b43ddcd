/* Three replicas over a network that loses a quarter of what it carries,
 * driven by the embedder's own loop: no engine threads, the replica API
 * (cw_node), the message codec, and the embedder's clock. Loss recovery is
 * on because the nodes have a send_to callback: a node notices the writes
 * it misses and pulls them, peers answer from their logs, and reports of
 * what each node applied make writes causally stable, which empties the
 * logs. Writes, pulls, answers and reports are all lost alike. The loop
 * carries what was sent, then moves its clock on and ticks each node whose
 * next tick is due (time enters a replica only through cw_node_tick),
 * until every node holds every write and knows all of them stable.
 * Nothing is lost for good, nothing is applied twice. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <causeway/causeway.h>

enum { NODES = 3, WRITES = 30, MAX_FRAMES = 4096 };

typedef struct frame {
    uint32_t to;
    uint8_t *bytes;
    size_t len;
} frame;

/* Frames on their way, and the dice that lose some (seeded: every run is
 * the same run). */
typedef struct network {
    frame frames[MAX_FRAMES];
    size_t count;
    uint64_t dice;
    unsigned carried, lost;
} network;

typedef struct endpoint {
    network *net;
    uint32_t self;
} endpoint;

static bool lose(network *n)
{
    n->dice ^= n->dice << 13; /* xorshift64 */
    n->dice ^= n->dice >> 7;
    n->dice ^= n->dice << 17;
    return n->dice % 4 == 0;
}

/* Puts m's bytes on the way to `to`, or loses them. A full network refuses
 * (nothing taken): a write is offered again by cw_node_flush, recovery
 * traffic is repeated by the replica. */
static int carry(network *n, uint32_t to, const cw_msg *m)
{
    if (n->count == MAX_FRAMES)
        return CW_EFULL;
    if (lose(n)) {
        n->lost++;
        return CW_OK; /* taken, and lost on the way */
    }
    size_t len = cw_msg_encoded_size(m);
    uint8_t *bytes = malloc(len);
    if (!bytes)
        return CW_ENOMEM;
    int rc = cw_msg_encode(m, bytes, len, &len);
    if (rc != CW_OK) {
        free(bytes);
        return rc;
    }
    n->frames[n->count++] = (frame){to, bytes, len};
    return CW_OK;
}

/* A message for one node, or for every other node (CW_NODE_ALL). Refused
 * up front when the network cannot take every copy; out of memory part
 * way, the copies already on the way stay (a peer drops a second copy of a
 * write as a duplicate, and a pull or report is sent again anyway). */
static int send_to(void *ctx, uint32_t to, cw_msg *m)
{
    endpoint *e = ctx;
    if (e->net->count + NODES > MAX_FRAMES)
        return CW_EFULL;
    for (uint32_t j = 0; j < NODES; j++) {
        if (j == e->self || (to != CW_NODE_ALL && to != j))
            continue;
        int rc = carry(e->net, j, m);
        if (rc != CW_OK)
            return rc;
    }
    return CW_OK;
}

/* A local write's message, for every other node. */
static int send_write(void *ctx, cw_msg *m) { return send_to(ctx, CW_NODE_ALL, m); }

/* Hands every frame on the way to its node (what they send now waits for
 * the next call). */
static int deliver(network *n, cw_node *const *nodes)
{
    cw_msg_limits lim = {NODES, CW_NODE_DEFAULT_MAX_KEY_LEN, CW_NODE_DEFAULT_MAX_VALUE_LEN};
    size_t count = n->count;
    frame now[MAX_FRAMES];
    for (size_t i = 0; i < count; i++)
        now[i] = n->frames[i];
    n->count = 0;
    int rc = CW_OK;
    for (size_t i = 0; i < count; i++) {
        cw_msg *m = NULL;
        if (rc == CW_OK)
            rc = cw_msg_decode(&m, now[i].bytes, now[i].len, &lim, NULL);
        free(now[i].bytes);
        if (m) {
            rc = cw_node_receive(nodes[now[i].to], m, NULL, NULL);
            cw_msg_unref(m);
            n->carried++;
        }
    }
    return rc;
}

/* Whether every node has applied every write, and knows all of it stable. */
static bool settled(cw_node *const *nodes)
{
    cw_vclock first, clock, stable;
    cw_vclock_init(&first);
    cw_vclock_init(&clock);
    cw_vclock_init(&stable);
    bool done = cw_node_clock(nodes[0], &first) == CW_OK;
    for (uint32_t j = 0; done && j < NODES; j++)
        done = cw_node_clock(nodes[j], &clock) == CW_OK && cw_node_stable(nodes[j], &stable) == CW_OK &&
               cw_vclock_compare(&clock, &first) == CW_EQUAL && cw_vclock_compare(&stable, &first) == CW_EQUAL;
    cw_vclock_destroy(&first);
    cw_vclock_destroy(&clock);
    cw_vclock_destroy(&stable);
    return done;
}

int main(void)
{
    static network net = {.dice = 0x9e3779b97f4a7c15u};
    endpoint ends[NODES];
    cw_node *nodes[NODES] = {NULL};
    cw_node_options o;
    cw_node_options_init(&o);
    o.nodes = NODES;
    o.recovery_timeout_ns = 20000000u;  /* pull what has been missing 20 ms */
    o.report_interval_ns = 10000000u;   /* a silent node reports every 10 ms */
    int rc = CW_OK;
    for (uint32_t j = 0; j < NODES && rc == CW_OK; j++) {
        ends[j] = (endpoint){&net, j};
        o.self = j;
        o.send = send_write;
        o.send_ctx = &ends[j];
        o.send_to = send_to;
        o.send_to_ctx = &ends[j];
        rc = cw_node_create(&nodes[j], &o);
    }
    /* Each node writes in turn, with the network carrying between writes,
     * so later writes depend on earlier ones (and wait for those lost). */
    uint64_t now = 0; /* the embedder's clock, ns */
    for (int i = 0; i < WRITES && rc == CW_OK; i++) {
        char key[8], value[16];
        snprintf(key, sizeof key, "k%d", i % 5);
        int len = snprintf(value, sizeof value, "v%d", i);
        rc = cw_node_put(nodes[i % NODES], key, 2, value, (size_t)len, NULL);
        if (rc == CW_OK)
            rc = deliver(&net, nodes);
    }
    printf("%d writes made; %u messages carried, %u lost\n", WRITES, net.carried, net.lost);
    for (uint32_t j = 0; j < NODES && rc == CW_OK; j++) {
        cw_vclock c;
        cw_vclock_init(&c);
        cw_node_clock(nodes[j], &c);
        char text[64];
        size_t len = 0;
        cw_vclock_format(&c, text, sizeof text, &len);
        printf("  node%u has applied %.*s\n", j, (int)len, text);
        cw_vclock_destroy(&c);
    }
    /* Recovery: a millisecond at a time, tick each node whose tick is due,
     * and carry what it sent. Also flush writes a full network refused. */
    int ms = 0;
    while (rc == CW_OK && !settled(nodes) && ms < 60000) {
        now += 1000000u;
        ms++;
        for (uint32_t j = 0; j < NODES && rc == CW_OK; j++) {
            if (cw_node_next_tick(nodes[j]) <= now)
                rc = cw_node_tick(nodes[j], now, NULL);
            if (rc == CW_OK && cw_node_unsent(nodes[j]))
                rc = cw_node_flush(nodes[j], NULL);
        }
        if (rc == CW_OK)
            rc = deliver(&net, nodes);
    }
    bool done = rc == CW_OK && settled(nodes);
    printf("after %d ms of the embedder's clock: %s; %u messages carried, %u lost\n", ms,
           done ? "every node has every write, all stable" : "NOT SETTLED", net.carried, net.lost);
    for (uint32_t j = 0; j < NODES && done; j++) {
        cw_node_stats s;
        cw_node_get_stats(nodes[j], &s);
        printf("  node%u: %llu pulls sent, %llu writes sent again, %llu recovered, %llu left in its log\n", j,
               (unsigned long long)s.pulls, (unsigned long long)s.retransmitted, (unsigned long long)s.recovered,
               (unsigned long long)s.log_entries);
        done = s.log_entries == 0;
    }
    /* The replicas agree on every key: the same versions, values and clocks. */
    cw_read first, r;
    cw_read_init(&first);
    cw_read_init(&r);
    bool agree = true;
    for (int k = 0; k < 5 && agree; k++) {
        char key[8];
        snprintf(key, sizeof key, "k%d", k);
        agree = cw_node_get(nodes[0], key, 2, &first) == CW_OK;
        for (uint32_t j = 1; j < NODES && agree; j++) {
            agree = cw_node_get(nodes[j], key, 2, &r) == CW_OK && r.count == first.count;
            for (size_t v = 0; v < r.count && agree; v++)
                agree = r.versions[v].value_len == first.versions[v].value_len &&
                        memcmp(r.versions[v].value, first.versions[v].value, r.versions[v].value_len) == 0 &&
                        cw_vclock_compare(&r.versions[v].clock, &first.versions[v].clock) == CW_EQUAL;
        }
    }
    cw_read_destroy(&first);
    cw_read_destroy(&r);
    printf("the replicas %s on every key\n", agree ? "agree" : "DO NOT AGREE");
    done = done && agree;
    for (uint32_t j = 0; j < NODES; j++)
        cw_node_destroy(nodes[j]);
    for (size_t i = 0; i < net.count; i++)
        free(net.frames[i].bytes);
    if (rc != CW_OK)
        fprintf(stderr, "lossy: %s\n", cw_strerror(rc));
    return done ? 0 : 1;
}
