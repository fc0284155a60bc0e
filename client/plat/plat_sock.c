/* plat_sock.c - the part of plat.h that Winsock and BSD sockets share:
 * resolving, connecting, socket options, closing and the poll set's
 * storage. The calls are the same on both; plat_sys.h names the few types,
 * constants and error lookups that differ, and plat_win.c / plat_posix.c
 * keep what really differs (non-blocking mode, send/recv results, polling,
 * error names and texts).
 */
#ifndef _WIN32
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plat_sys.h"

/* Writes "host:port" (IPv6 in brackets) for a resolved address. */
static void addr_to_text(plat_addr *a)
{
    char host[48];   /* INET6_ADDRSTRLEN (46), so "[host]:port" fits text */
    char port[8];
    const struct sockaddr *sa = (const struct sockaddr *)a->storage;

    if (getnameinfo(sa, (sys_socklen)a->len, host, sizeof host, port, sizeof port,
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
        plat_sys_gai_error(why, why_cap, host, rc);
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

int plat_connect_start(plat_sock s, const plat_addr *addr, int *err)
{
    if (connect((sys_sock)s, (const struct sockaddr *)addr->storage,
                (sys_socklen)addr->len) == SYS_SOCK_FAILED) {
        *err = sys_sock_error();
        return SYS_CONNECT_PENDING(*err) ? 1 : -1;
    }
    return 0;
}

int plat_connect_result(plat_sock s, int *err)
{
    int so_error = 0;
    sys_socklen len = (sys_socklen)sizeof so_error;

    if (getsockopt((sys_sock)s, SOL_SOCKET, SO_ERROR, (char *)&so_error, &len)
        == SYS_SOCK_FAILED) {
        *err = sys_sock_error();
        return -1;
    }
    if (so_error != 0) {
        *err = so_error;
        return -1;
    }
    return 0;
}

int plat_shutdown_send(plat_sock s, int *err)
{
    if (shutdown((sys_sock)s, SYS_SHUT_SEND) == SYS_SOCK_FAILED) {
        *err = sys_sock_error();
        return -1;
    }
    return 0;
}

/* Both options go through one setsockopt; Winsock wants a char pointer,
 * which POSIX's void pointer also takes. */
static int set_option(plat_sock s, int level, int name, const void *val,
                      size_t len, int *err)
{
    if (setsockopt((sys_sock)s, level, name, (const char *)val, (sys_socklen)len)
        == SYS_SOCK_FAILED) {
        *err = sys_sock_error();
        return -1;
    }
    return 0;
}

int plat_set_nodelay(plat_sock s, int *err)
{
    int on = 1;   /* a BOOL on Windows, which is an int */

    return set_option(s, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on, err);
}

int plat_set_abortive(plat_sock s, int *err)
{
    struct linger lg;

    lg.l_onoff = 1;
    lg.l_linger = 0;
    return set_option(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg, err);
}

void plat_close(plat_sock s)
{
    if (s != PLAT_NO_SOCK)
        sys_sock_close((sys_sock)s);
}

plat_pollset *plat_pollset_new(size_t cap)
{
    plat_pollset *ps = (plat_pollset *)calloc(1, sizeof *ps);

    if (ps == NULL)
        return NULL;
    ps->fds = (sys_pollfd *)calloc(cap > 0 ? cap : 1, sizeof *ps->fds);
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

/* Winsock defines POLLIN as POLLRDNORM | POLLRDBAND and POLLOUT as
 * POLLWRNORM, so the same test reads WSAPoll's and poll's results. (Only
 * the events asked for differ: see plat_pollset_set.) */
int plat_pollset_revents(const plat_pollset *ps, size_t i)
{
    short r = ps->fds[i].revents;
    int out = 0;

    if (r & POLLIN)
        out |= PLAT_IN;
    if (r & POLLOUT)
        out |= PLAT_OUT;
    if (r & (POLLERR | POLLNVAL))
        out |= PLAT_ERR;
    if (r & POLLHUP)
        out |= PLAT_HUP;
    return out;
}
