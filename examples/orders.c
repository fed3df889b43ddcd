/* An e-commerce order's events on named nodes. node1 creates the
 * order; node2 processes it after receiving node1's clock (the seed's sync:
 * {node1: 1, node2: 1}); node2 takes the payment, node3 ships. Shipping is
 * never applied before payment at any replica: causal delivery guarantees it,
 * and this program checks it at every node. Public API only. */
#include <stdio.h>
#include <string.h>

#include <causeway/causeway.h>

static const char *names[] = {"node1", "node2", "node3"};

/* What each replica applied, in order, by the event's last word. Written by
 * the engine's workers (on_apply), read once the engine is closed. */
static const char *events[] = {"created", "updated", "paid", "shipped"};
enum { EVENTS = 4 };
static int applied[3][EVENTS];
static size_t count[3];

static int event_index(const char *value, size_t len)
{
    for (int i = 0; i < EVENTS; i++) {
        size_t n = strlen(events[i]);
        if (len >= n && memcmp(value + len - n, events[i], n) == 0)
            return i;
    }
    return -1;
}

static void on_apply(void *ctx, cw_node_id node, const cw_msg *m)
{
    (void)ctx;
    size_t len;
    const char *v = cw_msg_value(m, &len);
    if (count[node] < EVENTS)
        applied[node][count[node]++] = event_index(v, len);
}

/* The position of event e in node n's order of application, or -1. */
static int position(int n, int e)
{
    for (size_t i = 0; i < count[n]; i++)
        if (applied[n][i] == e)
            return (int)i;
    return -1;
}

static void print_clock(const char *label, const cw_vclock *c)
{
    printf("%s {", label);
    for (size_t i = 0; i < cw_vclock_size(c); i++) {
        cw_node_id id;
        uint64_t n;
        cw_vclock_entry(c, i, &id, &n);
        printf("%s'%s': %llu", i ? ", " : "", names[id], (unsigned long long)n);
    }
    printf("}\n");
}

static int event(cw_engine *e, cw_node_id at, const char *what)
{
    cw_vclock c;
    cw_vclock_init(&c);
    int rc = cw_engine_put(e, at, "order:O001", 10, what, strlen(what), &c);
    if (rc == CW_OK) {
        char label[64];
        snprintf(label, sizeof label, "%-20s at %s:", what, names[at]);
        print_clock(label, &c);
        /* the next event happens elsewhere after this one has reached it */
        rc = cw_engine_quiesce(e, 10000);
    }
    cw_vclock_destroy(&c);
    return rc;
}

int main(void)
{
    cw_engine_options o;
    cw_engine_options_init(&o);
    o.nodes = 3;
    o.on_apply = on_apply;
    o.delay_probability = 0.5; /* messages held back and reordered */
    o.max_delay_us = 2000;
    cw_engine *e;
    if (cw_engine_open(&e, &o) != CW_OK)
        return 1;
    int rc = event(e, 0, "Order O001 created");
    if (rc == CW_OK)
        rc = event(e, 1, "Order O001 updated");
    cw_vclock c;
    cw_vclock_init(&c);
    cw_engine_clock(e, 1, &c);
    print_clock("Vector clock after sync:", &c); /* {'node1': 1, 'node2': 1} */
    bool sync_ok = cw_vclock_get(&c, 0) == 1 && cw_vclock_get(&c, 1) == 1 && cw_vclock_size(&c) == 2;
    cw_vclock_destroy(&c);
    if (rc == CW_OK)
        rc = event(e, 1, "Order O001 paid");
    if (rc == CW_OK)
        rc = event(e, 2, "Order O001 shipped");
    cw_engine_close(e);
    bool ok = rc == CW_OK && sync_ok;
    for (int n = 0; n < 3; n++) {
        printf("%s applied:", names[n]);
        for (size_t i = 0; i < count[n]; i++)
            printf("%s %s", i ? "," : "", applied[n][i] >= 0 ? events[applied[n][i]] : "?");
        printf("\n");
        int paid = position(n, 2), shipped = position(n, 3);
        ok &= paid >= 0 && shipped > paid;
    }
    printf(ok ? "shipping was applied after payment at every replica\n" : "ORDER VIOLATED\n");
    return ok ? 0 : 1;
}
