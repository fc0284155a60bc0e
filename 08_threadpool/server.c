/* 08_threadpool/server.c - thread-pool I/O: the system's pool runs the completions.
 *
 * Article:
 * none of the articles (shared/seeds/) gets this far: this is their
 * completion port (articles 000, 001 and 004) with the port and its
 * threads handed to the system, the thread pool of Windows Vista and
 * later (Microsoft's "Thread Pools" page,
 * https://learn.microsoft.com/en-us/windows/win32/procthread/thread-pools;
 * its "Thread Pooling" page calls that API simpler, more reliable and
 * faster than the original one).
 *
 * How it works:
 * every socket is bound to the pool with CreateThreadpoolIo (a TP_IO: the
 * socket, one callback, a context). Before every overlapped call (AcceptEx,
 * WSARecv, WSASend) the program calls StartThreadpoolIo; when the operation
 * ends, a thread of the pool calls io_callback with the context, the
 * OVERLAPPED, the result (IoResult) and the byte count. The OVERLAPPED is
 * embedded in an operation struct, so CONTAINING_RECORD gives back the
 * operation. A pool of AcceptEx calls is kept posted on the listener's own
 * TP_IO. Each connection has at most one receive (into its own buffer) and
 * one send (every ready reply) in flight.
 *
 * What changes from the previous model:
 * (06_iocp) no port, no worker threads, no GetQueuedCompletionStatus loop
 * and no quit packets: the pool owns them. What stays the program's: every
 * OVERLAPPED and buffer until its callback has run, one send in flight, the
 * lock and the count of pending operations of each connection. New: the
 * pool's bookkeeping (StartThreadpoolIo before every call, CancelThreadpoolIo
 * when the call brings no callback), and the end of a TP_IO: the callback
 * that closes a connection's socket cannot wait for itself to return, so
 * the main thread closes the TP_IO and frees the context, after
 * WaitForThreadpoolIoCallbacks; with no threads of its own to join, that
 * wait is how the stop knows that no callback still runs.
 *
 * Limits:
 * no 64-handle limit and no thread per client. The documented capacity is
 * 10,000 connections (--max-clients); a connection holds its 16 KiB
 * receive buffer, idle or not: 17 KiB each in all, measured with 10,000
 * idle ones on a private pool (06's zero-byte receives: 0.35 KiB). Under
 * Wine the wineserver's descriptors bound the total (REFERENCE.md section
 * 4). The pool decides how many threads run: by default the process's
 * default pool, which under Wine starts a thread whenever a callback is
 * queued while all of its threads are busy (up to 500) and ends one only
 * after 5 s without a call: 10,000 idle connections left 146 threads,
 * about 1 MiB of stack each, 32 KiB per connection in all. --threads N
 * makes a private pool of exactly N. Simpler than 06: no deferred
 * receives and no batching (the pool takes the completions), and every
 * operation's result comes through a callback; --opt skip sets
 * FILE_SKIP_COMPLETION_PORT_ON_SUCCESS, so that an operation that succeeds
 * at once is finished by the thread that posted it, which then keeps a
 * busy connection to itself (06 sends such a receive to the back of its
 * port; the pool has no call for that).
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

#include <mswsock.h>

#define RECV_SIZE (16u * 1024u)   /* one buffer per connection */
#define ACCEPT_POOL 128           /* AcceptEx calls kept posted (as 06, for bursts) */
#define ADDR_SIZE (sizeof(struct sockaddr_in) + 16)   /* what AcceptEx asks per address */
#define SWEEP_MS 250              /* how often the main thread sweeps (sweep()) */
#define CANCEL_CHUNK 64           /* stop: cancels per hold of the server lock */

/* The switch a reader can flip: skipping the callback of an operation that
 * succeeds at once is off by default (see Limits). */
enum { SWITCH_SKIP = 1u << 0 };
static const server_switch threadpool_switches[] = {
    { "skip", "FILE_SKIP_COMPLETION_PORT_ON_SUCCESS: no callback for an operation that "
              "succeeds at once" },
    { NULL, NULL }
};

static const server_model model_info = {
    "threadpool", "thread-pool I/O: CreateThreadpoolIo, AcceptEx and the system's threads",
    10000, 0, "a private pool of N threads (CreateThreadpool) (default: none, the "
              "process's default pool)",
    threadpool_switches
};

/* [step 1] define the state
 * an operation embeds its OVERLAPPED; a connection (the context of its
 * TP_IO) owns one receive and one send */
/* Where a connection is in its life. */
enum conn_phase {
    PHASE_OPEN,       /* the session reads and answers */
    PHASE_DRAINING,   /* shutdown(SD_SEND) done: input dropped until the peer's FIN */
    PHASE_CLOSING,    /* close gracefully once no operation is pending */
    PHASE_ABORTING    /* close abortively once no operation is pending */
};

enum op_kind { OP_ACCEPT, OP_RECV, OP_SEND };

typedef struct io_op {
    WSAOVERLAPPED ov;             /* the system writes here until the callback */
    enum op_kind kind;
    int posted;                   /* planned or posted, its result not yet handled */
} io_op;

typedef struct accept_op {
    io_op op;                     /* op.posted is guarded by the server lock */
    SOCKET sock;                  /* made in advance; AcceptEx connects it */
    char addrs[2 * ADDR_SIZE];    /* local and remote address; no data (length 0) */
} accept_op;

typedef struct conn {
    struct model_server *srv;
    SOCKET sock;                  /* set once; closed only after leaving the server's list */
    session sess;
    net_drain drain;
    enum conn_phase phase;
    struct conn *prev, *next;     /* in srv->conns, then srv->closed; under the server lock */
    io_op recv_op, send_op;
    int peer_fin;                 /* the peer's FIN arrived: nothing to drain */
    int cancelled;                /* the stop cancelled its I/O (main thread only) */
    SRWLOCK lock;                 /* guards the fields from sess to pending */
    int pending;                  /* operations planned or posted and not yet handled */
    PTP_IO io;                    /* its TP_IO: closed by conn_free, after its last callback */
    counter_t recv_deadline;      /* atomic: when the sweep cancels the drain; 0 never */
    char recv_buf[RECV_SIZE];     /* freed with the context, after the last callback */
} conn;

typedef struct model_server {
    server base;
    PTP_POOL pool;                /* --threads N: a private pool; NULL: the default one */
    TP_CALLBACK_ENVIRON env;      /* the pool every TP_IO is bound to */
    PTP_IO listen_io;             /* the listener's: the AcceptEx pool */
    LPFN_ACCEPTEX accept_ex;
    LPFN_GETACCEPTEXSOCKADDRS accept_addrs;
    int skip;                     /* --opt skip, and every TCP provider allows it */
    counter_t stopping;           /* 1 once the stop began: post nothing new */
    counter_t posting;            /* threads between reading stopping and posting */
    SRWLOCK lock;                 /* guards conns, closed, live_count, accepts_pending, op.posted */
    conn *conns;                  /* open: an operation may be pending */
    conn *closed;                 /* socket closed: waiting for conn_free */
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
} post_plan;

/* An operation that ended: in a callback, or at once. */
typedef struct op_result {
    io_op *op;
    DWORD bytes, err;
} op_result;

static int run(model_server *srv);
static int start_model(model_server *srv);
static int main_loop(model_server *srv);
static void stop_server(model_server *srv);
static void post_accept(model_server *srv, accept_op *a);
static void hand_over(model_server *srv, SOCKET s);
static VOID CALLBACK io_callback(PTP_CALLBACK_INSTANCE instance, PVOID context,
                                 PVOID overlapped, ULONG result, ULONG_PTR bytes, PTP_IO io);
static void dispatch(void *context, OVERLAPPED *ov, DWORD bytes, DWORD err);
static void conn_event(conn *c, io_op *op, DWORD bytes, DWORD err);
static void op_done(conn *c, io_op *op, DWORD bytes, DWORD err);
static void use_data(conn *c, const char *buf, DWORD n);
static void conn_advance(conn *c, post_plan *p);
static void plan_op(conn *c, io_op *op, int *planned);
static int wants_read(const conn *c);
static void begin_close(conn *c);
static void conn_cancel(conn *c, enum conn_phase phase);
static void conn_fail(conn *c, const char *what, DWORD err);
static void sweep(model_server *srv);
static void cancel_io(SOCKET s, OVERLAPPED *ov);
static void conn_close(conn *c);
static void conn_free(conn *c);
static void free_closed(model_server *srv);

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

/* The callback environment every TP_IO is created with. By default it
 * names no pool: the process's default pool runs the callbacks
 * (InitializeThreadpoolEnvironment's page), with as many threads as the
 * system decides. --threads N makes a private pool of
 * exactly N threads (the minimum and the maximum), to compare with 06's N
 * workers. No cleanup group: it would close its members at once at the
 * stop, but here every TP_IO is closed on its own, after its callbacks,
 * while the server runs too (conn_free), so a group would find nothing
 * left to close. */
static int open_pool(model_server *srv)
{
    DWORD threads = (DWORD)srv->base.opt.threads;

    InitializeThreadpoolEnvironment(&srv->env);
    if (threads == 0)
        return 0;
    srv->pool = CreateThreadpool(NULL);
    if (srv->pool == NULL) {
        log_error("CreateThreadpool: error %lu", GetLastError());
        return -1;
    }
    stats_opened(&srv->base.st, RES_HANDLE);
    SetThreadpoolThreadMaximum(srv->pool, threads);
    if (!SetThreadpoolThreadMinimum(srv->pool, threads)) {
        log_error("SetThreadpoolThreadMinimum: error %lu", GetLastError());
        return -1;
    }
    SetThreadpoolCallbackPool(&srv->env, srv->pool);
    return 0;
}

/* The extension functions, the listener's TP_IO (its context is the
 * server: its operations are OP_ACCEPT). */
static int open_listener_io(model_server *srv)
{
    GUID accept_ex = WSAID_ACCEPTEX, accept_addrs = WSAID_GETACCEPTEXSOCKADDRS;

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
    srv->listen_io = CreateThreadpoolIo((HANDLE)srv->base.listener, io_callback, srv,
                                        &srv->env);
    if (srv->listen_io == NULL) {
        log_error("CreateThreadpoolIo (listener): error %lu", GetLastError());
        return -1;
    }
    stats_opened(&srv->base.st, RES_HANDLE);
    return 0;
}

/* Skip-on-success only where Microsoft's SetFileCompletionNotificationModes
 * page allows it on a socket: every TCP provider returns IFS handles. */
static int skip_wanted(model_server *srv)
{
    if ((srv->base.opt.switches & SWITCH_SKIP) == 0)
        return 0;
    if (net_tcp_providers_ifs())
        return 1;
    log_info("--opt skip ignored: a TCP provider does not return IFS handles");
    return 0;
}

/* The pool, the listener's TP_IO, then the AcceptEx pool. */
static int start_model(model_server *srv)
{
    int i;

    InitializeSRWLock(&srv->lock);
    srv->skip = skip_wanted(srv);
    if (open_pool(srv) != 0 || open_listener_io(srv) != 0)
        return -1;
    srv->accepts = (accept_op *)server_alloc(&srv->base, ACCEPT_POOL * sizeof *srv->accepts);
    if (srv->accepts == NULL)
        return -1;
    for (i = 0; i < ACCEPT_POOL; i++)
        srv->accepts[i].op.kind = OP_ACCEPT;
    sweep(srv);   /* posts the whole pool */
    if (srv->pool != NULL)
        log_info("threadpool: a private pool of %d threads", srv->base.opt.threads);
    else
        log_info("threadpool: the process's default pool");
    log_info("threadpool: %d AcceptEx posted, skip-on-success %s", ACCEPT_POOL,
             srv->skip ? "on" : "off");
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
 * does not hold it. The listener has no skip mode: an AcceptEx that
 * succeeds at once still brings its callback. */
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
    StartThreadpoolIo(srv->listen_io);   /* before every call: post_recv() says why */
    if (!srv->accept_ex(srv->base.listener, a->sock, a->addrs, 0, (DWORD)ADDR_SIZE,
                        (DWORD)ADDR_SIZE, &bytes, &a->op.ov)
        && (err = WSAGetLastError()) != ERROR_IO_PENDING) {
        CancelThreadpoolIo(srv->listen_io);   /* failed at once: no callback comes */
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
 * anything is done with its socket, so a refused one is never bound to
 * the pool. */
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
static void accept_done(model_server *srv, accept_op *a, DWORD err)
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
        hand_over(srv, s);
}

/* [step 4] prepare the connection for the model
 * its own TP_IO: the socket bound to the pool, with the context as the
 * callback's context (a whole pointer: article 000 casts its completion
 * key to a DWORD) */
static int prepare_socket(model_server *srv, conn *c)
{
    c->io = CreateThreadpoolIo((HANDLE)c->sock, io_callback, c, &srv->env);
    if (c->io == NULL) {
        log_error("CreateThreadpoolIo (connection): error %lu", GetLastError());
        return -1;
    }
    stats_opened(&srv->base.st, RES_HANDLE);
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
    server_conn_opened(&srv->base, &c->sess);
    return c;
}

/* The context of a new connection, in the server's list, then its first
 * receive (conn_event with no operation). Runs in the listener's
 * callback: any thread of the pool. */
static void hand_over(model_server *srv, SOCKET s)
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
    conn_event(c, NULL, 0, 0);
}

/* [step 5] start receiving
 * WSARecv into the connection's own buffer: one call per burst, and the
 * buffer is simply the connection's, freed with it (06 receives zero
 * bytes while idle, to hold no buffer, at the price of a recv() call
 * more). Every overlapped call keeps the pool's rule, from Microsoft's
 * StartThreadpoolIo page
 * (https://learn.microsoft.com/en-us/windows/win32/api/threadpoolapiset/nf-threadpoolapiset-startthreadpoolio):
 * StartThreadpoolIo before every overlapped call on the handle, or the
 * pool ignores the completion "and will cause memory corruption"; and
 * CancelThreadpoolIo when the call brings no callback: it failed at once
 * (any error but WSA_IO_PENDING), or it succeeded at once on a handle with
 * FILE_SKIP_COMPLETION_PORT_ON_SUCCESS. Forgetting the cancel is the
 * classic bug: the pool then counts an operation that never completes
 * (CancelThreadpoolIo's page: a leak; under Wine WaitForThreadpoolIoCallbacks
 * then waits forever, since it waits for the operations started too). */
/* Returns 1 when the call ended at once and brings no callback, after
 * telling the pool so. */
static int no_callback(PTP_IO io, int ended_at_once)
{
    if (!ended_at_once)
        return 0;
    CancelThreadpoolIo(io);
    return 1;
}

/* Posts the receive. Returns 1 when it ended at once, its result in *res.
 * Once it is posted another thread may end the connection, so c is not
 * touched after the call. */
static int post_recv(conn *c, op_result *res)
{
    int skip = c->srv->skip;
    PTP_IO io = c->io;
    DWORD flags = 0, got = 0;
    WSABUF wb;

    wb.buf = c->recv_buf;
    wb.len = RECV_SIZE;
    memset(&c->recv_op.ov, 0, sizeof c->recv_op.ov);
    res->op = &c->recv_op;
    res->bytes = 0;
    res->err = 0;
    StartThreadpoolIo(io);
    /* &got, not NULL: in skip mode a receive that succeeds at once
     * brings no callback, and its byte count is known only from here. */
    if (WSARecv(c->sock, &wb, 1, &got, &flags, &c->recv_op.ov, NULL) == SOCKET_ERROR) {
        res->err = (DWORD)WSAGetLastError();
        return no_callback(io, res->err != WSA_IO_PENDING);
    }
    res->bytes = got;
    return no_callback(io, skip);   /* without skip mode its callback still comes */
}

/* Like post_recv(): 1 when the send ended at once, with no callback. */
static int post_send(conn *c, post_plan *p, op_result *res)
{
    int skip = c->srv->skip;
    PTP_IO io = c->io;
    DWORD sent = 0;

    memset(&c->send_op.ov, 0, sizeof c->send_op.ov);
    res->op = &c->send_op;
    res->bytes = 0;
    res->err = 0;
    StartThreadpoolIo(io);
    if (WSASend(c->sock, p->bufs, p->nbufs, &sent, 0, &c->send_op.ov, NULL) == SOCKET_ERROR) {
        res->err = (DWORD)WSAGetLastError();
        return no_callback(io, res->err != WSA_IO_PENDING);
    }
    res->bytes = sent;
    return no_callback(io, skip);
}

/* [step 6] wait for something to happen
 * the program does not wait: the pool's threads wait on the pool's
 * completion port, which the program never sees, and one of them calls
 * the TP_IO's callback with its context, the OVERLAPPED, the result
 * (NO_ERROR or a system error code) and the byte count. A failed
 * operation is one more call, never a reason for a thread to end
 * (article 000's worker returns there). Under Wine one thread of ntdll
 * takes every packet from that port and hands it to a pool thread. */
static VOID CALLBACK io_callback(PTP_CALLBACK_INSTANCE instance, PVOID context,
                                 PVOID overlapped, ULONG result, ULONG_PTR bytes, PTP_IO io)
{
    (void)instance;
    (void)io;   /* the context says whose it is */
    dispatch(context, (OVERLAPPED *)overlapped, (DWORD)bytes, (DWORD)result);
}

/* [step 7] find out which connection and which operation
 * the context is the connection (the server, for the listener's TP_IO),
 * CONTAINING_RECORD turns the OVERLAPPED back into the operation that
 * embeds it */
static void dispatch(void *context, OVERLAPPED *ov, DWORD bytes, DWORD err)
{
    io_op *op = CONTAINING_RECORD(ov, io_op, ov);

    if (op->kind == OP_ACCEPT)
        accept_done((model_server *)context, CONTAINING_RECORD(op, accept_op, op), err);
    else
        conn_event((conn *)context, op, bytes, err);
}

/* Posts the plan, without the lock; the send first, because once the last
 * operation is posted another thread may end the connection. Returns how
 * many operations ended at once, their results in res. */
static int conn_post(conn *c, post_plan *p, op_result *res)
{
    int n = 0;

    if (p->send)
        n += post_send(c, p, &res[n]);
    if (p->recv)
        n += post_recv(c, &res[n]);
    return n;
}

/* One event of a connection: a callback (op), or its start (op NULL).
 * Under the lock the results are handled and the next operations
 * planned; they are posted after it, and any that ended at once (skip
 * mode, or a failure) are handled in the next round. The thread that
 * finds pending at 0 closes the connection: nothing is posted and nothing
 * will be. */
static void conn_event(conn *c, io_op *op, DWORD bytes, DWORD err)
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
            op_done(c, res[i].op, res[i].bytes, res[i].err);
        }
        conn_advance(c, &plan);
        last = c->pending == 0;
        ReleaseSRWLockExclusive(&c->lock);
        n = last ? 0 : conn_post(c, &plan, res);
        counter_add(&srv->posting, -1);
        if (last)
            conn_close(c);
        if (n == 0)
            return;
    }
}

/* [step 8] get the result
 * the callback's result and byte count, or the call's own when it ended
 * at once: an error, 0 for the peer's FIN, or the bytes received. A short
 * send leaves the rest in the session's queue, sent next. */
static void op_done(conn *c, io_op *op, DWORD bytes, DWORD err)
{
    op->posted = 0;
    if (op == &c->send_op && err != 0)
        conn_fail(c, "WSASend", err);
    else if (op == &c->send_op)
        session_sent(&c->sess, bytes);
    else if (err != 0)
        conn_fail(c, "WSARecv", err);
    else
        use_data(c, c->recv_buf, bytes);
}

/* [step 9] use the data
 * only the n bytes received; 0 is the peer's FIN */
static void use_data(conn *c, const char *buf, DWORD n)
{
    if (c->phase == PHASE_DRAINING) {   /* dropped, until the peer's FIN */
        if (net_drain_done(&c->drain, n))
            conn_cancel(c, PHASE_CLOSING);
    } else if (n == 0) {
        c->peer_fin = 1;
        session_on_eof(&c->sess);
    } else {
        session_on_data(&c->sess, buf, n);
    }
}

/* [step 10] receive again
 * decide, under the lock, what to post next: the send of the ready
 * replies, the close once all is sent, then the next receive (none under
 * backpressure). Each planned operation is counted in pending at once, so
 * the context outlives its posting. */
static void conn_advance(conn *c, post_plan *p)
{
    p->send = p->recv = 0;
    /* The server stops: closesocket alone closes the connection: no error
     * calls for a reset, and with 10,000 connections one system call fewer
     * each counts. */
    if (stopping(c->srv))
        conn_cancel(c, PHASE_CLOSING);
    if (c->phase == PHASE_OPEN && !c->send_op.posted) {
        p->nbufs = net_output(&c->sess, p->bufs);
        if (p->nbufs > 0)
            plan_op(c, &c->send_op, &p->send);
        else if (session_done(&c->sess))
            begin_close(c);
    }
    if (c->recv_op.posted || !wants_read(c))
        return;   /* a receive waits, or backpressure, or the end */
    plan_op(c, &c->recv_op, &p->recv);
}

/* One more operation of c: counted before it is posted. */
static void plan_op(conn *c, io_op *op, int *planned)
{
    assert(!op->posted);   /* one receive and one send in flight: session.h */
    op->posted = 1;
    c->pending++;
    *planned = 1;
}

/* Whether a receive is wanted: the session reads (no backpressure), or a
 * closing connection waits for the peer's FIN. */
static int wants_read(const conn *c)
{
    if (c->phase == PHASE_OPEN)
        return session_can_read(&c->sess);
    return c->phase == PHASE_DRAINING;
}

/* [step 11] close a connection
 * once every reply is out, shutdown(SD_SEND), then read until the peer's
 * FIN (common/net.h says why); abortively after an error. The socket is
 * closed when its last operation has ended, in that operation's callback;
 * the context is freed later, by the main thread (conn_free). */
static void begin_close(conn *c)
{
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
    if (c->phase == PHASE_OPEN)
        session_on_abort(&c->sess);
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

/* The main thread's chores while the server runs: cancel the drains whose
 * time is up, post again the AcceptEx calls that failed at once, and free
 * the connections whose socket was closed. */
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
    free_closed(srv);
}

/* No operation is pending and none will be posted: the socket is closed
 * and the connection's books with it; the context goes to srv->closed
 * last, for conn_free, and from then on the thread running this (a
 * callback of c's TP_IO, or of the listener's, through hand_over) does
 * not touch c. */
static void conn_close(conn *c)
{
    stats *st = &c->srv->base.st;
    model_server *srv = c->srv;

    AcquireSRWLockExclusive(&srv->lock);   /* out of the list before the socket closes */
    list_remove(&srv->conns, c);
    ReleaseSRWLockExclusive(&srv->lock);
    if (c->phase == PHASE_ABORTING)
        net_abort(st, c->sock);
    else
        net_close(st, c->sock);
    server_conn_closed(&srv->base, &c->sess);
    AcquireSRWLockExclusive(&srv->lock);
    list_push(&srv->closed, c);
    srv->live_count--;
    note_drained(srv);
    ReleaseSRWLockExclusive(&srv->lock);
}

/* Frees a closed connection on the main thread, in the order of
 * Microsoft's CloseThreadpoolIo page: the socket closed and every
 * operation ended (conn_close), then WaitForThreadpoolIoCallbacks (FALSE:
 * wait, cancel nothing) returns once the last callback of the TP_IO has
 * returned, then CloseThreadpoolIo. Here and not in that callback, which
 * cannot wait for itself; and so, once the stop has freed every
 * connection, no callback of theirs is still running. */
static void conn_free(conn *c)
{
    server *base = &c->srv->base;

    if (c->io != NULL) {
        WaitForThreadpoolIoCallbacks(c->io, FALSE);
        CloseThreadpoolIo(c->io);
        stats_closed(&base->st, RES_HANDLE);
    }
    assert(!c->recv_op.posted && !c->send_op.posted);
    assert(c->pending == 0);
    server_free(base, c);
}

/* Every connection in srv->closed, taken under the lock and freed
 * without it: the callback being waited for may need the lock. */
static void free_closed(model_server *srv)
{
    conn *c, *next;

    AcquireSRWLockExclusive(&srv->lock);
    c = srv->closed;
    srv->closed = NULL;
    ReleaseSRWLockExclusive(&srv->lock);
    for (; c != NULL; c = next) {
        next = c->next;
        conn_free(c);
    }
}

/* [step 12] stop the server
 * post nothing new, cancel every operation and let the pool's callbacks
 * handle the cancellations until none is pending; then each TP_IO after
 * its callbacks, the listener's first (no connection is made after it),
 * and the pool. The threads are the pool's: nothing to join */
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
 * callbacks can already close the connections whose cancellation they
 * handled (closing needs the lock). Each chunk starts again from the head,
 * skipping the connections already cancelled, since the list changes
 * meanwhile. Microsoft's Thread Pools page asks for the OVERLAPPED in a
 * CancelIoEx of pool I/O, so that another thread's operation is not
 * cancelled by mistake; here every operation of the socket is meant, and
 * the socket stays open while the lock is held (conn_close). */
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

/* Cancels every operation and waits until the callbacks handled each, at
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

/* The listener's TP_IO, once no AcceptEx is pending: its callbacks end
 * (the last one may still be making a connection, which closes at once
 * since the server stops), then the socket, then the TP_IO. With an
 * AcceptEx still pending it stays open: a late callback may still use it,
 * and the wait would not return under Wine, whose wait counts the
 * operations started as well as the callbacks (Microsoft's
 * WaitForThreadpoolIoCallbacks page speaks of callbacks only). */
static void close_listener_io(model_server *srv)
{
    int accepts_ended;

    AcquireSRWLockShared(&srv->lock);
    accepts_ended = srv->accepts_pending == 0;
    ReleaseSRWLockShared(&srv->lock);
    if (srv->listen_io != NULL && accepts_ended) {
        WaitForThreadpoolIoCallbacks(srv->listen_io, FALSE);
        server_close_listener(&srv->base);
        CloseThreadpoolIo(srv->listen_io);
        stats_closed(&srv->base.st, RES_HANDLE);
        srv->listen_io = NULL;
    }
    server_close_listener(&srv->base);   /* no AcceptEx can use it any more */
}

static void close_handle(model_server *srv, HANDLE h, const char *what)
{
    if (h == NULL)
        return;
    if (!CloseHandle(h))
        log_error("CloseHandle (%s): error %lu", what, GetLastError());
    stats_closed(&srv->base.st, RES_HANDLE);
}

/* The private pool goes once no TP_IO is bound to it; its threads end by
 * themselves. */
static void close_pool(model_server *srv)
{
    if (srv->pool != NULL) {
        CloseThreadpool(srv->pool);
        stats_closed(&srv->base.st, RES_HANDLE);
    }
    DestroyThreadpoolEnvironment(&srv->env);
}

static void stop_server(model_server *srv)
{
    stop_request(&srv->base.stop);   /* set already, unless the start failed */
    cancel_and_wait(srv);
    close_listener_io(srv);
    free_closed(srv);   /* each connection's TP_IO, after its callbacks */
    if (!all_ended(srv))
        return;   /* not freed: an operation may still use them; exit code 4 */
    close_pool(srv);
    server_free(&srv->base, srv->accepts);
    close_handle(srv, srv->drained, "drained");
}
