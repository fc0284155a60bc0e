/* unit_session.c - tests for common/session.c, the per-connection logic of
 * every model (SPEC section 1, rules 1-4 and 7), with a fake session_env:
 * byte-identical ECHO replies (0, 1, 65536 bytes, NUL bytes); the same
 * output for coalesced, byte-at-a-time and random chunks; replies in
 * request order mixing ECHO and STATS; each protocol error (replies before
 * it, one ERROR frame, CLOSING, later input ignored, counted once); partial
 * frames at EOF and abort; backpressure; session_output with one and many
 * iovs; partial sends; when frames_out/bytes_out/frames_in/bytes_in count;
 * session_done; session_free mid-pipeline (run under valgrind or ASan for
 * the leak check). */
#include <stdint.h>
#include <string.h>

#include "proto.h"
#include "session.h"
#include "stats.h"
#include "test.h"

static const char STATS_TEXT[] = "model=test\nframes_in=7\nbytes_in=0\n";

/* ---- the fake environment ---- */

typedef struct fixture {
    stats st;
    session_env env;
    session s;
    int stats_calls;
} fixture;

static size_t fake_stats_text(void *ctx, char *buf, size_t cap)
{
    size_t n = sizeof STATS_TEXT - 1;

    ((fixture *)ctx)->stats_calls++;
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, STATS_TEXT, n);
    buf[n] = '\0';
    return n;
}

static void fx_init(fixture *f, size_t backpressure_limit)
{
    memset(f, 0, sizeof *f);
    stats_init(&f->st, "test", 0);
    f->env.stats = &f->st;
    f->env.stats_text = fake_stats_text;
    f->env.stats_ctx = f;
    f->env.backpressure_limit = backpressure_limit;
    session_init(&f->s, &f->env);
}

static long long counter(counter_t *c)
{
    return (long long)counter_get(c);
}

/* ---- building requests and expected replies ---- */

static void add_header(test_buf *b, uint32_t length, uint16_t type, uint16_t flags)
{
    unsigned char bytes[PROTO_HEADER_SIZE];
    proto_header h;

    h.length = length;
    h.type = type;
    h.flags = flags;
    proto_header_encode(&h, bytes);
    test_buf_add(b, bytes, sizeof bytes);
}

static void add_frame(test_buf *b, uint16_t type, const void *payload, size_t len)
{
    add_header(b, (uint32_t)len, type, 0);
    test_buf_add(b, payload, len);
}

/* An ECHO frame of `len` binary bytes (NULs included) derived from seed. */
static void add_echo(test_buf *b, size_t len, unsigned seed)
{
    size_t i;

    add_header(b, (uint32_t)len, PROTO_ECHO, 0);
    for (i = 0; i < len; i++)
        test_buf_byte(b, (unsigned char)((i * 29u + seed * 101u) % 251u * (i % 5u != 0)));
}

static void add_stats_reply(test_buf *b)
{
    add_frame(b, PROTO_STATS, STATS_TEXT, sizeof STATS_TEXT - 1);
}

static void add_error_reply(test_buf *b, const char *reason)
{
    add_frame(b, PROTO_ERROR, reason, strlen(reason));
}

/* ---- driving a session ---- */

/* Feeds data in chunks of `step` bytes (0: all at once). */
static void feed(session *s, const void *data, size_t len, size_t step)
{
    const unsigned char *p = (const unsigned char *)data;
    size_t pos = 0;

    if (step == 0)
        step = len;
    while (pos < len) {
        size_t n = len - pos < step ? len - pos : step;
        session_on_data(s, p + pos, n);
        pos += n;
    }
}

/* Feeds data in seeded random chunks of 1 to ~70000 bytes. */
static void feed_random(session *s, const unsigned char *data, size_t len, unsigned long seed)
{
    size_t pos = 0;

    while (pos < len) {
        unsigned long v = test_rand(&seed);
        size_t n = (v & 3u) == 0 ? 1u + v % 70000u : 1u + v % 23u;
        if (n > len - pos)
            n = len - pos;
        session_on_data(s, data + pos, n);
        pos += n;
    }
}

/* Sends what session_output offers, at most `step` bytes per send (0: all
 * offered), appending the sent bytes to out; returns the bytes sent. */
static size_t drain(session *s, test_buf *out, size_t max_iov, size_t step)
{
    session_iov iov[16];
    size_t total = 0, rounds = 0;

    if (max_iov > 16)
        max_iov = 16;
    while (rounds++ < 10000000u) {
        size_t n = session_output(s, iov, max_iov), i, sent = 0;
        if (n == 0)
            break;
        for (i = 0; i < n && (step == 0 || sent < step); i++) {
            size_t take = iov[i].len;
            if (step != 0 && take > step - sent)
                take = step - sent;
            test_buf_add(out, iov[i].base, take);
            sent += take;
        }
        session_sent(s, sent);
        total += sent;
    }
    return total;
}

/* Sends exactly `bytes` (no more than unsent) through session_output's
 * iovs, appending them to out. */
static void send_some(session *s, test_buf *out, size_t bytes)
{
    session_iov iov[16];
    size_t n = session_output(s, iov, 16), i, sent = 0;

    for (i = 0; i < n && sent < bytes; i++) {
        size_t take = iov[i].len < bytes - sent ? iov[i].len : bytes - sent;
        test_buf_add(out, iov[i].base, take);
        sent += take;
    }
    CHECK_EQ(sent, bytes);
    session_sent(s, sent);
}

/* ---- ECHO ---- */

static void check_echo_size(size_t len, size_t step)
{
    test_buf in = { NULL, 0, 0 }, out = { NULL, 0, 0 };
    fixture f;

    fx_init(&f, SESSION_BACKPRESSURE_DEFAULT);
    add_echo(&in, len, (unsigned)len);
    feed(&f.s, in.data, in.len, step);
    CHECK_EQ(session_unsent(&f.s), in.len);
    CHECK_EQ(drain(&f.s, &out, 16, 0), in.len);
    CHECK_MEM(out.data, out.len, in.data, in.len);
    CHECK_EQ(counter(&f.st.frames_in), 1);
    CHECK_EQ(counter(&f.st.bytes_in), PROTO_HEADER_SIZE + len);
    CHECK_EQ(counter(&f.st.frames_out), 1);
    CHECK_EQ(counter(&f.st.bytes_out), PROTO_HEADER_SIZE + len);
    CHECK_EQ(counter(&f.st.protocol_errors), 0);
    CHECK_EQ(f.s.state, SESSION_OPEN);
    CHECK_EQ(session_can_read(&f.s), 1);
    session_free(&f.s);
    test_buf_free(&in);
    test_buf_free(&out);
}

static void test_echo_sizes(void)
{
    check_echo_size(0, 0);
    check_echo_size(1, 0);
    check_echo_size(65536, 0);
    check_echo_size(0, 1);
    check_echo_size(1, 1);
    check_echo_size(65536, 1);
    check_echo_size(65536, 4096);
}

static void test_echo_binary_nul(void)
{
    static const unsigned char payload[] = { 0, 0, 'a', 0, 0xFF, 0x80, 0, '\n', 0 };
    test_buf in = { NULL, 0, 0 }, out = { NULL, 0, 0 };
    fixture f;

    fx_init(&f, SESSION_BACKPRESSURE_DEFAULT);
    add_frame(&in, PROTO_ECHO, payload, sizeof payload);
    session_on_data(&f.s, in.data, in.len);
    drain(&f.s, &out, 16, 0);
    CHECK_MEM(out.data, out.len, in.data, in.len);
    session_free(&f.s);
    test_buf_free(&in);
    test_buf_free(&out);
}

/* ---- pipelines and chunking ---- */

/* Many requests and the replies they must get, in order. */
static void build_pipeline(test_buf *in, test_buf *expect)
{
    static const size_t sizes[] = { 0, 1, 5, 8, 100, 4096, 0, 65536, 3, 65535, 17, 0, 9000 };
    size_t i;

    for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t before = in->len;
        add_echo(in, sizes[i], (unsigned)i);
        test_buf_add(expect, in->data + before, in->len - before);
        if (i % 3 == 2) {
            add_header(in, 0, PROTO_STATS, 0);
            add_stats_reply(expect);
        }
    }
}

typedef struct run_result {
    test_buf out;
    long long frames_in, bytes_in, frames_out, bytes_out, errors;
    int stats_calls;
} run_result;

/* mode 0: all at once; 1: one byte at a time; 2+: random, seed = mode. */
static void run_pipeline(const test_buf *in, unsigned long mode, run_result *r)
{
    fixture f;

    fx_init(&f, SESSION_BACKPRESSURE_DEFAULT);
    memset(r, 0, sizeof *r);
    if (mode < 2)
        feed(&f.s, in->data, in->len, mode);
    else
        feed_random(&f.s, in->data, in->len, mode);
    session_on_eof(&f.s);
    drain(&f.s, &r->out, 16, 0);
    r->frames_in = counter(&f.st.frames_in);
    r->bytes_in = counter(&f.st.bytes_in);
    r->frames_out = counter(&f.st.frames_out);
    r->bytes_out = counter(&f.st.bytes_out);
    r->errors = counter(&f.st.protocol_errors);
    r->stats_calls = f.stats_calls;
    CHECK_EQ(session_done(&f.s), 1);
    session_free(&f.s);
}

static void test_chunking_same_output(void)
{
    static const unsigned long modes[] = { 0, 1, 2, 99, 31337 };
    test_buf in = { NULL, 0, 0 }, expect = { NULL, 0, 0 };
    run_result whole, r;
    size_t i;

    build_pipeline(&in, &expect);
    run_pipeline(&in, 0, &whole);
    CHECK_MEM(whole.out.data, whole.out.len, expect.data, expect.len);
    CHECK_EQ(whole.frames_in, 17);   /* 13 ECHO + 4 STATS */
    CHECK_EQ(whole.bytes_in, in.len);
    CHECK_EQ(whole.frames_out, 17);
    CHECK_EQ(whole.bytes_out, expect.len);
    CHECK_EQ(whole.errors, 0);
    CHECK_EQ(whole.stats_calls, 4);
    for (i = 1; i < sizeof modes / sizeof modes[0]; i++) {
        run_pipeline(&in, modes[i], &r);
        CHECK_MEM(r.out.data, r.out.len, expect.data, expect.len);
        CHECK_EQ(r.frames_in, whole.frames_in);
        CHECK_EQ(r.bytes_in, whole.bytes_in);
        CHECK_EQ(r.frames_out, whole.frames_out);
        CHECK_EQ(r.bytes_out, whole.bytes_out);
        CHECK_EQ(r.errors, 0);
        test_buf_free(&r.out);
    }
    test_buf_free(&whole.out);
    test_buf_free(&in);
    test_buf_free(&expect);
}

static void test_order_echo_stats(void)
{
    test_buf in = { NULL, 0, 0 }, expect = { NULL, 0, 0 }, out = { NULL, 0, 0 };
    fixture f;

    fx_init(&f, SESSION_BACKPRESSURE_DEFAULT);
    add_header(&in, 0, PROTO_STATS, 0);
    add_stats_reply(&expect);
    add_frame(&in, PROTO_ECHO, "a", 1);
    add_frame(&expect, PROTO_ECHO, "a", 1);
    add_header(&in, 0, PROTO_STATS, 0);
    add_stats_reply(&expect);
    add_header(&in, 0, PROTO_STATS, 0);
    add_stats_reply(&expect);
    add_frame(&in, PROTO_ECHO, "bb", 2);
    add_frame(&expect, PROTO_ECHO, "bb", 2);
    session_on_data(&f.s, in.data, in.len);
    drain(&f.s, &out, 16, 0);
    CHECK_MEM(out.data, out.len, expect.data, expect.len);
    CHECK_EQ(f.stats_calls, 3);
    session_free(&f.s);
    test_buf_free(&in);
    test_buf_free(&expect);
    test_buf_free(&out);
}

static void test_stats_reply(void)
{
    test_buf in = { NULL, 0, 0 }, out = { NULL, 0, 0 };
    proto_header h;
    fixture f;

    fx_init(&f, SESSION_BACKPRESSURE_DEFAULT);
    add_header(&in, 0, PROTO_STATS, 0);
    session_on_data(&f.s, in.data, in.len);
    CHECK_EQ(f.stats_calls, 1);
    drain(&f.s, &out, 16, 0);
    CHECK_EQ(out.len, PROTO_HEADER_SIZE + sizeof STATS_TEXT - 1);
    if (out.len >= PROTO_HEADER_SIZE) {
        proto_header_decode(out.data, &h);
        CHECK_EQ(h.type, PROTO_STATS);
        CHECK_EQ(h.flags, 0);
        CHECK_EQ(h.length, sizeof STATS_TEXT - 1);
        CHECK_MEM(out.data + PROTO_HEADER_SIZE, out.len - PROTO_HEADER_SIZE,
                  STATS_TEXT, sizeof STATS_TEXT - 1);
    }
    CHECK_EQ(counter(&f.st.frames_in), 1);
    CHECK_EQ(counter(&f.st.bytes_in), PROTO_HEADER_SIZE);
    session_free(&f.s);
    test_buf_free(&in);
    test_buf_free(&out);
}

/* ---- protocol errors ---- */

/* Two good requests, the bad header, then bytes that must be ignored. */
static void check_protocol_error(uint32_t length, uint16_t type, uint16_t flags,
                                 const char *want_reason, size_t step)
{
    test_buf in = { NULL, 0, 0 }, expect = { NULL, 0, 0 }, out = { NULL, 0, 0 };
    char reason[PROTO_REASON_MAX];
    proto_header bad;
    fixture f;
    size_t unsent;

    bad.length = length;
    bad.type = type;
    bad.flags = flags;
    CHECK_EQ(proto_request_check(&bad, reason, sizeof reason), -1);
    if (want_reason != NULL)
        CHECK_STR(reason, want_reason);
    fx_init(&f, SESSION_BACKPRESSURE_DEFAULT);
    add_frame(&in, PROTO_ECHO, "first", 5);
    add_frame(&expect, PROTO_ECHO, "first", 5);
    add_header(&in, 0, PROTO_STATS, 0);
    add_stats_reply(&expect);
    add_header(&in, length, type, flags);
    add_error_reply(&expect, reason);
    add_frame(&in, PROTO_ECHO, "after", 5);   /* payload bytes or the next frame */
    add_frame(&in, PROTO_ECHO, "later", 5);
    feed(&f.s, in.data, in.len, step);
    CHECK_EQ(f.s.state, SESSION_CLOSING);
    CHECK_EQ(session_can_read(&f.s), 0);
    CHECK_EQ(session_done(&f.s), 0);
    CHECK_EQ(counter(&f.st.protocol_errors), 1);
    CHECK_EQ(counter(&f.st.frames_in), 2);
    unsent = session_unsent(&f.s);
    CHECK_EQ(unsent, expect.len);
    session_on_data(&f.s, in.data, in.len);   /* more input: ignored */
    session_on_eof(&f.s);                     /* and no second count */
    CHECK_EQ(session_unsent(&f.s), unsent);
    CHECK_EQ(counter(&f.st.protocol_errors), 1);
    CHECK_EQ(counter(&f.st.frames_in), 2);
    drain(&f.s, &out, 16, 0);
    CHECK_MEM(out.data, out.len, expect.data, expect.len);
    CHECK_EQ(counter(&f.st.frames_out), 3);
    CHECK_EQ(session_done(&f.s), 1);
    session_free(&f.s);
    test_buf_free(&in);
    test_buf_free(&expect);
    test_buf_free(&out);
}

static void test_protocol_errors(void)
{
    size_t step;

    for (step = 0; step <= 1; step++) {
        check_protocol_error(70000, PROTO_ECHO, 0, "frame too large: 70000 > 65536", step);
        check_protocol_error(65537, PROTO_ECHO, 0, "frame too large: 65537 > 65536", step);
        check_protocol_error(0, PROTO_ECHO, 1, NULL, step);
        check_protocol_error(4, PROTO_ECHO, 0x8000, NULL, step);
        check_protocol_error(0, 4, 0, NULL, step);
        check_protocol_error(0, 0, 0, NULL, step);
        check_protocol_error(5, PROTO_STATS, 0, NULL, step);
        check_protocol_error(0, PROTO_ERROR, 0, NULL, step);
        check_protocol_error(5, PROTO_ERROR, 0, NULL, step);
    }
    check_protocol_error(70000, PROTO_ECHO, 0, "frame too large: 70000 > 65536", 3);
}

/* ---- partial frames at EOF and abort ---- */

/* One complete ECHO and `cut` bytes of the next frame, then EOF or abort. */
static void check_partial_at_end(const test_buf *next, size_t cut, int abort_it)
{
    test_buf in = { NULL, 0, 0 }, expect = { NULL, 0, 0 }, out = { NULL, 0, 0 };
    fixture f;

    fx_init(&f, SESSION_BACKPRESSURE_DEFAULT);
    add_echo(&in, 100, 1);
    test_buf_add(&expect, in.data, in.len);
    test_buf_add(&in, next->data, cut);
    session_on_data(&f.s, in.data, in.len);
    if (abort_it)
        session_on_abort(&f.s);
    else
        session_on_eof(&f.s);
    CHECK_EQ(f.s.state, SESSION_CLOSING);
    CHECK_EQ(session_can_read(&f.s), 0);
    CHECK_EQ(counter(&f.st.protocol_errors), cut > 0 ? 1 : 0);
    CHECK_EQ(counter(&f.st.frames_in), 1);
    CHECK_EQ(session_unsent(&f.s), expect.len);
    drain(&f.s, &out, 16, 0);
    CHECK_MEM(out.data, out.len, expect.data, expect.len);
    CHECK_EQ(session_done(&f.s), 1);
    CHECK_EQ(f.stats_calls, 0);
    session_free(&f.s);
    test_buf_free(&in);
    test_buf_free(&expect);
    test_buf_free(&out);
}

static void test_partial_at_eof_and_abort(void)
{
    static const size_t cuts[] = { 0, 1, 7, 8, 9, 50, 4000, 60000, 65543 };
    test_buf echo = { NULL, 0, 0 }, stats = { NULL, 0, 0 };
    size_t i;
    int abort_it;

    add_echo(&echo, 65536, 7);
    add_header(&stats, 0, PROTO_STATS, 0);
    for (abort_it = 0; abort_it <= 1; abort_it++) {
        for (i = 0; i < sizeof cuts / sizeof cuts[0]; i++)
            check_partial_at_end(&echo, cuts[i], abort_it);
        check_partial_at_end(&stats, 5, abort_it);
    }
    test_buf_free(&echo);
    test_buf_free(&stats);
}

/* The partial frame's bytes are dropped even after part of the replies
 * before it went out. */
static void test_partial_after_partial_send(void)
{
    test_buf in = { NULL, 0, 0 }, expect = { NULL, 0, 0 }, out = { NULL, 0, 0 };
    fixture f;

    fx_init(&f, SESSION_BACKPRESSURE_DEFAULT);
    add_echo(&in, 6000, 3);
    test_buf_add(&expect, in.data, in.len);
    add_echo(&in, 20000, 4);
    session_on_data(&f.s, in.data, 6008 + 10000);
    send_some(&f.s, &out, 5000);
    session_on_eof(&f.s);
    drain(&f.s, &out, 4, 0);
    CHECK_MEM(out.data, out.len, expect.data, expect.len);
    CHECK_EQ(counter(&f.st.protocol_errors), 1);
    CHECK_EQ(session_done(&f.s), 1);
    session_free(&f.s);
    test_buf_free(&in);
    test_buf_free(&expect);
    test_buf_free(&out);
}

/* ---- backpressure ---- */

static void test_backpressure_boundary(void)
{
    test_buf in = { NULL, 0, 0 }, out = { NULL, 0, 0 };
    fixture f;

    fx_init(&f, 216);   /* two ECHO frames of 100 bytes */
    add_echo(&in, 100, 1);
    session_on_data(&f.s, in.data, in.len);
    CHECK_EQ(session_unsent(&f.s), 108);
    CHECK_EQ(session_can_read(&f.s), 1);
    session_on_data(&f.s, in.data, in.len);
    CHECK_EQ(session_unsent(&f.s), 216);
    CHECK_EQ(session_can_read(&f.s), 0);   /* unsent == limit */
    session_on_data(&f.s, in.data, in.len);  /* the model may still deliver */
    CHECK_EQ(session_unsent(&f.s), 324);
    CHECK_EQ(session_can_read(&f.s), 0);
    send_some(&f.s, &out, 108);
    CHECK_EQ(session_unsent(&f.s), 216);
    CHECK_EQ(session_can_read(&f.s), 0);
    send_some(&f.s, &out, 1);
    CHECK_EQ(session_unsent(&f.s), 215);
    CHECK_EQ(session_can_read(&f.s), 1);
    drain(&f.s, &out, 1, 1);   /* the rest, one byte per send */
    CHECK_EQ(session_unsent(&f.s), 0);
    CHECK_EQ(session_can_read(&f.s), 1);
    CHECK_EQ(out.len, 324);   /* the same frame three times */
    if (out.len == 324) {
        CHECK_MEM(out.data, 108, in.data, in.len);
        CHECK_MEM(out.data + 108, 108, in.data, in.len);
        CHECK_MEM(out.data + 216, 108, in.data, in.len);
    }
    session_free(&f.s);
    test_buf_free(&in);
    test_buf_free(&out);
}

static void test_backpressure_drain_one_byte(void)
{
    test_buf in = { NULL, 0, 0 };
    fixture f;

    fx_init(&f, 216);
    add_echo(&in, 100, 1);
    add_echo(&in, 100, 2);
    session_on_data(&f.s, in.data, in.len);
    CHECK_EQ(session_can_read(&f.s), 0);
    session_sent(&f.s, 1);
    CHECK_EQ(session_unsent(&f.s), 215);
    CHECK_EQ(session_can_read(&f.s), 1);
    session_free(&f.s);
    test_buf_free(&in);
}

static void test_backpressure_default(void)
{
    test_buf in = { NULL, 0, 0 }, out = { NULL, 0, 0 };
    fixture f;
    int frames = 0;

    fx_init(&f, SESSION_BACKPRESSURE_DEFAULT);
    add_echo(&in, 65536, 5);
    while (session_can_read(&f.s) && frames < 100) {
        session_on_data(&f.s, in.data, in.len);
        frames++;
    }
    CHECK_EQ(frames, 4);   /* 4 * 65544 >= 256 KiB, 3 * 65544 is not */
    CHECK(session_unsent(&f.s) >= SESSION_BACKPRESSURE_DEFAULT);
    CHECK_EQ(drain(&f.s, &out, 16, 0), 4 * in.len);
    CHECK_EQ(session_can_read(&f.s), 1);
    session_free(&f.s);
    test_buf_free(&in);
    test_buf_free(&out);
}

/* ---- output and sends ---- */

static void test_output_iovs(void)
{
    test_buf in = { NULL, 0, 0 }, one = { NULL, 0, 0 };
    session_iov iov1[1], iov[16];
    size_t n1, n, i, total = 0;
    fixture f;

    fx_init(&f, SESSION_BACKPRESSURE_DEFAULT);
    add_echo(&in, 65536, 1);
    add_echo(&in, 65536, 2);
    add_echo(&in, 65536, 3);
    session_on_data(&f.s, in.data, in.len);
    n1 = session_output(&f.s, iov1, 1);
    n = session_output(&f.s, iov, 16);
    CHECK_EQ(n1, 1);
    CHECK(n > 1);   /* 196632 bytes do not fit one 64 KiB block */
    CHECK(iov1[0].base == iov[0].base);
    CHECK_EQ(iov1[0].len, iov[0].len);
    for (i = 0; i < n; i++)
        total += iov[i].len;
    CHECK_EQ(total, in.len);
    CHECK_EQ(session_unsent(&f.s), in.len);
    CHECK_EQ(session_output(&f.s, iov, 0), 0);
    drain(&f.s, &one, 1, 0);
    CHECK_MEM(one.data, one.len, in.data, in.len);
    CHECK_EQ(session_output(&f.s, iov, 16), 0);
    session_free(&f.s);
    test_buf_free(&in);
    test_buf_free(&one);
}

/* Bytes of a frame still arriving are never offered for sending. */
static void test_output_excludes_unfinished(void)
{
    test_buf in = { NULL, 0, 0 };
    session_iov iov[16];
    size_t n, i, total = 0;
    fixture f;

    fx_init(&f, SESSION_BACKPRESSURE_DEFAULT);
    add_echo(&in, 10, 1);
    add_echo(&in, 65536, 2);
    session_on_data(&f.s, in.data, 18 + 30000);
    n = session_output(&f.s, iov, 16);
    for (i = 0; i < n; i++)
        total += iov[i].len;
    CHECK_EQ(total, 18);
    CHECK_EQ(session_unsent(&f.s), 18);
    session_on_data(&f.s, in.data + 18 + 30000, in.len - 18 - 30000);
    n = session_output(&f.s, iov, 16);
    for (total = 0, i = 0; i < n; i++)
        total += iov[i].len;
    CHECK_EQ(total, in.len);
    session_free(&f.s);
    test_buf_free(&in);
}

/* Odd-sized sends, with input arriving between them, keep byte order. */
static void test_partial_sends_odd(void)
{
    static const size_t steps[] = { 1, 3, 5, 7, 13, 999, 4097, 65537 };
    test_buf in = { NULL, 0, 0 }, expect = { NULL, 0, 0 }, out = { NULL, 0, 0 };
    size_t k, pos = 0;
    fixture f;

    fx_init(&f, SESSION_BACKPRESSURE_DEFAULT);
    build_pipeline(&in, &expect);
    for (k = 0; pos < in.len; k++) {
        size_t n = in.len - pos < 7001 ? in.len - pos : 7001;
        session_on_data(&f.s, in.data + pos, n);
        pos += n;
        drain(&f.s, &out, 1 + k % 5, steps[k % (sizeof steps / sizeof steps[0])]);
    }
    CHECK_MEM(out.data, out.len, expect.data, expect.len);
    CHECK_EQ(counter(&f.st.bytes_out), expect.len);
    CHECK_EQ(counter(&f.st.frames_out), 17);
    session_free(&f.s);
    test_buf_free(&in);
    test_buf_free(&expect);
    test_buf_free(&out);
}

/* A send that leaves part of an iov: the next output starts right after. */
static void test_output_after_partial_send(void)
{
    test_buf in = { NULL, 0, 0 };
    session_iov iov[4];
    fixture f;

    fx_init(&f, SESSION_BACKPRESSURE_DEFAULT);
    add_echo(&in, 100, 9);
    session_on_data(&f.s, in.data, in.len);
    session_sent(&f.s, 37);
    CHECK_EQ(session_output(&f.s, iov, 4), 1);
    CHECK_MEM(iov[0].base, iov[0].len, in.data + 37, in.len - 37);
    session_free(&f.s);
    test_buf_free(&in);
}

/* ---- counters ---- */

static void test_frames_out_on_last_byte(void)
{
    test_buf in = { NULL, 0, 0 };
    fixture f;

    fx_init(&f, SESSION_BACKPRESSURE_DEFAULT);
    add_echo(&in, 10, 1);   /* 18 bytes */
    add_echo(&in, 10, 2);
    session_on_data(&f.s, in.data, in.len);
    CHECK_EQ(counter(&f.st.frames_out), 0);
    CHECK_EQ(counter(&f.st.bytes_out), 0);
    session_sent(&f.s, 17);
    CHECK_EQ(counter(&f.st.frames_out), 0);
    CHECK_EQ(counter(&f.st.bytes_out), 17);
    session_sent(&f.s, 1);
    CHECK_EQ(counter(&f.st.frames_out), 1);
    CHECK_EQ(counter(&f.st.bytes_out), 18);
    session_sent(&f.s, 17);
    CHECK_EQ(counter(&f.st.frames_out), 1);
    session_sent(&f.s, 1);
    CHECK_EQ(counter(&f.st.frames_out), 2);
    CHECK_EQ(counter(&f.st.bytes_out), 36);
    session_free(&f.s);
    test_buf_free(&in);
}

/* One send completing several frames counts each; many frames queued
 * before any send (the ring of frame ends grows) all count. */
static void test_frames_out_many(void)
{
    test_buf in = { NULL, 0, 0 };
    fixture f;
    int i;

    fx_init(&f, SESSION_BACKPRESSURE_DEFAULT);
    for (i = 0; i < 1000; i++)
        add_echo(&in, (size_t)(i % 7), (unsigned)i);
    session_on_data(&f.s, in.data, in.len);
    session_sent(&f.s, 8 + 9);   /* frames of 0 and 1 bytes */
    CHECK_EQ(counter(&f.st.frames_out), 2);
    session_sent(&f.s, 10 + 3);   /* the 2-byte frame and 3 of the next */
    CHECK_EQ(counter(&f.st.frames_out), 3);
    session_sent(&f.s, session_unsent(&f.s));
    CHECK_EQ(counter(&f.st.frames_out), 1000);
    CHECK_EQ(counter(&f.st.bytes_out), in.len);
    for (i = 0; i < 20; i++)   /* and again, after the ring was emptied */
        session_on_data(&f.s, in.data, 8);
    session_sent(&f.s, session_unsent(&f.s));
    CHECK_EQ(counter(&f.st.frames_out), 1020);
    session_free(&f.s);
    test_buf_free(&in);
}

static void test_bytes_in_whole_frames(void)
{
    test_buf in = { NULL, 0, 0 };
    fixture f;

    fx_init(&f, SESSION_BACKPRESSURE_DEFAULT);
    add_echo(&in, 10, 1);
    add_header(&in, 0, PROTO_STATS, 0);
    add_echo(&in, 300, 2);
    session_on_data(&f.s, in.data, 26 + 8 + 100);
    CHECK_EQ(counter(&f.st.frames_in), 2);
    CHECK_EQ(counter(&f.st.bytes_in), 26);   /* headers included, the partial not */
    session_on_data(&f.s, in.data + 134, in.len - 134);
    CHECK_EQ(counter(&f.st.frames_in), 3);
    CHECK_EQ(counter(&f.st.bytes_in), 26 + 308);
    session_free(&f.s);
    test_buf_free(&in);
}

/* ---- end of a session ---- */

static void test_done(void)
{
    test_buf in = { NULL, 0, 0 };
    fixture f;

    fx_init(&f, SESSION_BACKPRESSURE_DEFAULT);
    CHECK_EQ(session_done(&f.s), 0);   /* open, nothing owed */
    add_echo(&in, 3, 1);
    session_on_data(&f.s, in.data, in.len);
    CHECK_EQ(session_done(&f.s), 0);
    session_on_eof(&f.s);
    CHECK_EQ(session_done(&f.s), 0);   /* closing, a reply owed */
    CHECK_EQ(session_can_read(&f.s), 0);
    session_sent(&f.s, 10);
    CHECK_EQ(session_done(&f.s), 0);
    session_sent(&f.s, 1);
    CHECK_EQ(session_done(&f.s), 1);
    CHECK_EQ(counter(&f.st.protocol_errors), 0);
    session_free(&f.s);
    fx_init(&f, SESSION_BACKPRESSURE_DEFAULT);
    session_on_eof(&f.s);
    CHECK_EQ(session_done(&f.s), 1);   /* FIN at once: nothing owed */
    CHECK_EQ(session_can_read(&f.s), 0);
    session_on_data(&f.s, in.data, in.len);   /* after FIN: ignored */
    CHECK_EQ(session_unsent(&f.s), 0);
    session_free(&f.s);
    test_buf_free(&in);
}

/* Freed with replies queued, part sent, and a frame half received: the
 * leak checker (valgrind, ASan) must find nothing. */
static void test_free_mid_pipeline(void)
{
    test_buf in = { NULL, 0, 0 }, expect = { NULL, 0, 0 };
    fixture f;

    build_pipeline(&in, &expect);
    fx_init(&f, SESSION_BACKPRESSURE_DEFAULT);
    session_on_data(&f.s, in.data, in.len - 4000);
    session_sent(&f.s, 12345);
    CHECK(session_unsent(&f.s) > 0);
    session_free(&f.s);
    CHECK(f.s.head == NULL);
    CHECK(f.s.frame_ends == NULL);
    fx_init(&f, SESSION_BACKPRESSURE_DEFAULT);
    session_on_data(&f.s, in.data, in.len);
    session_on_abort(&f.s);
    session_free(&f.s);
    fx_init(&f, SESSION_BACKPRESSURE_DEFAULT);   /* freed without any use */
    session_free(&f.s);
    CHECK(f.s.head == NULL);
    test_buf_free(&in);
    test_buf_free(&expect);
}

int main(void)
{
    test_echo_sizes();
    test_echo_binary_nul();
    test_chunking_same_output();
    test_order_echo_stats();
    test_stats_reply();
    test_protocol_errors();
    test_partial_at_eof_and_abort();
    test_partial_after_partial_send();
    test_backpressure_boundary();
    test_backpressure_drain_one_byte();
    test_backpressure_default();
    test_output_iovs();
    test_output_excludes_unfinished();
    test_partial_sends_odd();
    test_output_after_partial_send();
    test_frames_out_on_last_byte();
    test_frames_out_many();
    test_bytes_in_whole_frames();
    test_done();
    test_free_mid_pipeline();
    return test_summary();
}
