/* cmd_flood.c - the flood command: one connection sends --msgs ECHO frames
 * of --size bytes and reads no reply, for --seconds; each second a STATS
 * on a second connection shows where the bytes are (one line each). Then
 * it sends the rest while reading, checks every reply (in order, byte for
 * byte), closes, and prints one summary line: backpressure made visible,
 * the same on every platform (docs/labs/06_iocp.md). */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "conn.h"
#include "stats_text.h"
#include "xchg.h"

typedef struct flood {
    const client_opts *o;
    conn c;
    unsigned char *out, *want;   /* the frame being sent, the reply expected */
    size_t frame_len;
    unsigned long sent_frames;   /* frames sent whole */
    size_t off;                  /* bytes of the next frame already sent */
    unsigned long replies;       /* replies checked */
    unsigned long long sent;     /* bytes send() took */
} flood;

static void make_frame(unsigned char *f, size_t len, unsigned long seq)
{
    size_t i;

    assert(len >= PROTO_HEADER_SIZE + 4);   /* --size is at least 8 */
    xchg_put_echo_header(f, (uint32_t)(len - PROTO_HEADER_SIZE));
    xchg_put_be32(f + PROTO_HEADER_SIZE, (uint32_t)seq);
    for (i = PROTO_HEADER_SIZE + 4; i < len; i++)
        f[i] = (unsigned char)(seq * 31u + i);
}

/* Sends what the socket takes now, frame after frame: 0, or -1. */
static int send_some(flood *fl, errmsg *e)
{
    int err = 0;

    while (fl->sent_frames < fl->o->msgs) {
        long n;

        if (fl->off == 0)
            make_frame(fl->out, fl->frame_len, fl->sent_frames);
        n = plat_send(fl->c.sock, fl->out + fl->off, fl->frame_len - fl->off, &err);
        if (n == PLAT_WOULDBLOCK)
            return 0;
        if (n == PLAT_ERROR)
            return errmsg_sock(e, "send", fl->c.peer, err);
        fl->sent += (unsigned long long)n;
        fl->off += (size_t)n;
        if (fl->off == fl->frame_len) {
            fl->off = 0;
            fl->sent_frames++;
        }
    }
    return 0;
}

/* One line of where the bytes are, from a STATS on the other connection. */
static int sample(flood *fl, conn *sc, double t, errmsg *e)
{
    static const char *const keys[] = {
        "bytes_in", "frames_in", "frames_out", "bytes_out", "private_bytes"
    };
    char text[8192];
    size_t len = 0, i;
    stats_text st;

    if (xchg_stats_on(sc, text, sizeof text, &len, plat_now_ms() + fl->o->timeout_ms, e) != 0
        || stats_text_parse(text, len, 1, &st, e) != 0)
        return -1;
    printf("t=%.0f sent_bytes=%llu", t, fl->sent);
    for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const char *v = stats_text_get(&st, keys[i]);

        printf(" %s=%s", keys[i], v != NULL ? v : "-");
    }
    printf("\n");
    fflush(stdout);
    return 0;
}

/* The flood: send without reading until --seconds pass, a STATS line each
 * second. *stalled: nothing more was taken during the last second. */
static int flood_phase(flood *fl, conn *sc, int *stalled, errmsg *e)
{
    uint64_t start = plat_now_ms();
    uint64_t end = start + fl->o->idle_ms;
    uint64_t next = start + 1000;
    unsigned long long before = 0;

    for (;;) {
        uint64_t now = plat_now_ms();

        if (send_some(fl, e) != 0)
            return -1;
        if (now >= next || now >= end) {
            *stalled = fl->sent == before && fl->sent_frames < fl->o->msgs;
            before = fl->sent;
            if (sample(fl, sc, (double)(now - start) / 1000.0, e) != 0)
                return -1;
            next += 1000;
        }
        if (now >= end)
            return 0;
        if (fl->sent_frames < fl->o->msgs) {
            if (conn_wait(&fl->c, PLAT_OUT, now + 100, e) < 0)   /* never PLAT_IN here */
                return -1;
        } else
            plat_sleep_ms(100);
    }
}

/* Checks every whole reply buffered against the frame it answers. */
static int take_replies(flood *fl, errmsg *e)
{
    frame f;
    int rc;

    while ((rc = frame_buf_take(&fl->c.in, &f, e)) == 1) {
        if (fl->replies >= fl->sent_frames)
            return errmsg_set(e, "a reply to a frame not sent yet");
        make_frame(fl->want, fl->frame_len, fl->replies);
        if (f.raw_len != fl->frame_len || memcmp(f.raw, fl->want, fl->frame_len) != 0) {
            if (f.header.type != PROTO_ECHO)
                xchg_unexpected(e, "wrong reply", &f);
            else
                errmsg_diff(e, "reply differs", f.raw, f.raw_len, fl->want, fl->frame_len);
            errmsg_prefix(e, "reply %lu (dropped, reordered or damaged)", fl->replies);
            return -1;
        }
        fl->replies++;
    }
    return rc;
}

/* Sends the rest while reading; every reply must come, each within
 * --timeout of the one before. */
static int drain_phase(flood *fl, errmsg *e)
{
    uint64_t deadline = plat_now_ms() + fl->o->timeout_ms;

    while (fl->replies < fl->o->msgs) {
        int events = PLAT_IN | (fl->sent_frames < fl->o->msgs ? PLAT_OUT : 0);
        int rc = conn_wait(&fl->c, events, deadline, e);
        int rev;

        if (rc < 0)
            return -1;
        if (rc == 0)
            return errmsg_set(e, "no reply within --timeout: %lu of %lu replies read",
                              fl->replies, (unsigned long)fl->o->msgs);
        rev = plat_pollset_revents(fl->c.ps, 0);
        if ((rev & PLAT_OUT) && send_some(fl, e) != 0)
            return -1;
        if (rev & (PLAT_IN | PLAT_HUP | PLAT_ERR)) {
            long n = conn_fill(&fl->c, e);

            if (n == PLAT_ERROR)
                return -1;
            if (n > 0)
                deadline = plat_now_ms() + fl->o->timeout_ms;
            if (take_replies(fl, e) < 0)
                return -1;
            if (fl->c.eof || fl->c.reset)
                return errmsg_set(e, "the server closed the connection after %lu of %lu replies",
                                  fl->replies, (unsigned long)fl->o->msgs);
        }
    }
    return 0;
}

static int run(flood *fl, const plat_addr *addr, errmsg *e)
{
    uint64_t deadline = plat_now_ms() + fl->o->timeout_ms;
    unsigned long long before_reading;
    int stalled = 0;
    conn sc;
    int rc = -1;

    conn_init(&sc);
    if (conn_open(&fl->c, addr, 0, deadline, e) != 0)
        errmsg_prefix(e, "the flooding connection");
    else if (conn_open(&sc, addr, 0, deadline, e) != 0)
        errmsg_prefix(e, "the STATS connection");
    else if (flood_phase(fl, &sc, &stalled, e) == 0) {
        before_reading = fl->sent;
        if (drain_phase(fl, e) == 0) {
            printf("frames=%lu frame_bytes=%lu sent_before_reading=%llu pushed_back=%s "
                   "replies=%lu errors=0\n", (unsigned long)fl->o->msgs,
                   (unsigned long)fl->frame_len, before_reading, stalled ? "yes" : "no",
                   fl->replies);
            rc = 0;
        }
    }
    conn_close(&sc);
    conn_close(&fl->c);
    return rc;
}

int cmd_flood(const client_ctx *cx)
{
    flood fl;
    errmsg e;
    int rc;

    memset(&fl, 0, sizeof fl);
    conn_init(&fl.c);
    errmsg_clear(&e);
    fl.o = cx->opts;
    fl.frame_len = PROTO_HEADER_SIZE + (size_t)cx->opts->size;
    fl.out = (unsigned char *)malloc(fl.frame_len);
    fl.want = (unsigned char *)malloc(fl.frame_len);
    if (fl.out == NULL || fl.want == NULL)
        rc = errmsg_set(&e, "out of memory");
    else
        rc = run(&fl, &cx->addr, &e);
    free(fl.out);
    free(fl.want);
    if (rc != 0) {
        fprintf(stderr, "client: flood: %s (%llu bytes sent, %lu replies read)\n", e.text,
                fl.sent, fl.replies);
        return 1;
    }
    return 0;
}
