/* An outside program using the installed library through its public header
 * only: proves headers, libraries, pkg-config and the CMake package work. */
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
    return o == CW_CONCURRENT && strcmp(buf, "1:2,2:2") == 0 ? 0 : 1;
}
