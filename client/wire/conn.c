/* conn.c - one connection with deadline-bounded blocking-style calls. */
#include "conn.h"

#include <string.h>

int conn_ms_left(uint64_t deadline_ms)
{
    uint64_t now = plat_now_ms();

    if (now >= deadline_ms)
        return 0;
    return deadline_ms - now > 0x7fffffff ? 0x7fffffff : (int)(deadline_ms - now);
}

int conn_wait(conn *c, int events, uint64_t deadline_ms, errmsg *e)
{
    int err = 0;
    int rc;

    plat_pollset_set(c->ps, 0, c->sock, events);
    rc = plat_pollset_wait(c->ps, 1, conn_ms_left(deadline_ms), &err);
    if (rc < 0)
        return errmsg_sock(e, "WSAPoll", c->peer, err);
    return rc > 0 ? 1 : 0;
}

/* Waits for the non-blocking connect to finish. */
static int conn_finish_connect(conn *c, uint64_t deadline_ms, errmsg *e)
{
    int err = 0;
    int rc = conn_wait(c, PLAT_OUT, deadline_ms, e);

    if (rc < 0)
        return -1;
    if (plat_connect_result(c->sock, &err) != 0)
        return errmsg_sock(e, "connect", c->peer, err);
    if (rc == 0)   /* no error pending, but not connected either */
        return errmsg_set(e, "connect %s: no answer within the deadline", c->peer);
    return 0;
}

void conn_init(conn *c)
{
    memset(c, 0, sizeof *c);
    c->sock = PLAT_NO_SOCK;
}

static int conn_setup(conn *c, const plat_addr *addr, size_t in_cap, errmsg *e)
{
    int err = 0;

    conn_init(c);
    memcpy(c->peer, addr->text, sizeof c->peer);
    c->ps = plat_pollset_new(1);
    if (c->ps == NULL || frame_buf_init(&c->in, in_cap != 0 ? in_cap : CONN_DEFAULT_BUF) != 0)
        return errmsg_set(e, "out of memory");
    if (plat_tcp_socket(addr, &c->sock, &err) != 0)
        return errmsg_sock(e, "socket", NULL, err);
    /* Small frames must leave at once, not wait for Nagle's timer. */
    if (plat_set_nodelay(c->sock, &err) != 0)
        return errmsg_sock(e, "setsockopt TCP_NODELAY", c->peer, err);
    return 0;
}

int conn_open(conn *c, const plat_addr *addr, size_t in_cap, uint64_t deadline_ms,
              errmsg *e)
{
    int err = 0;
    int rc;

    if (conn_setup(c, addr, in_cap, e) != 0) {
        conn_close(c);
        return -1;
    }
    rc = plat_connect_start(c->sock, addr, &err);
    if (rc < 0)
        errmsg_sock(e, "connect", c->peer, err);
    else if (rc == 0 || conn_finish_connect(c, deadline_ms, e) == 0)
        return 0;
    conn_close(c);
    return -1;
}

long conn_fill(conn *c, errmsg *e)
{
    size_t room;
    unsigned char *p = frame_buf_space(&c->in, &room);
    int err = 0;
    long n;

    if (c->eof || c->reset)
        return 0;
    if (room == 0) {
        errmsg_set(e, "receive buffer full (%lu bytes unread)",
                   (unsigned long)frame_buf_pending(&c->in));
        return PLAT_ERROR;
    }
    n = plat_recv(c->sock, p, room, &err);
    if (n > 0)
        frame_buf_commit(&c->in, (size_t)n);
    else if (n == 0)
        c->eof = 1;
    else if (n == PLAT_ERROR && plat_err_is_reset(err)) {
        c->reset = 1;   /* Wine may report the same reset as a plain EOF */
        c->reset_err = err;
        n = 0;
    } else if (n == PLAT_ERROR)
        errmsg_sock(e, "recv", c->peer, err);
    return n;
}

/* While a send waits for room: read replies if there is space for them. */
static int conn_send_wait(conn *c, uint64_t deadline_ms, errmsg *e)
{
    size_t room;
    int can_read = !c->eof && !c->reset;
    int rc;

    frame_buf_space(&c->in, &room);
    can_read = can_read && room > 0;
    rc = conn_wait(c, PLAT_OUT | (can_read ? PLAT_IN : 0), deadline_ms, e);
    if (rc <= 0)
        return rc;
    if (can_read && (plat_pollset_revents(c->ps, 0) & (PLAT_IN | PLAT_HUP | PLAT_ERR)))
        if (conn_fill(c, e) == PLAT_ERROR)
            return -1;
    return 1;
}

int conn_send_all(conn *c, const void *buf, size_t len, uint64_t deadline_ms, errmsg *e)
{
    const unsigned char *p = (const unsigned char *)buf;
    size_t done = 0;
    int err = 0;
    int rc;

    while (done < len) {
        long n = plat_send(c->sock, p + done, len - done, &err);

        if (n == PLAT_ERROR)
            return errmsg_sock(e, "send", c->peer, err);
        if (n > 0) {
            done += (size_t)n;
            continue;
        }
        rc = conn_send_wait(c, deadline_ms, e);
        if (rc < 0)
            return -1;
        if (rc == 0 && conn_ms_left(deadline_ms) == 0)
            return errmsg_set(e, "send %s: timed out with %lu of %lu bytes sent",
                              c->peer, (unsigned long)done, (unsigned long)len);
    }
    return 0;
}

static int conn_eof_in_frame(conn *c, errmsg *e)
{
    size_t pending = frame_buf_pending(&c->in);

    if (pending == 0)
        return 0;
    return errmsg_set(e, "connection closed%s after %lu bytes of an incomplete frame",
                      c->reset ? " (reset)" : "", (unsigned long)pending);
}

/* One step of a read loop: a recv, or when nothing is there a wait for
 * more. 1 something may have changed (bytes, EOF, readiness): look again;
 * 0 the deadline passed (e is left to the caller); -1 failed with e set. */
static int conn_fill_or_wait(conn *c, uint64_t deadline_ms, errmsg *e)
{
    long n = conn_fill(c, e);

    if (n == PLAT_ERROR)
        return -1;
    if (n != PLAT_WOULDBLOCK)
        return 1;
    return conn_wait(c, PLAT_IN, deadline_ms, e);
}

int conn_read_frame(conn *c, frame *f, uint64_t deadline_ms, errmsg *e)
{
    int rc;

    for (;;) {
        rc = frame_buf_take(&c->in, f, e);
        if (rc != 0)
            return rc;
        if (c->eof || c->reset)
            return conn_eof_in_frame(c, e);
        rc = conn_fill_or_wait(c, deadline_ms, e);
        if (rc < 0)
            return -1;
        if (rc == 0)
            return errmsg_set(e, "timed out waiting for a reply (%lu bytes of it received)",
                              (unsigned long)frame_buf_pending(&c->in));
    }
}

int conn_expect_eof(conn *c, uint64_t deadline_ms, errmsg *e)
{
    int rc;

    for (;;) {
        if (frame_buf_pending(&c->in) > 0)
            return errmsg_set(e, "expected EOF, got %lu more bytes",
                              (unsigned long)frame_buf_pending(&c->in));
        if (c->eof || c->reset)
            return 0;
        rc = conn_fill_or_wait(c, deadline_ms, e);
        if (rc < 0)
            return -1;
        if (rc == 0)
            return errmsg_set(e, "timed out waiting for the server to close the connection");
    }
}

int conn_shutdown(conn *c, errmsg *e)
{
    int err = 0;

    if (plat_shutdown_send(c->sock, &err) != 0)
        return errmsg_sock(e, "shutdown SD_SEND", c->peer, err);
    return 0;
}

void conn_close(conn *c)
{
    if (c->sock != PLAT_NO_SOCK)
        plat_close(c->sock);
    c->sock = PLAT_NO_SOCK;
    plat_pollset_free(c->ps);
    c->ps = NULL;
    frame_buf_free(&c->in);
}

void conn_abort(conn *c)
{
    int err = 0;

    if (c->sock != PLAT_NO_SOCK)
        plat_set_abortive(c->sock, &err);   /* if it fails, the close is orderly */
    conn_close(c);
}
