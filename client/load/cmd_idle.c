/* cmd_idle.c - the idle command: what holding N idle connections costs the
 * server. A STATS connection reads a baseline; N connections are opened in
 * one thread (non-blocking sockets and WSAPoll, at most IDLE_CONNECT_BATCH
 * in flight), each echoing one frame of its own as soon as it connects;
 * all stay idle for --seconds; STATS is read again while they are held;
 * then each echoes once more and all are closed. Ends with one line of
 * key=value figures. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "conn.h"
#include "idle.h"
#include "stats_text.h"
#include "xchg.h"

#define IDLE_CONNECT_BATCH 128u      /* connections being opened at once */
#define IDLE_ERRORS_SHOWN 10u
#define IDLE_POLL_MS 100
#define IDLE_STATS_CAP 8192u

void idle_progress_clear(idle_run *r)
{
    if (r->progress_shown) {
        fputc('\n', stderr);
        r->progress_shown = 0;
    }
}

void idle_error(idle_run *r, const char *fmt, ...)
{
    va_list ap;

    r->errors++;
    if (r->errors > IDLE_ERRORS_SHOWN)
        return;
    idle_progress_clear(r);
    fputs("client: idle: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (r->errors == IDLE_ERRORS_SHOWN)
        fputs("client: idle: (further errors are only counted)\n", stderr);
}

/* A progress line on stderr once the run is past 2 s (10,000 connections
 * take a while under Wine): rewritten in place on a terminal, a new line
 * every 2 s otherwise. */
static void progress(idle_run *r, uint64_t now)
{
    int tty = plat_stderr_is_tty();

    if (now < r->start_ms + 2000 || now < r->next_progress_ms)
        return;
    r->next_progress_ms = now + (tty ? 500 : 2000);
    fprintf(stderr, "%sidle: %.1f s, %s: %u/%u connected, %u refused, %u replies due, "
            "%llu errors%s", tty ? "\r" : "", (double)(now - r->start_ms) / 1000.0, r->phase,
            r->connected, r->opts->conns, r->refused, r->echoing,
            (unsigned long long)r->errors, tty ? "  " : "\n");
    r->progress_shown = tty;
}

static int idle_alloc(idle_run *r)
{
    unsigned n = r->opts->conns;
    unsigned i;

    r->conns = (idle_conn *)calloc(n, sizeof *r->conns);
    r->slot_conn = (size_t *)calloc(n, sizeof *r->slot_conn);
    r->ps = plat_pollset_new(n);
    if (r->conns == NULL || r->slot_conn == NULL || r->ps == NULL)
        return -1;
    for (i = 0; i < n; i++) {
        r->allocated++;
        if (idle_conn_alloc(&r->conns[i], i) != 0)
            return -1;
    }
    return 0;
}

static void idle_free(idle_run *r)
{
    unsigned i;

    for (i = 0; r->conns != NULL && i < r->allocated; i++)
        idle_conn_free(&r->conns[i]);
    free(r->conns);
    free(r->slot_conn);
    plat_pollset_free(r->ps);
}

/* The kernel completes a connect from the listen backlog before the
 * server calls accept(), so only the first echo's reply proves the server
 * holds the connection. It is sent at once, and the connection stays in
 * flight until the reply: the batch then follows the server's accept pace
 * instead of piling thousands of connections into its backlog (where
 * Windows refuses the excess, and slow accepts outlast --timeout). */
static void mark_connected(idle_run *r, idle_conn *c)
{
    c->state = IC_HELD;
    r->connected++;
    idle_conn_echo(r, c, 0);
}

static int in_flight(const idle_conn *c)
{
    return c->state == IC_CONNECTING || c->state == IC_ECHOING;
}

/* Opens the socket and starts its connect; a failure of either is counted
 * at once and the connection is not held. */
static void connect_start(idle_run *r, idle_conn *c)
{
    errmsg e;
    int err = 0;
    int rc;

    if (plat_tcp_socket(r->addr, &c->sock, &err) != 0) {
        c->sock = PLAT_NO_SOCK;
        errmsg_sock(&e, "socket", NULL, err);
        idle_conn_fail(r, c, e.text);
        return;
    }
    plat_set_nodelay(c->sock, &err);   /* only a latency nicety if it fails */
    c->state = IC_CONNECTING;
    c->deadline_ms = plat_now_ms() + r->opts->timeout_ms;
    rc = plat_connect_start(c->sock, r->addr, &err);
    if (rc == 0)
        mark_connected(r, c);
    else if (rc < 0) {
        errmsg_sock(&e, "connect", r->addr->text, err);
        idle_conn_fail(r, c, e.text);
    }
}

/* The poll's verdict on a connect in progress (rev 0: nothing yet). */
static void connect_ready(idle_run *r, idle_conn *c, int rev, uint64_t now)
{
    errmsg e;
    int err = 0;

    if (rev == 0 && now < c->deadline_ms)
        return;
    if (plat_connect_result(c->sock, &err) != 0) {
        errmsg_sock(&e, "connect", r->addr->text, err);
        idle_conn_fail(r, c, e.text);
    } else if (rev & PLAT_OUT)
        mark_connected(r, c);
    else if (now >= c->deadline_ms)
        idle_conn_fail(r, c, "connect: no answer within --timeout");
}

/* One poll over the connections in flight among conns[first_open, upto):
 * connects in progress and first echoes not yet answered. Returns how
 * many are still in flight. */
static unsigned open_poll(idle_run *r, unsigned upto)
{
    size_t n = 0, i;
    int err = 0;
    uint64_t now;

    for (i = r->first_open; i < upto; i++)
        if (in_flight(&r->conns[i])) {
            idle_conn *c = &r->conns[i];

            plat_pollset_set(r->ps, n, c->sock,
                             c->state == IC_CONNECTING ? PLAT_OUT : idle_conn_events(c));
            r->slot_conn[n++] = i;
        }
    if (plat_pollset_wait(r->ps, n, IDLE_POLL_MS, &err) < 0)
        plat_sleep_ms(IDLE_POLL_MS);   /* the deadlines below still end it */
    now = plat_now_ms();
    for (i = 0; i < n; i++) {
        idle_conn *c = &r->conns[r->slot_conn[i]];
        int rev = plat_pollset_revents(r->ps, i);

        if (c->state == IC_CONNECTING)
            connect_ready(r, c, rev, now);
        else if (rev != 0)
            idle_conn_ready(r, c, rev);
        idle_conn_check_deadline(r, c, now);
    }
    while (r->first_open < upto && !in_flight(&r->conns[r->first_open]))
        r->first_open++;   /* later scans skip the settled front */
    for (i = r->first_open, n = 0; i < upto; i++)
        n += in_flight(&r->conns[i]);
    return (unsigned)n;
}

/* Opens every connection, at most IDLE_CONNECT_BATCH in flight; each ends
 * by its connect deadline or its first reply's, so this ends. */
static void open_phase(idle_run *r)
{
    unsigned total = r->opts->conns;
    unsigned next = 0, inflight = 0;

    r->phase = "opening";
    r->progress_ms = plat_now_ms();
    while (next < total || inflight > 0) {
        while (inflight < IDLE_CONNECT_BATCH && next < total) {
            connect_start(r, &r->conns[next++]);
            inflight += in_flight(&r->conns[next - 1]);
        }
        inflight = open_poll(r, next);
        progress(r, plat_now_ms());
    }
}

/* One poll over the connections whose reply is due, and what it reported. */
static int echo_step(idle_run *r)
{
    size_t n = 0, i;
    int err = 0;
    errmsg e;

    for (i = 0; i < r->opts->conns; i++)
        if (r->conns[i].state == IC_ECHOING) {
            plat_pollset_set(r->ps, n, r->conns[i].sock, idle_conn_events(&r->conns[i]));
            r->slot_conn[n++] = i;
        }
    if (plat_pollset_wait(r->ps, n, IDLE_POLL_MS, &err) < 0) {
        errmsg_sock(&e, "WSAPoll", NULL, err);
        idle_error(r, "%s", e.text);
        return -1;
    }
    for (i = 0; i < n; i++) {
        int rev = plat_pollset_revents(r->ps, i);

        if (rev != 0)
            idle_conn_ready(r, &r->conns[r->slot_conn[i]], rev);
    }
    for (i = 0; i < n; i++)
        idle_conn_check_deadline(r, &r->conns[r->slot_conn[i]], plat_now_ms());
    progress(r, plat_now_ms());
    return 0;
}

/* Every held connection sends the ECHO of this round, then polls until
 * every reply is in; each reply has its own --timeout deadline, so this
 * ends. */
static void echo_round(idle_run *r, uint32_t round, const char *phase)
{
    unsigned i;

    r->phase = phase;
    r->progress_ms = plat_now_ms();
    for (i = 0; i < r->opts->conns; i++)
        if (r->conns[i].state == IC_HELD)
            idle_conn_echo(r, &r->conns[i], round);
    while (r->echoing > 0)
        if (echo_step(r) != 0)
            break;
    for (i = 0; i < r->opts->conns; i++)   /* after a poll failure */
        if (r->conns[i].state == IC_ECHOING)
            idle_conn_fail(r, &r->conns[i], "abandoned after the poll failure");
}

/* One poll of at most wait_ms over the held connections: none should
 * become readable, so any that does is ended with what it got. */
static void idle_watch(idle_run *r, int wait_ms)
{
    size_t n = 0, i;
    int err = 0;
    errmsg e;

    for (i = 0; i < r->opts->conns; i++)
        if (r->conns[i].state == IC_HELD) {
            plat_pollset_set(r->ps, n, r->conns[i].sock, PLAT_IN);
            r->slot_conn[n++] = i;
        }
    if (plat_pollset_wait(r->ps, n, wait_ms, &err) < 0) {
        errmsg_sock(&e, "WSAPoll", NULL, err);
        idle_error(r, "%s (while idle)", e.text);
        plat_sleep_ms((unsigned)wait_ms);   /* the idle time still passes */
        return;
    }
    for (i = 0; i < n; i++)
        if (plat_pollset_revents(r->ps, i) != 0)
            idle_conn_woke(r, &r->conns[r->slot_conn[i]]);
}

/* The connections stay idle for --seconds. They are watched meanwhile, so
 * a server that drops or writes to idle connections is caught here rather
 * than blamed on the next echo. */
static void idle_phase(idle_run *r)
{
    uint64_t end = plat_now_ms() + r->opts->idle_ms;
    uint64_t now;

    r->phase = "idle";
    while ((now = plat_now_ms()) < end) {
        uint64_t left = end - now;

        idle_watch(r, left < 250 ? (int)left : 250);
        progress(r, plat_now_ms());
    }
}

/* The keys SPEC section 1 promises and the report computes with. */
static const char *const required_keys[] = {
    "threads", "handles", "working_set_bytes", "private_bytes"
};

/* One STATS over the connection opened first. It stays open throughout,
 * so the baseline and the figures while held both include it and the
 * difference is the N connections alone. On failure st is left empty. */
static int read_stats(idle_run *r, conn *sc, stats_text *st, const char *when)
{
    char text[IDLE_STATS_CAP];
    size_t len = 0, i;
    uint64_t v = 0;
    errmsg e;

    st->count = 0;
    if (xchg_stats_on(sc, text, sizeof text, &len, plat_now_ms() + r->opts->timeout_ms, &e) != 0
        || stats_text_parse(text, len, 1, st, &e) != 0) {
        st->count = 0;
        idle_error(r, "STATS %s: %s", when, e.text);
        return -1;
    }
    for (i = 0; i < sizeof required_keys / sizeof required_keys[0]; i++)
        if (stats_text_u64(st, required_keys[i], &v, &e) != 0) {
            idle_error(r, "STATS %s: %s", when, e.text);
            return -1;
        }
    return 0;
}

static unsigned count_state(const idle_run *r, enum idle_state s)
{
    unsigned i, n = 0;

    for (i = 0; i < r->opts->conns; i++)
        n += r->conns[i].state == s;
    return n;
}

/* Both echoes came back: the measure of "held and echoed". */
static unsigned count_echoed(const idle_run *r)
{
    unsigned i, n = 0;

    for (i = 0; i < r->opts->conns; i++)
        n += r->conns[i].echoed == 2;
    return n;
}

static void put_value(const char *name, const stats_text *st, const char *key)
{
    const char *v = stats_text_get(st, key);

    printf(" %s=%s", name, v != NULL ? v : "-");
}

/* (value while held - baseline) / held, in bytes, signed (a working set
 * may shrink); "-" when a STATS lacks the key or nothing was held. */
static void put_per_conn(const char *name, const idle_result *fig, const char *key)
{
    uint64_t b = 0, h = 0;
    errmsg e;

    if (fig->held_count == 0 || stats_text_u64(&fig->base, key, &b, &e) != 0
        || stats_text_u64(&fig->held, key, &h, &e) != 0) {
        printf(" %s=-", name);
        return;
    }
    printf(" %s=%.0f", name, ((double)h - (double)b) / (double)fig->held_count);
}

/* The one stdout line; server figures are from the STATS while held. */
static void report(const idle_result *fig)
{
    static const char *const open_keys[] = {
        "open_sockets", "open_threads", "open_handles", "open_blocks"
    };
    size_t i;

    printf("conns=%u held=%u echoed=%u errors=%llu", fig->conns, fig->held_count,
           fig->echoed, (unsigned long long)fig->errors);
    put_value("threads", &fig->held, "threads");
    put_value("threads_base", &fig->base, "threads");
    put_value("working_set_bytes", &fig->held, "working_set_bytes");
    put_value("private_bytes", &fig->held, "private_bytes");
    put_per_conn("ws_per_conn_bytes", fig, "working_set_bytes");
    put_per_conn("private_per_conn_bytes", fig, "private_bytes");
    put_value("handles", &fig->held, "handles");
    for (i = 0; i < sizeof open_keys / sizeof open_keys[0]; i++)
        put_value(open_keys[i], &fig->held, open_keys[i]);
    printf(" connect_seconds=%.3f", fig->connect_seconds);
    if (fig->probe_done > 0)
        printf(" probe=%lu probe_p50_ms=%.2f probe_max_ms=%.2f probe_fps=%.0f", fig->probe_done,
               fig->probe_p50_ms, fig->probe_max_ms,
               fig->probe_seconds > 0 ? (double)fig->probe_done / fig->probe_seconds : 0.0);
    printf("\n");
    fflush(stdout);
}

/* Closes every connection still open: an orderly close each. */
static void close_all(idle_run *r)
{
    unsigned i;

    for (i = 0; i < r->opts->conns; i++)
        if (r->conns[i].sock != PLAT_NO_SOCK) {
            plat_close(r->conns[i].sock);
            r->conns[i].sock = PLAT_NO_SOCK;
        }
}

/* Steps 2 to 5, after the baseline: connect and echo, idle, STATS (and
 * the --probe round trips on its connection), echo. */
static void measure(idle_run *r, conn *sc, idle_result *fig)
{
    uint64_t t0 = plat_now_us();
    errmsg e;

    open_phase(r);
    fig->connect_seconds = (double)(plat_now_us() - t0) / 1e6;
    idle_phase(r);
    fig->held_count = count_state(r, IC_HELD);
    read_stats(r, sc, &fig->held, "while the connections are held");
    if (r->opts->probe > 0 && idle_probe(sc, r->opts, fig, &e) != 0)
        idle_error(r, "%s", e.text);
    echo_round(r, 1, "second echo");
    close_all(r);
    idle_progress_clear(r);
}

/* 0 only if all N were held and echoed twice without any error. */
static int verdict(const idle_run *r, const idle_result *fig)
{
    unsigned n = r->opts->conns;
    unsigned echoed = count_echoed(r);

    if (fig->held_count == n && echoed == n && r->errors == 0)
        return 0;
    fprintf(stderr, "client: idle: FAILED: %u of %u connections held, %u echoed both times, "
            "%u refused (server full), %llu errors\n", fig->held_count, n, echoed,
            r->refused, (unsigned long long)r->errors);
    if (r->refused > 0)
        fprintf(stderr, "client: idle: the server's --max-clients must be at least %u "
                "(the connections and the STATS connection)\n", n + 1);
    return 1;
}

static void fill_result(const idle_run *r, idle_result *res)
{
    res->conns = r->opts->conns;
    res->echoed = count_echoed(r);
    res->refused = r->refused;
    res->errors = r->errors;
}

int idle_measure(const client_opts *o, const plat_addr *addr, idle_result *res)
{
    idle_run *r = (idle_run *)calloc(1, sizeof *r);
    int status = 1;
    errmsg e;
    conn sc;

    memset(res, 0, sizeof *res);
    conn_init(&sc);
    if (r != NULL) {
        r->opts = o;
        r->addr = addr;
        r->start_ms = plat_now_ms();
    }
    if (r == NULL || idle_alloc(r) != 0)
        fprintf(stderr, "client: idle: out of memory for %u connections\n", o->conns);
    else if (conn_open(&sc, addr, 0, plat_now_ms() + o->timeout_ms, &e) != 0)
        fprintf(stderr, "client: idle: the STATS connection: %s\n", e.text);
    else if (read_stats(r, &sc, &res->base, "before connecting") == 0) {
        measure(r, &sc, res);
        fill_result(r, res);
        status = verdict(r, res);
    }
    conn_close(&sc);
    if (r != NULL)
        idle_free(r);
    free(r);
    return status;
}

int cmd_idle(const client_ctx *cx)
{
    idle_result *res = (idle_result *)calloc(1, sizeof *res);
    int status = 1;

    if (res == NULL) {
        fputs("client: idle: out of memory\n", stderr);
        return 1;
    }
    status = idle_measure(cx->opts, &cx->addr, res);
    if (res->conns > 0)   /* 0: it failed before measuring */
        report(res);
    free(res);
    return status;
}
