/* fuzz_proto_reader.c - libFuzzer target: the incremental request reader
 * of proto.c fed a byte stream cut at points the fuzzer chooses.
 *
 * Input: byte 0 gives n = byte % 17 chunk sizes; the next n bytes are the
 * sizes, used in turn (0 is an empty chunk); the rest is the byte stream
 * (in one chunk when no size is above 0). Each chunk is copied into a heap
 * block of exactly its size, so AddressSanitizer sees a read past it.
 *
 * Checked: the events rebuild the stream (headers re-encoded, payload
 * pieces in order) exactly as far as the reference parser of fuzz_util.h
 * reads it; PAYLOAD hands out the next bytes of the chunk, never more than
 * the frame still owes; FRAME_END comes once per frame, as soon as its last
 * payload byte is in, without waiting for more input; ERROR comes at the
 * reference's failing header with proto_request_check's reason (short
 * printable ASCII) and stays; NEED_MORE only when the chunk is used up;
 * proto_reader_partial() at the end; header decode/encode round trip. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "proto.h"

#define MAX_SIZES 16u

typedef struct observer {
    proto_reader reader;
    test_buf rebuilt;       /* headers re-encoded and payload bytes, in order */
    size_t frames;          /* FRAME_END events */
    uint32_t payload_due;   /* of the current frame, by the events so far */
    int in_frame;
    int failed;
} observer;

static void observe_header(observer *o, const proto_item *item, const proto_chunk *before,
                           const proto_chunk *after)
{
    unsigned char bytes[PROTO_HEADER_SIZE];
    char reason[PROTO_REASON_MAX];

    FUZZ_CHECK(!o->in_frame);
    FUZZ_CHECK(before->len - after->len <= PROTO_HEADER_SIZE);
    FUZZ_CHECK(proto_request_check(&item->header, reason, sizeof reason) == 0);
    proto_header_encode(&item->header, bytes);
    test_buf_add(&o->rebuilt, bytes, sizeof bytes);
    o->in_frame = 1;
    o->payload_due = item->header.length;
}

/* One event of the reader, checked against the ones before it. */
static void observe(observer *o, const proto_item *item, const proto_chunk *before,
                    const proto_chunk *after)
{
    switch (item->event) {
    case PROTO_EV_NEED_MORE:
        FUZZ_CHECK(after->len == 0);
        FUZZ_CHECK(!(o->in_frame && o->payload_due == 0));
        break;
    case PROTO_EV_HEADER:
        observe_header(o, item, before, after);
        break;
    case PROTO_EV_PAYLOAD:
        FUZZ_CHECK(o->in_frame && item->len > 0 && item->len <= o->payload_due);
        FUZZ_CHECK(item->data == before->data && after->data == before->data + item->len);
        FUZZ_CHECK(after->len == before->len - item->len);
        test_buf_add(&o->rebuilt, item->data, item->len);
        o->payload_due -= (uint32_t)item->len;
        break;
    case PROTO_EV_FRAME_END:
        FUZZ_CHECK(o->in_frame && o->payload_due == 0 && after->len == before->len);
        o->in_frame = 0;
        o->frames++;
        break;
    case PROTO_EV_ERROR:
        FUZZ_CHECK(!o->in_frame);
        o->failed = 1;
        break;
    }
}

/* Hands one chunk to the reader and takes every event out of it. */
static void feed_chunk(observer *o, const unsigned char *data, size_t len)
{
    unsigned char *copy = (unsigned char *)malloc(len);
    proto_chunk chunk;

    FUZZ_CHECK(copy != NULL || len == 0);
    if (len > 0)
        memcpy(copy, data, len);
    chunk.data = copy;
    chunk.len = len;
    for (;;) {
        proto_chunk before = chunk;
        proto_item item;
        proto_event ev = proto_reader_next(&o->reader, &chunk, &item);
        FUZZ_CHECK(item.event == ev);
        observe(o, &item, &before, &chunk);
        if (ev == PROTO_EV_NEED_MORE)
            break;
        if (ev == PROTO_EV_ERROR) {   /* sticky, and takes nothing more */
            before = chunk;
            FUZZ_CHECK(proto_reader_next(&o->reader, &chunk, &item) == PROTO_EV_ERROR);
            FUZZ_CHECK(chunk.data == before.data && chunk.len == before.len);
            break;
        }
    }
    free(copy);
}

static void check_reason(const observer *o, const unsigned char *header)
{
    proto_header h;
    char reason[PROTO_REASON_MAX];
    size_t i, n = strlen(o->reader.reason);

    proto_header_decode(header, &h);
    FUZZ_CHECK(proto_request_check(&h, reason, sizeof reason) == -1);
    FUZZ_CHECK(strcmp(reason, o->reader.reason) == 0);
    FUZZ_CHECK(n > 0 && n < PROTO_REASON_MAX);
    for (i = 0; i < n; i++)
        FUZZ_CHECK(o->reader.reason[i] >= 0x20 && o->reader.reason[i] < 0x7f);
}

/* The events against the reference parser, once the stream is all in. */
static void check_against_reference(const observer *o, const unsigned char *wire, size_t len)
{
    size_t pos = 0, frames = 0, expect_len = len;
    ref_frame f;
    ref_kind k;

    while ((k = ref_next(wire, len, &pos, &f)) == REF_FRAME)
        frames++;
    FUZZ_CHECK(o->frames == frames);
    FUZZ_CHECK(o->failed == (k == REF_ERROR));
    FUZZ_CHECK(proto_reader_partial(&o->reader) == (k == REF_PARTIAL));
    if (k == REF_ERROR) {
        check_reason(o, wire + f.start);
        expect_len = f.start;
    } else if (k == REF_PARTIAL && len - f.start < PROTO_HEADER_SIZE) {
        expect_len = f.start;   /* a header not yet whole is not reported */
    }
    FUZZ_CHECK(o->rebuilt.len == expect_len);
    FUZZ_CHECK(expect_len == 0 || memcmp(o->rebuilt.data, wire, expect_len) == 0);
}

/* Header decode then encode gives the same bytes; frame encode too. */
static void check_round_trip(const unsigned char *wire, size_t len)
{
    unsigned char bytes[PROTO_HEADER_SIZE + 16];
    proto_header h;
    size_t n;

    if (len < PROTO_HEADER_SIZE)
        return;
    proto_header_decode(wire, &h);
    proto_header_encode(&h, bytes);
    FUZZ_CHECK(memcmp(bytes, wire, PROTO_HEADER_SIZE) == 0);
    n = len - PROTO_HEADER_SIZE < 16 ? len - PROTO_HEADER_SIZE : 16;
    FUZZ_CHECK(proto_frame_encode(h.type, wire + PROTO_HEADER_SIZE, (uint32_t)n, bytes)
               == PROTO_HEADER_SIZE + n);
    proto_header_decode(bytes, &h);
    FUZZ_CHECK(h.length == n && h.flags == 0);
    FUZZ_CHECK(n == 0 || memcmp(bytes + PROTO_HEADER_SIZE, wire + PROTO_HEADER_SIZE, n) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_input in;
    unsigned char sizes[MAX_SIZES];
    size_t nsizes, i, len, pos = 0, total = 0;
    const uint8_t *wire;
    observer o;

    in.data = data;
    in.len = size;
    nsizes = fuzz_byte(&in) % (MAX_SIZES + 1);
    for (i = 0; i < nsizes; i++)
        total += sizes[i] = (unsigned char)fuzz_byte(&in);
    len = fuzz_take(&in, in.len, &wire);
    memset(&o, 0, sizeof o);
    proto_reader_init(&o.reader);
    for (i = 0; pos < len; i++) {
        size_t n = total == 0 ? len : sizes[i % nsizes];
        if (n > len - pos)
            n = len - pos;
        feed_chunk(&o, wire + pos, n);
        pos += n;
    }
    check_against_reference(&o, wire, len);
    check_round_trip(wire, len);
    test_buf_free(&o.rebuilt);
    return 0;
}
