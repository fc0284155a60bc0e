/* 02_select/server.c - non-blocking sockets and select().
 *
 * The second model. The articles only name it: article 003 counts select
 * among the four models (blocking, select, WSAAsyncSelect, WSAEventSelect)
 * in which the application is told that data can be read and then copies
 * it itself; it is the book's "non-blocking (select)" row (REFERENCE.md
 * section 2), the Berkeley way: ask one call which of many sockets are
 * ready.
 *
 * How it works: every socket is non-blocking. A select thread owns up to
 * THREAD_CONNS_MAX connections; each round it rebuilds a read set (the
 * connections that may read, plus its wake-up socket) and a write set (the
 * connections with unsent replies), calls select(), then serves the ready
 * sockets with one recv() and the sends it can make, none of which block.
 * Thread 0 also has the listening socket in its read set: it accepts and
 * hands each new socket to the least loaded thread through that thread's
 * inbox, a small locked list, and wakes it. The main thread waits for the
 * stop signal.
 *
 * What changes from the previous model: no thread per client; one thread
 * serves up to a thousand sockets. Nothing blocks, so the code keeps what
 * a call could not finish: a partial send leaves the rest queued and puts
 * the socket in the write set; backpressure is leaving the socket out of
 * the read set (the blocking model got it free by blocking in send).
 *
 * Limits: one select() call walks every socket in its sets, so its cost
 * grows with the set size (under Wine about 134 ms for 8000 idle sockets);
 * a set holds FD_SETSIZE sockets, and past one set the server adds
 * threads: --max-clients (default 10000) at FD_SETSIZE - 2 connections
 * per thread, so ten threads by default. select() cannot wait for an
 * event, so a thread is woken (new sockets, stop) by a datagram to its
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

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

/* A thread's read set holds its connections, its wake-up socket and, in
 * thread 0, the listener; set_add relies on this. */
#define THREAD_CONNS_MAX (FD_SETSIZE - 2)   /* connections per select thread */
#define RECV_SIZE (64u * 1024u) /* one buffer per thread: its sessions copy what they keep */
#define ACCEPT_BURST 64         /* accepts per round, so thread 0 still serves its own */
#define ACCEPT_PAUSE_MS 100     /* out of sockets: leave the listener alone this long */
#define LINGER_MS 2000          /* how long a closing connection is drained */
#define LINGER_BYTES (1u << 20) /* and how much of it */
#define SELECT_STACK (64u * 1024u)

#if FD_SETSIZE < 3
#error "FD_SETSIZE must leave room for a connection beside the wake-up socket and the listener"
#endif

static const server_model select_model = {
    "select", "non-blocking sockets and select(), FD_SETSIZE - 2 connections per thread"
    " (FD_SETSIZE " STRINGIFY(FD_SETSIZE) ")",
    10000, 0,
    "select threads at most, FD_SETSIZE - 2 connections each; unset (0): as many as "
    "--max-clients needs",
    NULL
};

/* [step 1] define the state: one connection, owned by one select thread */
typedef struct client {
    SOCKET sock;
    session sess;
    int draining;                 /* shutdown(SD_SEND) done: reading until the peer's FIN */
    size_t drained;               /* bytes dropped while draining */
    ULONGLONG drain_deadline;
    struct client *next;          /* in a thread's inbox */
} client;

/* A select thread: its connections and the sets it rebuilds every round. */
typedef struct select_thread {
    struct select_server *owner;
    HANDLE thread;
    SOCKET wake;                  /* UDP, bound to 127.0.0.1: a datagram to it ends select() */
    struct sockaddr_in wake_addr;
    SOCKET listener;              /* thread 0 only; INVALID_SOCKET elsewhere */
    ULONGLONG accept_resume;      /* the listener is left out until then */
    CRITICAL_SECTION lock;        /* guards inbox */
    client *inbox;                /* handed over by thread 0, not taken yet */
    counter_t load;               /* connections owned plus those in the inbox */
    client *conns[THREAD_CONNS_MAX];
    int count;
    fd_set read_set, write_set;
    char buf[RECV_SIZE];
} select_thread;

typedef struct select_server {
    server base;
    select_thread *threads;       /* never moved: each holds a CRITICAL_SECTION */
    int thread_count;
    counter_t failures;           /* select() or accept() failed: exit 1 */
} select_server;

enum client_result { CLIENT_KEEP, CLIENT_CLOSE, CLIENT_ABORT };

/* FD_SET searches the array for the socket before appending it, which
 * makes building a set of n sockets cost n*n/2 compares; each socket is
 * added once per round here, so appending is enough. */
static void set_add(fd_set *set, SOCKET s)
{
    set->fd_array[set->fd_count++] = s;
}

/* Winsock has no socketpair(), so the wake-up channel is one UDP socket
 * bound to a loopback port: anyone may send it a datagram, and then it is
 * readable, which ends the owner's select(). */
static SOCKET wake_open(stats *st, struct sockaddr_in *addr)
{
    int len = (int)sizeof *addr;
    SOCKET s = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);

    if (s == INVALID_SOCKET) {
        net_log_error("socket (wake-up)", WSAGetLastError());
        return INVALID_SOCKET;
    }
    stats_opened(st, RES_SOCKET);
    net_parse_addr("127.0.0.1", 0, addr);
    if (bind(s, (struct sockaddr *)addr, len) == SOCKET_ERROR) {
        net_log_error("bind (wake-up)", WSAGetLastError());
        net_close(st, s);
        return INVALID_SOCKET;
    }
    if (getsockname(s, (struct sockaddr *)addr, &len) == SOCKET_ERROR) {
        net_log_error("getsockname (wake-up)", WSAGetLastError());
        net_close(st, s);
        return INVALID_SOCKET;
    }
    if (net_set_nonblocking(s) != 0) {   /* a burst of wake-ups never blocks a sender */
        net_close(st, s);
        return INVALID_SOCKET;
    }
    return s;
}

static void wake_thread(select_thread *t)
{
    static const char byte = 1;

    /* WSAEWOULDBLOCK: its buffer is full of wake-ups already */
    if (sendto(t->wake, &byte, 1, 0, (const struct sockaddr *)&t->wake_addr,
               (int)sizeof t->wake_addr) == SOCKET_ERROR
        && WSAGetLastError() != WSAEWOULDBLOCK)
        net_log_error("sendto (wake-up)", WSAGetLastError());
}

/* Reads the pending wake-up datagrams; bounded, as senders may go on. */
static void wake_drain(select_thread *t)
{
    char buf[16];
    int i;

    for (i = 0; i < 256; i++)
        if (recv(t->wake, buf, (int)sizeof buf, 0) == SOCKET_ERROR)
            return;
}

/* The accepting thread's side of the hand-off. A wake-up is needed only
 * when the inbox was empty: otherwise one is already on its way, since
 * the owner drains its wake-ups before it empties the inbox. */
static void inbox_push(select_thread *t, client *c, const select_thread *self)
{
    int was_empty;

    EnterCriticalSection(&t->lock);
    was_empty = t->inbox == NULL;
    c->next = t->inbox;
    t->inbox = c;
    LeaveCriticalSection(&t->lock);
    if (was_empty && t != self)
        wake_thread(t);
}

/* The owner's side: new sockets join the sets of the next round. */
static void inbox_take(select_thread *t)
{
    client *c, *next;

    EnterCriticalSection(&t->lock);
    c = t->inbox;
    t->inbox = NULL;
    LeaveCriticalSection(&t->lock);
    for (; c != NULL; c = next) {
        next = c->next;
        t->conns[t->count++] = c;   /* load < THREAD_CONNS_MAX was checked at accept */
    }
}

/* Frees what a connection holds once its socket is closed; also used by
 * the main thread for sockets left in an inbox at stop. */
static void free_client(select_thread *t, client *c)
{
    stats *st = &t->owner->base.st;

    session_free(&c->sess);
    free(c);
    stats_closed(st, RES_BLOCK);
    stats_connection_closed(st);
    counter_add(&t->load, -1);
}

/* Opens a thread's wake-up socket and lock; 0 on success. */
static int thread_open(select_server *ss, int index)
{
    select_thread *t = &ss->threads[index];

    t->owner = ss;
    t->listener = index == 0 ? ss->base.listener : INVALID_SOCKET;
    t->wake = wake_open(&ss->base.st, &t->wake_addr);
    if (t->wake == INVALID_SOCKET)
        return -1;
    InitializeCriticalSection(&t->lock);
    return 0;
}

/* After the thread ended: closes the sockets handed over but never taken,
 * then the wake-up socket and the lock. */
static void thread_close(select_server *ss, select_thread *t)
{
    client *c, *next;

    for (c = t->inbox; c != NULL; c = next) {
        next = c->next;
        net_close(&ss->base.st, c->sock);
        free_client(t, c);
    }
    t->inbox = NULL;
    net_close(&ss->base.st, t->wake);
    DeleteCriticalSection(&t->lock);
}

/* --threads caps the number of select threads; by default there are as
 * many as --max-clients needs at THREAD_CONNS_MAX each. */
static int threads_alloc(select_server *ss)
{
    int max = ss->base.opt.max_clients;
    int n = ss->base.opt.threads > 0 ? ss->base.opt.threads
                                     : (max + THREAD_CONNS_MAX - 1) / THREAD_CONNS_MAX;

    log_info("%d select threads of %d connections each (FD_SETSIZE %d)", n,
             THREAD_CONNS_MAX, FD_SETSIZE);
    if ((int64_t)n * THREAD_CONNS_MAX < max)
        log_info("--threads %d holds %d connections; more are refused", n,
                 n * THREAD_CONNS_MAX);
    ss->threads = (select_thread *)calloc((size_t)n, sizeof *ss->threads);
    if (ss->threads == NULL) {
        log_error("calloc: out of memory for %d select threads", n);
        return -1;
    }
    stats_opened(&ss->base.st, RES_BLOCK);
    ss->thread_count = n;
    return 0;
}

/* Sends replies until the session has none left or the socket buffer is
 * full. A non-blocking send() accepts what fits: the rest stays queued in
 * the session and the socket goes in the write set. -1 on error. */
static int send_replies(client *c)
{
    session_iov iov;

    while (session_output(&c->sess, &iov, 1) == 1) {
        int n = send(c->sock, (const char *)iov.base, (int)iov.len, 0);
        if (n == SOCKET_ERROR) {
            int err = WSAGetLastError();
            if (err == WSAEWOULDBLOCK)
                return 0;   /* full: select() says when it has room again */
            if (log_enabled(LOG_VERBOSE))
                net_log_error("send", err);
            return -1;
        }
        session_sent(&c->sess, (size_t)n);
        if ((size_t)n < iov.len)
            return 0;       /* partial: the buffer is full, the rest waits */
    }
    return 0;
}

/* [step 11] close a connection: when the session is done, shutdown(SD_SEND)
 * sends FIN after the last reply; the socket stays in the read set, and
 * what the peer still sends is dropped until its FIN (bounded), because
 * closing with unread input would send a reset that can destroy the
 * replies (an ERROR frame) the peer has not read yet */
static enum client_result begin_drain(client *c, ULONGLONG now)
{
    if (shutdown(c->sock, SD_SEND) == SOCKET_ERROR) {
        if (log_enabled(LOG_VERBOSE))
            net_log_error("shutdown", WSAGetLastError());
        return CLIENT_CLOSE;
    }
    c->draining = 1;
    c->drain_deadline = now + LINGER_MS;
    return CLIENT_KEEP;
}

static enum client_result drain_input(select_thread *t, client *c, int readable,
                                      ULONGLONG now)
{
    int n;

    if (!readable)
        return now >= c->drain_deadline ? CLIENT_CLOSE : CLIENT_KEEP;
    n = recv(c->sock, t->buf, (int)sizeof t->buf, 0);
    if (n > 0) {
        c->drained += (size_t)n;
        return c->drained >= LINGER_BYTES || now >= c->drain_deadline ? CLIENT_CLOSE
                                                                       : CLIENT_KEEP;
    }
    if (n == SOCKET_ERROR && WSAGetLastError() == WSAEWOULDBLOCK)
        return CLIENT_KEEP;
    return CLIENT_CLOSE;   /* the peer's FIN, or an error: nothing left to protect */
}

/* Gracefully (the drain ended, or stop) or abortively after an error. */
static void close_client(select_thread *t, int i, enum client_result how)
{
    client *c = t->conns[i];
    stats *st = &t->owner->base.st;

    if (how == CLIENT_ABORT) {
        session_on_abort(&c->sess);
        net_abort(st, c->sock);
    } else {
        net_close(st, c->sock);
    }
    /* Only a pointer moves: no pending operation points into a client. */
    t->conns[i] = t->conns[--t->count];
    free_client(t, c);
}

/* Serves one connection that select() reported; the socket is
 * non-blocking, so neither call below can wait. */
static enum client_result serve_client(select_thread *t, client *c, int readable,
                                       int writable, ULONGLONG now)
{
    if (readable) {
        /* [step 8] get the result: a byte count, 0 for FIN, or SOCKET_ERROR */
        int n = recv(c->sock, t->buf, (int)sizeof t->buf, 0);
        int err = n == SOCKET_ERROR ? WSAGetLastError() : 0;
        if (n == SOCKET_ERROR && err != WSAEWOULDBLOCK) {
            if (log_enabled(LOG_VERBOSE))
                net_log_error("recv", err);
            return CLIENT_ABORT;
        }
        /* [step 9] use the data: only the n bytes received, then the replies */
        if (n == 0)
            session_on_eof(&c->sess);   /* FIN (under Wine also a reset, see docs) */
        else if (n > 0)
            session_on_data(&c->sess, t->buf, (size_t)n);
    }
    /* Replies go out at once; only what send() refuses waits for the
     * write set, which saves a round for the common small reply. */
    if ((readable || writable) && send_replies(c) != 0)
        return CLIENT_ABORT;
    return session_done(&c->sess) ? begin_drain(c, now) : CLIENT_KEEP;
}

/* [step 4] prepare the connection: non-blocking mode, its session, and
 * the least loaded select thread, through that thread's inbox */
static select_thread *pick_thread(select_server *ss)
{
    select_thread *best = NULL;
    int64_t total = 0, best_load = THREAD_CONNS_MAX;
    int i;

    for (i = 0; i < ss->thread_count; i++) {
        int64_t load = counter_get(&ss->threads[i].load);
        total += load;
        if (load < best_load) {
            best = &ss->threads[i];
            best_load = load;
        }
    }
    return total < ss->base.opt.max_clients ? best : NULL;   /* NULL: full */
}

static void start_client(select_thread *self, SOCKET s)
{
    select_server *ss = self->owner;
    select_thread *t = pick_thread(ss);
    client *c;

    if (t == NULL) {
        net_refuse(&ss->base.st, s);
        return;
    }
    if (net_set_nonblocking(s) != 0) {
        net_abort(&ss->base.st, s);
        return;
    }
    c = (client *)calloc(1, sizeof *c);
    if (c == NULL) {
        log_error("calloc: out of memory for a connection");
        net_abort(&ss->base.st, s);
        return;
    }
    stats_opened(&ss->base.st, RES_BLOCK);
    c->sock = s;
    session_init(&c->sess, &ss->base.env);
    stats_connection_opened(&ss->base.st);
    counter_add(&t->load, 1);   /* only this thread adds, so the check above holds */
    inbox_push(t, c, self);
}

/* [step 3] accept a connection: thread 0 has the listener in its read set,
 * and when select() reports it readable, accept() returns at once. The
 * listener is non-blocking all the same, because the peer may have given
 * up since select() returned: WSAEWOULDBLOCK means the backlog is empty. */
static void accept_failed(select_thread *t, int err, ULONGLONG now)
{
    if (err == WSAEWOULDBLOCK)
        return;
    net_log_error("accept", err);
    if (err == WSAECONNRESET)
        return;   /* that peer gave up; the next round takes the next one */
    if (err == WSAEMFILE || err == WSAENOBUFS) {
        t->accept_resume = now + ACCEPT_PAUSE_MS;   /* out of sockets: try again later */
        return;
    }
    t->listener = INVALID_SOCKET;   /* stop accepting, and the server */
    counter_add(&t->owner->failures, 1);
    stop_request(&t->owner->base.stop);
}

/* Accepts what is waiting, at most ACCEPT_BURST at a time, so that
 * thread 0 still serves its own connections during a flood. */
static void accept_ready(select_thread *t, ULONGLONG now)
{
    int i;

    for (i = 0; i < ACCEPT_BURST && t->listener != INVALID_SOCKET; i++) {
        SOCKET s = accept(t->listener, NULL, NULL);
        if (s == INVALID_SOCKET) {
            accept_failed(t, WSAGetLastError(), now);
            return;
        }
        net_accepted(&t->owner->base.st);
        start_client(t, s);
    }
}

/* [step 5] start receiving: putting a socket in the read set asks select()
 * to report input, so only connections that may read go in (backpressure:
 * session_can_read), plus those draining; only connections with unsent
 * replies go in the write set. Returns the select() timeout in ms. */
static DWORD build_sets(select_thread *t, ULONGLONG now)
{
    ULONGLONG next = 0;   /* the nearest deadline, 0: none */
    int i;

    FD_ZERO(&t->read_set);
    FD_ZERO(&t->write_set);
    set_add(&t->read_set, t->wake);   /* also keeps the sets from being all empty (WSAEINVAL) */
    if (t->listener != INVALID_SOCKET && now >= t->accept_resume)
        set_add(&t->read_set, t->listener);
    else if (t->listener != INVALID_SOCKET)
        next = t->accept_resume;
    for (i = 0; i < t->count; i++) {
        client *c = t->conns[i];
        if (c->draining) {
            set_add(&t->read_set, c->sock);
            if (next == 0 || c->drain_deadline < next)
                next = c->drain_deadline;
            continue;
        }
        if (session_can_read(&c->sess))
            set_add(&t->read_set, c->sock);
        if (session_unsent(&c->sess) > 0)
            set_add(&t->write_set, c->sock);
    }
    if (next == 0)
        return INFINITE;
    return next > now ? (DWORD)(next - now) : 0;
}

/* [step 7] find out which connection and which operation: select() left
 * only the ready sockets in the sets, and FD_ISSET asks about each socket
 * the thread owns (it searches the array, but only the ready few) */
static int serve_round(select_thread *t, ULONGLONG now)
{
    int i;

    if (FD_ISSET(t->wake, &t->read_set)) {
        wake_drain(t);   /* before inbox_take: see inbox_push */
        if (stop_requested(&t->owner->base.stop))
            return 1;
    }
    if (t->listener != INVALID_SOCKET && FD_ISSET(t->listener, &t->read_set))
        accept_ready(t, now);
    for (i = t->count - 1; i >= 0; i--) {   /* backwards: close_client moves the last into i */
        client *c = t->conns[i];
        int readable = FD_ISSET(c->sock, &t->read_set);
        int writable = FD_ISSET(c->sock, &t->write_set);
        enum client_result r = c->draining ? drain_input(t, c, readable, now)
                                           : serve_client(t, c, readable, writable, now);
        if (r != CLIENT_KEEP)
            close_client(t, i, r);
    }
    inbox_take(t);
    return 0;
}

/* One round: build the sets, wait, serve; 1 when the thread must end
 * (stop, or select() failed). */
static int wait_round(select_thread *t)
{
    DWORD wait_ms = build_sets(t, GetTickCount64());
    struct timeval tv;

    tv.tv_sec = (long)(wait_ms / 1000);
    tv.tv_usec = (long)(wait_ms % 1000) * 1000;
    /* [step 6] wait: select() blocks until a socket in the sets is ready,
     * a wake-up datagram arrives, or the nearest deadline passes; its
     * first argument is ignored by Winsock */
    if (select(0, &t->read_set, &t->write_set, NULL, wait_ms == INFINITE ? NULL : &tv)
        == SOCKET_ERROR) {
        net_log_error("select", WSAGetLastError());
        counter_add(&t->owner->failures, 1);
        stop_request(&t->owner->base.stop);
        return 1;
    }
    return serve_round(t, GetTickCount64());
}

static DWORD WINAPI select_main(void *arg)
{
    select_thread *t = (select_thread *)arg;

    /* [step 10] receive again: every round rebuilds the sets from the
     * sessions' state, so a connection is read again while it may read */
    while (wait_round(t) == 0)
        continue;
    /* Stopping (step 12): the thread closes what it owns, unsent replies
     * and all; closesocket still delivers what send() accepted. */
    while (t->count > 0)
        close_client(t, t->count - 1, CLIENT_CLOSE);
    return 0;
}

/* [step 12] stop the server: wake every thread (each closes what it
 * owns when it sees the stop), join them, then close what was left in the
 * inboxes. Thread 0 may hand over a socket after its target ended, so the
 * sweep comes after every join. */
static void stop_threads(select_server *ss, int started, int opened)
{
    int i;

    stop_request(&ss->base.stop);   /* set already, unless a thread failed to start */
    for (i = 0; i < started; i++)
        wake_thread(&ss->threads[i]);
    for (i = 0; i < started; i++)
        server_join(&ss->base, ss->threads[i].thread);
    while (opened > 0)
        thread_close(ss, &ss->threads[--opened]);
}

static int run(select_server *ss)
{
    int opened = 0, started = 0;

    /* The listener is in thread 0's read set: accept() must never block. */
    if (net_set_nonblocking(ss->base.listener) != 0 || threads_alloc(ss) != 0)
        return -1;
    while (opened < ss->thread_count && thread_open(ss, opened) == 0)
        opened++;
    while (opened == ss->thread_count && started < ss->thread_count) {
        select_thread *t = &ss->threads[started];
        t->thread = server_thread(&ss->base, select_main, t, SELECT_STACK);
        if (t->thread == NULL)
            break;
        started++;
    }
    if (started == ss->thread_count
        && WaitForSingleObject(ss->base.stop.event, INFINITE) == WAIT_FAILED)
        log_error("WaitForSingleObject (stop): error %lu", GetLastError());
    stop_threads(ss, started, opened);
    free(ss->threads);
    stats_closed(&ss->base.st, RES_BLOCK);
    return started == ss->thread_count && counter_get(&ss->failures) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    select_server ss;
    int rc;

    memset(&ss, 0, sizeof ss);
    /* [step 2] create the listening socket (in server_start, common/server.c) */
    rc = server_start(&ss.base, &select_model, argc, argv);
    if (rc != SERVER_RUN)
        return rc;
    return server_finish(&ss.base, run(&ss));
}
