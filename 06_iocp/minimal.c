/* 06_iocp/minimal.c - the completion-port model alone: a raw echo server.
 *
 * Article:
 * articles 000, 001 and 004 (shared/seeds/): one completion port, worker
 * threads in GetQueuedCompletionStatus, AcceptEx loaded through WSAIoctl,
 * the connection as completion key, OVERLAPPEDs embedded in operations.
 *
 * How it works:
 * WORKERS threads wait on one port and take whatever completed, of any
 * connection. ACCEPTS AcceptEx calls stay posted on the listener; each
 * completion posts its AcceptEx again and gives the new socket a conn,
 * the completion key of all its operations. A conn echoes raw bytes: it
 * receives into one of its two buffers, sends those bytes back while the
 * other buffer receives, and so on.
 *
 * What changes from the previous model:
 * (05_completion_routine) any worker takes any completion, so two workers
 * may hold a receive and a send of one connection at once: each conn has
 * a lock and a count of pending operations, and the worker that handles
 * its last completion frees it.
 *
 * Limits:
 * Ctrl+C is the only stop; four workers whatever the CPUs; a connection
 * costs 8 KiB of buffers, idle or not; an AcceptEx that fails at once
 * leaves the pool for good. What server.c adds: docs/06_iocp.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <winsock2.h>
#include <mswsock.h>

#define RECV_SIZE 4096   /* each of a connection's two buffers */
#define WORKERS 4        /* threads waiting on the port */
#define ACCEPTS 4        /* AcceptEx calls kept posted */
#define ADDR_SIZE (sizeof(struct sockaddr_in) + 16)   /* what AcceptEx asks per address */

static int report(const char *what, DWORD err)
{
    fprintf(stderr, "%s: error %lu\n", what, (unsigned long)err);
    return 1;
}

static void close_socket(SOCKET s)
{
    if (closesocket(s) == SOCKET_ERROR)
        report("closesocket", WSAGetLastError());
}

/* [step 1] define the state
 * an operation embeds its OVERLAPPED; a connection (the completion key)
 * owns one receive and one send */
enum op_kind { OP_ACCEPT, OP_RECV, OP_SEND };
enum conn_phase { PHASE_OPEN, PHASE_CLOSING, PHASE_ABORTING };

typedef struct io_op {
    OVERLAPPED ov;                /* the system writes here until the completion */
    enum op_kind kind;
} io_op;

typedef struct accept_op {
    io_op op;
    SOCKET sock;                  /* made in advance; AcceptEx connects it */
    char addrs[2 * ADDR_SIZE];    /* local and remote address; no data (length 0) */
} accept_op;

typedef struct conn {
    SOCKET sock;
    SRWLOCK lock;                 /* guards everything below */
    int pending;                  /* operations posted and not yet handled */
    enum conn_phase phase;        /* CLOSING: the peer's FIN came; ABORTING: an error */
    io_op recv_op, send_op;
    int in;                       /* buf[in] receives, buf[!in] is sent */
    DWORD got;                    /* bytes in buf[in], waiting for the send to end */
    DWORD out, sent;              /* buf[!in]: bytes to send, bytes sent */
    char buf[2][RECV_SIZE];
} conn;

static HANDLE port;
static SOCKET listener;
static LPFN_ACCEPTEX accept_ex;
static accept_op accepts[ACCEPTS];   /* not on a stack: the system writes into them */

static void post_accept(accept_op *a);
static void hand_over(SOCKET s);
static DWORD WINAPI worker_main(void *arg);
static void conn_event(conn *c, io_op *op, DWORD bytes, DWORD err);
static void op_done(conn *c, io_op *op, DWORD bytes, DWORD err);
static void conn_advance(conn *c);
static void conn_fail(conn *c, const char *what, DWORD err);
static void conn_close(conn *c);

int main(int argc, char **argv)
{
    WSADATA wsa;
    struct sockaddr_in addr;
    HANDLE threads[WORKERS];
    GUID id = WSAID_ACCEPTEX;
    DWORD bytes = 0;
    unsigned long port_no = 5150;
    int len = (int)sizeof addr, i;

    for (i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--port") == 0)
            port_no = strtoul(argv[++i], NULL, 10);
    if ((i = WSAStartup(MAKEWORD(2, 2), &wsa)) != 0)
        return report("WSAStartup", (DWORD)i);
    /* [step 2] create the listening socket
     * an overlapped one, as AcceptEx needs; then the port, the workers and
     * the first AcceptEx calls */
    listener = WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0, WSA_FLAG_OVERLAPPED);
    if (listener == INVALID_SOCKET)
        return report("WSASocket", WSAGetLastError());
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons((u_short)port_no);
    if (bind(listener, (struct sockaddr *)&addr, (int)sizeof addr) == SOCKET_ERROR)
        return report("bind", WSAGetLastError());
    if (listen(listener, SOMAXCONN) == SOCKET_ERROR)
        return report("listen", WSAGetLastError());
    if (getsockname(listener, (struct sockaddr *)&addr, &len) == SOCKET_ERROR)
        return report("getsockname", WSAGetLastError());
    /* concurrency 0: the port lets as many workers run at once as there are CPUs */
    if ((port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0)) == NULL)
        return report("CreateIoCompletionPort", GetLastError());
    if (WSAIoctl(listener, SIO_GET_EXTENSION_FUNCTION_POINTER, &id, sizeof id, &accept_ex,
                 sizeof accept_ex, &bytes, NULL, NULL) == SOCKET_ERROR)
        return report("WSAIoctl (AcceptEx)", WSAGetLastError());
    /* key 0: the listener is no connection; its operations are OP_ACCEPT */
    if (CreateIoCompletionPort((HANDLE)listener, port, 0, 0) == NULL)
        return report("CreateIoCompletionPort (listener)", GetLastError());
    for (i = 0; i < WORKERS; i++)
        if ((threads[i] = CreateThread(NULL, 0, worker_main, NULL, 0, NULL)) == NULL)
            return report("CreateThread", GetLastError());
    for (i = 0; i < ACCEPTS; i++) {
        accepts[i].op.kind = OP_ACCEPT;
        post_accept(&accepts[i]);
    }
    printf("listening on 127.0.0.1:%u\n", (unsigned)ntohs(addr.sin_port));
    fflush(stdout);
    /* Ctrl+C ends the process; a worker returns only if the port fails */
    if (WaitForMultipleObjects(WORKERS, threads, TRUE, INFINITE) == WAIT_FAILED)
        report("WaitForMultipleObjects", GetLastError());
    return 1;
}

/* [step 3] accept a connection
 * AcceptEx on a socket made in advance, with receive length 0, so it
 * completes at the connect and a client that stays silent holds none */
static void post_accept(accept_op *a)
{
    DWORD bytes = 0;
    int err;

    memset(&a->op.ov, 0, sizeof a->op.ov);
    a->sock = WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0, WSA_FLAG_OVERLAPPED);
    if (a->sock == INVALID_SOCKET)
        report("WSASocket (for AcceptEx)", WSAGetLastError());
    else if (!accept_ex(listener, a->sock, a->addrs, 0, (DWORD)ADDR_SIZE, (DWORD)ADDR_SIZE,
                        &bytes, &a->op.ov) && (err = WSAGetLastError()) != ERROR_IO_PENDING) {
        report("AcceptEx", err);
        close_socket(a->sock);
    }
}

/* An AcceptEx completed: it is posted again at once, and its socket
 * becomes a connection. */
static void accept_done(accept_op *a, DWORD err)
{
    SOCKET s = a->sock;

    post_accept(a);
    if (err != 0) {
        report("AcceptEx (completion)", err);
        close_socket(s);
    } else {
        hand_over(s);
    }
}

/* [step 4] prepare the connection for the model
 * its context, tied to the port with the context as completion key (a
 * ULONG_PTR: a whole pointer); conn_event posts its first receive */
static void hand_over(SOCKET s)
{
    conn *c = (conn *)calloc(1, sizeof *c);

    if (c == NULL) {
        report("calloc", ERROR_NOT_ENOUGH_MEMORY);
        close_socket(s);
        return;
    }
    c->sock = s;
    InitializeSRWLock(&c->lock);
    c->recv_op.kind = OP_RECV;
    c->send_op.kind = OP_SEND;
    if (CreateIoCompletionPort((HANDLE)s, port, (ULONG_PTR)c, 0) == NULL) {
        report("CreateIoCompletionPort (connection)", GetLastError());
        c->phase = PHASE_ABORTING;   /* conn_event posts nothing and frees it */
    }
    conn_event(c, NULL, 0, 0);
}

/* [step 5] start receiving
 * a receive (or a send: the same call shape), posted under the
 * connection's lock and counted in pending first: a worker that takes its
 * completion before WSARecv returns waits for the lock. The byte count is
 * NULL, as Microsoft asks when there is an OVERLAPPED: the packet has it. */
static void post_io(conn *c, io_op *op, char *buf, DWORD len)
{
    WSABUF wb;
    DWORD flags = 0;
    int rc;

    wb.buf = buf;
    wb.len = len;
    memset(&op->ov, 0, sizeof op->ov);
    c->pending++;
    rc = op->kind == OP_RECV ? WSARecv(c->sock, &wb, 1, NULL, &flags, &op->ov, NULL)
                             : WSASend(c->sock, &wb, 1, NULL, 0, &op->ov, NULL);
    if (rc == SOCKET_ERROR && (rc = WSAGetLastError()) != WSA_IO_PENDING) {
        c->pending--;   /* failed at once: no packet will come */
        conn_fail(c, op->kind == OP_RECV ? "WSARecv" : "WSASend", (DWORD)rc);
    }
}

/* [step 6] wait for something to happen
 * every worker waits on the one port and takes the next completion, of
 * any connection. FALSE with an OVERLAPPED is one failed operation; FALSE
 * without one, the port failing. */
static DWORD WINAPI worker_main(void *arg)
{
    (void)arg;
    for (;;) {
        DWORD bytes = 0, err = 0;
        ULONG_PTR key = 0;
        OVERLAPPED *ov = NULL;
        io_op *op;

        if (!GetQueuedCompletionStatus(port, &bytes, &key, &ov, INFINITE)) {
            err = GetLastError();
            if (ov == NULL)
                return (DWORD)report("GetQueuedCompletionStatus", err);
        }
        /* [step 7] find out which connection and which operation
         * the key is the connection, CONTAINING_RECORD turns the
         * OVERLAPPED back into the operation that embeds it */
        op = CONTAINING_RECORD(ov, io_op, ov);
        if (op->kind == OP_ACCEPT)
            accept_done(CONTAINING_RECORD(op, accept_op, op), err);
        else
            conn_event((conn *)key, op, bytes, err);
    }
}

/* One event of a connection, under its lock: a completion, or its start
 * (op NULL: the first receive). The worker that leaves pending at 0
 * frees it: no operation points into it any more, none will be posted. */
static void conn_event(conn *c, io_op *op, DWORD bytes, DWORD err)
{
    int last;

    AcquireSRWLockExclusive(&c->lock);
    if (op != NULL)
        op_done(c, op, bytes, err);
    else if (c->phase == PHASE_OPEN)
        post_io(c, &c->recv_op, c->buf[c->in], RECV_SIZE);
    conn_advance(c);
    last = c->pending == 0;
    ReleaseSRWLockExclusive(&c->lock);
    if (last)
        conn_close(c);
}

/* [step 8] get the result
 * a byte count, or an error; a receive of 0 bytes is the peer's FIN */
static void op_done(conn *c, io_op *op, DWORD bytes, DWORD err)
{
    c->pending--;
    if (c->phase == PHASE_ABORTING)
        return;   /* cancelled, or ended after the error: nothing to do */
    if (err != 0) {
        conn_fail(c, op->kind == OP_RECV ? "WSARecv" : "WSASend", err);
    } else if (op->kind == OP_SEND) {
        c->sent += bytes;
        if (c->sent < c->out)   /* fewer bytes than asked: the rest goes now */
            post_io(c, &c->send_op, c->buf[!c->in] + c->sent, c->out - c->sent);
    } else if (bytes == 0) {
        c->phase = PHASE_CLOSING;   /* send what is left, then close */
    } else {
        /* [step 9] use the data
         * only the bytes received: they wait in buf[in] to go back */
        c->got = bytes;
    }
}

/* [step 10] receive again
 * once the send before them is done, the bytes received go out from
 * their buffer, and the other buffer receives: one send at a time */
static void conn_advance(conn *c)
{
    if (c->phase == PHASE_ABORTING || c->sent < c->out || c->got == 0)
        return;   /* a send is under way, or nothing waits to go out */
    c->out = c->got;
    c->sent = 0;
    c->got = 0;
    c->in = !c->in;
    post_io(c, &c->send_op, c->buf[!c->in], c->out);
    if (c->phase == PHASE_OPEN)
        post_io(c, &c->recv_op, c->buf[c->in], RECV_SIZE);
}

/* [step 11] close a connection
 * after an error, cancel what is still pending (it completes with
 * ERROR_OPERATION_ABORTED); the socket is closed only after the last
 * completion, so no worker can still be using its handle */
static void conn_fail(conn *c, const char *what, DWORD err)
{
    report(what, err);
    c->phase = PHASE_ABORTING;
    if (c->pending > 0 && !CancelIoEx((HANDLE)c->sock, NULL) && GetLastError() != ERROR_NOT_FOUND)
        report("CancelIoEx", GetLastError());
}

static void conn_close(conn *c)
{
    close_socket(c->sock);
    free(c);
}
