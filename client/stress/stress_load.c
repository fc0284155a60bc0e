/* stress_load.c - the scenarios built on the idle and load commands'
 * engines: many connections held at once (idle_measure), and a graceful
 * stop while every connection is busy (load_measure). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idle.h"
#include "load.h"
#include "stress.h"

#define HOLD_IDLE_MS 2000u      /* how long all are held idle */
#define STOP_TRAFFIC_MAX_MS 120000u
#define STOP_BOUND_MS 5000u     /* SPEC section 2: stopped within 5 seconds */
#define STOP_DEFAULT_MS 2000u   /* traffic before the stop, unless --duration */
#define STOP_FULL_WAIT_MS 30000u   /* then at most this long for the server to hold all */

/* The load options of the stop: s->conns connections of 64-byte frames. */
static void load_opts(const stress_ctx *s, client_opts *o)
{
    *o = *s->o;
    o->conns = s->conns;
    o->msgs = 0;
    o->duration_ms = STOP_TRAFFIC_MAX_MS;
    o->size = 64;
    o->sizes[0] = 64;
    o->size_count = 1;
    o->pipeline = 1;
    o->abort_every = 0;
}

/* Every connection opened (at most 128 waiting for their first reply, so
 * the client never runs ahead of the server's accepts into the kernel's
 * backlog), echoing once, held idle, echoing again, then all closed: the
 * idle command's engine. The STATS read while all are held must count
 * them all. */
int stress_round_hold(stress_ctx *s, unsigned round)
{
    idle_result *res = (idle_result *)calloc(1, sizeof *res);
    client_opts o = *s->o;
    uint64_t held = 0;
    errmsg e;
    int rc = 0;

    (void)round;
    if (res == NULL)
        return errmsg_set(&s->why, "out of memory");
    o.conns = s->conns;
    o.idle_ms = HOLD_IDLE_MS;
    if (idle_measure(&o, &s->cx->addr, res) != 0)
        rc = errmsg_set(&s->why, "%u connections: %u held, %u echoed twice, %u refused, "
                        "%llu errors", s->conns, res->held_count, res->echoed, res->refused,
                        (unsigned long long)res->errors);
    else if (stats_text_u64(&res->held, "connections_current", &held, &e) != 0
             || held < s->conns)
        rc = errmsg_set(&s->why, "while all %u were held the server counted %llu connections",
                        s->conns, (unsigned long long)held);
    else
        fprintf(stderr, "stress hold: %u connections held at once (the server counted %llu), "
                "opened in %.1f s\n", res->held_count, (unsigned long long)held,
                res->connect_seconds);
    s->done += res->held_count;
    free(res);
    return rc;
}

/* The stop, from load's sample hook (about once a second once every
 * connection is connected and the traffic runs). Just before it, one
 * STATS shows the server's side of the load: every connection open and
 * frames flowing. A connection the client sees connected may still wait
 * in the listen backlog, so the stop waits, sample after sample, until
 * the server counts them all (at most STOP_FULL_WAIT_MS; judged after). */
struct stop_state {
    stress_ctx *s;
    uint64_t traffic_ms;      /* how long the traffic runs before the stop */
    uint64_t stop_at_ms;      /* 0 until the first call */
    int stopped;
    stress_figs before;       /* the STATS just before the stop */
};

static void stop_sample(void *arg)
{
    struct stop_state *st = (struct stop_state *)arg;
    errmsg e;

    if (st->stop_at_ms == 0)
        st->stop_at_ms = plat_now_ms() + st->traffic_ms;
    if (st->stopped || plat_now_ms() < st->stop_at_ms)
        return;
    if (stress_figures(st->s, &st->before) != 0)   /* judged below: all zero */
        fprintf(stderr, "client: stress stop: %s\n", st->s->why.text);
    else if (st->before.v[SK_CURRENT] < st->s->conns
             && plat_now_ms() < st->stop_at_ms + STOP_FULL_WAIT_MS)
        return;   /* not all accepted yet: the next sample looks again */
    st->stopped = 1;
    fprintf(stderr, "stress stop: stopping the server under load: connections_current=%llu "
            "frames_in=%llu\n", (unsigned long long)st->before.v[SK_CURRENT],
            (unsigned long long)st->before.v[SK_FRAMES_IN]);
    /* It waits for the exit; meanwhile no client reads, so the server's
     * sends may be blocked too: the stop must not wait for them. */
    spawn_stop(st->s->cx->server, &e);
}

/* The final statistics: every connection and object closed. */
static int judge_final(stress_ctx *s, spawn_run *srv)
{
    static const char *const keys[] = {
        "connections_current", "open_sockets", "open_threads", "open_handles", "open_blocks"
    };
    stats_text st;
    uint64_t v = 0;
    size_t i;

    srv->final_judged = 1;
    if (spawn_final_stats(srv, &st, &s->why) != 0)
        return -1;
    for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (stats_text_u64(&st, keys[i], &v, &s->why) != 0)
            return -1;
        if (v != 0)
            return errmsg_set(&s->why, "final statistics: %s=%llu, expected 0", keys[i],
                              (unsigned long long)v);
    }
    return 0;
}

/* Every connection busy echoing when the server is told to stop: it must
 * exit 0 within 5 s with nothing left open. The clients' errors (their
 * connections closed under them) are expected and not counted. */
int stress_run_stop(stress_ctx *s)
{
    spawn_run *srv = s->cx->server;
    struct stop_state st;
    load_params lp;
    load_result res;
    client_opts o;

    if (srv == NULL)
        return errmsg_set(&s->why, "the stop scenario needs --server");
    load_opts(s, &o);
    memset(&lp, 0, sizeof lp);
    memset(&st, 0, sizeof st);
    st.s = s;
    st.traffic_ms = s->o->duration_ms > 0 ? s->o->duration_ms : STOP_DEFAULT_MS;
    lp.sample = stop_sample;
    lp.sample_arg = &st;
    lp.quiet_errors = 1;
    load_measure(&o, &s->cx->addr, &lp, 0, &res);
    s->done = res.frames;
    if (!st.stopped)
        return errmsg_set(&s->why, "the load ended before the stop (%u of %u connected)",
                          res.connected, s->conns);
    /* At least the load's connections (the STATS one may be counted too). */
    if (res.connected < s->conns || st.before.v[SK_CURRENT] < s->conns || st.before.v[SK_FRAMES_IN] == 0)
        return errmsg_set(&s->why, "not under full load at the stop: %u of %u connected, the "
                          "server counted %llu connections and %llu frames in", res.connected,
                          s->conns, (unsigned long long)st.before.v[SK_CURRENT],
                          (unsigned long long)st.before.v[SK_FRAMES_IN]);
    fprintf(stderr, "stress stop: %u connections, %llu frames echoed, the server exited with "
            "code %lu %llu ms after its stop\n", res.connected, (unsigned long long)res.frames,
            srv->exit_code, (unsigned long long)srv->stop_ms);
    if (srv->stop_rc != 0)
        return errmsg_set(&s->why, "%s", srv->stop_why.text);
    if (srv->stop_ms > STOP_BOUND_MS)
        return errmsg_set(&s->why, "the server took %llu ms to stop, more than %u",
                          (unsigned long long)srv->stop_ms, STOP_BOUND_MS);
    return judge_final(s, srv);
}
