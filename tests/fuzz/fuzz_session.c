/* fuzz_session.c - libFuzzer target: session.c driven the way the six
 * models drive it, by a program the fuzzer writes.
 *
 * Input: 6 bytes of settings, then operations.
 *   byte 0     backpressure limit: LIMITS[b % 8]
 *   bytes 1-2  length of the fake STATS text, % STATS_TEXT_CAP
 *   byte 3     iovs per session_output: 1 + b % MAX_IOV
 *   byte 4     the session's allocation that fails: after b that succeed
 *              (255: none fails)
 *   byte 5     chunk size for the bytes still undelivered at the end: (b+1)^2
 * Operations (byte % OP_COUNT, then operands):
 *   OP_BYTES n        n+1 raw bytes join the peer's stream
 *   OP_FRAME t len16  a header and its payload (a pattern) join the stream:
 *                     type t & 3 (0x100 | t & 3 when t & 0x80), flags the
 *                     next byte when t & 0x40 (else 0), length len16, or
 *                     65535 + len16 % 4 when t & 0x20; the payload only
 *                     when the length is valid
 *   OP_DELIVER len16  the next len16+1 bytes of the stream go to
 *                     session_on_data, when session_can_read says so
 *   OP_SEND len16     a send of what session_output gives completes with
 *                     len16 bytes of it (0: all)
 *   OP_POST           a send is posted; it stays pending while the next
 *                     operations run (an overlapped send)
 *   OP_COMPLETE len16 the pending send completes with len16 bytes (0: all)
 *   OP_EOF            session_on_eof
 *   OP_ABORT          session_on_abort; the program ends there
 * At the end a pending send completes; unless aborted, the rest of the
 * stream is delivered (sending all when reads stop), then EOF, then every
 * reply is sent, and session_done must hold.
 *
 * Checked after each call: session_can_read and session_done against the
 * state and the limit; one delivery adds no more reply bytes than its
 * bytes could ask for (the backpressure bound); session_output covers the
 * unsent bytes; a posted send's bytes stay in place while data arrives;
 * what the sends carried is well-formed frames, frames_out and bytes_out
 * count exactly them; an idle session holds no memory. At the end: the
 * replies equal what the reference parser (fuzz_util.h) expects from the
 * bytes delivered (ECHO byte for byte, STATS, one ERROR then nothing), or
 * a prefix of it after an abort or a failed allocation; frames_in,
 * bytes_in and protocol_errors; session_free frees all (LeakSanitizer).
 * Every delivery is a heap copy freed right after session_on_data, so a
 * session that kept a pointer into it is caught by AddressSanitizer. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "proto.h"
#include "session.h"
#include "stats.h"

#define MAX_IOV 8u
#define STATS_TEXT_CAP 2048u          /* session.c asks for less than this */
#define WIRE_MAX (320u * 1024u)       /* keeps one run short */
#define ALLOC_NEVER UINT_MAX

enum op { OP_BYTES, OP_FRAME, OP_DELIVER, OP_SEND, OP_POST, OP_COMPLETE, OP_EOF,
          OP_ABORT, OP_COUNT };

static const size_t LIMITS[8] = {
    1, 8, 100, 1000, 8192, 70000, SESSION_BACKPRESSURE_DEFAULT, 1024u * 1024u
};

static unsigned alloc_left;   /* allocations that still succeed */
static int alloc_failed;

void *fuzz_malloc(size_t size)
{
    if (alloc_left != ALLOC_NEVER) {
        if (alloc_left == 0) {
            alloc_left = ALLOC_NEVER;
            alloc_failed = 1;
            return NULL;
        }
        alloc_left--;
    }
    return malloc(size);
}

typedef struct harness {
    stats st;
    session_env env;
    session s;
    size_t stats_len;         /* asked for */
    size_t stats_made;        /* the length of the STATS text handed out */
    size_t max_iov;
    size_t tail_step;
    test_buf wire;            /* the peer's byte stream */
    size_t delivered;         /* bytes of it given to session_on_data */
    test_buf out;             /* what the completed sends carried */
    size_t out_pos;           /* end of the last whole frame in out */
    size_t out_frames;
    int out_error;            /* an ERROR frame is among them */
    int pending;              /* a send is posted */
    session_iov iov[MAX_IOV];
    size_t iov_n;
    test_buf posted;          /* the pending send's bytes when it was posted */
    int aborted;
} harness;

static unsigned char stats_byte(size_t i)
{
    return (unsigned char)(i % 16 == 15 ? '\n' : 'a' + i % 26);
}

static size_t fake_stats_text(void *ctx, char *buf, size_t cap)
{
    harness *h = (harness *)ctx;
    size_t i, n = h->stats_len < cap ? h->stats_len : cap - 1;

    for (i = 0; i < n; i++)
        buf[i] = (char)stats_byte(i);
    buf[n] = '\0';
    h->stats_made = n;
    return n;
}

static void setup(harness *h, fuzz_input *in)
{
    unsigned fail_after, step;

    memset(h, 0, sizeof *h);
    stats_init(&h->st, "fuzz", 0);
    h->env.stats = &h->st;
    h->env.stats_text = fake_stats_text;
    h->env.stats_ctx = h;
    h->env.backpressure_limit = LIMITS[fuzz_byte(in) % 8];
    h->stats_len = fuzz_u16(in) % STATS_TEXT_CAP;
    h->max_iov = 1 + fuzz_byte(in) % MAX_IOV;
    fail_after = fuzz_byte(in);
    alloc_left = fail_after == 255 ? ALLOC_NEVER : fail_after;
    alloc_failed = 0;
    step = fuzz_byte(in) + 1u;
    h->tail_step = (size_t)step * step;
    session_init(&h->s, &h->env);
}

/* ---- checks ---- */

static void check_state(const harness *h)
{
    const session *s = &h->s;
    int open = s->state == SESSION_OPEN;

    FUZZ_CHECK(session_can_read(s) == (open && s->unsent < h->env.backpressure_limit));
    FUZZ_CHECK(session_done(s) == (!open && s->unsent == 0));
    FUZZ_CHECK(session_unsent(s) == s->unsent);
    FUZZ_CHECK(s->staged <= PROTO_MAX_FRAME);
    FUZZ_CHECK(s->sent_total == h->out.len);
    FUZZ_CHECK(s->committed_total == s->sent_total + s->unsent);
}

/* Nothing owed and nothing half-built: no block is held. */
static void check_idle(const harness *h)
{
    if (h->s.unsent == 0 && h->s.staged == 0)
        FUZZ_CHECK(h->s.head == NULL && h->s.tail == NULL && h->s.frame_ends == NULL);
}

static void check_reply_header(const harness *h, const proto_header *hd)
{
    FUZZ_CHECK(!h->out_error);   /* nothing after an ERROR frame */
    FUZZ_CHECK(hd->flags == 0);
    if (hd->type == PROTO_ECHO)
        FUZZ_CHECK(hd->length <= PROTO_MAX_PAYLOAD);
    else if (hd->type == PROTO_STATS)
        FUZZ_CHECK(hd->length == h->stats_made);
    else
        FUZZ_CHECK(hd->type == PROTO_ERROR && hd->length > 0
                   && hd->length < PROTO_REASON_MAX);
}

/* The sent bytes are well-formed frames; the counters count them. */
static void scan_out(harness *h)
{
    while (h->out.len - h->out_pos >= PROTO_HEADER_SIZE) {
        proto_header hd;
        proto_header_decode(h->out.data + h->out_pos, &hd);
        check_reply_header(h, &hd);
        if (h->out.len - h->out_pos - PROTO_HEADER_SIZE < hd.length)
            break;
        h->out_pos += PROTO_HEADER_SIZE + hd.length;
        h->out_frames++;
        h->out_error = hd.type == PROTO_ERROR;
    }
    FUZZ_CHECK(counter_get(&h->st.frames_out) == (int64_t)h->out_frames);
    FUZZ_CHECK(counter_get(&h->st.bytes_out) == (int64_t)h->out.len);
}

/* ---- what a model does ---- */

static void post(harness *h)
{
    size_t i;

    h->iov_n = session_output(&h->s, h->iov, h->max_iov);
    FUZZ_CHECK(h->iov_n <= h->max_iov);
    h->posted.len = 0;
    for (i = 0; i < h->iov_n; i++) {
        FUZZ_CHECK(h->iov[i].len > 0);
        test_buf_add(&h->posted, h->iov[i].base, h->iov[i].len);
    }
    if (h->iov_n < h->max_iov)
        FUZZ_CHECK(h->posted.len == h->s.unsent);
    else
        FUZZ_CHECK(h->posted.len <= h->s.unsent);
    h->pending = h->posted.len > 0;
}

static void complete(harness *h, size_t want)
{
    size_t i, at = 0, n = want == 0 || want > h->posted.len ? h->posted.len : want;

    for (i = 0; i < h->iov_n; i++) {   /* the queue's bytes did not move */
        FUZZ_CHECK(memcmp(h->iov[i].base, h->posted.data + at, h->iov[i].len) == 0);
        at += h->iov[i].len;
    }
    test_buf_add(&h->out, h->posted.data, n);
    session_sent(&h->s, n);
    h->pending = 0;
    scan_out(h);
    check_idle(h);
    check_state(h);
}

static void send_now(harness *h, size_t want)
{
    post(h);
    if (h->pending)
        complete(h, want);
}

static void drain(harness *h)
{
    while (h->s.unsent > 0)
        send_now(h, 0);
}

static void deliver(harness *h, size_t want)
{
    size_t n = h->wire.len - h->delivered, before, bound;
    unsigned char *copy;

    if (n > want)
        n = want;
    if (n == 0 || !session_can_read(&h->s))
        return;
    copy = (unsigned char *)malloc(n);
    FUZZ_CHECK(copy != NULL);
    memcpy(copy, h->wire.data + h->delivered, n);
    /* Each byte echoes once; each 8 may be a STATS request; one ERROR. */
    before = h->s.unsent + h->s.staged;
    bound = before + n + (n / PROTO_HEADER_SIZE + 1) * h->stats_len
          + PROTO_HEADER_SIZE + PROTO_REASON_MAX;
    session_on_data(&h->s, copy, n);
    free(copy);
    h->delivered += n;
    FUZZ_CHECK(h->s.unsent + h->s.staged <= bound);
    check_state(h);
}

/* ---- building the peer's stream ---- */

static void append_bytes(harness *h, fuzz_input *in)
{
    const uint8_t *data;
    size_t n = fuzz_take(in, fuzz_byte(in) + 1u, &data);

    if (h->wire.len + n <= WIRE_MAX)
        test_buf_add(&h->wire, data, n);
}

static void append_frame(harness *h, fuzz_input *in)
{
    unsigned t = fuzz_byte(in), len16 = fuzz_u16(in);
    unsigned char header[PROTO_HEADER_SIZE];
    proto_header hd;
    uint32_t i;

    hd.type = (uint16_t)((t & 0x80 ? 0x100u : 0u) | (t & 3u));
    hd.flags = (uint16_t)(t & 0x40 ? fuzz_byte(in) : 0u);
    hd.length = t & 0x20 ? 65535u + len16 % 4u : len16;
    if (h->wire.len + PROTO_HEADER_SIZE + hd.length > WIRE_MAX)
        return;
    proto_header_encode(&hd, header);
    test_buf_add(&h->wire, header, sizeof header);
    if (hd.length > PROTO_MAX_PAYLOAD)
        return;
    while (hd.length > 0) {   /* a pattern of the stream position */
        unsigned char block[1024];
        uint32_t n = hd.length < sizeof block ? hd.length : (uint32_t)sizeof block;
        for (i = 0; i < n; i++) {
            size_t pos = h->wire.len + i;
            block[i] = (unsigned char)(pos * 131u + (pos >> 8));
        }
        test_buf_add(&h->wire, block, n);
        hd.length -= n;
    }
}

static void run_op(harness *h, fuzz_input *in)
{
    switch (fuzz_byte(in) % OP_COUNT) {
    case OP_BYTES:
        append_bytes(h, in);
        break;
    case OP_FRAME:
        append_frame(h, in);
        break;
    case OP_DELIVER:
        deliver(h, fuzz_u16(in) + 1u);
        break;
    case OP_SEND: {
        size_t want = fuzz_u16(in);
        if (!h->pending)
            send_now(h, want);
        break;
    }
    case OP_POST:
        if (!h->pending)
            post(h);
        break;
    case OP_COMPLETE: {
        size_t want = fuzz_u16(in);
        if (h->pending)
            complete(h, want);
        break;
    }
    case OP_EOF:
        session_on_eof(&h->s);
        check_state(h);
        break;
    default:
        session_on_abort(&h->s);
        h->aborted = 1;
        check_state(h);
        break;
    }
}

static void finish(harness *h)
{
    if (h->pending)
        complete(h, 0);
    if (h->aborted)
        return;
    while (h->delivered < h->wire.len && h->s.state == SESSION_OPEN) {
        if (session_can_read(&h->s))
            deliver(h, h->tail_step);
        else
            drain(h);
    }
    session_on_eof(&h->s);
    check_state(h);
    drain(h);
    FUZZ_CHECK(session_done(&h->s));
}

/* ---- the expected replies ---- */

typedef struct totals {
    int64_t frames, bytes, errors;
} totals;

static void expect_frame(const harness *h, const ref_frame *f, size_t end, test_buf *exp)
{
    unsigned char header[PROTO_HEADER_SIZE];
    proto_header hd;
    size_t i;

    if (f->type == PROTO_ECHO) {
        test_buf_add(exp, h->wire.data + f->start, end - f->start);
        return;
    }
    hd.length = (uint32_t)h->stats_made;
    hd.type = PROTO_STATS;
    hd.flags = 0;
    proto_header_encode(&hd, header);
    test_buf_add(exp, header, sizeof header);
    for (i = 0; i < h->stats_made; i++) {
        unsigned char b = stats_byte(i);
        test_buf_add(exp, &b, 1);
    }
}

static void expect_error(const harness *h, const ref_frame *f, test_buf *exp)
{
    unsigned char frame[PROTO_HEADER_SIZE + PROTO_REASON_MAX];
    char reason[PROTO_REASON_MAX];
    proto_header hd;

    proto_header_decode(h->wire.data + f->start, &hd);
    FUZZ_CHECK(proto_request_check(&hd, reason, sizeof reason) == -1);
    test_buf_add(exp, frame,
                 proto_frame_encode(PROTO_ERROR, reason, (uint32_t)strlen(reason), frame));
}

/* The replies to the delivered bytes, by the reference parser. */
static void expect(const harness *h, test_buf *exp, totals *t)
{
    size_t pos = 0;
    ref_frame f;
    ref_kind k;

    memset(t, 0, sizeof *t);
    while ((k = ref_next(h->wire.data, h->delivered, &pos, &f)) == REF_FRAME) {
        expect_frame(h, &f, pos, exp);
        t->frames++;
        t->bytes += (int64_t)(pos - f.start);
    }
    if (k == REF_ERROR)
        expect_error(h, &f, exp);
    t->errors = k == REF_ERROR || k == REF_PARTIAL;   /* a partial frame at EOF */
}

static void check_result(harness *h)
{
    test_buf exp = { NULL, 0, 0 };
    totals t;

    expect(h, &exp, &t);
    FUZZ_CHECK(h->out.len <= exp.len);
    FUZZ_CHECK(h->out.len == 0 || memcmp(h->out.data, exp.data, h->out.len) == 0);
    if (!h->aborted)
        FUZZ_CHECK(h->out_pos == h->out.len);   /* whole frames only */
    if (!alloc_failed) {
        if (!h->aborted)
            FUZZ_CHECK(h->out.len == exp.len);
        FUZZ_CHECK(counter_get(&h->st.frames_in) == t.frames);
        FUZZ_CHECK(counter_get(&h->st.bytes_in) == t.bytes);
        FUZZ_CHECK(counter_get(&h->st.protocol_errors) == t.errors);
    }
    test_buf_free(&exp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static harness h;
    fuzz_input in;

    in.data = data;
    in.len = size;
    setup(&h, &in);
    while (in.len > 0 && !h.aborted)
        run_op(&h, &in);
    finish(&h);
    check_result(&h);
    session_free(&h.s);
    test_buf_free(&h.wire);
    test_buf_free(&h.out);
    test_buf_free(&h.posted);
    return 0;
}
