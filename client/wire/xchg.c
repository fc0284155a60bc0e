/* xchg.c - ECHO and STATS exchanges. */
#include "xchg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

unsigned char *xchg_build(uint16_t type, const void *payload, uint32_t len, size_t *frame_len)
{
    unsigned char *buf = (unsigned char *)malloc(PROTO_HEADER_SIZE + (size_t)len);

    if (buf != NULL)
        *frame_len = proto_frame_encode(type, payload, len, buf);
    return buf;
}

void xchg_put_echo_header(unsigned char *f, uint32_t len)
{
    proto_header h;

    h.length = len;
    h.type = PROTO_ECHO;
    h.flags = 0;
    proto_header_encode(&h, f);
}

void xchg_put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

uint32_t xchg_get_be32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

int xchg_send_pending(plat_sock s, const unsigned char *buf, size_t len, size_t *sent,
                      int *err)
{
    while (*sent < len) {   /* each pass sends a byte or returns */
        long n = plat_send(s, buf + *sent, len - *sent, err);

        if (n == PLAT_WOULDBLOCK)
            return 0;
        if (n == PLAT_ERROR)
            return -1;
        *sent += (size_t)n;
    }
    return 0;
}

int xchg_unexpected(errmsg *e, const char *what, const frame *f)
{
    const proto_header *h = &f->header;
    size_t i, n = h->length < 80 ? h->length : 80;
    char text[81];

    /* cppcheck-suppress knownConditionTrueFalse ; n is 0 only for some callers */
    for (i = 0; i < n; i++)   /* printable ASCII only, for the message */
        text[i] = (char)(f->payload[i] >= 0x20 && f->payload[i] < 0x7f ? f->payload[i] : '?');
    text[n] = '\0';
    if (h->type == PROTO_ERROR)
        return errmsg_set(e, "%s: got an ERROR frame \"%s\"", what, text);
    return errmsg_set(e, "%s: got a frame of type %u, flags %u, length %lu",
                      what, (unsigned)h->type, (unsigned)h->flags, (unsigned long)h->length);
}

int xchg_expect_frame(conn *c, const unsigned char *want, size_t want_len,
                      uint64_t deadline_ms, errmsg *e)
{
    proto_header wh;
    frame f;
    int rc = conn_read_frame(c, &f, deadline_ms, e);

    if (rc == 0)
        return errmsg_set(e, "the server closed the connection instead of replying");
    if (rc < 0)
        return -1;
    proto_header_decode(want, &wh);
    if (f.header.type != wh.type || f.header.flags != wh.flags)
        return xchg_unexpected(e, "wrong reply", &f);
    if (f.raw_len != want_len || memcmp(f.raw, want, want_len) != 0) {
        errmsg_diff(e, "reply differs", f.raw, f.raw_len, want, want_len);
        return -1;
    }
    return 0;
}

int xchg_echo(conn *c, const void *payload, uint32_t len, uint64_t deadline_ms, errmsg *e)
{
    size_t n = 0;
    unsigned char *buf = xchg_build(PROTO_ECHO, payload, len, &n);
    int rc = -1;

    if (buf == NULL)
        return errmsg_set(e, "out of memory");
    if (conn_send_all(c, buf, n, deadline_ms, e) == 0)
        rc = xchg_expect_frame(c, buf, n, deadline_ms, e);
    free(buf);
    if (rc != 0)
        errmsg_prefix(e, "ECHO of %lu bytes", (unsigned long)len);
    return rc;
}

int xchg_churn_cycle(const plat_addr *addr, const char *text, unsigned i, size_t buf_cap,
                     uint64_t deadline_ms, errmsg *e)
{
    conn c;

    if (conn_open(&c, addr, buf_cap, deadline_ms, e) != 0)
        return -1;
    if (i % 5 != 4 && xchg_echo(&c, text, (uint32_t)strlen(text), deadline_ms, e) != 0) {
        conn_close(&c);
        return -1;
    }
    if (i % 3 == 2)
        conn_abort(&c);
    else
        conn_close(&c);
    return 0;
}

int xchg_stats_on(conn *c, char *text, size_t cap, size_t *len, uint64_t deadline_ms,
                  errmsg *e)
{
    unsigned char req[PROTO_HEADER_SIZE];
    frame f;
    int rc;

    proto_frame_encode(PROTO_STATS, NULL, 0, req);
    if (conn_send_all(c, req, sizeof req, deadline_ms, e) != 0)
        return -1;
    rc = conn_read_frame(c, &f, deadline_ms, e);
    if (rc == 0)
        return errmsg_set(e, "STATS: the server closed the connection instead of replying");
    if (rc < 0) {
        errmsg_prefix(e, "STATS");
        return -1;
    }
    if (f.header.type != PROTO_STATS || f.header.flags != 0)
        return xchg_unexpected(e, "STATS", &f);
    if (f.header.length >= cap)
        return errmsg_set(e, "STATS reply of %lu bytes is too long", (unsigned long)f.header.length);
    memcpy(text, f.payload, f.header.length);
    text[f.header.length] = '\0';
    *len = f.header.length;
    return 0;
}

int xchg_stats(const plat_addr *addr, unsigned timeout_ms, stats_text *st, errmsg *e)
{
    uint64_t deadline = plat_now_ms() + timeout_ms;
    char text[8192];
    size_t len = 0;
    conn c;
    int rc;

    if (conn_open(&c, addr, 0, deadline, e) != 0)
        return -1;
    rc = xchg_stats_on(&c, text, sizeof text, &len, deadline, e);
    conn_close(&c);
    if (rc == 0 && stats_text_parse(text, len, 1, st, e) != 0) {
        errmsg_prefix(e, "STATS reply");
        return -1;
    }
    return rc;
}
