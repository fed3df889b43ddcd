/* causeway demo: a causal key-value store on three in-process
 * replicas, with node0's write to node2 held back so node2 must buffer the
 * write that depends on it. Every claim printed is checked; the exit status
 * is non-zero if one fails. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <causeway/causeway.h>

#include "cli.h"
#include "opts.h"

static int failures;

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "causeway demo: check failed: %s\n", what);
        failures++;
    }
}

/* The clock as text into buf. */
static const char *clock_text(const cw_vclock *c, char *buf, size_t cap)
{
    size_t len;
    if (cw_vclock_format(c, buf, cap, &len) != CW_OK)
        snprintf(buf, cap, "?");
    return buf;
}

static void write_step(cw_engine *e, int step, cw_node_id at, const char *key, const char *value,
                       const char *note, const char *expect)
{
    cw_vclock c;
    cw_vclock_init(&c);
    char text[64] = "", what[96];
    int rc = cw_engine_put(e, at, key, strlen(key), value, strlen(value), &c);
    snprintf(what, sizeof what, "write %s=%s at node%u%s", key, value, at, note);
    if (rc == CW_OK)
        printf("%d. %-42s clock %s\n", step, what, clock_text(&c, text, sizeof text));
    else
        printf("%d. %-42s %s\n", step, what, cw_strerror(rc));
    check(rc == CW_OK && strcmp(text, expect) == 0, what);
    cw_vclock_destroy(&c);
}

static void read_step(cw_engine *e, int step, cw_node_id at, const char *key, const char *expect_value,
                      const char *expect_clock)
{
    cw_read r;
    cw_read_init(&r);
    char text[64] = "", what[64];
    int rc = cw_engine_get(e, at, key, strlen(key), &r);
    snprintf(what, sizeof what, "read %s at node%u", key, at);
    if (rc == CW_OK && r.count == 1) {
        printf("%d. %-42s value %.*s, clock %s\n", step, what, (int)r.versions[0].value_len,
               (const char *)r.versions[0].value, clock_text(&r.versions[0].clock, text, sizeof text));
        check(r.versions[0].value_len == strlen(expect_value) &&
                  memcmp(r.versions[0].value, expect_value, r.versions[0].value_len) == 0 &&
                  strcmp(text, expect_clock) == 0,
              what);
    } else {
        printf("%d. %-42s %s\n", step, what, cw_strerror(rc));
        check(0, what);
    }
    cw_read_destroy(&r);
}

/* Waits until every write reached every node it can; a failure is a
 * failed check with its reason. */
static void quiesce(cw_engine *e)
{
    int rc = cw_engine_quiesce(e, 10000);
    if (rc != CW_OK) {
        char what[96];
        snprintf(what, sizeof what, "writes delivered within 10 s (%s)", cw_strerror(rc));
        check(0, what);
    }
}

static uint64_t pending(cw_engine *e, cw_node_id at)
{
    cw_node_stats st;
    return cw_engine_stats(e, at, &st) == CW_OK ? st.buffered : UINT64_MAX;
}

int cli_demo(int argc, char **argv)
{
    cli_command cmd = {.path = "demo",
                     .summary = "A causal key-value store on three in-process replicas, step by step: node0's\n"
                                "link to node2 is held, so node2 must buffer a write until the write it\n"
                                "depends on arrives. Every claim printed is checked (exit status 1 if one\n"
                                "fails); then every node's state is printed."};
    int rc = cli_parse(&cmd, argc, argv, NULL);
    if (rc != CLI_OK)
        return rc == CLI_HELP ? CLI_OK : rc;
    cw_engine_options o;
    cw_engine_options_init(&o);
    o.nodes = 3;
    cw_engine *e;
    rc = cw_engine_open(&e, &o);
    if (rc != CW_OK) {
        fprintf(stderr, "causeway demo: %s\n", cw_strerror(rc));
        return CLI_FAIL;
    }
    printf("Causeway demo: a causal key-value store on 3 in-process replicas.\n"
           "The link node0 -> node2 is held, so node2 receives y before x.\n\n");
    cw_engine_hold_link(e, 0, 2, true);
    write_step(e, 1, 0, "x", "1", "", "0:1");
    quiesce(e);
    read_step(e, 2, 1, "x", "1", "0:1");
    write_step(e, 3, 1, "y", "2", " (depends on x)", "0:1,1:1");
    quiesce(e);
    uint64_t p = pending(e, 2);
    printf("4. %-42s node2 buffers it (pending writes: %llu)\n", "y reaches node2 before x",
           (unsigned long long)p);
    check(p == 1, "node2 buffers y");
    cw_engine_hold_link(e, 0, 2, false);
    quiesce(e);
    p = pending(e, 2);
    printf("5. %-42s node2 applies x, then y (pending writes: %llu)\n", "release node0 -> node2: x arrives",
           (unsigned long long)p);
    check(p == 0, "node2 delivers x then y");
    read_step(e, 6, 2, "y", "2", "0:1,1:1");
    printf("\nCausal consistency verified: node2 applied y only after x.\n\n");
    if ((rc = cw_engine_dump(e, stdout)) != CW_OK) /* CW_EINVAL: a write error as well as a bad argument */
        fprintf(stderr, "causeway demo: the nodes' state could not be printed: %s\n",
                ferror(stdout) ? "standard output cannot be written" : cw_strerror(rc));
    check(rc == CW_OK, "every node's state printed");
    for (cw_node_id i = 0; i < 3; i++) {
        cw_vclock c;
        cw_vclock_init(&c);
        char text[64];
        cw_engine_clock(e, i, &c);
        check(strcmp(clock_text(&c, text, sizeof text), "0:1,1:1") == 0, "every node ends at 0:1,1:1");
        check(pending(e, i) == 0, "no pending writes");
        cw_vclock_destroy(&c);
    }
    cw_engine_close(e);
    if (failures)
        return CLI_FAIL;
    printf("\nAll nodes at clock 0:1,1:1 with no pending writes.\n");
    return CLI_OK;
}
