/* A causal key-value store through the engine, in about a page:
 * three nodes, node0's write to node2 held back, node2 buffers y until x. */
#include <stdio.h>
#include <string.h>

#include <causeway/causeway.h>

static void show(cw_engine *e, cw_node_id at, const char *key)
{
    cw_read r;
    cw_read_init(&r);
    if (cw_engine_get(e, at, key, strlen(key), &r) == CW_OK) {
        char clock[64];
        size_t len;
        cw_vclock_format(&r.versions[0].clock, clock, sizeof clock, &len);
        printf("read %s at node%u: %.*s {%s}\n", key, at, (int)r.versions[0].value_len,
               (char *)r.versions[0].value, clock);
    } else {
        printf("read %s at node%u: not there yet\n", key, at);
    }
    cw_read_destroy(&r);
}

int main(void)
{
    cw_engine_options o;
    cw_engine_options_init(&o);
    o.nodes = 3;
    cw_engine *e;
    if (cw_engine_open(&e, &o) != CW_OK)
        return 1;
    cw_engine_hold_link(e, 0, 2, true);          /* x will reach node2 late */
    cw_engine_put(e, 0, "x", 1, "1", 1, NULL);
    cw_engine_quiesce(e, 5000);
    show(e, 1, "x");
    cw_engine_put(e, 1, "y", 1, "2", 1, NULL);   /* depends on x */
    cw_engine_quiesce(e, 5000);
    show(e, 2, "y");                             /* buffered: not there yet */
    cw_engine_hold_link(e, 0, 2, false);
    cw_engine_quiesce(e, 5000);
    show(e, 2, "y");
    cw_engine_dump(e, stdout);
    cw_vclock c;
    cw_vclock_init(&c);
    cw_engine_clock(e, 2, &c);
    int ok = cw_vclock_get(&c, 0) == 1 && cw_vclock_get(&c, 1) == 1;
    cw_vclock_destroy(&c);
    cw_engine_close(e);
    return ok ? 0 : 1;
}
