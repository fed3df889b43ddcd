/* An embedder's own transport, judged by the ground-truth history
 * (causeway/verify.h). Three replicas, driven by the embedder's loop, pass
 * encoded writes through a network that reorders and duplicates what it
 * carries. Every application goes to a cw_history (from on_apply, local
 * writes included), each node's final state after the run, and the history
 * gives its verdict: causal order, each write stamped with its true past
 * (so concurrency was detected exactly), nothing lost or applied twice,
 * each key holding exactly its concurrent maximal writes, every node the
 * same. The history keeps its own record of what each write's origin
 * made; it does not trust the replicas' clocks.
 *
 * The run is made twice with the same seed: over the honest network it
 * passes; over one that changes a single byte of one frame (a value, which
 * the codec carries unchecked), the replica applies what it is given, and
 * the history names the write whose copy is not what its origin made. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <causeway/causeway.h>
#include <causeway/verify.h>

enum { NODES = 3, WRITES = 60, KEYS = 4, MAX_FRAMES = 1024 };

typedef struct frame {
    uint32_t to;
    uint8_t *bytes;
    size_t len;
} frame;

typedef struct network {
    frame frames[MAX_FRAMES];
    size_t count;
    uint64_t dice;
    unsigned carried;
    int corrupt_at; /* the frame, counted as carried, whose value is changed; -1: none */
    int corrupted;  /* the write (its value's number) changed on its way; -1: none */
} network;

typedef struct replica {
    network *net;
    cw_history *h;
    uint32_t self;
    unsigned refused; /* applications the history found wrong as they were made */
} replica;

static uint64_t roll(network *n)
{
    n->dice ^= n->dice << 13; /* xorshift64: every run with one seed is the same run */
    n->dice ^= n->dice >> 7;
    n->dice ^= n->dice << 17;
    return n->dice;
}

/* A write's frames, one for each other node. */
static int send_write(void *ctx, cw_msg *m)
{
    replica *r = ctx;
    network *n = r->net;
    if (n->count + NODES > MAX_FRAMES)
        return CW_EFULL; /* nothing taken: the node keeps the write for cw_node_flush */
    size_t len = cw_msg_encoded_size(m);
    for (uint32_t j = 0; j < NODES; j++) {
        if (j == r->self)
            continue;
        uint8_t *bytes = malloc(len);
        if (!bytes)
            return CW_ENOMEM;
        int rc = cw_msg_encode(m, bytes, len, &len);
        if (rc != CW_OK) {
            free(bytes);
            return rc;
        }
        n->frames[n->count++] = (frame){j, bytes, len};
    }
    return CW_OK;
}

static void on_apply(void *ctx, const cw_msg *m)
{
    replica *r = ctx;
    if (!cw_history_applied(r->h, r->self, m))
        r->refused++;
}

/* The faulty network's one change: the last digit of the value "vN" in
 * the frame's bytes, found by its text. Records N. */
static void change_value(network *n, frame *f)
{
    for (size_t i = 0; i + 2 < f->len; i++) {
        if (f->bytes[i] != 'v' || f->bytes[i + 1] < '0' || f->bytes[i + 1] > '9')
            continue;
        size_t end = i + 1;
        int number = 0;
        while (end < f->len && f->bytes[end] >= '0' && f->bytes[end] <= '9')
            number = number * 10 + (f->bytes[end++] - '0');
        if (end != f->len) /* the value is the frame's last field */
            continue;
        f->bytes[end - 1] = (uint8_t)('0' + (f->bytes[end - 1] - '0' + 1) % 10);
        n->corrupted = number;
        return;
    }
}

/* Carries every frame on the way, in a shuffled order; one in eight is
 * carried twice (the replica drops the second copy). What the nodes send
 * meanwhile waits for the next call. */
static int deliver(network *n, cw_node *const *nodes)
{
    static frame now[2 * MAX_FRAMES];
    size_t count = 0;
    for (size_t i = 0; i < n->count; i++) {
        now[count++] = n->frames[i];
        if (roll(n) % 8 == 0) {
            uint8_t *again = malloc(n->frames[i].len);
            if (again) {
                memcpy(again, n->frames[i].bytes, n->frames[i].len);
                now[count++] = (frame){n->frames[i].to, again, n->frames[i].len};
            }
        }
    }
    n->count = 0;
    for (size_t i = count; i > 1; i--) { /* Fisher-Yates */
        size_t j = (size_t)(roll(n) % i);
        frame t = now[i - 1];
        now[i - 1] = now[j];
        now[j] = t;
    }
    cw_msg_limits lim = {NODES, CW_NODE_DEFAULT_MAX_KEY_LEN, CW_NODE_DEFAULT_MAX_VALUE_LEN};
    int rc = CW_OK;
    for (size_t i = 0; i < count; i++) {
        if ((int)n->carried++ == n->corrupt_at)
            change_value(n, &now[i]);
        cw_msg *m = NULL;
        if (rc == CW_OK)
            rc = cw_msg_decode(&m, now[i].bytes, now[i].len, &lim, NULL);
        free(now[i].bytes);
        if (m) {
            rc = cw_node_receive(nodes[now[i].to], m, NULL, NULL);
            cw_msg_unref(m);
        }
    }
    return rc;
}

/* One run over the network: writes at each node in turn, the network
 * carrying every few writes (so writes are concurrent between carries and
 * ordered across them), then the final states and the verdict. Prints the
 * verdict; returns whether the history judged the run correct, or -1 when
 * the run could not be made. */
static int run(const char *name, int corrupt_at)
{
    static network net;
    memset(&net, 0, sizeof net);
    net.dice = 0x9e3779b97f4a7c15u;
    net.corrupt_at = corrupt_at;
    net.corrupted = -1;
    cw_history *h = NULL;
    replica reps[NODES];
    cw_node *nodes[NODES] = {NULL};
    int rc = cw_history_create(&h, NODES, WRITES, CW_KEEP_SIBLINGS);
    cw_node_options o;
    cw_node_options_init(&o);
    o.nodes = NODES;
    o.on_apply = on_apply;
    o.send = send_write;
    for (uint32_t j = 0; j < NODES && rc == CW_OK; j++) {
        reps[j] = (replica){&net, h, j, 0};
        o.self = j;
        o.send_ctx = &reps[j];
        o.apply_ctx = &reps[j];
        rc = cw_node_create(&nodes[j], &o);
    }
    for (int i = 0; i < WRITES && rc == CW_OK; i++) {
        char key[8], value[16];
        snprintf(key, sizeof key, "k%d", i % KEYS);
        int len = snprintf(value, sizeof value, "v%d", i);
        rc = cw_node_put(nodes[i % NODES], key, 2, value, (size_t)len, NULL);
        if (rc == CW_OK && roll(&net) % 3 == 0)
            rc = deliver(&net, nodes);
    }
    for (int pass = 0; rc == CW_OK && (net.count > 0 || pass == 0); pass++) {
        for (uint32_t j = 0; j < NODES && rc == CW_OK; j++)
            if (cw_node_unsent(nodes[j]))
                rc = cw_node_flush(nodes[j], NULL);
        if (rc == CW_OK)
            rc = deliver(&net, nodes);
    }
    for (uint32_t j = 0; j < NODES && rc == CW_OK; j++)
        rc = cw_history_final_node(h, nodes[j]);
    int verdict = -1;
    if (rc == CW_OK) {
        cw_history_report rep;
        verdict = cw_history_verdict(h, &rep);
        unsigned refused = 0;
        for (uint32_t j = 0; j < NODES; j++)
            refused += reps[j].refused;
        printf("%s: %llu writes, %llu applications, %llu frames carried, %llu concurrent pairs of %llu\n", name,
               (unsigned long long)rep.writes, (unsigned long long)rep.applications, (unsigned long long)net.carried,
               (unsigned long long)rep.concurrent_pairs,
               (unsigned long long)(rep.concurrent_pairs + rep.ordered_pairs));
        if (net.corrupted >= 0)
            printf("  the network changed the value of write v%d on its way\n", net.corrupted);
        if (verdict)
            printf("  verdict: PASS\n");
        else
            printf("  verdict: FAIL (%u application%s found wrong as made): %s\n", refused, refused == 1 ? "" : "s",
                   cw_history_violation(h));
    } else {
        fprintf(stderr, "checked: %s: %s\n", name, cw_strerror(rc));
    }
    for (uint32_t j = 0; j < NODES; j++)
        cw_node_destroy(nodes[j]);
    for (size_t i = 0; i < net.count; i++)
        free(net.frames[i].bytes);
    cw_history_destroy(h);
    return verdict;
}

int main(void)
{
    int honest = run("an honest network", -1);
    int faulty = run("a network that changes one byte", 40);
    /* Correct when the honest run passes and the faulty one is caught. */
    return honest == 1 && faulty == 0 ? 0 : 1;
}
