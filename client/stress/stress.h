/* stress.h - the stress command (fault and load scenarios against one
 * server): shared state, the server figures compared with a baseline, and
 * the scenarios. Internal to the client.
 *
 * Most scenarios are rounds of one action (a churn of connections, a storm
 * of resets, ...). Round 0 is a warm-up: the server's heap grows to what
 * the action needs and keeps some of it, so the baseline is taken after
 * it; then the measured rounds run, and at the end every figure must be
 * back to the baseline (cmd_stress.c). */
#ifndef STRESS_H
#define STRESS_H

#include <stdint.h>

#include "client.h"
#include "conn.h"
#include "errmsg.h"

/* The STATS keys a scenario watches, in this order (stress_fig.c). */
enum stress_key {
    SK_CURRENT,          /* connections_current */
    SK_SOCKETS,          /* open_sockets: the server's own accounting ... */
    SK_THREADS_OPEN,     /* open_threads */
    SK_HANDLES_OPEN,     /* open_handles */
    SK_BLOCKS,           /* open_blocks */
    SK_HANDLES,          /* handles: GetProcessHandleCount, 0 under Wine */
    SK_THREADS,          /* threads */
    SK_PRIVATE,          /* private_bytes (PagefileUsage) */
    SK_PROTO_ERRORS,     /* protocol_errors */
    SK_REFUSED,          /* connections_refused */
    SK_PEAK,             /* connections_peak */
    SK_FRAMES_IN,        /* frames_in */
    SK_COUNT
};

typedef struct stress_figs {
    uint64_t v[SK_COUNT];
} stress_figs;

typedef struct stress_ctx {
    const client_ctx *cx;
    const client_opts *o;
    unsigned conns;            /* per round (the scenario's default or --conns) */
    unsigned rounds;           /* measured rounds, after the warm-up */
    uint64_t start_ms;
    uint64_t proto_errors_due; /* protocol errors the measured rounds must cause */
    uint64_t done;             /* what the measured rounds did (cycles, connections) */
    errmsg why;
} stress_ctx;

/* Figures (stress_fig.c). */
int stress_figures(stress_ctx *s, stress_figs *f);
/* Waits (up to wait_ms) until every count (connections, open objects,
 * threads, handles) is back to the baseline; *f gets the last figures. 0,
 * or -1 with s->why naming each figure that is not. */
int stress_settle(stress_ctx *s, const stress_figs *base, unsigned wait_ms, stress_figs *f);
/* The same, private_bytes too. */
int stress_compare(stress_ctx *s, const stress_figs *base, unsigned wait_ms, stress_figs *f);
/* The baseline: once connections_current is down to 1, the highest of a
 * few samples of each figure (see stress_fig.c). 0 or -1. */
int stress_baseline(stress_ctx *s, unsigned wait_ms, stress_figs *base);
/* "connections_current=1 open_sockets=2 ... private_bytes=..." */
void stress_figs_text(const stress_figs *f, char *buf, size_t cap);
/* The private_bytes growth allowed over the baseline (see stress_fig.c). */
uint64_t stress_private_slack(const stress_figs *base);

/* Helpers for the scenarios (stress_conn.c). */
uint64_t stress_deadline(const stress_ctx *s);
/* A whole ECHO frame of `size` payload bytes derived from (tag, seq), in
 * buf (size + PROTO_HEADER_SIZE bytes); returns the frame's length. */
size_t stress_echo_frame(unsigned char *buf, uint32_t size, uint32_t tag, uint32_t seq);

/* One round of a rounds-based scenario: round 0 is the warm-up. 0, or -1
 * with s->why set. */
typedef int (*stress_round_fn)(stress_ctx *s, unsigned round);

int stress_round_churn(stress_ctx *s, unsigned round);    /* stress_conn.c */
int stress_round_resets(stress_ctx *s, unsigned round);
int stress_round_garbage(stress_ctx *s, unsigned round);  /* stress_garbage.c */
int stress_round_kill(stress_ctx *s, unsigned round);     /* stress_kill.c */
int stress_round_hold(stress_ctx *s, unsigned round);     /* stress_load.c */

/* Whole scenarios with their own judgment (stress_load.c, stress_slow.c). */
int stress_run_slow(stress_ctx *s);
int stress_run_stop(stress_ctx *s);

/* The child process of the kill scenario: opens --conns connections, each
 * with an echoed frame and then half a frame, prints "ready N" and waits to
 * be killed (stress_kill.c). Returns the exit status. */
int stress_kill_child(const client_ctx *cx);

#endif
