/* frame_buf.c - the client's buffered frame reader. */
#include "frame_buf.h"

#include <stdlib.h>
#include <string.h>

int frame_buf_init(frame_buf *b, size_t cap)
{
    b->data = (unsigned char *)malloc(cap);
    b->cap = b->data != NULL ? cap : 0;
    b->start = 0;
    b->end = 0;
    return b->data != NULL ? 0 : -1;
}

void frame_buf_free(frame_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->cap = b->start = b->end = 0;
}

unsigned char *frame_buf_space(frame_buf *b, size_t *room)
{
    /* Move the unread bytes to the front only when the tail is short, so
     * that small frames do not cost a memmove each. */
    if (b->start > 0 && b->cap - b->end < b->cap / 2) {
        memmove(b->data, b->data + b->start, b->end - b->start);
        b->end -= b->start;
        b->start = 0;
    }
    *room = b->cap - b->end;
    return b->data + b->end;
}

void frame_buf_commit(frame_buf *b, size_t n)
{
    b->end += n;
}

int frame_buf_take(frame_buf *b, frame *f, errmsg *e)
{
    size_t have = b->end - b->start;
    size_t total;

    if (have < PROTO_HEADER_SIZE)
        return 0;
    proto_header_decode(b->data + b->start, &f->header);
    if (f->header.length > PROTO_MAX_PAYLOAD)
        return errmsg_set(e, "reply header announces %lu payload bytes (type %u, flags %u), above %u",
                          (unsigned long)f->header.length, (unsigned)f->header.type,
                          (unsigned)f->header.flags, PROTO_MAX_PAYLOAD);
    total = PROTO_HEADER_SIZE + f->header.length;
    if (total > b->cap)
        return errmsg_set(e, "reply of %lu bytes (type %u) is larger than expected (%lu)",
                          (unsigned long)total, (unsigned)f->header.type,
                          (unsigned long)b->cap);
    if (have < total)
        return 0;
    f->raw = b->data + b->start;
    f->raw_len = total;
    f->payload = f->raw + PROTO_HEADER_SIZE;
    b->start += total;
    if (b->start == b->end)
        b->start = b->end = 0;
    return 1;
}

size_t frame_buf_pending(const frame_buf *b)
{
    return b->end - b->start;
}
