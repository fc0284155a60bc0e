/* 03_eventselect/server.c - WSAEventSelect and WSAWaitForMultipleEvents.
 *
 * Article:
 * the event-object model that article 003 (shared/seeds/003_...txt) builds
 * on: its steps 6 and 7 (WSAWaitForMultipleEvents, then finding which event
 * fired) and its section 五 (an accepting thread and a waiting thread, at
 * most 64 events per wait) are the core of this file. The I/O itself stays
 * non-blocking recv() and send(), as in select().
 *
 * How it works:
 * each socket gets an event object and WSAEventSelect asks Winsock to set
 * it on FD_READ, FD_WRITE or FD_CLOSE (FD_ACCEPT for the listening
 * socket). A worker thread waits on up to 64 events at once: its wake-up
 * event at index 0 and the events of up to 63 sockets. The main thread
 * waits for FD_ACCEPT, accepts one connection per event, and hands the
 * socket to the first worker with a free slot through that worker's inbox,
 * a small locked list, then sets that worker's wake-up event; workers
 * start on demand.
 *
 * What changes from the previous model:
 * (02_select) no socket sets rebuilt and scanned on every call; Winsock
 * records what happened on each socket and WSAEnumNetworkEvents reports
 * it. A notice is recorded once and then not again until the call that
 * re-enables it: FD_READ after a recv(), FD_WRITE only after a send failed
 * with WSAEWOULDBLOCK, FD_ACCEPT after an accept(); FD_READ and FD_ACCEPT
 * are recorded again at once if the condition still holds. And one wait
 * takes at most WSA_MAXIMUM_WAIT_EVENTS (64) handles, hence a thread per
 * 63 sockets.
 *
 * Limits:
 * ceil(max-clients / 63) worker threads; the documented capacity is
 * 10,000 clients (--max-clients, 159 workers); beyond it a connection is
 * refused with an ERROR frame. Workers stay until the server stops, idle
 * ones blocked in their wait. Each wait and each event reported is a
 * system call (a wineserver round trip under Wine). --threads is unused:
 * the number of workers follows the number of connections.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

/* A worker's wait holds its wake-up event at index 0 and the events of
 * its connections. */
#define CONNS_PER_WORKER (WSA_MAXIMUM_WAIT_EVENTS - 1)
#define RECV_SIZE (64u * 1024u)   /* one buffer per worker */

static const server_model model_info = {
    "eventselect", "WSAEventSelect, a worker thread per 63 sockets",
    10000, 0, NULL, NULL
};

/* [step 1] define the state
 * one connection, owned by the one worker whose wait holds its event */
/* What serving a connection decided. */
enum conn_result { CONN_KEEP, CONN_CLOSE, CONN_ABORT };

typedef struct conn {
    struct model_server *srv;
    struct worker *owner;         /* the worker that serves it */
    SOCKET sock;
    session sess;
    net_drain drain;
    int draining;                 /* shutdown(SD_SEND) done: reading until the peer's FIN */
    struct conn *prev, *next;     /* in w->inbox */
    WSAEVENT event;               /* set by Winsock on FD_READ, FD_WRITE, FD_CLOSE */
    DWORD slot;                   /* index of event in the worker's wait */
    int can_write;                /* send until WSAEWOULDBLOCK; then FD_WRITE sets it again */
    int readable;                 /* an FD_READ or FD_CLOSE not yet answered by a recv */
    int peer_closed;              /* FD_CLOSE seen: read to the end, no FD_READ is promised */
    int eof;                      /* recv returned 0 */
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
    conn *conns[WSA_MAXIMUM_WAIT_EVENTS];   /* conns[i] owns events[i], i >= 1 */
    DWORD count;                  /* events in use, the wake-up event included */
    char buf[RECV_SIZE];
} worker;

typedef struct model_server {
    server base;
    worker **workers;             /* started on demand by the main thread */
    int worker_count, worker_max;
    WSAEVENT accept_event;        /* FD_ACCEPT of the listening socket */
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
static int server_full(model_server *srv);
static void hand_over(model_server *srv, SOCKET s);
static DWORD WINAPI worker_main(void *arg);
static int accept_ready(model_server *srv);
static DWORD sweep(worker *w);
static DWORD next_signalled(worker *w, DWORD from);
static void serve_signalled(worker *w, DWORD i);
static enum conn_result network_events(conn *c);
static enum conn_result serve_conn(worker *w, conn *c);
static void use_data(conn *c, const char *buf, DWORD n);
static void receive_again(conn *c, int n);
static enum conn_result begin_close(conn *c);
static enum conn_result drain_input(worker *w, conn *c);
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

/* Room for the workers, started on demand; FD_ACCEPT on the listening
 * socket (WSAEventSelect makes it non-blocking). */
static int start_model(model_server *srv)
{
    srv->worker_max = (srv->base.opt.max_clients + CONNS_PER_WORKER - 1) / CONNS_PER_WORKER;
    srv->workers = (worker **)server_alloc(&srv->base,
                                           (size_t)srv->worker_max * sizeof *srv->workers);
    if (srv->workers == NULL)
        return -1;
    srv->accept_event = WSACreateEvent();
    if (srv->accept_event == WSA_INVALID_EVENT) {
        net_log_error("WSACreateEvent (listener)", WSAGetLastError());
        return -1;
    }
    stats_opened(&srv->base.st, RES_HANDLE);
    if (WSAEventSelect(srv->base.listener, srv->accept_event, FD_ACCEPT) == SOCKET_ERROR) {
        net_log_error("WSAEventSelect (listener)", WSAGetLastError());
        return -1;
    }
    return 0;
}

/* The main thread's job while the server runs: wait for FD_ACCEPT or the
 * stop event, and accept. */
static int main_loop(model_server *srv)
{
    WSAEVENT waits[2];
    DWORD rc;

    waits[0] = srv->base.stop.event;   /* index 0 wins when both are set */
    waits[1] = srv->accept_event;
    while ((rc = WSAWaitForMultipleEvents(2, waits, FALSE, WSA_INFINITE, FALSE))
           == WSA_WAIT_EVENT_0 + 1)
        if (accept_ready(srv) != 0)
            return -1;
    if (rc != WSA_WAIT_FAILED)
        return 0;
    net_log_error("WSAWaitForMultipleEvents (accept)", WSAGetLastError());
    return -1;
}

/* [step 3] accept a connection
 * one accept() per FD_ACCEPT. accept() re-enables FD_ACCEPT, which is
 * recorded again at once while connections wait; under Wine, accepting
 * until WSAEWOULDBLOCK loses the notification. */
static int accept_ready(model_server *srv)
{
    WSANETWORKEVENTS ne;
    SOCKET s;

    if (WSAEnumNetworkEvents(srv->base.listener, srv->accept_event, &ne) == SOCKET_ERROR) {
        net_log_error("WSAEnumNetworkEvents (listener)", WSAGetLastError());
        return -1;
    }
    if ((ne.lNetworkEvents & FD_ACCEPT) == 0)
        return 0;
    if (ne.iErrorCode[FD_ACCEPT_BIT] != 0)   /* logged; accept() still re-enables FD_ACCEPT */
        net_log_error("FD_ACCEPT", ne.iErrorCode[FD_ACCEPT_BIT]);
    /* The socket inherits the listener's selection and non-blocking mode. */
    s = accept(srv->base.listener, NULL, NULL);
    if (s == INVALID_SOCKET) {
        /* ACCEPT_END: a fatal error stopped the server; the wait sees it */
        if (server_accept_failed(&srv->base, WSAGetLastError()) == ACCEPT_PAUSE)
            Sleep(SERVER_ACCEPT_PAUSE_MS);   /* FD_ACCEPT is recorded again: try then */
        return 0;
    }
    net_accepted(&srv->base.st);
    if (server_full(srv))
        net_refuse(&srv->base.st, s);
    else
        hand_over(srv, s);
    return 0;
}

/* [step 4] prepare the connection for the model
 * its state, and the first worker with a free slot, through that worker's
 * inbox; a worker waits on at most 64 handles, its wake-up event and 63
 * sockets' events */
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
 * NULL when none can be started. Only the main thread adds load. */
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

/* The accepting thread's side of the hand-over: the worker adds the
 * connection to its arrays when its wake-up event fires (article 003 waits
 * with a timeout to notice new sockets instead, and appends to arrays
 * another thread is reading). */
static void wake_worker(worker *w)
{
    if (!WSASetEvent(w->wake))
        net_log_error("WSASetEvent (wake-up)", WSAGetLastError());
}

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
    c->can_write = 1;   /* a new socket has room: send until WSAEWOULDBLOCK */
    c->owner = w;
    counter_add(&w->load, 1);
    inbox_push(w, c);
}

/* [step 5] start receiving
 * the worker gives the socket an event of its own, asks for FD_READ,
 * FD_WRITE and FD_CLOSE on it, and puts both in a slot of its arrays */
static int watch(worker *w, conn *c)
{
    stats *st = &w->srv->base.st;

    c->event = WSACreateEvent();
    if (c->event == WSA_INVALID_EVENT) {
        net_log_error("WSACreateEvent", WSAGetLastError());
        return -1;
    }
    stats_opened(st, RES_HANDLE);
    /* This replaces the FD_ACCEPT selection that the socket inherited from
     * the listening socket. Whatever happened since accept() (bytes that
     * came, the room to send) is recorded at once, so nothing is lost. */
    if (WSAEventSelect(c->sock, c->event, FD_READ | FD_WRITE | FD_CLOSE) == SOCKET_ERROR) {
        net_log_error("WSAEventSelect", WSAGetLastError());
        return -1;
    }
    c->slot = w->count++;
    w->events[c->slot] = c->event;
    w->conns[c->slot] = c;
    return 0;
}

/* The wake-up event fired: the connections handed over join the arrays.
 * Returns 0 when the server stops; the inbox and the stop are read in
 * this order, so a connection handed over before the stop is never
 * missed (stop_server sets the stop before it wakes the workers). */
static int inbox_take(worker *w)
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
        if (watch(w, c) != 0)
            conn_close(c, CONN_ABORT);
    }
    return !stop_requested(&w->srv->base.stop);
}

/* [step 6] wait for something to happen
 * one wait over the wake-up event and the events of up to 63 sockets (64
 * handles at most) */
static DWORD WINAPI worker_main(void *arg)
{
    worker *w = (worker *)arg;
    DWORD rc, first, timeout;

    for (;;) {
        timeout = sweep(w);   /* may close connections: before w->count is read */
        rc = WSAWaitForMultipleEvents(w->count, w->events, FALSE, timeout, FALSE);
        if (rc == WSA_WAIT_FAILED) {
            net_log_error("WSAWaitForMultipleEvents", WSAGetLastError());
            server_fail(&w->srv->base);
            break;
        }
        if (rc == WSA_WAIT_TIMEOUT)
            continue;   /* a drain is due */
        first = rc - WSA_WAIT_EVENT_0;   /* the lowest signalled index */
        if (first == 0 && !inbox_take(w))
            break;
        serve_signalled(w, first == 0 ? next_signalled(w, 1) : first);
    }
    /* Stopping (step 12): the worker closes what it owns, unsent replies
     * and all; closesocket still delivers what send() accepted. */
    while (w->count > 1)
        conn_close(w->conns[w->count - 1], CONN_CLOSE);
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
 * the index of the signalled event is the connection's slot, and
 * WSAEnumNetworkEvents reports the events recorded since the last call,
 * each with its error code, and resets the event object. The wait returns
 * the lowest signalled index only: serving that one alone would starve
 * the sockets after a busy one, so every event signalled from there on is
 * served before the next wait. */
static void serve_signalled(worker *w, DWORD i)
{
    while (i < w->count) {
        conn *c = w->conns[i];
        enum conn_result r = network_events(c);
        if (r == CONN_KEEP && !c->draining)
            r = serve_conn(w, c);
        if (r == CONN_KEEP && c->draining)
            r = drain_input(w, c);   /* at once: the FD_READ seen may be the last notice */
        if (r == CONN_KEEP)
            i++;
        else
            conn_close(c, r);   /* the last connection moved into slot i: look at it too */
        i = next_signalled(w, i);
    }
}

/* 1 when the event `bit` was reported with an error (its own iErrorCode). */
static int event_failed(const WSANETWORKEVENTS *ne, long bit, int index, const char *name)
{
    if ((ne->lNetworkEvents & bit) == 0 || ne->iErrorCode[index] == 0)
        return 0;
    net_log_io_error(name, ne->iErrorCode[index]);
    return 1;
}

static enum conn_result network_events(conn *c)
{
    WSANETWORKEVENTS ne;

    if (WSAEnumNetworkEvents(c->sock, c->event, &ne) == SOCKET_ERROR) {
        net_log_error("WSAEnumNetworkEvents", WSAGetLastError());
        session_on_abort(&c->sess);
        return CONN_ABORT;
    }
    if (event_failed(&ne, FD_READ, FD_READ_BIT, "FD_READ")
        || event_failed(&ne, FD_WRITE, FD_WRITE_BIT, "FD_WRITE")
        || event_failed(&ne, FD_CLOSE, FD_CLOSE_BIT, "FD_CLOSE")) {
        session_on_abort(&c->sess);   /* a reset or a failure: a partial frame counts */
        return CONN_ABORT;
    }
    if (ne.lNetworkEvents & FD_WRITE)
        c->can_write = 1;
    if (ne.lNetworkEvents & (FD_READ | FD_CLOSE))
        c->readable = 1;
    /* FIN with error 0; under Wine also a reset that came while no recv
     * was pending. Bytes may still wait before the end: read them. */
    if (ne.lNetworkEvents & FD_CLOSE)
        c->peer_closed = 1;
    return CONN_KEEP;
}

/* Sends while the socket has room; a WSAEWOULDBLOCK arms FD_WRITE, which
 * says when to go on. -1 on error. */
static int send_replies(conn *c)
{
    enum net_send_result r = c->can_write ? net_send_ready(c->sock, &c->sess) : NET_SENT;

    if (r == NET_FULL)
        c->can_write = 0;
    return r == NET_FAILED ? -1 : 0;
}

/* Serves a connection after its events: the replies that waited for room,
 * then a recv while the session takes more input, then the close. */
static enum conn_result serve_conn(worker *w, conn *c)
{
    char *buf = w->buf;
    int n, err = 0;

    while (send_replies(c) == 0) {
        /* Backpressure: no recv while the replies are over the bound. The
         * skipped notice is not repeated (no recv re-enabled it), so
         * `readable` stays set and the recv happens here once a later
         * FD_WRITE let the queue drain. */
        if (session_done(&c->sess) || !c->readable || !session_can_read(&c->sess))
            return session_done(&c->sess) ? begin_close(c) : CONN_KEEP;
        n = recv(c->sock, buf, RECV_SIZE, 0);
        /* [step 8] get the result
         * a byte count, 0 for FIN, or SOCKET_ERROR */
        if (n == SOCKET_ERROR)
            err = WSAGetLastError();
        else
            use_data(c, buf, (DWORD)n);
        if (n == 0)
            c->eof = 1;
        receive_again(c, n);
        if (err == WSAEWOULDBLOCK)
            err = 0;   /* nothing there after all; FD_READ is armed again */
        if (err != 0) {
            net_log_io_error("recv", err);
            break;
        }
    }
    session_on_abort(&c->sess);
    return CONN_ABORT;
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
 * the recv re-enabled FD_READ, which Winsock records again at once if
 * bytes remain. After FD_CLOSE nothing more is promised, so the
 * connection stays readable until recv returns 0. */
static void receive_again(conn *c, int n)
{
    if (n <= 0 || !c->peer_closed)
        c->readable = 0;
}

/* [step 11] close a connection
 * when the session is done, shutdown(SD_SEND) sends FIN after the last
 * reply; what the peer still sends is dropped until its FIN (common/net.h
 * says why), one recv per notification as in serve_conn() */
static enum conn_result begin_close(conn *c)
{
    if (net_drain_start(c->sock, &c->drain) != 0)
        return CONN_ABORT;
    c->draining = 1;
    return c->eof ? CONN_CLOSE : CONN_KEEP;   /* the FIN came already: nothing to drain */
}

static enum conn_result drain_input(worker *w, conn *c)
{
    while (c->readable) {
        int n = recv(c->sock, w->buf, RECV_SIZE, 0);
        if (n == SOCKET_ERROR && WSAGetLastError() == WSAEWOULDBLOCK) {
            c->readable = 0;
            return CONN_KEEP;
        }
        if (n == SOCKET_ERROR)
            return CONN_CLOSE;   /* an error: nothing left to protect */
        if (net_drain_done(&c->drain, (size_t)n))
            return CONN_CLOSE;
        if (!c->peer_closed)
            c->readable = 0;
    }
    return CONN_KEEP;
}

/* Closes the drains whose time ran out; returns the timeout of the next
 * wait: until the next one is due, or WSA_INFINITE. */
static DWORD sweep(worker *w)
{
    ULONGLONG now = GetTickCount64();
    DWORD timeout = WSA_INFINITE, i = 1;

    while (i < w->count) {
        conn *c = w->conns[i];
        if (c->draining && net_drain_expired(&c->drain, now)) {
            conn_close(c, CONN_CLOSE);   /* slot i now holds another connection */
            continue;
        }
        if (c->draining && c->drain.deadline - now < timeout)
            timeout = (DWORD)(c->drain.deadline - now);
        i++;
    }
    return timeout;
}

/* Gracefully (the drain ended, or stop) or abortively after an error. */
static void conn_close(conn *c, enum conn_result how)
{
    stats *st = &c->srv->base.st;
    worker *w = c->owner;

    if (how == CONN_ABORT)
        net_abort(st, c->sock);
    else
        net_close(st, c->sock);   /* closing the socket also ends its WSAEventSelect */
    if (c->event != WSA_INVALID_EVENT && !WSACloseEvent(c->event))
        net_log_error("WSACloseEvent", WSAGetLastError());
    if (c->event != WSA_INVALID_EVENT)
        stats_closed(st, RES_HANDLE);
    if (c->slot != 0) {
        /* The owner compacts its own arrays: the last slot moves into the
         * hole, event and connection together. No other thread reads them,
         * and nothing points into a connection's memory from outside it. */
        w->count--;
        w->events[c->slot] = w->events[w->count];
        w->conns[c->slot] = w->conns[w->count];
        w->conns[c->slot]->slot = c->slot;
    }
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
 * no more accepts; every worker closes its connections when woken, then
 * it is joined, what was left in its inbox closed, and it is freed */
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
        server_join(&srv->base, srv->workers[i]->thread);
    server_close_listener(&srv->base);   /* the main thread accepts no more */
    for (i = 0; i < srv->worker_count; i++)
        worker_close(srv, srv->workers[i]);
    if (srv->accept_event != WSA_INVALID_EVENT && !WSACloseEvent(srv->accept_event))
        net_log_error("WSACloseEvent (listener)", WSAGetLastError());
    if (srv->accept_event != WSA_INVALID_EVENT)
        stats_closed(&srv->base.st, RES_HANDLE);
    server_free(&srv->base, srv->workers);
}
