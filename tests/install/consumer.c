/* An outside program using the installed library through its public header
 * only: proves headers, libraries, pkg-config and the CMake package work,
 * the checker and simulator of causeway/verify.h included. */
#include <stdio.h>
#include <string.h>

#include <causeway/causeway.h>

int main(void)
{
    cw_vclock a, b;
    cw_vclock_init(&a);
    cw_vclock_init(&b);
    const char *x = "1:2,2:1", *y = "1:1,2:2";
    if (cw_vclock_parse(&a, x, strlen(x)) != CW_OK || cw_vclock_parse(&b, y, strlen(y)) != CW_OK)
        return 1;
    cw_order o = cw_vclock_compare(&a, &b);
    cw_vclock_merge(&a, &b);
    cw_vclock j; /* a fresh max of two clocks: a already holds it */
    cw_vclock_init(&j);
    if (cw_vclock_join(&j, &a, &b) != CW_OK || cw_vclock_compare(&j, &a) != CW_EQUAL)
        return 1;
    cw_vclock_destroy(&j);
    char buf[64];
    size_t len;
    cw_vclock_format(&a, buf, sizeof buf, &len);
    printf("causeway %s: %s, merged %s\n", cw_version(), cw_order_name(o), buf);
    cw_vclock_destroy(&a);
    cw_vclock_destroy(&b);
    /* Dense clocks of 3 counters (inline in the caller when optimised; the
     * library's definitions otherwise) and of 9 (the library's kernels). */
    cw_dclock d3, e3, d9, e9;
    if (cw_dclock_init(&d3, 3) != CW_OK || cw_dclock_init(&e3, 3) != CW_OK || cw_dclock_init(&d9, 9) != CW_OK ||
        cw_dclock_init(&e9, 9) != CW_OK)
        return 1;
    d3.counters[0] = e3.counters[2] = d9.counters[0] = e9.counters[8] = 5;
    if (cw_dclock_compare(&d3, &e3) != CW_CONCURRENT || cw_dclock_compare(&d9, &e9) != CW_CONCURRENT ||
        cw_dclock_merge(&d3, &e3) != CW_OK || cw_dclock_merge(&d9, &e9) != CW_OK ||
        cw_dclock_compare(&d3, &e3) != CW_AFTER || cw_dclock_compare(&e9, &d9) != CW_BEFORE ||
        cw_dclock_merge(&d3, &d9) != CW_EINVAL)
        return 1;
    cw_dclock_destroy(&d3), cw_dclock_destroy(&e3), cw_dclock_destroy(&d9), cw_dclock_destroy(&e9);
    /* A seeded simulation, checked against its ground truth. */
    cw_sim_options so;
    cw_sim_options_init(&so);
    so.nodes = 4;
    so.writes = 100;
    so.duplicate_probability = 0.2;
    so.refuse_probability = 0.2;
    cw_sim_report rep;
    if (cw_sim_run(&so, &rep) != CW_OK || !rep.truth.ok || rep.truth.writes != 100)
        return 1;
    printf("simulated %llu writes: %llu concurrent pairs, verdict ok\n",
           (unsigned long long)rep.truth.writes, (unsigned long long)rep.truth.concurrent_pairs);
    return o == CW_CONCURRENT && strcmp(buf, "1:2,2:2") == 0 ? 0 : 1;
}
