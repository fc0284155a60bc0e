/* 03_eventselect/server.c - WSAEventSelect and WSAWaitForMultipleEvents.
 *
 * The event-object model that article 003 (shared/seeds/003_...txt) builds
 * on: its steps 6 and 7 (WSAWaitForMultipleEvents, then finding which event
 * fired) and its section 五 (an accepting thread and a waiting thread, at
 * most 64 events per wait) are the core of this file. The I/O itself stays
 * non-blocking recv() and send(), as in select().
 *
 * How it works: each socket gets an event object and WSAEventSelect asks
 * Winsock to set it on FD_READ, FD_WRITE or FD_CLOSE (FD_ACCEPT for the
 * listening socket). A worker thread waits on up to 64 events at once: its
 * wake-up event at index 0 and the events of up to 63 sockets. The main
 * thread waits for FD_ACCEPT, accepts one connection per event, and hands
 * the socket to the first worker with a free slot through a small locked
 * queue, then sets that worker's wake-up event; workers start on demand.
 *
 * What changes from the previous model (02_select): no socket sets rebuilt
 * and scanned on every call; Winsock records what happened on each socket
 * and WSAEnumNetworkEvents reports it. In exchange the notifications are
 * edges, not levels: FD_WRITE comes again only after a send failed with
 * WSAEWOULDBLOCK, and FD_READ only after a recv. And one wait takes at
 * most WSA_MAXIMUM_WAIT_EVENTS (64) handles, hence a thread per 63 sockets.
 *
 * Limits: ceil(max-clients / 63) worker threads; the documented capacity
 * is 10,000 clients (--max-clients, 159 workers); beyond it a connection is
 * refused with an ERROR frame. Workers stay until the server stops, idle
 * ones blocked in their wait. Each wait and each event reported is a system
 * call (a wineserver round trip under Wine). --threads is unused: the
 * number of workers follows the number of connections.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

#define SLOTS_PER_WORKER (WSA_MAXIMUM_WAIT_EVENTS - 1)   /* index 0 is the wake-up event */
#define WORKER_STACK_RESERVE (64u * 1024u)
#define RECV_SIZE (64u * 1024u)
#define SEND_IOV 16             /* reply chunks gathered into one WSASend */
#define LINGER_MS 2000          /* how long a closing connection is drained */
#define LINGER_BYTES (1u << 20) /* and how much of it */

static const server_model eventselect_model = {
    "eventselect", "WSAEventSelect, a worker thread per 63 sockets",
    10000, 0, NULL, NULL
};

/* What serving a connection's events decided. */
enum client_action {
    CLIENT_KEEP,    /* still open */
    CLIENT_CLOSE,   /* closesocket: the graceful close is over */
    CLIENT_ABORT    /* a socket error: abortive close */
};

/* [step 1] define the state: one connection, owned by the worker that
 * holds its event in its arrays */
typedef struct client {
    SOCKET sock;
    WSAEVENT event;         /* set by Winsock on FD_READ, FD_WRITE, FD_CLOSE */
    session sess;
    int can_write;          /* send until WSAEWOULDBLOCK; then FD_WRITE sets it again */
    int readable;           /* an FD_READ or FD_CLOSE not yet answered by a recv */
    int peer_closed;        /* FD_CLOSE seen: read to the end, no FD_READ is promised */
    int eof;                /* recv returned 0 */
    int shut;               /* shutdown(SD_SEND) done: dropping input until the FIN */
    ULONGLONG linger_end;   /* when a shut connection is closed anyway */
    size_t drained;         /* bytes dropped since the shutdown */
    struct client *next;    /* in a worker's inbox */
} client;

typedef struct worker {
    struct eventselect_server *owner;
    HANDLE thread;
    HANDLE wake;            /* auto-reset; events[0] */
    int failed;             /* its wait failed: the server stops with exit code 1 */
    /* Guarded by owner->lock: the hand-over from the accepting thread. */
    client *inbox;          /* sockets handed over, not yet in the arrays */
    int assigned;           /* slots taken: in the arrays or in the inbox */
    /* The worker thread's alone: no other thread reads or moves them. */
    DWORD count;            /* events in use, the wake-up event included */
    WSAEVENT events[WSA_MAXIMUM_WAIT_EVENTS];
    client *clients[WSA_MAXIMUM_WAIT_EVENTS];   /* clients[i] owns events[i], i >= 1 */
    char buf[RECV_SIZE];    /* one recv at a time; only its n bytes are used */
} worker;

typedef struct eventselect_server {
    server base;
    CRITICAL_SECTION lock;  /* guards live, stopping, and each worker's inbox and assigned */
    WSAEVENT accept_event;  /* FD_ACCEPT of the listening socket */
    worker **workers;       /* started on demand; the array is the main thread's alone */
    int worker_count, worker_max;
    int live;               /* connections handed to workers and not closed yet */
    int stopping;           /* set once the main thread hands nothing over any more */
    int failed;             /* a worker's wait failed: exit code 1 */
} eventselect_server;

/* Sends replies until they are all out or the socket has no room. A
 * non-blocking WSASend may take part of them; WSAEWOULDBLOCK is not an
 * error: it arms FD_WRITE, which says when to go on. -1 on error. */
static int send_replies(client *c)
{
    session_iov iov[SEND_IOV];
    WSABUF bufs[SEND_IOV];
    DWORD sent;
    size_t n, i;

    while (c->can_write && (n = session_output(&c->sess, iov, SEND_IOV)) > 0) {
        for (i = 0; i < n; i++) {
            bufs[i].buf = (char *)iov[i].base;
            bufs[i].len = (ULONG)iov[i].len;
        }
        if (WSASend(c->sock, bufs, (DWORD)n, &sent, 0, NULL, NULL) == SOCKET_ERROR) {
            int err = WSAGetLastError();
            if (err == WSAEWOULDBLOCK) {
                c->can_write = 0;
                return 0;
            }
            if (log_enabled(LOG_VERBOSE))
                net_log_error("WSASend", err);
            return -1;
        }
        session_sent(&c->sess, sent);
    }
    return 0;
}

/* One recv for one notification; 0, or -1 after a socket error. */
static int receive(worker *w, client *c)
{
    int n;

    /* [step 8] get the result: a byte count, 0 for FIN, or SOCKET_ERROR */
    n = recv(c->sock, w->buf, (int)sizeof w->buf, 0);
    if (n == SOCKET_ERROR) {
        int err = WSAGetLastError();
        if (err == WSAEWOULDBLOCK) {   /* nothing there after all; FD_READ is armed again */
            c->readable = 0;
            return 0;
        }
        if (log_enabled(LOG_VERBOSE))
            net_log_error("recv", err);
        session_on_abort(&c->sess);
        return -1;
    }
    /* [step 9] use the data: only the n bytes received, then the replies */
    if (n == 0) {
        c->eof = 1;
        session_on_eof(&c->sess);
    } else {
        session_on_data(&c->sess, w->buf, (size_t)n);
    }
    if (send_replies(c) != 0) {
        session_on_abort(&c->sess);
        return -1;
    }
    /* [step 10] receive again: this recv re-enabled FD_READ, which Winsock
     * records again at once if bytes remain. After FD_CLOSE nothing more is
     * promised, so the connection stays readable until recv returns 0. */
    if (n == 0 || !c->peer_closed)
        c->readable = 0;
    return 0;
}

/* [step 11] close a connection: once the session is done, shutdown(SD_SEND)
 * sends the FIN behind the last reply; the input is then read and dropped
 * until the peer's FIN, because closing with unread input sends a reset
 * that can destroy the ERROR frame the peer has not read yet. Bounded in
 * time and bytes. After a socket error the close is abortive. */
static int begin_close(client *c)
{
    if (shutdown(c->sock, SD_SEND) == SOCKET_ERROR) {
        if (log_enabled(LOG_VERBOSE))
            net_log_error("shutdown", WSAGetLastError());
        return CLIENT_ABORT;
    }
    c->shut = 1;
    c->linger_end = GetTickCount64() + LINGER_MS;
    return c->eof ? CLIENT_CLOSE : CLIENT_KEEP;   /* the FIN came already: nothing to drain */
}

/* Drops what the peer still sends, one recv per notification as in
 * receive(), until its FIN. */
static int drain_input(worker *w, client *c)
{
    while (c->readable) {
        int n = recv(c->sock, w->buf, (int)sizeof w->buf, 0);
        if (n == 0)
            return CLIENT_CLOSE;
        if (n == SOCKET_ERROR) {
            int err = WSAGetLastError();
            if (err == WSAEWOULDBLOCK) {
                c->readable = 0;
                return CLIENT_KEEP;
            }
            if (log_enabled(LOG_VERBOSE))
                net_log_error("recv (closing)", err);
            return CLIENT_ABORT;
        }
        c->drained += (size_t)n;
        if (c->drained >= LINGER_BYTES)
            return CLIENT_CLOSE;
        if (!c->peer_closed)
            c->readable = 0;
    }
    return CLIENT_KEEP;
}

static void release_slot(worker *w)
{
    EnterCriticalSection(&w->owner->lock);
    w->assigned--;
    w->owner->live--;
    LeaveCriticalSection(&w->owner->lock);
}

/* Frees a connection's memory and slot; its socket and event are closed. */
static void free_client(worker *w, client *c)
{
    stats *st = &w->owner->base.st;

    session_free(&c->sess);
    free(c);
    stats_closed(st, RES_BLOCK);
    stats_connection_closed(st);
    release_slot(w);
}

/* A connection that never got into the arrays (or after a worker failed). */
static void discard_client(worker *w, client *c)
{
    net_abort(&w->owner->base.st, c->sock);
    free_client(w, c);
}

static void close_client(worker *w, DWORD i, int action)
{
    client *c = w->clients[i];
    stats *st = &w->owner->base.st;

    if (action == CLIENT_ABORT)
        net_abort(st, c->sock);
    else
        net_close(st, c->sock);   /* closing the socket also ends its WSAEventSelect */
    if (!WSACloseEvent(c->event))
        net_log_error("WSACloseEvent", WSAGetLastError());
    stats_closed(st, RES_HANDLE);
    free_client(w, c);
    /* The owner thread compacts its own arrays: the last slot moves into
     * the hole, event and client together. No other thread reads them, and
     * nothing points into a client's memory from outside it. */
    w->count--;
    w->events[i] = w->events[w->count];
    w->clients[i] = w->clients[w->count];
}

static void close_all(worker *w)
{
    while (w->count > 1)
        close_client(w, w->count - 1, CLIENT_CLOSE);
}

/* Closes the shut connections whose drain time ran out; returns the wait's
 * timeout: until the next one is due, or WSA_INFINITE. */
static DWORD expire_lingering(worker *w)
{
    ULONGLONG now = GetTickCount64();
    DWORD timeout = WSA_INFINITE, i = 1;

    while (i < w->count) {
        client *c = w->clients[i];
        if (c->shut && now >= c->linger_end) {
            close_client(w, i, CLIENT_CLOSE);   /* slot i now holds another client */
            continue;
        }
        if (c->shut && c->linger_end - now < timeout)
            timeout = (DWORD)(c->linger_end - now);
        i++;
    }
    return timeout;
}

/* Serves a connection after its events: the replies that waited for room,
 * then a recv while the session takes more input, then the close. */
static int client_run(worker *w, client *c)
{
    if (send_replies(c) != 0) {
        session_on_abort(&c->sess);
        return CLIENT_ABORT;
    }
    for (;;) {
        if (c->shut)
            return drain_input(w, c);
        if (session_done(&c->sess)) {
            int action = begin_close(c);
            if (action != CLIENT_KEEP)
                return action;
            continue;
        }
        /* Backpressure: no recv while the replies are over the bound. The
         * skipped notification is not repeated (no recv re-enabled it), so
         * `readable` stays set and the recv happens here once a later
         * FD_WRITE let send_replies() drain the queue. */
        if (!c->readable || !session_can_read(&c->sess))
            return CLIENT_KEEP;
        if (receive(w, c) != 0)
            return CLIENT_ABORT;
    }
}

/* 1 when the event `bit` was reported with an error (its own iErrorCode). */
static int event_failed(const WSANETWORKEVENTS *ne, long bit, int index, const char *name)
{
    if ((ne->lNetworkEvents & bit) == 0 || ne->iErrorCode[index] == 0)
        return 0;
    if (log_enabled(LOG_VERBOSE))
        net_log_error(name, ne->iErrorCode[index]);
    return 1;
}

static int client_events(worker *w, client *c)
{
    WSANETWORKEVENTS ne;

    /* [step 7] find out which operation: WSAEnumNetworkEvents reports the
     * events recorded since the last call, each with its error code, and
     * resets the event object */
    if (WSAEnumNetworkEvents(c->sock, c->event, &ne) == SOCKET_ERROR) {
        net_log_error("WSAEnumNetworkEvents", WSAGetLastError());
        session_on_abort(&c->sess);
        return CLIENT_ABORT;
    }
    if (event_failed(&ne, FD_READ, FD_READ_BIT, "FD_READ")
        || event_failed(&ne, FD_WRITE, FD_WRITE_BIT, "FD_WRITE")
        || event_failed(&ne, FD_CLOSE, FD_CLOSE_BIT, "FD_CLOSE")) {
        session_on_abort(&c->sess);   /* a reset or a failure: a partial frame counts */
        return CLIENT_ABORT;
    }
    if (ne.lNetworkEvents & FD_WRITE)
        c->can_write = 1;
    if (ne.lNetworkEvents & (FD_READ | FD_CLOSE))
        c->readable = 1;
    /* FIN with error 0; under Wine also a reset that came while no recv
     * was pending. Bytes may still wait before the end: read them. */
    if (ne.lNetworkEvents & FD_CLOSE)
        c->peer_closed = 1;
    return client_run(w, c);
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

/* The wait returns the lowest signalled index only (i here). Serving that
 * one alone would starve the sockets after a busy one, so every event
 * signalled from there on is served before the next wait. */
static void serve_signalled(worker *w, DWORD i)
{
    while (i < w->count) {
        int action = client_events(w, w->clients[i]);
        if (action == CLIENT_KEEP)
            i++;
        else
            close_client(w, i, action);   /* the last client moved into slot i: look at it too */
        i = next_signalled(w, i);
    }
}

/* [step 5] start receiving: the worker gives the socket an event of its
 * own, asks for FD_READ, FD_WRITE and FD_CLOSE on it, and puts both in a
 * slot of its arrays */
static void adopt(worker *w, client *c)
{
    stats *st = &w->owner->base.st;

    c->event = WSACreateEvent();
    if (c->event == WSA_INVALID_EVENT) {
        net_log_error("WSACreateEvent", WSAGetLastError());
        discard_client(w, c);
        return;
    }
    stats_opened(st, RES_HANDLE);
    /* This replaces the FD_ACCEPT selection that the socket inherited from
     * the listening socket. Whatever happened since accept() (bytes that
     * came, the room to send) is recorded at once, so nothing is lost. */
    if (WSAEventSelect(c->sock, c->event, FD_READ | FD_WRITE | FD_CLOSE) == SOCKET_ERROR) {
        net_log_error("WSAEventSelect", WSAGetLastError());
        if (!WSACloseEvent(c->event))
            net_log_error("WSACloseEvent", WSAGetLastError());
        stats_closed(st, RES_HANDLE);
        discard_client(w, c);
        return;
    }
    w->events[w->count] = c->event;
    w->clients[w->count] = c;
    w->count++;
}

/* The wake-up event fired: adopts the sockets handed over. Returns 0 when
 * the server stops; the inbox and the flag are read under one lock, so a
 * socket handed over before the stop is never missed. */
static int worker_wake(worker *w)
{
    eventselect_server *es = w->owner;
    client *c, *next;
    int stopping;

    EnterCriticalSection(&es->lock);
    c = w->inbox;
    w->inbox = NULL;
    stopping = es->stopping;
    LeaveCriticalSection(&es->lock);
    for (; c != NULL; c = next) {
        next = c->next;
        adopt(w, c);
    }
    return !stopping;
}

static DWORD WINAPI worker_main(void *arg)
{
    worker *w = (worker *)arg;
    DWORD rc, first, timeout;

    for (;;) {
        timeout = expire_lingering(w);   /* may close connections: before w->count is read */
        /* [step 6] wait for something to happen: one wait over the wake-up
         * event and the events of up to 63 sockets (64 handles at most) */
        rc = WSAWaitForMultipleEvents(w->count, w->events, FALSE, timeout, FALSE);
        if (rc == WSA_WAIT_FAILED) {
            net_log_error("WSAWaitForMultipleEvents", WSAGetLastError());
            w->failed = 1;
            stop_request(&w->owner->base.stop);
            break;
        }
        if (rc == WSA_WAIT_TIMEOUT)
            continue;   /* a lingering close is due */
        first = rc - WSA_WAIT_EVENT_0;   /* the lowest signalled index */
        if (first == 0 && !worker_wake(w))
            break;
        serve_signalled(w, first == 0 ? next_signalled(w, 1) : first);
    }
    close_all(w);
    return 0;
}

static void worker_free(eventselect_server *es, worker *w)
{
    if (!CloseHandle(w->wake))
        log_error("CloseHandle (wake-up): error %lu", GetLastError());
    stats_closed(&es->base.st, RES_HANDLE);
    free(w);
    stats_closed(&es->base.st, RES_BLOCK);
}

/* [step 4] prepare the connection for the model: its state, and a worker
 * thread with a free slot; a worker waits on at most 64 handles, its
 * wake-up event and 63 sockets' events */
static worker *worker_new(eventselect_server *es)
{
    worker *w = (worker *)calloc(1, sizeof *w);

    if (w == NULL) {
        log_error("calloc: out of memory for a worker");
        return NULL;
    }
    stats_opened(&es->base.st, RES_BLOCK);
    w->owner = es;
    w->wake = CreateEventA(NULL, FALSE, FALSE, NULL);   /* auto-reset: the wait resets it */
    if (w->wake == NULL) {
        log_error("CreateEvent (wake-up): error %lu", GetLastError());
        free(w);
        stats_closed(&es->base.st, RES_BLOCK);
        return NULL;
    }
    stats_opened(&es->base.st, RES_HANDLE);
    w->events[0] = w->wake;
    w->count = 1;
    w->thread = server_thread(&es->base, worker_main, w, WORKER_STACK_RESERVE);
    if (w->thread == NULL) {
        worker_free(es, w);
        return NULL;
    }
    log_debug("worker %d started", es->worker_count + 1);
    return w;
}

/* Takes a slot in the first worker with room, starting a worker when all
 * are full; NULL when the server is full. Called with es->lock held. */
static worker *reserve_slot(eventselect_server *es)
{
    worker *w;
    int i = 0;

    if (es->live >= es->base.opt.max_clients)
        return NULL;
    while (i < es->worker_count && es->workers[i]->assigned >= SLOTS_PER_WORKER)
        i++;
    if (i == es->worker_count) {
        if (i == es->worker_max || (es->workers[i] = worker_new(es)) == NULL)
            return NULL;
        es->worker_count++;
    }
    w = es->workers[i];
    w->assigned++;
    es->live++;
    return w;
}

/* The accepting thread makes the state; the worker adds it to its arrays
 * when its wake-up event fires (article 003 waits with a timeout to notice
 * new sockets instead, and appends to arrays another thread is reading). */
static void take_connection(eventselect_server *es, SOCKET s)
{
    stats *st = &es->base.st;
    worker *w;
    client *c;

    EnterCriticalSection(&es->lock);
    w = reserve_slot(es);
    LeaveCriticalSection(&es->lock);
    if (w == NULL) {
        net_refuse(st, s);
        return;
    }
    c = (client *)calloc(1, sizeof *c);
    if (c == NULL) {
        log_error("calloc: out of memory for a connection");
        release_slot(w);
        net_abort(st, s);
        return;
    }
    stats_opened(st, RES_BLOCK);
    c->sock = s;
    c->can_write = 1;   /* a new socket has room: send until WSAEWOULDBLOCK */
    session_init(&c->sess, &es->base.env);
    stats_connection_opened(st);
    EnterCriticalSection(&es->lock);
    c->next = w->inbox;
    w->inbox = c;
    LeaveCriticalSection(&es->lock);
    if (!SetEvent(w->wake))
        log_error("SetEvent (wake-up): error %lu", GetLastError());
}

/* An accept() failure: 0 to go on (a transient error), -1 to stop. */
static int accept_failed(int err)
{
    if (err == WSAEWOULDBLOCK)
        return 0;   /* the connection went away before accept() */
    if (err == WSAECONNRESET) {
        if (log_enabled(LOG_VERBOSE))
            net_log_error("accept", err);
        return 0;
    }
    net_log_error("accept", err);
    if (err == WSAEMFILE || err == WSAENOBUFS) {
        Sleep(10);  /* out of sockets: FD_ACCEPT fires again, try shortly */
        return 0;
    }
    return -1;
}

static int accept_one(eventselect_server *es)
{
    WSANETWORKEVENTS ne;
    SOCKET s;

    /* [step 3] accept a connection: one accept() per FD_ACCEPT. accept()
     * re-enables FD_ACCEPT, which fires again while connections wait; under
     * Wine, accepting until WSAEWOULDBLOCK loses the notification. */
    if (WSAEnumNetworkEvents(es->base.listener, es->accept_event, &ne) == SOCKET_ERROR) {
        net_log_error("WSAEnumNetworkEvents (listener)", WSAGetLastError());
        return -1;
    }
    if ((ne.lNetworkEvents & FD_ACCEPT) == 0)
        return 0;
    if (ne.iErrorCode[FD_ACCEPT_BIT] != 0)   /* logged; accept() still re-enables FD_ACCEPT */
        net_log_error("FD_ACCEPT", ne.iErrorCode[FD_ACCEPT_BIT]);
    /* The socket inherits the listener's selection and non-blocking mode. */
    s = accept(es->base.listener, NULL, NULL);
    if (s == INVALID_SOCKET)
        return accept_failed(WSAGetLastError());
    net_accepted(&es->base.st);
    take_connection(es, s);
    return 0;
}

/* The main thread's job while the server runs; 0 when stopped, -1 on a
 * failure. */
static int accept_loop(eventselect_server *es)
{
    WSAEVENT waits[2];
    DWORD rc;

    waits[0] = es->base.stop.event;   /* index 0 wins when both are set */
    waits[1] = es->accept_event;
    for (;;) {
        rc = WSAWaitForMultipleEvents(2, waits, FALSE, WSA_INFINITE, FALSE);
        if (rc == WSA_WAIT_FAILED) {
            net_log_error("WSAWaitForMultipleEvents (accept)", WSAGetLastError());
            return -1;
        }
        if (rc == WSA_WAIT_EVENT_0)
            return 0;
        if (accept_one(es) != 0)
            return -1;
    }
}

/* FD_ACCEPT on the listening socket; WSAEventSelect makes it non-blocking. */
static int listen_events(eventselect_server *es)
{
    es->accept_event = WSACreateEvent();
    if (es->accept_event == WSA_INVALID_EVENT) {
        net_log_error("WSACreateEvent (listener)", WSAGetLastError());
        return -1;
    }
    stats_opened(&es->base.st, RES_HANDLE);
    if (WSAEventSelect(es->base.listener, es->accept_event, FD_ACCEPT) == SOCKET_ERROR) {
        net_log_error("WSAEventSelect (listener)", WSAGetLastError());
        return -1;
    }
    return 0;
}

/* Sockets handed over after a worker ended on a failed wait. */
static void discard_inbox(worker *w)
{
    client *c, *next;

    for (c = w->inbox; c != NULL; c = next) {
        next = c->next;
        discard_client(w, c);
    }
    w->inbox = NULL;
}

/* [step 12] stop the server: no more accepts; every worker closes its
 * connections when woken, then it is joined and freed */
static void stop_workers(eventselect_server *es)
{
    int i;

    server_close_listener(&es->base);
    EnterCriticalSection(&es->lock);
    es->stopping = 1;
    LeaveCriticalSection(&es->lock);
    for (i = 0; i < es->worker_count; i++)
        if (!SetEvent(es->workers[i]->wake))
            log_error("SetEvent (wake-up): error %lu", GetLastError());
    for (i = 0; i < es->worker_count; i++) {
        worker *w = es->workers[i];
        server_join(&es->base, w->thread);
        if (w->failed)
            es->failed = 1;
        discard_inbox(w);
        worker_free(es, w);
    }
    es->worker_count = 0;
}

static int run(eventselect_server *es)
{
    int rc = -1;

    es->worker_max = (es->base.opt.max_clients + SLOTS_PER_WORKER - 1) / SLOTS_PER_WORKER;
    es->workers = (worker **)calloc((size_t)es->worker_max, sizeof *es->workers);
    if (es->workers == NULL) {
        log_error("calloc: out of memory for %d workers", es->worker_max);
        return -1;
    }
    stats_opened(&es->base.st, RES_BLOCK);
    es->accept_event = WSA_INVALID_EVENT;
    if (listen_events(es) == 0)
        rc = accept_loop(es);
    stop_workers(es);
    if (es->accept_event != WSA_INVALID_EVENT) {
        if (!WSACloseEvent(es->accept_event))
            net_log_error("WSACloseEvent (listener)", WSAGetLastError());
        stats_closed(&es->base.st, RES_HANDLE);
    }
    free(es->workers);
    stats_closed(&es->base.st, RES_BLOCK);
    return rc == 0 && !es->failed ? 0 : -1;
}

int main(int argc, char **argv)
{
    eventselect_server es;
    int rc;

    memset(&es, 0, sizeof es);
    /* [step 2] create the listening socket (in server_start, common/server.c) */
    rc = server_start(&es.base, &eventselect_model, argc, argv);
    if (rc != SERVER_RUN)
        return rc;
    InitializeCriticalSection(&es.lock);
    rc = run(&es);
    DeleteCriticalSection(&es.lock);
    return server_finish(&es.base, rc);
}
