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
    char buf[64];
    size_t len;
    cw_vclock_format(&a, buf, sizeof buf, &len);
    printf("causeway %s: %s, merged %s\n", cw_version(), cw_order_name(o), buf);
    cw_vclock_destroy(&a);
    cw_vclock_destroy(&b);
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
