/* check_flow.c - the backpressure check: one connection pipelines 16 KiB
 * ECHO frames without reading, until the server stops taking them (its
 * memory must be bounded); STATS must still answer on another connection;
 * then every reply must arrive, intact and in order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "xchg.h"

#define BP_PAYLOAD 16384u
#define BP_FRAME (PROTO_HEADER_SIZE + BP_PAYLOAD)
#define BP_LIMIT (64ull * 1024 * 1024)   /* accepted without a reply read: unbounded */
#define BP_STALL_MS 2000u                /* send blocked this long: the server pushes back */
#define BP_FLOOD_MS 60000u               /* the flood phase ends by then in any case */

typedef struct bp_state {
    conn c;
    unsigned char frame[BP_FRAME];    /* the frame being sent */
    unsigned char expect[BP_FRAME];   /* the reply being checked */
    uint32_t sent_frames;             /* frames sent whole */
    size_t off;                       /* bytes of frame sent_frames already sent */
    uint32_t replies;                 /* replies checked */
    uint64_t accepted;                /* bytes send() took */
} bp_state;

static void bp_make(unsigned char *f, uint32_t seq)
{

    xchg_put_echo_header(f, BP_PAYLOAD);
    f[8] = (unsigned char)(seq >> 24);
    f[9] = (unsigned char)(seq >> 16);
    f[10] = (unsigned char)(seq >> 8);
    f[11] = (unsigned char)seq;
    ck_pattern(f + 12, BP_PAYLOAD - 4, seq);
}

/* One send of the rest of the current frame: 1 progress, 0 would block, -1. */
static int bp_send_some(check_ctx *k, bp_state *b)
{
    int err = 0;
    long n;

    if (b->off == 0)
        bp_make(b->frame, b->sent_frames);
    n = plat_send(b->c.sock, b->frame + b->off, BP_FRAME - b->off, &err);
    if (n == PLAT_WOULDBLOCK)
        return 0;
    if (n == PLAT_ERROR) {
        errmsg_sock(&k->why, "send", b->c.peer, err);
        errmsg_prefix(&k->why, "after %llu bytes", (unsigned long long)b->accepted);
        return -1;
    }
    b->accepted += (uint64_t)n;
    b->off += (size_t)n;
    if (b->off == BP_FRAME) {
        b->off = 0;
        b->sent_frames++;
    }
    return 1;
}

/* Sends until send() has been blocked for BP_STALL_MS in a row. */
static int bp_flood(check_ctx *k, bp_state *b)
{
    uint64_t start = plat_now_ms();
    uint64_t blocked_since = 0;
    int rc;

    for (;;) {
        uint64_t now = plat_now_ms();

        if (b->accepted >= BP_LIMIT)
            return errmsg_set(&k->why, "the server took 64 MiB of requests while no reply was "
                              "read: its memory per connection is not bounded");
        if (now - start > BP_FLOOD_MS)
            return errmsg_set(&k->why, "the server still took data after %u s (%llu bytes)",
                              BP_FLOOD_MS / 1000, (unsigned long long)b->accepted);
        rc = bp_send_some(k, b);
        if (rc < 0)
            return -1;
        if (rc > 0) {
            blocked_since = 0;
            continue;
        }
        if (blocked_since == 0)
            blocked_since = now;
        else if (now - blocked_since >= BP_STALL_MS)
            return 0;
        if (conn_wait(&b->c, PLAT_OUT, now + 100, &k->why) < 0)   /* never PLAT_IN here */
            return -1;
    }
}

/* Checks every whole reply in the buffer against the frame it answers. */
static int bp_take(check_ctx *k, bp_state *b)
{
    frame f;
    int rc;

    while ((rc = frame_buf_take(&b->c.in, &f, &k->why)) == 1) {
        if (b->replies >= b->sent_frames + (b->off > 0))
            return errmsg_set(&k->why, "more replies than requests");
        bp_make(b->expect, b->replies);
        if (f.raw_len != BP_FRAME || memcmp(f.raw, b->expect, BP_FRAME) != 0) {
            if (f.header.type != PROTO_ECHO)
                xchg_unexpected(&k->why, "wrong reply", &f);
            else
                errmsg_diff(&k->why, "reply differs", f.raw, f.raw_len, b->expect, BP_FRAME);
            errmsg_prefix(&k->why, "reply %lu (dropped, reordered or damaged)",
                          (unsigned long)b->replies);
            return -1;
        }
        b->replies++;
    }
    return rc;
}

/* One wait: finish sending the partial frame, read and check replies. */
static int bp_drain_step(check_ctx *k, bp_state *b, uint64_t *deadline)
{
    int events = PLAT_IN | (b->off > 0 ? PLAT_OUT : 0);
    int rc = conn_wait(&b->c, events, *deadline, &k->why);
    int rev;
    long n;

    if (rc <= 0)
        return rc < 0 ? -1 : errmsg_set(&k->why, "timed out with %lu of %lu replies read",
                                        (unsigned long)b->replies,
                                        (unsigned long)b->sent_frames + (b->off > 0));
    rev = plat_pollset_revents(b->c.ps, 0);
    if ((rev & PLAT_OUT) && b->off > 0 && bp_send_some(k, b) < 0)
        return -1;
    if (rev & (PLAT_IN | PLAT_HUP | PLAT_ERR)) {
        n = conn_fill(&b->c, &k->why);
        if (n == PLAT_ERROR)
            return -1;
        if (n > 0)
            *deadline = ck_deadline(k);
        if (bp_take(k, b) < 0)
            return -1;
        if (b->c.eof || b->c.reset)
            return errmsg_set(&k->why, "the server closed the connection after %lu of %lu replies",
                              (unsigned long)b->replies,
                              (unsigned long)b->sent_frames + (b->off > 0));
    }
    return 0;
}

static int bp_drain(check_ctx *k, bp_state *b)
{
    uint64_t deadline = ck_deadline(k);   /* moved on by every byte read */

    while (b->off > 0 || b->replies < b->sent_frames)
        if (bp_drain_step(k, b, &deadline) != 0)
            return -1;
    return 0;
}

check_result check_backpressure(check_ctx *k)
{
    bp_state *b = (bp_state *)calloc(1, sizeof *b);
    check_result r = CHECK_FAIL;
    uint64_t frames_in = 0;

    if (b == NULL)
        return ck_fail(k, "out of memory");
    if (ck_open(k, &b->c, 0) != 0) {
        free(b);
        return CHECK_FAIL;
    }
    if (bp_flood(k, b) != 0)
        errmsg_prefix(&k->why, "flooding 16 KiB frames without reading");
    else if (ck_counter(k, "frames_in", &frames_in) != 0)
        errmsg_prefix(&k->why, "STATS on another connection while one is pushed back "
                      "(%llu bytes sent)", (unsigned long long)b->accepted);
    else if (bp_drain(k, b) != 0)
        errmsg_prefix(&k->why, "reading back %llu bytes of replies",
                      (unsigned long long)b->accepted);
    else
        r = CHECK_PASS;
    conn_close(&b->c);
    free(b);
    return r;
}
