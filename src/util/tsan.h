/* ThreadSanitizer support, however the library is built: with the
 * CAUSEWAY_SANITIZE=thread option or with plain -fsanitize=thread in
 * CMAKE_C_FLAGS. gcc says so with __SANITIZE_THREAD__, clang with
 * __has_feature(thread_sanitizer).
 *
 * For orderings TSan cannot see (Concurrency Kit's inline assembly loads,
 * stores and fences): CW_TSAN_RELEASE(a) before the publishing operation
 * and CW_TSAN_ACQUIRE(a) after the observing one tell TSan that everything
 * before the release happens before everything after the acquire;
 * CW_TSAN_IGNORE_BEGIN/END bracket the primitive's own accesses (its slots,
 * written and read under the ordering TSan cannot see). Outside TSan builds
 * they compile to nothing. */
#ifndef CW_TSAN_H
#define CW_TSAN_H

#if defined(__SANITIZE_THREAD__)
#define CW_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CW_TSAN 1
#endif
#endif
#ifndef CW_TSAN
#define CW_TSAN 0
#endif

#if CW_TSAN
/* From the TSan runtime (sanitizer/tsan_interface.h declares the first two;
 * the ignore pair is exported by gcc's and clang's runtimes alike). */
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
void __tsan_ignore_thread_begin(void);
void __tsan_ignore_thread_end(void);
#define CW_TSAN_RELEASE(addr) __tsan_release(addr)
#define CW_TSAN_ACQUIRE(addr) __tsan_acquire(addr)
#define CW_TSAN_IGNORE_BEGIN() __tsan_ignore_thread_begin()
#define CW_TSAN_IGNORE_END() __tsan_ignore_thread_end()
#else
#define CW_TSAN_RELEASE(addr) ((void)(addr))
#define CW_TSAN_ACQUIRE(addr) ((void)(addr))
#define CW_TSAN_IGNORE_BEGIN() ((void)0)
#define CW_TSAN_IGNORE_END() ((void)0)
#endif

#endif
