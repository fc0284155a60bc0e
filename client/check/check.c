/* check.c - the helpers the checks share (check.h); the command that runs
 * them is cmd_check.c. */
#include "check.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xchg.h"

check_result ck_fail(check_ctx *k, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(k->why.text, sizeof k->why.text, fmt, ap);
    va_end(ap);
    return CHECK_FAIL;
}

check_result ck_fail_why(check_ctx *k, const char *context)
{
    if (context != NULL && context[0] != '\0')
        errmsg_prefix(&k->why, "%s", context);
    return CHECK_FAIL;
}

uint64_t ck_deadline(const check_ctx *k)
{
    return plat_now_ms() + k->timeout_ms;
}

int ck_open(check_ctx *k, conn *c, size_t buf_cap)
{
    return conn_open(c, k->addr, buf_cap, ck_deadline(k), &k->why);
}

int ck_stats(check_ctx *k, stats_text *st)
{
    return xchg_stats(k->addr, k->timeout_ms, st, &k->why);
}

int ck_counter(check_ctx *k, const char *key, uint64_t *value)
{
    stats_text st;

    if (ck_stats(k, &st) != 0)
        return -1;
    return stats_text_u64(&st, key, value, &k->why);
}

int ck_await_counter(check_ctx *k, const char *key, uint64_t want, unsigned wait_ms)
{
    uint64_t end = plat_now_ms() + wait_ms;
    uint64_t v = 0;

    for (;;) {
        if (ck_counter(k, key, &v) != 0)
            return -1;
        if (v >= want || plat_now_ms() >= end)
            break;
        plat_sleep_ms(100);
    }
    if (v == want)
        return 0;
    return errmsg_set(&k->why, "%s is %llu, expected %llu (waited up to %u ms)", key,
                      (unsigned long long)v, (unsigned long long)want, wait_ms);
}

int ck_settle(check_ctx *k, stats_text *st)
{
    uint64_t end = plat_now_ms() + 3000;
    uint64_t cur = 0;

    for (;;) {
        if (ck_stats(k, st) != 0 || stats_text_u64(st, "connections_current", &cur, &k->why) != 0)
            return -1;
        if (cur <= 1 || plat_now_ms() >= end)
            return 0;
        plat_sleep_ms(100);
    }
}

void ck_pattern(unsigned char *buf, size_t len, unsigned seed)
{
    size_t i;

    for (i = 0; i < len; i++)
        buf[i] = (unsigned char)(i * 13u + seed * 101u + (i >> 8) + 7u);
}

void ck_close_all(conn *cs, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        conn_close(&cs[i]);
}

/* "3, 64-129" for the connections that are still owed a reply. */
static void format_missing(const unsigned char *got, size_t n, char *buf, size_t cap)
{
    size_t i = 0, len = 0;

    buf[0] = '\0';
    while (i < n && len + 24 < cap) {
        size_t j;

        if (got[i]) {
            i++;
            continue;
        }
        for (j = i; j + 1 < n && !got[j + 1]; j++)
            continue;
        len += (size_t)snprintf(buf + len, cap - len, "%s%lu", len ? ", " : "", (unsigned long)i);
        if (j > i)
            len += (size_t)snprintf(buf + len, cap - len, "-%lu", (unsigned long)j);
        i = j + 1;
    }
}

/* Reads what is there on c and checks the reply once it is whole. 1 got
 * it, 0 not yet, -1 failed (k->why). */
static int gather_one(check_ctx *k, conn *c, const unsigned char *want, size_t want_len)
{
    char head[32];
    frame f;
    size_t i;
    int rc;

    if (conn_fill(c, &k->why) == PLAT_ERROR)
        return -1;
    rc = frame_buf_take(&c->in, &f, &k->why);
    if (rc < 0)
        return -1;
    if (rc == 0)
        return (c->eof || c->reset)
            ? errmsg_set(&k->why, "the server closed the connection instead of replying") : 0;
    if (f.raw_len == want_len && memcmp(f.raw, want, want_len) == 0)
        return 1;
    if (f.header.type != PROTO_ECHO)
        return xchg_unexpected(&k->why, "wrong reply", &f);
    for (i = 0; i < sizeof head - 1 && i < f.header.length; i++)
        head[i] = (char)(f.payload[i] >= 0x20 && f.payload[i] < 0x7f ? f.payload[i] : '.');
    head[i] = '\0';
    errmsg_diff(&k->why, "reply differs", f.raw, f.raw_len, want, want_len);
    errmsg_prefix(&k->why, "reply begins \"%s\"", head);
    return -1;
}

/* One poll over the connections still owed a reply. */
static int gather_step(check_ctx *k, plat_pollset *ps, size_t *slot, conn *cs, size_t n,
                       unsigned char *const *want, const size_t *want_len,
                       unsigned char *got, uint64_t deadline)
{
    size_t i, m = 0;
    int err = 0;
    int rc;

    for (i = 0; i < n; i++)
        if (!got[i]) {
            plat_pollset_set(ps, m, cs[i].sock, PLAT_IN);
            slot[m++] = i;
        }
    if (plat_pollset_wait(ps, m, conn_ms_left(deadline), &err) < 0)
        return errmsg_sock(&k->why, "WSAPoll", NULL, err);
    for (i = 0; i < m; i++) {
        if (plat_pollset_revents(ps, i) == 0)
            continue;
        rc = gather_one(k, &cs[slot[i]], want[slot[i]], want_len[slot[i]]);
        if (rc < 0) {
            errmsg_prefix(&k->why, "connection %lu of %lu", (unsigned long)slot[i],
                          (unsigned long)n);
            return -1;
        }
        got[slot[i]] = (unsigned char)rc;
    }
    return 0;
}

/* Replies may already be buffered (read while a send waited for room):
 * they raise no poll event, so take them first. */
static int gather_buffered(check_ctx *k, conn *cs, size_t n, unsigned char *const *want,
                           const size_t *want_len, unsigned char *got)
{
    size_t i;
    int rc;

    for (i = 0; i < n; i++) {
        if (frame_buf_pending(&cs[i].in) == 0 && !cs[i].eof && !cs[i].reset)
            continue;
        rc = gather_one(k, &cs[i], want[i], want_len[i]);
        if (rc < 0) {
            errmsg_prefix(&k->why, "connection %lu of %lu", (unsigned long)i, (unsigned long)n);
            return -1;
        }
        got[i] = (unsigned char)rc;
    }
    return 0;
}

/* Polls until every connection has its reply or the deadline passes. */
static int gather_loop(check_ctx *k, plat_pollset *ps, size_t *slot, conn *cs, size_t n,
                       unsigned char *const *want, const size_t *want_len,
                       unsigned char *got)
{
    uint64_t deadline = ck_deadline(k);
    char missing[200];
    size_t have, i;

    for (;;) {
        for (have = 0, i = 0; i < n; i++)
            have += got[i];
        if (have == n)
            return 0;
        if (conn_ms_left(deadline) == 0) {
            format_missing(got, n, missing, sizeof missing);
            return errmsg_set(&k->why, "timed out: %lu of %lu replies missing (connections %s)",
                              (unsigned long)(n - have), (unsigned long)n, missing);
        }
        if (gather_step(k, ps, slot, cs, n, want, want_len, got, deadline) != 0)
            return -1;
    }
}

int ck_gather(check_ctx *k, conn *cs, size_t n, unsigned char *const *want,
              const size_t *want_len)
{
    plat_pollset *ps = plat_pollset_new(n);
    size_t *slot = (size_t *)calloc(n + 1, sizeof *slot);
    unsigned char *got = (unsigned char *)calloc(n + 1, 1);
    int rc = -1;

    if (ps == NULL || slot == NULL || got == NULL)
        errmsg_set(&k->why, "out of memory");
    else if (gather_buffered(k, cs, n, want, want_len, got) == 0)
        rc = gather_loop(k, ps, slot, cs, n, want, want_len, got);
    plat_pollset_free(ps);
    free(slot);
    free(got);
    return rc;
}
