/* session.h - what one connection does with the bytes it receives, the
 * same for all six models (SPEC section 1): ECHO, STATS and ERROR replies,
 * half-close, and the backpressure bound.
 *
 * A model calls it like this (the "shared echo routine" of the suite):
 *
 *     session_on_data(s, buf, n);        bytes received (n > 0)
 *     session_on_eof(s);                 the peer sent FIN (recv gave 0)
 *     n = session_output(s, iov, max);   the replies ready to send
 *     session_sent(s, bytes);            a send accepted that many bytes
 *     session_can_read(s)                0: post no receive (backpressure
 *                                        or closing)
 *     session_done(s)                    1: shutdown(SD_SEND), then close
 *     session_idle(s)                    1: nothing owed, no frame begun
 *
 * The output contract: session_output() only peeks. It describes the
 * oldest unsent bytes and moves nothing; until session_sent() consumes
 * them, every call describes the same bytes again. So a model keeps at
 * most one send in flight per session: a second send posted before the
 * first one's session_sent() would carry the same bytes twice. The queue's
 * bytes never move, so a pending overlapped send may point into them
 * until session_sent() is called; session_sent() takes the byte count the
 * send reported (fewer than described is a short send: the rest is
 * described again).
 *
 * No socket calls: buffer in, buffer out. One thread at a time per
 * session. A model opens and closes a connection's session through
 * server_conn_opened() / server_conn_closed() (common/server.h), which
 * keep the connection counters paired with it.
 */
#ifndef SESSION_H
#define SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"
#include "stats.h"

#define SESSION_BACKPRESSURE_DEFAULT (256u * 1024u)

/* Writes the STATS text into buf and returns its length (< cap). */
typedef size_t (*session_stats_fn)(void *ctx, char *buf, size_t cap);

typedef struct session_env {
    stats *stats;
    session_stats_fn stats_text;
    void *stats_ctx;
    size_t backpressure_limit;   /* unsent reply bytes before reads stop */
} session_env;

typedef struct session_chunk session_chunk;

typedef struct session_iov {
    const void *base;
    size_t len;
} session_iov;

typedef enum session_state {
    SESSION_OPEN,      /* reading and answering */
    SESSION_CLOSING    /* FIN or protocol error: send what is owed, then close */
} session_state;

typedef struct session {
    const session_env *env;
    proto_reader reader;
    session_state state;
    session_chunk *head;      /* oldest unsent bytes */
    session_chunk *tail;      /* where replies are appended */
    size_t unsent;            /* committed reply bytes not yet sent */
    size_t staged;            /* bytes of the frame being echoed, not yet committed */
    uint64_t sent_total;      /* bytes accepted by sends so far */
    uint64_t committed_total; /* bytes committed so far */
    uint64_t *frame_ends;     /* ring of committed frame ends, for frames_out */
    size_t ends_head, ends_count, ends_cap;
    int error_sent;           /* an ERROR reply was queued */
} session;

void session_init(session *s, const session_env *env);
void session_free(session *s);

void session_on_data(session *s, const void *data, size_t len);
void session_on_eof(session *s);

/* A reset or socket error: a partial frame counts as a protocol error. */
void session_on_abort(session *s);

int session_can_read(const session *s);
size_t session_output(const session *s, session_iov *iov, size_t max_iov);
void session_sent(session *s, size_t bytes);
size_t session_unsent(const session *s);
int session_done(const session *s);

/* 1 when dropping the session loses nothing: it still reads, owes no
 * reply and holds no half-read frame (06 frees idle connections' sessions). */
int session_idle(const session *s);

#endif
