/* 05_completion_routine/server.c - overlapped I/O with completion routines.
 *
 * Article 003 (section 二) names two ways to learn that an overlapped
 * operation finished: an event object, or a completion routine. Model 04
 * used events; this model uses the routines.
 *
 * How it works: WSARecv and WSASend get the connection's own WSAOVERLAPPED
 * and a completion routine. When an operation finishes, Windows queues the
 * routine as an APC to the thread that posted it, and runs it the next time
 * that thread waits alertably (here WaitForSingleObjectEx(stop, ..., TRUE)).
 * The routine receives the byte count and the error as arguments and
 * recovers the connection from the OVERLAPPED pointer (CONTAINING_RECORD).
 * An accept thread blocks in accept() and hands each socket, with
 * QueueUserAPC, to the I/O thread with the fewest connections; that thread
 * posts all of the connection's I/O from then on.
 *
 * What changes from the previous model (04, overlapped I/O with events):
 * no event per operation and no WSAWaitForMultipleEvents array, so no
 * 64-handle limit and no thread per 63 connections: one thread waits on one
 * handle (the stop event) and any number of routines reach it through its
 * APC queue. The new rule is thread affinity: a routine runs only on the
 * posting thread and only while it waits alertably, so that thread must
 * never block (hence accept elsewhere).
 *
 * Limits: memory (a 16 KiB receive buffer per connection plus the
 * replies owed) and, under Wine, the wineserver's descriptors; the
 * documented capacity is 10,000 connections (--max-clients), and one beyond
 * it is refused with an ERROR frame. --threads N (default 1) spreads the
 * connections over N alertable threads; one is enough to keep the
 * wineserver busy, which is the bottleneck under Wine.
 */
#include <stdlib.h>
#include <string.h>

#include "server.h"

#define RECV_SIZE (16u * 1024u)
#define SEND_IOV_MAX 16         /* WSABUFs in one WSASend */
#define IO_STACK_RESERVE (256u * 1024u)
#define LINGER_MS 2000          /* how long a closing connection is drained */
#define LINGER_BYTES (1u << 20) /* and how much of it */
#define DRAIN_CHECK_MS 250      /* how often drain deadlines are checked */
#define STOP_BOUND_MS 4000      /* SPEC: stopped within 5 s */
#define STOP_POLL_MS 100

static const server_model completion_routine_model = {
    "completion_routine", "overlapped I/O with completion routines (APCs)",
    10000, 1, "alertable I/O threads, each serving the connections handed to it", NULL
};

typedef enum conn_phase {
    PHASE_OPEN,       /* the session runs: receive, answer */
    PHASE_DRAINING,   /* replies sent, shutdown(SD_SEND) done: discard input until FIN */
    PHASE_DONE,       /* close gracefully once no routine is due */
    PHASE_ABORTING    /* error or stop: cancel, close abortively when no routine is due */
} conn_phase;

/* [step 1] define the state: one connection, an OVERLAPPED per operation, its buffer */
typedef struct conn {
    WSAOVERLAPPED recv_ov;        /* the routines get these pointers back and */
    WSAOVERLAPPED send_ov;        /* find the connection with CONTAINING_RECORD */
    struct io_thread *owner;      /* posts all its I/O and runs all its routines */
    SOCKET sock;
    session sess;
    conn_phase phase;
    int pending;                  /* operations whose routine has not run yet */
    int receiving, sending;       /* at most one of each in flight */
    int peer_fin;                 /* the peer's FIN arrived: nothing to drain */
    int cancelled;                /* CancelIo was called */
    size_t drained;               /* bytes discarded while draining */
    ULONGLONG drain_deadline;
    struct conn *prev, *next;     /* in owner->conns */
    char recv_buf[RECV_SIZE];     /* freed with the context, after the last routine */
} conn;

typedef struct io_thread {
    struct routine_server *srv;
    HANDLE thread;
    counter_t load;               /* connections handed to it and not yet freed */
    conn *conns;                  /* only this thread touches the list and the contexts */
    int draining;                 /* connections in PHASE_DRAINING */
    ULONGLONG next_sweep;         /* when drain deadlines are checked next */
    int stopping;                 /* the stop event was seen: adopt nothing more */
    int quit;                     /* the last APC arrived: no hand-over can follow */
} io_thread;

typedef struct routine_server {
    server base;
    io_thread *threads;
    int thread_count;
    HANDLE accept_thread;
} routine_server;

static void list_push(conn **head, conn *c)
{
    c->prev = NULL;
    c->next = *head;
    if (*head != NULL)
        (*head)->prev = c;
    *head = c;
}

static void list_remove(conn **head, conn *c)
{
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        *head = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
}

/* Errors that a peer's close or our own cancel cause are routine: they are
 * logged only with --verbose. */
static void log_io_error(const char *call, int err)
{
    int expected = err == WSAECONNRESET || err == WSAECONNABORTED || err == WSAENETRESET
                   || err == WSAESHUTDOWN || err == WSAENOTCONN
                   || err == WSA_OPERATION_ABORTED;

    if (!expected || log_enabled(LOG_VERBOSE))
        net_log_error(call, err);
}

/* Keeps the owner's count of draining connections, which decides whether
 * its wait needs a timeout. */
static void set_phase(conn *c, conn_phase phase)
{
    if (c->phase == PHASE_DRAINING)
        c->owner->draining--;
    if (phase == PHASE_DRAINING)
        c->owner->draining++;
    c->phase = phase;
}

/* [step 11] close a connection: shutdown(SD_SEND) after the last reply,
 * drain, then closesocket; abortively after an error or at stop, with the
 * pending operations cancelled. A cancelled operation still runs its
 * routine (with WSA_OPERATION_ABORTED), so the context is freed only when
 * none is due. CancelIo covers the I/O the calling thread posted, and only
 * the owning thread ever posts I/O on this socket. */
static void conn_cancel(conn *c)
{
    if (c->pending == 0 || c->cancelled)
        return;
    c->cancelled = 1;
    if (!CancelIo((HANDLE)c->sock))
        log_error("CancelIo: error %lu", GetLastError());
}

/* A socket error or the stop: this connection alone ends, abortively. */
static void conn_abort(conn *c)
{
    if (c->phase == PHASE_OPEN)
        session_on_abort(&c->sess);   /* a partial frame counts as a protocol error */
    set_phase(c, PHASE_ABORTING);
    conn_cancel(c);
}

static void conn_fail(conn *c, const char *call, int err)
{
    if (c->phase == PHASE_ABORTING)
        return;   /* the error our own cancel caused */
    log_io_error(call, err);
    conn_abort(c);
}

/* The session is done: every reply was accepted by a send. Closing with
 * unread input would send a reset that can destroy the replies the peer has
 * not read yet, so drain until its FIN (unless it came already). */
static void begin_close(conn *c)
{
    if (shutdown(c->sock, SD_SEND) == SOCKET_ERROR) {
        conn_fail(c, "shutdown", WSAGetLastError());
        return;
    }
    if (c->peer_fin) {
        set_phase(c, PHASE_DONE);
        return;
    }
    c->drain_deadline = GetTickCount64() + LINGER_MS;
    set_phase(c, PHASE_DRAINING);
}

/* Frees everything the connection holds. Called once pending is 0: no
 * routine can touch the context any more. */
static void conn_close(conn *c)
{
    io_thread *it = c->owner;
    stats *st = &it->srv->base.st;

    if (c->phase == PHASE_ABORTING)
        net_abort(st, c->sock);
    else
        net_close(st, c->sock);
    list_remove(&it->conns, c);
    session_free(&c->sess);
    stats_connection_closed(st);
    counter_add(&it->load, -1);
    free(c);
    stats_closed(st, RES_BLOCK);
}

/* Ends the drains that ran past their time bound: the cancelled receive's
 * routine then closes the connection. Checked every DRAIN_CHECK_MS at most,
 * so thousands of connections cost no scan per routine. */
static void expire_drains(io_thread *it)
{
    ULONGLONG now = GetTickCount64();
    conn *c;

    if (now < it->next_sweep)
        return;
    it->next_sweep = now + DRAIN_CHECK_MS;
    for (c = it->conns; c != NULL; c = c->next)
        if (c->phase == PHASE_DRAINING && now >= c->drain_deadline)
            conn_cancel(c);
}

static void CALLBACK recv_done(DWORD error, DWORD bytes, LPWSAOVERLAPPED ov, DWORD flags);
static void CALLBACK send_done(DWORD error, DWORD bytes, LPWSAOVERLAPPED ov, DWORD flags);

/* [step 5] start receiving: WSARecv with the connection's OVERLAPPED,
 * buffer and completion routine. The routine is queued even when the
 * receive completes at once, so the result is always handled there. */
static void post_recv(conn *c)
{
    WSABUF buf;
    DWORD flags = 0;

    buf.buf = c->recv_buf;
    buf.len = (ULONG)sizeof c->recv_buf;
    memset(&c->recv_ov, 0, sizeof c->recv_ov);
    if (WSARecv(c->sock, &buf, 1, NULL, &flags, &c->recv_ov, recv_done) == SOCKET_ERROR) {
        int err = WSAGetLastError();
        if (err != WSA_IO_PENDING) {
            conn_fail(c, "WSARecv", err);
            return;
        }
    }
    c->receiving = 1;
    c->pending++;
}

static void conn_pump(conn *c);

/* The routine of a receive; it runs on the owning thread, inside its
 * alertable wait. */
static void CALLBACK recv_done(DWORD error, DWORD bytes, LPWSAOVERLAPPED ov, DWORD flags)
{
    /* [step 7] which connection and which operation: the routine is the
     * receive's, and the OVERLAPPED it gets back sits inside the connection */
    conn *c = CONTAINING_RECORD(ov, conn, recv_ov);

    (void)flags;
    c->pending--;
    c->receiving = 0;
    /* [step 8] get the result: the routine's arguments, an error, 0 for FIN, or a count */
    if (error != 0) {
        conn_fail(c, "WSARecv", (int)error);
    } else if (c->phase == PHASE_DRAINING) {
        c->drained += bytes;   /* input after our shutdown: discarded */
        if (bytes == 0 || c->drained >= LINGER_BYTES || c->cancelled)
            set_phase(c, PHASE_DONE);
    } else if (c->phase == PHASE_OPEN) {
        /* [step 9] use the data: only the bytes received, then send the replies */
        if (bytes == 0) {
            c->peer_fin = 1;
            session_on_eof(&c->sess);
        } else {
            session_on_data(&c->sess, c->recv_buf, bytes);
        }
    }
    conn_pump(c);
}

/* Sends every reply the session has ready in one WSASend, one WSABUF per
 * queued block. Winsock copies the WSABUF array before WSASend returns, so
 * it may live on the stack; the bytes it points to are the session's and
 * stay in place until session_sent(). */
static void post_send(conn *c)
{
    session_iov iov[SEND_IOV_MAX];
    WSABUF bufs[SEND_IOV_MAX];
    size_t n = session_output(&c->sess, iov, SEND_IOV_MAX), i;

    if (n == 0)
        return;
    for (i = 0; i < n; i++) {
        bufs[i].buf = (char *)iov[i].base;
        bufs[i].len = (ULONG)iov[i].len;
    }
    memset(&c->send_ov, 0, sizeof c->send_ov);
    if (WSASend(c->sock, bufs, (DWORD)n, NULL, 0, &c->send_ov, send_done) == SOCKET_ERROR) {
        int err = WSAGetLastError();
        if (err != WSA_IO_PENDING) {
            conn_fail(c, "WSASend", err);
            return;
        }
    }
    c->sending = 1;
    c->pending++;
}

/* The routine of a send. A short send leaves the rest in the session's
 * queue, and conn_pump sends it next, before any later reply. */
static void CALLBACK send_done(DWORD error, DWORD bytes, LPWSAOVERLAPPED ov, DWORD flags)
{
    conn *c = CONTAINING_RECORD(ov, conn, send_ov);

    (void)flags;
    c->pending--;
    c->sending = 0;
    if (error != 0)
        conn_fail(c, "WSASend", (int)error);
    else
        session_sent(&c->sess, bytes);
    conn_pump(c);
}

/* An open connection's next moves: send what is ready (one send in flight),
 * close when the session is done, otherwise keep one receive posted. */
static void pump_open(conn *c)
{
    if (!c->sending)
        post_send(c);
    if (c->phase != PHASE_OPEN)
        return;
    if (session_done(&c->sess)) {
        begin_close(c);
        return;
    }
    /* [step 10] receive again: post the next WSARecv unless one is pending,
     * or the replies owed are over the bound (backpressure) */
    if (!c->receiving && session_can_read(&c->sess))
        post_recv(c);
}

/* Called after every routine and hand-over: moves the connection on, and
 * frees it when it is closing and no routine is still due. Drain deadlines
 * are checked here too: while completions keep coming, the thread's
 * alertable wait runs routine after routine and does not return. */
static void conn_pump(conn *c)
{
    if (c->owner->draining > 0)
        expire_drains(c->owner);
    if (c->phase == PHASE_OPEN)
        pump_open(c);
    if (c->phase == PHASE_DRAINING && !c->receiving)
        post_recv(c);
    if ((c->phase == PHASE_DONE || c->phase == PHASE_ABORTING) && c->pending == 0)
        conn_close(c);
}

/* [step 4] prepare the connection: the accept thread queued this APC to the
 * I/O thread it chose, so the context joins that thread's list and the first
 * WSARecv is posted from the thread that will run every routine of it */
static void CALLBACK adopt_apc(ULONG_PTR arg)
{
    conn *c = (conn *)arg;
    io_thread *it = c->owner;

    list_push(&it->conns, c);
    if (it->stopping)
        conn_abort(c);   /* handed over while the server stops: close it at once */
    conn_pump(c);
}

/* The I/O thread with the fewest connections; *total gets them all. */
static io_thread *least_loaded(routine_server *rs, int64_t *total)
{
    io_thread *best = NULL;
    int64_t best_load = 0;
    int i;

    *total = 0;
    for (i = 0; i < rs->thread_count; i++) {
        int64_t load = counter_get(&rs->threads[i].load);
        *total += load;
        if (best == NULL || load < best_load) {
            best = &rs->threads[i];
            best_load = load;
        }
    }
    return best;
}

/* Builds the context on the accept thread and queues it to its I/O thread;
 * from the APC on, only that thread touches it. */
static void hand_over(routine_server *rs, SOCKET s)
{
    stats *st = &rs->base.st;
    int64_t total;
    io_thread *it = least_loaded(rs, &total);
    conn *c;

    if (total >= rs->base.opt.max_clients) {
        net_refuse(st, s);
        return;
    }
    c = (conn *)calloc(1, sizeof *c);
    if (c == NULL) {
        log_error("calloc: out of memory for a connection");
        net_abort(st, s);
        return;
    }
    stats_opened(st, RES_BLOCK);
    c->owner = it;
    c->sock = s;
    session_init(&c->sess, &rs->base.env);
    counter_add(&it->load, 1);
    stats_connection_opened(st);
    if (QueueUserAPC(adopt_apc, it->thread, (ULONG_PTR)c) == 0) {
        log_error("QueueUserAPC: error %lu", GetLastError());
        counter_add(&it->load, -1);
        stats_connection_closed(st);
        net_abort(st, s);
        free(c);
        stats_closed(st, RES_BLOCK);
    }
}

/* A thread of its own: a blocking accept() on an I/O thread would keep it
 * out of its alertable wait and starve every routine it owns. */
static DWORD WINAPI accept_main(void *arg)
{
    routine_server *rs = (routine_server *)arg;
    SOCKET listener = rs->base.listener;   /* the main thread closes it to stop us */

    for (;;) {
        /* [step 3] accept a connection: accept() blocks this thread only */
        SOCKET s = accept(listener, NULL, NULL);
        if (s == INVALID_SOCKET) {
            if (server_accept_failed(&rs->base, WSAGetLastError()))
                continue;
            return 0;
        }
        net_accepted(&rs->base.st);
        hand_over(rs, s);
    }
}

static void io_begin_stop(io_thread *it);
static void io_wait_freed(io_thread *it);

static DWORD WINAPI io_main(void *arg)
{
    io_thread *it = (io_thread *)arg;
    HANDLE stop = it->srv->base.stop.event;
    DWORD rc;

    /* [step 6] wait for something to happen: an alertable wait on the stop
     * event. Routines and hand-overs run inside it, and it returns
     * WAIT_IO_COMPLETION after them; a timeout only while drains are timed */
    do {
        rc = WaitForSingleObjectEx(stop, it->draining > 0 ? DRAIN_CHECK_MS : INFINITE, TRUE);
        if (it->draining > 0)
            expire_drains(it);
    } while (!it->stopping && (rc == WAIT_IO_COMPLETION || rc == WAIT_TIMEOUT));
    if (rc == WAIT_FAILED) {
        log_error("WaitForSingleObjectEx: error %lu", GetLastError());
        stop_request(&it->srv->base.stop);
    }
    io_begin_stop(it);
    io_wait_freed(it);
    return 0;
}

/* [step 12] stop the server: each I/O thread cancels the I/O of every
 * connection it owns and keeps waiting alertably until every routine ran
 * and every context is freed; the main thread closes the listener, joins
 * the accept thread, then tells the I/O threads and joins them */
static void io_begin_stop(io_thread *it)
{
    conn *c, *next;

    if (it->stopping)
        return;
    it->stopping = 1;
    for (c = it->conns; c != NULL; c = next) {
        next = c->next;   /* conn_pump may free c */
        conn_abort(c);
        conn_pump(c);
    }
}

static void io_wait_freed(io_thread *it)
{
    ULONGLONG deadline = GetTickCount64() + STOP_BOUND_MS;

    while ((!it->quit || it->conns != NULL) && GetTickCount64() < deadline)
        SleepEx(STOP_POLL_MS, TRUE);
    if (it->conns != NULL || !it->quit)
        log_error("stop: an I/O thread ends with %lld connections left",
                  (long long)counter_get(&it->load));
}

/* The main thread's APC to each I/O thread at stop. It is queued after the
 * accept thread ended, so it runs after every hand-over. And it runs even
 * while completions keep the thread's APC queue from emptying: then the
 * alertable wait runs routine after routine and does not return to report
 * the stop event, but an APC queued now still gets its turn. */
static void CALLBACK quit_apc(ULONG_PTR arg)
{
    io_thread *it = (io_thread *)arg;

    it->quit = 1;
    io_begin_stop(it);
}

static void stop_server(routine_server *rs)
{
    int i;

    /* Closing the listening socket makes the blocked accept() return; once
     * the accept thread is joined, no hand-over APC can be queued. */
    server_close_listener(&rs->base);
    if (rs->accept_thread != NULL)
        server_join(&rs->base, rs->accept_thread);
    for (i = 0; i < rs->thread_count; i++)
        if (QueueUserAPC(quit_apc, rs->threads[i].thread, (ULONG_PTR)&rs->threads[i]) == 0)
            log_error("QueueUserAPC (quit): error %lu", GetLastError());
    for (i = 0; i < rs->thread_count; i++)
        server_join(&rs->base, rs->threads[i].thread);
}

/* Starts the I/O threads, then the accept thread; -1 if any failed. */
static int start_threads(routine_server *rs)
{
    int i, wanted = rs->base.opt.threads;

    for (i = 0; i < wanted; i++) {
        io_thread *it = &rs->threads[i];
        it->srv = rs;
        it->thread = server_thread(&rs->base, io_main, it, IO_STACK_RESERVE);
        if (it->thread == NULL)
            return -1;
        rs->thread_count++;
    }
    rs->accept_thread = server_thread(&rs->base, accept_main, rs, 64 * 1024);
    return rs->accept_thread != NULL ? 0 : -1;
}

static int run(routine_server *rs)
{
    int rc;

    rs->threads = (io_thread *)calloc((size_t)rs->base.opt.threads, sizeof *rs->threads);
    if (rs->threads == NULL) {
        log_error("calloc: out of memory for %d I/O threads", rs->base.opt.threads);
        return -1;
    }
    stats_opened(&rs->base.st, RES_BLOCK);
    rc = start_threads(rs);
    if (rc != 0) {
        stop_request(&rs->base.stop);   /* the threads that did start end at once */
    } else if (WaitForSingleObject(rs->base.stop.event, INFINITE) == WAIT_FAILED) {
        log_error("WaitForSingleObject (stop): error %lu", GetLastError());
        stop_request(&rs->base.stop);
    }
    stop_server(rs);
    free(rs->threads);
    stats_closed(&rs->base.st, RES_BLOCK);
    return rc;
}

int main(int argc, char **argv)
{
    routine_server rs;
    int rc;

    memset(&rs, 0, sizeof rs);
    /* [step 2] create the listening socket (in server_start, common/server.c) */
    rc = server_start(&rs.base, &completion_routine_model, argc, argv);
    if (rc != SERVER_RUN)
        return rc;
    return server_finish(&rs.base, run(&rs));
}
