/* 01_blocking/minimal.c - the blocking model alone: a thread per client.
 *
 * Article:
 * none; docs/01_blocking.md reads this file first, then server.c.
 *
 * How it works:
 * the main thread blocks in accept(); each client gets a thread of its
 * own that blocks in recv(), then in send() until every byte it received
 * went back (an echo of the bytes, so the client's ECHO frames come back
 * as they were sent).
 *
 * What changes from the previous model:
 * nothing; this is the start.
 *
 * Limits:
 * one thread per client and no limit on clients; no stop: Ctrl+C ends
 * the process, and with it every connection. Usage:
 * blocking_minimal [--port N]   (default 5150; 0 picks a free port)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <winsock2.h>

#define RECV_SIZE (16u * 1024u)   /* on the connection thread's stack */

/* [step 1] define the state
 * one connection: its socket is all its thread needs */
typedef struct conn {
    SOCKET sock;
} conn;

static SOCKET listen_on(unsigned short port);
static int accept_main(SOCKET listener);
static void hand_over(SOCKET s);
static DWORD WINAPI worker_main(void *arg);
static int use_data(conn *c, const char *buf, int n);
static int receive_again(int n);
static void conn_close(conn *c);

/* Prints the call that failed and its Winsock error number. */
static void report(const char *call)
{
    fprintf(stderr, "%s: error %d\n", call, WSAGetLastError());
}

int main(int argc, char **argv)
{
    WSADATA wsa;
    long port = 5150;
    char *end;
    SOCKET listener;
    int i, err;

    for (i = 1; i + 1 < argc; i++) {   /* --port N; any other argument is ignored */
        if (strcmp(argv[i], "--port") != 0)
            continue;
        port = strtol(argv[i + 1], &end, 10);
        if (end == argv[i + 1] || *end != '\0' || port < 0 || port > 65535) {
            fprintf(stderr, "--port %s: not a port number\n", argv[i + 1]);
            return 2;
        }
    }
    err = WSAStartup(MAKEWORD(2, 2), &wsa);
    if (err != 0) {
        fprintf(stderr, "WSAStartup: error %d\n", err);   /* it returns its error */
        return 1;
    }
    /* [step 2] create the listening socket
     * socket, bind to 127.0.0.1:port, listen; then the first line */
    listener = listen_on((unsigned short)port);
    if (listener == INVALID_SOCKET)
        return 1;
    return accept_main(listener);
}

static SOCKET listen_on(unsigned short port)
{
    struct sockaddr_in sa;
    int len = (int)sizeof sa;
    SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);

    if (s == INVALID_SOCKET) {
        report("socket");
        return INVALID_SOCKET;
    }
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons(port);
    if (bind(s, (struct sockaddr *)&sa, (int)sizeof sa) == SOCKET_ERROR)
        report("bind");
    else if (listen(s, SOMAXCONN) == SOCKET_ERROR)
        report("listen");
    else if (getsockname(s, (struct sockaddr *)&sa, &len) == SOCKET_ERROR)
        report("getsockname");
    else {
        printf("listening on 127.0.0.1:%u\n", ntohs(sa.sin_port));   /* the real port */
        fflush(stdout);
        return s;
    }
    if (closesocket(s) == SOCKET_ERROR)
        report("closesocket");
    return INVALID_SOCKET;
}

/* [step 3] accept a connection
 * accept() blocks the main thread until a client connects */
static int accept_main(SOCKET listener)
{
    for (;;) {
        SOCKET s = accept(listener, NULL, NULL);
        if (s != INVALID_SOCKET)
            hand_over(s);
        else if (WSAGetLastError() != WSAECONNRESET) {   /* reset: that peer gave up */
            report("accept");
            return 1;
        }
    }
}

/* [step 4] prepare the connection for the model
 * its state, and a thread of its own that owns the socket from now on */
static void hand_over(SOCKET s)
{
    conn *c = (conn *)malloc(sizeof *c);
    HANDLE thread;

    if (c == NULL) {
        fprintf(stderr, "malloc: out of memory\n");
        if (closesocket(s) == SOCKET_ERROR)
            report("closesocket");
        return;
    }
    c->sock = s;
    thread = CreateThread(NULL, 0, worker_main, c, 0, NULL);
    if (thread == NULL) {
        fprintf(stderr, "CreateThread: error %lu\n", GetLastError());
        conn_close(c);
        return;
    }
    if (!CloseHandle(thread))   /* nobody waits for it: the thread frees c itself */
        fprintf(stderr, "CloseHandle: error %lu\n", GetLastError());
}

/* [step 5] start receiving
 * the connection thread's whole life is one loop of blocking calls */
static DWORD WINAPI worker_main(void *arg)
{
    conn *c = (conn *)arg;
    char buf[RECV_SIZE];   /* this thread's own: no other connection writes here */
    int n;

    do {
        /* [step 6] wait for something to happen
         * recv() blocks this thread until data, FIN or an error */
        n = recv(c->sock, buf, (int)RECV_SIZE, 0);
        /* [step 8] get the result
         * a byte count, 0 for FIN, or SOCKET_ERROR */
        if (n == SOCKET_ERROR)
            report("recv");
        else if (n > 0 && use_data(c, buf, n) != 0)
            n = SOCKET_ERROR;
    } while (receive_again(n));
    conn_close(c);
    return 0;
}

/* [step 9] use the data
 * send back exactly the n bytes received; send() blocks until they are
 * in the socket's send buffer, and may take fewer than asked */
static int use_data(conn *c, const char *buf, int n)
{
    int sent = 0;

    while (sent < n) {
        int k = send(c->sock, buf + sent, n - sent, 0);
        if (k == SOCKET_ERROR) {
            report("send");
            return -1;
        }
        sent += k;
    }
    return 0;
}

/* [step 10] receive again
 * while bytes came: not after the peer's FIN (0) or an error */
static int receive_again(int n)
{
    return n > 0;
}

/* [step 11] close a connection
 * after the FIN everything was echoed, so closesocket() is a graceful
 * close (what send() queued still goes out); after an error as well */
static void conn_close(conn *c)
{
    if (closesocket(c->sock) == SOCKET_ERROR)
        report("closesocket");
    free(c);
}
