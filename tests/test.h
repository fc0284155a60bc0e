/* test.h - a tiny header-only unit test harness.
 *
 * CHECK(cond), CHECK_EQ(a, b) (integers), CHECK_STR(a, b) and
 * CHECK_MEM(a, alen, b, blen) count a pass or print one line
 * `file:line: check failed: ...` with the values. test_summary() prints
 * the final line `N passed, N failed` and returns the exit code (0 only
 * when nothing failed). Also a seeded generator (test_rand) shared by the tests,
 * and the growable byte buffer of test_buf.h.
 *
 * The macros expand to function calls, not `do { } while (0)` blocks, so
 * MSVC /W4 has no constant condition to warn about. */
#ifndef TEST_H
#define TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_buf.h"

static int test_passed_count;
static int test_failed_count;

static TEST_INLINE int test_record(int ok)
{
    if (ok)
        test_passed_count++;
    else
        test_failed_count++;
    return ok;
}

static TEST_INLINE int test_check(int ok, const char *expr, const char *file, int line)
{
    if (!ok)
        printf("%s:%d: check failed: %s\n", file, line, expr);
    return test_record(ok);
}

static TEST_INLINE int test_check_eq(long long a, long long b, const char *ea,
                                     const char *eb, const char *file, int line)
{
    if (a != b)
        printf("%s:%d: check failed: %s == %s (%lld != %lld)\n", file, line, ea, eb, a, b);
    return test_record(a == b);
}

static TEST_INLINE int test_check_str(const char *a, const char *b, const char *ea,
                                      const char *eb, const char *file, int line)
{
    int ok = a != NULL && b != NULL && strcmp(a, b) == 0;

    if (!ok)
        printf("%s:%d: check failed: %s == %s (\"%s\" != \"%s\")\n", file, line, ea, eb,
               a != NULL ? a : "(null)", b != NULL ? b : "(null)");
    return test_record(ok);
}

/* Equal length and equal bytes; on failure names the first difference. */
static TEST_INLINE int test_check_mem(const void *a, size_t alen, const void *b, size_t blen,
                                      const char *ea, const char *eb, const char *file, int line)
{
    const unsigned char *pa = (const unsigned char *)a, *pb = (const unsigned char *)b;
    size_t i, n = alen < blen ? alen : blen;

    for (i = 0; i < n && pa[i] == pb[i]; i++)
        ;
    if (i == n && alen == blen)
        return test_record(1);
    printf("%s:%d: check failed: bytes %s == %s (lengths %lu, %lu; first difference at %lu)\n",
           file, line, ea, eb, (unsigned long)alen, (unsigned long)blen, (unsigned long)i);
    return test_record(0);
}

#define CHECK(cond) test_check((cond) != 0, #cond, __FILE__, __LINE__)
#define CHECK_EQ(a, b) \
    test_check_eq((long long)(a), (long long)(b), #a, #b, __FILE__, __LINE__)
#define CHECK_STR(a, b) test_check_str((a), (b), #a, #b, __FILE__, __LINE__)
#define CHECK_MEM(a, alen, b, blen) \
    test_check_mem((a), (alen), (b), (blen), #a, #b, __FILE__, __LINE__)

static TEST_INLINE int test_summary(void)
{
    printf("%d passed, %d failed\n", test_passed_count, test_failed_count);
    fflush(stdout);
    return test_failed_count == 0 ? 0 : 1;
}

/* A small fixed-seed generator, the same on every platform (unlike rand()). */
static TEST_INLINE unsigned long test_rand(unsigned long *state)
{
    *state = (*state * 1103515245ul + 12345ul) & 0x7fffffffu;
    return *state >> 8;
}

#endif
