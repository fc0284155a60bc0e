/* 06_iocp/server.c - an I/O completion port and a pool of worker threads.
 *
 * Article:
 * articles 000, 001, 002 and 004 (shared/seeds/), done the way production
 * libraries do it (libuv's Windows "requests"), still readable step by
 * step.
 *
 * How it works:
 * every operation (AcceptEx, WSARecv, WSASend) is started and forgotten;
 * when it ends, the system queues a completion packet on the one port,
 * and whichever worker thread is free takes it with
 * GetQueuedCompletionStatus. The packet carries the completion key (the
 * connection's context) and the OVERLAPPED of the operation, which is
 * embedded in an operation struct, so CONTAINING_RECORD gives back the
 * operation. A pool of AcceptEx calls is kept posted. Each connection has
 * at most one receive and one send in flight: the receive is a zero-byte
 * WSARecv while the connection is idle (it holds no buffer) and a real one
 * into the connection's buffer while data flows; the send carries every
 * ready reply.
 *
 * What changes from the previous model:
 * (05_completion_routine) the completions no longer run as APCs on the
 * thread that posted the I/O; any worker takes any completion, so two
 * workers may hold two completions of one connection at once. Each
 * connection therefore has a lock, and a count of pending operations: its
 * memory is freed only when the count is 0, after the last completion was
 * taken from the port. Accepting moves into the port too (AcceptEx): no
 * thread ever blocks.
 *
 * Limits:
 * no 64-handle limit and no thread per client. The documented capacity is
 * 10,000 connections (--max-clients); an idle one costs about 0.35 KiB of
 * the server's memory (no buffer, and no session: it is made again when
 * data comes), one that streams up to 64 KiB more. Under Wine the
 * wineserver's descriptors bound the total (REFERENCE.md section 4). An
 * operation that succeeds at once is finished inline, with no packet
 * (FILE_SKIP_COMPLETION_PORT_ON_SUCCESS); --opt noskip turns that off, so
 * every operation queues a packet; it is on only when every TCP provider
 * returns IFS handles, as Microsoft asks. Connections take turns: a
 * receive that succeeds at once goes to the back of the port's queue.
 * Two switches show tuning measured under Wine, off by default: --opt
 * defer (a worker posts the receive planned after a packet a little
 * later, when it is more likely to find its data) and --opt batch
 * (GetQueuedCompletionStatusEx, up to 64 completions per call).
 */
#include <assert.h>
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
#define ACCEPT_POOL 128           /* AcceptEx calls kept posted (see docs: bursts) */
#define ADDR_SIZE (sizeof(struct sockaddr_in) + 16)   /* what AcceptEx asks per address */
#define BATCH_MAX 64              /* completions per GetQueuedCompletionStatusEx */
#define SWEEP_MS 250              /* how often the main thread looks for idle receives */
#define CANCEL_CHUNK 64           /* stop: cancels per hold of the server lock */
#define DEFER_MAX 16              /* receives a worker defers, and packets they wait for */

/* The switches a reader can flip to see what each feature buys. Skipping
 * the packet of an operation that succeeds at once is on by default (what
 * Microsoft documents it for); batching and deferred receives are off:
 * they were tuned against Wine's wineserver, and nothing documents them
 * as a gain on Windows. */
enum { SWITCH_BATCH = 1u << 0, SWITCH_NOSKIP = 1u << 1, SWITCH_DEFER = 1u << 2 };
static const server_switch iocp_switches[] = {
    { "batch", "GetQueuedCompletionStatusEx: up to 64 completions per call" },
    { "noskip", "no FILE_SKIP_COMPLETION_PORT_ON_SUCCESS: a packet for every operation" },
    { "defer", "a worker posts the receive planned after a packet a little later" },
    { NULL, NULL }
};

static const server_model model_info = {
    "iocp", "an I/O completion port, AcceptEx and a pool of worker threads",
    10000, 0, "worker threads on the completion port (default: two per CPU)",
    iocp_switches
};

/* [step 1] define the state
 * an operation embeds its OVERLAPPED; a connection (the completion key)
 * owns one receive and one send */
/* Where a connection is in its life. */
enum conn_phase {
    PHASE_OPEN,       /* the session reads and answers */
    PHASE_DRAINING,   /* shutdown(SD_SEND) done: input dropped until the peer's FIN */
    PHASE_CLOSING,    /* close gracefully once no operation is pending */
    PHASE_ABORTING    /* close abortively once no operation is pending */
};

enum op_kind { OP_ACCEPT, OP_RECV, OP_SEND };

typedef struct io_op {
    WSAOVERLAPPED ov;             /* the system writes here until the completion */
    enum op_kind kind;
    int posted;                   /* planned or posted, its completion not yet handled */
} io_op;

typedef struct accept_op {
    io_op op;                     /* op.posted is guarded by the server lock */
    SOCKET sock;                  /* made in advance; AcceptEx connects it */
    char addrs[2 * ADDR_SIZE];    /* local and remote address; no data (length 0) */
} accept_op;

typedef struct conn {
    struct model_server *srv;
    SOCKET sock;                  /* set once; closed only after leaving the server's list */
    session *sess;                /* NULL while idle: made again when data comes */
    net_drain drain;
    enum conn_phase phase;
    struct conn *prev, *next;     /* in srv->conns, under the server lock */
    io_op recv_op, send_op;
    int peer_fin;                 /* the peer's FIN arrived: nothing to drain */
    int cancelled;                /* the stop cancelled its I/O (main thread only) */
    SRWLOCK lock;                 /* guards the fields from sess to last_data */
    int pending;                  /* operations planned or posted and not yet handled */
    char *recv_buf;               /* only while data flows; NULL: zero-byte receives */
    size_t recv_cap;
    ULONGLONG last_data;          /* GetTickCount64() of the last zero-byte receive with data */
    counter_t recv_deadline;      /* atomic: when the sweep cancels the receive; 0 never */
} conn;

/* A receive planned and not posted yet: see defer_recv(). */
typedef struct deferred_recv {
    conn *c;
    WSABUF wb;
} deferred_recv;

/* A worker thread and its own state: the buffer of the recv() after a
 * zero-byte receive (a worker's, not a connection's: idle connections
 * hold none), and the receives it deferred. */
typedef struct worker {
    struct model_server *srv;
    HANDLE thread;
    int defer;                    /* receives may be deferred: --opt defer, not flushing */
    int count;                    /* receives deferred */
    int taken;                    /* packets taken since the first of them was deferred */
    deferred_recv deferred[DEFER_MAX];
    char buf[RECV_SIZE];
} worker;

typedef struct model_server {
    server base;
    worker **workers;             /* all started by start_model */
    int worker_count, worker_max;
    HANDLE port;
    LPFN_ACCEPTEX accept_ex;
    LPFN_GETACCEPTEXSOCKADDRS accept_addrs;
    int batch;                    /* --opt batch */
    int skip;                     /* not --opt noskip */
    int defer;                    /* --opt defer */
    counter_t stopping;           /* 1 once the stop began: post nothing new */
    counter_t posting;            /* threads between reading stopping and posting */
    SRWLOCK lock;                 /* guards conns, live_count, accepts_pending, op.posted */
    conn *conns;
    int live_count;
    int accepts_pending;
    accept_op *accepts;           /* ACCEPT_POOL of them */
    HANDLE drained;               /* set when the last operation ended during the stop */
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

/* What conn_advance() decided, for conn_post() to post after the lock is
 * released: the lock is never held across the calls that post I/O. */
typedef struct post_plan {
    int send, recv;
    WSABUF bufs[NET_SEND_BUFS];   /* WSASend copies the array; the bytes must stay */
    DWORD nbufs;
    WSABUF wb;                    /* the receive: the connection's buffer, or 0 bytes */
} post_plan;

/* An operation that ended: taken from the port, or ended at once. */
typedef struct op_result {
    io_op *op;
    DWORD bytes, err;
} op_result;

static int run(model_server *srv);
static int start_model(model_server *srv);
static int main_loop(model_server *srv);
static void stop_server(model_server *srv);
static void post_accept(model_server *srv, accept_op *a);
static void hand_over(model_server *srv, SOCKET s, worker *w);
static worker *worker_new(model_server *srv);
static DWORD WINAPI worker_main(void *arg);
static void dispatch(worker *w, ULONG_PTR key, OVERLAPPED *ov, DWORD bytes, DWORD err);
static void conn_event(conn *c, io_op *op, DWORD bytes, DWORD err, worker *w);
static void flush_deferred(worker *w);
static void op_done(conn *c, io_op *op, DWORD bytes, DWORD err, char *buf);
static void use_data(conn *c, const char *buf, DWORD n);
static int attach_session(conn *c);
static void conn_advance(conn *c, post_plan *p);
static void plan_op(conn *c, io_op *op, int *planned);
static int wants_read(const conn *c);
static void set_recv_buffer(conn *c, size_t cap);
static void begin_close(conn *c);
static void conn_cancel(conn *c, enum conn_phase phase);
static void conn_fail(conn *c, const char *what, DWORD err);
static void sweep(model_server *srv);
static void cancel_io(SOCKET s, OVERLAPPED *ov);
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

/* Two workers per CPU: Microsoft's "I/O Completion Ports" page gives it as
 * the rule of thumb, so that a worker that blocks (here only in a system
 * call) leaves another to run while the port's concurrency value (0: one
 * per CPU) keeps the running ones to the CPU count. */
static int default_threads(void)
{
    int n = 2 * server_cpu_count();

    return n > 64 ? 64 : n;
}

/* The port, the extension functions, the listener on the port. */
static int open_port(model_server *srv)
{
    GUID accept_ex = WSAID_ACCEPTEX, accept_addrs = WSAID_GETACCEPTEXSOCKADDRS;

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
    if (net_extension(srv->base.listener, accept_ex, &srv->accept_ex, sizeof srv->accept_ex,
                      "WSAIoctl (AcceptEx)") != 0
        || net_extension(srv->base.listener, accept_addrs, &srv->accept_addrs,
                         sizeof srv->accept_addrs, "WSAIoctl (GetAcceptExSockaddrs)") != 0)
        return -1;
    /* key 0: the listener is no connection; its operations are OP_ACCEPT */
    if (CreateIoCompletionPort((HANDLE)srv->base.listener, srv->port, 0, 0) == NULL) {
        log_error("CreateIoCompletionPort (listener): error %lu", GetLastError());
        return -1;
    }
    return 0;
}

/* FILE_SKIP_COMPLETION_PORT_ON_SUCCESS is safe on a socket only when every
 * provider returns IFS handles (Microsoft's SetFileCompletionNotificationModes
 * page): otherwise every operation queues its packet. */
static int skip_is_safe(void)
{
    if (net_tcp_providers_ifs())
        return 1;
    log_info("iocp: a TCP provider without IFS handles: skip-on-success off");
    return 0;
}

/* The port, the workers, then the AcceptEx pool. */
static int start_model(model_server *srv)
{
    int i;

    InitializeSRWLock(&srv->lock);
    srv->batch = (srv->base.opt.switches & SWITCH_BATCH) != 0;
    srv->skip = (srv->base.opt.switches & SWITCH_NOSKIP) == 0 && skip_is_safe();
    srv->defer = (srv->base.opt.switches & SWITCH_DEFER) != 0;
    if (open_port(srv) != 0)
        return -1;
    srv->accepts = (accept_op *)server_alloc(&srv->base, ACCEPT_POOL * sizeof *srv->accepts);
    if (srv->accepts == NULL)
        return -1;
    srv->worker_max = srv->base.opt.threads > 0 ? srv->base.opt.threads : default_threads();
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
    for (i = 0; i < ACCEPT_POOL; i++)
        srv->accepts[i].op.kind = OP_ACCEPT;
    sweep(srv);   /* posts the whole pool */
    log_info("iocp: %d workers, %d AcceptEx posted, batch %s, skip-on-success %s, "
             "deferred receives %s", srv->worker_count, ACCEPT_POOL, srv->batch ? "on" : "off",
             srv->skip ? "on" : "off", srv->defer ? "on" : "off");
    return 0;
}

/* The main thread waits for the stop and sweeps meanwhile. */
static int main_loop(model_server *srv)
{
    DWORD rc;

    while ((rc = WaitForSingleObject(srv->base.stop.event, SWEEP_MS)) == WAIT_TIMEOUT)
        sweep(srv);
    if (rc != WAIT_FAILED)
        return 0;
    log_error("WaitForSingleObject (stop): error %lu", GetLastError());
    return -1;
}

static int stopping(model_server *srv)
{
    return counter_get(&srv->stopping) != 0;
}

/* Under the server lock: during the stop, wakes the main thread once no
 * operation of any kind is left. */
static void note_drained(model_server *srv)
{
    if (stopping(srv) && srv->live_count == 0 && srv->accepts_pending == 0)
        SetEvent(srv->drained);
}

/* [step 3] accept a connection
 * AcceptEx on a socket made in advance, with receive length 0, so it
 * completes at the connect and a client that connects and stays silent
 * does not hold it */
static int start_accept(model_server *srv, accept_op *a)
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

/* An accept operation leaves the pool for now: its AcceptEx failed at
 * once (the sweep posts it again), or the server stops. */
static void accept_idle(model_server *srv, accept_op *a)
{
    AcquireSRWLockExclusive(&srv->lock);
    a->op.posted = 0;
    srv->accepts_pending--;
    note_drained(srv);
    ReleaseSRWLockExclusive(&srv->lock);
}

/* Posts the accept again unless the server stops (then it leaves the
 * pool); counted in posting, like a connection's posts. */
static void post_accept(model_server *srv, accept_op *a)
{
    int posted;

    counter_add(&srv->posting, 1);
    posted = !stopping(srv) && start_accept(srv, a) == 0;
    counter_add(&srv->posting, -1);
    if (!posted)
        accept_idle(srv, a);
}

/* 1 at --max-clients; else the connection is counted in at once, before
 * anything is done with its socket, so a refused one is never tied to the
 * port. */
static int server_full(model_server *srv)
{
    int full;

    AcquireSRWLockExclusive(&srv->lock);
    full = srv->live_count >= srv->base.opt.max_clients;
    if (!full)
        srv->live_count++;
    ReleaseSRWLockExclusive(&srv->lock);
    return full;
}

/* An AcceptEx completed: it is posted again at once, after a failure
 * too, so the pool never shrinks (article 004 reuses the accept context
 * for the client and posts no new AcceptEx); then the socket becomes a
 * connection. */
static void accept_done(model_server *srv, accept_op *a, DWORD err, worker *w)
{
    SOCKET s = a->sock;

    a->sock = INVALID_SOCKET;   /* s is this function's now */
    if (err == 0 && log_enabled(LOG_VERBOSE))   /* before the repost reuses a->addrs */
        net_log_accept_peer(srv->accept_addrs, a->addrs, (DWORD)ADDR_SIZE);
    post_accept(srv, a);
    /* The accepted socket takes the listener's properties only now;
     * without it shutdown() and getpeername() fail on it. */
    if (err == 0 && setsockopt(s, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT,
                               (const char *)&srv->base.listener,
                               (int)sizeof srv->base.listener) == SOCKET_ERROR)
        err = (DWORD)WSAGetLastError();
    if (err != 0) {
        /* The pool goes on whatever the answer: its AcceptEx is posted
         * again above, and a fatal error has stopped the server. */
        server_accept_failed(&srv->base, (int)err);
        net_abort(&srv->base.st, s);
        return;
    }
    if (server_full(srv))
        net_refuse(&srv->base.st, s);
    else
        hand_over(srv, s, w);
}

/* [step 4] prepare the connection for the model
 * a worker of the pool takes it; the port with the context as completion key (a ULONG_PTR, a whole
 * pointer: article 000 casts it to a DWORD), and non-blocking mode for the
 * recv() after a zero-byte receive */
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
    w->defer = srv->defer;
    w->thread = server_thread(&srv->base, worker_main, w);
    if (w->thread == NULL) {
        worker_free(srv, w);
        return NULL;
    }
    return w;
}

static int prepare_socket(model_server *srv, conn *c)
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

static conn *conn_new(model_server *srv, SOCKET s)
{
    conn *c = (conn *)server_alloc(&srv->base, sizeof *c);

    if (c == NULL) {
        net_abort(&srv->base.st, s);
        return NULL;
    }
    c->srv = srv;
    c->sock = s;
    server_conn_opened(&srv->base, NULL);   /* the session comes with the data */
    return c;
}

/* The context of a new connection, in the server's list, then its first
 * receive (conn_event with no operation). */
static void hand_over(model_server *srv, SOCKET s, worker *w)
{
    conn *c = conn_new(srv, s);

    if (c == NULL) {
        AcquireSRWLockExclusive(&srv->lock);
        srv->live_count--;
        note_drained(srv);
        ReleaseSRWLockExclusive(&srv->lock);
        return;
    }
    c->recv_op.kind = OP_RECV;
    c->send_op.kind = OP_SEND;
    InitializeSRWLock(&c->lock);
    if (prepare_socket(srv, c) != 0)
        conn_cancel(c, PHASE_ABORTING);   /* conn_event finds nothing to post and closes it */
    AcquireSRWLockExclusive(&srv->lock);
    list_push(&srv->conns, c);
    ReleaseSRWLockExclusive(&srv->lock);
    conn_event(c, NULL, 0, 0, w);
}

/* [step 5] start receiving
 * while the connection is idle, a zero-byte WSARecv, which holds no
 * buffer and completes when data (or FIN, or an error) is there; while
 * data flows, a real WSARecv into the connection's buffer, which saves a
 * recv() call per burst. Returns 1 when it ended at once with no packet to
 * come (a failure, or skip mode), its result in *res. Once it is posted
 * another worker may handle its completion and free c, so c is not
 * touched after the call. */
static int post_recv(conn *c, WSABUF *wb, op_result *res)
{
    int skip = c->srv->skip;
    DWORD flags = 0, got = 0;

    memset(&c->recv_op.ov, 0, sizeof c->recv_op.ov);
    res->op = &c->recv_op;
    res->bytes = 0;
    res->err = 0;
    /* &got, not NULL: in skip mode a receive that succeeds at once
     * queues no packet, and its byte count is known only from here. */
    if (WSARecv(c->sock, wb, 1, &got, &flags, &c->recv_op.ov, NULL) == SOCKET_ERROR) {
        res->err = (DWORD)WSAGetLastError();
        return res->err != WSA_IO_PENDING;
    }
    res->bytes = got;
    return skip;   /* done at once: without skip mode its packet still comes */
}

/* Like post_recv(): 1 when the send ended at once with no packet to come. */
static int post_send(conn *c, post_plan *p, op_result *res)
{
    int skip = c->srv->skip;
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
    if (PostQueuedCompletionStatus(c->srv->port, res->bytes, (ULONG_PTR)c, &c->recv_op.ov))
        return 0;
    log_error("PostQueuedCompletionStatus: error %lu", GetLastError());
    return 1;
}

/* [step 6] wait for something to happen
 * every worker waits on the one port and takes the next completion,
 * whichever connection it belongs to. FALSE with an OVERLAPPED is one
 * failed operation of one connection, not a reason for the worker to end
 * (article 000's worker returns there); a packet without OVERLAPPED is the
 * order to quit. While the worker holds deferred receives it does not
 * wait: an empty port is the moment to post them. */
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
                server_fail(&w->srv->base);
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
    model_server *srv = w->srv;
    OVERLAPPED_ENTRY e[BATCH_MAX];

    for (;;) {
        ULONG n = 0, i, quits = 0;
        if (!GetQueuedCompletionStatusEx(srv->port, e, BATCH_MAX, &n, INFINITE, FALSE)) {
            log_error("GetQueuedCompletionStatusEx: error %lu", GetLastError());
            server_fail(&srv->base);
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
    worker *w = (worker *)arg;

    if (w->srv->batch)
        worker_batch(w);
    else
        worker_single(w);
    return 0;
}

/* [step 7] find out which connection and which operation
 * the key is the connection, CONTAINING_RECORD turns the OVERLAPPED back
 * into the operation that embeds it */
static void dispatch(worker *w, ULONG_PTR key, OVERLAPPED *ov, DWORD bytes, DWORD err)
{
    io_op *op = CONTAINING_RECORD(ov, io_op, ov);

    if (op->kind == OP_ACCEPT)
        accept_done(w->srv, CONTAINING_RECORD(op, accept_op, op), err, w);
    else
        conn_event((conn *)key, op, bytes, err, w);
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
        n += post_send(c, p, &res[n]);
    if (p->recv && !defer_recv(w, c, &p->wb) && post_recv(c, &p->wb, &res[n]))
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
    model_server *srv = c->srv;   /* outlives c: read after the posts */
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
        counter_add(&srv->posting, 1);   /* before conn_advance reads stopping */
        AcquireSRWLockExclusive(&c->lock);
        for (i = 0; i < n; i++) {
            c->pending--;
            op_done(c, res[i].op, res[i].bytes, res[i].err, w->buf);
        }
        conn_advance(c, &plan);
        last = c->pending == 0;
        ReleaseSRWLockExclusive(&c->lock);
        n = last ? 0 : conn_post(c, &plan, res, w);
        counter_add(&srv->posting, -1);
        if (last)
            conn_close(c);
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
        int done = post_recv(d[i].c, &d[i].wb, &res);
        counter_add(&w->srv->posting, -1);   /* after the post, as in conn_event() */
        if (done)
            conn_event(d[i].c, res.op, res.bytes, res.err, w);
    }
    w->defer = w->srv->defer;
}

/* [step 8] get the result
 * a real receive brings its byte count (0: the peer's FIN); a zero-byte
 * one only says "readable", and a non-blocking recv() into the worker's
 * 64 KiB buffer gets the bytes. Returns the bytes read that way. */
static size_t read_ready(conn *c, char *buf)
{
    size_t total = 0;
    int round;

    for (round = 0; round < READ_ROUNDS && wants_read(c); round++) {
        int n = recv(c->sock, buf, RECV_SIZE, 0);
        if (n == SOCKET_ERROR) {
            int err = WSAGetLastError();
            if (err != WSAEWOULDBLOCK)   /* WOULDBLOCK: nothing yet; wait again */
                conn_fail(c, "recv", (DWORD)err);
            break;
        }
        use_data(c, buf, (DWORD)n);
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
        if (read_ready(c, buf) == 0 || c->phase != PHASE_OPEN)
            return;
        if (now - c->last_data < IDLE_MS)
            set_recv_buffer(c, FLOW_MIN);   /* data flows: real receives from now on */
        c->last_data = now;
        return;
    }
    use_data(c, c->recv_buf, bytes);
    if (bytes == c->recv_cap && c->recv_cap < FLOW_MAX && c->phase == PHASE_OPEN)
        set_recv_buffer(c, c->recv_cap * 2);   /* it came back full: a bigger one */
}

/* The end of one posted operation: its result. A receive that the sweep
 * cancelled because it sat idle sends the connection back to zero-byte
 * receives; any other error ends the connection. */
static void op_done(conn *c, io_op *op, DWORD bytes, DWORD err, char *buf)
{
    op->posted = 0;
    if (op == &c->send_op && err != 0)
        conn_fail(c, "WSASend", err);
    else if (op == &c->send_op)
        session_sent(c->sess, bytes);   /* short only on an error path: the rest goes next */
    else if (err == ERROR_OPERATION_ABORTED && c->phase == PHASE_OPEN && !stopping(c->srv))
        set_recv_buffer(c, 0);
    else if (err != 0)
        conn_fail(c, "WSARecv", err);
    else
        recv_completed(c, bytes, buf);
}

/* [step 9] use the data
 * only the n bytes received; 0 is the peer's FIN */
static void use_data(conn *c, const char *buf, DWORD n)
{
    if (c->phase == PHASE_DRAINING) {   /* dropped, until the peer's FIN */
        if (net_drain_done(&c->drain, n))
            conn_cancel(c, PHASE_CLOSING);
    } else if (!attach_session(c)) {
        conn_cancel(c, PHASE_ABORTING);   /* out of memory: this connection ends */
    } else if (n == 0) {
        c->peer_fin = 1;
        session_on_eof(c->sess);
    } else {
        session_on_data(c->sess, buf, n);
    }
}

/* An idle connection has no session (conn_advance() lets it go): data
 * brings it back. 0 when memory is out. */
static int attach_session(conn *c)
{
    if (c->sess != NULL)
        return 1;
    c->sess = (session *)server_alloc(&c->srv->base, sizeof *c->sess);
    if (c->sess == NULL)
        return 0;
    session_init(c->sess, &c->srv->base.env);
    return 1;
}

static void detach_session(conn *c)
{
    if (c->sess == NULL)
        return;
    session_free(c->sess);
    server_free(&c->srv->base, c->sess);
    c->sess = NULL;
}

/* [step 10] receive again
 * decide, under the lock, what to post next: the send of the ready
 * replies, the close once all is sent, then the next receive (none under
 * backpressure). Each planned operation is counted in pending at once, so
 * the context outlives its posting. A session goes while the connection
 * is idle (it reads, owes nothing, holds no half frame): an idle
 * connection then holds only its conn, about 0.2 KiB, instead of 0.45
 * with the session. */
static void conn_advance(conn *c, post_plan *p)
{
    p->send = p->recv = 0;
    /* The server stops: the connection closes with closesocket, not an
     * abortive close (unread input still makes the stack reset it); with
     * 10,000 connections one system call fewer each counts. */
    if (stopping(c->srv))
        conn_cancel(c, PHASE_CLOSING);
    if (c->phase == PHASE_OPEN && !c->send_op.posted && c->sess != NULL) {
        p->nbufs = net_output(c->sess, p->bufs);
        if (p->nbufs > 0)
            plan_op(c, &c->send_op, &p->send);
        else if (session_done(c->sess))
            begin_close(c);
        else if (c->recv_buf == NULL && session_idle(c->sess))
            detach_session(c);
    }
    if (c->recv_op.posted || !wants_read(c))
        return;   /* a receive waits, or backpressure, or the end */
    plan_op(c, &c->recv_op, &p->recv);
    p->wb.buf = c->recv_buf;   /* NULL, 0 while idle: a zero-byte receive */
    p->wb.len = (ULONG)c->recv_cap;
    if (c->phase == PHASE_OPEN)   /* a draining connection keeps its linger deadline */
        InterlockedExchange64(&c->recv_deadline, c->recv_buf == NULL ? 0
                              : (LONG64)(GetTickCount64() + IDLE_MS));
}

/* One more operation of c: counted before it is posted. */
static void plan_op(conn *c, io_op *op, int *planned)
{
    assert(!op->posted);   /* one receive and one send in flight: session.h */
    op->posted = 1;
    c->pending++;
    *planned = 1;
}

/* Whether a receive is wanted: the session reads (no backpressure; no
 * session is an idle one), or a closing connection waits for the peer's
 * FIN. */
static int wants_read(const conn *c)
{
    if (c->phase == PHASE_OPEN)
        return c->sess == NULL || session_can_read(c->sess);
    return c->phase == PHASE_DRAINING;
}

/* The connection's own receive buffer, replaced only while no receive is
 * planned or pending; cap 0 frees it. Whole pages from VirtualAlloc, not
 * the heap: freed, they go back to the system, so connections that
 * streamed and then went idle cost no memory (a heap keeps what was
 * freed). Out of memory, the connection simply stays with zero-byte
 * receives. */
static void set_recv_buffer(conn *c, size_t cap)
{
    stats *st = &c->srv->base.st;

    assert(!c->recv_op.posted);
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

/* [step 11] close a connection
 * once every reply is out, shutdown(SD_SEND), then read until the peer's
 * FIN (common/net.h says why); abortively after an error. The socket is
 * closed when its last operation has ended. */
static void begin_close(conn *c)
{
    set_recv_buffer(c, 0);   /* draining reads into the worker's buffer */
    if (net_drain_start(c->sock, &c->drain) != 0) {
        conn_cancel(c, PHASE_ABORTING);
    } else if (c->peer_fin) {
        conn_cancel(c, PHASE_CLOSING);
    } else {
        c->phase = PHASE_DRAINING;
        InterlockedExchange64(&c->recv_deadline, (LONG64)c->drain.deadline);
    }
}

static void cancel_io(SOCKET s, OVERLAPPED *ov)
{
    /* ov NULL: every operation of the socket. */
    if (!CancelIoEx((HANDLE)s, ov) && GetLastError() != ERROR_NOT_FOUND)
        log_error("CancelIoEx: error %lu", GetLastError());
}

/* Posts nothing more; `phase` says how the socket will be closed. A frame
 * cut short counts as after a reset. What is posted ends by itself, or by
 * the sweep's or the stop's cancel_io(). */
static void conn_cancel(conn *c, enum conn_phase phase)
{
    if (c->phase == PHASE_CLOSING || c->phase == PHASE_ABORTING)
        return;
    if (c->phase == PHASE_OPEN && c->sess != NULL)
        session_on_abort(c->sess);
    c->phase = phase;
}

/* A socket error or a cancelled operation: the connection ends
 * abortively, except a drain that the deadline cancelled. */
static void conn_fail(conn *c, const char *what, DWORD err)
{
    net_log_io_error(what, (int)err);
    conn_cancel(c, c->phase == PHASE_DRAINING && err == ERROR_OPERATION_ABORTED ? PHASE_CLOSING
                                                                              : PHASE_ABORTING);
}

/* The main thread's chores while the server runs: cancel the receives
 * whose deadline passed (an idle real receive goes back to zero bytes, a
 * drain whose time is up ends) and post again the AcceptEx calls that
 * failed at once. */
static void sweep(model_server *srv)
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
        idle = !a->op.posted;
        if (idle) {
            a->op.posted = 1;
            srv->accepts_pending++;
        }
        ReleaseSRWLockExclusive(&srv->lock);
        if (idle)
            post_accept(srv, a);
    }
}

/* No operation is pending and none will be posted: nothing points into c
 * any more, so its socket is closed and its memory freed. */
static void conn_close(conn *c)
{
    stats *st = &c->srv->base.st;
    model_server *srv = c->srv;

    AcquireSRWLockExclusive(&srv->lock);   /* out of the list before the socket closes */
    list_remove(&srv->conns, c);
    srv->live_count--;
    note_drained(srv);
    ReleaseSRWLockExclusive(&srv->lock);
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
    assert(c->pending == 0);
    set_recv_buffer(c, 0);
    detach_session(c);
    server_conn_closed(base, NULL);
    server_free(base, c);
}

/* [step 12] stop the server
 * post nothing new, cancel every operation and let the workers handle the
 * cancellations until none is left, then the quit packets, the joins, and
 * the port */
/* No connection and no AcceptEx left. */
static int all_ended(model_server *srv)
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
static void cancel_all(model_server *srv)
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

/* Cancels every operation and waits until the workers handled each, at
 * most SERVER_STOP_MS. */
static void cancel_and_wait(model_server *srv)
{
    ULONGLONG deadline = GetTickCount64() + SERVER_STOP_MS;
    int ended;

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
        log_error("stop: operations still pending after %d ms", SERVER_STOP_MS);
}

static void close_handle(model_server *srv, HANDLE h, const char *what)
{
    if (h == NULL)
        return;
    if (!CloseHandle(h))
        log_error("CloseHandle (%s): error %lu", what, GetLastError());
    stats_closed(&srv->base.st, RES_HANDLE);
}

static void stop_server(model_server *srv)
{
    int i;

    stop_request(&srv->base.stop);   /* set already, unless the start failed */
    cancel_and_wait(srv);
    server_close_listener(&srv->base);   /* no AcceptEx uses it any more */
    for (i = 0; i < srv->worker_count; i++)
        if (!PostQueuedCompletionStatus(srv->port, 0, 0, NULL))
            log_error("PostQueuedCompletionStatus (quit): error %lu", GetLastError());
    for (i = 0; i < srv->worker_count; i++)
        server_join(&srv->base, srv->workers[i]->thread);
    for (i = 0; i < srv->worker_count; i++)
        worker_free(srv, srv->workers[i]);
    server_free(&srv->base, srv->workers);
    if (!all_ended(srv))
        return;   /* not freed: an operation may still use them; exit code 4 */
    server_free(&srv->base, srv->accepts);
    close_handle(srv, srv->drained, "drained");
    close_handle(srv, srv->port, "port");
}
