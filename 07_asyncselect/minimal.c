/* 07_asyncselect/minimal.c - WSAAsyncSelect alone: one thread, one window.
 *
 * Article:
 * none; docs/07_asyncselect.md reads this file first, then server.c.
 *
 * How it works:
 * one thread makes a message-only window (HWND_MESSAGE: never shown) and
 * runs its message loop. WSAAsyncSelect asks Winsock to post a message to
 * that window on FD_ACCEPT (the listening socket) or on FD_READ, FD_WRITE
 * and FD_CLOSE (a client): wParam is the socket, lParam the event and its
 * error. Each client has a message number of its own, which finds it.
 * Non-blocking recv() and send() echo the bytes back (so the client's ECHO
 * frames come back as they were sent).
 *
 * What changes from the previous model:
 * (03_eventselect) the same notices and re-enabling rules, delivered as
 * window messages instead of event objects: no 64-handle limit, and one
 * thread for every socket.
 *
 * Limits:
 * one thread does everything. A thread's queue holds at most 10,000
 * posted messages on Windows (Microsoft's PostMessage page) and a client
 * has up to three notices queued, so at most MAX_CLIENTS (3000) clients;
 * one more is accepted and closed at once. No stop: Ctrl+C ends the
 * process. Usage: asyncselect_minimal [--port N]   (default 5150; 0 picks
 * a free port)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <winsock2.h>

#define BUF_SIZE 4096               /* one recv, echoed before the next recv */
#define MAX_CLIENTS 3000            /* three notices each, within the queue's 10,000 */
#define MSG_ACCEPT (WM_APP + 0)     /* FD_ACCEPT on the listening socket */
#define MSG_FIRST (WM_APP + 1)      /* a client's notices: MSG_FIRST + its number */
#define MSG_COUNT 4096              /* client numbers, taken in turn */

/* [step 1] define the state
 * one connection: its socket, its message number, what it still has to
 * send, and the notices it has not answered yet; by_msg finds it */
typedef struct conn {
    SOCKET sock;
    unsigned msg;      /* its notices come as MSG_FIRST + msg */
    int readable;      /* an FD_READ or FD_CLOSE not yet answered by a recv */
    int peer_closed;   /* FD_CLOSE seen: read until recv returns 0 */
    int len, sent;     /* pending output: buf[sent..len) */
    char buf[BUF_SIZE];
} conn;

static SOCKET listener;
static HWND window;                 /* message-only: every notice comes here */
static conn *by_msg[MSG_COUNT];     /* a client by its message number */
static unsigned next_msg;           /* the next number to try, modulo MSG_COUNT */
static int live;                    /* clients open */

static int main_loop(void);
static void conn_close(conn *c);
static int serve_conn(conn *c, int event, int err);

/* Prints the call that failed and its error number; 1 for main. */
static int report(const char *call, int err)
{
    fprintf(stderr, "%s: error %d\n", call, err);
    return 1;
}

int main(int argc, char **argv)
{
    WSADATA wsa;
    WNDCLASSW wc = { 0 };
    struct sockaddr_in sa = { 0 };
    int i, err, len = (int)sizeof sa;
    u_short port = 5150;

    for (i = 1; i + 1 < argc; i++)   /* --port N; any other argument is ignored */
        if (strcmp(argv[i], "--port") == 0)
            port = (u_short)strtoul(argv[++i], NULL, 10);
    if ((err = WSAStartup(MAKEWORD(2, 2), &wsa)) != 0)
        return report("WSAStartup", err);   /* it returns its error */
    /* [step 2] create the listening socket
     * socket, bind to 127.0.0.1:port, listen; the window its notices go
     * to, FD_ACCEPT selected; then the first line */
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
    wc.lpfnWndProc = DefWindowProcW;   /* the loop serves the notices itself */
    wc.hInstance = GetModuleHandleW(NULL);
    wc.lpszClassName = L"asyncselect_minimal";
    if (RegisterClassW(&wc) == 0
        || (window = CreateWindowExW(0, wc.lpszClassName, L"", 0, 0, 0, 0, 0, HWND_MESSAGE,
                                     NULL, wc.hInstance, NULL)) == NULL)
        return report("RegisterClass or CreateWindowEx", (int)GetLastError());
    if (WSAAsyncSelect(listener, window, MSG_ACCEPT, FD_ACCEPT) == SOCKET_ERROR)
        return report("WSAAsyncSelect (listener)", WSAGetLastError());
    printf("listening on 127.0.0.1:%u\n", (unsigned)ntohs(sa.sin_port));
    fflush(stdout);
    return main_loop();
}

/* [step 3] accept a connection
 * one accept() per FD_ACCEPT: accept() re-enables FD_ACCEPT, which is
 * posted again at once while more connections wait */
static void accept_ready(void)
{
    SOCKET s = accept(listener, NULL, NULL);   /* non-blocking, like the listener */
    conn *c;

    if (s == INVALID_SOCKET) {
        if (WSAGetLastError() != WSAEWOULDBLOCK)   /* e.g. reset while queued */
            report("accept", WSAGetLastError());
        return;
    }
    /* [step 4] prepare the connection for the model
     * its state and the next free message number in turn: a number comes
     * back only after over MSG_COUNT - MAX_CLIENTS accepts, long after the
     * notices of its last holder left the queue */
    c = live < MAX_CLIENTS ? calloc(1, sizeof *c) : NULL;
    if (c == NULL) {
        if (closesocket(s) == SOCKET_ERROR)   /* full, or out of memory */
            report("closesocket", WSAGetLastError());
        return;
    }
    while (by_msg[next_msg % MSG_COUNT] != NULL)
        next_msg++;
    c->sock = s;
    c->msg = next_msg++ % MSG_COUNT;
    by_msg[c->msg] = c;
    live++;
    /* [step 5] start receiving
     * FD_READ, FD_WRITE and FD_CLOSE posted to the window under the
     * client's number (this replaces the FD_ACCEPT inherited from the
     * listener); then one recv at once: Wine 8 posts no notice for a reset
     * that came before this call */
    if (WSAAsyncSelect(s, window, MSG_FIRST + c->msg, FD_READ | FD_WRITE | FD_CLOSE) == SOCKET_ERROR
            ? report("WSAAsyncSelect", WSAGetLastError())   /* 1: close */
            : serve_conn(c, FD_READ, 0) != 0)
        conn_close(c);
}

/* [step 6] wait for something to happen
 * GetMessage sleeps until a message is posted to the thread's queue;
 * the messages come one at a time, in the order they were posted */
static int main_loop(void)
{
    MSG m;
    BOOL rc;

    while ((rc = GetMessageW(&m, NULL, 0, 0)) > 0) {
        /* [step 7] find out which connection and which operation
         * the message number says whose notice it is, lParam which event
         * and its error. A notice posted before its socket was closed
         * finds no client, or one with another socket: it is dropped. */
        UINT k = m.message - MSG_FIRST;   /* a client's number, if a notice */
        conn *c = k < MSG_COUNT ? by_msg[k] : NULL;
        if (m.message == MSG_ACCEPT)
            accept_ready();
        else if (k >= MSG_COUNT)
            DispatchMessageW(&m);   /* not a notice: the window procedure's */
        else if (c != NULL && c->sock == (SOCKET)m.wParam
                 && serve_conn(c, WSAGETSELECTEVENT(m.lParam), WSAGETSELECTERROR(m.lParam)) != 0)
            conn_close(c);
    }
    return rc == -1 ? report("GetMessage", (int)GetLastError()) : 0;
}

/* One notice: its error, then the pending output, until it is gone or the
 * socket is full (a send that fails with WSAEWOULDBLOCK re-enables
 * FD_WRITE), then one recv when a notice asks for it. Nonzero: close. */
static int serve_conn(conn *c, int event, int err)
{
    int n;

    if (err != 0)   /* a reset, a failure */
        return report(event == FD_CLOSE ? "FD_CLOSE" : "FD_READ or FD_WRITE", err);
    c->readable |= event == FD_READ || event == FD_CLOSE;
    c->peer_closed |= event == FD_CLOSE;   /* bytes may still wait before the end */
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
         * the recv re-enabled FD_READ: Winsock posts it again at once if
         * bytes remain. After FD_CLOSE nothing more is promised, so the
         * connection stays readable until recv returns 0. */
        c->readable = c->peer_closed;
    }
}

/* [step 11] close a connection
 * closesocket ends the selection; notices already queued stay there and
 * find no client (step 7), so the state can go at once */
static void conn_close(conn *c)
{
    if (closesocket(c->sock) == SOCKET_ERROR)
        report("closesocket", WSAGetLastError());
    by_msg[c->msg] = NULL;
    live--;
    free(c);
}
