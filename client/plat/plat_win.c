/* plat_win.c - plat.h for Windows: Winsock 2 sockets, WSAPoll, the
 * performance counter. The child process part is in plat_win_child.c;
 * the socket calls BSD sockets share are in plat_sock.c.
 *
 * Every Winsock result is compared with its documented failure value
 * (SOCKET_ERROR, INVALID_SOCKET) and the reason read with WSAGetLastError;
 * error names come from common/errname.h (part of wsm_proto).
 */
#include "plat_sys.h"

#include <fcntl.h>
#include <io.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errname.h"

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

/* getaddrinfo's failures are ordinary Winsock errors (WSAHOST_NOT_FOUND). */
void plat_sys_gai_error(char *why, size_t why_cap, const char *host, int rc)
{
    plat_err_format(why, why_cap, "getaddrinfo", host, rc);
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
