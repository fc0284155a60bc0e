/* proto.h - the suite's wire protocol, version 1 (SPEC.md section 1).
 *
 * A frame is an 8-byte header (length, type, flags; big-endian) and a
 * payload of `length` bytes. This module only turns bytes into headers and
 * back; it never touches a socket, so every model, the client and the
 * native fuzz/unit builds share it.
 */
#ifndef PROTO_H
#define PROTO_H

#include <stddef.h>
#include <stdint.h>

#define PROTO_HEADER_SIZE 8u
#define PROTO_MAX_PAYLOAD 65536u
#define PROTO_MAX_FRAME (PROTO_HEADER_SIZE + PROTO_MAX_PAYLOAD)
#define PROTO_REASON_MAX 96u

enum proto_type {
    PROTO_ECHO = 1,
    PROTO_STATS = 2,
    PROTO_ERROR = 3
};

typedef struct proto_header {
    uint32_t length;
    uint16_t type;
    uint16_t flags;
} proto_header;

void proto_header_encode(const proto_header *h, unsigned char out[PROTO_HEADER_SIZE]);
void proto_header_decode(const unsigned char in[PROTO_HEADER_SIZE], proto_header *h);

/* Checks a request header against SPEC rule 2. Returns 0 when the frame is
 * a valid request; otherwise writes a short ASCII reason (for example
 * "frame too large: 70000 > 65536") and returns -1. */
int proto_request_check(const proto_header *h, char *reason, size_t reason_size);

/* Writes header + payload into out (which holds PROTO_HEADER_SIZE + len
 * bytes) and returns the frame size. */
size_t proto_frame_encode(uint16_t type, const void *payload, uint32_t len,
                          unsigned char *out);

/* Incremental request reader: fed arbitrary chunks (one byte up to many
 * frames), it reports frame headers and payload pieces as they arrive, so
 * the caller never needs a whole-frame buffer. */
typedef enum proto_event {
    PROTO_EV_NEED_MORE,   /* the chunk is used up */
    PROTO_EV_HEADER,      /* a valid header is complete (ev->header) */
    PROTO_EV_PAYLOAD,     /* ev->data/ev->len: the next bytes of the payload */
    PROTO_EV_FRAME_END,   /* the frame whose header came last is complete */
    PROTO_EV_ERROR        /* protocol error; ev->reason says why; sticky */
} proto_event;

typedef struct proto_reader {
    unsigned char header_bytes[PROTO_HEADER_SIZE];
    uint32_t header_have;     /* header bytes gathered so far */
    uint32_t payload_left;    /* payload bytes still due for this frame */
    int in_frame;             /* a valid header was seen, frame not ended */
    int failed;               /* a protocol error happened */
    proto_header header;
    char reason[PROTO_REASON_MAX];
} proto_reader;

typedef struct proto_chunk {
    const unsigned char *data;
    size_t len;
} proto_chunk;

typedef struct proto_item {
    proto_event event;
    proto_header header;       /* PROTO_EV_HEADER */
    const unsigned char *data; /* PROTO_EV_PAYLOAD */
    size_t len;                /* PROTO_EV_PAYLOAD */
} proto_item;

void proto_reader_init(proto_reader *r);

/* Takes the next event out of *chunk (advancing it). Call until it returns
 * PROTO_EV_NEED_MORE or PROTO_EV_ERROR. */
proto_event proto_reader_next(proto_reader *r, proto_chunk *chunk, proto_item *item);

/* 1 when a frame is partly received (header bytes or payload). */
int proto_reader_partial(const proto_reader *r);

#endif
