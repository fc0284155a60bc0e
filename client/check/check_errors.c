/* check_errors.c - checks of the protocol error rules: bad frames, a
 * partial frame at FIN, a reset in the middle of a frame. Each reads
 * protocol_errors through a separate connection before and after. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "xchg.h"

/* How long a counter may take to show an event the server saw. */
#define COUNTER_WAIT_MS 3000u

struct bad_case {
    const char *name;
    uint32_t length;
    uint16_t type;
    uint16_t flags;
    const char *payload;   /* sent after the header; NULL: the header alone */
};

/* The header alone where the header itself is the error, so the server
 * has nothing unread when it closes (which could turn its FIN into RST). */
static const struct bad_case bad_cases[] = {
    { "length 70000", 70000u, PROTO_ECHO, 0, NULL },
    { "type 7", 0, 7, 0, NULL },
    { "flags 1", 0, PROTO_ECHO, 1, NULL },
    { "STATS with a 5-byte payload", 5, PROTO_STATS, 0, "abcde" },
    { "ERROR frame from the client", 4, PROTO_ERROR, 0, "oops" }
};

/* A valid ECHO frame followed by the bad frame, for one send(). */
static size_t bad_build(const struct bad_case *bc, unsigned char *buf, size_t *echo_len)
{
    static const char echo_text[] = "valid frame before the bad one";
    proto_header h;
    size_t n = proto_frame_encode(PROTO_ECHO, echo_text, sizeof echo_text - 1, buf);

    *echo_len = n;
    h.length = bc->length;
    h.type = bc->type;
    h.flags = bc->flags;
    proto_header_encode(&h, buf + n);
    n += PROTO_HEADER_SIZE;
    if (bc->payload != NULL) {
        memcpy(buf + n, bc->payload, strlen(bc->payload));
        n += strlen(bc->payload);
    }
    return n;
}

/* The reply must be one ERROR frame with a non-empty ASCII reason. */
static int expect_error_frame(check_ctx *k, conn *c)
{
    frame f;
    uint32_t i;
    int rc = conn_read_frame(c, &f, ck_deadline(k), &k->why);

    if (rc == 0)
        return errmsg_set(&k->why, "the server closed the connection without an ERROR frame");
    if (rc < 0)
        return -1;
    if (f.header.type != PROTO_ERROR)
        return xchg_unexpected(&k->why, "expected an ERROR frame", &f);
    if (f.header.flags != 0 || f.header.length == 0)
        return errmsg_set(&k->why, "ERROR frame with flags %u, length %lu",
                          (unsigned)f.header.flags, (unsigned long)f.header.length);
    for (i = 0; i < f.header.length; i++)
        if (f.payload[i] < 0x20 || f.payload[i] > 0x7e)
            return errmsg_set(&k->why, "ERROR reason has byte 0x%02x at %lu (not printable ASCII)",
                              f.payload[i], (unsigned long)i);
    return 0;
}

/* One case on its own connection: ECHO reply, ERROR frame, EOF. */
static int bad_exchange(check_ctx *k, const struct bad_case *bc)
{
    unsigned char buf[128];
    size_t echo_len = 0;
    size_t n = bad_build(bc, buf, &echo_len);
    conn c;
    int rc = -1;

    if (ck_open(k, &c, 0) != 0)
        return -1;
    if (conn_send_all(&c, buf, n, ck_deadline(k), &k->why) != 0)
        errmsg_prefix(&k->why, "sending");
    else if (xchg_expect_frame(&c, buf, echo_len, ck_deadline(k), &k->why) != 0)
        errmsg_prefix(&k->why, "the valid ECHO before the bad frame");
    else if (expect_error_frame(k, &c) == 0) {
        rc = conn_expect_eof(&c, ck_deadline(k), &k->why);
        if (rc != 0)
            errmsg_prefix(&k->why, "after the ERROR frame");
    }
    conn_close(&c);
    return rc;
}

static int bad_case_run(check_ctx *k, const struct bad_case *bc)
{
    uint64_t before = 0;

    if (ck_counter(k, "protocol_errors", &before) != 0
        || bad_exchange(k, bc) != 0
        || ck_await_counter(k, "protocol_errors", before + 1, COUNTER_WAIT_MS) != 0) {
        errmsg_prefix(&k->why, "%s", bc->name);
        return -1;
    }
    return 0;
}

/* Runs every case, so one failure does not hide the others. */
check_result check_protocol_errors(check_ctx *k)
{
    char all[sizeof k->why.text] = "";
    size_t i, len = 0;

    for (i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        errmsg_clear(&k->why);
        if (bad_case_run(k, &bad_cases[i]) != 0 && len + 4 < sizeof all)
            len += (size_t)snprintf(all + len, sizeof all - len, "%s%s", len ? "; " : "",
                                    k->why.text);
    }
    if (len == 0)
        return CHECK_PASS;
    return ck_fail(k, "%s", all);
}

/* Header announcing `announce` bytes, then `have` of them. */
static size_t partial_build(unsigned char *buf, uint32_t announce, uint32_t have)
{
    xchg_put_echo_header(buf, announce);
    ck_pattern(buf + PROTO_HEADER_SIZE, have, 99);
    return PROTO_HEADER_SIZE + have;
}

check_result check_partial_fin(check_ctx *k)
{
    unsigned char buf[PROTO_HEADER_SIZE + 10];
    size_t n = partial_build(buf, 100, 10);
    uint64_t before = 0;
    int rc;
    conn c;

    if (ck_counter(k, "protocol_errors", &before) != 0)
        return CHECK_FAIL;
    if (ck_open(k, &c, 0) != 0)
        return CHECK_FAIL;
    rc = conn_send_all(&c, buf, n, ck_deadline(k), &k->why);
    if (rc == 0)
        rc = conn_shutdown(&c, &k->why);
    if (rc == 0 && conn_expect_eof(&c, ck_deadline(k), &k->why) != 0) {
        errmsg_prefix(&k->why, "after 10 of 100 payload bytes and FIN, expected no reply and EOF");
        rc = -1;
    }
    conn_close(&c);
    if (rc != 0)
        return CHECK_FAIL;
    if (ck_await_counter(k, "protocol_errors", before + 1, COUNTER_WAIT_MS) != 0)
        return ck_fail_why(k, "a partial frame at FIN must count as a protocol error");
    return CHECK_PASS;
}

check_result check_reset_mid_frame(check_ctx *k)
{
    unsigned char buf[PROTO_HEADER_SIZE + 500];
    size_t n = partial_build(buf, 1000, 500);
    uint64_t before = 0;
    conn c;

    if (ck_counter(k, "protocol_errors", &before) != 0)
        return CHECK_FAIL;
    if (ck_open(k, &c, 0) != 0)
        return CHECK_FAIL;
    if (conn_send_all(&c, buf, n, ck_deadline(k), &k->why) != 0) {
        conn_close(&c);
        return CHECK_FAIL;
    }
    /* Give the server time to read the half frame: a reset that arrives
     * first may discard the bytes before any recv sees them. */
    plat_sleep_ms(200);
    conn_abort(&c);
    if (ck_open(k, &c, 0) != 0)
        return ck_fail_why(k, "a new connection after the reset");
    if (xchg_echo(&c, "after the reset", 15, ck_deadline(k), &k->why) != 0) {
        conn_close(&c);
        return ck_fail_why(k, "a new connection after the reset");
    }
    conn_close(&c);
    if (ck_await_counter(k, "protocol_errors", before + 1, COUNTER_WAIT_MS) != 0)
        return ck_fail_why(k, "a reset inside a frame must count as a protocol error");
    return CHECK_PASS;
}
