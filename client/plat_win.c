/* plat_win.c - plat.h for Windows: Winsock 2 sockets, WSAPoll, the
 * performance counter. The child process part is in plat_win_child.c.
 *
 * Every Winsock result is compared with its documented failure value
 * (SOCKET_ERROR, INVALID_SOCKET) and the reason read with WSAGetLastError;
 * error names come from common/errname.h (part of wsm_proto).
 */
#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0601   /* WSAPoll and inet_ntop need Vista or later */
#endif
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>

#include <fcntl.h>
#include <io.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errname.h"
#include "plat.h"

int plat_net_start(int *err)
{
    WSADATA wsa;
    int rc = WSAStartup(MAKEWORD(2, 2), &wsa);

    if (rc != 0) {   /* WSAStartup returns the error; there is no last error yet */
        *err = rc;
        return -1;
    }
    return 0;
}

void plat_net_stop(void)
{
    WSACleanup();
}

/* Writes "host:port" (IPv6 in brackets) for a resolved address. */
static void addr_to_text(plat_addr *a)
{
    char host[64];
    char port[16];
    const struct sockaddr *sa = (const struct sockaddr *)a->storage;

    if (getnameinfo(sa, a->len, host, sizeof host, port, sizeof port,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        snprintf(a->text, sizeof a->text, "(address)");
        return;
    }
    if (sa->sa_family == AF_INET6)
        snprintf(a->text, sizeof a->text, "[%s]:%s", host, port);
    else
        snprintf(a->text, sizeof a->text, "%s:%s", host, port);
}

int plat_resolve(const char *host, unsigned port, plat_addr *out,
                 char *why, size_t why_cap)
{
    struct addrinfo hints;
    struct addrinfo *res = NULL;
    char port_text[16];
    int rc;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    snprintf(port_text, sizeof port_text, "%u", port);
    rc = getaddrinfo(host, port_text, &hints, &res);
    if (rc != 0) {
        plat_err_format(why, why_cap, "getaddrinfo", host, rc);
        return -1;
    }
    memset(out, 0, sizeof *out);
    if (res->ai_addrlen > sizeof out->storage) {
        freeaddrinfo(res);
        snprintf(why, why_cap, "getaddrinfo %s: address too long", host);
        return -1;
    }
    memcpy(out->storage, res->ai_addr, res->ai_addrlen);
    out->len = (int)res->ai_addrlen;
    freeaddrinfo(res);
    addr_to_text(out);
    return 0;
}

int plat_tcp_socket(const plat_addr *addr, plat_sock *out, int *err)
{
    const struct sockaddr *sa = (const struct sockaddr *)addr->storage;
    u_long on = 1;
    SOCKET s = socket(sa->sa_family, SOCK_STREAM, IPPROTO_TCP);

    if (s == INVALID_SOCKET) {
        *err = WSAGetLastError();
        return -1;
    }
    /* Non-blocking, so that every wait has a deadline (WSAPoll). */
    if (ioctlsocket(s, FIONBIO, &on) == SOCKET_ERROR) {
        *err = WSAGetLastError();
        closesocket(s);
        return -1;
    }
    *out = (plat_sock)s;
    return 0;
}

int plat_connect_start(plat_sock s, const plat_addr *addr, int *err)
{
    if (connect((SOCKET)s, (const struct sockaddr *)addr->storage, addr->len) == SOCKET_ERROR) {
        *err = WSAGetLastError();
        return *err == WSAEWOULDBLOCK ? 1 : -1;
    }
    return 0;
}

int plat_connect_result(plat_sock s, int *err)
{
    int so_error = 0;
    int len = (int)sizeof so_error;

    if (getsockopt((SOCKET)s, SOL_SOCKET, SO_ERROR, (char *)&so_error, &len) == SOCKET_ERROR) {
        *err = WSAGetLastError();
        return -1;
    }
    if (so_error != 0) {
        *err = so_error;
        return -1;
    }
    return 0;
}

long plat_send(plat_sock s, const void *buf, size_t len, int *err)
{
    /* send() takes an int; larger buffers go out over several calls. */
    int n = len > 0x40000000u ? 0x40000000 : (int)len;
    int rc = send((SOCKET)s, (const char *)buf, n, 0);

    if (rc == SOCKET_ERROR) {
        *err = WSAGetLastError();
        return *err == WSAEWOULDBLOCK ? PLAT_WOULDBLOCK : PLAT_ERROR;
    }
    return rc;
}

long plat_recv(plat_sock s, void *buf, size_t len, int *err)
{
    int n = len > 0x40000000u ? 0x40000000 : (int)len;
    int rc = recv((SOCKET)s, (char *)buf, n, 0);

    if (rc == SOCKET_ERROR) {
        *err = WSAGetLastError();
        return *err == WSAEWOULDBLOCK ? PLAT_WOULDBLOCK : PLAT_ERROR;
    }
    return rc;
}

int plat_shutdown_send(plat_sock s, int *err)
{
    if (shutdown((SOCKET)s, SD_SEND) == SOCKET_ERROR) {
        *err = WSAGetLastError();
        return -1;
    }
    return 0;
}

int plat_set_nodelay(plat_sock s, int *err)
{
    BOOL on = TRUE;

    if (setsockopt((SOCKET)s, IPPROTO_TCP, TCP_NODELAY, (const char *)&on,
                   (int)sizeof on) == SOCKET_ERROR) {
        *err = WSAGetLastError();
        return -1;
    }
    return 0;
}

int plat_set_abortive(plat_sock s, int *err)
{
    struct linger lg;

    lg.l_onoff = 1;
    lg.l_linger = 0;
    if (setsockopt((SOCKET)s, SOL_SOCKET, SO_LINGER, (const char *)&lg,
                   (int)sizeof lg) == SOCKET_ERROR) {
        *err = WSAGetLastError();
        return -1;
    }
    return 0;
}

void plat_close(plat_sock s)
{
    if (s != PLAT_NO_SOCK)
        closesocket((SOCKET)s);
}

int plat_err_is_reset(int err)
{
    return err == WSAECONNRESET || err == WSAECONNABORTED || err == WSAENETRESET;
}

const char *plat_err_name(int err)
{
    return err_name(err);
}

/* The system's own text for errors the shared table does not know (the
 * Win32 errors of CreateProcess and friends), without its line end. */
static void system_text(int err, char *buf, size_t cap)
{
    DWORD n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS,
                             NULL, (DWORD)err, 0, buf, (DWORD)cap, NULL);

    while (n > 0 && (buf[n - 1] == '\r' || buf[n - 1] == '\n' || buf[n - 1] == ' '
                     || buf[n - 1] == '.'))
        n--;
    buf[n] = '\0';
}

void plat_err_format(char *buf, size_t cap, const char *call, const char *what,
                     int err)
{
    const char *name = err_name(err);
    const char *sep = (what != NULL && what[0] != '\0') ? " " : "";
    char text[160];

    if (what == NULL)
        what = "";
    if (strcmp(name, "error") != 0) {
        snprintf(buf, cap, "%s%s%s: %s (%d) %s", call, sep, what, name, err, err_text(err));
        return;
    }
    system_text(err, text, sizeof text);
    snprintf(buf, cap, "%s%s%s: error %d%s%s", call, sep, what, err, text[0] ? " " : "", text);
}

struct plat_pollset {
    WSAPOLLFD *fds;
    size_t cap;
};

plat_pollset *plat_pollset_new(size_t cap)
{
    plat_pollset *ps = (plat_pollset *)calloc(1, sizeof *ps);

    if (ps == NULL)
        return NULL;
    ps->fds = (WSAPOLLFD *)calloc(cap > 0 ? cap : 1, sizeof *ps->fds);
    if (ps->fds == NULL) {
        free(ps);
        return NULL;
    }
    ps->cap = cap;
    return ps;
}

void plat_pollset_free(plat_pollset *ps)
{
    if (ps == NULL)
        return;
    free(ps->fds);
    free(ps);
}

void plat_pollset_set(plat_pollset *ps, size_t i, plat_sock s, int events)
{
    WSAPOLLFD *p = &ps->fds[i];

    /* POLLRDNORM/POLLWRNORM only: some Windows versions reject POLLPRI
     * and POLLRDBAND in events with WSAEINVAL. */
    p->fd = (SOCKET)s;
    p->events = (SHORT)(((events & PLAT_IN) ? POLLRDNORM : 0)
                        | ((events & PLAT_OUT) ? POLLWRNORM : 0));
    p->revents = 0;
}

int plat_pollset_wait(plat_pollset *ps, size_t n, int timeout_ms, int *err)
{
    int rc;

    if (n == 0) {   /* WSAPoll rejects an empty set; just wait */
        Sleep((DWORD)(timeout_ms > 0 ? timeout_ms : 0));
        return 0;
    }
    rc = WSAPoll(ps->fds, (ULONG)n, timeout_ms);
    if (rc == SOCKET_ERROR) {
        *err = WSAGetLastError();
        return -1;
    }
    return rc;
}

int plat_pollset_revents(const plat_pollset *ps, size_t i)
{
    SHORT r = ps->fds[i].revents;
    int out = 0;

    if (r & (POLLRDNORM | POLLRDBAND))
        out |= PLAT_IN;
    if (r & POLLWRNORM)
        out |= PLAT_OUT;
    if (r & (POLLERR | POLLNVAL))
        out |= PLAT_ERR;
    if (r & POLLHUP)
        out |= PLAT_HUP;
    return out;
}

uint64_t plat_now_ms(void)
{
    return (uint64_t)GetTickCount64();
}

uint64_t plat_now_us(void)
{
    static LARGE_INTEGER freq;
    LARGE_INTEGER now;
    uint64_t c, f;

    if (freq.QuadPart == 0)
        QueryPerformanceFrequency(&freq);
    QueryPerformanceCounter(&now);
    c = (uint64_t)now.QuadPart;
    f = (uint64_t)freq.QuadPart;
    /* Split the division so that c * 1000000 cannot overflow. */
    return (c / f) * 1000000u + (c % f) * 1000000u / f;
}

void plat_sleep_ms(unsigned ms)
{
    Sleep(ms);
}

unsigned long plat_pid(void)
{
    return (unsigned long)GetCurrentProcessId();
}

int plat_stderr_is_tty(void)
{
    return _isatty(_fileno(stderr)) != 0;
}

void plat_stdout_binary(void)
{
    fflush(stdout);
    _setmode(_fileno(stdout), _O_BINARY);
}
