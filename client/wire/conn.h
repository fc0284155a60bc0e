/* conn.h - one client connection with blocking-style calls that each end
 * by a deadline: connect, send everything, read one frame, expect EOF.
 *
 * The socket itself is non-blocking; every wait is a poll bounded by the
 * caller's deadline (plat_now_ms() based), so no call can hang. While a
 * send waits for room it keeps receiving into the frame buffer, so a
 * server that answers before it has read everything cannot deadlock us.
 */
#ifndef CONN_H
#define CONN_H

#include <stddef.h>
#include <stdint.h>

#include "errmsg.h"
#include "frame_buf.h"
#include "plat.h"

/* Large enough for two largest frames: replies may pile up while we send. */
#define CONN_DEFAULT_BUF (4u * PROTO_MAX_FRAME)

typedef struct conn {
    plat_sock sock;
    plat_pollset *ps; /* one slot, for conn_wait */
    frame_buf in;
    int eof;          /* recv returned 0 */
    int reset;        /* recv failed with a reset; counts as EOF too */
    int reset_err;    /* which error */
    char peer[80];    /* for messages */
} conn;

/* Makes c safe to close without having been opened. */
void conn_init(conn *c);

/* Connects (TCP_NODELAY on); in_cap 0 means CONN_DEFAULT_BUF. */
int conn_open(conn *c, const plat_addr *addr, size_t in_cap, uint64_t deadline_ms,
              errmsg *e);

/* Sends every byte, starting with one send() of the whole buffer. */
int conn_send_all(conn *c, const void *buf, size_t len, uint64_t deadline_ms, errmsg *e);

/* 1: *f is the next frame. 0: the peer closed (FIN or reset) cleanly
 * between frames. -1: timeout, a socket error, EOF inside a frame or an
 * impossible header; e says which. */
int conn_read_frame(conn *c, frame *f, uint64_t deadline_ms, errmsg *e);

/* 0 when the peer closes (FIN or reset) without sending another byte. */
int conn_expect_eof(conn *c, uint64_t deadline_ms, errmsg *e);

/* One recv into the buffer, without waiting: bytes (> 0), 0 at EOF or
 * reset (c->eof / c->reset set), PLAT_WOULDBLOCK, or PLAT_ERROR with e set. */
long conn_fill(conn *c, errmsg *e);

/* Waits until the socket is ready for events; 1 ready, 0 deadline, -1 error. */
int conn_wait(conn *c, int events, uint64_t deadline_ms, errmsg *e);

int conn_shutdown(conn *c, errmsg *e);
void conn_close(conn *c);   /* closesocket: FIN, orderly */
void conn_abort(conn *c);   /* SO_LINGER {1,0} then closesocket: RST */

/* Milliseconds left until deadline_ms, at least 0. */
int conn_ms_left(uint64_t deadline_ms);

#endif
