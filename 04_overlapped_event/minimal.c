/* 04_overlapped_event/minimal.c - overlapped I/O with event notification,
 * the model alone: one thread, at most 31 clients, raw echo.
 *
 * One WSAWaitForMultipleEvents covers every event. Index 0 is the
 * listener's, selected for FD_ACCEPT, so the thread that waits also
 * accepts: no second thread, no lock, no wake-up event. Then each client
 * has two, the events of its receive and of its send: 1 + 31 x 2 = 63 of
 * the 64 handles one wait takes, so a 32nd client is accepted and closed.
 * The bytes a receive brings go back with one WSASend from the same
 * buffer, and the next receive is posted when that send has completed: one
 * operation pending per client at a time, and a client's block is freed
 * only when none is. No stop machinery: Ctrl+C ends the process.
 * Usage: overlapped_event_minimal [--port N] (other arguments ignored).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <winsock2.h>

#define RECV_SIZE 4096

/* [step 1] define the state
 * per client one heap block that never moves while it is in use: its
 * socket, a WSAOVERLAPPED with its own event per operation, its buffer */
typedef struct conn {
    SOCKET sock;
    WSAOVERLAPPED recv_ov, send_ov;   /* hEvent: the operation's own event */
    DWORD len;                        /* bytes received, being sent back */
    char buf[RECV_SIZE];
} conn;

static SOCKET listener;
static WSAEVENT events[WSA_MAXIMUM_WAIT_EVENTS];   /* [0]: the listener's */
static conn *owner[WSA_MAXIMUM_WAIT_EVENTS];       /* the client of events[i] */
static DWORD count = 1;                            /* events in use */

static void post(conn *c, WSAOVERLAPPED *ov, DWORD len);
static DWORD wait_next(void);
static void serve_slot(DWORD i);
static void conn_close(conn *c);

/* When the call failed, prints its name and error number; returns failed. */
static int failed(int bad, const char *call)
{
    if (bad)
        fprintf(stderr, "%s: error %d\n", call, WSAGetLastError());
    return bad;
}

int main(int argc, char **argv)
{
    struct sockaddr_in addr;
    int len = (int)sizeof addr, i;
    unsigned short port = 5150;
    WSADATA wsa;

    for (i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--port") == 0)
            port = (unsigned short)strtoul(argv[i + 1], NULL, 10);
    /* [step 2] create the listening socket
     * on 127.0.0.1, its FD_ACCEPT notices on the event at index 0 */
    if ((i = WSAStartup(MAKEWORD(2, 2), &wsa)) != 0) {
        fprintf(stderr, "WSAStartup: error %d\n", i);
        return 1;
    }
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    if (failed((listener = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP)) == INVALID_SOCKET, "socket")
        || failed(bind(listener, (SOCKADDR *)&addr, len) == SOCKET_ERROR, "bind")
        || failed(listen(listener, SOMAXCONN) == SOCKET_ERROR, "listen")
        || failed(getsockname(listener, (SOCKADDR *)&addr, &len) == SOCKET_ERROR, "getsockname")
        || failed((events[0] = WSACreateEvent()) == WSA_INVALID_EVENT, "WSACreateEvent")
        || failed(WSAEventSelect(listener, events[0], FD_ACCEPT) == SOCKET_ERROR, "WSAEventSelect"))
        return 1;
    printf("listening on 127.0.0.1:%u\n", ntohs(addr.sin_port));
    fflush(stdout);
    for (;;)
        serve_slot(wait_next());
}

/* [step 3] accept a connection
 * one accept() per FD_ACCEPT notice (the notice comes again while more
 * connections wait); with no room for two more events, close it */
static void accept_ready(void)
{
    WSANETWORKEVENTS ne;
    SOCKET s;
    conn *c;

    /* WSAEnumNetworkEvents resets the event */
    failed(WSAEnumNetworkEvents(listener, events[0], &ne) == SOCKET_ERROR, "WSAEnumNetworkEvents");
    if (failed((s = accept(listener, NULL, NULL)) == INVALID_SOCKET, "accept"))
        return;
    if (count + 2 > WSA_MAXIMUM_WAIT_EVENTS || (c = (conn *)calloc(1, sizeof *c)) == NULL) {
        failed(closesocket(s) == SOCKET_ERROR, "closesocket");   /* full, or no memory */
        return;
    }
    /* [step 4] prepare the connection for the model
     * its block on the heap, zeroed; an event per operation, both in the
     * table at once, so that conn_close finds whatever was made */
    c->sock = s;
    owner[count] = owner[count + 1] = c;
    events[count++] = c->recv_ov.hEvent = WSACreateEvent();
    events[count++] = c->send_ov.hEvent = WSACreateEvent();
    if (failed(c->recv_ov.hEvent == WSA_INVALID_EVENT || c->send_ov.hEvent == WSA_INVALID_EVENT,
               "WSACreateEvent"))
        conn_close(c);
    else
        post(c, &c->recv_ov, RECV_SIZE);
}

/* [step 5] start receiving
 * (and sending: one function posts both) into or from the client's own
 * buffer, on the operation's WSAOVERLAPPED, zeroed but for its event.
 * Done at once or pending, the event is set when it is done, and step 8
 * reads the result. With an OVERLAPPED the byte count is NULL and the
 * flags may be on the stack: WSARecv writes them only when it completes
 * at once (Microsoft's WSARecv page). */
static void post(conn *c, WSAOVERLAPPED *ov, DWORD len)
{
    WSAEVENT ev = ov->hEvent;
    DWORD flags = 0;
    WSABUF wb;
    int rc;

    memset(ov, 0, sizeof *ov);
    ov->hEvent = ev;
    wb.buf = c->buf;
    wb.len = len;
    rc = ov == &c->recv_ov ? WSARecv(c->sock, &wb, 1, NULL, &flags, ov, NULL)
                           : WSASend(c->sock, &wb, 1, NULL, 0, ov, NULL);
    if (rc == SOCKET_ERROR && WSAGetLastError() != WSA_IO_PENDING) {
        failed(1, ov == &c->recv_ov ? "WSARecv" : "WSASend");
        conn_close(c);   /* not started: nothing is pending */
    }
}

/* [step 6] wait for something to happen
 * on every event at once. The wait reports the lowest signalled index, so
 * a zero-timeout wait from the slot after the last one served goes first:
 * every slot gets its turn. */
static DWORD wait_next(void)
{
    static DWORD next;   /* the slot after the last one served */
    DWORD rc;

    if (next >= count)
        next = 0;
    rc = WSAWaitForMultipleEvents(count - next, &events[next], FALSE, 0, FALSE);
    if (rc - WSA_WAIT_EVENT_0 < count - next)
        rc += next;
    else if (rc == WSA_WAIT_TIMEOUT)
        rc = WSAWaitForMultipleEvents(count, events, FALSE, WSA_INFINITE, FALSE);
    if (failed(rc == WSA_WAIT_FAILED, "WSAWaitForMultipleEvents"))
        exit(1);
    next = rc - WSA_WAIT_EVENT_0 + 1;
    return rc - WSA_WAIT_EVENT_0;
}

/* [step 7] find out which connection and which operation
 * index 0 is the listener; any other index names a client, and which of
 * its events it is names the operation. The event is reset before the
 * result is read. */
static void serve_slot(DWORD i)
{
    conn *c = owner[i];
    WSAOVERLAPPED *ov;
    DWORD bytes = 0, flags = 0;

    if (i == 0) {
        accept_ready();
        return;
    }
    ov = events[i] == c->recv_ov.hEvent ? &c->recv_ov : &c->send_ov;
    failed(!WSAResetEvent(events[i]), "WSAResetEvent");
    /* [step 8] get the result
     * FALSE is the operation's error, unless it is still pending; else the
     * byte count, and 0 bytes received is the client's FIN */
    if (!WSAGetOverlappedResult(c->sock, ov, &bytes, FALSE, &flags)) {
        if (WSAGetLastError() == WSA_IO_INCOMPLETE)
            return;   /* still the system's: its event will come */
        failed(1, ov == &c->recv_ov ? "WSARecv" : "WSASend");
        conn_close(c);
    } else if (ov == &c->recv_ov && bytes == 0) {
        conn_close(c);   /* all it sent was echoed: a graceful close */
    } else if (ov == &c->recv_ov) {
        /* [step 9] use the data
         * exactly the bytes received go back in one WSASend from the same
         * buffer, which nothing touches until the send has completed */
        c->len = bytes;
        post(c, &c->send_ov, bytes);
    } else if (bytes == c->len) {
        /* [step 10] receive again
         * once the echo is out, the buffer is free again */
        post(c, &c->recv_ov, RECV_SIZE);
    } else {
        /* An overlapped send completes when the transport has taken all of
         * it: fewer bytes is an error path (Microsoft's WSASend page). */
        fprintf(stderr, "WSASend: short, %lu of %lu bytes\n", bytes, c->len);
        conn_close(c);
    }
}

/* [step 11] close a connection
 * only when none of its operations is pending (the only one completed, or
 * failed to start): the socket, then its events, out of the table (the
 * last entry fills each hole: only handles and pointers move), then the
 * block */
static void conn_close(conn *c)
{
    DWORD i;

    failed(closesocket(c->sock) == SOCKET_ERROR, "closesocket");
    for (i = count; i-- > 1;)
        if (owner[i] == c) {
            failed(events[i] != WSA_INVALID_EVENT && !WSACloseEvent(events[i]), "WSACloseEvent");
            events[i] = events[--count];
            owner[i] = owner[count];
        }
    free(c);
}

/* [step 12] stop the server
 * none here: Ctrl+C ends the process, and the system closes what it held */
