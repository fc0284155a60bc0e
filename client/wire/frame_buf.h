/* frame_buf.h - the client's buffered frame reader.
 *
 * Bytes from recv() go into the buffer; frame_buf_take() hands out whole
 * frames of any type (ECHO, STATS and ERROR replies alike, unlike the
 * request-oriented proto_reader of common/). The payload pointer stays
 * valid until the next frame_buf_space() call, which may move the bytes.
 */
#ifndef FRAME_BUF_H
#define FRAME_BUF_H

#include <stddef.h>

#include "errmsg.h"
#include "proto.h"

typedef struct frame_buf {
    unsigned char *data;
    size_t cap;
    size_t start;   /* first unread byte */
    size_t end;     /* one past the last received byte */
} frame_buf;

typedef struct frame {
    proto_header header;
    const unsigned char *payload;   /* header.length bytes */
    const unsigned char *raw;       /* header and payload, as received */
    size_t raw_len;
} frame;

/* cap must hold the largest frame expected. 0 or -1 (out of memory). */
int frame_buf_init(frame_buf *b, size_t cap);
void frame_buf_free(frame_buf *b);

/* Free room at the end (compacting first); *room gets its size. */
unsigned char *frame_buf_space(frame_buf *b, size_t *room);
void frame_buf_commit(frame_buf *b, size_t n);

/* 1 and *f when a whole frame is buffered, 0 when more bytes are needed,
 * -1 when the header announces a frame that can never fit (length above
 * PROTO_MAX_PAYLOAD or above the buffer). */
int frame_buf_take(frame_buf *b, frame *f, errmsg *e);

/* Bytes received but not yet taken. */
size_t frame_buf_pending(const frame_buf *b);

#endif
