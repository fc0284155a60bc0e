/* unit_watch.c - tests for client/plat/plat_watch.c, the set the load
 * command waits on: with more sockets ready than one wait takes, every one is
 * reported within two waits (none starves: the pollset version once
 * reported the same first ones every time, and 116 of 1000 load
 * connections timed out); a socket stops being reported once unwatched;
 * a wait with nothing ready times out with 0. Built natively twice: with
 * epoll, and with the pollset version Windows uses (PLAT_WATCH_POLL).
 * socketpair() stands in for connections: POSIX only. */
#define _POSIX_C_SOURCE 200809L

#include <sys/socket.h>
#include <unistd.h>

#include "plat.h"
#include "test.h"

#define SOCKS 300
#define CAP 256u   /* what the load command takes per wait */

static int pairs[SOCKS][2];

/* Every pair's first end watched for input, with a byte waiting on each
 * that nobody reads: all stay ready. */
static plat_watch *setup(void)
{
    plat_watch *w = plat_watch_new(SOCKS);
    int i, err = 0, ok = 1;

    CHECK(w != NULL);
    for (i = 0; i < SOCKS && w != NULL; i++) {
        ok &= socketpair(AF_UNIX, SOCK_STREAM, 0, pairs[i]) == 0;
        ok &= write(pairs[i][1], "x", 1) == 1;
        ok &= plat_watch_set(w, (size_t)i, pairs[i][0], PLAT_IN, &err) == 0;
    }
    CHECK(ok);
    return w;
}

static void teardown(plat_watch *w)
{
    int i;

    plat_watch_free(w);
    for (i = 0; i < SOCKS; i++) {
        close(pairs[i][0]);
        close(pairs[i][1]);
    }
}

/* Two waits of CAP each; counts how often each tag was reported. */
static void two_waits(plat_watch *w, int seen[SOCKS])
{
    plat_ready out[CAP];
    int round, k, err = 0;

    memset(seen, 0, SOCKS * sizeof seen[0]);
    for (round = 0; round < 2; round++) {
        int n = plat_watch_wait(w, out, CAP, 1000, &err);

        CHECK_EQ(n, (long long)CAP);
        for (k = 0; k < n; k++) {
            CHECK(out[k].tag < SOCKS && (out[k].revents & PLAT_IN) != 0);
            if (out[k].tag < SOCKS)
                seen[out[k].tag]++;
        }
    }
}

static int count_unseen(const int seen[SOCKS])
{
    int i, unseen = 0;

    for (i = 0; i < SOCKS; i++)
        unseen += seen[i] == 0;
    return unseen;
}

static void test_none_starves(void)
{
    plat_watch *w = setup();
    int seen[SOCKS];

    if (w == NULL)
        return;
    two_waits(w, seen);
    CHECK_EQ(count_unseen(seen), 0);
    two_waits(w, seen);   /* and again, wherever the first two left off */
    CHECK_EQ(count_unseen(seen), 0);
    teardown(w);
}

static void test_unwatched_not_reported(void)
{
    plat_watch *w = setup();
    int seen[SOCKS], err = 0;

    if (w == NULL)
        return;
    CHECK_EQ(plat_watch_set(w, 7, pairs[7][0], 0, &err), 0);
    two_waits(w, seen);
    CHECK_EQ(seen[7], 0);
    CHECK_EQ(count_unseen(seen), 1);   /* tag 7 alone */
    teardown(w);
}

static void test_nothing_ready_times_out(void)
{
    plat_watch *w = plat_watch_new(4);
    plat_ready out[4];
    int sv[2], err = 0;

    CHECK(w != NULL);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    if (w == NULL)
        return;
    CHECK_EQ(plat_watch_set(w, 2, sv[0], PLAT_IN, &err), 0);
    CHECK_EQ(plat_watch_wait(w, out, 4, 10, &err), 0);
    CHECK_EQ(write(sv[1], "x", 1), 1);
    CHECK_EQ(plat_watch_wait(w, out, 4, 1000, &err), 1);
    CHECK_EQ((long long)out[0].tag, 2);
    plat_watch_free(w);
    close(sv[0]);
    close(sv[1]);
}

int main(void)
{
    test_none_starves();
    test_unwatched_not_reported();
    test_nothing_ready_times_out();
    return test_summary();
}
