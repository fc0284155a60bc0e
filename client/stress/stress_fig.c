/* stress_fig.c - the server figures a stress scenario compares with its
 * baseline: what the server holds open by its own accounting, the process
 * figures, and the counters that must not move (refusals) or must move by
 * a known amount (protocol errors).
 *
 * Handles: GetProcessHandleCount is not implemented by Wine (the `handles`
 * key is always 0 there), so the server's own open_sockets, open_threads,
 * open_handles and open_blocks are what catches a leaked object; `handles`
 * is still compared, with the slack check_churn allows, for Windows. */
#include <stdio.h>
#include <string.h>

#include "stress.h"
#include "xchg.h"

static const char *const sk_names[SK_COUNT] = {
    "connections_current", "open_sockets", "open_threads", "open_handles", "open_blocks",
    "handles", "threads", "private_bytes", "protocol_errors", "connections_refused",
    "connections_peak", "frames_in"
};

/* Process handles and threads may differ by a few that the system or the
 * C runtime opens on its own (a thread pool thread, a console handle). */
#define HANDLE_SLACK 4u
#define THREAD_SLACK 2u

/* private_bytes: after the warm-up round the heap has grown to what one
 * round needs, and freed blocks stay committed for reuse, so repeating
 * the round reuses them; what is left to tolerate is the heap's own
 * fragmentation, measured at 1.0 MiB at most over four rounds of 1000
 * connections (docs/reliability.md), and a larger heap fragments more,
 * hence the part proportional to it. A leak grows with every round: 2 MiB
 * over 10,000 churn cycles is about 200 bytes per cycle, and every leaked
 * connection block shows in open_blocks exactly. */
#define PRIVATE_SLACK_MIN (2u * 1024u * 1024u)

uint64_t stress_private_slack(const stress_figs *base)
{
    return PRIVATE_SLACK_MIN + base->v[SK_PRIVATE] / 16u;
}

int stress_figures(stress_ctx *s, stress_figs *f)
{
    stats_text st;
    size_t i;

    if (xchg_stats(&s->cx->addr, s->o->timeout_ms, &st, &s->why) != 0) {
        errmsg_prefix(&s->why, "STATS");
        return -1;
    }
    for (i = 0; i < SK_COUNT; i++)
        if (stats_text_u64(&st, sk_names[i], &f->v[i], &s->why) != 0) {
            errmsg_prefix(&s->why, "STATS");
            return -1;
        }
    return 0;
}

/* The highest value figure i may have again; what only grows (protocol
 * errors, refusals) is judged by the caller. */
static uint64_t allowed(const stress_figs *base, size_t i)
{
    switch (i) {
    case SK_HANDLES: return base->v[i] + HANDLE_SLACK;
    case SK_THREADS: return base->v[i] + THREAD_SLACK;
    case SK_PRIVATE: return base->v[i] + stress_private_slack(base);
    default: return base->v[i];
    }
}

/* Appends "name=value (baseline b, at most a)" for each figure in
 * [0, upto) over its bound; returns how many there are. */
static int over_bounds(const stress_figs *base, const stress_figs *f, size_t upto, char *buf,
                       size_t cap)
{
    size_t i, len = 0;
    int n = 0;

    buf[0] = '\0';
    for (i = 0; i < upto; i++)
        if (f->v[i] > allowed(base, i) && len < cap) {
            len += (size_t)snprintf(buf + len, cap - len, "%s%s=%llu (baseline %llu, at most %llu)",
                                    n > 0 ? ", " : "", sk_names[i],
                                    (unsigned long long)f->v[i],
                                    (unsigned long long)base->v[i],
                                    (unsigned long long)allowed(base, i));
            n++;
        }
    return n;
}

/* Polls until the figures [0, upto) are within their bounds. */
static int await_bounds(stress_ctx *s, const stress_figs *base, size_t upto, unsigned wait_ms,
                        stress_figs *f)
{
    uint64_t end = plat_now_ms() + wait_ms;
    char over[700];

    for (;;) {
        if (stress_figures(s, f) != 0)
            return -1;
        if (over_bounds(base, f, upto, over, sizeof over) == 0)
            return 0;
        if (plat_now_ms() >= end)
            return errmsg_set(&s->why, "%u s later, not back to the baseline: %s",
                              wait_ms / 1000, over);
        plat_sleep_ms(200);
    }
}

int stress_settle(stress_ctx *s, const stress_figs *base, unsigned wait_ms, stress_figs *f)
{
    return await_bounds(s, base, SK_PRIVATE, wait_ms, f);
}

int stress_compare(stress_ctx *s, const stress_figs *base, unsigned wait_ms, stress_figs *f)
{
    return await_bounds(s, base, SK_PRIVATE + 1, wait_ms, f);
}

/* A server may be between two states of its own when the baseline is
 * taken: the blocking server's threads end some time after their
 * connections are counted closed, and the completion-port server reposts
 * an AcceptEx (a socket it counts) some time after a client reset a
 * pending accept. So the baseline waits until connections_current is down
 * to 1 (the STATS connection) and two samples in a row agree on every
 * count, then takes the highest figure of a few samples over a second; a
 * leak still shows, as it grows with every round. */
#define BASELINE_SAMPLES 4
#define BASELINE_GAP_MS 300u

static int counts_differ(const stress_figs *a, const stress_figs *b)
{
    size_t i;

    for (i = 0; i <= SK_THREADS; i++)
        if (a->v[i] != b->v[i])
            return 1;
    return 0;
}

/* Waits until the server is idle and still (see above). */
static int await_quiet(stress_ctx *s, unsigned wait_ms, stress_figs *f)
{
    uint64_t end = plat_now_ms() + wait_ms;
    stress_figs prev;

    memset(&prev, 0xff, sizeof prev);
    for (;;) {
        if (stress_figures(s, f) != 0)
            return -1;
        if (f->v[SK_CURRENT] <= 1 && !counts_differ(f, &prev))
            return 0;
        if (plat_now_ms() >= end)
            return errmsg_set(&s->why, "the server was not idle and still %u s after the "
                              "warm-up (connections_current=%llu)", wait_ms / 1000,
                              (unsigned long long)f->v[SK_CURRENT]);
        prev = *f;
        plat_sleep_ms(BASELINE_GAP_MS);
    }
}

int stress_baseline(stress_ctx *s, unsigned wait_ms, stress_figs *base)
{
    stress_figs f;
    size_t i;
    int k;

    if (await_quiet(s, wait_ms, base) != 0)
        return -1;
    for (k = 1; k < BASELINE_SAMPLES; k++) {
        plat_sleep_ms(BASELINE_GAP_MS);
        if (stress_figures(s, &f) != 0)
            return -1;
        for (i = 0; i < SK_COUNT; i++)
            if (f.v[i] > base->v[i])
                base->v[i] = f.v[i];
    }
    return 0;
}

void stress_figs_text(const stress_figs *f, char *buf, size_t cap)
{
    size_t i, len = 0;

    buf[0] = '\0';
    for (i = 0; i < SK_COUNT && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%s=%llu", i > 0 ? " " : "",
                                sk_names[i], (unsigned long long)f->v[i]);
}
