/* 08_threadpool/minimal.c - thread-pool I/O alone: a raw echo server.
 *
 * Article:
 * none of the articles (shared/seeds/) gets this far: their completion
 * port (articles 000, 001 and 004) with the port and its threads handed
 * to the system's thread pool (Windows Vista and later).
 *
 * How it works:
 * every socket gets a TP_IO (CreateThreadpoolIo: the socket, one
 * callback, a context), bound to the process's default pool. ACCEPTS
 * AcceptEx calls stay posted on the listener's TP_IO. StartThreadpoolIo
 * comes before every overlapped call, CancelThreadpoolIo after one that
 * failed at once. A thread of the pool calls io_callback when an
 * operation ends. A conn echoes raw bytes: it receives into one of its
 * two buffers, sends those bytes back while the other buffer receives.
 *
 * What changes from the previous model:
 * (06_iocp) no port, no workers, no GetQueuedCompletionStatus: the
 * pool's. The lock and the pending count stay. New: the callback that
 * closes a connection cannot wait for its own TP_IO, so it puts the conn
 * on a closed list, and the main thread frees it after
 * WaitForThreadpoolIoCallbacks and CloseThreadpoolIo.
 *
 * Limits:
 * Ctrl+C is the only stop; the pool decides how many threads; a
 * connection costs 8 KiB of buffers, idle or not; an AcceptEx that fails
 * at once leaves the pool for good. What server.c adds:
 * docs/08_threadpool.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <winsock2.h>
#include <mswsock.h>

#define RECV_SIZE 4096   /* each of a connection's two buffers */
#define ACCEPTS 4        /* AcceptEx calls kept posted */
#define ADDR_SIZE (sizeof(struct sockaddr_in) + 16)   /* what AcceptEx asks per address */
#define SWEEP_MS 250     /* how often the main thread frees closed connections */

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
 * an operation embeds its OVERLAPPED; a connection (the context of its
 * TP_IO) owns one receive and one send */
enum op_kind { OP_ACCEPT, OP_RECV, OP_SEND };
enum conn_phase { PHASE_OPEN, PHASE_CLOSING, PHASE_ABORTING };

typedef struct io_op {
    OVERLAPPED ov;                /* the system writes here until the callback */
    enum op_kind kind;
} io_op;

typedef struct accept_op {
    io_op op;
    SOCKET sock;                  /* made in advance; AcceptEx connects it */
    char addrs[2 * ADDR_SIZE];    /* local and remote address; no data (length 0) */
} accept_op;

typedef struct conn {
    SOCKET sock;
    PTP_IO io;                    /* closed by the main thread, after the last callback */
    struct conn *next;            /* in the closed list, once nothing is pending */
    SRWLOCK lock;                 /* guards everything below */
    int pending;                  /* operations posted and not yet handled */
    enum conn_phase phase;        /* CLOSING: the peer's FIN came; ABORTING: an error */
    io_op recv_op, send_op;
    int in;                       /* buf[in] receives, buf[!in] is sent */
    DWORD got;                    /* bytes in buf[in], waiting for the send to end */
    DWORD out, sent;              /* buf[!in]: bytes to send, bytes sent */
    char buf[2][RECV_SIZE];
} conn;

static SOCKET listener;
static PTP_IO listen_io;
static LPFN_ACCEPTEX accept_ex;
static accept_op accepts[ACCEPTS];   /* not on a stack: the system writes into them */
static SRWLOCK closed_lock = SRWLOCK_INIT;
static conn *closed;                 /* closed connections, for the main thread to free */

static void post_accept(accept_op *a);
static void hand_over(SOCKET s);
static VOID CALLBACK io_callback(PTP_CALLBACK_INSTANCE instance, PVOID context,
                                 PVOID overlapped, ULONG result, ULONG_PTR bytes, PTP_IO io);
static void conn_event(conn *c, io_op *op, DWORD bytes, DWORD err);
static void op_done(conn *c, io_op *op, DWORD bytes, DWORD err);
static void conn_advance(conn *c);
static void conn_fail(conn *c, const char *what, DWORD err);
static void conn_close(conn *c);
static void free_closed(void);

int main(int argc, char **argv)
{
    WSADATA wsa;
    struct sockaddr_in addr;
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
     * an overlapped one, as AcceptEx needs; then its TP_IO on the default
     * pool and the first AcceptEx calls */
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
    if (WSAIoctl(listener, SIO_GET_EXTENSION_FUNCTION_POINTER, &id, sizeof id, &accept_ex,
                 sizeof accept_ex, &bytes, NULL, NULL) == SOCKET_ERROR)
        return report("WSAIoctl (AcceptEx)", WSAGetLastError());
    /* context NULL: the listener is no connection; its operations are OP_ACCEPT */
    if ((listen_io = CreateThreadpoolIo((HANDLE)listener, io_callback, NULL, NULL)) == NULL)
        return report("CreateThreadpoolIo (listener)", GetLastError());
    for (i = 0; i < ACCEPTS; i++) {
        accepts[i].op.kind = OP_ACCEPT;
        post_accept(&accepts[i]);
    }
    printf("listening on 127.0.0.1:%u\n", (unsigned)ntohs(addr.sin_port));
    fflush(stdout);
    for (;;) {   /* Ctrl+C ends the process; meanwhile, free what closed */
        Sleep(SWEEP_MS);
        free_closed();
    }
}

/* [step 3] accept a connection
 * AcceptEx on a socket made in advance, with receive length 0, so it
 * completes at the connect; StartThreadpoolIo first, as before every
 * overlapped call, and CancelThreadpoolIo if it fails at once */
static void post_accept(accept_op *a)
{
    DWORD bytes = 0;
    int err;

    memset(&a->op.ov, 0, sizeof a->op.ov);
    a->sock = WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0, WSA_FLAG_OVERLAPPED);
    if (a->sock == INVALID_SOCKET) {
        report("WSASocket (for AcceptEx)", WSAGetLastError());
        return;
    }
    StartThreadpoolIo(listen_io);
    if (!accept_ex(listener, a->sock, a->addrs, 0, (DWORD)ADDR_SIZE, (DWORD)ADDR_SIZE,
                   &bytes, &a->op.ov) && (err = WSAGetLastError()) != ERROR_IO_PENDING) {
        CancelThreadpoolIo(listen_io);   /* no callback will come */
        report("AcceptEx", err);
        close_socket(a->sock);
    }
}

/* An AcceptEx ended: it is posted again at once, and its socket becomes
 * a connection. */
static void accept_done(accept_op *a, DWORD err)
{
    SOCKET s = a->sock;

    post_accept(a);
    if (err != 0) {
        report("AcceptEx (callback)", err);
        close_socket(s);
    } else {
        hand_over(s);
    }
}

/* [step 4] prepare the connection for the model
 * its context and its own TP_IO, with the context as the callback's
 * context; conn_event posts its first receive */
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
    if ((c->io = CreateThreadpoolIo((HANDLE)s, io_callback, c, NULL)) == NULL) {
        report("CreateThreadpoolIo (connection)", GetLastError());
        close_socket(s);   /* no TP_IO, nothing posted: freed here */
        free(c);
        return;
    }
    conn_event(c, NULL, 0, 0);
}

/* [step 5] start receiving
 * a receive (or a send: the same call shape), under the connection's
 * lock, counted in pending first. StartThreadpoolIo before the call;
 * CancelThreadpoolIo when it fails at once, since no callback comes */
static void post_io(conn *c, io_op *op, char *buf, DWORD len)
{
    WSABUF wb;
    DWORD flags = 0;
    int rc;

    wb.buf = buf;
    wb.len = len;
    memset(&op->ov, 0, sizeof op->ov);
    c->pending++;
    StartThreadpoolIo(c->io);
    rc = op->kind == OP_RECV ? WSARecv(c->sock, &wb, 1, NULL, &flags, &op->ov, NULL)
                             : WSASend(c->sock, &wb, 1, NULL, 0, &op->ov, NULL);
    if (rc == SOCKET_ERROR && (rc = WSAGetLastError()) != WSA_IO_PENDING) {
        CancelThreadpoolIo(c->io);
        c->pending--;
        conn_fail(c, op->kind == OP_RECV ? "WSARecv" : "WSASend", (DWORD)rc);
    }
}

/* [step 6] wait for something to happen
 * the program does not wait: a thread of the pool calls this when an
 * operation of a TP_IO ended, with its context, the OVERLAPPED, the
 * result (NO_ERROR or an error code) and the byte count */
static VOID CALLBACK io_callback(PTP_CALLBACK_INSTANCE instance, PVOID context,
                                 PVOID overlapped, ULONG result, ULONG_PTR bytes, PTP_IO io)
{
    /* [step 7] find out which connection and which operation
     * the context is the connection, CONTAINING_RECORD turns the
     * OVERLAPPED back into the operation that embeds it */
    io_op *op = CONTAINING_RECORD((OVERLAPPED *)overlapped, io_op, ov);

    (void)instance;
    (void)io;
    if (op->kind == OP_ACCEPT)
        accept_done(CONTAINING_RECORD(op, accept_op, op), (DWORD)result);
    else
        conn_event((conn *)context, op, (DWORD)bytes, (DWORD)result);
}

/* One event of a connection, under its lock: a callback, or its start
 * (op NULL: the first receive). The thread that leaves pending at 0
 * closes it: no operation points into it any more, none will be posted. */
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
 * after an error, cancel what is still pending; the socket is closed
 * after the last callback, and the conn goes to the closed list: this
 * callback cannot wait for its own TP_IO, the main thread does */
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
    AcquireSRWLockExclusive(&closed_lock);
    c->next = closed;
    closed = c;
    ReleaseSRWLockExclusive(&closed_lock);   /* from here on, c is the main thread's */
}

/* The main thread: each closed conn once its last callback has returned
 * (WaitForThreadpoolIoCallbacks), then its TP_IO, then the memory. */
static void free_closed(void)
{
    conn *c, *next;

    AcquireSRWLockExclusive(&closed_lock);
    c = closed;
    closed = NULL;
    ReleaseSRWLockExclusive(&closed_lock);
    for (; c != NULL; c = next) {
        next = c->next;
        WaitForThreadpoolIoCallbacks(c->io, FALSE);
        CloseThreadpoolIo(c->io);
        free(c);
    }
}
