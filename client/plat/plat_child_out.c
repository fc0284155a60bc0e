/* plat_child_out.c - the child server's captured standard output; see
 * plat_child_out.h. Portable C: compiled on every platform. */
#include "plat_child_out.h"

#include <stdlib.h>
#include <string.h>

int child_out_init(child_out *o)
{
    o->len = 0;
    o->data = (char *)malloc(CHILD_OUTPUT_CAP);
    if (o->data == NULL)
        return -1;
    o->data[0] = '\0';
    return 0;
}

void child_out_free(child_out *o)
{
    free(o->data);
    o->data = NULL;
    o->len = 0;
}

void child_out_append(child_out *o, const char *data, size_t n)
{
    size_t room = CHILD_OUTPUT_CAP - 1 - o->len;

    if (n > room)
        n = room;
    memcpy(o->data + o->len, data, n);
    o->len += n;
    o->data[o->len] = '\0';
}

int child_out_has_line(const child_out *o)
{
    return memchr(o->data, '\n', o->len) != NULL;
}

int child_out_first_line(const child_out *o, char *line, size_t cap)
{
    const char *nl = (const char *)memchr(o->data, '\n', o->len);
    size_t n;

    if (nl == NULL)
        return 0;
    n = (size_t)(nl - o->data);
    if (n > 0 && o->data[n - 1] == '\r')
        n--;
    if (n >= cap)
        n = cap - 1;
    memcpy(line, o->data, n);
    line[n] = '\0';
    return 1;
}

size_t child_out_copy(const child_out *o, char *buf, size_t cap)
{
    size_t n = o->len < cap - 1 ? o->len : cap - 1;

    memcpy(buf, o->data, n);
    buf[n] = '\0';
    return n;
}
