/* 06_iocp/server.c - an I/O completion port and a pool of worker threads.
 *
 * Articles 000, 001, 002 and 004 (shared/seeds/), done the way production
 * libraries do it (libuv's Windows "requests"), still readable step by step.
 *
 * How it works: every operation (AcceptEx, WSARecv, WSASend) is started
 * and forgotten; when it ends, the system queues a completion packet on
 * the one port, and whichever worker thread is free takes it with
 * GetQueuedCompletionStatus. The packet carries the completion key (the
 * connection's context) and the OVERLAPPED of the operation, which is
 * embedded in an operation struct, so CONTAINING_RECORD gives back the
 * operation. A pool of AcceptEx calls is kept posted. Each connection has
 * at most one receive and one send in flight: the receive is a zero-byte
 * WSARecv while the connection is idle (it holds no buffer) and a real one
 * into the connection's buffer while data flows; the send carries every
 * ready reply.
 *
 * What changes from the previous model (05, completion routines): the
 * completions no longer run as APCs on the thread that posted the I/O;
 * any worker takes any completion, so two workers may hold two
 * completions of one connection at once. Each connection therefore has a
 * lock, and a count of pending operations: its memory is freed only when
 * the count is 0, after the last completion was taken from the port.
 * Accepting moves into the port too (AcceptEx): no thread ever blocks.
 *
 * Limits: no 64-handle limit and no thread per client. The documented
 * capacity is 10,000 connections (--max-clients); an idle one costs about
 * 0.35 KiB of the server's memory (no buffer, and no session: it is made
 * again when data comes), one that streams up to 64 KiB more. Under Wine
 * the wineserver's descriptors bound the total (REFERENCE.md section 4).
 * An operation that succeeds at once is finished inline, with no packet
 * (FILE_SKIP_COMPLETION_PORT_ON_SUCCESS); --opt noskip turns that off, so
 * every operation queues a packet. The receive planned after a packet
 * is deferred by its worker and posted a little later, when it is more
 * likely to find its data; --opt nodefer posts every receive at once.
 * Connections take turns: a receive that was not deferred and succeeds
 * at once goes to the back of the port's queue.
 * --opt batch turns on GetQueuedCompletionStatusEx (up to 64 completions
 * per call).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

#include <mswsock.h>

#define RECV_SIZE (64u * 1024u)   /* a worker's recv() buffer: many frames per call */
#define FLOW_MIN (4u * 1024u)     /* a connection's buffer while data flows, doubling */
#define FLOW_MAX (64u * 1024u)    /* up to this while receives fill it */
#define IDLE_MS 5000              /* a real receive idle this long goes back to zero bytes */
#define READ_ROUNDS 4             /* recv() calls per readiness while they fill the buffer */
#define SEND_IOV_MAX 16           /* WSABUFs in one WSASend */
#define ACCEPT_POOL 128           /* AcceptEx calls kept posted (see docs: bursts) */
#define ADDR_SIZE (sizeof(struct sockaddr_in) + 16)   /* what AcceptEx asks per address */
#define BATCH_MAX 64              /* completions per GetQueuedCompletionStatusEx */
#define WORKER_STACK (256u * 1024u)
#define LINGER_MS 2000            /* how long a closing connection is drained */
#define LINGER_BYTES (1u << 20)   /* and how much of it */
#define SWEEP_MS 250              /* how often the main thread looks for idle receives */
#define STOP_WAIT_MS 4000         /* SPEC: stopped within 5 s */
#define CANCEL_CHUNK 64           /* stop: cancels per hold of the server lock */
#define DEFER_MAX 16              /* receives a worker defers, and packets they wait for */

#ifndef ERROR_HANDLES_CLOSED
#define ERROR_HANDLES_CLOSED 676L   /* not in every SDK's winerror.h */
#endif

/* The switches a reader can flip to see what each feature buys: batching
 * is off by default (under Wine it measured no better), skipping the
 * packet of an operation that succeeds at once and deferring receives
 * are on. */
enum { SWITCH_BATCH = 1u << 0, SWITCH_NOSKIP = 1u << 1, SWITCH_NODEFER = 1u << 2 };
static const server_switch iocp_switches[] = {
    { "batch", "GetQueuedCompletionStatusEx: up to 64 completions per call" },
    { "noskip", "no FILE_SKIP_COMPLETION_PORT_ON_SUCCESS: a packet for every operation" },
    { "nodefer", "every receive posted at once, none deferred by its worker" },
    { NULL, NULL }
};

static const server_model iocp_model = {
    "iocp", "an I/O completion port, AcceptEx and a pool of worker threads",
    10000, 0 /* set in main() from the CPU count */, "worker threads on the completion port",
    iocp_switches
};

/* [step 1] define the state: an operation embeds its OVERLAPPED; a
 * connection (the completion key) owns one receive and one send */
enum op_kind { OP_ACCEPT, OP_RECV, OP_SEND };

typedef struct io_op {
    OVERLAPPED ov;            /* the kernel writes here until the completion */
    enum op_kind kind;
} io_op;

typedef struct accept_op {
    io_op op;
    SOCKET sock;              /* made in advance; AcceptEx connects it */
    int posted;               /* posted or being handled; guarded by the server lock */
    char addrs[2 * ADDR_SIZE];   /* local and remote address; no data (length 0) */
} accept_op;

enum conn_phase {
    CONN_OPEN,       /* the session reads and answers */
    CONN_DRAINING,   /* shutdown(SD_SEND) done; input dropped until the peer's FIN */
    CONN_CLOSED_OK,  /* graceful close when the last operation ends */
    CONN_FAILED      /* abortive close when the last operation ends */
};

typedef struct conn {
    struct iocp_server *owner;
    SOCKET sock;              /* set once; closed only after leaving the server's list */
    SRWLOCK lock;             /* guards the fields from sess to drained */
    session *sess;            /* NULL while idle: made again when data comes */
    io_op recv_op;            /* the one WSARecv in flight */
    io_op send_op;            /* the one WSASend in flight */
    int pending;              /* operations posted and not yet handled */
    int recv_posted, send_posted;
    int peer_fin;             /* recv() returned 0 */
    enum conn_phase phase;
    char *recv_buf;           /* only while data flows; NULL: zero-byte receives */
    size_t recv_cap;
    size_t drained;           /* bytes dropped while draining */
    ULONGLONG last_data;      /* GetTickCount64() of the last zero-byte receive with data */
    counter_t recv_deadline;  /* atomic: when the sweep cancels the receive; 0 never */
    int cancelled;            /* the stop cancelled its I/O (main thread only) */
    struct conn *prev, *next; /* in owner->conns, under the server lock */
} conn;

typedef struct iocp_server {
    server base;
    HANDLE port;
    LPFN_ACCEPTEX accept_ex;
    LPFN_GETACCEPTEXSOCKADDRS accept_addrs;
    int batch;                /* --opt batch */
    int skip;                 /* not --opt noskip */
    int defer;                /* not --opt nodefer */
    counter_t stopping;       /* 1 once the stop began: post nothing new */
    counter_t posting;        /* threads between reading stopping and posting */
    SRWLOCK lock;             /* guards conns, live_count, accepts_pending, posted */
    conn *conns;
    int live_count;
    int accepts_pending;
    accept_op *accepts;       /* ACCEPT_POOL of them */
    HANDLE *workers;
    int worker_count;
    HANDLE drained;           /* set when the last operation ended during the stop */
} iocp_server;

static int stopping(iocp_server *srv)
{
    return counter_get(&srv->stopping) != 0;
}

/* Errors of a peer's reset or close, or of our own CancelIoEx: only
 * logged with --verbose. */
static int expected_error(DWORD err)
{
    switch (err) {
    case ERROR_NETNAME_DELETED:
    case ERROR_OPERATION_ABORTED:
    case ERROR_HANDLES_CLOSED:
    case ERROR_CONNECTION_ABORTED:
    case WSAECONNRESET:
    case WSAECONNABORTED:
    case WSAESHUTDOWN:
    case WSAENOTCONN:
        return 1;
    default:
        return 0;
    }
}

static void log_io_error(const char *what, DWORD err)
{
    if (!expected_error(err) || log_enabled(LOG_VERBOSE))
        net_log_error(what, (int)err);
}

/* Under the server lock: during the stop, wakes the main thread once no
 * operation of any kind is left. */
static void note_drained(iocp_server *srv)
{
    if (stopping(srv) && srv->live_count == 0 && srv->accepts_pending == 0)
        SetEvent(srv->drained);
}

/* A socket error or a cancelled operation: the connection ends
 * abortively, except a drain that the deadline cancelled. */
static void conn_error(conn *c, const char *what, DWORD err)
{
    log_io_error(what, err);
    if (c->phase == CONN_OPEN && c->sess != NULL)
        session_on_abort(c->sess);
    c->phase = c->phase == CONN_DRAINING && err == ERROR_OPERATION_ABORTED
               ? CONN_CLOSED_OK : CONN_FAILED;
}

/* The server stops: the connection ends now, a frame cut short counted
 * as after a reset. closesocket alone closes it: no error calls for a
 * reset, and with 10,000 connections one system call fewer each counts. */
static void conn_stop(conn *c)
{
    if (c->phase == CONN_OPEN && c->sess != NULL)
        session_on_abort(c->sess);
    c->phase = CONN_CLOSED_OK;
}

/* Whether a receive is wanted: the session reads (no backpressure; no
 * session is an idle one), or a closing connection waits for the peer's
 * FIN. */
static int wants_read(const conn *c)
{
    if (c->phase == CONN_OPEN)
        return c->sess == NULL || session_can_read(c->sess);
    return c->phase == CONN_DRAINING;
}

/* A connection has a session only while it has something to read or to
 * say: made when data comes, freed by conn_plan() once the connection is
 * back on zero-byte receives with nothing owed and no frame begun. An idle
 * connection then holds only its conn, about 0.2 KiB, instead of 0.45
 * with the session. Returns 0 out of memory. */
static int attach_session(conn *c)
{
    if (c->sess != NULL)
        return 1;
    c->sess = (session *)malloc(sizeof *c->sess);
    if (c->sess == NULL) {
        log_error("malloc: out of memory for a session");
        return 0;
    }
    stats_opened(&c->owner->base.st, RES_BLOCK);
    session_init(c->sess, &c->owner->base.env);
    return 1;
}

static void detach_session(conn *c)
{
    if (c->sess == NULL)
        return;
    session_free(c->sess);
    free(c->sess);
    c->sess = NULL;
    stats_closed(&c->owner->base.st, RES_BLOCK);
}

/* Nothing is lost when an idle session goes: it reads (still open), owes
 * nothing, and no frame is half read. */
static int session_idle(const session *s)
{
    return session_can_read(s) && session_unsent(s) == 0 && !proto_reader_partial(&s->reader);
}

/* The connection's own receive buffer, replaced only while no receive is
 * planned or pending (recv_posted 0); cap 0 frees it. Whole pages from
 * VirtualAlloc, not the heap: freed, they go back to the system, so
 * connections that streamed and then went idle cost no memory (a heap
 * keeps what was freed). Out of memory, the connection simply stays with
 * zero-byte receives. */
static void set_recv_buffer(conn *c, size_t cap)
{
    stats *st = &c->owner->base.st;

    if (c->recv_buf != NULL) {
        if (!VirtualFree(c->recv_buf, 0, MEM_RELEASE))
            log_error("VirtualFree: error %lu", GetLastError());
        stats_closed(st, RES_BLOCK);
    }
    c->recv_buf = cap == 0 ? NULL
                  : (char *)VirtualAlloc(NULL, cap, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
    c->recv_cap = c->recv_buf != NULL ? cap : 0;
    if (c->recv_buf != NULL)
        stats_opened(st, RES_BLOCK);
}

/* What conn_plan() decided, for conn_post() to post after the lock is
 * released: the lock is never held across the calls that post I/O. */
typedef struct post_plan {
    int send, recv;
    WSABUF bufs[SEND_IOV_MAX];   /* WSASend copies the array; the bytes must stay */
    DWORD nbufs;
    WSABUF wb;                   /* the receive: the connection's buffer, or 0 bytes */
} post_plan;

/* An operation that ended: taken from the port, or ended at once. */
typedef struct op_result {
    io_op *op;
    DWORD bytes, err;
} op_result;

/* A receive planned and not posted yet: see defer_recv(). */
typedef struct deferred_recv {
    conn *c;
    WSABUF wb;
} deferred_recv;

/* A worker's own state, on its stack: the buffer of the recv() after a
 * zero-byte receive (a worker's, not a connection's: idle connections
 * hold none), and the receives it deferred. */
typedef struct worker {
    iocp_server *srv;
    int defer;                /* receives may be deferred: not --opt nodefer, not flushing */
    int count;                /* receives deferred */
    int taken;                /* packets taken since the first of them was deferred */
    deferred_recv deferred[DEFER_MAX];
    char buf[RECV_SIZE];
} worker;

/* [step 5] start receiving: while the connection is idle, a zero-byte
 * WSARecv, which holds no buffer and completes when data (or FIN, or an
 * error) is there; while data flows, a real WSARecv into the connection's
 * buffer, which saves a recv() call per burst. Returns 1 when it ended at
 * once with no packet to come (a failure, or skip mode), its result in
 * *res. Once it is posted another worker may handle its completion and
 * free c, so c is not touched after the call. */
static int issue_recv(conn *c, WSABUF *wb, op_result *res)
{
    int skip = c->owner->skip;
    DWORD flags = 0, got = 0;

    memset(&c->recv_op.ov, 0, sizeof c->recv_op.ov);
    res->op = &c->recv_op;
    res->bytes = 0;
    res->err = 0;
    if (WSARecv(c->sock, wb, 1, &got, &flags, &c->recv_op.ov, NULL) == SOCKET_ERROR) {
        res->err = (DWORD)WSAGetLastError();
        return res->err != WSA_IO_PENDING;
    }
    res->bytes = got;
    return skip;   /* done at once: without skip mode its packet still comes */
}

/* Skip mode: a receive posted by conn_post() that succeeded at once is
 * not handled here but goes to the back of the port's queue, as the
 * packet it would have been without skip mode. A connection's turn is
 * then the frame its packet brought and the one its deferred receive
 * found (flush_deferred()), so a client that always has data ready cannot
 * keep a worker to itself, and the others wait one pass of the queue, not
 * several. A receive that waits costs nothing more. Returns 1 when the
 * result is handled here after all (a failure). */
static int yield_result(conn *c, const op_result *res)
{
    if (res->err != 0)
        return 1;
    if (PostQueuedCompletionStatus(c->owner->port, res->bytes, (ULONG_PTR)c, &c->recv_op.ov))
        return 0;
    log_error("PostQueuedCompletionStatus: error %lu", GetLastError());
    return 1;
}

/* [step 9] use the data: only the n bytes received go to the session
 * (0 is the peer's FIN); while draining they are dropped */
static void use_data(conn *c, const char *buf, int n)
{
    if (c->phase == CONN_DRAINING) {
        c->drained += (size_t)n;
        if (n == 0 || c->drained >= LINGER_BYTES)
            c->phase = CONN_CLOSED_OK;
    } else if (!attach_session(c)) {
        c->phase = CONN_FAILED;   /* out of memory: this connection ends */
    } else if (n == 0) {
        c->peer_fin = 1;
        session_on_eof(c->sess);
    } else {
        session_on_data(c->sess, buf, (size_t)n);
    }
}

/* Every reply ready goes in one WSASend: up to SEND_IOV_MAX pieces of the
 * session's queue, whose bytes stay put until session_sent(). */
static void plan_send(conn *c, post_plan *p)
{
    session_iov iov[SEND_IOV_MAX];
    size_t n = session_output(c->sess, iov, SEND_IOV_MAX), i;

    for (i = 0; i < n; i++) {
        p->bufs[i].buf = (CHAR *)iov[i].base;
        p->bufs[i].len = (ULONG)iov[i].len;
    }
    p->nbufs = (DWORD)n;
    p->send = 1;
    c->send_posted = 1;
    c->pending++;
}

/* Like issue_recv(): 1 when the send ended at once with no packet to come. */
static int issue_send(conn *c, post_plan *p, op_result *res)
{
    int skip = c->owner->skip;
    DWORD sent = 0;

    memset(&c->send_op.ov, 0, sizeof c->send_op.ov);
    res->op = &c->send_op;
    res->bytes = 0;
    res->err = 0;
    if (WSASend(c->sock, p->bufs, p->nbufs, &sent, 0, &c->send_op.ov, NULL) == SOCKET_ERROR) {
        res->err = (DWORD)WSAGetLastError();
        return res->err != WSA_IO_PENDING;
    }
    res->bytes = sent;
    return skip;
}

/* [step 8] get the result: a real receive brings its byte count (0: the
 * peer's FIN); a zero-byte one only says "readable", and a non-blocking
 * recv() into the worker's 64 KiB buffer gets the bytes. Returns the bytes
 * read that way. */
static size_t read_ready(conn *c, char *buf)
{
    size_t total = 0;
    int round;

    for (round = 0; round < READ_ROUNDS && wants_read(c); round++) {
        int n = recv(c->sock, buf, (int)RECV_SIZE, 0);
        if (n == SOCKET_ERROR) {
            int err = WSAGetLastError();
            if (err != WSAEWOULDBLOCK)   /* WOULDBLOCK: nothing yet; wait again */
                conn_error(c, "recv", (DWORD)err);
            break;
        }
        use_data(c, buf, n);
        total += (size_t)n;
        if (n < (int)RECV_SIZE)
            break;   /* the socket's buffer is empty: wait for more */
    }
    return total;
}

/* A connection gets its own buffer when data comes twice within IDLE_MS:
 * one that sends a frame now and then stays on zero-byte receives. */
static void recv_completed(conn *c, DWORD bytes, char *buf)
{
    if (c->recv_buf == NULL) {
        ULONGLONG now = GetTickCount64();
        if (read_ready(c, buf) == 0 || c->phase != CONN_OPEN)
            return;
        if (now - c->last_data < IDLE_MS)
            set_recv_buffer(c, FLOW_MIN);   /* data flows: real receives from now on */
        c->last_data = now;
        return;
    }
    use_data(c, c->recv_buf, (int)bytes);
    if (bytes == c->recv_cap && c->recv_cap < FLOW_MAX && c->phase == CONN_OPEN)
        set_recv_buffer(c, c->recv_cap * 2);   /* it came back full: a bigger one */
}

/* The end of one posted operation: its result. A receive that the sweep
 * cancelled because it sat idle sends the connection back to zero-byte
 * receives; any other error ends the connection. */
static void op_done(conn *c, io_op *op, DWORD bytes, DWORD err, char *buf)
{
    if (op->kind == OP_RECV) {
        c->recv_posted = 0;
        if (err == ERROR_OPERATION_ABORTED && c->phase == CONN_OPEN
                 && !stopping(c->owner))
            set_recv_buffer(c, 0);
        else if (err != 0)
            conn_error(c, "WSARecv", err);
        else
            recv_completed(c, bytes, buf);
    } else {
        c->send_posted = 0;
        if (err != 0)
            conn_error(c, "WSASend", err);
        else
            session_sent(c->sess, bytes);   /* a short send: the rest goes next */
    }
}

/* [step 11] close a connection: once every reply is out, shutdown(SD_SEND)
 * and drop input until the peer's FIN (closing with unread input would
 * reset the connection and could destroy an ERROR frame the peer has not
 * read); the socket is closed when its last operation has ended */
static void begin_close(conn *c)
{
    if (shutdown(c->sock, SD_SEND) == SOCKET_ERROR) {
        log_io_error("shutdown", (DWORD)WSAGetLastError());
        c->phase = CONN_FAILED;
        return;
    }
    set_recv_buffer(c, 0);   /* draining reads into the worker's buffer */
    if (c->peer_fin) {
        c->phase = CONN_CLOSED_OK;   /* the FIN came already: nothing to drain */
        return;
    }
    c->phase = CONN_DRAINING;
    InterlockedExchange64(&c->recv_deadline, (LONG64)(GetTickCount64() + LINGER_MS));
}

/* No operation is pending and none will be posted: nothing points into c
 * any more, so its socket is closed and its memory freed. */
static void conn_finish(conn *c)
{
    iocp_server *srv = c->owner;
    stats *st = &srv->base.st;

    AcquireSRWLockExclusive(&srv->lock);   /* out of the list before the socket closes */
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    srv->live_count--;
    note_drained(srv);
    ReleaseSRWLockExclusive(&srv->lock);
    if (c->phase == CONN_CLOSED_OK)
        net_close(st, c->sock);
    else
        net_abort(st, c->sock);
    set_recv_buffer(c, 0);
    detach_session(c);
    stats_connection_closed(st);
    free(c);
    stats_closed(st, RES_BLOCK);
}

/* [step 10] receive again: decide, under the lock, what to post next: the
 * send of the ready replies, the close once all is sent, then the next
 * receive (none under backpressure). Each planned operation is counted in
 * pending at once, so the context outlives its posting. */
static void conn_plan(conn *c, post_plan *p)
{
    p->send = p->recv = 0;
    if (stopping(c->owner) && c->phase <= CONN_DRAINING)
        conn_stop(c);
    if (c->phase == CONN_OPEN && !c->send_posted && c->sess != NULL) {
        if (session_unsent(c->sess) > 0)
            plan_send(c, p);
        else if (session_done(c->sess))
            begin_close(c);
        else if (c->recv_buf == NULL && session_idle(c->sess))
            detach_session(c);   /* idle: the connection keeps no session */
    }
    if (c->recv_posted || !wants_read(c))
        return;   /* a receive waits, or backpressure, or the end */
    c->recv_posted = 1;
    c->pending++;
    p->recv = 1;
    p->wb.buf = c->recv_buf;   /* NULL, 0 while idle: a zero-byte receive */
    p->wb.len = (ULONG)c->recv_cap;
    if (c->phase == CONN_OPEN)   /* a draining connection keeps its linger deadline */
        InterlockedExchange64(&c->recv_deadline, c->recv_buf == NULL ? 0
                              : (LONG64)(GetTickCount64() + IDLE_MS));
}

/* A receive planned after a packet is not posted at once but by
 * flush_deferred(), once the port is empty or DEFER_MAX more packets
 * were taken. Posted right after the reply's send, a ping-pong
 * connection's receive nearly always waits for the client's next frame,
 * and under Wine a receive that waits costs about three more wineserver
 * requests than one that finds its data (an APC to a worker, and a
 * packet); a little later the frame is usually there. Until it is posted
 * it counts in posting (step 12), like any plan. Returns 0 when it is to
 * be posted now. */
static int defer_recv(worker *w, conn *c, const WSABUF *wb)
{
    if (!w->defer || w->count == DEFER_MAX)
        return 0;
    counter_add(&w->srv->posting, 1);
    if (w->count == 0)
        w->taken = 0;
    w->deferred[w->count].c = c;
    w->deferred[w->count].wb = *wb;
    w->count++;
    return 1;
}

/* Posts the plan, without the lock; the send first, because once the last
 * operation is posted c may already be freed by another worker. Returns
 * how many operations ended at once, their results in res. */
static int conn_post(conn *c, post_plan *p, op_result *res, worker *w)
{
    int n = 0;

    if (p->send)
        n += issue_send(c, p, &res[n]);
    if (p->recv && !defer_recv(w, c, &p->wb) && issue_recv(c, &p->wb, &res[n]))
        n += yield_result(c, &res[n]);
    return n;
}

/* One event of a connection: a completion (op), or its start (op NULL).
 * Under the lock the results are handled and the next operations
 * planned; they are posted after it, and any that ended at once (skip
 * mode, or a failure) are handled in the next round. The worker that
 * finds pending at 0 frees the connection: nothing is posted and nothing
 * will be. */
static void conn_event(conn *c, io_op *op, DWORD bytes, DWORD err, worker *w)
{
    iocp_server *srv = c->owner;   /* outlives c: read after the posts */
    op_result res[2];
    post_plan plan;
    int n = 0, i, last;

    if (op != NULL) {
        res[0].op = op;
        res[0].bytes = bytes;
        res[0].err = err;
        n = 1;
    }
    for (;;) {
        counter_add(&srv->posting, 1);   /* before conn_plan reads stopping */
        AcquireSRWLockExclusive(&c->lock);
        for (i = 0; i < n; i++) {
            c->pending--;
            op_done(c, res[i].op, res[i].bytes, res[i].err, w->buf);
        }
        conn_plan(c, &plan);
        last = c->pending == 0;
        ReleaseSRWLockExclusive(&c->lock);
        n = last ? 0 : conn_post(c, &plan, res, w);
        counter_add(&srv->posting, -1);
        if (last)
            conn_finish(c);
        if (n == 0)
            return;
    }
}

/* Posts the deferred receives. One that ends at once is handled here,
 * and the receive it plans is posted at once, not deferred again: a
 * connection whose frames are always there goes through the port every
 * other frame, so it cannot crowd out the connections whose packets
 * wait in the port. */
static void flush_deferred(worker *w)
{
    deferred_recv d[DEFER_MAX];
    int n = w->count, i;

    memcpy(d, w->deferred, (size_t)n * sizeof *d);
    w->count = 0;
    w->defer = 0;
    for (i = 0; i < n; i++) {
        op_result res;
        int done = issue_recv(d[i].c, &d[i].wb, &res);
        counter_add(&w->srv->posting, -1);   /* after the post, as in conn_event() */
        if (done)
            conn_event(d[i].c, res.op, res.bytes, res.err, w);
    }
    w->defer = w->srv->defer;
}

/* Counts the connection in before anything is done with its socket, so a
 * refused one is never tied to the port. */
static int reserve_slot(iocp_server *srv)
{
    int ok;

    AcquireSRWLockExclusive(&srv->lock);
    ok = srv->live_count < srv->base.opt.max_clients;
    if (ok)
        srv->live_count++;
    ReleaseSRWLockExclusive(&srv->lock);
    return ok;
}

/* [step 4] prepare the connection: the port with the context as
 * completion key (a ULONG_PTR, a whole pointer: article 000 casts it to a
 * DWORD), and non-blocking mode for the recv() after a zero-byte receive */
static int prepare_socket(iocp_server *srv, conn *c)
{
    if (CreateIoCompletionPort((HANDLE)c->sock, srv->port, (ULONG_PTR)c, 0) == NULL) {
        log_error("CreateIoCompletionPort (connection): error %lu", GetLastError());
        return -1;
    }
    if (net_set_nonblocking(c->sock) != 0)
        return -1;
    if (srv->skip && !SetFileCompletionNotificationModes((HANDLE)c->sock,
            FILE_SKIP_COMPLETION_PORT_ON_SUCCESS | FILE_SKIP_SET_EVENT_ON_HANDLE)) {
        log_error("SetFileCompletionNotificationModes: error %lu", GetLastError());
        return -1;
    }
    return 0;
}

/* The context of a new connection, in the server's list, then its first
 * receive (conn_event with no operation). */
static void start_connection(iocp_server *srv, SOCKET s, worker *w)
{
    conn *c;

    if (!reserve_slot(srv)) {
        net_refuse(&srv->base.st, s);
        return;
    }
    c = (conn *)calloc(1, sizeof *c);
    if (c == NULL) {
        log_error("calloc: out of memory for a connection");
        net_abort(&srv->base.st, s);
        AcquireSRWLockExclusive(&srv->lock);
        srv->live_count--;
        note_drained(srv);
        ReleaseSRWLockExclusive(&srv->lock);
        return;
    }
    stats_opened(&srv->base.st, RES_BLOCK);
    c->owner = srv;
    c->sock = s;
    c->recv_op.kind = OP_RECV;
    c->send_op.kind = OP_SEND;
    InitializeSRWLock(&c->lock);
    if (prepare_socket(srv, c) != 0)
        c->phase = CONN_FAILED;   /* conn_event finds nothing to post and closes it */
    AcquireSRWLockExclusive(&srv->lock);
    c->next = srv->conns;
    if (srv->conns != NULL)
        srv->conns->prev = c;
    srv->conns = c;
    ReleaseSRWLockExclusive(&srv->lock);
    stats_connection_opened(&srv->base.st);
    conn_event(c, NULL, 0, 0, w);
}

/* An accept operation leaves the pool for now: its AcceptEx failed at
 * once (the sweep posts it again), or the server stops. */
static void accept_idle(iocp_server *srv, accept_op *a)
{
    AcquireSRWLockExclusive(&srv->lock);
    a->posted = 0;
    srv->accepts_pending--;
    note_drained(srv);
    ReleaseSRWLockExclusive(&srv->lock);
}

/* [step 3] accept a connection: AcceptEx on a socket made in advance,
 * with receive length 0, so it completes at the connect and a client that
 * connects and stays silent does not hold it */
static int start_accept(iocp_server *srv, accept_op *a)
{
    DWORD bytes = 0;
    int err;

    a->sock = WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0, WSA_FLAG_OVERLAPPED);
    if (a->sock == INVALID_SOCKET) {
        net_log_error("WSASocket (for AcceptEx)", WSAGetLastError());
        return -1;
    }
    stats_opened(&srv->base.st, RES_SOCKET);
    memset(&a->op.ov, 0, sizeof a->op.ov);
    if (!srv->accept_ex(srv->base.listener, a->sock, a->addrs, 0, (DWORD)ADDR_SIZE,
                       (DWORD)ADDR_SIZE, &bytes, &a->op.ov)
        && (err = WSAGetLastError()) != ERROR_IO_PENDING) {
        net_log_error("AcceptEx", err);
        net_close(&srv->base.st, a->sock);
        a->sock = INVALID_SOCKET;
        return -1;
    }
    return 0;
}

/* Posts the accept again unless the server stops (then it leaves the
 * pool); counted in posting, like a connection's posts. */
static void post_accept(iocp_server *srv, accept_op *a)
{
    int posted;

    counter_add(&srv->posting, 1);
    posted = !stopping(srv) && start_accept(srv, a) == 0;
    counter_add(&srv->posting, -1);
    if (!posted)
        accept_idle(srv, a);
}

static void log_peer(iocp_server *srv, accept_op *a)
{
    struct sockaddr *local, *remote;
    int local_len = 0, remote_len = 0;
    char text[INET_ADDRSTRLEN];
    struct sockaddr_in *peer;

    srv->accept_addrs(a->addrs, 0, (DWORD)ADDR_SIZE, (DWORD)ADDR_SIZE, &local, &local_len,
                     &remote, &remote_len);
    peer = (struct sockaddr_in *)remote;
    if (inet_ntop(AF_INET, &peer->sin_addr, text, sizeof text) != NULL)
        log_debug("connection from %s:%u", text, (unsigned)ntohs(peer->sin_port));
}

/* An AcceptEx completed: it is posted again at once, after a failure
 * too, so the pool never shrinks (article 004 reuses the accept context
 * for the client and posts no new AcceptEx); then the socket becomes a
 * connection. */
static void accept_done(iocp_server *srv, accept_op *a, DWORD err, worker *w)
{
    SOCKET s = a->sock;

    a->sock = INVALID_SOCKET;   /* s is this function's now */
    if (err == 0 && log_enabled(LOG_VERBOSE))
        log_peer(srv, a);   /* before the repost reuses a->addrs */
    post_accept(srv, a);
    /* The accepted socket takes the listener's properties only now;
     * without it shutdown() and getpeername() fail on it. */
    if (err == 0 && setsockopt(s, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT,
                               (const char *)&srv->base.listener,
                               (int)sizeof srv->base.listener) == SOCKET_ERROR)
        err = (DWORD)WSAGetLastError();
    if (err != 0) {
        log_io_error("AcceptEx", err);
        net_abort(&srv->base.st, s);
        return;
    }
    start_connection(srv, s, w);
}

/* [step 7] find out which connection and which operation: the key is the
 * connection, CONTAINING_RECORD turns the OVERLAPPED back into the
 * operation that embeds it */
static void dispatch(worker *w, ULONG_PTR key, OVERLAPPED *ov, DWORD bytes, DWORD err)
{
    io_op *op = CONTAINING_RECORD(ov, io_op, ov);

    if (op->kind == OP_ACCEPT)
        accept_done(w->srv, CONTAINING_RECORD(op, accept_op, op), err, w);
    else
        conn_event((conn *)key, op, bytes, err, w);
}

/* [step 6] wait for something to happen: every worker waits on the one
 * port and takes the next completion, whichever connection it belongs to.
 * FALSE with an OVERLAPPED is one failed operation of one connection, not
 * a reason for the worker to end (article 000's worker returns there); a
 * packet without OVERLAPPED is the order to quit. While the worker holds
 * deferred receives it does not wait: an empty port is the moment to
 * post them. */
static void worker_single(worker *w)
{
    for (;;) {
        DWORD bytes = 0, err = 0;
        ULONG_PTR key = 0;
        OVERLAPPED *ov = NULL;

        if (w->count > 0 && w->taken >= DEFER_MAX)
            flush_deferred(w);
        if (!GetQueuedCompletionStatus(w->srv->port, &bytes, &key, &ov,
                                       w->count > 0 ? 0 : INFINITE)) {
            err = GetLastError();
            if (ov == NULL && err == WAIT_TIMEOUT) {
                flush_deferred(w);
                continue;
            }
            if (ov == NULL) {   /* the port itself failed */
                log_error("GetQueuedCompletionStatus: error %lu", err);
                return;
            }
        } else if (ov == NULL) {
            return;
        }
        w->taken++;
        dispatch(w, key, ov, bytes, err);
    }
}

/* GetQueuedCompletionStatusEx gives no error per entry: the status is in
 * the OVERLAPPED, and GetOverlappedResult turns it into the Win32 error
 * that GetQueuedCompletionStatus would give. */
static DWORD entry_error(const OVERLAPPED_ENTRY *e)
{
    io_op *op = CONTAINING_RECORD(e->lpOverlapped, io_op, ov);
    SOCKET s = op->kind == OP_ACCEPT ? CONTAINING_RECORD(op, accept_op, op)->sock
                                     : ((conn *)e->lpCompletionKey)->sock;
    DWORD bytes;

    if (e->lpOverlapped->Internal == 0)   /* STATUS_SUCCESS */
        return 0;
    return GetOverlappedResult((HANDLE)s, e->lpOverlapped, &bytes, FALSE) ? 0 : GetLastError();
}

/* --opt batch: up to BATCH_MAX completions per call; the receives they
 * deferred are posted after them. A quit packet taken with others is
 * this worker's; extra ones go back for the rest. */
static void worker_batch(worker *w)
{
    iocp_server *srv = w->srv;
    OVERLAPPED_ENTRY e[BATCH_MAX];

    for (;;) {
        ULONG n = 0, i, quits = 0;
        if (!GetQueuedCompletionStatusEx(srv->port, e, BATCH_MAX, &n, INFINITE, FALSE)) {
            log_error("GetQueuedCompletionStatusEx: error %lu", GetLastError());
            return;
        }
        for (i = 0; i < n; i++) {
            if (e[i].lpOverlapped == NULL)
                quits++;
            else
                dispatch(w, e[i].lpCompletionKey, e[i].lpOverlapped,
                         e[i].dwNumberOfBytesTransferred, entry_error(&e[i]));
        }
        flush_deferred(w);
        for (i = 1; i < quits; i++)
            if (!PostQueuedCompletionStatus(srv->port, 0, 0, NULL))
                log_error("PostQueuedCompletionStatus (quit): error %lu", GetLastError());
        if (quits > 0)
            return;
    }
}

static DWORD WINAPI worker_main(void *arg)
{
    worker w;

    w.srv = (iocp_server *)arg;
    w.defer = w.srv->defer;
    w.count = 0;
    w.taken = 0;
    if (w.srv->batch)
        worker_batch(&w);
    else
        worker_single(&w);
    return 0;
}

/* ov NULL: every operation of the socket. */
static void cancel_io(SOCKET s, OVERLAPPED *ov)
{
    if (!CancelIoEx((HANDLE)s, ov) && GetLastError() != ERROR_NOT_FOUND)
        log_error("CancelIoEx: error %lu", GetLastError());
}

/* The main thread's chores while the server runs: cancel the receives
 * whose deadline passed (an idle real receive goes back to zero bytes, a
 * drain whose time is up ends) and post again the AcceptEx calls that
 * failed at once. */
static void sweep(iocp_server *srv)
{
    ULONGLONG now = GetTickCount64();
    conn *c;
    int i;

    AcquireSRWLockShared(&srv->lock);
    for (c = srv->conns; c != NULL; c = c->next) {
        LONG64 deadline = counter_get(&c->recv_deadline);
        if (deadline != 0 && (ULONGLONG)deadline <= now)
            cancel_io(c->sock, &c->recv_op.ov);
    }
    ReleaseSRWLockShared(&srv->lock);
    for (i = 0; i < ACCEPT_POOL; i++) {
        accept_op *a = &srv->accepts[i];
        int idle;
        AcquireSRWLockExclusive(&srv->lock);
        idle = !a->posted;
        if (idle) {
            a->posted = 1;
            srv->accepts_pending++;
        }
        ReleaseSRWLockExclusive(&srv->lock);
        if (idle)
            post_accept(srv, a);
    }
}

/* [step 12] stop the server: post nothing new, cancel every operation and
 * let the workers handle the cancellations until none is left, then the
 * quit packets, the joins, and the port */
/* No connection and no AcceptEx left. */
static int all_ended(iocp_server *srv)
{
    int ended;

    AcquireSRWLockShared(&srv->lock);
    ended = srv->live_count == 0 && srv->accepts_pending == 0;
    ReleaseSRWLockShared(&srv->lock);
    return ended;
}

/* CancelIoEx on the listener (the AcceptEx pool) and on every connection,
 * CANCEL_CHUNK at a time: between two chunks the lock is free, so the
 * workers can already close the connections whose cancellation they
 * handled (closing needs the lock). Each chunk starts again from the head,
 * skipping the connections already cancelled, since the list changes
 * meanwhile. */
static void cancel_all(iocp_server *srv)
{
    conn *c;
    int n;

    cancel_io(srv->base.listener, NULL);
    do {
        n = 0;
        AcquireSRWLockShared(&srv->lock);
        for (c = srv->conns; c != NULL && n < CANCEL_CHUNK; c = c->next) {
            if (c->cancelled)
                continue;
            c->cancelled = 1;
            cancel_io(c->sock, NULL);
            n++;
        }
        ReleaseSRWLockShared(&srv->lock);
    } while (n == CANCEL_CHUNK);
}

/* Returns 0 when operations were still pending after STOP_WAIT_MS: then
 * nothing they point into may be freed. */
static int stop_server(iocp_server *srv)
{
    ULONGLONG deadline = GetTickCount64() + STOP_WAIT_MS;
    int i, ended;

    /* A thread counts itself in posting before it reads stopping, and out
     * after its posts; so once stopping is set and posting is 0, every
     * operation is posted and none will be: one round of cancels is all. */
    InterlockedExchange64(&srv->stopping, 1);
    while (counter_get(&srv->posting) > 0 && GetTickCount64() < deadline)
        Sleep(1);
    cancel_all(srv);
    while (!(ended = all_ended(srv)) && GetTickCount64() < deadline)
        WaitForSingleObject(srv->drained, 100);
    if (!ended)
        log_error("stop: operations still pending after %d ms", STOP_WAIT_MS);
    server_close_listener(&srv->base);   /* no AcceptEx uses it any more */
    for (i = 0; i < srv->worker_count; i++)
        if (!PostQueuedCompletionStatus(srv->port, 0, 0, NULL))
            log_error("PostQueuedCompletionStatus (quit): error %lu", GetLastError());
    for (i = 0; i < srv->worker_count; i++)
        server_join(&srv->base, srv->workers[i]);
    srv->worker_count = 0;
    return ended;
}

/* Loads an extension function (AcceptEx, GetAcceptExSockaddrs) through
 * WSAIoctl, as Microsoft recommends, instead of linking mswsock's export. */
static int load_extension(SOCKET s, GUID id, void *fn, size_t fn_size, const char *what)
{
    DWORD bytes = 0;

    if (WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &id, sizeof id, fn, (DWORD)fn_size,
                 &bytes, NULL, NULL) == SOCKET_ERROR) {
        net_log_error(what, WSAGetLastError());
        return -1;
    }
    return 0;
}

static void *alloc_block(iocp_server *srv, size_t size)
{
    void *p = calloc(1, size);

    if (p == NULL)
        log_error("calloc: out of memory");
    else
        stats_opened(&srv->base.st, RES_BLOCK);
    return p;
}

static void free_block(iocp_server *srv, void *p)
{
    if (p == NULL)
        return;
    free(p);
    stats_closed(&srv->base.st, RES_BLOCK);
}

/* The port, the extension functions, the listener on the port, the
 * workers, then the AcceptEx pool. */
static int setup(iocp_server *srv)
{
    GUID accept_ex = WSAID_ACCEPTEX, accept_addrs = WSAID_GETACCEPTEXSOCKADDRS;
    int i;

    srv->port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
    if (srv->port == NULL) {
        log_error("CreateIoCompletionPort: error %lu", GetLastError());
        return -1;
    }
    stats_opened(&srv->base.st, RES_HANDLE);
    srv->drained = CreateEventA(NULL, FALSE, FALSE, NULL);
    if (srv->drained == NULL) {
        log_error("CreateEvent (drained): error %lu", GetLastError());
        return -1;
    }
    stats_opened(&srv->base.st, RES_HANDLE);
    if (load_extension(srv->base.listener, accept_ex, &srv->accept_ex, sizeof srv->accept_ex,
                       "WSAIoctl (AcceptEx)") != 0
        || load_extension(srv->base.listener, accept_addrs, &srv->accept_addrs,
                          sizeof srv->accept_addrs, "WSAIoctl (GetAcceptExSockaddrs)") != 0)
        return -1;
    /* key 0: the listener is no connection; its operations are OP_ACCEPT */
    if (CreateIoCompletionPort((HANDLE)srv->base.listener, srv->port, 0, 0) == NULL) {
        log_error("CreateIoCompletionPort (listener): error %lu", GetLastError());
        return -1;
    }
    srv->accepts = (accept_op *)alloc_block(srv, ACCEPT_POOL * sizeof *srv->accepts);
    srv->workers = (HANDLE *)alloc_block(srv, (size_t)srv->base.opt.threads * sizeof(HANDLE));
    if (srv->accepts == NULL || srv->workers == NULL)
        return -1;
    for (i = 0; i < srv->base.opt.threads; i++) {
        srv->workers[i] = server_thread(&srv->base, worker_main, srv, WORKER_STACK);
        if (srv->workers[i] == NULL)
            return -1;
        srv->worker_count++;
    }
    for (i = 0; i < ACCEPT_POOL; i++)
        srv->accepts[i].op.kind = OP_ACCEPT;
    sweep(srv);   /* posts the whole pool */
    return 0;
}

static void close_handle(iocp_server *srv, HANDLE h, const char *what)
{
    if (h == NULL)
        return;
    if (!CloseHandle(h))
        log_error("CloseHandle (%s): error %lu", what, GetLastError());
    stats_closed(&srv->base.st, RES_HANDLE);
}

static int run(iocp_server *srv)
{
    int ok = setup(srv) == 0;

    log_info("iocp: %d workers, %d AcceptEx posted, batch %s, skip-on-success %s, "
             "deferred receives %s", srv->worker_count, ok ? ACCEPT_POOL : 0,
             srv->batch ? "on" : "off", srv->skip ? "on" : "off", srv->defer ? "on" : "off");
    /* The main thread waits for the stop and sweeps meanwhile. */
    while (ok && WaitForSingleObject(srv->base.stop.event, SWEEP_MS) == WAIT_TIMEOUT)
        sweep(srv);
    if (!stop_server(srv))
        return ok ? 0 : -1;   /* not freed: an operation may still use it; exit 4 */
    free_block(srv, srv->accepts);
    free_block(srv, srv->workers);
    close_handle(srv, srv->drained, "drained");
    close_handle(srv, srv->port, "port");
    return ok ? 0 : -1;
}

/* Two workers per CPU, at least 4. The workers never wait for the
 * network, but each system call waits for its answer, and under Wine that
 * answer comes from the wineserver, which serves every process of the
 * prefix in turn: a server with few threads gets few turns. With the
 * client in the same prefix, 1,000 connections measured 3 to 4 times the
 * frames per second with 4 workers as with 2, on 2 CPUs. */
static int default_threads(void)
{
    SYSTEM_INFO si;
    int n;

    GetSystemInfo(&si);
    n = 2 * (int)si.dwNumberOfProcessors;
    return n < 4 ? 4 : n > 64 ? 64 : n;
}

int main(int argc, char **argv)
{
    server_model model = iocp_model;
    iocp_server srv;
    int rc;

    memset(&srv, 0, sizeof srv);
    model.default_threads = default_threads();
    InitializeSRWLock(&srv.lock);
    /* [step 2] create the listening socket (in server_start, common/server.c) */
    rc = server_start(&srv.base, &model, argc, argv);
    if (rc != SERVER_RUN)
        return rc;
    srv.batch = (srv.base.opt.switches & SWITCH_BATCH) != 0;
    srv.skip = (srv.base.opt.switches & SWITCH_NOSKIP) == 0;
    srv.defer = (srv.base.opt.switches & SWITCH_NODEFER) == 0;
    return server_finish(&srv.base, run(&srv));
}
