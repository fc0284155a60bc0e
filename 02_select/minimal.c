/* 02_select/minimal.c - the select model alone: one thread, non-blocking
 * sockets and one select() over the listener and its clients. It sends
 * back every byte it receives (a raw echo, which answers the suite's ECHO
 * frames byte for byte). Ctrl+C ends it.
 *
 * Limits: an fd_set holds FD_SETSIZE sockets, and nothing here defines
 * FD_SETSIZE before winsock2.h, so it is Winsock's default, 64: the
 * listener and 63 clients. A 64th client is accepted and closed at once.
 * server.c is the same model with what production adds (docs/02_select.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <winsock2.h>

#define MAX_CLIENTS (FD_SETSIZE - 1)   /* the listener takes one place in the read set */
#define BUF_SIZE 4096

/* [step 1] define the state
 * one client: its socket and the bytes received but not yet sent back */
typedef struct conn {
    SOCKET sock;                  /* INVALID_SOCKET: a free slot */
    char buf[BUF_SIZE];
    int len;                      /* bytes in buf, to be sent back */
    int sent;                     /* how many of them are sent */
} conn;

static conn conns[MAX_CLIENTS];
static fd_set read_set, write_set;

static void worker_main(SOCKET listener);

/* Prints the call that failed and its error number; returns 1. */
static int report(const char *call)
{
    fprintf(stderr, "%s failed: error %d\n", call, WSAGetLastError());
    return 1;
}

int main(int argc, char **argv)
{
    WSADATA wsa;
    struct sockaddr_in addr = {0};
    int len = (int)sizeof addr, port = 0, i, err;
    u_long on = 1;
    SOCKET listener;

    for (i = 1; i + 1 < argc; i++)   /* --port N; any other argument is ignored */
        if (strcmp(argv[i], "--port") == 0)
            port = (int)strtol(argv[i + 1], NULL, 10);
    /* [step 2] create the listening socket
     * socket, bind to 127.0.0.1, listen; non-blocking, because it waits in
     * the read set beside the clients */
    if ((err = WSAStartup(MAKEWORD(2, 2), &wsa)) != 0) {   /* it returns its error code */
        fprintf(stderr, "WSAStartup failed: error %d\n", err);
        return 1;
    }
    listener = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    if (listener == INVALID_SOCKET)
        return report("socket");
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons((u_short)port);
    if (bind(listener, (struct sockaddr *)&addr, len) == SOCKET_ERROR)
        return report("bind");
    if (listen(listener, SOMAXCONN) == SOCKET_ERROR)
        return report("listen");
    if (getsockname(listener, (struct sockaddr *)&addr, &len) == SOCKET_ERROR)
        return report("getsockname");
    if (ioctlsocket(listener, FIONBIO, &on) == SOCKET_ERROR)
        return report("ioctlsocket");
    printf("listening on 127.0.0.1:%u\n", (unsigned)ntohs(addr.sin_port));
    fflush(stdout);
    for (i = 0; i < MAX_CLIENTS; i++)
        conns[i].sock = INVALID_SOCKET;
    worker_main(listener);   /* returns only when select() fails */
    return 1;
}

/* [step 3] accept a connection
 * select() reported the listener readable, so accept() returns at once;
 * the listener is non-blocking all the same, because the peer may have
 * given up since: WSAEWOULDBLOCK then says nobody is waiting */
static void accept_ready(SOCKET listener)
{
    SOCKET s = accept(listener, NULL, NULL);
    u_long on = 1;
    int i = 0;

    if (s == INVALID_SOCKET) {
        if (WSAGetLastError() != WSAEWOULDBLOCK)
            report("accept");
        return;
    }
    /* [step 4] prepare the connection for the model
     * non-blocking, so that no recv() or send() on it can wait, in a free
     * slot; with every slot taken the set is full, and the client is closed */
    while (i < MAX_CLIENTS && conns[i].sock != INVALID_SOCKET)
        i++;
    if (i == MAX_CLIENTS) {
        fprintf(stderr, "the set is full (%d clients): closing a new one\n", MAX_CLIENTS);
    } else if (ioctlsocket(s, FIONBIO, &on) == SOCKET_ERROR) {
        report("ioctlsocket");
    } else {
        conns[i].sock = s;
        conns[i].len = conns[i].sent = 0;
        return;
    }
    if (closesocket(s) == SOCKET_ERROR)
        report("closesocket");
}

/* [step 5] start receiving
 * a socket in the read set asks select() to report input: the listener,
 * and each client whose buffer is empty. A client with bytes still to
 * send goes in the write set instead, to learn when there is room. */
static void build_sets(SOCKET listener)
{
    int i;

    FD_ZERO(&read_set);
    FD_ZERO(&write_set);
    FD_SET(listener, &read_set);
    for (i = 0; i < MAX_CLIENTS; i++) {
        if (conns[i].sock != INVALID_SOCKET)
            FD_SET(conns[i].sock, conns[i].sent < conns[i].len ? &write_set : &read_set);
    }
}

/* [step 6] wait for something to happen
 * select() blocks (no timeout) until a socket of the sets is ready, and
 * leaves only the ready ones in them; Winsock ignores its first argument */
static void serve_round(SOCKET listener);

static int wait_round(SOCKET listener)
{
    build_sets(listener);
    /* a set given to select() must hold a socket: an empty one goes as NULL */
    if (select(0, &read_set, write_set.fd_count > 0 ? &write_set : NULL, NULL, NULL)
        == SOCKET_ERROR)
        return report("select");
    serve_round(listener);
    return 0;
}

/* [step 7] find out which connection and which operation
 * FD_ISSET asks whether a socket is among the ready ones */
static int serve_conn(conn *c, int readable);
static void conn_close(conn *c);

static void serve_round(SOCKET listener)
{
    int i;

    if (FD_ISSET(listener, &read_set))
        accept_ready(listener);
    for (i = 0; i < MAX_CLIENTS; i++) {
        SOCKET s = conns[i].sock;
        if (s != INVALID_SOCKET && (FD_ISSET(s, &read_set) || FD_ISSET(s, &write_set))
            && serve_conn(&conns[i], FD_ISSET(s, &read_set)) != 0)
            conn_close(&conns[i]);
    }
}

/* One ready client: 0 to keep it, 1 to close it. */
static int send_pending(conn *c);

static int serve_conn(conn *c, int readable)
{
    if (readable) {
        int n = recv(c->sock, c->buf, BUF_SIZE, 0);
        /* [step 8] get the result
         * a byte count, 0 for the peer's FIN, or SOCKET_ERROR */
        if (n == 0)
            return 1;   /* FIN; the buffer was empty, so nothing is owed */
        if (n == SOCKET_ERROR)
            return WSAGetLastError() == WSAEWOULDBLOCK ? 0 : report("recv");
        c->len = n;
        c->sent = 0;
    }
    return send_pending(c);
}

/* [step 9] use the data
 * send it back. On a non-blocking socket send() takes what fits in the
 * socket's send buffer, perhaps less than asked, and fails with
 * WSAEWOULDBLOCK when nothing fits: the rest stays in buf (step 5) */
static int send_pending(conn *c)
{
    while (c->sent < c->len) {
        int n = send(c->sock, c->buf + c->sent, c->len - c->sent, 0);
        if (n == SOCKET_ERROR)
            return WSAGetLastError() == WSAEWOULDBLOCK ? 0 : report("send");
        c->sent += n;
    }
    return 0;
}

/* [step 10] receive again
 * every round rebuilds the sets, so a client is in the read set again as
 * soon as its buffer is sent */
static void worker_main(SOCKET listener)
{
    while (wait_round(listener) == 0)
        continue;
}

/* [step 11] close a connection
 * after the peer's FIN, or an error; the slot is free for the next */
static void conn_close(conn *c)
{
    if (closesocket(c->sock) == SOCKET_ERROR)
        report("closesocket");
    c->sock = INVALID_SOCKET;
}
