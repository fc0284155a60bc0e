/* 01_blocking/server.c - blocking sockets, one thread per client.
 *
 * The first model and the baseline of the suite. The articles start from
 * it implicitly: every later model exists to remove one of its costs.
 *
 * How it works: an accept thread blocks in accept(); each connection gets
 * its own thread that blocks in recv(), feeds the bytes to the shared
 * session code (common/session.c) and blocks in send() until every reply is
 * out. The main thread waits for the stop signal and reaps client threads
 * as they finish.
 *
 * What changes from the previous model: nothing; this is the start.
 *
 * Limits: one thread (a stack, a kernel object) per connection. The stack
 * reserve is cut to 128 KiB (STACK_SIZE_PARAM_IS_A_RESERVATION), but
 * threads still cost memory and scheduling; under Wine a thread costs about
 * 1 MB and 4 descriptors, so the documented capacity is 1000 clients
 * (--max-clients), and a connection beyond it is refused with an ERROR
 * frame. Backpressure is free: while send() blocks, the thread reads no
 * more.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

#define CLIENT_STACK_RESERVE (128u * 1024u)
#define RECV_SIZE (16u * 1024u)
#define LINGER_MS 2000          /* how long a closing connection is drained */
#define LINGER_BYTES (1u << 20) /* and how much of it */

static const server_model blocking_model = {
    "blocking", "blocking sockets, a thread per client",
    1000, 0, NULL, NULL
};

/* [step 1] define the state: one connection, owned by its own thread */
typedef struct client {
    struct blocking_server *owner;
    SOCKET sock;
    HANDLE thread;
    session sess;
    struct client *prev, *next;   /* in owner->live, then owner->finished */
} client;

typedef struct blocking_server {
    server base;
    CRITICAL_SECTION lock;        /* guards the two lists and live_count */
    client *live;                 /* connections whose thread runs */
    client *finished;             /* threads that ended, to be joined */
    int live_count;
    HANDLE reap_event;            /* set when a thread ends */
    HANDLE accept_thread;
} blocking_server;

static void list_push(client **head, client *c)
{
    c->prev = NULL;
    c->next = *head;
    if (*head != NULL)
        (*head)->prev = c;
    *head = c;
}

static void list_remove(client **head, client *c)
{
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        *head = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
}

/* Sends every reply the session has ready; blocking send() may accept
 * fewer bytes than asked, so the loop resends the rest. -1 on error. */
static int send_replies(client *c)
{
    session_iov iov;

    while (session_output(&c->sess, &iov, 1) == 1) {
        int n = send(c->sock, (const char *)iov.base, (int)iov.len, 0);
        if (n == SOCKET_ERROR) {
            if (log_enabled(LOG_VERBOSE))
                net_log_error("send", WSAGetLastError());
            return -1;
        }
        session_sent(&c->sess, (size_t)n);
    }
    return 0;
}

/* Reads and answers until the session is closing; 0 when the close may be
 * graceful, -1 after a socket error. */
static int serve(client *c)
{
    char buf[RECV_SIZE];

    /* [step 5] start receiving: the thread's whole life is this loop */
    while (session_can_read(&c->sess)) {
        /* [step 6] wait: recv() blocks this thread until data, FIN or an error */
        int n = recv(c->sock, buf, (int)sizeof buf, 0);
        /* [step 8] get the result: a byte count, 0 for FIN, or SOCKET_ERROR */
        if (n == SOCKET_ERROR) {
            if (log_enabled(LOG_VERBOSE))
                net_log_error("recv", WSAGetLastError());
            session_on_abort(&c->sess);
            return -1;
        }
        /* [step 9] use the data: only the n bytes received, then the replies */
        if (n == 0)
            session_on_eof(&c->sess);
        else
            session_on_data(&c->sess, buf, (size_t)n);
        if (send_replies(c) != 0) {
            session_on_abort(&c->sess);
            return -1;
        }
        /* [step 10] receive again: back to the top of the loop */
    }
    return 0;
}

/* Takes the socket out of the struct under the lock, so the stopping
 * thread never shuts down a handle that was closed (and maybe reused). */
static SOCKET take_socket(client *c)
{
    SOCKET s;

    EnterCriticalSection(&c->owner->lock);
    s = c->sock;
    c->sock = INVALID_SOCKET;
    LeaveCriticalSection(&c->owner->lock);
    return s;
}

/* After shutdown(SD_SEND), reads and drops what the peer still sends until
 * its FIN: closing with unread data would send a reset, and a reset can
 * destroy replies (an ERROR frame) the peer has not read yet. Bounded. */
static void drain_input(SOCKET s)
{
    char buf[4096];
    DWORD timeout = LINGER_MS;
    size_t total = 0;
    int n;

    if (setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, (const char *)&timeout, sizeof timeout)
        == SOCKET_ERROR)
        return;
    do {
        n = recv(s, buf, (int)sizeof buf, 0);
        total += n > 0 ? (size_t)n : 0;
    } while (n > 0 && total < LINGER_BYTES);
}

/* [step 11] close a connection: gracefully (shutdown, drain, close) after
 * the session ended normally, abortively after a socket error */
static void close_client(client *c, int graceful)
{
    stats *st = &c->owner->base.st;
    SOCKET s;

    if (graceful) {
        if (shutdown(c->sock, SD_SEND) == SOCKET_ERROR && log_enabled(LOG_VERBOSE))
            net_log_error("shutdown", WSAGetLastError());
        drain_input(c->sock);
    }
    s = take_socket(c);
    if (graceful)
        net_close(st, s);
    else
        net_abort(st, s);
}

static DWORD WINAPI client_main(void *arg)
{
    client *c = (client *)arg;
    blocking_server *bs = c->owner;

    close_client(c, serve(c) == 0);
    session_free(&c->sess);
    stats_connection_closed(&bs->base.st);
    EnterCriticalSection(&bs->lock);
    list_remove(&bs->live, c);
    bs->live_count--;
    list_push(&bs->finished, c);   /* the main thread joins it and frees c */
    LeaveCriticalSection(&bs->lock);
    SetEvent(bs->reap_event);
    return 0;
}

/* Joins the threads that ended and frees their state. */
static void reap_finished(blocking_server *bs)
{
    client *c, *next;

    EnterCriticalSection(&bs->lock);
    c = bs->finished;
    bs->finished = NULL;
    LeaveCriticalSection(&bs->lock);
    for (; c != NULL; c = next) {
        next = c->next;
        server_join(&bs->base, c->thread);
        free(c);
        stats_closed(&bs->base.st, RES_BLOCK);
    }
}

/* [step 4] prepare the connection: its state and its own thread */
static void start_client(blocking_server *bs, SOCKET s)
{
    client *c = (client *)calloc(1, sizeof *c);

    if (c == NULL) {
        log_error("calloc: out of memory for a connection");
        net_abort(&bs->base.st, s);
        return;
    }
    stats_opened(&bs->base.st, RES_BLOCK);
    c->owner = bs;
    c->sock = s;
    session_init(&c->sess, &bs->base.env);
    stats_connection_opened(&bs->base.st);
    /* Under the lock, so the thread cannot end and be reaped before
     * c->thread is set. */
    EnterCriticalSection(&bs->lock);
    c->thread = server_thread(&bs->base, client_main, c, CLIENT_STACK_RESERVE);
    if (c->thread != NULL) {
        list_push(&bs->live, c);
        bs->live_count++;
    }
    LeaveCriticalSection(&bs->lock);
    if (c->thread == NULL) {
        stats_connection_closed(&bs->base.st);
        net_abort(&bs->base.st, s);
        free(c);
        stats_closed(&bs->base.st, RES_BLOCK);
    }
}

static int server_full(blocking_server *bs)
{
    int full;

    EnterCriticalSection(&bs->lock);
    full = bs->live_count >= bs->base.opt.max_clients;
    LeaveCriticalSection(&bs->lock);
    return full;
}

static DWORD WINAPI accept_main(void *arg)
{
    blocking_server *bs = (blocking_server *)arg;
    SOCKET listener = bs->base.listener;   /* the main thread closes it to stop us */

    for (;;) {
        /* [step 3] accept a connection: accept() blocks until one arrives */
        SOCKET s = accept(listener, NULL, NULL);
        if (s == INVALID_SOCKET) {
            if (server_accept_failed(&bs->base, WSAGetLastError()))
                continue;
            return 0;
        }
        net_accepted(&bs->base.st);
        if (server_full(bs))
            net_refuse(&bs->base.st, s);
        else
            start_client(bs, s);
    }
}

/* Wakes every client thread for the stop: shutdown(SD_BOTH) makes its
 * next recv() return 0 and its next send() fail; CancelIoEx cancels the
 * call it is blocked in right now (under Wine, shutdown() alone does not
 * wake a blocked recv or send). Each thread then closes its own socket.
 * Called again while threads remain, for one that was between calls. */
static void wake_all_for_stop(blocking_server *bs)
{
    client *c;

    EnterCriticalSection(&bs->lock);
    for (c = bs->live; c != NULL; c = c->next) {
        if (c->sock == INVALID_SOCKET)
            continue;
        if (shutdown(c->sock, SD_BOTH) == SOCKET_ERROR && log_enabled(LOG_VERBOSE))
            net_log_error("shutdown (stop)", WSAGetLastError());
        if (!CancelIoEx((HANDLE)c->sock, NULL) && GetLastError() != ERROR_NOT_FOUND)
            log_error("CancelIoEx (stop): error %lu", GetLastError());
    }
    LeaveCriticalSection(&bs->lock);
}

static int live_clients(blocking_server *bs)
{
    int n;

    EnterCriticalSection(&bs->lock);
    n = bs->live_count;
    LeaveCriticalSection(&bs->lock);
    return n;
}

/* [step 12] stop the server: no more accepts, wake and join every thread */
static void stop_server(blocking_server *bs)
{
    ULONGLONG deadline = GetTickCount64() + 4000;   /* SPEC: stopped within 5 s */

    /* Closing the listening socket is the documented way to make a blocked
     * accept() return (WSAEINTR); nothing creates sockets any more, so
     * the closed handle value cannot be reused under the accept thread. */
    server_close_listener(&bs->base);
    server_join(&bs->base, bs->accept_thread);
    while (live_clients(bs) > 0 && GetTickCount64() < deadline) {
        wake_all_for_stop(bs);
        WaitForSingleObject(bs->reap_event, 100);
        reap_finished(bs);
    }
    reap_finished(bs);
    if (live_clients(bs) > 0)
        log_error("stop: %d client threads did not end", live_clients(bs));
}

/* The main thread's job while the server runs: join finished threads until
 * the stop event is set. */
static void supervise(blocking_server *bs)
{
    HANDLE waits[2];

    waits[0] = bs->base.stop.event;
    waits[1] = bs->reap_event;
    while (WaitForMultipleObjects(2, waits, FALSE, INFINITE) == WAIT_OBJECT_0 + 1)
        reap_finished(bs);
}

static int run(blocking_server *bs)
{
    bs->reap_event = CreateEventA(NULL, FALSE, FALSE, NULL);
    if (bs->reap_event == NULL) {
        log_error("CreateEvent (reap): error %lu", GetLastError());
        return -1;
    }
    stats_opened(&bs->base.st, RES_HANDLE);
    bs->accept_thread = server_thread(&bs->base, accept_main, bs, 64 * 1024);
    if (bs->accept_thread != NULL)
        supervise(bs);
    else
        server_close_listener(&bs->base);
    if (bs->accept_thread != NULL)
        stop_server(bs);
    if (!CloseHandle(bs->reap_event))
        log_error("CloseHandle (reap): error %lu", GetLastError());
    stats_closed(&bs->base.st, RES_HANDLE);
    return bs->accept_thread != NULL ? 0 : -1;
}

int main(int argc, char **argv)
{
    blocking_server bs;
    int rc;

    memset(&bs, 0, sizeof bs);
    /* [step 2] create the listening socket (in server_start, common/server.c) */
    rc = server_start(&bs.base, &blocking_model, argc, argv);
    if (rc != SERVER_RUN)
        return rc;
    InitializeCriticalSection(&bs.lock);
    rc = run(&bs);
    DeleteCriticalSection(&bs.lock);
    return server_finish(&bs.base, rc);
}
