/* Two replicas driven by the embedder's own loop, as a network service would:
 * no engine threads, the replica API (cw_node) and the message codec. Each
 * write's message is encoded to bytes, "sent" in reverse order (the network
 * reorders), decoded on the other side and received there. The wire holds
 * two frames: a send that finds it full is refused (backpressure), the
 * replica keeps the write's message, and cw_node_flush sends it once the
 * wire has room. Nothing is dropped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <causeway/causeway.h>

enum { WIRE_FRAMES = 2 };

typedef struct wire {       /* bytes in flight from one replica to the other */
    uint8_t *frames[WIRE_FRAMES];
    size_t len[WIRE_FRAMES];
    size_t count;
} wire;

/* Takes the message (encoded onto the wire) or refuses it, taking nothing. */
static int send_bytes(void *ctx, cw_msg *m)
{
    wire *w = ctx;
    if (w->count == WIRE_FRAMES) {
        printf("  wire full: write %u.%llu refused, the replica keeps it\n", cw_msg_origin(m),
               (unsigned long long)cw_msg_seq(m));
        return CW_EFULL;
    }
    size_t len = cw_msg_encoded_size(m);
    uint8_t *buf = malloc(len);
    if (!buf)
        return CW_ENOMEM;
    int rc = cw_msg_encode(m, buf, len, &len);
    if (rc != CW_OK) {
        free(buf);
        return rc;
    }
    w->frames[w->count] = buf;
    w->len[w->count++] = len;
    return CW_OK;
}

/* Delivers everything on the wire to `to`, newest first. */
static int pump(wire *w, cw_node *to)
{
    cw_msg_limits lim = {2, CW_NODE_DEFAULT_MAX_KEY_LEN, CW_NODE_DEFAULT_MAX_VALUE_LEN};
    while (w->count) {
        size_t i = --w->count;
        cw_msg *m;
        int rc = cw_msg_decode(&m, w->frames[i], w->len[i], &lim, NULL);
        free(w->frames[i]);
        if (rc != CW_OK)
            return rc;
        cw_receive_result res;
        rc = cw_node_receive(to, m, &res, NULL);
        printf("  node%u received write %u.%llu: %s\n", cw_node_self(to), cw_msg_origin(m),
               (unsigned long long)cw_msg_seq(m),
               res == CW_RECEIVE_BUFFERED ? "buffered (an earlier write is missing)"
               : res == CW_RECEIVE_DUPLICATE ? "duplicate" : "applied");
        cw_msg_unref(m);
        if (rc != CW_OK)
            return rc;
    }
    return CW_OK;
}

int main(void)
{
    wire to_b = {0}, to_a = {0};
    cw_node *a, *b;
    cw_node_options o;
    cw_node_options_init(&o);
    o.nodes = 2;
    o.self = 0;
    o.send = send_bytes;
    o.send_ctx = &to_b;
    if (cw_node_create(&a, &o) != CW_OK)
        return 1;
    o.self = 1;
    o.send_ctx = &to_a;
    if (cw_node_create(&b, &o) != CW_OK)
        return 1;
    printf("writes:\n");
    int rc = cw_node_put(a, "balance", 7, "100", 3, NULL);
    if (rc == CW_OK)
        rc = cw_node_put(a, "owner", 5, "ann", 3, NULL);
    if (rc == CW_OK)
        rc = cw_node_put(a, "balance", 7, "70", 2, NULL); /* follows both: refused, kept */
    if (rc == CW_OK)
        rc = cw_node_put(b, "note", 4, "hello", 5, NULL);
    printf("a -> b (reordered), %zu write(s) of a waiting to be sent:\n", cw_node_unsent(a));
    if (rc == CW_OK)
        rc = pump(&to_b, b);
    /* The wire has room again: send what was refused, and carry it. */
    size_t sent = 0;
    if (rc == CW_OK)
        rc = cw_node_flush(a, &sent);
    printf("a flushed %zu write(s):\n", sent);
    if (rc == CW_OK)
        rc = pump(&to_b, b);
    printf("b -> a:\n");
    if (rc == CW_OK)
        rc = pump(&to_a, a);
    cw_vclock ca, cb;
    cw_vclock_init(&ca);
    cw_vclock_init(&cb);
    cw_node_clock(a, &ca);
    cw_node_clock(b, &cb);
    int same = cw_vclock_compare(&ca, &cb) == CW_EQUAL;
    cw_read r;
    cw_read_init(&r);
    int got = cw_node_get(b, "balance", 7, &r) == CW_OK && r.count == 1 && r.versions[0].value_len == 2 &&
              memcmp(r.versions[0].value, "70", 2) == 0;
    printf("replicas %s; balance at b = %.*s\n", same ? "converged" : "DIVERGED",
           got ? 2 : 0, got ? (char *)r.versions[0].value : "");
    cw_node_dump(b, stdout);
    cw_read_destroy(&r);
    cw_vclock_destroy(&ca);
    cw_vclock_destroy(&cb);
    cw_node_destroy(a);
    cw_node_destroy(b);
    return rc == CW_OK && same && got ? 0 : 1;
}
