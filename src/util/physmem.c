/* See physmem.h. */
#define _GNU_SOURCE /* _SC_PHYS_PAGES */
#include <unistd.h>

#include "physmem.h"

double cw__physical_bytes(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    return pages > 0 && size > 0 ? (double)pages * (double)size : 0;
}
