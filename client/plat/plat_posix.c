/* plat_posix.c - plat.h for POSIX systems (Linux first): BSD sockets,
 * poll(), CLOCK_MONOTONIC. The child process part is in plat_posix_child.c;
 * the socket calls Winsock shares are in plat_sock.c.
 *
 * Errors are errno values; their names come from the small table below,
 * not from common/errname.h, whose numbers are Winsock's.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "plat_sys.h"

/* Linux reports a send on a reset connection with SIGPIPE unless asked not
 * to; SIGPIPE is also ignored in plat_net_start for systems without it. */
#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

int plat_net_start(int *err)
{
    struct rlimit rl;

    /* A send to a peer that reset the connection must fail with EPIPE,
     * not kill the client. */
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
        *err = errno;
        return -1;
    }
    /* Windows has no per-process socket limit; here the soft descriptor
     * limit (often 1024) would cap --conns, so raise it to the hard one. */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);   /* best effort: the old limit still works */
    }
    return 0;
}

void plat_net_stop(void)
{
}

/* getaddrinfo's failures are EAI_ codes, not errno values: they have their
 * own text. */
void plat_sys_gai_error(char *why, size_t why_cap, const char *host, int rc)
{
    snprintf(why, why_cap, "getaddrinfo %s: %s", host, gai_strerror(rc));
}

/* Sets O_NONBLOCK and FD_CLOEXEC (the --server child must not inherit our
 * sockets: it would keep them open after we close them). */
static int sock_setup(int fd, int *err)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl == -1 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1
        || fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) {
        *err = errno;
        return -1;
    }
    return 0;
}

int plat_tcp_socket(const plat_addr *addr, plat_sock *out, int *err)
{
    const struct sockaddr *sa = (const struct sockaddr *)addr->storage;
    int fd = socket(sa->sa_family, SOCK_STREAM, IPPROTO_TCP);

    if (fd == -1) {
        *err = errno;
        return -1;
    }
    /* Non-blocking, so that every wait has a deadline (poll). */
    if (sock_setup(fd, err) != 0) {
        close(fd);
        return -1;
    }
    *out = (plat_sock)fd;
    return 0;
}

/* The result of send/recv as plat.h wants it. EINTR counts as "would
 * block": the caller polls and tries again. */
static long io_result(ssize_t rc, int *err)
{
    if (rc >= 0)
        return (long)rc;
    *err = errno;
    if (*err == EAGAIN || *err == EWOULDBLOCK || *err == EINTR)
        return PLAT_WOULDBLOCK;
    return PLAT_ERROR;
}

long plat_send(plat_sock s, const void *buf, size_t len, int *err)
{
    /* The same 1 GiB cap as Windows, so a byte count always fits a long. */
    size_t n = len > 0x40000000u ? 0x40000000u : len;

    return io_result(send((int)s, buf, n, MSG_NOSIGNAL), err);
}

long plat_recv(plat_sock s, void *buf, size_t len, int *err)
{
    size_t n = len > 0x40000000u ? 0x40000000u : len;

    return io_result(recv((int)s, buf, n, 0), err);
}

/* EPIPE too: Linux answers a send after the peer's reset with it, where
 * Winsock says WSAECONNRESET or WSAECONNABORTED. */
int plat_err_is_reset(int err)
{
    return err == ECONNRESET || err == ECONNABORTED || err == ENETRESET || err == EPIPE;
}

typedef struct errno_entry {
    int code;
    const char *name;
} errno_entry;

/* The errno values a client call can meet; the text is strerror's. */
static const errno_entry errno_table[] = {
    { EPERM, "EPERM" }, { ENOENT, "ENOENT" }, { ESRCH, "ESRCH" }, { EINTR, "EINTR" },
    { E2BIG, "E2BIG" }, { ENOEXEC, "ENOEXEC" }, { EBADF, "EBADF" }, { ECHILD, "ECHILD" },
    { EAGAIN, "EAGAIN" }, { ENOMEM, "ENOMEM" }, { EACCES, "EACCES" }, { EFAULT, "EFAULT" },
    { EINVAL, "EINVAL" }, { ENFILE, "ENFILE" }, { EMFILE, "EMFILE" }, { EPIPE, "EPIPE" },
    { ENOTSOCK, "ENOTSOCK" }, { EMSGSIZE, "EMSGSIZE" }, { ENOPROTOOPT, "ENOPROTOOPT" },
    { EOPNOTSUPP, "EOPNOTSUPP" }, { EAFNOSUPPORT, "EAFNOSUPPORT" },
    { EADDRINUSE, "EADDRINUSE" }, { EADDRNOTAVAIL, "EADDRNOTAVAIL" },
    { ENETDOWN, "ENETDOWN" }, { ENETUNREACH, "ENETUNREACH" }, { ENETRESET, "ENETRESET" },
    { ECONNABORTED, "ECONNABORTED" }, { ECONNRESET, "ECONNRESET" },
    { ENOBUFS, "ENOBUFS" }, { EISCONN, "EISCONN" }, { ENOTCONN, "ENOTCONN" },
    { ETIMEDOUT, "ETIMEDOUT" }, { ECONNREFUSED, "ECONNREFUSED" },
    { EHOSTUNREACH, "EHOSTUNREACH" }, { EALREADY, "EALREADY" },
    { EINPROGRESS, "EINPROGRESS" }
};

const char *plat_err_name(int err)
{
    size_t i;

    for (i = 0; i < sizeof errno_table / sizeof errno_table[0]; i++)
        if (errno_table[i].code == err)
            return errno_table[i].name;
    return "error";
}

void plat_err_format(char *buf, size_t cap, const char *call, const char *what,
                     int err)
{
    const char *sep = (what != NULL && what[0] != '\0') ? " " : "";

    if (what == NULL)
        what = "";
    snprintf(buf, cap, "%s%s%s: %s (%d) %s", call, sep, what, plat_err_name(err), err,
             strerror(err));
}

void plat_pollset_set(plat_pollset *ps, size_t i, plat_sock s, int events)
{
    struct pollfd *p = &ps->fds[i];

    p->fd = (int)s;
    p->events = (short)(((events & PLAT_IN) ? POLLIN : 0) | ((events & PLAT_OUT) ? POLLOUT : 0));
    p->revents = 0;
}

int plat_pollset_wait(plat_pollset *ps, size_t n, int timeout_ms, int *err)
{
    int rc = poll(ps->fds, (nfds_t)n, timeout_ms);   /* n == 0 just sleeps */

    if (rc == -1) {
        *err = errno;
        /* A signal cut the wait short: nothing is ready yet; callers loop
         * until their deadline anyway. */
        return *err == EINTR ? 0 : -1;
    }
    return rc;
}

uint64_t plat_now_ms(void)
{
    return plat_now_us() / 1000u;
}

uint64_t plat_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void plat_sleep_ms(unsigned ms)
{
    struct timespec ts;

    ts.tv_sec = (time_t)(ms / 1000u);
    ts.tv_nsec = (long)(ms % 1000u) * 1000000L;
    /* A signal may end it early: callers check their clocks, not this. */
    nanosleep(&ts, NULL);
}

unsigned long plat_pid(void)
{
    return (unsigned long)getpid();
}

int plat_stderr_is_tty(void)
{
    return isatty(STDERR_FILENO) != 0;
}

void plat_stdout_binary(void)
{
    /* POSIX stdio never translates "\n"; nothing to do. */
}
