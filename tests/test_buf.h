/* test_buf.h - a growable byte buffer, shared by the unit tests (test.h)
 * and the fuzz targets (tests/fuzz); out of memory ends the run. */
#ifndef TEST_BUF_H
#define TEST_BUF_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(_MSC_VER)
#define TEST_INLINE __inline
#else
#define TEST_INLINE inline
#endif

typedef struct test_buf {
    unsigned char *data;
    size_t len;
    size_t cap;
} test_buf;

static TEST_INLINE void test_buf_add(test_buf *b, const void *data, size_t len)
{
    if (b->len + len > b->cap) {
        size_t cap = b->cap == 0 ? 256 : b->cap;
        unsigned char *p;
        while (cap < b->len + len)
            cap *= 2;
        p = (unsigned char *)realloc(b->data, cap);
        if (p == NULL) {
            printf("out of memory\n");
            exit(2);
        }
        b->data = p;
        b->cap = cap;
    }
    if (len > 0)
        memcpy(b->data + b->len, data, len);
    b->len += len;
}

static TEST_INLINE void test_buf_byte(test_buf *b, unsigned char c)
{
    test_buf_add(b, &c, 1);
}

static TEST_INLINE void test_buf_free(test_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

#endif
