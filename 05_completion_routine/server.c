/* 05_completion_routine/server.c - overlapped I/O with completion routines.
 *
 * Article:
 * article 003 (section 二) names two ways to learn that an overlapped
 * operation finished: an event object, or a completion routine. Model 04
 * used events; this model uses the routines.
 *
 * How it works:
 * WSARecv and WSASend get the connection's own WSAOVERLAPPED and a
 * completion routine. When an operation finishes, Windows queues the
 * routine as an APC to the thread that posted it, and runs it the next
 * time that thread waits alertably (here WaitForSingleObjectEx(stop, ...,
 * TRUE)). The routine receives the byte count and the error as arguments
 * and recovers the connection from the OVERLAPPED pointer
 * (CONTAINING_RECORD). An accept thread blocks in accept() and hands each
 * socket, with QueueUserAPC, to the worker with the fewest connections;
 * that worker posts all of the connection's I/O from then on.
 *
 * What changes from the previous model:
 * (04_overlapped_event) no event per operation and no
 * WSAWaitForMultipleEvents array, so no 64-handle limit and no thread per
 * 31 connections: one thread waits on one handle (the stop event) and any
 * number of routines reach it through its APC queue. The new rule is
 * thread affinity: a routine runs only on the posting thread and only while
 * it waits alertably, so that thread must never block (hence accept
 * elsewhere).
 *
 * Limits:
 * memory (a 16 KiB receive buffer per connection plus the replies owed)
 * and, under Wine, the wineserver's descriptors; the documented capacity
 * is 10,000 connections (--max-clients), and one beyond it is refused with
 * an ERROR frame. --threads N (default: one per CPU, the model's only way
 * to more CPUs) spreads the connections over N alertable workers.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

#define RECV_SIZE (16u * 1024u)   /* one buffer per connection */
#define DRAIN_CHECK_MS 250        /* how often drain deadlines are checked */

static const server_model model_info = {
    "completion_routine", "overlapped I/O with completion routines (APCs)",
    10000, 0, "alertable I/O threads, each with its connections (default: one per CPU)", NULL
};

/* [step 1] define the state
 * per operation its own WSAOVERLAPPED; per connection its socket, session
 * and buffer, all on the heap and owned by one worker */
/* Where a connection is in its life. */
enum conn_phase {
    PHASE_OPEN,       /* the session reads and answers */
    PHASE_DRAINING,   /* shutdown(SD_SEND) done: input dropped until the peer's FIN */
    PHASE_CLOSING,    /* close gracefully once no operation is pending */
    PHASE_ABORTING    /* close abortively once no operation is pending */
};

typedef struct io_op {
    WSAOVERLAPPED ov;             /* the routine gets this pointer back */
    int posted;                   /* posted and its routine not yet run */
} io_op;

typedef struct conn {
    struct model_server *srv;
    struct worker *owner;         /* the worker that serves it */
    SOCKET sock;
    session sess;
    net_drain drain;
    enum conn_phase phase;
    struct conn *prev, *next;     /* in w->conns */
    io_op recv_op, send_op;
    int peer_fin;                 /* the peer's FIN arrived: nothing to drain */
    int cancelled;                /* the drain's deadline cancelled its receive */
    char recv_buf[RECV_SIZE];     /* freed with the context, after the last routine */
} conn;

typedef struct worker {
    struct model_server *srv;
    HANDLE thread;
    counter_t load;               /* connections handed to it and not yet freed */
    /* The worker thread's alone: no other thread reads or moves them. */
    conn *conns;
    int draining;                 /* connections in PHASE_DRAINING */
    ULONGLONG next_sweep;         /* when drain deadlines are checked next */
    int stopping;                 /* the stop was seen: every connection is closing */
    int quit;                     /* the last APC arrived: no hand-over can follow */
} worker;

typedef struct model_server {
    server base;
    worker **workers;             /* all started by start_model */
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

static void list_remove(conn **head, conn *c)
{
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        *head = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
}

static int run(model_server *srv);
static int start_model(model_server *srv);
static int main_loop(model_server *srv);
static void stop_server(model_server *srv);
static DWORD WINAPI accept_main(void *arg);
static int server_full(model_server *srv);
static void hand_over(model_server *srv, SOCKET s);
static worker *worker_new(model_server *srv);
static DWORD WINAPI worker_main(void *arg);
static void use_data(conn *c, const char *buf, DWORD n);
static void conn_advance(conn *c);
static void begin_close(conn *c);
static void conn_cancel(conn *c, enum conn_phase phase);
static void conn_fail(conn *c, const char *what, DWORD err);
static void sweep(worker *w);
static void cancel_io(SOCKET s, OVERLAPPED *ov);
static void begin_stop(worker *w);
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

/* The workers (--threads), then the accept thread. */
static int start_model(model_server *srv)
{
    srv->worker_max = srv->base.opt.threads > 0 ? srv->base.opt.threads : server_cpu_count();
    srv->workers = (worker **)server_alloc(&srv->base,
                                           (size_t)srv->worker_max * sizeof *srv->workers);
    if (srv->workers == NULL)
        return -1;
    while (srv->worker_count < srv->worker_max) {
        srv->workers[srv->worker_count] = worker_new(srv);
        if (srv->workers[srv->worker_count] == NULL)
            return -1;
        srv->worker_count++;
    }
    srv->accept_thread = server_thread(&srv->base, accept_main, srv);
    return srv->accept_thread != NULL ? 0 : -1;
}

/* The main thread has nothing to do but wait: the threads do it all. */
static int main_loop(model_server *srv)
{
    return server_wait_stop(&srv->base);
}

/* [step 3] accept a connection
 * accept() blocks the accept thread until one arrives; a thread of its
 * own, because a blocking accept() on a worker would keep it out of its
 * alertable wait and starve every routine it owns */
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
 * its context on the heap, and the least loaded worker, which adopts it
 * in an APC: every operation of it is posted by the thread that runs its
 * routines */
static void worker_free(model_server *srv, worker *w)
{
    server_free(&srv->base, w);
}

static worker *worker_new(model_server *srv)
{
    worker *w = (worker *)server_alloc(&srv->base, sizeof *w);

    if (w == NULL)
        return NULL;
    w->srv = srv;
    w->thread = server_thread(&srv->base, worker_main, w);
    if (w->thread == NULL) {
        worker_free(srv, w);
        return NULL;
    }
    return w;
}

/* The least loaded worker. */
static worker *pick_worker(model_server *srv)
{
    worker *best = NULL;
    int64_t best_load = 0;
    int i;

    for (i = 0; i < srv->worker_count; i++) {
        int64_t load = counter_get(&srv->workers[i]->load);
        if (best == NULL || load < best_load) {
            best = srv->workers[i];
            best_load = load;
        }
    }
    return best;
}

static int server_full(model_server *srv)
{
    int64_t total = 0;
    int i;

    for (i = 0; i < srv->worker_count; i++)
        total += counter_get(&srv->workers[i]->load);
    return total >= srv->base.opt.max_clients;
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

/* Runs on the worker the accept thread chose: the connection joins its
 * list and posts its first receive from the thread that will run every
 * routine of it. */
static void CALLBACK adopt_apc(ULONG_PTR arg)
{
    conn *c = (conn *)arg;
    worker *w = c->owner;

    list_push(&w->conns, c);
    if (w->stopping)
        conn_cancel(c, PHASE_CLOSING);   /* handed over while the server stops */
    conn_advance(c);
}

static void hand_over(model_server *srv, SOCKET s)
{
    worker *w = pick_worker(srv);
    conn *c = conn_new(srv, s);

    if (c == NULL)
        return;
    c->owner = w;
    counter_add(&w->load, 1);
    if (QueueUserAPC(adopt_apc, w->thread, (ULONG_PTR)c) == 0) {
        log_error("QueueUserAPC: error %lu", GetLastError());
        net_abort(&srv->base.st, s);
        conn_free(c);
    }
}

static void CALLBACK recv_done(DWORD err, DWORD bytes, LPWSAOVERLAPPED ov, DWORD flags);
static void CALLBACK send_done(DWORD err, DWORD bytes, LPWSAOVERLAPPED ov, DWORD flags);

/* [step 5] start receiving
 * WSARecv with the connection's OVERLAPPED, buffer and completion
 * routine. The routine is queued even when the receive completes at once,
 * so the result is always handled there. */
static void post_recv(conn *c)
{
    WSABUF buf;
    DWORD flags = 0;

    assert(!c->recv_op.posted);   /* one receive in flight */
    buf.buf = c->recv_buf;
    buf.len = RECV_SIZE;
    memset(&c->recv_op.ov, 0, sizeof c->recv_op.ov);
    if (WSARecv(c->sock, &buf, 1, NULL, &flags, &c->recv_op.ov, recv_done) == SOCKET_ERROR) {
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
    memset(&c->send_op.ov, 0, sizeof c->send_op.ov);
    if (WSASend(c->sock, bufs, n, NULL, 0, &c->send_op.ov, send_done) == SOCKET_ERROR) {
        int err = WSAGetLastError();
        if (err != WSA_IO_PENDING) {
            conn_fail(c, "WSASend", (DWORD)err);
            return;
        }
    }
    c->send_op.posted = 1;
}

/* [step 6] wait for something to happen
 * an alertable wait on the stop event. Routines and hand-overs run inside
 * it, and it returns WAIT_IO_COMPLETION after them; a timeout only while
 * drains are timed */
static DWORD WINAPI worker_main(void *arg)
{
    worker *w = (worker *)arg;
    HANDLE stop = w->srv->base.stop.event;
    ULONGLONG deadline;
    DWORD rc;

    do {
        rc = WaitForSingleObjectEx(stop, w->draining > 0 ? DRAIN_CHECK_MS : INFINITE, TRUE);
        if (w->draining > 0)
            sweep(w);
    } while (!w->stopping && (rc == WAIT_IO_COMPLETION || rc == WAIT_TIMEOUT));
    if (rc == WAIT_FAILED) {
        log_error("WaitForSingleObjectEx: error %lu", GetLastError());
        server_fail(&w->srv->base);
    }
    /* Stopping (step 12): every routine must still run before the
     * contexts go, so the worker keeps waiting alertably. */
    begin_stop(w);
    deadline = GetTickCount64() + SERVER_STOP_MS;
    while ((!w->quit || w->conns != NULL) && GetTickCount64() < deadline)
        SleepEx(100, TRUE);
    if (w->conns != NULL || !w->quit)
        log_error("stop: a worker ends with %lld connections left",
                  (long long)counter_get(&w->load));
    return 0;
}

/* [step 7] find out which connection and which operation
 * the routine says which operation (recv_done or send_done), and the
 * OVERLAPPED it gets back sits inside the connection: CONTAINING_RECORD */
static void CALLBACK recv_done(DWORD err, DWORD bytes, LPWSAOVERLAPPED ov, DWORD flags)
{
    conn *c = CONTAINING_RECORD(ov, conn, recv_op.ov);

    (void)flags;
    c->recv_op.posted = 0;
    /* [step 8] get the result
     * the routine's arguments: an error, 0 for FIN, or a byte count */
    if (err != 0) {
        conn_fail(c, "WSARecv", err);
    } else if (c->phase == PHASE_DRAINING && net_drain_done(&c->drain, bytes)) {
        conn_cancel(c, PHASE_CLOSING);
    } else if (c->phase == PHASE_OPEN) {
        c->peer_fin = bytes == 0;
        use_data(c, c->recv_buf, bytes);
    }
    conn_advance(c);
}

/* An overlapped TCP send completes in full unless the connection fails; a
 * short one's rest goes next (conn_advance), before any later reply. */
static void CALLBACK send_done(DWORD err, DWORD bytes, LPWSAOVERLAPPED ov, DWORD flags)
{
    conn *c = CONTAINING_RECORD(ov, conn, send_op.ov);

    (void)flags;
    c->send_op.posted = 0;
    if (err != 0) {
        conn_fail(c, "WSASend", err);
    } else {
        session_sent(&c->sess, bytes);
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
 * receive while the replies are over the bound. Called after every
 * routine and hand-over; it also frees a closing connection once no
 * routine of it is due. */
static void conn_advance(conn *c)
{
    if (c->owner->draining > 0)
        sweep(c->owner);   /* routines may keep the wait from returning */
    if (c->phase == PHASE_OPEN && !c->send_op.posted)
        post_send(c);
    if (c->phase == PHASE_OPEN && session_done(&c->sess))
        begin_close(c);
    if (c->phase == PHASE_OPEN && !c->recv_op.posted && session_can_read(&c->sess))
        post_recv(c);
    if (c->phase == PHASE_DRAINING && !c->recv_op.posted)
        post_recv(c);
    if ((c->phase == PHASE_CLOSING || c->phase == PHASE_ABORTING) && !c->recv_op.posted
        && !c->send_op.posted)
        conn_close(c);
}

/* [step 11] close a connection
 * once every reply is out, shutdown(SD_SEND), then read until the peer's
 * FIN (common/net.h says why); abortively after an error. The socket is
 * closed when its last operation has ended: a cancelled operation still
 * runs its routine (WSA_OPERATION_ABORTED, unless it completed first). */
static void begin_close(conn *c)
{
    if (net_drain_start(c->sock, &c->drain) != 0) {
        conn_cancel(c, PHASE_ABORTING);
    } else if (c->peer_fin) {
        conn_cancel(c, PHASE_CLOSING);
    } else {
        c->phase = PHASE_DRAINING;
        c->owner->draining++;
    }
}

static void cancel_io(SOCKET s, OVERLAPPED *ov)
{
    /* ov NULL: every operation of the socket. */
    if (!CancelIoEx((HANDLE)s, ov) && GetLastError() != ERROR_NOT_FOUND)
        log_error("CancelIoEx: error %lu", GetLastError());
}

/* Posts nothing more and cancels what is posted; `phase` says how the
 * socket will be closed. A frame cut short counts as after a reset. */
static void conn_cancel(conn *c, enum conn_phase phase)
{
    if (c->phase == PHASE_CLOSING || c->phase == PHASE_ABORTING)
        return;
    if (c->phase == PHASE_OPEN)
        session_on_abort(&c->sess);
    if (c->phase == PHASE_DRAINING)
        c->owner->draining--;
    c->phase = phase;
    if (c->recv_op.posted || c->send_op.posted)
        cancel_io(c->sock, NULL);
}

/* A socket error or a cancelled operation: the connection ends
 * abortively, except a drain that the deadline cancelled. */
static void conn_fail(conn *c, const char *what, DWORD err)
{
    net_log_io_error(what, (int)err);
    conn_cancel(c, c->phase == PHASE_DRAINING && err == ERROR_OPERATION_ABORTED ? PHASE_CLOSING
                                                                              : PHASE_ABORTING);
}


/* Ends the drains that ran past their time bound: the cancelled receive's
 * routine then closes the connection. Checked every DRAIN_CHECK_MS at
 * most, so thousands of connections cost no scan per routine. */
static void sweep(worker *w)
{
    ULONGLONG now = GetTickCount64();
    conn *c;

    if (now < w->next_sweep)
        return;
    w->next_sweep = now + DRAIN_CHECK_MS;
    for (c = w->conns; c != NULL; c = c->next)
        if (c->phase == PHASE_DRAINING && net_drain_expired(&c->drain, now) && !c->cancelled) {
            c->cancelled = 1;
            cancel_io(c->sock, &c->recv_op.ov);
        }
}

/* Every connection of the worker: begin closing it. */
static void begin_stop(worker *w)
{
    conn *c, *next;

    if (w->stopping)
        return;
    w->stopping = 1;
    for (c = w->conns; c != NULL; c = next) {
        next = c->next;   /* conn_advance may free c */
        conn_cancel(c, PHASE_ABORTING);
        conn_advance(c);
    }
}

/* No operation is pending and none will be posted: nothing points into c
 * any more, so its socket is closed and its memory freed. */
static void conn_close(conn *c)
{
    stats *st = &c->srv->base.st;
    worker *w = c->owner;

    list_remove(&w->conns, c);
    if (c->phase == PHASE_ABORTING)
        net_abort(st, c->sock);
    else
        net_close(st, c->sock);
    conn_free(c);
}

/* Frees what a connection holds once its socket is closed and no
 * operation of it is pending. */
static void conn_free(conn *c)
{
    server *base = &c->srv->base;

    assert(!c->recv_op.posted && !c->send_op.posted);
    counter_add(&c->owner->load, -1);
    server_conn_closed(base, &c->sess);
    server_free(base, c);
}

/* [step 12] stop the server
 * no more accepts; then every worker cancels the I/O of every connection
 * it owns and keeps waiting alertably until every routine ran and every
 * context is freed */
static void CALLBACK quit_apc(ULONG_PTR arg)
{
    worker *w = (worker *)arg;

    /* Queued after the accept thread ended, so it runs after every
     * hand-over. And it runs even while completions keep the worker's APC
     * queue from emptying: then the alertable wait runs routine after
     * routine and does not return to report the stop event, but an APC
     * queued now still gets its turn. */
    w->quit = 1;
    begin_stop(w);
}

static void stop_server(model_server *srv)
{
    int i;

    stop_request(&srv->base.stop);   /* set already, unless the start failed */
    /* Closing the listening socket makes the blocked accept() return; once
     * the accept thread is joined, no hand-over APC can be queued. */
    server_close_listener(&srv->base);
    if (srv->accept_thread != NULL)
        server_join(&srv->base, srv->accept_thread);
    for (i = 0; i < srv->worker_count; i++)
        if (QueueUserAPC(quit_apc, srv->workers[i]->thread, (ULONG_PTR)srv->workers[i]) == 0)
            log_error("QueueUserAPC (quit): error %lu", GetLastError());
    for (i = 0; i < srv->worker_count; i++)
        server_join(&srv->base, srv->workers[i]->thread);
    for (i = 0; i < srv->worker_count; i++)
        worker_free(srv, srv->workers[i]);
    server_free(&srv->base, srv->workers);
}
