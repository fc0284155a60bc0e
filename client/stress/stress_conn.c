/* stress_conn.c - the connection-level rounds of the stress command:
 * churn (connections opened and closed one after another) and storms of
 * resets (many connections reset at the same moment while the server
 * still has input to parse and replies to send on them). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "stress.h"
#include "xchg.h"

#define SMALL_BUF 1024u            /* per connection, where no reply is read */
#define RESET_FRAME 16384u         /* payload of the frames left unanswered */
#define RESET_FRAMES 2u
#define HALF_PAYLOAD 1000u         /* the frame a connection leaves unfinished */

uint64_t stress_deadline(const stress_ctx *s)
{
    return plat_now_ms() + s->o->timeout_ms;
}

size_t stress_echo_frame(unsigned char *buf, uint32_t size, uint32_t tag, uint32_t seq)
{
    uint32_t i;

    xchg_put_echo_header(buf, size);
    xchg_put_be32(buf + PROTO_HEADER_SIZE, tag);
    xchg_put_be32(buf + PROTO_HEADER_SIZE + 4, seq);
    for (i = 8; i < size; i++)
        buf[PROTO_HEADER_SIZE + i] = (unsigned char)(i * 13u + seq * 7u + tag * 101u);
    return PROTO_HEADER_SIZE + (size_t)size;
}

/* Cycle i of a churn round (xchg_churn_cycle). */
static int churn_cycle(stress_ctx *s, unsigned round, unsigned i)
{
    char text[48];

    snprintf(text, sizeof text, "churn round %u cycle %u", round, i);
    return xchg_churn_cycle(&s->cx->addr, text, i, SMALL_BUF, stress_deadline(s), &s->why);
}

int stress_round_churn(stress_ctx *s, unsigned round)
{
    unsigned i;

    for (i = 0; i < s->conns; i++)
        if (churn_cycle(s, round, i) != 0) {
            errmsg_prefix(&s->why, "cycle %u of %u", i + 1, s->conns);
            return -1;
        }
    s->done += s->conns;
    return 0;
}

/* What connection i of a storm sends before the reset: nothing (a third),
 * half a frame (a third), or whole frames whose replies it never reads
 * and then half a frame (a third), so the reset finds the server with
 * replies to send and a partial frame in its buffer. */
static int reset_prepare(stress_ctx *s, conn *c, unsigned i, unsigned char *buf)
{
    size_t len = 0;
    unsigned k;

    if (i % 3 == 0)
        return 0;
    if (i % 3 == 2)
        for (k = 0; k < RESET_FRAMES; k++)
            len += stress_echo_frame(buf + len, RESET_FRAME, i, k);
    stress_echo_frame(buf + len, HALF_PAYLOAD, i, RESET_FRAMES);
    len += PROTO_HEADER_SIZE + HALF_PAYLOAD / 2;
    return conn_send_all(c, buf, len, stress_deadline(s), &s->why);
}

/* Opens the storm's connections one after another and prepares each. */
static int reset_open(stress_ctx *s, conn *cs, unsigned char *buf)
{
    unsigned i;

    for (i = 0; i < s->conns; i++)
        conn_init(&cs[i]);   /* all of them, so each can be closed after a failure */
    for (i = 0; i < s->conns; i++) {
        if (conn_open(&cs[i], &s->cx->addr, SMALL_BUF, stress_deadline(s), &s->why) != 0
            || reset_prepare(s, &cs[i], i, buf) != 0) {
            errmsg_prefix(&s->why, "connection %u of %u", i + 1, s->conns);
            return -1;
        }
    }
    return 0;
}

/* Waits until the server counts every connection of the storm (and the
 * STATS one), so each storm resets connections it has accepted and each
 * reaches the same peak: the warm-up's (a model that adds workers with
 * the peak, like eventselect, then needs no more of them later). */
static int reset_await_accepted(stress_ctx *s)
{
    uint64_t end = stress_deadline(s);
    stress_figs f;

    for (;;) {
        if (stress_figures(s, &f) != 0)
            return -1;
        if (f.v[SK_CURRENT] > s->conns)
            return 0;
        if (plat_now_ms() >= end)
            return errmsg_set(&s->why, "the server counted %llu of the %u connections within "
                              "--timeout", (unsigned long long)f.v[SK_CURRENT] - 1, s->conns);
        plat_sleep_ms(100);
    }
}

int stress_round_resets(stress_ctx *s, unsigned round)
{
    size_t cap = RESET_FRAMES * (PROTO_HEADER_SIZE + RESET_FRAME) + PROTO_HEADER_SIZE
                 + HALF_PAYLOAD;
    unsigned char *buf = (unsigned char *)malloc(cap);
    conn *cs = (conn *)calloc(s->conns, sizeof *cs);
    unsigned i;
    int rc = -1;
    int err = 0;

    (void)round;
    if (buf == NULL || cs == NULL)
        errmsg_set(&s->why, "out of memory");
    else if ((rc = reset_open(s, cs, buf)) == 0)
        rc = reset_await_accepted(s);
    /* The resets are armed first, then every socket is closed in one
     * tight pass, so they reach the server together. */
    for (i = 0; cs != NULL && i < s->conns; i++)
        if (cs[i].sock != PLAT_NO_SOCK)
            plat_set_abortive(cs[i].sock, &err);
    for (i = 0; cs != NULL && i < s->conns; i++)
        conn_close(&cs[i]);
    if (rc == 0)
        s->done += s->conns;
    free(cs);
    free(buf);
    return rc;
}
