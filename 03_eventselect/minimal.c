/* 03_eventselect/minimal.c - WSAEventSelect alone: one thread, one wait.
 *
 * Article:
 * none; docs/03_eventselect.md reads this file first, then server.c.
 *
 * How it works:
 * every socket gets an event object, and WSAEventSelect asks Winsock to
 * set it on FD_ACCEPT (the listening socket) or on FD_READ, FD_WRITE and
 * FD_CLOSE (a client). One thread sleeps in one WSAWaitForMultipleEvents
 * over all of them: the listener's event at index 0, a client's at 1 to
 * 63. WSAEnumNetworkEvents says what happened; non-blocking recv() and
 * send() echo the bytes back (so the client's ECHO frames come back as
 * they were sent).
 *
 * What changes from the previous model:
 * (02_select) no sets rebuilt before every wait: Winsock records a notice
 * per socket and sets its event. A notice is recorded once, then not
 * again until the call that re-enables it: recv for FD_READ and accept
 * for FD_ACCEPT (recorded again at once while bytes or connections
 * wait), a send that failed with WSAEWOULDBLOCK for FD_WRITE; FD_CLOSE
 * comes once.
 *
 * Limits:
 * one wait takes at most WSA_MAXIMUM_WAIT_EVENTS (64) handles, so at most
 * 63 clients; a 64th connection is accepted and closed at once. No stop:
 * Ctrl+C ends the process. Usage:
 * eventselect_minimal [--port N]   (default 5150; 0 picks a free port)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <winsock2.h>

#define BUF_SIZE 4096   /* one recv, echoed before the next recv */

/* [step 1] define the state
 * one connection: its socket, what it still has to send, and the notices
 * it has not answered yet; conns[i] owns events[i], i >= 1 */
typedef struct conn {
    SOCKET sock;
    int readable;      /* an FD_READ or FD_CLOSE not yet answered by a recv */
    int peer_closed;   /* FD_CLOSE seen: read until recv returns 0 */
    int len, sent;     /* pending output: buf[sent..len) */
    char buf[BUF_SIZE];
} conn;

static SOCKET listener;
static WSAEVENT events[WSA_MAXIMUM_WAIT_EVENTS];   /* [0]: the listener's */
static conn conns[WSA_MAXIMUM_WAIT_EVENTS];        /* [1] to [63]: clients */
static DWORD count = 1;                            /* events in use */

static int main_loop(void);
static void conn_close(DWORD i);

/* Prints the call that failed and its error number; 1 for main. */
static int report(const char *call, int err)
{
    fprintf(stderr, "%s: error %d\n", call, err);
    return 1;
}

int main(int argc, char **argv)
{
    WSADATA wsa;
    struct sockaddr_in sa = { 0 };
    int i, err, len = (int)sizeof sa;
    u_short port = 5150;

    for (i = 1; i + 1 < argc; i++)   /* --port N; any other argument is ignored */
        if (strcmp(argv[i], "--port") == 0)
            port = (u_short)strtoul(argv[++i], NULL, 10);
    if ((err = WSAStartup(MAKEWORD(2, 2), &wsa)) != 0)
        return report("WSAStartup", err);   /* it returns its error */
    /* [step 2] create the listening socket
     * socket, bind to 127.0.0.1:port, listen; its event, for FD_ACCEPT,
     * is index 0 of the wait; then the first line */
    listener = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    if (listener == INVALID_SOCKET)
        return report("socket", WSAGetLastError());
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons(port);
    if (bind(listener, (struct sockaddr *)&sa, (int)sizeof sa) == SOCKET_ERROR)
        return report("bind", WSAGetLastError());
    if (listen(listener, SOMAXCONN) == SOCKET_ERROR)
        return report("listen", WSAGetLastError());
    if (getsockname(listener, (struct sockaddr *)&sa, &len) == SOCKET_ERROR)
        return report("getsockname", WSAGetLastError());
    events[0] = WSACreateEvent();
    if (events[0] == WSA_INVALID_EVENT
        || WSAEventSelect(listener, events[0], FD_ACCEPT) == SOCKET_ERROR)
        return report("WSACreateEvent or WSAEventSelect", WSAGetLastError());
    printf("listening on 127.0.0.1:%u\n", (unsigned)ntohs(sa.sin_port));
    fflush(stdout);
    return main_loop();
}

/* [step 3] accept a connection
 * one accept() per FD_ACCEPT: accept() re-enables FD_ACCEPT, which is
 * recorded again at once while more connections wait */
static void accept_ready(void)
{
    WSANETWORKEVENTS ne;
    SOCKET s;

    if (WSAEnumNetworkEvents(listener, events[0], &ne) == SOCKET_ERROR)
        exit(report("WSAEnumNetworkEvents (listener)", WSAGetLastError()));
    /* FD_ACCEPT's one error, WSAENETDOWN, makes accept() fail too */
    s = accept(listener, NULL, NULL);   /* non-blocking, like the listener */
    if (s == INVALID_SOCKET) {
        if (WSAGetLastError() != WSAEWOULDBLOCK)   /* e.g. reset while queued */
            report("accept", WSAGetLastError());
        return;
    }
    /* [step 4] prepare the connection for the model
     * the next free slot, while the wait has room: 63 clients at most */
    if (count == WSA_MAXIMUM_WAIT_EVENTS) {
        if (closesocket(s) == SOCKET_ERROR)   /* no room in the wait */
            report("closesocket", WSAGetLastError());
        return;
    }
    conns[count] = (conn){ .sock = s };   /* nothing to send, no notice yet */
    /* [step 5] start receiving
     * an event of its own, with FD_READ, FD_WRITE and FD_CLOSE selected
     * (this replaces the FD_ACCEPT inherited from the listener) */
    events[count++] = WSACreateEvent();
    if (events[count - 1] == WSA_INVALID_EVENT
        || WSAEventSelect(s, events[count - 1], FD_READ | FD_WRITE | FD_CLOSE) == SOCKET_ERROR) {
        report("WSACreateEvent or WSAEventSelect", WSAGetLastError());
        conn_close(count - 1);
    }
}

/* [step 6] wait for something to happen
 * one wait over the listener's event and the events of up to 63 clients
 * (64 handles at most); it returns the lowest signalled index */
static int serve_conn(DWORD i);

/* The first index from `from` on whose event is set, or count: a wait
 * with timeout 0 over the rest of the array. */
static DWORD next_signalled(DWORD from)
{
    DWORD rc = from < count ? WSAWaitForMultipleEvents(count - from, &events[from], FALSE, 0, FALSE)
                            : WSA_WAIT_TIMEOUT;
    if (rc == WSA_WAIT_FAILED)
        report("WSAWaitForMultipleEvents (poll)", WSAGetLastError());
    return rc - WSA_WAIT_EVENT_0 < count - from ? from + (rc - WSA_WAIT_EVENT_0) : count;
}

static int main_loop(void)
{
    for (;;) {
        DWORD i = WSAWaitForMultipleEvents(count, events, FALSE, WSA_INFINITE, FALSE);
        if (i == WSA_WAIT_FAILED)
            return report("WSAWaitForMultipleEvents", WSAGetLastError());
        /* [step 7] find out which connection and which operation
         * the index is the slot. Every event signalled from the lowest
         * index on is served before the next wait: serving only the
         * lowest would starve the slots after a busy one. */
        for (i -= WSA_WAIT_EVENT_0; i < count; i = next_signalled(i + 1)) {
            if (i == 0)
                accept_ready();
            else if (serve_conn(i) != 0)
                conn_close(i--);   /* the last client moved into slot i: look at it too */
        }
    }
}

/* WSAEnumNetworkEvents reports the notices recorded since the last call,
 * each with its error code, and resets the event. Then the pending output,
 * until it is gone or the socket is full (a send that fails with
 * WSAEWOULDBLOCK re-enables FD_WRITE), and one recv when a notice asks for
 * it. Nonzero: close the connection. */
static int serve_conn(DWORD i)
{
    WSANETWORKEVENTS ne;
    conn *c = &conns[i];
    int n;

    if (WSAEnumNetworkEvents(c->sock, events[i], &ne) == SOCKET_ERROR)
        return report("WSAEnumNetworkEvents", WSAGetLastError());
    for (n = FD_READ_BIT; n <= FD_CLOSE_BIT; n++)   /* a reset, a failure */
        if ((ne.lNetworkEvents & (1L << n)) && ne.iErrorCode[n] != 0)
            return report(n == FD_CLOSE_BIT ? "FD_CLOSE" : "FD_READ or FD_WRITE", ne.iErrorCode[n]);
    if (ne.lNetworkEvents & (FD_READ | FD_CLOSE))
        c->readable = 1;
    if (ne.lNetworkEvents & FD_CLOSE)
        c->peer_closed = 1;   /* bytes may still wait before the end */
    for (;;) {
        while (c->sent < c->len) {
            n = send(c->sock, c->buf + c->sent, c->len - c->sent, 0);
            if (n == SOCKET_ERROR && WSAGetLastError() == WSAEWOULDBLOCK)
                return 0;   /* FD_WRITE comes when there is room; `readable` waits */
            if (n == SOCKET_ERROR)
                return report("send", WSAGetLastError());
            c->sent += n;
        }
        if (!c->readable)
            return 0;
        n = recv(c->sock, c->buf, BUF_SIZE, 0);
        /* [step 8] get the result
         * a byte count, 0 for the peer's FIN, or SOCKET_ERROR */
        if (n == SOCKET_ERROR && WSAGetLastError() == WSAEWOULDBLOCK) {
            c->readable = 0;   /* nothing there after all; FD_READ is re-enabled */
            return 0;
        }
        if (n == SOCKET_ERROR)
            return report("recv", WSAGetLastError());
        if (n == 0)
            return 1;   /* FIN, and everything received went back */
        /* [step 9] use the data
         * exactly the n bytes received become the output: an echo */
        c->len = n;
        c->sent = 0;
        /* [step 10] receive again
         * the recv re-enabled FD_READ: Winsock records it again at once if
         * bytes remain. After FD_CLOSE nothing more is promised, so the
         * connection stays readable until recv returns 0. */
        c->readable = c->peer_closed;
    }
}

/* [step 11] close a connection
 * closesocket ends the selection; the last slot moves into the hole,
 * event and connection together */
static void conn_close(DWORD i)
{
    if (closesocket(conns[i].sock) == SOCKET_ERROR)
        report("closesocket", WSAGetLastError());
    if (events[i] != WSA_INVALID_EVENT && !WSACloseEvent(events[i]))
        report("WSACloseEvent", WSAGetLastError());
    events[i] = events[--count];
    conns[i] = conns[count];
}
