/* 04_overlapped_event/server.c - overlapped I/O with event notification.
 *
 * Article:
 * shared/seeds/003_cbe2d27ad10cfa48.txt ("重叠IO 模型"), which builds this
 * model in ten steps (第一步..第十步, the suite's steps 1-10) and ends with
 * two known bugs (section 六) that this file fixes at their root (see
 * docs/04_overlapped_event.md; article003_bug1.patch and _bug2.patch put
 * them back in a copy).
 *
 * How it works:
 * an accept thread blocks in accept() (第三步) and hands each socket to a
 * worker thread with room, through that worker's inbox, a small locked
 * list, and its wake-up event. A worker owns a table of at most 64 events
 * for WSAWaitForMultipleEvents: index 0 is its wake-up event, the others
 * belong to the operations of its connections. Each connection owns, on
 * the heap, one WSAOVERLAPPED and one event per operation (a receive and a
 * send) and its receive buffer; they never move while an operation is
 * pending, and only the owning worker touches them and its table.
 *
 * What changes from the previous model:
 * (03_eventselect) the events no longer say "ready to read"; they say "the
 * receive (or send) you posted has finished", and the data is already in
 * the buffer the receive was given. Sends are posted too, so no thread
 * ever blocks in send().
 *
 * Limits:
 * 64 handles per wait, so a worker holds its wake-up event and 31
 * connections of two events each (63 handles). Workers are started as
 * needed, 323 of them for the default --max-clients of 10000. Every wait
 * and every event reset is a system call (a wineserver request under
 * Wine), and a busy worker waits once per completion, so the model spends
 * more calls per frame than a completion port.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

/* A worker's wait holds its wake-up event at index 0 and the two events
 * (a receive and a send) of each of its connections. */
#define CONNS_PER_WORKER ((WSA_MAXIMUM_WAIT_EVENTS - 1) / 2)
#define RECV_SIZE (16u * 1024u)   /* one buffer per connection */

static const server_model model_info = {
    "overlapped_event", "overlapped I/O with event notification, 31 connections per thread",
    10000, 0, NULL, NULL
};

/* [step 1] define the state
 * per operation its own WSAOVERLAPPED and event; per connection its
 * socket, session and buffer, all on the heap */
/* Where a connection is in its life. */
enum conn_phase {
    PHASE_OPEN,       /* the session reads and answers */
    PHASE_DRAINING,   /* shutdown(SD_SEND) done: input dropped until the peer's FIN */
    PHASE_CLOSING,    /* close gracefully once no operation is pending */
    PHASE_ABORTING    /* close abortively once no operation is pending */
};

typedef struct io_op {
    WSAOVERLAPPED ov;             /* ov.hEvent is this operation's own event */
    struct conn *owner;
    int posted;                   /* posted and its completion not yet handled */
    DWORD slot;                   /* index of ov.hEvent in the worker's wait */
} io_op;

typedef struct conn {
    struct model_server *srv;
    struct worker *owner;         /* the worker that serves it */
    SOCKET sock;
    session sess;
    net_drain drain;
    enum conn_phase phase;
    struct conn *prev, *next;     /* in w->inbox */
    io_op recv_op, send_op;
    int peer_fin;                 /* the peer's FIN arrived: nothing to drain */
    char recv_buf[RECV_SIZE];
} conn;

typedef struct worker {
    struct model_server *srv;
    HANDLE thread;
    CRITICAL_SECTION lock;        /* guards inbox */
    conn *inbox;                  /* handed over, not taken yet */
    counter_t load;               /* connections owned plus those in the inbox */
    /* The worker thread's alone: no other thread reads or moves them. */
    WSAEVENT wake;                /* events[0] */
    WSAEVENT events[WSA_MAXIMUM_WAIT_EVENTS];
    io_op *ops[WSA_MAXIMUM_WAIT_EVENTS];   /* ops[i] owns events[i], i >= 1 */
    DWORD count;                  /* events in use, the wake-up event included */
    int stopping;                 /* every connection is being closed */
    ULONGLONG stop_deadline;
} worker;

typedef struct model_server {
    server base;
    worker **workers;             /* started on demand by the accept thread */
    int worker_count, worker_max;
    HANDLE accept_thread;
} model_server;

static void list_push(conn **head, conn *c)
{
    c->prev = NULL;
    c->next = *head;
    if (*head != NULL)
        (*head)->prev = c;
    *head = c;
}

static int run(model_server *srv);
static int start_model(model_server *srv);
static int main_loop(model_server *srv);
static void stop_server(model_server *srv);
static DWORD WINAPI accept_main(void *arg);
static int server_full(model_server *srv);
static void hand_over(model_server *srv, SOCKET s);
static DWORD WINAPI worker_main(void *arg);
static void inbox_take(worker *w);
static int wait_and_serve(worker *w, DWORD timeout);
static DWORD next_signalled(worker *w, DWORD from);
static void serve_slot(worker *w, DWORD i);
static void use_data(conn *c, const char *buf, DWORD n);
static void conn_advance(conn *c);
static void begin_close(conn *c);
static void conn_cancel(conn *c, enum conn_phase phase);
static void conn_fail(conn *c, const char *what, DWORD err);
static void begin_stop(worker *w);
static DWORD sweep(worker *w);
static void conn_close(conn *c);
static void conn_free(conn *c);

int main(int argc, char **argv)
{
    model_server srv;
    int rc;

    memset(&srv, 0, sizeof srv);
    /* [step 2] create the listening socket (in server_start, common/server.c) */
    rc = server_start(&srv.base, &model_info, argc, argv);
    if (rc != SERVER_RUN)
        return rc;
    return server_finish(&srv.base, run(&srv));
}

/* The main thread: start the model, serve until the stop, then stop. */
static int run(model_server *srv)
{
    int rc = start_model(srv);

    if (rc == 0)
        rc = main_loop(srv);
    stop_server(srv);
    return rc;
}

/* Room for the workers, started on demand, and the accept thread. */
static int start_model(model_server *srv)
{
    srv->worker_max = (srv->base.opt.max_clients + CONNS_PER_WORKER - 1) / CONNS_PER_WORKER;
    srv->workers = (worker **)server_alloc(&srv->base,
                                           (size_t)srv->worker_max * sizeof *srv->workers);
    if (srv->workers == NULL)
        return -1;
    srv->accept_thread = server_thread(&srv->base, accept_main, srv);
    return srv->accept_thread != NULL ? 0 : -1;
}

/* The main thread has nothing to do but wait: the threads do it all. */
static int main_loop(model_server *srv)
{
    return server_wait_stop(&srv->base);
}

/* [step 3] accept a connection
 * accept() blocks the accept thread until one arrives */
static DWORD WINAPI accept_main(void *arg)
{
    model_server *srv = (model_server *)arg;
    SOCKET listener = srv->base.listener;   /* the main thread closes it to stop us */

    for (;;) {
        SOCKET s = accept(listener, NULL, NULL);
        if (s == INVALID_SOCKET) {
            enum server_accept next = server_accept_failed(&srv->base, WSAGetLastError());
            if (next == ACCEPT_END)
                return 0;
            if (next == ACCEPT_PAUSE)
                Sleep(SERVER_ACCEPT_PAUSE_MS);
            continue;
        }
        net_accepted(&srv->base.st);
        if (server_full(srv))
            net_refuse(&srv->base.st, s);
        else
            hand_over(srv, s);
    }
}

/* [step 4] prepare the connection for the model
 * a context of its own on the heap, for each operation an event bound to
 * a zeroed WSAOVERLAPPED, and the first worker with room, through that
 * worker's inbox */
static void worker_free(model_server *srv, worker *w)
{
    if (!WSACloseEvent(w->wake))
        net_log_error("WSACloseEvent (wake-up)", WSAGetLastError());
    stats_closed(&srv->base.st, RES_HANDLE);
    DeleteCriticalSection(&w->lock);
    server_free(&srv->base, w);
}

static worker *worker_new(model_server *srv)
{
    worker *w = (worker *)server_alloc(&srv->base, sizeof *w);

    if (w == NULL)
        return NULL;
    w->srv = srv;
    InitializeCriticalSection(&w->lock);
    w->wake = WSACreateEvent();   /* manual reset: inbox_take resets it */
    if (w->wake == WSA_INVALID_EVENT) {
        net_log_error("WSACreateEvent (wake-up)", WSAGetLastError());
        DeleteCriticalSection(&w->lock);
        server_free(&srv->base, w);
        return NULL;
    }
    stats_opened(&srv->base.st, RES_HANDLE);
    w->events[0] = w->wake;
    w->count = 1;
    w->thread = server_thread(&srv->base, worker_main, w);
    if (w->thread == NULL) {
        worker_free(srv, w);
        return NULL;
    }
    log_debug("worker %d started", srv->worker_count + 1);
    return w;
}

/* The first worker with a free slot, starting one when all are full;
 * NULL when none can be started. Only the accept thread adds load. */
static worker *pick_worker(model_server *srv)
{
    int i = 0;

    while (i < srv->worker_count && counter_get(&srv->workers[i]->load) >= CONNS_PER_WORKER)
        i++;
    if (i < srv->worker_count)
        return srv->workers[i];
    if (i == srv->worker_max || (srv->workers[i] = worker_new(srv)) == NULL)
        return NULL;
    return srv->workers[srv->worker_count++];
}

static int server_full(model_server *srv)
{
    int64_t total = 0;
    int i;

    for (i = 0; i < srv->worker_count; i++)
        total += counter_get(&srv->workers[i]->load);
    return total >= srv->base.opt.max_clients;
}

static int op_open(conn *c, io_op *op)
{
    op->owner = c;
    op->ov.hEvent = WSACreateEvent();
    if (op->ov.hEvent == WSA_INVALID_EVENT) {
        net_log_error("WSACreateEvent", WSAGetLastError());
        return -1;
    }
    stats_opened(&c->srv->base.st, RES_HANDLE);
    return 0;
}

static conn *conn_new(model_server *srv, SOCKET s)
{
    conn *c = (conn *)server_alloc(&srv->base, sizeof *c);

    if (c == NULL) {
        net_abort(&srv->base.st, s);
        return NULL;
    }
    c->srv = srv;
    c->sock = s;
    server_conn_opened(&srv->base, &c->sess);
    return c;
}

static void wake_worker(worker *w)
{
    if (!WSASetEvent(w->wake))
        net_log_error("WSASetEvent (wake-up)", WSAGetLastError());
}

/* The wake-up event at index 0 makes the worker look at its inbox now:
 * no timeout polling (the article's design) needed. */
static void inbox_push(worker *w, conn *c)
{
    EnterCriticalSection(&w->lock);
    list_push(&w->inbox, c);
    LeaveCriticalSection(&w->lock);
    wake_worker(w);
}

static void hand_over(model_server *srv, SOCKET s)
{
    worker *w = pick_worker(srv);
    conn *c;

    if (w == NULL) {   /* no worker could be started */
        net_abort(&srv->base.st, s);
        return;
    }
    c = conn_new(srv, s);
    if (c == NULL)
        return;
    c->phase = op_open(c, &c->recv_op) == 0 && op_open(c, &c->send_op) == 0 ? PHASE_OPEN
                                                                          : PHASE_ABORTING;
    c->owner = w;
    counter_add(&w->load, 1);
    inbox_push(w, c);
}

/* [step 5] start receiving
 * WSARecv into the connection's own buffer, bound to its own WSAOVERLAPPED
 * and event. Completed at once or pending, the event is set when it is
 * done and step 8 reads the result. */
static void op_reset(io_op *op)
{
    WSAEVENT ev = op->ov.hEvent;

    /* The article's ZeroMemory + hEvent: every post starts from a clean
     * WSAOVERLAPPED that keeps its event. */
    memset(&op->ov, 0, sizeof op->ov);
    op->ov.hEvent = ev;
}

static void post_recv(conn *c)
{
    WSABUF buf;
    DWORD flags = 0;

    assert(!c->recv_op.posted);   /* one receive in flight */
    buf.buf = c->recv_buf;
    buf.len = RECV_SIZE;
    op_reset(&c->recv_op);
    if (WSARecv(c->sock, &buf, 1, NULL, &flags, &c->recv_op.ov, NULL) == SOCKET_ERROR) {
        int err = WSAGetLastError();
        if (err != WSA_IO_PENDING) {
            conn_fail(c, "WSARecv", (DWORD)err);
            return;
        }
    }
    c->recv_op.posted = 1;
}

/* Posts one WSASend of every reply ready; the WSABUF array may live on the
 * stack (WSASend copies it), the bytes are the session's and stay put
 * until session_sent(). */
static void post_send(conn *c)
{
    WSABUF bufs[NET_SEND_BUFS];
    DWORD n = net_output(&c->sess, bufs);

    assert(!c->send_op.posted);   /* one send in flight: session.h */
    if (n == 0)
        return;
    op_reset(&c->send_op);
    if (WSASend(c->sock, bufs, n, NULL, 0, &c->send_op.ov, NULL) == SOCKET_ERROR) {
        int err = WSAGetLastError();
        if (err != WSA_IO_PENDING) {
            conn_fail(c, "WSASend", (DWORD)err);
            return;
        }
    }
    c->send_op.posted = 1;
}

static void table_add(worker *w, io_op *op)
{
    op->slot = w->count++;
    w->events[op->slot] = op->ov.hEvent;
    w->ops[op->slot] = op;
}

/* Index 0, the wake-up event: the connections handed over join the table
 * and post their first receive. */
static void inbox_take(worker *w)
{
    conn *c, *next;

    if (!WSAResetEvent(w->wake))
        net_log_error("WSAResetEvent (wake-up)", WSAGetLastError());
    EnterCriticalSection(&w->lock);
    c = w->inbox;
    w->inbox = NULL;
    LeaveCriticalSection(&w->lock);
    for (; c != NULL; c = next) {
        next = c->next;
        if (c->phase != PHASE_OPEN) {   /* its events could not be made */
            net_abort(&w->srv->base.st, c->sock);
            conn_free(c);
            continue;
        }
        table_add(w, &c->recv_op);
        table_add(w, &c->send_op);
        post_recv(c);
    }
    if (stop_requested(&w->srv->base.stop))
        begin_stop(w);
}

/* [step 6] wait for something to happen
 * for the wake-up event or any operation of this worker */
static DWORD WINAPI worker_main(void *arg)
{
    worker *w = (worker *)arg;
    DWORD timeout = INFINITE;

    while (!(w->stopping && w->count == 1)) {
        if (w->stopping && GetTickCount64() >= w->stop_deadline) {
            log_error("stop: %lu operations did not complete", (unsigned long)(w->count - 1));
            return 1;   /* nothing they point into may be freed: exit code 4 */
        }
        if (wait_and_serve(w, timeout) != 0) {
            server_fail(&w->srv->base);
            return 1;
        }
        timeout = sweep(w);
    }
    return 0;
}

/* Waits, then serves the signalled index and every signalled index after
 * it: the wait reports only the lowest one, so serving just that one would
 * starve the later slots. 0, or -1 when the wait itself failed. */
static int wait_and_serve(worker *w, DWORD timeout)
{
    DWORD rc = WSAWaitForMultipleEvents(w->count, w->events, FALSE, timeout, FALSE);
    DWORD i;

    if (rc == WSA_WAIT_FAILED) {
        net_log_error("WSAWaitForMultipleEvents", WSAGetLastError());
        return -1;
    }
    if (rc == WSA_WAIT_TIMEOUT)
        return 0;   /* a drain or stop deadline: sweep() deals with it */
    for (i = rc - WSA_WAIT_EVENT_0; i < w->count; i = next_signalled(w, i + 1))
        serve_slot(w, i);
    return 0;
}

/* The first index from `from` on whose event is signalled, or w->count:
 * a wait with timeout 0 over the rest of the array. */
static DWORD next_signalled(worker *w, DWORD from)
{
    DWORD n, rc;

    if (from >= w->count)
        return w->count;
    n = w->count - from;
    rc = WSAWaitForMultipleEvents(n, &w->events[from], FALSE, 0, FALSE);
    if (rc == WSA_WAIT_FAILED)
        net_log_error("WSAWaitForMultipleEvents (poll)", WSAGetLastError());
    return rc - WSA_WAIT_EVENT_0 < n ? from + (rc - WSA_WAIT_EVENT_0) : w->count;
}

/* [step 7] find out which connection and which operation
 * the table maps the index to the operation, the operation names its
 * connection; the event is reset for the next post (the article's
 * WSAResetEvent) */
static void serve_slot(worker *w, DWORD i)
{
    io_op *op = w->ops[i];
    DWORD bytes = 0, flags = 0;
    conn *c;
    int err = 0;

    if (i == 0) {
        inbox_take(w);
        return;
    }
    c = op->owner;
    if (!WSAResetEvent(op->ov.hEvent))
        net_log_error("WSAResetEvent", WSAGetLastError());
    if (!op->posted)
        return;   /* a post that failed at once may still have set its event */
    /* [step 8] get the result
     * WSAGetOverlappedResult gives the byte count (0 is the peer's FIN) or,
     * when it returns FALSE, the error */
    if (!WSAGetOverlappedResult(c->sock, &op->ov, &bytes, FALSE, &flags))
        err = WSAGetLastError();
    if (err == WSA_IO_INCOMPLETE)
        return;   /* not done after all: it stays posted, its event will come */
    op->posted = 0;
    if (err != 0) {
        conn_fail(c, op == &c->recv_op ? "WSARecv" : "WSASend", (DWORD)err);
    } else if (op == &c->send_op) {
        session_sent(&c->sess, bytes);   /* short only on an error path: step 10 posts the rest */
    } else if (c->phase == PHASE_DRAINING && net_drain_done(&c->drain, bytes)) {
        conn_cancel(c, PHASE_CLOSING);
    } else if (c->phase == PHASE_OPEN) {
        c->peer_fin = bytes == 0;
        use_data(c, c->recv_buf, bytes);
    }
    conn_advance(c);
}

/* [step 9] use the data
 * only the n bytes received; 0 is the peer's FIN */
static void use_data(conn *c, const char *buf, DWORD n)
{
    if (n == 0)
        session_on_eof(&c->sess);
    else
        session_on_data(&c->sess, buf, n);
}

/* [step 10] receive again
 * and send what is ready: at most one receive and one send in flight; no
 * receive while the replies are over the bound */
static void conn_advance(conn *c)
{
    if (c->phase == PHASE_OPEN && !c->send_op.posted)
        post_send(c);
    if (c->phase == PHASE_OPEN && session_done(&c->sess))
        begin_close(c);
    if (c->phase == PHASE_OPEN && !c->recv_op.posted && session_can_read(&c->sess))
        post_recv(c);
    if (c->phase == PHASE_DRAINING && !c->recv_op.posted)
        post_recv(c);
}

/* [step 11] close a connection
 * once every reply is out, shutdown(SD_SEND), then read until the peer's
 * FIN (common/net.h says why); the context is freed (by sweep) only after
 * every operation of it has completed, so no OVERLAPPED or buffer is freed
 * under the system */
static void begin_close(conn *c)
{
    if (net_drain_start(c->sock, &c->drain) != 0)
        conn_cancel(c, PHASE_ABORTING);
    else if (c->peer_fin)
        conn_cancel(c, PHASE_CLOSING);
    else
        c->phase = PHASE_DRAINING;
}

static void op_cancel(conn *c, io_op *op)
{
    DWORD err;

    if (!op->posted || CancelIoEx((HANDLE)c->sock, &op->ov))
        return;
    err = GetLastError();
    if (err != ERROR_NOT_FOUND)   /* ERROR_NOT_FOUND: it completed meanwhile */
        log_error("CancelIoEx: error %lu", err);
}

/* Posts nothing more and cancels what is posted; `phase` says how the
 * socket will be closed. A frame cut short counts as after a reset. */
static void conn_cancel(conn *c, enum conn_phase phase)
{
    if (c->phase == PHASE_CLOSING || c->phase == PHASE_ABORTING)
        return;
    if (c->phase == PHASE_OPEN)
        session_on_abort(&c->sess);
    c->phase = phase;
    op_cancel(c, &c->recv_op);
    op_cancel(c, &c->send_op);
}

/* A socket error or a cancelled operation: the connection ends
 * abortively, except a drain that the deadline cancelled. */
static void conn_fail(conn *c, const char *what, DWORD err)
{
    net_log_io_error(what, (int)err);
    conn_cancel(c, c->phase == PHASE_DRAINING && err == ERROR_OPERATION_ABORTED ? PHASE_CLOSING
                                                                              : PHASE_ABORTING);
}

/* Every connection of the worker, those adopted during the stop too:
 * begin closing it. */
static void begin_stop(worker *w)
{
    DWORD i;

    if (!w->stopping)
        w->stop_deadline = GetTickCount64() + SERVER_STOP_MS;
    w->stopping = 1;
    for (i = 1; i < w->count; i++)
        conn_cancel(w->ops[i]->owner, PHASE_CLOSING);
}

/* The last entry fills the hole: only pointers and handles move here, never
 * an OVERLAPPED or a buffer, and only this thread ever waits on the table. */
static void table_remove(worker *w, io_op *op)
{
    DWORD last = --w->count;
    io_op *moved = w->ops[last];

    w->events[op->slot] = w->events[last];
    w->ops[op->slot] = moved;
    moved->slot = op->slot;
}

static int conn_finished(const conn *c)
{
    return (c->phase == PHASE_CLOSING || c->phase == PHASE_ABORTING) && !c->recv_op.posted
           && !c->send_op.posted;
}

/* Takes a connection whose operations have all completed out of its
 * worker's table, closes its socket and frees it; sweep() calls it after
 * the pass. */
static void conn_close(conn *c)
{
    stats *st = &c->srv->base.st;
    worker *w = c->owner;

    table_remove(w, &c->recv_op);
    table_remove(w, &c->send_op);
    if (c->phase == PHASE_ABORTING)
        net_abort(st, c->sock);
    else
        net_close(st, c->sock);
    conn_free(c);
}

/* Ends the drains past their deadline and closes the connections whose
 * operations have all completed, after the pass, so the table does not
 * change under wait_and_serve. Returns the timeout of the next wait. */
static DWORD sweep(worker *w)
{
    ULONGLONG now = GetTickCount64();
    ULONGLONG next = w->stopping ? w->stop_deadline : ~(ULONGLONG)0;
    conn *done = NULL;
    DWORD i;

    for (i = 1; i < w->count; i++) {
        conn *c = w->ops[i]->owner;
        if (w->ops[i] != &c->recv_op)
            continue;   /* each connection once */
        if (c->phase == PHASE_DRAINING && net_drain_expired(&c->drain, now))
            conn_cancel(c, PHASE_CLOSING);
        if (c->phase == PHASE_DRAINING && c->drain.deadline < next)
            next = c->drain.deadline;
        if (conn_finished(c))
            list_push(&done, c);
    }
    while (done != NULL) {
        conn *c = done;
        done = c->next;
        conn_close(c);
    }
    if (next == ~(ULONGLONG)0)
        return INFINITE;
    return next > now ? (DWORD)(next - now) : 0;
}

static void op_close(stats *st, io_op *op)
{
    if (op->ov.hEvent == WSA_INVALID_EVENT)
        return;
    if (!WSACloseEvent(op->ov.hEvent))
        net_log_error("WSACloseEvent", WSAGetLastError());
    stats_closed(st, RES_HANDLE);
}

/* Frees what a connection holds once its socket is closed and no
 * operation of it is pending. */
static void conn_free(conn *c)
{
    server *base = &c->srv->base;

    assert(!c->recv_op.posted && !c->send_op.posted);
    counter_add(&c->owner->load, -1);
    op_close(&base->st, &c->recv_op);
    op_close(&base->st, &c->send_op);
    server_conn_closed(base, &c->sess);
    server_free(base, c);
}

/* [step 12] stop the server
 * no more accepts; then every worker, woken through index 0, cancels every
 * operation, waits for each to complete, frees its connections and ends;
 * what was left in an inbox is closed after the joins */
static void worker_close(model_server *srv, worker *w)
{
    conn *c, *next;

    for (c = w->inbox; c != NULL; c = next) {
        next = c->next;
        net_close(&srv->base.st, c->sock);
        conn_free(c);
    }
    w->inbox = NULL;
    worker_free(srv, w);
}

static void stop_server(model_server *srv)
{
    int i;

    stop_request(&srv->base.stop);   /* set already, unless the start failed */
    /* Closing the listening socket makes the blocked accept() return; once
     * the accept thread is joined, no inbox gets another connection. */
    server_close_listener(&srv->base);
    if (srv->accept_thread != NULL)
        server_join(&srv->base, srv->accept_thread);
    for (i = 0; i < srv->worker_count; i++)
        wake_worker(srv->workers[i]);
    for (i = 0; i < srv->worker_count; i++)
        server_join(&srv->base, srv->workers[i]->thread);
    for (i = 0; i < srv->worker_count; i++)
        worker_close(srv, srv->workers[i]);
    server_free(&srv->base, srv->workers);
}
