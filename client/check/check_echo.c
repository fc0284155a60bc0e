/* check_echo.c - checks of the STATS reply and of ECHO framing: sizes,
 * split and coalesced frames, half-close, crosstalk between connections. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "xchg.h"

/* The SPEC's keys, then the ones every server of this suite adds. */
static const char *const required_keys[] = {
    "model", "pid", "uptime_ms", "threads", "connections_current", "connections_peak",
    "connections_total", "connections_refused", "frames_in", "frames_out", "bytes_in",
    "bytes_out", "protocol_errors", "handles", "working_set_bytes", "private_bytes",
    "max_clients", "open_sockets", "open_threads", "open_handles", "open_blocks"
};

static const char *const models[] = {
    "blocking", "select", "eventselect", "overlapped_event", "completion_routine", "iocp",
    "asyncselect", "threadpool"
};

/* Every required key there; every value but model's a number. */
static check_result stats_keys(check_ctx *k, const stats_text *st)
{
    char missing[400] = "";
    size_t i, len = 0;
    uint64_t v;

    for (i = 0; i < sizeof required_keys / sizeof required_keys[0]; i++)
        if (stats_text_get(st, required_keys[i]) == NULL && len + 40 < sizeof missing)
            len += (size_t)snprintf(missing + len, sizeof missing - len, "%s%s",
                                    len ? ", " : "", required_keys[i]);
    if (len > 0)
        return ck_fail(k, "STATS lacks %s", missing);
    for (i = 0; i < st->count; i++)
        if (strcmp(st->entries[i].key, "model") != 0
            && stats_text_u64(st, st->entries[i].key, &v, &k->why) != 0)
            return CHECK_FAIL;
    return CHECK_PASS;
}

check_result check_stats(check_ctx *k)
{
    uint64_t deadline = ck_deadline(k);
    char text[8192];
    size_t len = 0, i;
    stats_text st;
    const char *model;
    conn c;
    int rc;

    if (ck_open(k, &c, 0) != 0)
        return CHECK_FAIL;
    rc = xchg_stats_on(&c, text, sizeof text, &len, deadline, &k->why);
    conn_close(&c);
    if (rc != 0)
        return CHECK_FAIL;
    if (stats_text_parse(text, len, 1, &st, &k->why) != 0)
        return ck_fail_why(k, "STATS reply");
    if (stats_keys(k, &st) != CHECK_PASS)
        return CHECK_FAIL;
    model = stats_text_get(&st, "model");
    for (i = 0; i < sizeof models / sizeof models[0]; i++)
        if (strcmp(model, models[i]) == 0)
            return CHECK_PASS;
    return ck_fail(k, "model=%s is not one of blocking, select, eventselect, "
                   "overlapped_event, completion_routine, iocp, asyncselect, threadpool",
                   model);
}

check_result check_echo_sizes(check_ctx *k)
{
    static const uint32_t sizes[] = { 0, 1, 100, PROTO_MAX_PAYLOAD };
    unsigned char *buf = (unsigned char *)malloc(PROTO_MAX_PAYLOAD);
    check_result r = CHECK_FAIL;
    size_t i;
    conn c;

    if (buf == NULL)
        return ck_fail(k, "out of memory");
    if (ck_open(k, &c, 0) != 0) {
        free(buf);
        return CHECK_FAIL;
    }
    for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        ck_pattern(buf, sizes[i], (unsigned)i);
        if (xchg_echo(&c, buf, sizes[i], ck_deadline(k), &k->why) != 0)
            break;
    }
    if (i == sizeof sizes / sizeof sizes[0]) {
        for (i = 0; i < 256; i++)   /* every byte value, NUL first */
            buf[i] = (unsigned char)i;
        if (xchg_echo(&c, buf, 256, ck_deadline(k), &k->why) == 0)
            r = CHECK_PASS;
        else
            errmsg_prefix(&k->why, "binary payload (all 256 byte values)");
    }
    conn_close(&c);
    free(buf);
    return r;
}

/* One byte per send(), about 1 ms apart (TCP_NODELAY is on, so each byte
 * leaves as its own segment). */
static int send_bytewise(check_ctx *k, conn *c, const unsigned char *f, size_t len)
{
    uint64_t deadline = ck_deadline(k) + 2 * len;   /* the pauses add up */
    size_t i;

    for (i = 0; i < len; i++) {
        if (conn_send_all(c, f + i, 1, deadline, &k->why) != 0)
            return -1;
        plat_sleep_ms(1);
    }
    return 0;
}

/* Seven uneven pieces, the first inside the header, 10 ms apart. */
static int send_pieces(check_ctx *k, conn *c, const unsigned char *f, size_t len)
{
    static const size_t cuts[] = { 3, 5, 1000, 20000, 7, 33333 };
    size_t i, pos = 0;

    for (i = 0; i <= sizeof cuts / sizeof cuts[0]; i++) {
        size_t n = i < sizeof cuts / sizeof cuts[0] ? cuts[i] : len - pos;

        if (conn_send_all(c, f + pos, n, ck_deadline(k), &k->why) != 0)
            return -1;
        pos += n;
        plat_sleep_ms(10);
    }
    return 0;
}

/* Builds a frame of len pattern bytes, sends it with how() and expects it back. */
static int split_case(check_ctx *k, conn *c, uint32_t len,
                      int (*how)(check_ctx *, conn *, const unsigned char *, size_t))
{
    unsigned char *payload = (unsigned char *)malloc(len);
    unsigned char *f = NULL;
    size_t n = 0;
    int rc = -1;

    if (payload != NULL) {
        ck_pattern(payload, len, len);
        f = xchg_build(PROTO_ECHO, payload, len, &n);
    }
    if (f == NULL)
        errmsg_set(&k->why, "out of memory");
    else if (how(k, c, f, n) == 0)
        rc = xchg_expect_frame(c, f, n, ck_deadline(k), &k->why);
    free(payload);
    free(f);
    return rc;
}

check_result check_split(check_ctx *k)
{
    check_result r = CHECK_FAIL;
    conn c;

    if (ck_open(k, &c, 0) != 0)
        return CHECK_FAIL;
    if (split_case(k, &c, 200, send_bytewise) != 0)
        errmsg_prefix(&k->why, "200-byte frame sent one byte per send()");
    else if (split_case(k, &c, PROTO_MAX_PAYLOAD, send_pieces) != 0)
        errmsg_prefix(&k->why, "64 KiB frame sent in 7 pieces");
    else
        r = CHECK_PASS;
    conn_close(&c);
    return r;
}

#define COALESCED_FRAMES 100

static uint32_t coalesced_size(unsigned i)
{
    return (uint32_t)((i * 379u) % 1500u);   /* 0 for the first, then varied */
}

/* All frames back to back in one buffer; off[i] is where frame i starts. */
static unsigned char *coalesced_build(size_t off[COALESCED_FRAMES + 1])
{
    unsigned char *buf;
    unsigned i;

    off[0] = 0;
    for (i = 0; i < COALESCED_FRAMES; i++)
        off[i + 1] = off[i] + PROTO_HEADER_SIZE + coalesced_size(i);
    buf = (unsigned char *)malloc(off[COALESCED_FRAMES]);
    for (i = 0; buf != NULL && i < COALESCED_FRAMES; i++) {
        xchg_put_echo_header(buf + off[i], coalesced_size(i));
        ck_pattern(buf + off[i] + PROTO_HEADER_SIZE, coalesced_size(i), i);
    }
    return buf;
}

check_result check_coalesced(check_ctx *k)
{
    size_t off[COALESCED_FRAMES + 1];
    unsigned char *buf = coalesced_build(off);
    check_result r = CHECK_FAIL;
    unsigned i;
    conn c;

    if (buf == NULL)
        return ck_fail(k, "out of memory");
    if (ck_open(k, &c, 0) != 0) {
        free(buf);
        return CHECK_FAIL;
    }
    /* One send() call with every frame; conn_send_all only loops if the
     * socket takes less. */
    if (conn_send_all(&c, buf, off[COALESCED_FRAMES], ck_deadline(k), &k->why) == 0) {
        for (i = 0; i < COALESCED_FRAMES; i++)
            if (xchg_expect_frame(&c, buf + off[i], off[i + 1] - off[i], ck_deadline(k), &k->why) != 0)
                break;
        if (i == COALESCED_FRAMES)
            r = CHECK_PASS;
        else
            errmsg_prefix(&k->why, "reply %u of %u (%lu-byte payload)", i + 1,
                          COALESCED_FRAMES, (unsigned long)coalesced_size(i));
    }
    conn_close(&c);
    free(buf);
    return r;
}

/* Sends three frames, half-closes, then expects the three replies and EOF. */
static int half_close_run(check_ctx *k, conn *c, unsigned char *f[3], const size_t n[3])
{
    int i;

    for (i = 0; i < 3; i++)
        if (conn_send_all(c, f[i], n[i], ck_deadline(k), &k->why) != 0)
            return -1;
    if (conn_shutdown(c, &k->why) != 0)
        return -1;
    for (i = 0; i < 3; i++)
        if (xchg_expect_frame(c, f[i], n[i], ck_deadline(k), &k->why) != 0) {
            errmsg_prefix(&k->why, "reply %d of 3 after our FIN", i + 1);
            return -1;
        }
    if (conn_expect_eof(c, ck_deadline(k), &k->why) != 0) {
        errmsg_prefix(&k->why, "after the 3 replies");
        return -1;
    }
    return 0;
}

check_result check_half_close(check_ctx *k)
{
    unsigned char *f[3] = { NULL, NULL, NULL };
    size_t n[3] = { 0, 0, 0 };
    char text[32];
    check_result r = CHECK_FAIL;
    int i, built = 1;
    conn c;

    for (i = 0; i < 3; i++) {
        snprintf(text, sizeof text, "half-close frame %d", i + 1);
        f[i] = xchg_build(PROTO_ECHO, text, (uint32_t)strlen(text), &n[i]);
        built = built && f[i] != NULL;
    }
    if (!built)
        ck_fail(k, "out of memory");
    else if (ck_open(k, &c, 0) == 0) {
        if (half_close_run(k, &c, f, n) == 0)
            r = CHECK_PASS;
        conn_close(&c);
    }
    for (i = 0; i < 3; i++)
        free(f[i]);
    return r;
}

#define XT_CONNS 50
#define XT_FRAMES 20

/* The frame (conn, seq): text naming both, then filler; even sequence
 * numbers long, odd ones short, so stale bytes of the previous (longer)
 * frame would show. */
static unsigned char *xt_frame(unsigned c, unsigned s, size_t *len)
{
    uint32_t plen = (s % 2 == 0) ? 1500u + c * 13u + s : 16u + c % 5u + s / 2u;
    unsigned char *payload = (unsigned char *)malloc(plen);
    unsigned char *f;
    char head[32];
    uint32_t i;

    if (payload == NULL)
        return NULL;
    snprintf(head, sizeof head, "conn=%02u seq=%02u|", c, s);
    for (i = 0; i < plen; i++)
        payload[i] = i < strlen(head) ? (unsigned char)head[i]
                                      : (unsigned char)('a' + (c * 7u + s + i) % 26u);
    f = xchg_build(PROTO_ECHO, payload, plen, len);
    free(payload);
    return f;
}

/* Round s: one frame on every connection (ascending or descending order
 * by round), then every reply. */
static int xt_round(check_ctx *k, conn *cs, unsigned s)
{
    unsigned char *f[XT_CONNS];
    size_t n[XT_CONNS];
    unsigned i, c;
    int rc = 0;

    memset(f, 0, sizeof f);
    for (i = 0; i < XT_CONNS && rc == 0; i++) {
        c = (s % 2 == 0) ? i : XT_CONNS - 1 - i;
        f[c] = xt_frame(c, s, &n[c]);
        if (f[c] == NULL)
            rc = errmsg_set(&k->why, "out of memory");
        else if (conn_send_all(&cs[c], f[c], n[c], ck_deadline(k), &k->why) != 0) {
            errmsg_prefix(&k->why, "connection %u", c);
            rc = -1;
        }
    }
    if (rc == 0)
        rc = ck_gather(k, cs, XT_CONNS, f, n);
    for (i = 0; i < XT_CONNS; i++)
        free(f[i]);
    if (rc != 0)
        errmsg_prefix(&k->why, "round %u of %u", s + 1, XT_FRAMES);
    return rc;
}

check_result check_crosstalk(check_ctx *k)
{
    conn cs[XT_CONNS];
    unsigned i, s;
    check_result r = CHECK_FAIL;

    for (i = 0; i < XT_CONNS; i++)
        conn_init(&cs[i]);
    for (i = 0; i < XT_CONNS; i++)
        if (ck_open(k, &cs[i], 0) != 0) {
            errmsg_prefix(&k->why, "opening connection %u of %u", i + 1, XT_CONNS);
            break;
        }
    for (s = 0; i == XT_CONNS && s < XT_FRAMES; s++)
        if (xt_round(k, cs, s) != 0)
            break;
    if (i == XT_CONNS && s == XT_FRAMES)
        r = CHECK_PASS;
    ck_close_all(cs, XT_CONNS);
    return r;
}
