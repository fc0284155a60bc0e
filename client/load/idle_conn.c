/* idle_conn.c - one connection of the idle command: per round it sends one
 * 64-byte ECHO that carries its id and the round and checks the reply byte
 * for byte; between rounds it is silent, so anything the server sends it
 * then (data, FIN, reset) is an error. */
#include <stdio.h>
#include <string.h>

#include "idle.h"
#include "xchg.h"

/* The ECHO frame of (id, round): both numbers, then bytes derived from them
 * and the position, so a reply meant for another connection or round, or
 * shifted by a byte, never matches. */
static void build_echo(unsigned char *f, uint32_t id, uint32_t round)
{
    unsigned char *p = f + PROTO_HEADER_SIZE;
    size_t i;

    xchg_put_echo_header(f, IDLE_PAYLOAD);
    xchg_put_be32(p, id);
    xchg_put_be32(p + 4, round);
    for (i = 8; i < IDLE_PAYLOAD; i++)
        p[i] = (unsigned char)(i * 7u + round * 31u + id * 131u + (id >> 8));
}

int idle_conn_alloc(idle_conn *c, uint32_t id)
{
    memset(c, 0, sizeof *c);
    c->sock = PLAT_NO_SOCK;
    c->id = id;
    return frame_buf_init(&c->in, IDLE_IN_CAP);
}

void idle_conn_free(idle_conn *c)
{
    if (c->sock != PLAT_NO_SOCK)
        plat_close(c->sock);
    c->sock = PLAT_NO_SOCK;
    frame_buf_free(&c->in);
}

/* Closes the connection for good; it is no longer held. */
static void drop(idle_run *r, idle_conn *c, enum idle_state to)
{
    if (c->state == IC_ECHOING)
        r->echoing--;
    c->state = to;
    if (c->sock != PLAT_NO_SOCK)
        plat_close(c->sock);
    c->sock = PLAT_NO_SOCK;
}

void idle_conn_fail(idle_run *r, idle_conn *c, const char *what)
{
    idle_error(r, "conn %lu: %s", (unsigned long)c->id, what);
    drop(r, c, IC_FAILED);
}

/* SPEC rule 6: the server was at --max-clients. Not an error of either
 * side, but the connection is not held, which fails the run; the first one
 * is shown so that the cause is plain. */
static void refused(idle_run *r, idle_conn *c)
{
    if (r->refused++ == 0) {
        idle_progress_clear(r);
        fprintf(stderr, "client: idle: conn %lu: refused with ERROR \"server full\", not held "
                "(further refusals are only counted)\n", (unsigned long)c->id);
    }
    drop(r, c, IC_REFUSED);
}

static int is_server_full(const frame *f)
{
    static const char full[] = "server full";

    return f->header.type == PROTO_ERROR && f->header.length == sizeof full - 1
           && memcmp(f->payload, full, sizeof full - 1) == 0;
}

/* Sends what is left of the ECHO until done or the socket is full. */
static void flush(idle_run *r, idle_conn *c)
{
    errmsg e;
    int err = 0;

    if (xchg_send_pending(c->sock, c->out, IDLE_FRAME, &c->out_sent, &err) != 0) {
        errmsg_sock(&e, "send", r->addr->text, err);
        idle_conn_fail(r, c, e.text);
    }
}

void idle_conn_echo(idle_run *r, idle_conn *c, uint32_t round)
{
    build_echo(c->out, c->id, round);
    c->out_sent = 0;
    c->state = IC_ECHOING;
    r->echoing++;
    c->deadline_ms = plat_now_ms() + r->opts->timeout_ms;
    flush(r, c);
}

int idle_conn_events(const idle_conn *c)
{
    return PLAT_IN | (c->out_sent < IDLE_FRAME ? PLAT_OUT : 0);
}

/* The reply, once whole: byte-identical to the ECHO, and nothing after it
 * (one request, one reply). A refusal comes as an ERROR frame instead. */
static void take_reply(idle_run *r, idle_conn *c)
{
    errmsg e;
    frame f;
    int rc = frame_buf_take(&c->in, &f, &e);

    if (rc == 0)
        return;   /* more bytes to come */
    if (rc > 0 && is_server_full(&f)) {
        refused(r, c);
        return;
    }
    if (rc > 0 && f.header.type != PROTO_ECHO)
        rc = xchg_unexpected(&e, "reply", &f);
    else if (rc > 0 && (f.raw_len != IDLE_FRAME || memcmp(f.raw, c->out, IDLE_FRAME) != 0)) {
        errmsg_diff(&e, "reply differs", f.raw, f.raw_len, c->out, IDLE_FRAME);
        rc = -1;
    } else if (rc > 0 && frame_buf_pending(&c->in) > 0)
        rc = errmsg_set(&e, "%lu bytes more than the one reply",
                        (unsigned long)frame_buf_pending(&c->in));
    if (rc < 0) {
        idle_conn_fail(r, c, e.text);
        return;
    }
    c->echoed++;
    r->echoing--;
    r->progress_ms = plat_now_ms();
    c->state = IC_HELD;
}

/* One recv (one system call per readiness: under Wine each is a trip to
 * wineserver), then the reply if it is whole. */
static void on_readable(idle_run *r, idle_conn *c)
{
    size_t room;
    unsigned char *p = frame_buf_space(&c->in, &room);
    int err = 0;
    long n = plat_recv(c->sock, p, room, &err);
    errmsg e;

    if (n == PLAT_WOULDBLOCK)
        return;
    if (n == 0)
        idle_conn_fail(r, c, "the server closed the connection instead of replying");
    else if (n < 0) {
        errmsg_sock(&e, "recv", r->addr->text, err);
        idle_conn_fail(r, c, e.text);
    } else {
        frame_buf_commit(&c->in, (size_t)n);
        take_reply(r, c);
    }
}

void idle_conn_ready(idle_run *r, idle_conn *c, int revents)
{
    if (revents & (PLAT_IN | PLAT_HUP | PLAT_ERR))
        on_readable(r, c);
    if (c->state == IC_ECHOING && (revents & PLAT_OUT))
        flush(r, c);
}

/* The second round sends N echoes at once, and the server answers them at
 * its own pace (under Wine, 10,000 take seconds): a reply is only overdue
 * when the server has answered none at all for --timeout. Every extension
 * needs a reply, so a round still ends. */
void idle_conn_check_deadline(idle_run *r, idle_conn *c, uint64_t now_ms)
{
    if (c->state != IC_ECHOING || now_ms < c->deadline_ms
        || now_ms < r->progress_ms + r->opts->timeout_ms)
        return;
    if (c->out_sent < IDLE_FRAME)
        idle_conn_fail(r, c, "timed out: the server accepted no data for --timeout");
    else
        idle_conn_fail(r, c, "timed out: no reply, and none on any connection, "
                       "within --timeout");
}

void idle_conn_woke(idle_run *r, idle_conn *c)
{
    size_t room;
    unsigned char *p = frame_buf_space(&c->in, &room);
    int err = 0;
    long n = plat_recv(c->sock, p, room, &err);
    errmsg e;
    frame f;

    if (n == PLAT_WOULDBLOCK)
        return;   /* nothing after all */
    if (n == 0)
        errmsg_set(&e, "the server closed an idle connection");
    else if (n < 0)
        errmsg_sock(&e, "recv on an idle connection", r->addr->text, err);
    else {
        frame_buf_commit(&c->in, (size_t)n);
        if (frame_buf_take(&c->in, &f, &e) == 1)
            xchg_unexpected(&e, "while idle", &f);
        else
            errmsg_set(&e, "while idle: the server sent %ld bytes nobody asked for", n);
    }
    idle_conn_fail(r, c, e.text);
}
