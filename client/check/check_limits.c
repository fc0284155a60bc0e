/* check_limits.c - checks of many connections: held at once around the
 * 64-handle limit, opened and closed in churn (nothing may leak), beyond
 * --max-clients, and open while the server is told to stop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "xchg.h"

#define SMALL_BUF 1024u   /* per-connection buffer where replies are small */

/* Opens n connections; on failure closes those opened. */
static int open_many(check_ctx *k, conn *cs, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        conn_init(&cs[i]);
    for (i = 0; i < n; i++)
        if (ck_open(k, &cs[i], SMALL_BUF) != 0) {
            errmsg_prefix(&k->why, "opening connection %lu of %lu", (unsigned long)i + 1,
                          (unsigned long)n);
            ck_close_all(cs, n);
            return -1;
        }
    return 0;
}

/* n connections open at once, then one ECHO on each, last opened first. */
static int simultaneous_run(check_ctx *k, conn *cs, unsigned char **f, size_t *len,
                            unsigned n)
{
    char text[64];
    unsigned i;
    int rc = 0;

    if (open_many(k, cs, n) != 0)
        return -1;
    for (i = 0; i < n; i++) {
        snprintf(text, sizeof text, "simultaneous %u, connection %u", n, i);
        f[i] = xchg_build(PROTO_ECHO, text, (uint32_t)strlen(text), &len[i]);
        if (f[i] == NULL)
            rc = errmsg_set(&k->why, "out of memory");
    }
    for (i = n; rc == 0 && i-- > 0;)
        if (conn_send_all(&cs[i], f[i], len[i], ck_deadline(k), &k->why) != 0) {
            errmsg_prefix(&k->why, "connection %u", i);
            rc = -1;
        }
    if (rc == 0)
        rc = ck_gather(k, cs, n, f, len);
    ck_close_all(cs, n);
    return rc;
}

check_result check_simultaneous(check_ctx *k)
{
    static const unsigned counts[] = { 63, 64, 65, 130 };
    conn cs[130];
    unsigned char *f[130];
    size_t len[130];
    size_t i, j;

    for (i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        int rc;

        memset(f, 0, sizeof f);
        rc = simultaneous_run(k, cs, f, len, counts[i]);
        for (j = 0; j < counts[i]; j++)
            free(f[j]);
        if (rc != 0) {
            char context[64];

            snprintf(context, sizeof context, "%u connections open at once", counts[i]);
            return ck_fail_why(k, context);
        }
    }
    return CHECK_PASS;
}

/* Cycle i of churn (xchg_churn_cycle). */
static int churn_cycle(check_ctx *k, unsigned i)
{
    char text[32];

    snprintf(text, sizeof text, "churn %u", i);
    return xchg_churn_cycle(k->addr, text, i, SMALL_BUF, ck_deadline(k), &k->why);
}

/* What churn compares with its baseline: the connection count, the
 * server's own accounting of what it holds open, and handles (the process
 * handle count, always 0 under Wine, where GetProcessHandleCount is not
 * implemented: the server's own keys are what catches a leak there). */
static const char *const churn_keys[] = {
    "connections_current", "open_sockets", "open_threads", "open_handles", "open_blocks",
    "handles"
};

#define CHURN_KEYS (sizeof churn_keys / sizeof churn_keys[0])
#define CHURN_HANDLES (CHURN_KEYS - 1)   /* the one compared with slack */
#define CHURN_CYCLES 300u
#define CHURN_WAIT_MS 5000u
#define CHURN_HANDLE_SLACK 4u

/* Reads every churn key from one STATS. Each STATS comes over a fresh
 * connection that the server counts while it answers (its socket, and in
 * the blocking model its thread), so baseline and later figures include
 * that one connection alike. */
static int churn_figures(check_ctx *k, uint64_t *v)
{
    stats_text st;
    size_t i;

    if (ck_stats(k, &st) != 0)
        return -1;
    for (i = 0; i < CHURN_KEYS; i++)
        if (stats_text_u64(&st, churn_keys[i], &v[i], &k->why) != 0)
            return -1;
    return 0;
}

/* The baseline, taken once connections_current is down to 1 (up to 3 s):
 * then the STATS connection is the only one, and no earlier check's
 * connection, still being closed, inflates open_sockets. The figures come
 * from the very STATS that saw the count at 1, not from a later one whose
 * predecessor might still be closing. */
static int churn_baseline(check_ctx *k, uint64_t *base)
{
    uint64_t end = plat_now_ms() + 3000;

    for (;;) {
        if (churn_figures(k, base) != 0)
            return -1;
        if (base[0] <= 1 || plat_now_ms() >= end)
            return 0;
        plat_sleep_ms(100);
    }
}

/* 1 once everything is back: every figure at or below its baseline
 * (below: something of an earlier check was still closing then), the
 * process handles within a little slack. Both sides include the one STATS
 * connection. */
static int churn_settled(const uint64_t *v, const uint64_t *base)
{
    size_t i;

    if (v[CHURN_HANDLES] > base[CHURN_HANDLES] + CHURN_HANDLE_SLACK)
        return 0;
    for (i = 0; i < CHURN_HANDLES; i++)
        if (v[i] > base[i])
            return 0;
    return 1;
}

/* "connections_current=3 (baseline 1), open_sockets=..." into k->why. */
static check_result churn_report(check_ctx *k, const uint64_t *v, const uint64_t *base)
{
    char figures[600];
    char slack[32];
    size_t i, len = 0;

    snprintf(slack, sizeof slack, ", at most +%u allowed", CHURN_HANDLE_SLACK);
    figures[0] = '\0';
    for (i = 0; i < CHURN_KEYS && len < sizeof figures; i++)
        len += (size_t)snprintf(figures + len, sizeof figures - len, "%s%s=%llu (baseline %llu%s)",
                                i > 0 ? ", " : "", churn_keys[i], (unsigned long long)v[i],
                                (unsigned long long)base[i],
                                i == CHURN_HANDLES ? slack : "");
    return ck_fail(k, "%u s after %u connect/close cycles: %s", CHURN_WAIT_MS / 1000,
                   CHURN_CYCLES, figures);
}

check_result check_churn(check_ctx *k)
{
    uint64_t base[CHURN_KEYS], v[CHURN_KEYS];
    uint64_t end;
    unsigned i;

    if (churn_baseline(k, base) != 0)
        return ck_fail_why(k, "baseline");
    for (i = 0; i < CHURN_CYCLES; i++)
        if (churn_cycle(k, i) != 0) {
            errmsg_prefix(&k->why, "cycle %u of %u", i + 1, CHURN_CYCLES);
            return CHECK_FAIL;
        }
    end = plat_now_ms() + CHURN_WAIT_MS;
    for (;;) {
        if (churn_figures(k, v) != 0)
            return ck_fail_why(k, "after the cycles");
        if (churn_settled(v, base))
            return CHECK_PASS;
        if (plat_now_ms() >= end)
            break;
        plat_sleep_ms(200);
    }
    return churn_report(k, v, base);
}

#define MC_LIMIT 2000u

/* STATS over an open connection (while the server is full no new one
 * would be served). */
static int stats_over(check_ctx *k, conn *c, const char *key, uint64_t *value)
{
    char text[8192];
    size_t len = 0;
    stats_text st;

    if (xchg_stats_on(c, text, sizeof text, &len, ck_deadline(k), &k->why) != 0
        || stats_text_parse(text, len, 1, &st, &k->why) != 0)
        return -1;
    return stats_text_u64(&st, key, value, &k->why);
}

/* Polls STATS over c until key equals want (up to --timeout). */
static int await_over(check_ctx *k, conn *c, const char *key, uint64_t want, uint64_t *got)
{
    uint64_t end = ck_deadline(k);

    for (;;) {
        if (stats_over(k, c, key, got) != 0)
            return -1;
        if (*got == want)
            return 0;
        if (plat_now_ms() >= end)
            return errmsg_set(&k->why, "%s is %llu, expected %llu (waited %u ms)", key,
                              (unsigned long long)*got, (unsigned long long)want, k->timeout_ms);
        plat_sleep_ms(100);
    }
}

/* The one connection too many: one ERROR frame "server full", then EOF. */
static int mc_refused(check_ctx *k)
{
    static const char full[] = "server full";
    frame f;
    conn x;
    int rc;

    if (ck_open(k, &x, SMALL_BUF) != 0)
        return -1;
    rc = conn_read_frame(&x, &f, ck_deadline(k), &k->why);
    if (rc == 0)
        rc = errmsg_set(&k->why, "closed without an ERROR frame");
    else if (rc > 0 && (f.header.type != PROTO_ERROR || f.header.length != sizeof full - 1
                        || memcmp(f.payload, full, sizeof full - 1) != 0))
        rc = xchg_unexpected(&k->why, "expected the ERROR frame \"server full\"", &f);
    else if (rc > 0 && conn_expect_eof(&x, ck_deadline(k), &k->why) != 0)
        rc = -1;
    else if (rc > 0)
        rc = 0;
    conn_close(&x);
    if (rc != 0)
        errmsg_prefix(&k->why, "the connection beyond max_clients");
    return rc;
}

/* Fills the server: s (already open, the server counting `base` then)
 * plus n more make max_clients. */
static int mc_fill(check_ctx *k, conn *s, conn *cs, size_t n, uint64_t base, uint64_t maxc)
{
    uint64_t cur = 0;

    if (await_over(k, s, "connections_current", base, &cur) != 0) {
        errmsg_prefix(&k->why, "before filling the server");
        return -1;
    }
    if (open_many(k, cs, n) != 0)
        return -1;
    if (await_over(k, s, "connections_current", maxc, &cur) != 0) {
        errmsg_prefix(&k->why, "with max_clients=%llu connections open",
                      (unsigned long long)maxc);
        return -1;
    }
    return 0;
}

/* After everything closed, a new connection is served again (the server
 * may take a moment to count the closes). */
static int mc_recovered(check_ctx *k)
{
    uint64_t end = plat_now_ms() + 5000;
    conn c;
    int rc;

    for (;;) {
        rc = ck_open(k, &c, SMALL_BUF);
        if (rc == 0) {
            rc = xchg_echo(&c, "after max_clients", 17, ck_deadline(k), &k->why);
            conn_close(&c);
        }
        if (rc == 0)
            return 0;
        if (plat_now_ms() >= end) {
            errmsg_prefix(&k->why, "a new connection after closing them all (tried for 5 s)");
            return -1;
        }
        plat_sleep_ms(200);
    }
}

/* Server full, one more refused and counted. */
static int mc_run(check_ctx *k, conn *s, conn *cs, size_t n, uint64_t base, uint64_t maxc)
{
    uint64_t refused = 0;

    if (mc_fill(k, s, cs, n, base, maxc) != 0
        || stats_over(k, s, "connections_refused", &refused) != 0
        || mc_refused(k) != 0)
        return -1;
    return await_over(k, s, "connections_refused", refused + 1, &refused);
}

check_result check_max_clients(check_ctx *k)
{
    uint64_t maxc = 0, cur = 0;
    stats_text st;
    conn s, *cs;
    size_t i;
    int rc;

    if (ck_settle(k, &st) != 0 || stats_text_u64(&st, "max_clients", &maxc, &k->why) != 0
        || stats_text_u64(&st, "connections_current", &cur, &k->why) != 0)
        return CHECK_FAIL;
    if (maxc > MC_LIMIT) {
        ck_fail(k, "max_clients=%llu is above %u", (unsigned long long)maxc, MC_LIMIT);
        return CHECK_SKIP;
    }
    if (cur < 1 || cur > maxc)   /* cur counts the STATS connection itself */
        return ck_fail(k, "connections_current=%llu with max_clients=%llu before the check",
                       (unsigned long long)cur, (unsigned long long)maxc);
    cs = (conn *)calloc((size_t)(maxc - cur) + 1, sizeof *cs);
    if (cs == NULL)
        return ck_fail(k, "out of memory");
    for (i = 0; i < (size_t)(maxc - cur); i++)
        conn_init(&cs[i]);
    if (ck_open(k, &s, 0) != 0) {
        free(cs);
        return CHECK_FAIL;
    }
    rc = mc_run(k, &s, cs, (size_t)(maxc - cur), cur, maxc);
    ck_close_all(cs, (size_t)(maxc - cur));
    conn_close(&s);
    free(cs);
    if (rc == 0)
        rc = mc_recovered(k);
    return rc == 0 ? CHECK_PASS : CHECK_FAIL;
}

#define STOP_CONNS 10
#define STOP_LIMIT_MS 5000u

/* Ten connections: 0-3 idle, 4-6 inside a frame, 7-9 after one echo. */
static int stop_prepare(check_ctx *k, conn *cs)
{
    unsigned char part[PROTO_HEADER_SIZE + 10];
    int i;

    xchg_put_echo_header(part, 100);
    memset(part + PROTO_HEADER_SIZE, 'p', 10);
    if (open_many(k, cs, STOP_CONNS) != 0)
        return -1;
    for (i = 4; i < 7; i++)
        if (conn_send_all(&cs[i], part, sizeof part, ck_deadline(k), &k->why) != 0)
            return -1;
    for (i = 7; i < STOP_CONNS; i++)
        if (xchg_echo(&cs[i], "before the stop", 15, ck_deadline(k), &k->why) != 0)
            return -1;
    plat_sleep_ms(100);   /* let the server read the partial frames */
    return 0;
}

/* The final statistics must be there and show no connection left. */
static check_result stop_final_stats(check_ctx *k)
{
    stats_text st;
    const char *cur;

    if (spawn_final_stats(k->server, &st, &k->why) != 0)
        return ck_fail_why(k, "the server's final statistics");
    cur = stats_text_get(&st, "connections_current");
    if (cur == NULL)
        return ck_fail(k, "the server's final statistics lack connections_current");
    if (strcmp(cur, "0") != 0)
        return ck_fail(k, "the server's final statistics show connections_current=%s, expected 0",
                       cur);
    return CHECK_PASS;
}

check_result check_stop(check_ctx *k)
{
    conn cs[STOP_CONNS];
    check_result r;
    int rc;

    if (k->server == NULL) {
        ck_fail(k, "needs --server");
        return CHECK_SKIP;
    }
    rc = stop_prepare(k, cs);
    if (rc != 0) {
        ck_close_all(cs, STOP_CONNS);
        return ck_fail_why(k, "preparing 10 connections");
    }
    rc = spawn_stop(k->server, &k->why);
    ck_close_all(cs, STOP_CONNS);
    if (rc != 0)
        return ck_fail_why(k, "stop event with 10 connections open");
    if (k->server->stop_ms > STOP_LIMIT_MS)
        return ck_fail(k, "the server took %llu ms to exit after its stop event (limit %u ms)",
                       (unsigned long long)k->server->stop_ms, STOP_LIMIT_MS);
    r = stop_final_stats(k);
    k->server->final_judged = 1;   /* main need not say it again */
    return r;
}
