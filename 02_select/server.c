/* 02_select/server.c - non-blocking sockets and select().
 *
 * Article:
 * none builds it; article 003 counts select among the four models
 * (blocking, select, WSAAsyncSelect, WSAEventSelect) in which the
 * application is told that data can be read and then copies it itself; it
 * is the book's "non-blocking (select)" row (REFERENCE.md section 2), the
 * Berkeley way: ask one call which of many sockets are ready.
 *
 * How it works:
 * every socket is non-blocking. A worker thread owns up to
 * CONNS_PER_WORKER connections; each round it rebuilds a read set (the
 * connections that may read, plus its wake-up socket) and a write set (the
 * connections with unsent replies), calls select(), then serves the ready
 * sockets with one recv() and the sends it can make, none of which block.
 * Worker 0 also has the listening socket in its read set: it accepts and
 * hands each new socket to the least loaded worker through that worker's
 * inbox, a small locked list, and wakes it. The main thread waits for the
 * stop signal.
 *
 * What changes from the previous model:
 * (01_blocking) no thread per client; one thread serves up to a
 * thousand sockets. Nothing blocks, so the code keeps what a call could
 * not finish: a partial send leaves the rest queued and puts the socket in
 * the write set; backpressure is leaving the socket out of the read set
 * (the blocking model got it free by blocking in send).
 *
 * Limits:
 * one select() call walks every socket in its sets, so its cost
 * grows with the set size (under Wine about 134 ms for 8000 idle sockets);
 * a set holds FD_SETSIZE sockets, and past one set the server adds
 * workers: --max-clients (default 10000) at FD_SETSIZE - 2 connections
 * per worker, so ten workers by default. select() cannot wait for an
 * event, so a worker is woken (new sockets, stop) by a datagram to its
 * own UDP socket.
 */

/* Winsock's fd_set is an array of up to FD_SETSIZE sockets plus a count,
 * not the BSD bitmap indexed by descriptor, and FD_SETSIZE is 64 unless
 * defined before winsock2.h is first included (server.h includes it).
 * The build sets it (CMake: WSM_SELECT_FD_SETSIZE, default 1024) so that
 * a lab can lower and raise it; 1024 when built without CMake. */
#ifndef FD_SETSIZE
#define FD_SETSIZE 1024
#endif
#define STRINGIFY_ARG(x) #x
#define STRINGIFY(x) STRINGIFY_ARG(x)   /* the value of x, not its name */

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

/* A worker's read set holds its connections, its wake-up socket and, in
 * worker 0, the listener; set_add relies on this. */
#define CONNS_PER_WORKER (FD_SETSIZE - 2)
#define RECV_SIZE (64u * 1024u)   /* one buffer per worker */
#define ACCEPT_BURST 64           /* accepts per round, so worker 0 still serves its own */

#if FD_SETSIZE < 3
#error "FD_SETSIZE must leave room for a connection beside the wake-up socket and the listener"
#endif

static const server_model model_info = {
    "select", "non-blocking sockets and select(), FD_SETSIZE - 2 connections per thread"
    " (FD_SETSIZE " STRINGIFY(FD_SETSIZE) ")",
    10000, 0,
    "select threads at most, FD_SETSIZE - 2 connections each; unset (0): as many as "
    "--max-clients needs",
    NULL
};

/* [step 1] define the state
 * one connection, owned by the one worker whose sets hold its socket */
/* What serving a connection decided. */
enum conn_result { CONN_KEEP, CONN_CLOSE, CONN_ABORT };

typedef struct conn {
    struct model_server *srv;
    struct worker *owner;         /* the worker that serves it */
    SOCKET sock;
    session sess;
    net_drain drain;
    int draining;                 /* shutdown(SD_SEND) done: reading until the peer's FIN */
    struct conn *prev, *next;     /* in w->inbox, then w->conns */
} conn;

typedef struct worker {
    struct model_server *srv;
    HANDLE thread;
    CRITICAL_SECTION lock;        /* guards inbox */
    conn *inbox;                  /* handed over, not taken yet */
    counter_t load;               /* connections owned plus those in the inbox */
    /* The worker thread's alone: no other thread reads or moves them. */
    net_wake wake;                /* a datagram to it ends select() */
    SOCKET listener;              /* worker 0 only; INVALID_SOCKET elsewhere */
    ULONGLONG accept_resume;      /* the listener is left out until then */
    conn *conns;                  /* the connections in its sets */
    fd_set read_set, write_set;
    char buf[RECV_SIZE];
} worker;

typedef struct model_server {
    server base;
    worker **workers;             /* all started by start_model */
    int worker_count, worker_max;
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
static int server_full(model_server *srv);
static void hand_over(model_server *srv, SOCKET s);
static worker *worker_new(model_server *srv);
static DWORD WINAPI worker_main(void *arg);
static int serve_round(worker *w, ULONGLONG now);
static enum conn_result serve_conn(worker *w, conn *c, int readable, int writable);
static void use_data(conn *c, const char *buf, DWORD n);
static enum conn_result begin_close(conn *c);
static enum conn_result drain_input(worker *w, conn *c, int readable);
static void conn_close(conn *c, enum conn_result how);
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

/* --threads caps the number of workers; by default there are as many as
 * --max-clients needs at CONNS_PER_WORKER each, all started here. */
static int start_model(model_server *srv)
{
    int max = srv->base.opt.max_clients, i;

    srv->worker_max = srv->base.opt.threads > 0 ? srv->base.opt.threads
                                                : (max + CONNS_PER_WORKER - 1) / CONNS_PER_WORKER;
    log_info("%d select threads of %d connections each (FD_SETSIZE %d)", srv->worker_max,
             CONNS_PER_WORKER, FD_SETSIZE);
    if ((int64_t)srv->worker_max * CONNS_PER_WORKER < max)
        log_info("--threads %d holds %d connections; more are refused", srv->worker_max,
                 srv->worker_max * CONNS_PER_WORKER);
    /* The listener is in worker 0's read set: accept() must never block. */
    if (net_set_nonblocking(srv->base.listener) != 0)
        return -1;
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
    /* Every worker exists before any thread runs: worker 0 hands over to
     * them all as soon as it starts. */
    for (i = 0; i < srv->worker_count; i++) {
        worker *w = srv->workers[i];
        w->thread = server_thread(&srv->base, worker_main, w);
        if (w->thread == NULL)
            return -1;
    }
    return 0;
}

/* The main thread has nothing to do but wait: the workers do it all. */
static int main_loop(model_server *srv)
{
    return server_wait_stop(&srv->base);
}

/* [step 3] accept a connection
 * worker 0 has the listener in its read set, and when select() reports it
 * readable, accept() returns at once. The listener is non-blocking all the
 * same, because the peer may have given up since select() returned:
 * WSAEWOULDBLOCK means the backlog is empty. At most ACCEPT_BURST at a
 * time, so that worker 0 still serves its own connections in a flood. */
static void accept_ready(worker *w, ULONGLONG now)
{
    model_server *srv = w->srv;
    int i;

    for (i = 0; i < ACCEPT_BURST; i++) {
        SOCKET s = accept(w->listener, NULL, NULL);
        if (s == INVALID_SOCKET) {
            enum server_accept next = server_accept_failed(&srv->base, WSAGetLastError());
            if (next == ACCEPT_END)
                w->listener = INVALID_SOCKET;   /* a fatal error: the server stops */
            if (next == ACCEPT_PAUSE)
                w->accept_resume = now + SERVER_ACCEPT_PAUSE_MS;
            return;   /* empty backlog, a peer gone, a pause: the next round tries again */
        }
        net_accepted(&srv->base.st);
        if (server_full(srv))
            net_refuse(&srv->base.st, s);
        else
            hand_over(srv, s);
    }
}

/* [step 4] prepare the connection for the model
 * non-blocking mode, its state, and the least loaded worker, through that
 * worker's inbox */
static void worker_free(model_server *srv, worker *w)
{
    net_wake_close(&srv->base.st, &w->wake);
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
    if (net_wake_open(&srv->base.st, &w->wake) != 0) {
        DeleteCriticalSection(&w->lock);
        server_free(&srv->base, w);
        return NULL;
    }
    w->listener = srv->worker_count == 0 ? srv->base.listener : INVALID_SOCKET;
    return w;
}

/* The least loaded worker; NULL when the server is full. */
static worker *pick_worker(model_server *srv)
{
    worker *best = NULL;
    int64_t total = 0, best_load = CONNS_PER_WORKER;
    int i;

    for (i = 0; i < srv->worker_count; i++) {
        int64_t load = counter_get(&srv->workers[i]->load);
        total += load;
        if (load < best_load) {
            best = srv->workers[i];
            best_load = load;
        }
    }
    return total < srv->base.opt.max_clients ? best : NULL;   /* NULL: full */
}

static int server_full(model_server *srv)
{
    return pick_worker(srv) == NULL;
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
    net_wake_send(&w->wake);
}

/* The accepting worker's side of the hand-over. A wake-up is needed only
 * when the inbox was empty: otherwise one is already on its way, since
 * the owner drains its wake-ups before it empties the inbox. Worker 0
 * accepts, so it needs none: it takes its inbox after this round. */
static void inbox_push(worker *w, conn *c)
{
    int was_empty;

    EnterCriticalSection(&w->lock);
    was_empty = w->inbox == NULL;
    list_push(&w->inbox, c);
    LeaveCriticalSection(&w->lock);
    if (was_empty && w != w->srv->workers[0])
        wake_worker(w);
}

static void hand_over(model_server *srv, SOCKET s)
{
    worker *w = pick_worker(srv);   /* not full: only worker 0 adds, and it checked */
    conn *c;

    assert(w != NULL);
    /* select() must find it ready, never block in it (the listener's
     * mode is inherited too, but saying so is one call per connection) */
    if (net_set_nonblocking(s) != 0) {
        net_abort(&srv->base.st, s);
        return;
    }
    c = conn_new(srv, s);
    if (c == NULL)
        return;
    c->owner = w;
    counter_add(&w->load, 1);
    inbox_push(w, c);
}

/* The owner's side: new sockets join the sets of the next round. */
static void inbox_take(worker *w)
{
    conn *c, *next;

    EnterCriticalSection(&w->lock);
    c = w->inbox;
    w->inbox = NULL;
    LeaveCriticalSection(&w->lock);
    for (; c != NULL; c = next) {
        next = c->next;
        list_push(&w->conns, c);
    }
}

/* FD_SET searches the array for the socket before appending it, which
 * makes building a set of n sockets cost n*n/2 compares; each socket is
 * added once per round here, so appending is enough. */
static void set_add(fd_set *set, SOCKET s)
{
    assert(set->fd_count < FD_SETSIZE);
    set->fd_array[set->fd_count++] = s;
}

/* [step 5] start receiving
 * putting a socket in the read set asks select() to report input, so only
 * connections that may read go in (backpressure: session_can_read), plus
 * those draining; only connections with unsent replies go in the write
 * set. Returns the select() timeout in ms. */
static DWORD build_sets(worker *w, ULONGLONG now)
{
    ULONGLONG next = 0;   /* the nearest deadline, 0: none */
    conn *c;

    FD_ZERO(&w->read_set);
    FD_ZERO(&w->write_set);
    set_add(&w->read_set, w->wake.sock);   /* so the read set is never empty */
    if (w->listener != INVALID_SOCKET && now >= w->accept_resume)
        set_add(&w->read_set, w->listener);
    else if (w->listener != INVALID_SOCKET)
        next = w->accept_resume;
    for (c = w->conns; c != NULL; c = c->next) {
        if (c->draining) {
            set_add(&w->read_set, c->sock);
            if (next == 0 || c->drain.deadline < next)
                next = c->drain.deadline;
            continue;
        }
        if (session_can_read(&c->sess))
            set_add(&w->read_set, c->sock);
        if (session_unsent(&c->sess) > 0)
            set_add(&w->write_set, c->sock);
    }
    if (next == 0)
        return INFINITE;
    return next > now ? (DWORD)(next - now) : 0;
}

/* [step 6] wait for something to happen
 * select() blocks until a socket in the sets is ready, a wake-up datagram
 * arrives, or the nearest deadline passes; 1 when the worker must end
 * (stop, or select() failed) */
static int wait_round(worker *w)
{
    DWORD wait_ms = build_sets(w, GetTickCount64());
    struct timeval tv;

    tv.tv_sec = (long)(wait_ms / 1000);
    tv.tv_usec = (long)(wait_ms % 1000) * 1000;
    /* Winsock ignores its first argument; a set it is given must hold a
     * socket (Microsoft's select page), so an empty write set goes as NULL */
    if (select(0, &w->read_set, w->write_set.fd_count > 0 ? &w->write_set : NULL, NULL,
               wait_ms == INFINITE ? NULL : &tv) == SOCKET_ERROR) {
        net_log_error("select", WSAGetLastError());
        server_fail(&w->srv->base);
        return 1;
    }
    return serve_round(w, GetTickCount64());
}

/* [step 7] find out which connection and which operation
 * select() left only the ready sockets in the sets, and FD_ISSET asks
 * about each socket the worker owns (it searches the array, but only the
 * ready few) */
static int serve_round(worker *w, ULONGLONG now)
{
    conn *c, *next;

    if (FD_ISSET(w->wake.sock, &w->read_set)) {
        net_wake_drain(&w->wake);   /* before inbox_take: see inbox_push */
        if (stop_requested(&w->srv->base.stop))
            return 1;
    }
    if (w->listener != INVALID_SOCKET && FD_ISSET(w->listener, &w->read_set))
        accept_ready(w, now);
    for (c = w->conns; c != NULL; c = next) {
        int readable = FD_ISSET(c->sock, &w->read_set);
        int writable = FD_ISSET(c->sock, &w->write_set);
        enum conn_result r = c->draining ? drain_input(w, c, readable)
                                         : serve_conn(w, c, readable, writable);
        next = c->next;   /* before conn_close frees c */
        if (r != CONN_KEEP)
            conn_close(c, r);
    }
    inbox_take(w);
    return 0;
}

/* Serves one connection that select() reported; the socket is
 * non-blocking, so neither call below can wait. */
static enum conn_result serve_conn(worker *w, conn *c, int readable, int writable)
{
    char *buf = w->buf;   /* one buffer per worker: the session copies what it keeps */
    int err = 0;

    if (readable) {
        int n = recv(c->sock, buf, RECV_SIZE, 0);
        /* [step 8] get the result
         * a byte count, 0 for FIN, or SOCKET_ERROR */
        if (n == SOCKET_ERROR)
            err = WSAGetLastError();
        else
            use_data(c, buf, (DWORD)n);
    }
    if (err == WSAEWOULDBLOCK)
        err = 0;   /* nothing there after all */
    else if (err != 0)
        net_log_io_error("recv", err);
    /* Replies go out at once; only what send() refuses waits for the
     * write set, which saves a round for the common small reply. */
    if (err != 0 || ((readable || writable) && net_send_ready(c->sock, &c->sess) == NET_FAILED)) {
        session_on_abort(&c->sess);
        return CONN_ABORT;
    }
    return session_done(&c->sess) ? begin_close(c) : CONN_KEEP;
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
 * every round rebuilds the sets from the sessions' state, so a connection
 * is read again while it may read */
static DWORD WINAPI worker_main(void *arg)
{
    worker *w = (worker *)arg;

    while (wait_round(w) == 0)
        continue;
    /* Stopping (step 12): the worker closes what it owns, unsent replies
     * and all; closesocket still delivers what send() accepted. */
    while (w->conns != NULL)
        conn_close(w->conns, CONN_CLOSE);
    return 0;
}

/* [step 11] close a connection
 * when the session is done, shutdown(SD_SEND) sends FIN after the last
 * reply; the socket stays in the read set, and what the peer still sends
 * is dropped until its FIN (common/net.h says why) */
static enum conn_result begin_close(conn *c)
{
    if (net_drain_start(c->sock, &c->drain) != 0)
        return CONN_CLOSE;
    c->draining = 1;
    return CONN_KEEP;
}

static enum conn_result drain_input(worker *w, conn *c, int readable)
{
    int n;

    if (!readable)
        return net_drain_expired(&c->drain, GetTickCount64()) ? CONN_CLOSE : CONN_KEEP;
    n = recv(c->sock, w->buf, RECV_SIZE, 0);
    if (n == SOCKET_ERROR && WSAGetLastError() == WSAEWOULDBLOCK)
        return CONN_KEEP;
    if (n == SOCKET_ERROR)
        return CONN_CLOSE;   /* an error: nothing left to protect */
    return net_drain_done(&c->drain, (size_t)n) ? CONN_CLOSE : CONN_KEEP;
}

/* Gracefully (the drain ended, or stop) or abortively after an error. */
static void conn_close(conn *c, enum conn_result how)
{
    stats *st = &c->srv->base.st;

    if (how == CONN_ABORT)
        net_abort(st, c->sock);
    else
        net_close(st, c->sock);
    list_remove(&c->owner->conns, c);
    conn_free(c);
}

/* Frees what a connection holds once its socket is closed. */
static void conn_free(conn *c)
{
    server *base = &c->srv->base;

    counter_add(&c->owner->load, -1);
    server_conn_closed(base, &c->sess);
    server_free(base, c);
}

/* [step 12] stop the server
 * wake every worker (each closes what it owns when it sees the stop), join
 * them, then close what was left in the inboxes: worker 0 may hand over a
 * socket after its target ended, so the sweep comes after every join */
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
    for (i = 0; i < srv->worker_count; i++)
        wake_worker(srv->workers[i]);
    for (i = 0; i < srv->worker_count; i++)
        if (srv->workers[i]->thread != NULL)
            server_join(&srv->base, srv->workers[i]->thread);
    server_close_listener(&srv->base);   /* worker 0 accepts no more */
    for (i = 0; i < srv->worker_count; i++)
        worker_close(srv, srv->workers[i]);
    server_free(&srv->base, srv->workers);
}
