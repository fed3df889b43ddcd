/* Allocation-failure injection for tests: linked with
 * -Wl,--wrap=malloc,--wrap=calloc so that the library's allocations can be made
 * to fail on demand, to prove that a failed call changes nothing. */
#include <stddef.h>
#include <stdlib.h>

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void tu_fail_alloc_after(long k);
void tu_fail_alloc_off(void);
long tu_alloc_count(void);

/* Tests that inject failures are single-threaded; plain variables suffice. */
static long budget = -1; /* allocations left before failing; -1 = never fail */
static long count;

void tu_fail_alloc_after(long k) { budget = k; count = 0; }
void tu_fail_alloc_off(void) { budget = -1; }
long tu_alloc_count(void) { return count; }

static int should_fail(void)
{
    count++;
    if (budget < 0)
        return 0;
    if (budget == 0)
        return 1;
    budget--;
    return 0;
}

void *__wrap_malloc(size_t size) { return should_fail() ? NULL : __real_malloc(size); }
void *__wrap_calloc(size_t n, size_t size) { return should_fail() ? NULL : __real_calloc(n, size); }
