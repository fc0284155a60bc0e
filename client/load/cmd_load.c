/* cmd_load.c - the load command: N connections held open at once in one
 * thread (non-blocking sockets; connects polled, traffic waited for on a
 * watched set: epoll on Linux, WSAPoll on Windows), each echoing frames that
 * carry its id and a sequence number; every reply checked byte for byte.
 * Ends with one line of key=value figures. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "load.h"
#include "proto.h"
#include "stats_text.h"
#include "xchg.h"

#define LOAD_CONNECT_BATCH 128u      /* connects in flight at once */
#define LOAD_ERRORS_SHOWN 10u
#define LOAD_POLL_MS 100
#define LOAD_READY_MAX 256u          /* ready connections taken per wait */
#define LOAD_SETTLE_MS 5000u         /* for the server to count every close */

static void progress_clear(load_run *r)
{
    if (r->progress_shown) {
        fputc('\n', stderr);
        r->progress_shown = 0;
    }
}

void load_error(load_run *r, const char *fmt, ...)
{
    va_list ap;

    r->errors++;
    if (r->errors > LOAD_ERRORS_SHOWN || r->quiet_errors)
        return;
    progress_clear(r);
    fputs("client: load: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (r->errors == LOAD_ERRORS_SHOWN)
        fputs("client: load: (further errors are only counted)\n", stderr);
}

/* A progress line on stderr once the run is past 2 s: rewritten in place
 * on a terminal, a new line every 2 s otherwise. */
static void progress(load_run *r, uint64_t now)
{
    int tty = plat_stderr_is_tty();

    if (now < r->start_ms + 2000 || now < r->next_progress_ms)
        return;
    r->next_progress_ms = now + (tty ? 500 : 2000);
    fprintf(stderr, "%sload: %.1f s, %u/%u connected, %u active, %llu frames, %llu errors%s",
            tty ? "\r" : "", (double)(now - r->start_ms) / 1000.0, r->connected,
            r->opts->conns, r->active, (unsigned long long)r->frames,
            (unsigned long long)r->errors, tty ? "  " : "\n");
    r->progress_shown = tty;
}

static int load_alloc(load_run *r)
{
    const client_opts *o = r->opts;
    size_t fit = (256u * 1024u) / r->max_frame;
    unsigned i;

    /* Out: up to `pipeline` frames, at most about 256 KiB. In: room for a
     * whole frame and, when pipelining, many replies per recv. */
    r->out_cap = r->max_frame * (fit < 1 ? 1 : (fit < o->pipeline ? fit : o->pipeline));
    r->in_cap = (size_t)o->pipeline * r->max_frame;
    if (r->in_cap > 256u * 1024u)
        r->in_cap = 256u * 1024u;
    if (r->in_cap < r->max_frame + 8192)
        r->in_cap = r->max_frame + 8192;
    r->conns = (load_conn *)calloc(o->conns, sizeof *r->conns);
    r->slot_conn = (size_t *)calloc(o->conns, sizeof *r->slot_conn);
    r->ps = plat_pollset_new(o->conns);
    r->watch = plat_watch_new(o->conns);
    r->expect = (unsigned char *)malloc(r->max_frame);
    if (r->conns == NULL || r->slot_conn == NULL || r->ps == NULL || r->watch == NULL
        || r->expect == NULL)
        return -1;
    for (i = 0; i < o->conns; i++) {
        r->allocated++;
        if (load_conn_alloc(r, &r->conns[i], i) != 0)
            return -1;
    }
    return 0;
}

static void load_free(load_run *r)
{
    unsigned i;

    for (i = 0; r->conns != NULL && i < r->allocated; i++)
        load_conn_free(&r->conns[i]);
    free(r->conns);
    free(r->slot_conn);
    free(r->expect);
    plat_pollset_free(r->ps);
    plat_watch_free(r->watch);
}

static void mark_connected(load_run *r, load_conn *c)
{
    c->state = LC_ACTIVE;
    r->connected++;
    r->active++;
}

/* Opens the socket and starts its connect; counts an error at once if
 * either fails. */
static void connect_start(load_run *r, load_conn *c)
{
    char why[256];
    int err = 0;
    int rc;

    if (plat_tcp_socket(r->addr, &c->sock, &err) != 0) {
        c->sock = PLAT_NO_SOCK;
        plat_err_format(why, sizeof why, "socket", NULL, err);
        load_conn_fail(r, c, why, "");
        return;
    }
    plat_set_nodelay(c->sock, &err);   /* only a latency nicety if it fails */
    c->state = LC_CONNECTING;
    c->deadline_ms = plat_now_ms() + r->opts->timeout_ms;
    rc = plat_connect_start(c->sock, r->addr, &err);
    if (rc == 0)
        mark_connected(r, c);
    else if (rc < 0) {
        plat_err_format(why, sizeof why, "connect", r->addr->text, err);
        load_conn_fail(r, c, why, "");
    }
}

/* One poll over the connects in flight among conns[0, upto); returns how
 * many are still in flight. */
static unsigned connect_poll(load_run *r, unsigned upto)
{
    size_t n = 0, i;
    int err = 0;
    char why[256];
    uint64_t now;

    for (i = 0; i < upto; i++)
        if (r->conns[i].state == LC_CONNECTING) {
            plat_pollset_set(r->ps, n, r->conns[i].sock, PLAT_OUT);
            r->slot_conn[n++] = i;
        }
    if (plat_pollset_wait(r->ps, n, LOAD_POLL_MS, &err) < 0)
        plat_sleep_ms(LOAD_POLL_MS);   /* the deadlines below still end it */
    now = plat_now_ms();
    for (i = 0; i < n; i++) {
        load_conn *c = &r->conns[r->slot_conn[i]];

        if (plat_pollset_revents(r->ps, i) == 0 && now < c->deadline_ms)
            continue;
        if (plat_connect_result(c->sock, &err) != 0) {
            plat_err_format(why, sizeof why, "connect", r->addr->text, err);
            load_conn_fail(r, c, why, "");
        } else if (plat_pollset_revents(r->ps, i) & PLAT_OUT)
            mark_connected(r, c);
        else if (now >= c->deadline_ms)
            load_conn_fail(r, c, "connect: no answer within --timeout", "");
    }
    for (i = 0, n = 0; i < upto; i++)
        n += r->conns[i].state == LC_CONNECTING;
    return (unsigned)n;
}

/* Connects every connection, at most LOAD_CONNECT_BATCH in flight; each
 * connect ends by its own --timeout deadline. */
static void connect_phase(load_run *r)
{
    unsigned total = r->opts->conns;
    unsigned next = 0, inflight = 0;

    while (next < total || inflight > 0) {
        while (inflight < r->connect_batch && next < total) {
            connect_start(r, &r->conns[next++]);
            inflight += r->conns[next - 1].state == LC_CONNECTING;
        }
        inflight = connect_poll(r, next);
        progress(r, plat_now_ms());
    }
}

/* Every LOAD_POLL_MS: the connections whose deadline passed fail. */
static void check_deadlines(load_run *r, uint64_t now)
{
    unsigned i;

    if (now < r->next_deadline_ms)
        return;
    r->next_deadline_ms = now + LOAD_POLL_MS;
    for (i = 0; i < r->opts->conns; i++)
        load_conn_check_deadline(r, &r->conns[i], now);
}

/* One wait on the watched connections and what it reported. */
static int traffic_step(load_run *r)
{
    plat_ready ready[LOAD_READY_MAX];
    int n, i, err = 0;
    uint64_t now;

    n = plat_watch_wait(r->watch, ready, LOAD_READY_MAX, LOAD_POLL_MS, &err);
    if (n < 0) {
        char why[256];

        plat_err_format(why, sizeof why, PLAT_WATCH_CALL, NULL, err);
        load_error(r, "%s", why);
        return -1;
    }
    for (i = 0; i < n; i++) {
        load_conn *c = &r->conns[ready[i].tag];

        if (c->state != LC_ACTIVE)
            continue;
        load_conn_ready(r, c, ready[i].revents);
        if (c->state == LC_ACTIVE)
            load_conn_watch(r, c);   /* PLAT_OUT on or off */
    }
    now = plat_now_ms();
    check_deadlines(r, now);
    progress(r, now);
    if (r->sample != NULL && now >= r->next_sample_ms) {
        r->sample(r->sample_arg);   /* the caller's look at the server meanwhile */
        r->next_sample_ms = plat_now_ms() + 1000;
    }
    return 0;
}

/* Runs until every connection is done or failed; each one fails by itself
 * when it makes no progress for --timeout, so this ends. */
static void traffic_phase(load_run *r)
{
    unsigned i;

    r->traffic_start_us = plat_now_us();
    r->next_sample_ms = plat_now_ms() + 500;
    if (r->opts->duration_ms > 0)
        r->send_until_ms = plat_now_ms() + r->opts->duration_ms;
    for (i = 0; i < r->opts->conns; i++)
        if (r->conns[i].state == LC_ACTIVE) {
            load_conn_begin(r, &r->conns[i]);
            load_conn_watch(r, &r->conns[i]);
        }
    while (r->active > 0)
        if (traffic_step(r) != 0)
            break;
    for (i = 0; i < r->opts->conns; i++)   /* after a poll failure */
        if (r->conns[i].state == LC_ACTIVE)
            load_conn_fail(r, &r->conns[i], "abandoned after the poll failure", "");
    r->traffic_end_us = plat_now_us();
}

/* --abort-every: the finished connections are all still open. The resets
 * are armed first, then every socket is closed in one tight pass, so the
 * server sees many clients leave at the same moment, every Nth by a reset
 * (the regression for article 003's bug 1). */
static void close_all_at_once(load_run *r)
{
    unsigned n = r->opts->abort_every;
    unsigned i, closed = 0, aborted = 0;
    char why[256];
    int err = 0;

    for (i = 0; i < r->opts->conns; i++) {
        load_conn *c = &r->conns[i];

        if (c->sock == PLAT_NO_SOCK || c->id % n != n - 1)
            continue;
        if (plat_set_abortive(c->sock, &err) == 0)
            aborted++;
        else {   /* its close would be orderly, not the reset the run is for */
            plat_err_format(why, sizeof why, "setsockopt SO_LINGER", NULL, err);
            load_error(r, "conn %lu: %s", (unsigned long)c->id, why);
        }
    }
    for (i = 0; i < r->opts->conns; i++)
        if (r->conns[i].sock != PLAT_NO_SOCK) {
            plat_close(r->conns[i].sock);
            r->conns[i].sock = PLAT_NO_SOCK;
            closed++;
        }
    progress_clear(r);
    fprintf(stderr, "load: closed %u connections at once, %u of them by reset\n", closed,
            aborted);
}

/* With --server: the server must have counted every close, orderly or
 * reset, within LOAD_SETTLE_MS. Each STATS comes over a connection of its
 * own, which the server counts too, so 1 is as low as the figure gets
 * (0 is accepted in case a server counts it differently). */
static void await_server_idle(load_run *r)
{
    uint64_t end = plat_now_ms() + LOAD_SETTLE_MS;
    uint64_t cur = 0;
    stats_text st;
    errmsg e;

    for (;;) {
        if (xchg_stats(r->addr, r->opts->timeout_ms, &st, &e) != 0
            || stats_text_u64(&st, "connections_current", &cur, &e) != 0) {
            load_error(r, "STATS after closing every connection: %s", e.text);
            return;
        }
        if (cur <= 1 || plat_now_ms() >= end)
            break;
        plat_sleep_ms(100);
    }
    if (cur > 1)
        load_error(r, "%u s after all connections closed at once (--abort-every %u), "
                   "the server still counts connections_current=%llu, expected 1 (the "
                   "STATS connection itself)", LOAD_SETTLE_MS / 1000, r->opts->abort_every,
                   (unsigned long long)cur);
}

static void fill_result(const load_run *r, load_result *res)
{
    double secs = (double)(r->traffic_end_us - r->traffic_start_us) / 1e6;
    unsigned i;

    if (secs <= 0)
        secs = 1e-6;
    memset(res, 0, sizeof *res);
    res->conns = r->opts->conns;
    res->connected = r->connected;
    for (i = 0; i < r->allocated; i++)
        res->completed += r->conns[i].state == LC_DONE;
    res->frames = r->frames;
    res->bytes = r->bytes;
    res->errors = r->errors;
    res->crosstalk = r->crosstalk;
    res->seconds = secs;
    res->fps = (double)r->frames / secs;
    res->mib_s = (double)r->bytes / secs / (1024.0 * 1024.0);
    res->p50_ms = (double)latency_percentile(&r->lat, 0.50) / 1000.0;
    res->p99_ms = (double)latency_percentile(&r->lat, 0.99) / 1000.0;
    res->max_ms = (double)r->lat.max_us / 1000.0;
}

static void report(const load_result *res)
{
    printf("conns=%u connected=%u frames=%llu bytes=%llu errors=%llu crosstalk=%llu "
           "seconds=%.3f fps=%.1f mib_s=%.3f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
           res->conns, res->connected, (unsigned long long)res->frames,
           (unsigned long long)res->bytes, (unsigned long long)res->errors,
           (unsigned long long)res->crosstalk, res->seconds, res->fps, res->mib_s,
           res->p50_ms, res->p99_ms, res->max_ms);
    fflush(stdout);
}

static unsigned largest_size(const client_opts *o)
{
    unsigned i, max = 0;

    for (i = 0; i < o->size_count; i++)
        if (o->sizes[i] > max)
            max = o->sizes[i];
    return max;
}

static void load_setup(load_run *r, const client_opts *o, const plat_addr *addr,
                       const load_params *lp)
{
    r->opts = o;
    r->addr = addr;
    r->max_frame = PROTO_HEADER_SIZE + largest_size(o);
    r->start_ms = plat_now_ms();
    r->connect_batch = LOAD_CONNECT_BATCH;
    if (lp != NULL) {
        if (lp->connect_batch > 0)
            r->connect_batch = lp->connect_batch;
        r->sample = lp->sample;
        r->sample_arg = lp->sample_arg;
        r->quiet_errors = lp->quiet_errors;
    }
    latency_init(&r->lat);
}

int load_measure(const client_opts *o, const plat_addr *addr, const load_params *lp,
                 int with_server, load_result *res)
{
    load_run *r = (load_run *)calloc(1, sizeof *r);
    int status;

    memset(res, 0, sizeof *res);
    if (r == NULL) {
        fputs("client: load: out of memory\n", stderr);
        return 1;
    }
    load_setup(r, o, addr, lp);
    if (load_alloc(r) != 0) {
        fprintf(stderr, "client: load: out of memory for %u connections\n", o->conns);
        load_free(r);
        free(r);
        return 1;
    }
    connect_phase(r);
    traffic_phase(r);
    if (o->abort_every > 0) {
        close_all_at_once(r);
        if (with_server)
            await_server_idle(r);
    }
    progress_clear(r);
    fill_result(r, res);
    status = (r->errors > 0 || r->crosstalk > 0 || r->connected < o->conns) ? 1 : 0;
    load_free(r);
    free(r);
    return status;
}

int cmd_load(const client_ctx *cx)
{
    load_result res;
    int status = load_measure(cx->opts, &cx->addr, NULL, cx->server != NULL, &res);

    if (res.conns > 0)   /* 0: it failed before measuring (out of memory) */
        report(&res);
    return status;
}
