/* plat_watch.c - plat.h's watched set: sockets watched from one wait to
 * the next, each under its caller's tag.
 *
 * Why: a load client with 1,000 connections that rebuilds and scans a
 * poll array of all of them for every wait spends most of its time on
 * the ones that are not ready. On a 2-CPU machine that time is taken from
 * the server being measured (and under Wine from its wineserver): with
 * poll() the client measured 2.5 s of CPU per 5 s run at 1,000
 * connections, 77 us per frame. On Linux epoll costs a wait only the
 * ready sockets. Elsewhere (Windows: WSAPoll) the set is the pollset,
 * refilled by each wait, as before; PLAT_WATCH_POLL selects that one on
 * Linux too, for its unit test (tests/unit_watch.c).
 */
#include <stdlib.h>

#include "plat.h"

#if PLAT_WATCH_EPOLL
#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>
#endif

struct plat_watch {
    size_t cap;
    int *events;              /* by tag: what is watched, 0 for nothing */
#if PLAT_WATCH_EPOLL
    int epfd;
    struct epoll_event *ready;
#else
    plat_sock *socks;         /* by tag */
    plat_pollset *ps;
    size_t *slot_tag;         /* poll slot -> tag */
    size_t first;             /* the tag the next wait's array starts at */
#endif
};

/* The platform's part of the set: open and close (below, per platform). */
static int watch_open(plat_watch *w);
static void watch_close(plat_watch *w);

plat_watch *plat_watch_new(size_t cap)
{
    plat_watch *w = (plat_watch *)calloc(1, sizeof *w);

    if (w == NULL)
        return NULL;
    w->cap = cap > 0 ? cap : 1;
    w->events = (int *)calloc(w->cap, sizeof *w->events);
    if (w->events == NULL || watch_open(w) != 0) {
        plat_watch_free(w);
        return NULL;
    }
    return w;
}

void plat_watch_free(plat_watch *w)
{
    if (w == NULL)
        return;
    if (w->events != NULL)
        watch_close(w);
    free(w->events);
    free(w);
}

#if PLAT_WATCH_EPOLL

static int watch_open(plat_watch *w)
{
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    w->ready = (struct epoll_event *)calloc(w->cap, sizeof *w->ready);
    return w->epfd == -1 || w->ready == NULL ? -1 : 0;
}

static void watch_close(plat_watch *w)
{
    if (w->epfd != -1)
        close(w->epfd);
    free(w->ready);
}

int plat_watch_set(plat_watch *w, size_t tag, plat_sock s, int events, int *err)
{
    struct epoll_event ev;
    int op;

    if (w->events[tag] == events)
        return 0;   /* unchanged: no system call */
    op = w->events[tag] == 0 ? EPOLL_CTL_ADD : events == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
    ev.events = ((events & PLAT_IN) ? EPOLLIN : 0u) | ((events & PLAT_OUT) ? EPOLLOUT : 0u);
    ev.data.u64 = (uint64_t)tag;
    if (epoll_ctl(w->epfd, op, (int)s, &ev) == -1) {
        *err = errno;
        return -1;
    }
    w->events[tag] = events;
    return 0;
}

static int revents_of(uint32_t e)
{
    return ((e & EPOLLIN) ? PLAT_IN : 0) | ((e & EPOLLOUT) ? PLAT_OUT : 0)
           | ((e & EPOLLERR) ? PLAT_ERR : 0) | ((e & EPOLLHUP) ? PLAT_HUP : 0);
}

int plat_watch_wait(plat_watch *w, plat_ready *out, size_t cap, int timeout_ms, int *err)
{
    int max = (int)(cap < w->cap ? cap : w->cap), n, i;

    n = epoll_wait(w->epfd, w->ready, max > 0 ? max : 1, timeout_ms);
    if (n == -1) {
        *err = errno;
        return *err == EINTR ? 0 : -1;   /* a signal: nothing ready yet */
    }
    for (i = 0; i < n; i++) {
        out[i].tag = (size_t)w->ready[i].data.u64;
        out[i].revents = revents_of(w->ready[i].events);
    }
    return n;
}

#else

static int watch_open(plat_watch *w)
{
    w->socks = (plat_sock *)calloc(w->cap, sizeof *w->socks);
    w->slot_tag = (size_t *)calloc(w->cap, sizeof *w->slot_tag);
    w->ps = plat_pollset_new(w->cap);
    return w->socks == NULL || w->slot_tag == NULL || w->ps == NULL ? -1 : 0;
}

static void watch_close(plat_watch *w)
{
    free(w->socks);
    free(w->slot_tag);
    plat_pollset_free(w->ps);
}

int plat_watch_set(plat_watch *w, size_t tag, plat_sock s, int events, int *err)
{
    *err = 0;   /* nothing here can fail; the wait reports a bad socket */
    w->socks[tag] = s;
    w->events[tag] = events;
    return 0;
}

/* When more than cap sockets are ready, the rest are reported by the next
 * wait, whose array starts with them: a fixed order would report the
 * first cap tags every time and starve the others (measured: 116 of 1000
 * connections timed out when it did). */
int plat_watch_wait(plat_watch *w, plat_ready *out, size_t cap, int timeout_ms, int *err)
{
    size_t n = 0, i, got = 0;

    for (i = 0; i < w->cap; i++) {
        size_t tag = (w->first + i) % w->cap;

        if (w->events[tag] != 0) {
            plat_pollset_set(w->ps, n, w->socks[tag], w->events[tag]);
            w->slot_tag[n++] = tag;
        }
    }
    if (plat_pollset_wait(w->ps, n, timeout_ms, err) < 0)
        return -1;
    for (i = 0; i < n; i++) {
        int rev = plat_pollset_revents(w->ps, i);

        if (rev == 0)
            continue;
        if (got == cap) {
            w->first = w->slot_tag[i];   /* the first one not reported */
            break;
        }
        out[got].tag = w->slot_tag[i];
        out[got++].revents = rev;
    }
    return (int)got;
}

#endif
