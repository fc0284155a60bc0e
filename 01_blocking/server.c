/* 01_blocking/server.c - blocking sockets, one thread per client.
 *
 * Article:
 * none of the articles builds it; they start from it implicitly, and
 * every later model exists to remove one of its costs.
 *
 * How it works:
 * an accept thread blocks in accept(); each connection gets
 * its own thread that blocks in recv(), feeds the bytes to the shared
 * session code (common/session.c) and blocks in send() until every reply is
 * out. The main thread waits for the stop signal and reaps connection
 * threads as they finish.
 *
 * What changes from the previous model:
 * nothing; this is the start.
 *
 * Limits:
 * one thread (a stack, a kernel object) per connection. Threads
 * cost memory and scheduling; under Wine a thread costs about 1 MB and 4
 * descriptors, so the documented capacity is 1000 clients
 * (--max-clients), and a connection beyond it is refused with an ERROR
 * frame. Backpressure is free: while send() blocks, the thread reads no
 * more.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

#define RECV_SIZE (16u * 1024u)   /* on the connection thread's stack */

static const server_model model_info = {
    "blocking", "blocking sockets, a thread per client",
    1000, 0, NULL, NULL
};

/* [step 1] define the state
 * one connection, owned by its own thread */
/* What serving a connection decided. */
enum conn_result { CONN_KEEP, CONN_CLOSE, CONN_ABORT };

typedef struct conn {
    struct model_server *srv;
    SOCKET sock;
    session sess;
    net_drain drain;
    HANDLE thread;
    struct conn *prev, *next;     /* in srv->live, then srv->finished */
} conn;

typedef struct model_server {
    server base;
    CRITICAL_SECTION lock;        /* guards the two lists and live_count */
    conn *live;                   /* connections whose thread runs */
    conn *finished;               /* threads that ended, to be joined */
    int live_count;
    HANDLE reap_event;            /* set when a connection thread ends */
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
static DWORD WINAPI worker_main(void *arg);
static enum conn_result serve_conn(conn *c);
static void use_data(conn *c, const char *buf, DWORD n);
static int receive_again(conn *c);
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

/* The lock, the reap event and the accept thread. */
static int start_model(model_server *srv)
{
    InitializeCriticalSection(&srv->lock);
    srv->reap_event = CreateEventA(NULL, FALSE, FALSE, NULL);
    if (srv->reap_event == NULL) {
        log_error("CreateEvent (reap): error %lu", GetLastError());
        return -1;
    }
    stats_opened(&srv->base.st, RES_HANDLE);
    srv->accept_thread = server_thread(&srv->base, accept_main, srv);
    return srv->accept_thread != NULL ? 0 : -1;
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
 * its state, and a thread of its own */
static int live_conns(model_server *srv)
{
    int n;

    EnterCriticalSection(&srv->lock);
    n = srv->live_count;
    LeaveCriticalSection(&srv->lock);
    return n;
}

static int server_full(model_server *srv)
{
    return live_conns(srv) >= srv->base.opt.max_clients;
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

static void hand_over(model_server *srv, SOCKET s)
{
    conn *c = conn_new(srv, s);

    if (c == NULL)
        return;
    /* Under the lock, so the thread cannot end and be reaped before
     * c->thread is set. */
    EnterCriticalSection(&srv->lock);
    c->thread = server_thread(&srv->base, worker_main, c);
    if (c->thread != NULL) {
        list_push(&srv->live, c);
        srv->live_count++;
    }
    LeaveCriticalSection(&srv->lock);
    if (c->thread == NULL) {
        conn_close(c, CONN_ABORT);
        conn_free(c);
    }
}

/* [step 5] start receiving
 * the connection thread's whole life is one loop of blocking calls */
static DWORD WINAPI worker_main(void *arg)
{
    conn *c = (conn *)arg;
    model_server *srv = c->srv;

    conn_close(c, serve_conn(c));
    EnterCriticalSection(&srv->lock);
    list_remove(&srv->live, c);
    srv->live_count--;
    list_push(&srv->finished, c);   /* the main thread joins it and frees c */
    LeaveCriticalSection(&srv->lock);
    SetEvent(srv->reap_event);
    return 0;
}

/* Reads and answers until the session is closing: CONN_CLOSE when the
 * close may be graceful, CONN_ABORT after a socket error. A new session
 * reads, so the first recv() needs no question. */
static enum conn_result serve_conn(conn *c)
{
    char buf[RECV_SIZE];

    do {
        /* [step 6] wait for something to happen
         * recv() blocks this thread until data, FIN or an error */
        int n = recv(c->sock, buf, RECV_SIZE, 0);
        /* [step 8] get the result
         * a byte count, 0 for FIN, or SOCKET_ERROR */
        if (n == SOCKET_ERROR)
            net_log_io_error("recv", WSAGetLastError());
        else
            use_data(c, buf, (DWORD)n);
        /* A blocking send returns once every byte is in the socket's buffer. */
        if (n == SOCKET_ERROR || net_send_ready(c->sock, &c->sess) != NET_SENT) {
            session_on_abort(&c->sess);
            /* At the stop, stop_server()'s shutdown(SD_BOTH) or CancelIoEx
             * made the call fail: a close, not the peer's reset. */
            return stop_requested(&c->srv->base.stop) ? CONN_CLOSE : CONN_ABORT;
        }
    } while (receive_again(c));
    return CONN_CLOSE;
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
 * back to the top of the loop while the session takes input: not after
 * the peer's FIN or a protocol error */
static int receive_again(conn *c)
{
    return session_can_read(&c->sess);
}

/* [step 11] close a connection
 * gracefully after the session ended: shutdown(SD_SEND), drain, close;
 * abortively after a socket error */
static void drain_input(conn *c)
{
    char buf[4096];
    DWORD timeout = NET_LINGER_MS;
    int n;

    if (setsockopt(c->sock, SOL_SOCKET, SO_RCVTIMEO, (const char *)&timeout, sizeof timeout)
        == SOCKET_ERROR)
        return;
    do {
        n = recv(c->sock, buf, (int)sizeof buf, 0);
    } while (n > 0 && !net_drain_done(&c->drain, (size_t)n));
}

/* Takes the socket out of the struct under the lock, so the stopping
 * thread never shuts down a handle that was closed (and maybe reused). */
static SOCKET take_socket(conn *c)
{
    SOCKET s;

    EnterCriticalSection(&c->srv->lock);
    s = c->sock;
    c->sock = INVALID_SOCKET;
    LeaveCriticalSection(&c->srv->lock);
    return s;
}

static void conn_close(conn *c, enum conn_result how)
{
    stats *st = &c->srv->base.st;
    SOCKET s;

    if (how == CONN_CLOSE && net_drain_start(c->sock, &c->drain) == 0)
        drain_input(c);
    s = take_socket(c);
    if (how == CONN_ABORT)
        net_abort(st, s);
    else
        net_close(st, s);
}

/* Frees what a connection holds once its socket is closed. */
static void conn_free(conn *c)
{
    server *base = &c->srv->base;

    assert(c->sock == INVALID_SOCKET);
    if (c->thread != NULL)
        server_join(base, c->thread);   /* it has ended: nothing else points at c */
    server_conn_closed(base, &c->sess);
    server_free(base, c);
}

/* Joins the connection threads that ended and frees their state. */
static void reap_finished(model_server *srv)
{
    conn *c, *next;

    EnterCriticalSection(&srv->lock);
    c = srv->finished;
    srv->finished = NULL;
    LeaveCriticalSection(&srv->lock);
    for (; c != NULL; c = next) {
        next = c->next;
        conn_free(c);
    }
}

/* The main thread's job while the server runs: join finished threads until
 * the stop event is set. */
static int main_loop(model_server *srv)
{
    HANDLE waits[2];
    DWORD rc;

    waits[0] = srv->base.stop.event;
    waits[1] = srv->reap_event;
    while ((rc = WaitForMultipleObjects(2, waits, FALSE, INFINITE)) == WAIT_OBJECT_0 + 1)
        reap_finished(srv);
    if (rc != WAIT_FAILED)
        return 0;
    log_error("WaitForMultipleObjects (stop): error %lu", GetLastError());
    return -1;
}

/* [step 12] stop the server
 * no more accepts; wake every connection thread and join it */
static void wake_all_for_stop(model_server *srv)
{
    conn *c;

    /* shutdown(SD_BOTH) makes the thread's next recv() and send() fail;
     * CancelIoEx cancels the call it is blocked in right now (under Wine,
     * shutdown() alone does not wake a blocked recv or send). Each thread
     * then closes its own socket. Called again while threads remain, for
     * one that was between calls. */
    EnterCriticalSection(&srv->lock);
    for (c = srv->live; c != NULL; c = c->next) {
        if (c->sock == INVALID_SOCKET)
            continue;
        if (shutdown(c->sock, SD_BOTH) == SOCKET_ERROR)
            net_log_io_error("shutdown (stop)", WSAGetLastError());
        if (!CancelIoEx((HANDLE)c->sock, NULL) && GetLastError() != ERROR_NOT_FOUND)
            log_error("CancelIoEx (stop): error %lu", GetLastError());
    }
    LeaveCriticalSection(&srv->lock);
}

static void stop_server(model_server *srv)
{
    ULONGLONG deadline = GetTickCount64() + SERVER_STOP_MS;

    /* Closing the listening socket fails the blocked accept(). Should its
     * handle value be reused at once (closesocket's page warns of that), it
     * is no listening socket: accept() fails again, and the thread ends. */
    server_close_listener(&srv->base);
    if (srv->accept_thread != NULL)
        server_join(&srv->base, srv->accept_thread);
    while (live_conns(srv) > 0 && GetTickCount64() < deadline) {
        wake_all_for_stop(srv);
        WaitForSingleObject(srv->reap_event, 100);
        reap_finished(srv);
    }
    reap_finished(srv);
    if (live_conns(srv) > 0)
        log_error("stop: %d connection threads did not end", live_conns(srv));
    if (srv->reap_event != NULL && !CloseHandle(srv->reap_event))
        log_error("CloseHandle (reap): error %lu", GetLastError());
    if (srv->reap_event != NULL)
        stats_closed(&srv->base.st, RES_HANDLE);
    DeleteCriticalSection(&srv->lock);
}
