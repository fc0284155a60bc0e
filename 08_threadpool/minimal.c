/* 08_threadpool/minimal.c - thread-pool I/O alone: a raw echo server.
 *
 * Article:
 * none of the articles (shared/seeds/) gets this far: their completion
 * port (articles 000, 001 and 004) with the port and its threads handed
 * to the system's thread pool (Windows Vista and later).
 *
 * How it works:
 * the main thread blocks in accept() and gives each new socket a TP_IO
 * (CreateThreadpoolIo: the socket, io_callback, its conn), bound to the
 * process's default pool. StartThreadpoolIo comes before every overlapped
 * call, CancelThreadpoolIo after one that failed at once. A thread of the
 * pool calls io_callback when an operation ends. A conn echoes raw bytes
 * (so the client's ECHO frames come back as they were sent): one WSARecv,
 * then one WSASend of the bytes it brought, then the next WSARecv, so one
 * operation of a connection is pending at a time.
 *
 * What changes from the previous model:
 * (06_iocp) no port, no workers, no GetQueuedCompletionStatus: the
 * pool's. New: the pool's bookkeeping around every call, and the end of a
 * TP_IO: CloseThreadpoolIo once the socket is closed and nothing is
 * pending.
 *
 * Limits:
 * the pool decides how many threads; a connection holds its 4 KiB
 * buffer, idle or not; no limit on clients but memory. No stop: Ctrl+C
 * ends the process. What server.c adds (AcceptEx, a receive and a send at
 * once): docs/08_threadpool.md. Usage: threadpool_minimal [--port N]
 * (default 5150; 0 picks a free port)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <winsock2.h>

#define RECV_SIZE 4096

/* [step 1] define the state
 * one heap block per connection, the context of its TP_IO: its socket,
 * the TP_IO, an OVERLAPPED per kind of operation, its buffer. Only one
 * operation is pending at a time, and nothing moves or frees the block
 * meanwhile. */
typedef struct conn {
    SOCKET sock;
    PTP_IO io;                    /* the socket bound to the pool */
    OVERLAPPED recv_ov, send_ov;  /* the callback gets one of them back */
    DWORD len;                    /* bytes received, while they are sent back */
    char buf[RECV_SIZE];
} conn;

static int accept_main(SOCKET listener);
static VOID CALLBACK io_callback(PTP_CALLBACK_INSTANCE instance, PVOID context,
                                 PVOID overlapped, ULONG result, ULONG_PTR bytes, PTP_IO io);
static void post_recv(conn *c);
static void recv_done(conn *c, DWORD err, DWORD bytes);
static void use_data(conn *c, DWORD n);
static void send_done(conn *c, DWORD err, DWORD bytes);
static void conn_close(conn *c);

/* A failed call: its name and its error number; 1, for main to return. */
static int fail(const char *call, DWORD err)
{
    fprintf(stderr, "%s: error %lu\n", call, (unsigned long)err);
    return 1;
}

int main(int argc, char **argv)
{
    WSADATA wsa;
    struct sockaddr_in addr;
    int len = (int)sizeof addr, i, err;
    unsigned short port_no = 5150;
    SOCKET listener;

    for (i = 1; i + 1 < argc; i++)   /* --port N; any other argument is ignored */
        if (strcmp(argv[i], "--port") == 0)
            port_no = (unsigned short)strtoul(argv[++i], NULL, 10);
    if ((err = WSAStartup(MAKEWORD(2, 2), &wsa)) != 0)
        return fail("WSAStartup", (DWORD)err);
    /* [step 2] create the listening socket
     * socket() makes an overlapped socket, and accept() passes that on */
    if ((listener = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP)) == INVALID_SOCKET)
        return fail("socket", (DWORD)WSAGetLastError());
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port_no);
    if (bind(listener, (struct sockaddr *)&addr, len) == SOCKET_ERROR)
        return fail("bind", (DWORD)WSAGetLastError());
    if (listen(listener, SOMAXCONN) == SOCKET_ERROR)
        return fail("listen", (DWORD)WSAGetLastError());
    if (getsockname(listener, (struct sockaddr *)&addr, &len) == SOCKET_ERROR)
        return fail("getsockname", (DWORD)WSAGetLastError());
    printf("listening on 127.0.0.1:%u\n", (unsigned)ntohs(addr.sin_port));
    fflush(stdout);
    return accept_main(listener);
}

/* [step 3] accept a connection
 * on the main thread, which blocks in accept() and does nothing else */
static int accept_main(SOCKET listener)
{
    for (;;) {
        SOCKET s = accept(listener, NULL, NULL);
        conn *c;

        if (s == INVALID_SOCKET && WSAGetLastError() == WSAECONNRESET)
            continue;   /* that peer gave up before it was accepted */
        if (s == INVALID_SOCKET)
            return fail("accept", (DWORD)WSAGetLastError());
        /* [step 4] prepare the connection for the model
         * its block on the heap, and its TP_IO on the default pool (the
         * environment NULL), with the block as the callback's context */
        c = (conn *)calloc(1, sizeof *c);
        if (c == NULL)   /* the process ends, and its sockets with it */
            return fail("calloc", ERROR_NOT_ENOUGH_MEMORY);
        c->sock = s;
        c->io = CreateThreadpoolIo((HANDLE)s, io_callback, c, NULL);
        if (c->io == NULL) {
            fail("CreateThreadpoolIo", GetLastError());
            conn_close(c);   /* nothing posted yet */
            continue;
        }
        post_recv(c);
    }
}

/* [step 5] start receiving
 * StartThreadpoolIo, then WSARecv into the connection's buffer, on its
 * recv_ov. Done at once or pending, the callback comes; another error
 * means it will not: then CancelThreadpoolIo. The byte count is NULL and
 * the flags live on the stack: with an OVERLAPPED, Winsock writes them
 * only when the call completes at once. */
static void post_recv(conn *c)
{
    WSABUF buf;
    DWORD flags = 0;
    int err;

    buf.buf = c->buf;
    buf.len = RECV_SIZE;
    memset(&c->recv_ov, 0, sizeof c->recv_ov);
    StartThreadpoolIo(c->io);
    if (WSARecv(c->sock, &buf, 1, NULL, &flags, &c->recv_ov, NULL) == SOCKET_ERROR
        && (err = WSAGetLastError()) != WSA_IO_PENDING) {
        CancelThreadpoolIo(c->io);   /* no callback will come */
        fail("WSARecv", (DWORD)err);
        conn_close(c);
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
     * the context is the connection; which of its OVERLAPPEDs came back
     * is the operation */
    conn *c = (conn *)context;

    (void)instance;
    (void)io;
    if (overlapped == &c->recv_ov)
        recv_done(c, (DWORD)result, (DWORD)bytes);
    else
        send_done(c, (DWORD)result, (DWORD)bytes);
}

/* [step 8] get the result
 * the callback's: an error, 0 bytes for the peer's FIN, or a byte count */
static void recv_done(conn *c, DWORD err, DWORD bytes)
{
    if (err != NO_ERROR)
        fail("WSARecv (callback)", err);
    if (err != NO_ERROR || bytes == 0)
        conn_close(c);   /* at the FIN, every byte before it went back: graceful */
    else
        use_data(c, bytes);
}

/* [step 9] use the data
 * raw echo: exactly the n bytes received go back from the same buffer,
 * which nothing touches until the send's callback. StartThreadpoolIo
 * first again, CancelThreadpoolIo if no callback will come. */
static void use_data(conn *c, DWORD n)
{
    WSABUF buf;
    int err;

    c->len = n;
    buf.buf = c->buf;
    buf.len = n;
    memset(&c->send_ov, 0, sizeof c->send_ov);
    StartThreadpoolIo(c->io);
    if (WSASend(c->sock, &buf, 1, NULL, 0, &c->send_ov, NULL) == SOCKET_ERROR
        && (err = WSAGetLastError()) != WSA_IO_PENDING) {
        CancelThreadpoolIo(c->io);
        fail("WSASend", (DWORD)err);
        conn_close(c);
    }
}

/* [step 10] receive again
 * once the echo is out, so the buffer is free. An overlapped send completes
 * when the transport has taken every byte: a shorter count is a failure. */
static void send_done(conn *c, DWORD err, DWORD bytes)
{
    if (err != NO_ERROR || bytes != c->len) {
        fprintf(stderr, "WSASend (callback): error %lu, %lu of %lu bytes\n",
                (unsigned long)err, (unsigned long)bytes, (unsigned long)c->len);
        conn_close(c);
        return;
    }
    post_recv(c);
}

/* [step 11] close a connection
 * only where none of its operations is pending (in its last callback, or
 * after a call that failed at once), in the order of CloseThreadpoolIo's
 * page: the socket first, then the TP_IO, which the pool frees once the
 * callback running now has returned; no other callback of it will come,
 * so the block goes too */
static void conn_close(conn *c)
{
    if (closesocket(c->sock) == SOCKET_ERROR)
        fail("closesocket", (DWORD)WSAGetLastError());
    if (c->io != NULL)
        CloseThreadpoolIo(c->io);
    free(c);
}

/* [step 12] stop the server
 * none here: Ctrl+C ends the process, and the system closes what it held */
