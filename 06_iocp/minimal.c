/* 06_iocp/minimal.c - the completion-port model alone: a raw echo server.
 *
 * Article:
 * articles 000, 001 and 004 (shared/seeds/): one completion port, worker
 * threads in GetQueuedCompletionStatus, the connection as completion key.
 *
 * How it works:
 * WORKERS threads wait on one port and take whatever completed, of any
 * connection. The main thread blocks in accept() and ties each new socket
 * to the port, its conn as the completion key. A conn echoes raw bytes
 * (so the client's ECHO frames come back as they were sent): one WSARecv,
 * then one WSASend of the bytes it brought, then the next WSARecv, so one
 * operation of a connection is pending at a time.
 *
 * What changes from the previous model:
 * (05_completion_routine) a completion is no longer a call queued to the
 * thread that posted the operation: it is a packet on the port, taken by
 * whichever worker is free, with the key and the OVERLAPPED that say
 * whose operation it was. No thread is tied to a connection.
 *
 * Limits:
 * four workers, whatever the CPUs; a connection holds its 4 KiB buffer,
 * idle or not; no limit on clients but memory. No stop: Ctrl+C ends the
 * process. What server.c adds (AcceptEx, a receive and a send at once):
 * docs/06_iocp.md. Usage: iocp_minimal [--port N]   (default 5150; 0
 * picks a free port)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <winsock2.h>

#define RECV_SIZE 4096
#define WORKERS 4         /* threads waiting on the port */

/* [step 1] define the state
 * one heap block per connection, its completion key: its socket, an
 * OVERLAPPED per kind of operation, its buffer. Only one operation is
 * pending at a time, and nothing moves or frees the block meanwhile. */
typedef struct conn {
    SOCKET sock;
    OVERLAPPED recv_ov, send_ov;  /* the packet brings one of them back */
    DWORD len;                    /* bytes received, while they are sent back */
    char buf[RECV_SIZE];
} conn;

static int accept_main(SOCKET listener, HANDLE port);
static void post_recv(conn *c);
static DWORD WINAPI worker_main(void *arg);
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
    HANDLE port;

    for (i = 1; i + 1 < argc; i++)   /* --port N; any other argument is ignored */
        if (strcmp(argv[i], "--port") == 0)
            port_no = (unsigned short)strtoul(argv[++i], NULL, 10);
    if ((err = WSAStartup(MAKEWORD(2, 2), &wsa)) != 0)
        return fail("WSAStartup", (DWORD)err);
    /* [step 2] create the listening socket
     * socket() makes an overlapped socket, and accept() passes that on;
     * then the port and the workers that wait on it */
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
    /* concurrency 0: the port lets as many workers run at once as there are CPUs */
    if ((port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0)) == NULL)
        return fail("CreateIoCompletionPort", GetLastError());
    for (i = 0; i < WORKERS; i++)
        if (CreateThread(NULL, 0, worker_main, port, 0, NULL) == NULL)
            return fail("CreateThread", GetLastError());
    printf("listening on 127.0.0.1:%u\n", (unsigned)ntohs(addr.sin_port));
    fflush(stdout);
    return accept_main(listener, port);
}

/* [step 3] accept a connection
 * on the main thread, which blocks in accept() and does nothing else */
static int accept_main(SOCKET listener, HANDLE port)
{
    for (;;) {
        SOCKET s = accept(listener, NULL, NULL);
        conn *c;

        if (s == INVALID_SOCKET && WSAGetLastError() == WSAECONNRESET)
            continue;   /* that peer gave up before it was accepted */
        if (s == INVALID_SOCKET)
            return fail("accept", (DWORD)WSAGetLastError());
        /* [step 4] prepare the connection for the model
         * its block on the heap, and the socket tied to the port with the
         * block as its completion key (a ULONG_PTR: a whole pointer) */
        c = (conn *)calloc(1, sizeof *c);
        if (c == NULL)   /* the process ends, and its sockets with it */
            return fail("calloc", ERROR_NOT_ENOUGH_MEMORY);
        c->sock = s;
        if (CreateIoCompletionPort((HANDLE)s, port, (ULONG_PTR)c, 0) == NULL) {
            fail("CreateIoCompletionPort (connection)", GetLastError());
            conn_close(c);   /* nothing posted yet */
            continue;
        }
        post_recv(c);
    }
}

/* [step 5] start receiving
 * WSARecv into the connection's buffer, on its recv_ov. Done at once or
 * pending, a packet comes; only another error means none will. The byte
 * count is NULL and the flags live on the stack: with an OVERLAPPED,
 * Winsock writes them only when the call completes at once. */
static void post_recv(conn *c)
{
    WSABUF buf;
    DWORD flags = 0;

    buf.buf = c->buf;
    buf.len = RECV_SIZE;
    memset(&c->recv_ov, 0, sizeof c->recv_ov);
    if (WSARecv(c->sock, &buf, 1, NULL, &flags, &c->recv_ov, NULL) == SOCKET_ERROR
        && WSAGetLastError() != WSA_IO_PENDING) {
        fail("WSARecv", (DWORD)WSAGetLastError());
        conn_close(c);   /* nothing was started, no packet will come */
    }
}

/* [step 6] wait for something to happen
 * every worker waits on the one port and takes the next packet, of any
 * connection. FALSE with an OVERLAPPED is one operation that failed;
 * FALSE without one, the port failing: then the process ends. */
static DWORD WINAPI worker_main(void *arg)   /* arg: the port */
{
    for (;;) {
        DWORD bytes = 0, err = 0;
        ULONG_PTR key = 0;
        OVERLAPPED *ov = NULL;
        conn *c;

        if (!GetQueuedCompletionStatus((HANDLE)arg, &bytes, &key, &ov, INFINITE)) {
            err = GetLastError();
            if (ov == NULL)
                exit(fail("GetQueuedCompletionStatus", err));
        }
        /* [step 7] find out which connection and which operation
         * the key is the connection; which of its OVERLAPPEDs came back
         * is the operation */
        c = (conn *)key;
        if (ov == &c->recv_ov)
            recv_done(c, err, bytes);
        else
            send_done(c, err, bytes);
    }
}

/* [step 8] get the result
 * the packet's: an error, 0 bytes for the peer's FIN, or a byte count */
static void recv_done(conn *c, DWORD err, DWORD bytes)
{
    if (err != 0)
        fail("WSARecv (completion)", err);
    if (err != 0 || bytes == 0)
        conn_close(c);   /* at the FIN, every byte before it went back: graceful */
    else
        use_data(c, bytes);
}

/* [step 9] use the data
 * raw echo: exactly the n bytes received go back from the same buffer,
 * which nothing touches until the send's packet has been taken */
static void use_data(conn *c, DWORD n)
{
    WSABUF buf;

    c->len = n;
    buf.buf = c->buf;
    buf.len = n;
    memset(&c->send_ov, 0, sizeof c->send_ov);
    if (WSASend(c->sock, &buf, 1, NULL, 0, &c->send_ov, NULL) == SOCKET_ERROR
        && WSAGetLastError() != WSA_IO_PENDING) {
        fail("WSASend", (DWORD)WSAGetLastError());
        conn_close(c);
    }
}

/* [step 10] receive again
 * once the echo is out, so the buffer is free. An overlapped send completes
 * when the transport has taken every byte: a shorter count is a failure. */
static void send_done(conn *c, DWORD err, DWORD bytes)
{
    if (err != 0 || bytes != c->len) {
        fprintf(stderr, "WSASend (completion): error %lu, %lu of %lu bytes\n",
                (unsigned long)err, (unsigned long)bytes, (unsigned long)c->len);
        conn_close(c);
        return;
    }
    post_recv(c);
}

/* [step 11] close a connection
 * only where none of its operations is pending (its only one was just
 * taken from the port, or failed to start): no packet of it is left, and
 * no worker will use the socket or the block again */
static void conn_close(conn *c)
{
    if (closesocket(c->sock) == SOCKET_ERROR)
        fail("closesocket", (DWORD)WSAGetLastError());
    free(c);
}

/* [step 12] stop the server
 * none here: Ctrl+C ends the process, and the system closes what it held */
