/* fuzz_util.c - see fuzz_util.h. */
#include "fuzz_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fuzz_check(int ok, const char *expr, const char *file, int line)
{
    if (ok)
        return;
    fprintf(stderr, "%s:%d: fuzz check failed: %s\n", file, line, expr);
    fflush(stderr);
    abort();
}

unsigned fuzz_byte(fuzz_input *in)
{
    if (in->len == 0)
        return 0;
    in->len--;
    return *in->data++;
}

unsigned fuzz_u16(fuzz_input *in)
{
    unsigned hi = fuzz_byte(in);

    return (hi << 8) | fuzz_byte(in);
}

unsigned long fuzz_u24(fuzz_input *in)
{
    unsigned long hi = fuzz_byte(in);

    return (hi << 16) | (unsigned long)fuzz_u16(in);
}

size_t fuzz_take(fuzz_input *in, size_t want, const uint8_t **data)
{
    size_t n = want < in->len ? want : in->len;

    *data = in->data;
    in->data += n;
    in->len -= n;
    return n;
}

/* SPEC section 1 rule 2, as written there. */
static int ref_valid(const ref_frame *f)
{
    if (f->length > 65536u || f->flags != 0)
        return 0;
    return f->type == 1 || (f->type == 2 && f->length == 0);
}

ref_kind ref_next(const unsigned char *wire, size_t len, size_t *pos, ref_frame *f)
{
    const unsigned char *p;

    f->start = *pos;
    if (*pos == len)
        return REF_END;
    if (len - *pos < 8)
        return REF_PARTIAL;
    p = wire + *pos;
    f->length = ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16)
              | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
    f->type = (uint16_t)(p[4] * 256u + p[5]);
    f->flags = (uint16_t)(p[6] * 256u + p[7]);
    if (!ref_valid(f))
        return REF_ERROR;
    if (len - *pos - 8 < f->length)
        return REF_PARTIAL;
    *pos += 8 + (size_t)f->length;
    return REF_FRAME;
}
