/* compare_run.c - one server through one scenario of the compare command:
 * start it fresh (spawn_start, as --server does), read STATS before,
 * during and after, run the load or idle core, stop it and require exit 0. */
#include <stdio.h>
#include <string.h>

#include "compare.h"
#include "idle.h"
#include "load.h"
#include "xchg.h"

#define COMPARE_STATS_TIMEOUT_MS 3000u
#define COMPARE_BURST_TIMEOUT_MS 5000u
#define COMPARE_AFTER_TRIES 20u
#define COMPARE_AFTER_GAP_MS 500u
#define COMPARE_IDLE_MAX 10000u
#define COMPARE_IDLE_MAX_QUICK 5000u
/* A throughput run's traffic window, counted once every connection is
 * open. Medians moved by up to 36% between two full runs on a quiet
 * machine (docs/measurements.md): interleaved rounds show that spread and
 * a longer window does not, and with 3-s windows the full run (8 servers
 * x 6 scenarios x 3 rounds) stays within 15 minutes on 2 cores. */
#define COMPARE_WINDOW_MS 3000u
#define COMPARE_WINDOW_MS_QUICK 2000u

/* In the order of the table; counts and durations follow --quick. */
static const compare_scenario scenarios[COMPARE_MAX_SCENARIOS] = {
    { "pingpong1", SC_LOAD, 1, 64, 1 },
    { "pingpong100", SC_LOAD, 100, 64, 1 },
    { "pingpong1000", SC_LOAD, 1000, 64, 1 },
    { "pipeline", SC_LOAD, 100, 4096, 16 },
    { "idle", SC_IDLE, COMPARE_IDLE_MAX, 64, 1 },
    { "burst", SC_BURST, 1000, 64, 1 }
};
static const compare_scenario idle_quick = { "idle", SC_IDLE, COMPARE_IDLE_MAX_QUICK, 64, 1 };

const compare_scenario *compare_scenario_at(unsigned i, int quick)
{
    if (i >= COMPARE_MAX_SCENARIOS)
        return NULL;
    if (quick && scenarios[i].kind == SC_IDLE)
        return &idle_quick;
    return &scenarios[i];
}

const compare_scenario *compare_find_scenario(const char *name, int quick)
{
    unsigned i;

    for (i = 0; i < COMPARE_MAX_SCENARIOS; i++)
        if (strcmp(scenarios[i].name, name) == 0)
            return compare_scenario_at(i, quick);
    return NULL;
}

/* The peaks of the server's STATS seen during a scenario. */
typedef struct sampler {
    const plat_addr *addr;
    stats_text st;            /* scratch for one reply */
    uint64_t threads, ws, priv, handles, nonpaged;
    unsigned samples, failures;
} sampler;

static uint64_t stat_or0(const stats_text *st, const char *key)
{
    uint64_t v = 0;
    errmsg e;

    if (stats_text_u64(st, key, &v, &e) != 0)
        v = 0;
    return v;
}

static void take_peaks(sampler *s, const stats_text *st)
{
    uint64_t v;

    if ((v = stat_or0(st, "threads")) > s->threads)
        s->threads = v;
    if ((v = stat_or0(st, "working_set_bytes")) > s->ws)
        s->ws = v;
    if ((v = stat_or0(st, "private_bytes")) > s->priv)
        s->priv = v;
    if ((v = stat_or0(st, "handles")) > s->handles)
        s->handles = v;
    if ((v = stat_or0(st, "nonpaged_pool_bytes")) > s->nonpaged)
        s->nonpaged = v;
    s->samples++;
}

/* load_sample_fn: one STATS over a connection of its own. A failure only
 * means a missing sample (a full server refuses it), never a failed run. */
static void sample_stats(void *arg)
{
    sampler *s = (sampler *)arg;
    errmsg e;

    if (xchg_stats(s->addr, COMPARE_STATS_TIMEOUT_MS, &s->st, &e) == 0)
        take_peaks(s, &s->st);
    else
        s->failures++;
}

/* The scenario's load options: the command line's, with the scenario's
 * counts, and a duration instead of --msgs (burst: one frame each). */
static void load_opts_for(const client_opts *o, const compare_scenario *sc, client_opts *lo)
{
    *lo = *o;
    lo->conns = sc->conns;
    lo->size = sc->size;
    lo->sizes[0] = sc->size;
    lo->size_count = 1;
    lo->pipeline = sc->pipeline;
    lo->abort_every = 0;
    lo->msgs = 1;
    lo->duration_ms = sc->kind == SC_BURST ? 0
                      : (o->quick ? COMPARE_WINDOW_MS_QUICK : COMPARE_WINDOW_MS);
    if (sc->kind == SC_BURST)   /* a connect or echo stalled this long counts */
        lo->timeout_ms = COMPARE_BURST_TIMEOUT_MS;
}

static void run_load(const client_opts *o, const plat_addr *addr, const compare_scenario *sc,
                     sampler *smp, compare_row *row)
{
    client_opts lo;
    load_params lp;
    load_result res;
    int rc;

    load_opts_for(o, sc, &lo);
    memset(&lp, 0, sizeof lp);
    lp.sample = sample_stats;
    lp.sample_arg = smp;
    lp.quiet_errors = sc->kind == SC_BURST;   /* refusals are the figure, not noise */
    lp.connect_batch = sc->kind == SC_BURST ? sc->conns : 0;
    rc = load_measure(&lo, addr, &lp, 1, &res);
    sample_stats(smp);   /* one look right after, for runs shorter than the first sample */
    row->attempted = res.conns;
    row->held = res.connected;
    row->fps = res.fps;
    row->mib_s = res.mib_s;
    row->p50_ms = res.p50_ms;
    row->p99_ms = res.p99_ms;
    row->max_ms = res.max_ms;
    row->errors = res.errors;
    row->failed_conns = (long)(res.conns - res.completed);
    /* A burst's refusals are its measurement; elsewhere any error fails. */
    if (rc != 0 && sc->kind != SC_BURST)
        snprintf(row->note, sizeof row->note, "load: %llu errors", (unsigned long long)res.errors);
}

/* Idle: as many as the server supports, up to the scenario's count. Its
 * STATS connection is one of --max-clients, hence max_clients - 1. */
static unsigned idle_count(const compare_scenario *sc, const stats_text *before)
{
    uint64_t cap = stat_or0(before, "max_clients");

    if (cap < 2)
        return sc->conns;
    return cap - 1 < sc->conns ? (unsigned)(cap - 1) : sc->conns;
}

static void run_idle(const client_opts *o, const plat_addr *addr, const compare_scenario *sc,
                     sampler *smp, compare_row *row)
{
    static idle_result res;   /* large (two STATS texts); one run at a time */
    client_opts io = *o;
    int rc;

    io.conns = idle_count(sc, &smp->st);
    io.idle_ms = o->quick ? 1000u : 2000u;
    rc = idle_measure(&io, addr, &res);
    row->attempted = io.conns;
    row->held = res.held_count;
    row->errors = res.errors;
    row->failed_conns = (long)res.refused;
    if (res.held.count > 0) {
        take_peaks(smp, &res.held);
        if (res.held_count > 0)
            row->bytes_per_conn = ((double)stat_or0(&res.held, "private_bytes")
                                   - (double)stat_or0(&res.base, "private_bytes"))
                                  / (double)res.held_count;
    }
    if (rc != 0)
        snprintf(row->note, sizeof row->note, "idle: %u of %u held and echoed", res.echoed,
                 io.conns);
}

static void row_init(compare_row *row, const compare_scenario *sc)
{
    memset(row, 0, sizeof *row);
    row->sc = sc;
    row->fps = row->mib_s = row->p50_ms = row->p99_ms = row->max_ms = -1;
    row->bytes_per_conn = -1;
    row->failed_conns = -1;
    row->threads = row->handles = row->cpu_ms = -1;
    row->ws_mib = row->private_mib = row->nonpaged_kib = -1;
}

static void row_from_sampler(compare_row *row, const sampler *s, uint64_t cpu0,
                             uint64_t cpu1)
{
    if (s->samples == 0)
        return;
    row->threads = (long)s->threads;
    row->ws_mib = (double)s->ws / (1024.0 * 1024.0);
    row->private_mib = (double)s->priv / (1024.0 * 1024.0);
    row->handles = (long)s->handles;
    row->nonpaged_kib = (double)s->nonpaged / 1024.0;
    if (cpu1 >= cpu0)
        row->cpu_ms = (long)(cpu1 - cpu0);
}

static uint64_t cpu_ms_of(const stats_text *st)
{
    return stat_or0(st, "cpu_user_ms") + stat_or0(st, "cpu_kernel_ms");
}

/* STATS once the scenario's connections are closed. The server may not
 * have seen every close yet: right after idle it can still be full and
 * refuse this connection, so a few tries, COMPARE_AFTER_GAP_MS apart. */
static int stats_after(const plat_addr *addr, stats_text *st, errmsg *e)
{
    unsigned tries;

    for (tries = 1;; tries++) {
        if (xchg_stats(addr, COMPARE_STATS_TIMEOUT_MS, st, e) == 0)
            return 0;
        if (tries >= COMPARE_AFTER_TRIES)
            return -1;
        plat_sleep_ms(COMPARE_AFTER_GAP_MS);
    }
}

/* With the server running: STATS before, the scenario, STATS after. */
static void measure(const client_opts *o, const plat_addr *addr, const compare_scenario *sc,
                    compare_row *row)
{
    static sampler smp;   /* holds a STATS text; one run at a time */
    uint64_t cpu0, cpu1;
    errmsg e;

    memset(&smp, 0, sizeof smp);
    smp.addr = addr;
    /* The first exchange with a server just started waits --timeout, as
     * every first exchange of the client does: a server may print
     * "listening on" before its model is ready, and under Wine 07's window
     * waits for the desktop to start (docs/wine.md, row 23). */
    if (xchg_stats(addr, o->timeout_ms, &smp.st, &e) != 0) {
        snprintf(row->note, sizeof row->note, "STATS before: %.70s", e.text);
        return;
    }
    cpu0 = cpu_ms_of(&smp.st);
    if (sc->kind == SC_IDLE)
        run_idle(o, addr, sc, &smp, row);
    else
        run_load(o, addr, sc, &smp, row);
    if (stats_after(addr, &smp.st, &e) != 0) {
        if (row->note[0] == '\0')
            snprintf(row->note, sizeof row->note, "STATS after: %.70s", e.text);
        return;
    }
    cpu1 = cpu_ms_of(&smp.st);
    if ((uint64_t)smp.threads < stat_or0(&smp.st, "threads"))
        smp.threads = stat_or0(&smp.st, "threads");
    row_from_sampler(row, &smp, cpu0, cpu1);
}

/* Load scenarios give the server room for their connections and the
 * STATS samples (blocking's documented capacity is 1000); idle keeps the
 * server's own capacity, which is what it measures. */
static const char *extra_args(const compare_scenario *sc, char *buf, size_t cap)
{
    if (sc->kind == SC_IDLE)
        return "";
    snprintf(buf, cap, "--max-clients %u", sc->conns + 8);
    return buf;
}

void compare_run_one(const client_opts *o, const char *model, const char *server_cmd,
                     const compare_scenario *sc, compare_row *row)
{
    spawn_run srv;
    plat_addr addr;
    char extra[64], why[256];
    errmsg e;

    row_init(row, sc);
    snprintf(row->server, sizeof row->server, "%s", model);
    if (spawn_start(&srv, server_cmd, extra_args(sc, extra, sizeof extra), &e) != 0) {
        fprintf(stderr, "client: compare: %s, %s: %s\n", row->server, sc->name, e.text);
        snprintf(row->note, sizeof row->note, "start: %.80s", e.text);
        return;
    }
    if (plat_resolve(o->host, srv.port, &addr, why, sizeof why) != 0)
        snprintf(row->note, sizeof row->note, "%.90s", why);
    else
        measure(o, &addr, sc, row);
    if (spawn_stop(&srv, &e) != 0) {
        fprintf(stderr, "client: compare: %s: %s\n", row->server, e.text);
        spawn_print_output(&srv, stderr);
        if (row->note[0] == '\0')
            snprintf(row->note, sizeof row->note, "stop: %.85s", e.text);
    }
    spawn_free(&srv);
    row->ok = row->note[0] == '\0';
}
