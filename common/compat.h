/* compat.h - the little that differs between the Windows build and the
 * native (Linux) build of the portable modules: 64-bit atomic counters. */
#ifndef COMPAT_H
#define COMPAT_H

#include <stdint.h>

#ifdef _WIN32
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
typedef volatile LONG64 counter_t;
static __inline int64_t counter_add(counter_t *c, int64_t n)
{
    return InterlockedExchangeAdd64(c, n) + n;
}
static __inline int64_t counter_get(counter_t *c)
{
    return InterlockedCompareExchange64(c, 0, 0);
}
static __inline int counter_cas(counter_t *c, int64_t expected, int64_t desired)
{
    return InterlockedCompareExchange64(c, desired, expected) == expected;
}
#else
typedef volatile int64_t counter_t;
static inline int64_t counter_add(counter_t *c, int64_t n)
{
    return __atomic_add_fetch(c, n, __ATOMIC_SEQ_CST);
}
static inline int64_t counter_get(counter_t *c)
{
    return __atomic_load_n(c, __ATOMIC_SEQ_CST);
}
static inline int counter_cas(counter_t *c, int64_t expected, int64_t desired)
{
    return __atomic_compare_exchange_n(c, &expected, desired, 0,
                                       __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}
#endif

#endif
