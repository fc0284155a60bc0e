/* unit_proto.c - tests for common/proto.c (SPEC section 1): header encode
 * and decode (big-endian), proto_request_check for every protocol error of
 * rule 2 and the valid boundaries, proto_frame_encode, and the incremental
 * proto_reader: one stream of many frames fed at every chunking (one byte
 * at a time, fixed sizes 2..17, seeded random splits, all at once) must give
 * the same events, which must match the frames; zero-length and maximum-size
 * frames; sticky errors; proto_reader_partial. */
#include <stdint.h>
#include <string.h>

#include "proto.h"
#include "test.h"

/* ---- headers ---- */

static void test_header_byte_order(void)
{
    static const unsigned char expect[8] = { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08 };
    unsigned char out[PROTO_HEADER_SIZE];
    proto_header h, back;

    h.length = 0x01020304u;
    h.type = 0x0506u;
    h.flags = 0x0708u;
    proto_header_encode(&h, out);
    CHECK_MEM(out, sizeof out, expect, sizeof expect);
    proto_header_decode(out, &back);
    CHECK_EQ(back.length, 0x01020304u);
    CHECK_EQ(back.type, 0x0506u);
    CHECK_EQ(back.flags, 0x0708u);
}

static void test_header_round_trip_extremes(void)
{
    static const uint32_t lengths[] = { 0u, 1u, 255u, 256u, 65535u, 65536u, 70000u, 0xFFFFFFFFu };
    static const uint16_t words[] = { 0u, 1u, 2u, 3u, 0x00FFu, 0xFF00u, 0xFFFFu };
    unsigned char out[PROTO_HEADER_SIZE];
    proto_header h, back;
    size_t i, j;
    int bad = 0;

    for (i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        for (j = 0; j < sizeof words / sizeof words[0]; j++) {
            h.length = lengths[i];
            h.type = words[j];
            h.flags = words[(j + 3) % (sizeof words / sizeof words[0])];
            proto_header_encode(&h, out);
            proto_header_decode(out, &back);
            if (back.length != h.length || back.type != h.type || back.flags != h.flags)
                bad++;
            if (out[0] != (unsigned char)(h.length >> 24) || out[3] != (unsigned char)h.length
                || out[4] != (unsigned char)(h.type >> 8) || out[7] != (unsigned char)h.flags)
                bad++;
        }
    }
    CHECK_EQ(bad, 0);
}

static void test_header_decode_known_bytes(void)
{
    static const unsigned char in[8] = { 0x00, 0x01, 0x11, 0x70, 0x00, 0x02, 0x80, 0x01 };
    proto_header h;

    proto_header_decode(in, &h);
    CHECK_EQ(h.length, 70000);
    CHECK_EQ(h.type, PROTO_STATS);
    CHECK_EQ(h.flags, 0x8001);
}

/* ---- proto_request_check ---- */

static int check_header(uint32_t length, uint16_t type, uint16_t flags, char *reason,
                        size_t size)
{
    proto_header h;

    h.length = length;
    h.type = type;
    h.flags = flags;
    reason[0] = '\0';
    return proto_request_check(&h, reason, size);
}

/* A protocol error: -1 and a short, non-empty, printable reason. */
static void expect_error(uint32_t length, uint16_t type, uint16_t flags)
{
    char reason[PROTO_REASON_MAX];
    size_t i, n;
    int printable = 1;

    CHECK_EQ(check_header(length, type, flags, reason, sizeof reason), -1);
    n = strlen(reason);
    CHECK(n > 0 && n < sizeof reason);
    for (i = 0; i < n; i++)
        if (reason[i] < 0x20 || reason[i] > 0x7e)
            printable = 0;
    CHECK(printable);
}

static void test_check_too_large(void)
{
    char reason[PROTO_REASON_MAX];

    CHECK_EQ(check_header(70000, PROTO_ECHO, 0, reason, sizeof reason), -1);
    CHECK_STR(reason, "frame too large: 70000 > 65536");
    CHECK_EQ(check_header(65537, PROTO_ECHO, 0, reason, sizeof reason), -1);
    CHECK_STR(reason, "frame too large: 65537 > 65536");
    CHECK_EQ(check_header(0xFFFFFFFFu, PROTO_ECHO, 0, reason, sizeof reason), -1);
    CHECK_STR(reason, "frame too large: 4294967295 > 65536");
    expect_error(65537, PROTO_STATS, 0);
}

static void test_check_flags(void)
{
    expect_error(0, PROTO_ECHO, 1);
    expect_error(5, PROTO_ECHO, 0x8000);
    expect_error(0, PROTO_STATS, 0xFFFF);
}

static void test_check_unknown_type(void)
{
    expect_error(0, 0, 0);
    expect_error(3, 4, 0);
    expect_error(0, 0x0100, 0);   /* a little-endian 1 */
    expect_error(0, 0xFFFF, 0);
}

static void test_check_stats_payload(void)
{
    expect_error(1, PROTO_STATS, 0);
    expect_error(65536, PROTO_STATS, 0);
}

static void test_check_error_from_client(void)
{
    expect_error(0, PROTO_ERROR, 0);
    expect_error(12, PROTO_ERROR, 0);
}

static void test_check_valid_boundaries(void)
{
    char reason[PROTO_REASON_MAX];

    CHECK_EQ(check_header(65536, PROTO_ECHO, 0, reason, sizeof reason), 0);
    CHECK_EQ(check_header(0, PROTO_ECHO, 0, reason, sizeof reason), 0);
    CHECK_EQ(check_header(1, PROTO_ECHO, 0, reason, sizeof reason), 0);
    CHECK_EQ(check_header(0, PROTO_STATS, 0, reason, sizeof reason), 0);
}

static void test_check_small_reason_buffer(void)
{
    char reason[8];

    memset(reason, 'x', sizeof reason);
    CHECK_EQ(check_header(70000, PROTO_ECHO, 0, reason, sizeof reason), -1);
    CHECK_STR(reason, "frame t");
}

/* ---- proto_frame_encode ---- */

static void test_frame_encode(void)
{
    static const unsigned char expect[] = { 0, 0, 0, 3, 0, 1, 0, 0, 'a', 0, 'b' };
    static const unsigned char expect_empty[] = { 0, 0, 0, 0, 0, 2, 0, 0 };
    unsigned char out[32];

    memset(out, 0xAA, sizeof out);
    CHECK_EQ(proto_frame_encode(PROTO_ECHO, "a\0b", 3, out), 11);
    CHECK_MEM(out, 11, expect, sizeof expect);
    CHECK_EQ(out[11], 0xAA);   /* nothing written past the frame */
    CHECK_EQ(proto_frame_encode(PROTO_STATS, NULL, 0, out), 8);
    CHECK_MEM(out, 8, expect_empty, sizeof expect_empty);
}

static void test_frame_encode_max(void)
{
    unsigned char *payload = (unsigned char *)malloc(PROTO_MAX_PAYLOAD);
    unsigned char *out = (unsigned char *)malloc(PROTO_MAX_FRAME);
    proto_header h;
    size_t i;

    if (payload == NULL || out == NULL) {
        CHECK(payload != NULL && out != NULL);
        free(payload);
        free(out);
        return;
    }
    for (i = 0; i < PROTO_MAX_PAYLOAD; i++)
        payload[i] = (unsigned char)(i * 7u);
    CHECK_EQ(proto_frame_encode(PROTO_ECHO, payload, PROTO_MAX_PAYLOAD, out), PROTO_MAX_FRAME);
    proto_header_decode(out, &h);
    CHECK_EQ(h.length, 65536);
    CHECK_EQ(h.type, PROTO_ECHO);
    CHECK_EQ(h.flags, 0);
    CHECK_MEM(out + PROTO_HEADER_SIZE, PROTO_MAX_PAYLOAD, payload, PROTO_MAX_PAYLOAD);
    free(payload);
    free(out);
}

/* ---- the reader ---- */

/* A trace is the event sequence with payload pieces joined, so different
 * chunkings of one stream compare equal: 'H' + 8 header bytes, the payload
 * bytes, 'E' at the frame end, 'X' + reason + NUL at the error. Payload
 * bytes only occur between 'H' and 'E', so it is unambiguous. */
typedef struct feed_result {
    test_buf trace;
    int odd;        /* events that break the reader's contract */
    int errors;     /* ERROR events seen (later ones must all be ERROR) */
} feed_result;

static void trace_header(test_buf *t, const proto_header *h)
{
    unsigned char bytes[PROTO_HEADER_SIZE];

    proto_header_encode(h, bytes);
    test_buf_byte(t, 'H');
    test_buf_add(t, bytes, sizeof bytes);
}

/* Feeds one chunk, running the reader until it wants more or fails. */
static void feed_chunk(proto_reader *r, const unsigned char *data, size_t len, feed_result *out)
{
    proto_chunk chunk;
    proto_item item;

    chunk.data = data;
    chunk.len = len;
    for (;;) {
        const unsigned char *before = chunk.data;
        size_t before_len = chunk.len;
        proto_event ev = proto_reader_next(r, &chunk, &item);
        if (ev != item.event)
            out->odd++;
        if (ev == PROTO_EV_NEED_MORE) {
            if (chunk.len != 0)
                out->odd++;
            return;
        }
        if (ev == PROTO_EV_ERROR) {
            if (out->errors++ == 0) {
                test_buf_byte(&out->trace, 'X');
                test_buf_add(&out->trace, r->reason, strlen(r->reason) + 1);
            }
            return;
        }
        if (out->errors > 0)
            out->odd++;   /* errors are sticky */
        if (ev == PROTO_EV_HEADER) {
            trace_header(&out->trace, &item.header);
        } else if (ev == PROTO_EV_PAYLOAD) {
            if (item.len == 0 || item.data != before || before_len - chunk.len != item.len)
                out->odd++;
            test_buf_add(&out->trace, item.data, item.len);
        } else if (ev == PROTO_EV_FRAME_END) {
            test_buf_byte(&out->trace, 'E');
        }
    }
}

/* Feeds a whole stream in chunks: `fixed` bytes each, or when fixed is 0,
 * random sizes drawn from `seed`. */
static void feed_stream(const unsigned char *s, size_t n, size_t fixed, unsigned long seed,
                        feed_result *out)
{
    proto_reader r;
    size_t pos = 0;

    memset(out, 0, sizeof *out);
    proto_reader_init(&r);
    while (pos < n) {
        size_t take = fixed;
        if (fixed == 0) {
            unsigned long v = test_rand(&seed);
            take = (v & 3u) == 0 ? 1u + v % 100000u : 1u + v % 40u;
        }
        if (take > n - pos)
            take = n - pos;
        feed_chunk(&r, s + pos, take, out);
        pos += take;
    }
    if (out->errors == 0 && proto_reader_partial(&r))
        out->odd++;   /* the streams here end on a frame boundary */
}

/* Appends a frame to the stream and its events to the expected trace. */
static void add_frame(test_buf *stream, test_buf *expect, uint16_t type, uint32_t len,
                      unsigned seed)
{
    unsigned char header[PROTO_HEADER_SIZE];
    proto_header h;
    uint32_t i;

    h.length = len;
    h.type = type;
    h.flags = 0;
    proto_header_encode(&h, header);
    test_buf_add(stream, header, sizeof header);
    trace_header(expect, &h);
    for (i = 0; i < len; i++) {
        /* binary payloads, NUL bytes and the markers 'H', 'E', 'X' included */
        unsigned char c = (unsigned char)((i * 131u + seed * 17u) >> (i % 3u));
        test_buf_byte(stream, c);
        test_buf_byte(expect, c);
    }
    test_buf_byte(expect, 'E');
}

static void build_valid_stream(test_buf *stream, test_buf *expect)
{
    static const uint32_t sizes[] = {
        0, 1, 2, 7, 8, 9, 0, 0, 16, 17, 255, 256, 1000, 4095, 4096, 4097,
        65536, 3, 65535, 0, 65536, 65536, 5, 0
    };
    size_t i;

    for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        add_frame(stream, expect, PROTO_ECHO, sizes[i], (unsigned)i);
        if (i % 4 == 1)
            add_frame(stream, expect, PROTO_STATS, 0, 0);
    }
}

/* Feeds `stream` at every chunking; each trace must equal `expect`. */
static void check_all_chunkings(const test_buf *stream, const test_buf *expect, int want_errors)
{
    static const unsigned long seeds[] = { 1u, 42u, 4711u, 123456789u };
    feed_result res;
    size_t k;

    feed_stream(stream->data, stream->len, 1, 0, &res);
    CHECK_MEM(res.trace.data, res.trace.len, expect->data, expect->len);
    CHECK_EQ(res.odd, 0);
    CHECK_EQ(res.errors > 0, want_errors);
    test_buf_free(&res.trace);
    for (k = 2; k <= 17; k++) {
        feed_stream(stream->data, stream->len, k, 0, &res);
        CHECK_MEM(res.trace.data, res.trace.len, expect->data, expect->len);
        CHECK_EQ(res.odd, 0);
        test_buf_free(&res.trace);
    }
    for (k = 0; k < sizeof seeds / sizeof seeds[0]; k++) {
        feed_stream(stream->data, stream->len, 0, seeds[k], &res);
        CHECK_MEM(res.trace.data, res.trace.len, expect->data, expect->len);
        CHECK_EQ(res.odd, 0);
        test_buf_free(&res.trace);
    }
    feed_stream(stream->data, stream->len, stream->len, 0, &res);
    CHECK_MEM(res.trace.data, res.trace.len, expect->data, expect->len);
    CHECK_EQ(res.odd, 0);
    test_buf_free(&res.trace);
}

static void test_reader_every_chunking(void)
{
    test_buf stream = { NULL, 0, 0 }, expect = { NULL, 0, 0 };

    build_valid_stream(&stream, &expect);
    check_all_chunkings(&stream, &expect, 0);
    test_buf_free(&stream);
    test_buf_free(&expect);
}

/* Valid frames, then a bad header, then more bytes that must be ignored. */
static void test_reader_every_chunking_with_error(void)
{
    test_buf stream = { NULL, 0, 0 }, expect = { NULL, 0, 0 }, ignored = { NULL, 0, 0 };
    unsigned char header[PROTO_HEADER_SIZE];
    char reason[PROTO_REASON_MAX];
    proto_header bad;

    build_valid_stream(&stream, &expect);
    bad.length = 4;
    bad.type = PROTO_ECHO;
    bad.flags = 2;
    proto_header_encode(&bad, header);
    test_buf_add(&stream, header, sizeof header);
    CHECK_EQ(proto_request_check(&bad, reason, sizeof reason), -1);
    test_buf_byte(&expect, 'X');
    test_buf_add(&expect, reason, strlen(reason) + 1);
    add_frame(&stream, &ignored, PROTO_ECHO, 300, 9);   /* after the error: no events */
    check_all_chunkings(&stream, &expect, 1);
    test_buf_free(&stream);
    test_buf_free(&expect);
    test_buf_free(&ignored);
}

static void test_reader_zero_length_frame(void)
{
    unsigned char frame[PROTO_HEADER_SIZE];
    proto_reader r;
    proto_chunk c;
    proto_item item;

    proto_frame_encode(PROTO_ECHO, NULL, 0, frame);
    proto_reader_init(&r);
    c.data = frame;
    c.len = sizeof frame;
    CHECK_EQ(proto_reader_next(&r, &c, &item), PROTO_EV_HEADER);
    CHECK_EQ(item.header.length, 0);
    CHECK_EQ(item.header.type, PROTO_ECHO);
    CHECK_EQ(c.len, 0);
    /* the frame ends although no byte is left in the chunk */
    CHECK_EQ(proto_reader_next(&r, &c, &item), PROTO_EV_FRAME_END);
    CHECK_EQ(proto_reader_next(&r, &c, &item), PROTO_EV_NEED_MORE);
    CHECK_EQ(proto_reader_partial(&r), 0);
}

static void test_reader_max_frame_alone(void)
{
    unsigned char *frame = (unsigned char *)calloc(1, PROTO_MAX_FRAME + 1);
    proto_reader r;
    proto_chunk c;
    proto_item item;

    if (frame == NULL) {
        CHECK(frame != NULL);
        return;
    }
    proto_frame_encode(PROTO_ECHO, frame + PROTO_HEADER_SIZE, PROTO_MAX_PAYLOAD, frame);
    proto_reader_init(&r);
    c.data = frame;
    c.len = PROTO_MAX_FRAME + 1;   /* one byte of the next header follows */
    CHECK_EQ(proto_reader_next(&r, &c, &item), PROTO_EV_HEADER);
    CHECK_EQ(item.header.length, PROTO_MAX_PAYLOAD);
    CHECK_EQ(proto_reader_next(&r, &c, &item), PROTO_EV_PAYLOAD);
    CHECK_EQ(item.len, PROTO_MAX_PAYLOAD);
    CHECK(item.data == frame + PROTO_HEADER_SIZE);
    CHECK_EQ(proto_reader_next(&r, &c, &item), PROTO_EV_FRAME_END);
    CHECK_EQ(c.len, 1);
    CHECK_EQ(proto_reader_next(&r, &c, &item), PROTO_EV_NEED_MORE);
    CHECK_EQ(proto_reader_partial(&r), 1);   /* one header byte held */
    free(frame);
}

/* A header above the limit fails at once, without waiting for a payload. */
static void test_reader_too_large(void)
{
    unsigned char header[PROTO_HEADER_SIZE];
    proto_header h;
    proto_reader r;
    proto_chunk c;
    proto_item item;

    h.length = 65537;
    h.type = PROTO_ECHO;
    h.flags = 0;
    proto_header_encode(&h, header);
    proto_reader_init(&r);
    c.data = header;
    c.len = sizeof header;
    CHECK_EQ(proto_reader_next(&r, &c, &item), PROTO_EV_ERROR);
    CHECK_STR(r.reason, "frame too large: 65537 > 65536");
}

static void test_reader_error_sticky(void)
{
    unsigned char bad[PROTO_HEADER_SIZE], good[PROTO_HEADER_SIZE + 2];
    proto_header h;
    proto_reader r;
    proto_chunk c;
    proto_item item;

    h.length = 70000;
    h.type = PROTO_ECHO;
    h.flags = 0;
    proto_header_encode(&h, bad);
    proto_frame_encode(PROTO_ECHO, "ok", 2, good);
    proto_reader_init(&r);
    c.data = bad;
    c.len = 5;
    CHECK_EQ(proto_reader_next(&r, &c, &item), PROTO_EV_NEED_MORE);
    c.data = bad + 5;
    c.len = 3;
    CHECK_EQ(proto_reader_next(&r, &c, &item), PROTO_EV_ERROR);
    CHECK_STR(r.reason, "frame too large: 70000 > 65536");
    c.data = good;
    c.len = sizeof good;
    CHECK_EQ(proto_reader_next(&r, &c, &item), PROTO_EV_ERROR);
    CHECK_EQ(proto_reader_next(&r, &c, &item), PROTO_EV_ERROR);
    CHECK_EQ(c.len, sizeof good);   /* nothing more is consumed */
    c.len = 0;
    CHECK_EQ(proto_reader_next(&r, &c, &item), PROTO_EV_ERROR);
    CHECK_STR(r.reason, "frame too large: 70000 > 65536");
}

static void test_reader_partial(void)
{
    unsigned char frame[PROTO_HEADER_SIZE + 5];
    proto_reader r;
    proto_chunk c;
    proto_item item;
    size_t i;
    int wrong = 0;

    proto_frame_encode(PROTO_ECHO, "hello", 5, frame);
    proto_reader_init(&r);
    CHECK_EQ(proto_reader_partial(&r), 0);
    for (i = 0; i < PROTO_HEADER_SIZE - 1; i++) {   /* header bytes 1..7 */
        c.data = frame + i;
        c.len = 1;
        if (proto_reader_next(&r, &c, &item) != PROTO_EV_NEED_MORE || !proto_reader_partial(&r))
            wrong++;
    }
    CHECK_EQ(wrong, 0);
    c.data = frame + PROTO_HEADER_SIZE - 1;
    c.len = 4;   /* last header byte and 3 payload bytes */
    CHECK_EQ(proto_reader_next(&r, &c, &item), PROTO_EV_HEADER);
    CHECK_EQ(proto_reader_partial(&r), 1);
    CHECK_EQ(proto_reader_next(&r, &c, &item), PROTO_EV_PAYLOAD);
    CHECK_EQ(item.len, 3);
    CHECK_EQ(proto_reader_next(&r, &c, &item), PROTO_EV_NEED_MORE);
    CHECK_EQ(proto_reader_partial(&r), 1);
    c.data = frame + PROTO_HEADER_SIZE + 3;
    c.len = 2;
    CHECK_EQ(proto_reader_next(&r, &c, &item), PROTO_EV_PAYLOAD);
    CHECK_MEM(item.data, item.len, "lo", 2);
    CHECK_EQ(proto_reader_next(&r, &c, &item), PROTO_EV_FRAME_END);
    CHECK_EQ(proto_reader_partial(&r), 0);
    CHECK_EQ(proto_reader_next(&r, &c, &item), PROTO_EV_NEED_MORE);
    CHECK_EQ(proto_reader_partial(&r), 0);
}

/* An empty chunk on a fresh reader is no event at all. */
static void test_reader_empty_chunk(void)
{
    proto_reader r;
    proto_chunk c;
    proto_item item;

    proto_reader_init(&r);
    c.data = NULL;
    c.len = 0;
    CHECK_EQ(proto_reader_next(&r, &c, &item), PROTO_EV_NEED_MORE);
    CHECK_EQ(proto_reader_partial(&r), 0);
}

int main(void)
{
    test_header_byte_order();
    test_header_round_trip_extremes();
    test_header_decode_known_bytes();
    test_check_too_large();
    test_check_flags();
    test_check_unknown_type();
    test_check_stats_payload();
    test_check_error_from_client();
    test_check_valid_boundaries();
    test_check_small_reason_buffer();
    test_frame_encode();
    test_frame_encode_max();
    test_reader_every_chunking();
    test_reader_every_chunking_with_error();
    test_reader_zero_length_frame();
    test_reader_max_frame_alone();
    test_reader_too_large();
    test_reader_error_sticky();
    test_reader_partial();
    test_reader_empty_chunk();
    return test_summary();
}
