/* errmsg.c - building failure messages. */
#include "errmsg.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "plat.h"

void errmsg_clear(errmsg *e)
{
    e->text[0] = '\0';
}

int errmsg_set(errmsg *e, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(e->text, sizeof e->text, fmt, ap);
    va_end(ap);
    return -1;
}

int errmsg_sock(errmsg *e, const char *call, const char *what, int err)
{
    plat_err_format(e->text, sizeof e->text, call, what, err);
    return -1;
}

void errmsg_prefix(errmsg *e, const char *fmt, ...)
{
    char old[sizeof e->text];
    char head[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    memcpy(old, e->text, sizeof old);
    /* A message too long is cut at its end; the head stays readable. */
    if (snprintf(e->text, sizeof e->text, "%s: %s", head, old) < 0)
        memcpy(e->text, old, sizeof old);   /* an encoding error: keep the old text */
}

void errmsg_diff(errmsg *e, const char *what, const unsigned char *got,
                 size_t got_len, const unsigned char *want, size_t want_len)
{
    size_t n = got_len < want_len ? got_len : want_len;
    size_t i;

    for (i = 0; i < n && got[i] == want[i]; i++)
        continue;
    if (i < n)
        errmsg_set(e, "%s: byte %lu is 0x%02x, expected 0x%02x (got %lu bytes, expected %lu)",
                   what, (unsigned long)i, got[i], want[i],
                   (unsigned long)got_len, (unsigned long)want_len);
    else
        errmsg_set(e, "%s: got %lu bytes, expected %lu (the common part matches)",
                   what, (unsigned long)got_len, (unsigned long)want_len);
}
