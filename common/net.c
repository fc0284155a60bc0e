/* net.c - Winsock chores shared by the six servers. */
#include "net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errname.h"
#include "log.h"
#include "proto.h"

void net_log_error(const char *what, int err)
{
    log_error("%s: %s (%d) %s", what, err_name(err), err, err_text(err));
}

/* The errors a peer's reset or close, or our own cancel or stop, cause. */
int net_routine_error(int err)
{
    switch (err) {
    case WSAECONNRESET:
    case WSAECONNABORTED:
    case WSAENETRESET:
    case WSAESHUTDOWN:
    case WSAEINTR:                /* a blocking call cancelled: only our own stop */
    case WSAENOTCONN:
    case WSA_OPERATION_ABORTED:   /* ERROR_OPERATION_ABORTED */
    case ERROR_NETNAME_DELETED:   /* a reset, as a completion reports it */
    case ERROR_CONNECTION_ABORTED:
    case ERROR_UNEXP_NET_ERR:     /* AcceptEx: a peer gone before its accept */
    case 676L:                    /* ERROR_HANDLES_CLOSED: not in every SDK's winerror.h */
        return 1;
    default:
        return 0;
    }
}

void net_log_io_error(const char *what, int err)
{
    if (!net_routine_error(err) || log_enabled(LOG_VERBOSE))
        net_log_error(what, err);
}

int net_startup(void)
{
    WSADATA data;
    int err = WSAStartup(MAKEWORD(2, 2), &data);

    if (err != 0) {
        net_log_error("WSAStartup", err);   /* WSAStartup returns the error itself */
        return -1;
    }
    return 0;
}

void net_cleanup(void)
{
    if (WSACleanup() == SOCKET_ERROR)
        net_log_error("WSACleanup", WSAGetLastError());
}

int net_parse_addr(const char *text, unsigned short port, struct sockaddr_in *out)
{
    memset(out, 0, sizeof *out);
    out->sin_family = AF_INET;
    out->sin_port = htons(port);
    return inet_pton(AF_INET, text, &out->sin_addr) == 1 ? 0 : -1;
}

/* Logs the failure of `call` on bind_addr:port and closes s. */
static SOCKET listen_failed(stats *st, SOCKET s, const char *call,
                            const char *bind_addr, unsigned short port)
{
    char what[96];
    int err = WSAGetLastError();

    snprintf(what, sizeof what, "%s %s:%u", call, bind_addr, (unsigned)port);
    net_log_error(what, err);
    if (s != INVALID_SOCKET)
        net_close(st, s);
    return INVALID_SOCKET;
}

SOCKET net_listen(stats *st, const char *bind_addr, unsigned short port,
                  char *address, size_t address_size)
{
    struct sockaddr_in sa;
    int len = (int)sizeof sa;
    BOOL exclusive = TRUE;
    SOCKET s;

    if (net_parse_addr(bind_addr, port, &sa) != 0) {
        log_error("inet_pton %s: not an IPv4 address", bind_addr);
        return INVALID_SOCKET;
    }
    s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    if (s == INVALID_SOCKET)
        return listen_failed(st, s, "socket", bind_addr, port);
    stats_opened(st, RES_SOCKET);
    /* Without it another process could bind the same port and steal
     * connections (Windows' SO_REUSEADDR semantics). */
    if (setsockopt(s, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, (const char *)&exclusive,
                   sizeof exclusive) == SOCKET_ERROR)
        return listen_failed(st, s, "setsockopt SO_EXCLUSIVEADDRUSE", bind_addr, port);
    if (bind(s, (struct sockaddr *)&sa, sizeof sa) == SOCKET_ERROR)
        return listen_failed(st, s, "bind", bind_addr, port);
    if (listen(s, SOMAXCONN) == SOCKET_ERROR)
        return listen_failed(st, s, "listen", bind_addr, port);
    if (getsockname(s, (struct sockaddr *)&sa, &len) == SOCKET_ERROR)
        return listen_failed(st, s, "getsockname", bind_addr, port);
    snprintf(address, address_size, "%s:%u", bind_addr, (unsigned)ntohs(sa.sin_port));
    return s;
}

void net_accepted(stats *st)
{
    stats_opened(st, RES_SOCKET);
}

void net_close(stats *st, SOCKET s)
{
    if (closesocket(s) == SOCKET_ERROR)
        net_log_error("closesocket", WSAGetLastError());
    stats_closed(st, RES_SOCKET);
}

void net_abort(stats *st, SOCKET s)
{
    struct linger lg;

    lg.l_onoff = 1;
    lg.l_linger = 0;   /* linger 0: closesocket sends RST and drops unsent data */
    if (setsockopt(s, SOL_SOCKET, SO_LINGER, (const char *)&lg, sizeof lg) == SOCKET_ERROR)
        net_log_error("setsockopt SO_LINGER", WSAGetLastError());
    net_close(st, s);
}

/* Reads and drops what a refused peer already sent, without waiting:
 * closing with unread input sends a reset, which can destroy the ERROR
 * frame before the peer reads it. */
static void drop_pending_input(SOCKET s)
{
    char buf[1024];
    u_long on = 1;
    int rounds = 16;   /* bounded: a refusal must never hold the accept loop */

    if (ioctlsocket(s, FIONBIO, &on) == SOCKET_ERROR)
        return;
    while (rounds-- > 0 && recv(s, buf, (int)sizeof buf, 0) > 0)
        ;
}

void net_refuse(stats *st, SOCKET s)
{
    static const char reason[] = "server full";
    unsigned char frame[PROTO_HEADER_SIZE + sizeof reason];
    int len = (int)proto_frame_encode(PROTO_ERROR, reason, (uint32_t)(sizeof reason - 1), frame);

    counter_add(&st->connections_refused, 1);
    drop_pending_input(s);
    /* A fresh socket's send buffer is empty, so this small send completes
     * at once even on a non-blocking socket. */
    if (send(s, (const char *)frame, len, 0) == SOCKET_ERROR)
        net_log_error("send (refusal)", WSAGetLastError());
    if (shutdown(s, SD_SEND) == SOCKET_ERROR)
        net_log_error("shutdown (refusal)", WSAGetLastError());
    net_close(st, s);
}

int net_set_nonblocking(SOCKET s)
{
    u_long on = 1;

    if (ioctlsocket(s, FIONBIO, &on) == SOCKET_ERROR) {
        net_log_error("ioctlsocket FIONBIO", WSAGetLastError());
        return -1;
    }
    return 0;
}

DWORD net_output(const session *sess, WSABUF bufs[NET_SEND_BUFS])
{
    session_iov iov[NET_SEND_BUFS];
    size_t n = session_output(sess, iov, NET_SEND_BUFS), i;

    for (i = 0; i < n; i++) {
        bufs[i].buf = (char *)iov[i].base;
        bufs[i].len = (ULONG)iov[i].len;
    }
    return (DWORD)n;
}

enum net_send_result net_send_ready(SOCKET s, session *sess)
{
    WSABUF bufs[NET_SEND_BUFS];
    DWORD n, sent;

    while ((n = net_output(sess, bufs)) > 0) {
        if (WSASend(s, bufs, n, &sent, 0, NULL, NULL) == SOCKET_ERROR) {
            int err = WSAGetLastError();
            if (err == WSAEWOULDBLOCK)
                return NET_FULL;   /* the model learns when there is room again */
            net_log_io_error("WSASend", err);
            return NET_FAILED;
        }
        session_sent(sess, sent);
    }
    return NET_SENT;
}

int net_drain_start(SOCKET s, net_drain *d)
{
    if (shutdown(s, SD_SEND) == SOCKET_ERROR) {
        net_log_io_error("shutdown", WSAGetLastError());
        return -1;
    }
    d->deadline = GetTickCount64() + NET_LINGER_MS;
    d->dropped = 0;
    return 0;
}

int net_drain_done(net_drain *d, size_t bytes)
{
    d->dropped += bytes;
    return bytes == 0 || d->dropped >= NET_LINGER_BYTES || net_drain_expired(d, GetTickCount64());
}

int net_drain_expired(const net_drain *d, ULONGLONG now)
{
    return now >= d->deadline;
}

int net_wake_open(stats *st, net_wake *wk)
{
    int len = (int)sizeof wk->addr;

    wk->sock = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
    if (wk->sock == INVALID_SOCKET) {
        net_log_error("socket (wake-up)", WSAGetLastError());
        return -1;
    }
    stats_opened(st, RES_SOCKET);
    net_parse_addr("127.0.0.1", 0, &wk->addr);
    if (bind(wk->sock, (struct sockaddr *)&wk->addr, len) == SOCKET_ERROR
        || getsockname(wk->sock, (struct sockaddr *)&wk->addr, &len) == SOCKET_ERROR) {
        net_log_error("bind/getsockname (wake-up)", WSAGetLastError());
        net_wake_close(st, wk);
        return -1;
    }
    if (net_set_nonblocking(wk->sock) != 0) {   /* a burst of wake-ups never blocks a sender */
        net_wake_close(st, wk);
        return -1;
    }
    return 0;
}

void net_wake_send(const net_wake *wk)
{
    static const char byte = 1;

    /* WSAEWOULDBLOCK: its buffer is full of wake-ups already */
    if (sendto(wk->sock, &byte, 1, 0, (const struct sockaddr *)&wk->addr,
               (int)sizeof wk->addr) == SOCKET_ERROR
        && WSAGetLastError() != WSAEWOULDBLOCK)
        net_log_error("sendto (wake-up)", WSAGetLastError());
}

void net_wake_drain(const net_wake *wk)
{
    char buf[16];
    int i;

    for (i = 0; i < 256; i++)   /* bounded: senders may go on */
        if (recv(wk->sock, buf, (int)sizeof buf, 0) == SOCKET_ERROR)
            return;
}

void net_wake_close(stats *st, net_wake *wk)
{
    if (wk->sock == INVALID_SOCKET)
        return;
    net_close(st, wk->sock);
    wk->sock = INVALID_SOCKET;
}

int net_all_ifs(const WSAPROTOCOL_INFOW *info, int count)
{
    int i;

    for (i = 0; i < count; i++)
        if ((info[i].dwServiceFlags1 & XP1_IFS_HANDLES) == 0)
            return 0;
    return count > 0;
}

int net_tcp_providers_ifs(void)
{
    INT protocols[2] = { IPPROTO_TCP, 0 };
    WSAPROTOCOL_INFOW *info;
    DWORD size = 0;
    int n, ifs = 0;

    /* The first call only asks for the size (it fails with WSAENOBUFS). */
    if (WSAEnumProtocolsW(protocols, NULL, &size) != SOCKET_ERROR
        || WSAGetLastError() != WSAENOBUFS) {
        net_log_error("WSAEnumProtocols (size)", WSAGetLastError());
        return 0;
    }
    info = (WSAPROTOCOL_INFOW *)malloc(size);
    if (info == NULL) {
        log_error("malloc: out of memory for %lu bytes of protocol information",
                  (unsigned long)size);
        return 0;
    }
    n = WSAEnumProtocolsW(protocols, info, &size);
    if (n == SOCKET_ERROR)
        net_log_error("WSAEnumProtocols", WSAGetLastError());
    else
        ifs = net_all_ifs(info, n);
    free(info);
    return ifs;
}

void net_log_accept_peer(LPFN_GETACCEPTEXSOCKADDRS accept_addrs, void *addrs, DWORD addr_size)
{
    struct sockaddr *local, *remote;
    int local_len = 0, remote_len = 0;
    char text[INET_ADDRSTRLEN];
    struct sockaddr_in *peer;

    accept_addrs(addrs, 0, addr_size, addr_size, &local, &local_len, &remote, &remote_len);
    peer = (struct sockaddr_in *)remote;
    if (inet_ntop(AF_INET, &peer->sin_addr, text, sizeof text) != NULL)
        log_debug("connection from %s:%u", text, (unsigned)ntohs(peer->sin_port));
}

int net_extension(SOCKET s, GUID id, void *fn, size_t fn_size, const char *what)
{
    DWORD bytes = 0;

    if (WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &id, sizeof id, fn, (DWORD)fn_size,
                 &bytes, NULL, NULL) == SOCKET_ERROR) {
        net_log_error(what, WSAGetLastError());
        return -1;
    }
    return 0;
}
