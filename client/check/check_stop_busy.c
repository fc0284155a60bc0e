/* check_stop_busy.c - the stop_busy check: the server is stopped while
 * eight connections are pushed back. Each pipelines 16 KiB ECHO frames
 * and reads nothing, until its sends have been blocked for a second, so
 * the server holds replies it cannot send: a send pending (or a thread
 * blocked in send), a queue behind it, its reads stopped by backpressure.
 * The stop must still end every connection: the server exits 0 within
 * 5 s, with connections_current=0 and nothing it opened left open
 * (open_sockets, open_threads, open_handles and open_blocks all 0).
 *
 * It ends the server, so it runs on a server of its own, started with
 * the battery's --server command; the battery's server stays for the
 * checks after it. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "spawn.h"
#include "xchg.h"

#define SB_CONNS 8
#define SB_PAYLOAD 16384u
#define SB_FRAME (PROTO_HEADER_SIZE + SB_PAYLOAD)
#define SB_STALL_MS 1000u                /* every send blocked this long: pushed back */
#define SB_FLOOD_MS 30000u               /* the flood ends by then in any case */
#define SB_LIMIT (64ull * 1024 * 1024)   /* taken on one connection with no reply read */
#define SB_STOP_LIMIT_MS 5000u           /* SPEC section 2 */

typedef struct sb_conn {
    conn c;
    size_t off;               /* bytes of the current frame sent */
    uint64_t accepted;        /* bytes send() took */
    uint64_t blocked_since;   /* 0 while sends make progress */
} sb_conn;

static const char *const sb_open_keys[] = {
    "connections_current", "open_sockets", "open_threads", "open_handles", "open_blocks"
};

/* One send of the rest of the current frame (all frames are alike):
 * 1 progress, 0 would block, -1 failed. */
static int sb_send_some(check_ctx *k, sb_conn *s, const unsigned char *frame)
{
    int err = 0;
    long n = plat_send(s->c.sock, frame + s->off, SB_FRAME - s->off, &err);

    if (n == PLAT_WOULDBLOCK)
        return 0;
    if (n == PLAT_ERROR)
        return errmsg_sock(&k->why, "send", s->c.peer, err);
    s->accepted += (uint64_t)n;
    s->off = (s->off + (size_t)n) % SB_FRAME;
    if (s->accepted >= SB_LIMIT)
        return errmsg_set(&k->why, "the server took 64 MiB of requests while no reply was "
                          "read: its memory per connection is not bounded");
    return 1;
}

/* One round over the connections; returns how many have been blocked for
 * SB_STALL_MS, or -1. *moved: some send made progress. */
static int sb_round(check_ctx *k, sb_conn *s, const unsigned char *frame, int *moved)
{
    uint64_t now = plat_now_ms();
    int i, rc, stalled = 0;

    for (i = 0; i < SB_CONNS; i++) {
        rc = sb_send_some(k, &s[i], frame);
        if (rc < 0) {
            errmsg_prefix(&k->why, "connection %d", i);
            return -1;
        }
        if (rc > 0) {
            s[i].blocked_since = 0;
            *moved = 1;
        } else if (s[i].blocked_since == 0) {
            s[i].blocked_since = now;
        } else if (now - s[i].blocked_since >= SB_STALL_MS) {
            stalled++;
        }
    }
    return stalled;
}

/* Sends on every connection until all of them are blocked. */
static int sb_flood(check_ctx *k, sb_conn *s, const unsigned char *frame)
{
    uint64_t start = plat_now_ms();

    for (;;) {
        int moved = 0;
        int stalled = sb_round(k, s, frame, &moved);

        if (stalled < 0)
            return -1;
        if (stalled == SB_CONNS)
            return 0;
        if (plat_now_ms() - start > SB_FLOOD_MS)
            return errmsg_set(&k->why, "the server still took data after %u s",
                              SB_FLOOD_MS / 1000);
        if (!moved)
            plat_sleep_ms(20);
    }
}

/* The final statistics: no connection and nothing opened left. */
static int sb_final_stats(check_ctx *k, spawn_run *srv)
{
    stats_text st;
    size_t i;

    if (spawn_final_stats(srv, &st, &k->why) != 0)
        return -1;
    for (i = 0; i < sizeof sb_open_keys / sizeof sb_open_keys[0]; i++) {
        const char *v = stats_text_get(&st, sb_open_keys[i]);
        if (v == NULL)
            return errmsg_set(&k->why, "the final statistics lack %s", sb_open_keys[i]);
        if (strcmp(v, "0") != 0)
            return errmsg_set(&k->why, "the final statistics show %s=%s, expected 0",
                              sb_open_keys[i], v);
    }
    return 0;
}

/* Opens the connections, floods them, stops the server while they are
 * blocked, then closes them. */
static int sb_run(check_ctx *k, spawn_run *srv, sb_conn *s, const unsigned char *frame)
{
    int i, rc = 0;

    for (i = 0; i < SB_CONNS; i++)
        conn_init(&s[i].c);
    for (i = 0; rc == 0 && i < SB_CONNS; i++)
        rc = ck_open(k, &s[i].c, 0);
    if (rc == 0 && sb_flood(k, s, frame) != 0) {
        errmsg_prefix(&k->why, "pipelining 16 KiB frames on %d connections without reading",
                      SB_CONNS);
        rc = -1;
    }
    if (rc == 0 && spawn_stop(srv, &k->why) != 0) {
        errmsg_prefix(&k->why, "stop with %d connections pushed back", SB_CONNS);
        rc = -1;
    }
    for (i = 0; i < SB_CONNS; i++)
        conn_close(&s[i].c);
    if (rc == 0 && srv->stop_ms > SB_STOP_LIMIT_MS)
        rc = errmsg_set(&k->why, "the server took %llu ms to exit after its stop event "
                        "(limit %u ms)", (unsigned long long)srv->stop_ms, SB_STOP_LIMIT_MS);
    return rc == 0 ? sb_final_stats(k, srv) : -1;
}

/* A frame of SB_FRAME bytes: an ECHO header and its payload. */
static unsigned char *sb_frame(void)
{
    unsigned char *f = (unsigned char *)malloc(SB_FRAME);

    if (f == NULL)
        return NULL;
    xchg_put_echo_header(f, SB_PAYLOAD);
    ck_pattern(f + PROTO_HEADER_SIZE, SB_PAYLOAD, 5);
    return f;
}

/* The check on its own server: resolve it, run, hand the message back. */
static int sb_on_server(check_ctx *k, spawn_run *srv)
{
    check_ctx own = *k;   /* the same check, aimed at the server of its own */
    sb_conn *s = (sb_conn *)calloc(SB_CONNS, sizeof *s);
    unsigned char *frame = sb_frame();
    plat_addr addr;
    char why[256];
    int rc = -1;

    if (s == NULL || frame == NULL) {
        errmsg_set(&k->why, "out of memory");
    } else if (plat_resolve(k->host, srv->port, &addr, why, sizeof why) != 0) {
        errmsg_set(&k->why, "%s", why);
    } else {
        own.addr = &addr;
        rc = sb_run(&own, srv, s, frame);
        k->why = own.why;
    }
    free(s);
    free(frame);
    return rc;
}

check_result check_stop_busy(check_ctx *k)
{
    spawn_run srv;
    int rc;

    if (k->server_cmd == NULL) {
        ck_fail(k, "needs --server");
        return CHECK_SKIP;
    }
    if (spawn_start(&srv, k->server_cmd, "--max-clients 200", &k->why) != 0)
        return ck_fail_why(k, "starting a server of its own");
    rc = sb_on_server(k, &srv);
    if (rc != 0)
        spawn_print_output(&srv, stderr);   /* its log tells what it was doing */
    spawn_free(&srv);
    return rc == 0 ? CHECK_PASS : CHECK_FAIL;
}
