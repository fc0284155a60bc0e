/* 05_completion_routine/minimal.c - the completion-routine model alone.
 *
 * A raw echo server: every byte a client sends comes back. The main thread
 * accepts and hands each socket, with QueueUserAPC, to one I/O thread that
 * sleeps alertably. That thread posts every WSARecv and WSASend of the
 * connection, each with a completion routine, and Windows runs each routine
 * on it, inside its alertable wait. One operation per connection at a time:
 * receive, send the bytes back, receive again. No stop machinery: Ctrl+C
 * ends the process. docs/05_completion_routine.md reads it step by step;
 * server.c is the same model with what production adds.
 */
#include <winsock2.h>
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RECV_SIZE 4096

/* [step 1] define the state
 * one heap block per connection: its socket, its one OVERLAPPED and its
 * buffer. Nothing moves or frees it while an operation points into it. */
typedef struct conn {
    SOCKET sock;
    WSAOVERLAPPED ov;             /* the routine gets this pointer back */
    DWORD len;                    /* bytes received, while they are sent back */
    char buf[RECV_SIZE];
} conn;

static int accept_main(SOCKET listener, HANDLE worker);
static void CALLBACK adopt_apc(ULONG_PTR arg);
static void post_recv(conn *c);
static DWORD WINAPI worker_main(void *arg);
static void use_data(conn *c, DWORD n);
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
    unsigned short port = 5150;
    SOCKET listener;
    HANDLE worker;

    for (i = 1; i + 1 < argc; i++)   /* --port N; any other argument is ignored */
        if (strcmp(argv[i], "--port") == 0)
            port = (unsigned short)strtoul(argv[++i], NULL, 10);
    err = WSAStartup(MAKEWORD(2, 2), &wsa);
    if (err != 0)
        return fail("WSAStartup", (DWORD)err);
    /* [step 2] create the listening socket
     * socket() makes an overlapped socket, and accept() passes that on */
    listener = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    if (listener == INVALID_SOCKET)
        return fail("socket", (DWORD)WSAGetLastError());
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    if (bind(listener, (struct sockaddr *)&addr, len) == SOCKET_ERROR)
        return fail("bind", (DWORD)WSAGetLastError());
    if (listen(listener, SOMAXCONN) == SOCKET_ERROR)
        return fail("listen", (DWORD)WSAGetLastError());
    if (getsockname(listener, (struct sockaddr *)&addr, &len) == SOCKET_ERROR)
        return fail("getsockname", (DWORD)WSAGetLastError());
    worker = CreateThread(NULL, 0, worker_main, NULL, 0, NULL);
    if (worker == NULL)
        return fail("CreateThread", GetLastError());
    printf("listening on 127.0.0.1:%u\n", (unsigned)ntohs(addr.sin_port));
    fflush(stdout);
    return accept_main(listener, worker);
}

/* [step 3] accept a connection
 * on the main thread: accept() blocks it, and it runs no routine, so its
 * wait delays no connection's I/O */
static int accept_main(SOCKET listener, HANDLE worker)
{
    for (;;) {
        SOCKET s = accept(listener, NULL, NULL);
        conn *c;

        if (s == INVALID_SOCKET) {
            int err = WSAGetLastError();
            if (err != WSAECONNRESET)   /* WSAECONNRESET: that peer gave up */
                return fail("accept", (DWORD)err);
            continue;
        }
        /* [step 4] prepare the connection for the model
         * its block on the heap, handed to the I/O thread as an APC: the
         * thread that posts a connection's I/O is the one its routines run on */
        c = (conn *)calloc(1, sizeof *c);
        if (c == NULL)   /* the process ends, and its sockets with it */
            return fail("calloc", ERROR_NOT_ENOUGH_MEMORY);
        c->sock = s;
        if (QueueUserAPC(adopt_apc, worker, (ULONG_PTR)c) == 0) {
            fail("QueueUserAPC", GetLastError());
            conn_close(c);
        }
    }
}

/* Runs on the I/O thread, inside its SleepEx. */
static void CALLBACK adopt_apc(ULONG_PTR arg)
{
    post_recv((conn *)arg);
}

static void CALLBACK recv_done(DWORD err, DWORD bytes, LPWSAOVERLAPPED ov, DWORD flags);
static void CALLBACK send_done(DWORD err, DWORD bytes, LPWSAOVERLAPPED ov, DWORD flags);

/* [step 5] start receiving
 * WSARecv with the connection's OVERLAPPED, its buffer and recv_done. The
 * byte count is NULL and the flags live on the stack: Winsock writes them
 * only when the call completes at once, and the routine brings both. */
static void post_recv(conn *c)
{
    WSABUF buf;
    DWORD flags = 0;

    buf.buf = c->buf;
    buf.len = RECV_SIZE;
    memset(&c->ov, 0, sizeof c->ov);
    if (WSARecv(c->sock, &buf, 1, NULL, &flags, &c->ov, recv_done) == SOCKET_ERROR
        && WSAGetLastError() != WSA_IO_PENDING) {
        fail("WSARecv", (DWORD)WSAGetLastError());
        conn_close(c);   /* nothing was started, no routine will run */
    }
}

/* [step 6] wait for something to happen
 * the I/O thread sleeps alertably, for ever: every hand-over and every
 * routine runs inside SleepEx, which then returns WAIT_IO_COMPLETION */
static DWORD WINAPI worker_main(void *arg)
{
    (void)arg;
    while (SleepEx(INFINITE, TRUE) == WAIT_IO_COMPLETION)
        continue;
    return 0;
}

/* [step 7] find out which connection and which operation
 * the routine is the receive's, and the OVERLAPPED it gets back is a field
 * of the connection: CONTAINING_RECORD subtracts that field's offset */
static void CALLBACK recv_done(DWORD err, DWORD bytes, LPWSAOVERLAPPED ov, DWORD flags)
{
    conn *c = CONTAINING_RECORD(ov, conn, ov);

    (void)flags;
    /* [step 8] get the result
     * the routine's arguments: an error, 0 for the peer's FIN, or a count */
    if (err != 0)
        fail("WSARecv (routine)", err);
    if (err != 0 || bytes == 0)
        conn_close(c);   /* at the FIN, every byte before it went back: graceful */
    else
        use_data(c, bytes);
}

/* [step 9] use the data
 * raw echo: exactly the n bytes received go back, from the same buffer,
 * which nothing touches until the send's routine has run */
static void use_data(conn *c, DWORD n)
{
    WSABUF buf;

    c->len = n;
    buf.buf = c->buf;
    buf.len = n;
    memset(&c->ov, 0, sizeof c->ov);
    if (WSASend(c->sock, &buf, 1, NULL, 0, &c->ov, send_done) == SOCKET_ERROR
        && WSAGetLastError() != WSA_IO_PENDING) {
        fail("WSASend", (DWORD)WSAGetLastError());
        conn_close(c);
    }
}

/* [step 10] receive again
 * once the echo is out, so the buffer is free. An overlapped send completes
 * when the transport has taken every byte: a shorter count is a failure. */
static void CALLBACK send_done(DWORD err, DWORD bytes, LPWSAOVERLAPPED ov, DWORD flags)
{
    conn *c = CONTAINING_RECORD(ov, conn, ov);

    (void)flags;
    if (err != 0 || bytes != c->len) {
        fprintf(stderr, "WSASend (routine): error %lu, %lu of %lu bytes\n",
                (unsigned long)err, (unsigned long)bytes, (unsigned long)c->len);
        conn_close(c);
        return;
    }
    post_recv(c);
}

/* [step 11] close a connection
 * only where no operation of it is pending (in a routine, or after a post
 * that failed), so nothing points into the block any more */
static void conn_close(conn *c)
{
    if (closesocket(c->sock) == SOCKET_ERROR)
        fail("closesocket", (DWORD)WSAGetLastError());
    free(c);
}
