/* 07_asyncselect/server.c - WSAAsyncSelect: network events as window messages.
 *
 * Article:
 * none of the articles (shared/seeds/) uses it: it is the model that Jones
 * and Ohlund teach before event objects, and the "WSAAsyncSelect" row of
 * their comparison table (REFERENCE.md section 2). The I/O itself stays
 * non-blocking recv() and send(), as in 02 and 03.
 *
 * How it works:
 * one thread owns a message-only window (HWND_MESSAGE: no desktop, never
 * shown) and runs its message loop. WSAAsyncSelect asks Winsock to post a
 * message to that window on FD_ACCEPT for the listening socket, and on
 * FD_READ, FD_WRITE or FD_CLOSE for a connection: wParam is the socket,
 * lParam the event and its error (WSAGETSELECTEVENT, WSAGETSELECTERROR).
 * The loop takes one message at a time, finds the connection from the
 * socket in a hash table and serves it: one accept() per FD_ACCEPT, one
 * recv() per FD_READ, sends until WSAEWOULDBLOCK. The main thread waits for
 * the stop event and passes the stop on to the window as a posted message.
 *
 * What changes from the previous model:
 * (06_iocp) back to readiness, as in 03: no operation is posted and
 * forgotten; Winsock says when a call will not block, and the call does the
 * I/O. What carries the notice is new: not an event object per socket in a
 * wait of at most 64 handles, but a message in one thread's queue, so one
 * thread serves every socket, with no pool, no lock and no 64-handle
 * limit. The re-enabling rules are WSAEventSelect's: a notice is posted
 * once, then again only after the call that re-enables it (recv() for
 * FD_READ, accept() for FD_ACCEPT, a send that failed with WSAEWOULDBLOCK
 * for FD_WRITE).
 *
 * Limits:
 * one thread does everything: the server uses one CPU, a slow call stalls
 * every connection, and a notice waits behind every notice posted before
 * it (under Wine, 1000 busy connections kept up to 2,200 notices queued,
 * each waiting up to 0.75 s). Windows allows 10,000 posted messages per
 * queue (USERPostMessageLimit, on Microsoft's PostMessage page), and what
 * Winsock does with a notice it cannot post is not documented. A
 * connection has at most three notices posted at a time (FD_READ,
 * FD_WRITE, FD_CLOSE), so the documented capacity is 3,000 connections
 * (--max-clients): at most 9,000 notices, with room left in the quota for
 * those of connections just closed; one beyond it is refused with an ERROR
 * frame. Wine 8 has no quota (a queue took 200,000 posted messages): there
 * 10,000 connections held at once work, and when all of them send at once
 * about 9,500 notices wait in the queue, the last for 3 s; the stop then
 * takes 2.6 s, a closesocket after another. --threads is unused.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

#define RECV_SIZE (64u * 1024u)   /* the window thread's one buffer */
#define SWEEP_MS 250              /* the window's timer: drains whose time is up */
#define ACCEPT_BURST 256          /* accepts in a row before other notices get a turn */
#define TABLE_MAX (1u << 16)      /* buckets of the socket -> connection table, at most */
/* The messages, all in the WM_APP range, which is the application's own. */
#define MSG_STOP (WM_APP + 0)     /* posted by the main thread: stop */
#define MSG_ACCEPT (WM_APP + 1)   /* FD_ACCEPT on the listening socket */
#define MSG_CONN_FIRST (WM_APP + 2)
#define MSG_CONN_COUNT 4096u      /* connections' message numbers, in turn (hand_over) */

#if MSG_CONN_FIRST + MSG_CONN_COUNT > 0xC000
#error "the connections' messages must stay in the WM_APP range (up to 0xBFFF)"
#endif
#if MSG_CONN_COUNT <= 2 * ACCEPT_BURST
#error "a message number must not come back while a notice of its last holder may be queued"
#endif

static const server_model model_info = {
    "asyncselect", "WSAAsyncSelect, every socket's events as messages to one window",
    3000, 0, NULL, NULL
};

/* [step 1] define the state
 * one connection, found from its socket in the server's hash table; only
 * the window's thread touches it */
/* What serving a connection decided. */
enum conn_result { CONN_KEEP, CONN_CLOSE, CONN_ABORT };

typedef struct conn {
    struct model_server *srv;
    SOCKET sock;
    session sess;
    net_drain drain;
    int draining;                 /* shutdown(SD_SEND) done: reading until the peer's FIN */
    struct conn *chain;           /* the next connection in its bucket of srv->table */
    UINT msg;                     /* the message number of its notices */
    int can_write;                /* send until WSAEWOULDBLOCK; then FD_WRITE sets it again */
    int readable;                 /* an FD_READ or FD_CLOSE not yet answered by a recv */
    int peer_closed;              /* FD_CLOSE seen: read to the end, no FD_READ is promised */
    int eof;                      /* recv returned 0 */
} conn;

/* The window's thread and what it owns: every connection is served here. */
typedef struct worker {
    struct model_server *srv;
    HANDLE thread;
    HANDLE ready;                 /* set once the window exists, or failed */
    HWND window;                  /* message-only; its thread's queue gets every notice */
    int accepts;                  /* connections accepted in a row (next_message) */
    char buf[RECV_SIZE];
} worker;

/* The connections by socket: a hash table of srv->table_mask + 1 buckets
 * (a power of two, from --max-clients, made once), chained through
 * conn.chain. A lookup per message costs a bucket and a short chain, and
 * adding or removing a connection moves nothing; a sorted array would cost
 * a binary search per message and move up to every entry per accept and
 * close. */
typedef struct model_server {
    server base;
    worker *w;                    /* the window's thread, for the main thread (set once the
                                   * thread runs: the thread itself has its own pointer) */
    conn **table;
    size_t table_mask;
    int live_count;               /* connections in the table */
    UINT next_msg;                /* the next connection's message, less MSG_CONN_FIRST */
} model_server;

/* The bucket of socket s. Socket values are handles, multiples of 4 on
 * Windows and under Wine, so the two low bits say nothing; a collision
 * only makes a chain longer. */
static conn **table_slot(model_server *srv, SOCKET s)
{
    return &srv->table[(size_t)(s >> 2) & srv->table_mask];
}

static void table_add(model_server *srv, conn *c)
{
    conn **slot = table_slot(srv, c->sock);

    c->chain = *slot;
    *slot = c;
    srv->live_count++;
}

static void table_remove(model_server *srv, conn *c)
{
    conn **p = table_slot(srv, c->sock);

    while (*p != NULL && *p != c)
        p = &(*p)->chain;
    assert(*p == c);   /* c is in its bucket until conn_close() */
    *p = c->chain;
    srv->live_count--;
}

static int run(model_server *srv);
static int start_model(model_server *srv);
static int main_loop(model_server *srv);
static void stop_server(model_server *srv);
static int server_full(model_server *srv);
static void hand_over(model_server *srv, SOCKET s, worker *w);
static worker *worker_new(model_server *srv);
static DWORD WINAPI worker_main(void *arg);
static void watch(worker *w, conn *c);
static void sweep(worker *w);
static void serve_message(worker *w, const MSG *m);
static void serve_events(worker *w, conn *c, enum conn_result r);
static enum conn_result network_event(conn *c, int event, int err);
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

/* The hash table, sized once from --max-clients; then the window's
 * thread, which asks for FD_ACCEPT on the listening socket. */
static int start_model(model_server *srv)
{
    size_t size = 1;

    while (size < (size_t)srv->base.opt.max_clients && size < TABLE_MAX)
        size *= 2;
    srv->table = (conn **)server_alloc(&srv->base, size * sizeof *srv->table);
    if (srv->table == NULL)
        return -1;
    srv->table_mask = size - 1;
    srv->w = worker_new(srv);
    return srv->w != NULL ? 0 : -1;
}

/* The main thread only waits for the stop: the window's thread serves
 * everything, and stop_server() posts it the stop. */
static int main_loop(model_server *srv)
{
    return server_wait_stop(&srv->base);
}

/* [step 3] accept a connection
 * one accept() per FD_ACCEPT. accept() re-enables FD_ACCEPT, which is
 * posted again at once while connections wait (and taken first:
 * next_message()). 1 when a socket was accepted. */
static int accept_ready(model_server *srv, int err, worker *w)
{
    SOCKET s;

    if (err != 0)   /* logged; accept() still re-enables FD_ACCEPT */
        net_log_error("FD_ACCEPT", err);
    /* The socket inherits the listener's selection and non-blocking mode. */
    s = accept(srv->base.listener, NULL, NULL);
    if (s == INVALID_SOCKET) {
        /* ACCEPT_END: a fatal error stopped the server; the main thread
         * posts the stop. Out of sockets, the one thread pauses: even a
         * failed accept() re-enables FD_ACCEPT, posted again at once. */
        if (server_accept_failed(&srv->base, WSAGetLastError()) == ACCEPT_PAUSE)
            Sleep(SERVER_ACCEPT_PAUSE_MS);
        return 0;
    }
    net_accepted(&srv->base.st);
    if (server_full(srv))
        net_refuse(&srv->base.st, s);
    else
        hand_over(srv, s, w);
    return 1;
}

/* [step 4] prepare the connection for the model
 * its state, in the hash table under its socket, with a message number of
 * its own; the window every notice goes to is made once, by the thread
 * that runs its message loop (a window's messages go to the queue of the
 * thread that created it) */
static const wchar_t window_class[] = L"wsm_asyncselect";

/* The window procedure is DefWindowProcW: the loop takes the posted
 * messages from GetMessage and serves them itself. */
static int open_window(worker *w)
{
    WNDCLASSEXW wc;

    memset(&wc, 0, sizeof wc);
    wc.cbSize = sizeof wc;
    wc.lpfnWndProc = DefWindowProcW;
    wc.hInstance = GetModuleHandleW(NULL);
    wc.lpszClassName = window_class;
    if (RegisterClassExW(&wc) == 0) {
        log_error("RegisterClassEx: error %lu", GetLastError());
        return -1;
    }
    w->window = CreateWindowExW(0, window_class, L"asyncselect_server", 0, 0, 0, 0, 0,
                                HWND_MESSAGE, NULL, wc.hInstance, NULL);
    if (w->window == NULL) {
        log_error("CreateWindowEx (HWND_MESSAGE): error %lu", GetLastError());
        if (!UnregisterClassW(window_class, wc.hInstance))
            log_error("UnregisterClass: error %lu", GetLastError());
        return -1;
    }
    stats_opened(&w->srv->base.st, RES_HANDLE);
    return 0;
}

/* Only the thread that made the window may destroy it. */
static void close_window(worker *w)
{
    if (!DestroyWindow(w->window))   /* its timer goes with it */
        log_error("DestroyWindow: error %lu", GetLastError());
    stats_closed(&w->srv->base.st, RES_HANDLE);
    if (!UnregisterClassW(window_class, GetModuleHandleW(NULL)))
        log_error("UnregisterClass: error %lu", GetLastError());
}

/* The window, the drains' timer and FD_ACCEPT on the listening socket;
 * the listener's selection makes it non-blocking. */
static int start_window(worker *w)
{
    if (open_window(w) != 0)
        return -1;
    if (SetTimer(w->window, 1, SWEEP_MS, NULL) == 0) {
        log_error("SetTimer: error %lu", GetLastError());
    } else if (WSAAsyncSelect(w->srv->base.listener, w->window, MSG_ACCEPT, FD_ACCEPT)
               == SOCKET_ERROR) {
        net_log_error("WSAAsyncSelect (listener)", WSAGetLastError());
    } else {
        return 0;
    }
    close_window(w);
    return -1;
}

static void worker_free(model_server *srv, worker *w)
{
    if (!CloseHandle(w->ready))
        log_error("CloseHandle (ready): error %lu", GetLastError());
    stats_closed(&srv->base.st, RES_HANDLE);
    server_free(&srv->base, w);
}

/* The window's thread, waited for until its window exists (the main
 * thread posts the stop to it); NULL when either could not be made. */
static worker *worker_new(model_server *srv)
{
    worker *w = (worker *)server_alloc(&srv->base, sizeof *w);

    if (w == NULL)
        return NULL;
    w->srv = srv;
    w->ready = CreateEventW(NULL, TRUE, FALSE, NULL);
    if (w->ready == NULL) {
        log_error("CreateEvent (ready): error %lu", GetLastError());
        server_free(&srv->base, w);
        return NULL;
    }
    stats_opened(&srv->base.st, RES_HANDLE);
    w->thread = server_thread(&srv->base, worker_main, w);
    if (w->thread != NULL && WaitForSingleObject(w->ready, INFINITE) == WAIT_FAILED)
        log_error("WaitForSingleObject (ready): error %lu", GetLastError());
    if (w->thread != NULL && w->window == NULL) {   /* no window: the thread ends */
        server_join(&srv->base, w->thread);
        w->thread = NULL;
    }
    if (w->thread == NULL) {
        worker_free(srv, w);
        return NULL;
    }
    return w;
}

static int server_full(model_server *srv)
{
    return srv->live_count >= srv->base.opt.max_clients;
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

/* Accepting runs on the window's thread too, so the hand-over is direct:
 * the connection joins the table and the window's notices. Messages posted
 * for a socket before it was closed stay in the queue (Microsoft's
 * WSAAsyncSelect page), and accept() may give the same socket value to the
 * next connection meanwhile; a message number of its own, taken in turn,
 * tells the new connection's notices from the old one's. A number comes
 * back after MSG_CONN_COUNT accepts, and at most two bursts of accepts can
 * pass a queued notice (one FD_ACCEPT is posted at a time), so by then the
 * old notices are gone. */
static void hand_over(model_server *srv, SOCKET s, worker *w)
{
    conn *c = conn_new(srv, s);

    if (c == NULL)
        return;
    c->can_write = 1;   /* a new socket has room: send until WSAEWOULDBLOCK */
    c->msg = MSG_CONN_FIRST + srv->next_msg;
    srv->next_msg = (srv->next_msg + 1) % MSG_CONN_COUNT;
    table_add(srv, c);
    watch(w, c);
}

/* [step 5] start receiving
 * WSAAsyncSelect asks for FD_READ, FD_WRITE and FD_CLOSE on the socket,
 * posted to the window with the connection's message number */
static void watch(worker *w, conn *c)
{
    /* This replaces the FD_ACCEPT selection that the socket inherited from
     * the listening socket. Whatever happened since accept() (bytes that
     * came, the room to send, the peer's close) is posted at once, as
     * Microsoft's WSAAsyncSelect page says. */
    if (WSAAsyncSelect(c->sock, w->window, c->msg, FD_READ | FD_WRITE | FD_CLOSE)
        == SOCKET_ERROR) {
        net_log_error("WSAAsyncSelect", WSAGetLastError());
        conn_close(c, CONN_ABORT);
        return;
    }
    /* Wine 8 posts nothing for a peer that reset before this call: no
     * FD_CLOSE, no FD_WRITE, and the connection would stay forever. So one
     * recv at once, as if FD_READ had come; on Windows it finds the bytes
     * that FD_READ will announce, or WSAEWOULDBLOCK. */
    c->readable = 1;
    serve_events(w, c, CONN_KEEP);
}

/* [step 6] wait for something to happen
 * GetMessage: the thread sleeps until a message is posted to its queue (a
 * notice, the stop) or the timer is due. Messages come in the order they
 * were posted; WM_TIMER only when no posted message waits. */
/* The FD_ACCEPT that accept() re-enabled is posted behind every notice
 * already queued, so one accept per FD_ACCEPT would accept one connection
 * per pass over the queue, and a client would wait seconds for its accept
 * (measured: 1000 connections at once, 15 to 104 waited over 10 s). After
 * an accept, the next FD_ACCEPT is taken first (PeekMessage filtered to
 * it), ACCEPT_BURST times in a row at most, so that the connections
 * already open still get their turn. */
static BOOL next_message(worker *w, MSG *m)
{
    if (w->accepts > 0 && w->accepts < ACCEPT_BURST
        && PeekMessageW(m, w->window, MSG_ACCEPT, MSG_ACCEPT, PM_REMOVE))
        return TRUE;
    w->accepts = 0;   /* the burst is over, or none began */
    return GetMessageW(m, NULL, 0, 0);
}

static DWORD WINAPI worker_main(void *arg)
{
    worker *w = (worker *)arg;
    model_server *srv = w->srv;
    MSG m;
    BOOL rc;
    size_t i;

    if (start_window(w) != 0)
        w->window = NULL;
    if (!SetEvent(w->ready))
        log_error("SetEvent (ready): error %lu", GetLastError());
    if (w->window == NULL)
        return 0;
    while ((rc = next_message(w, &m)) > 0 && m.message != MSG_STOP)
        serve_message(w, &m);
    if (rc == -1) {
        log_error("GetMessage: error %lu", GetLastError());
        server_fail(&srv->base);
    }
    /* Stopping (step 12): the thread closes every connection, unsent
     * replies and all; closesocket still delivers what send() accepted. */
    for (i = 0; i <= srv->table_mask; i++)
        while (srv->table[i] != NULL)
            conn_close(srv->table[i], CONN_CLOSE);
    close_window(w);
    return 0;
}

/* [step 7] find out which connection and which operation
 * the message number says whose notice it is (the listener's, a
 * connection's, or the timer), wParam which socket, lParam which event and
 * its error. The socket finds the connection in the table; a message whose
 * number is not that connection's was posted before its socket was closed,
 * and is dropped. */
static conn *conn_find(model_server *srv, SOCKET s, UINT msg)
{
    conn *c = *table_slot(srv, s);

    while (c != NULL && c->sock != s)
        c = c->chain;
    return c != NULL && c->msg == msg ? c : NULL;
}

static void serve_message(worker *w, const MSG *m)
{
    int event = WSAGETSELECTEVENT(m->lParam), err = WSAGETSELECTERROR(m->lParam);
    conn *c;

    if (m->message == WM_TIMER) {
        sweep(w);
        return;
    }
    if (m->message == MSG_ACCEPT) {
        if ((SOCKET)m->wParam == w->srv->base.listener && (event & FD_ACCEPT) != 0)
            w->accepts = accept_ready(w->srv, err, w) ? w->accepts + 1 : 0;
        return;
    }
    if (m->message - MSG_CONN_FIRST >= MSG_CONN_COUNT) {
        DispatchMessageW(m);   /* not a notice: the window procedure's */
        return;
    }
    c = conn_find(w->srv, (SOCKET)m->wParam, m->message);
    if (c != NULL)   /* else posted before its socket was closed */
        serve_events(w, c, network_event(c, event, err));
}

/* Serves a connection after its notice: the sends and the recv, or the
 * drain, or the close. */
static void serve_events(worker *w, conn *c, enum conn_result r)
{
    if (r == CONN_KEEP && !c->draining)
        r = serve_conn(w, c);
    if (r == CONN_KEEP && c->draining)
        r = drain_input(w, c);   /* at once: the FD_READ seen may be the last notice */
    if (r != CONN_KEEP)
        conn_close(c, r);
}

static const char *event_name(int event)
{
    return event == FD_READ ? "FD_READ" : event == FD_WRITE ? "FD_WRITE" : "FD_CLOSE";
}

/* One notice, one event, with its own error: a reset or a failure ends
 * the connection; FIN comes as FD_CLOSE with error 0. */
static enum conn_result network_event(conn *c, int event, int err)
{
    if (err != 0) {
        net_log_io_error(event_name(event), err);
        session_on_abort(&c->sess);   /* a reset or a failure: a partial frame counts */
        return CONN_ABORT;
    }
    if (event == FD_WRITE)
        c->can_write = 1;
    if (event == FD_READ || event == FD_CLOSE)
        c->readable = 1;
    /* FIN with error 0; under Wine also a reset that came while no recv
     * was pending. Bytes may still wait before the end: read them. */
    if (event == FD_CLOSE)
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

/* Serves a connection after its notice: the replies that waited for room,
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
 * the recv re-enabled FD_READ, which Winsock posts again at once if bytes
 * remain: one recv per FD_READ, as Microsoft's page advises, since each
 * recv that leaves bytes behind brings one more FD_READ. After FD_CLOSE
 * nothing more is promised, so the connection stays readable until recv
 * returns 0. */
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

/* On the window's timer: closes the drains whose time ran out. WM_TIMER
 * comes only when no posted message waits, so a busy server sweeps late,
 * which only keeps a draining socket a little longer. */
static void sweep(worker *w)
{
    model_server *srv = w->srv;
    ULONGLONG now = GetTickCount64();
    conn *c, *next;
    size_t i;

    for (i = 0; i <= srv->table_mask; i++)
        for (c = srv->table[i]; c != NULL; c = next) {
            next = c->chain;   /* c may be freed */
            if (c->draining && net_drain_expired(&c->drain, now))
                conn_close(c, CONN_CLOSE);
        }
}

/* Gracefully (the drain ended, or stop) or abortively after an error. */
static void conn_close(conn *c, enum conn_result how)
{
    stats *st = &c->srv->base.st;

    table_remove(c->srv, c);   /* its notices still queued find no connection */
    if (how == CONN_ABORT)
        net_abort(st, c->sock);
    else
        net_close(st, c->sock);   /* closing the socket also ends its WSAAsyncSelect */
    conn_free(c);
}

/* Frees what a connection holds once its socket is closed. */
static void conn_free(conn *c)
{
    server *base = &c->srv->base;

    server_conn_closed(base, &c->sess);
    server_free(base, c);
}

/* [step 12] stop the server
 * the stop reaches the window's thread as a posted message; it closes its
 * connections and its window and ends, and is joined */
/* While the thread's queue holds its quota of posted messages, PostMessage
 * fails (ERROR_NOT_ENOUGH_QUOTA) until the thread has taken some, so the
 * post is tried again while the thread runs. */
static void post_stop(worker *w)
{
    int logged = 0;

    while (!PostMessageW(w->window, MSG_STOP, 0, 0)) {
        DWORD err = GetLastError();
        if (WaitForSingleObject(w->thread, 10) != WAIT_TIMEOUT)
            return;   /* the thread ended by itself: it failed */
        if (err != ERROR_NOT_ENOUGH_QUOTA && !logged) {
            log_error("PostMessage (stop): error %lu", err);
            logged = 1;
        }
    }
}

static void stop_server(model_server *srv)
{
    stop_request(&srv->base.stop);   /* set already, unless the start failed */
    if (srv->w != NULL) {
        post_stop(srv->w);
        server_join(&srv->base, srv->w->thread);
        worker_free(srv, srv->w);
    }
    server_close_listener(&srv->base);   /* after its window is gone: no more accepts */
    server_free(&srv->base, srv->table);
}
