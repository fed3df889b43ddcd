/* Allocation-failure injection for tests: linked with
 * -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=aligned_alloc so that the library's allocations can be made
 * to fail on demand, to prove that a failed call changes nothing. */
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_aligned_alloc(size_t align, size_t size);
void *__real_realloc(void *p, size_t size);
void *__wrap_realloc(void *p, size_t size);
void *__wrap_aligned_alloc(size_t align, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void tu_fail_alloc_after(long k);
void tu_fail_alloc_off(void);
long tu_alloc_count(void);
void tu_fail_realloc(int on);

/* Tests that inject failures do so from one thread, but threaded tests
 * allocate through here too: the counters are atomics, relaxed because they
 * only count and publish no other data. */
static _Atomic long budget = -1; /* allocations left before failing; -1 = never fail */
static _Atomic long count;
static _Atomic int realloc_fails; /* every realloc fails, whatever the budget */

void tu_fail_alloc_after(long k)
{
    atomic_store_explicit(&count, 0, memory_order_relaxed);
    atomic_store_explicit(&budget, k, memory_order_relaxed);
}

void tu_fail_alloc_off(void) { atomic_store_explicit(&budget, -1, memory_order_relaxed); }
void tu_fail_realloc(int on) { atomic_store_explicit(&realloc_fails, on, memory_order_relaxed); }
long tu_alloc_count(void) { return atomic_load_explicit(&count, memory_order_relaxed); }

static int should_fail(void)
{
    atomic_fetch_add_explicit(&count, 1, memory_order_relaxed);
    long b = atomic_load_explicit(&budget, memory_order_relaxed);
    if (b < 0)
        return 0;
    if (b == 0)
        return 1;
    atomic_store_explicit(&budget, b - 1, memory_order_relaxed);
    return 0;
}

void *__wrap_malloc(size_t size) { return should_fail() ? NULL : __real_malloc(size); }
void *__wrap_calloc(size_t n, size_t size) { return should_fail() ? NULL : __real_calloc(n, size); }
void *__wrap_realloc(void *p, size_t size)
{
    if (atomic_load_explicit(&realloc_fails, memory_order_relaxed) && size) {
        atomic_fetch_add_explicit(&count, 1, memory_order_relaxed);
        return NULL;
    }
    return should_fail() ? NULL : __real_realloc(p, size);
}
void *__wrap_aligned_alloc(size_t align, size_t size)
{
    return should_fail() ? NULL : __real_aligned_alloc(align, size);
}
