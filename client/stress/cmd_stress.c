/* cmd_stress.c - the stress command: one fault or load scenario against a
 * server, bounded in count and time, with a progress line per round and a
 * last line `scenario=NAME result=PASS|FAIL ...` (docs/reliability.md).
 *
 * A rounds-based scenario runs a warm-up round, takes the baseline figures
 * once the server is idle again, runs the measured rounds (waiting after
 * each until every count is back to the baseline) and then requires every
 * figure back to the baseline, no connection refused, and exactly the
 * protocol errors the rounds were due to cause.
 *
 * With two measured rounds or more, private_bytes is compared with the
 * higher of the baseline and its value after the first measured round
 * (with one, with the baseline): a round's peak differs from the
 * warm-up's (the blocking server's threads end at different moments), so
 * the heap's high-water mark, which it keeps, may still rise once; a leak
 * rises with every round after that. */
#include <stdio.h>
#include <string.h>

#include "stress.h"

#define SETTLE_MS 30000u    /* for the server to count the closes of a round */
#define COMPARE_MS 10000u   /* for the figures to come back to the baseline */

struct scenario {
    const char *name;
    stress_round_fn round;           /* a rounds-based scenario, or NULL */
    int (*whole)(stress_ctx *s);     /* one with its own judgment, or NULL */
    unsigned conns;                  /* default --conns */
    unsigned rounds;                 /* default --rounds */
    int errors_exact;                /* protocol_errors must rise by exactly the due count */
};

static const struct scenario scenarios[] = {
    { "hold", stress_round_hold, NULL, 10000, 2, 1 },
    { "churn", stress_round_churn, NULL, 1000, 10, 1 },
    { "resets", stress_round_resets, NULL, 1000, 5, 0 },
    { "kill", stress_round_kill, NULL, 200, 5, 1 },
    { "garbage", stress_round_garbage, NULL, 100, 5, 1 },
    { "slow", NULL, stress_run_slow, 50, 0, 0 },
    { "stop", NULL, stress_run_stop, 1000, 0, 0 }
};

#define SCENARIO_COUNT (sizeof scenarios / sizeof scenarios[0])

static double elapsed_s(const stress_ctx *s)
{
    return (double)(plat_now_ms() - s->start_ms) / 1000.0;
}

static void show_round(const stress_ctx *s, const char *name, unsigned round,
                       const stress_figs *f)
{
    char figs[512];

    stress_figs_text(f, figs, sizeof figs);
    if (round == 0)
        fprintf(stderr, "stress %s: warm-up done (%.1f s), baseline: %s\n", name,
                elapsed_s(s), figs);
    else
        fprintf(stderr, "stress %s: round %u/%u done (%.1f s): %s\n", name, round, s->rounds,
                elapsed_s(s), figs);
}

/* The counters that only grow: no refusal, and the protocol errors due. */
static int judge_counters(stress_ctx *s, const struct scenario *sc, const stress_figs *base,
                          const stress_figs *f)
{
    uint64_t errors = f->v[SK_PROTO_ERRORS] - base->v[SK_PROTO_ERRORS];

    if (f->v[SK_REFUSED] != base->v[SK_REFUSED])
        return errmsg_set(&s->why, "the server refused %llu connections (server full)",
                          (unsigned long long)(f->v[SK_REFUSED] - base->v[SK_REFUSED]));
    if (sc->errors_exact && errors != s->proto_errors_due)
        return errmsg_set(&s->why, "protocol_errors rose by %llu, expected %llu (one per "
                          "connection given a bad or unfinished frame)",
                          (unsigned long long)errors, (unsigned long long)s->proto_errors_due);
    return 0;
}

static int run_rounds(stress_ctx *s, const struct scenario *sc, stress_figs *base,
                      stress_figs *f)
{
    stress_figs ref;
    unsigned r;

    if (sc->round(s, 0) != 0) {
        errmsg_prefix(&s->why, "warm-up round");
        return -1;
    }
    if (stress_baseline(s, SETTLE_MS, base) != 0)
        return -1;
    ref = *base;
    show_round(s, sc->name, 0, base);
    s->proto_errors_due = 0;
    s->done = 0;
    for (r = 1; r <= s->rounds; r++) {
        if (sc->round(s, r) != 0) {
            errmsg_prefix(&s->why, "round %u of %u", r, s->rounds);
            return -1;
        }
        if (stress_settle(s, base, SETTLE_MS, f) != 0) {
            errmsg_prefix(&s->why, "after round %u", r);
            return -1;
        }
        show_round(s, sc->name, r, f);
        if (r == 1 && s->rounds > 1) {
            ref = *base;
            if (f->v[SK_PRIVATE] > ref.v[SK_PRIVATE])
                ref.v[SK_PRIVATE] = f->v[SK_PRIVATE];
        }
    }
    if (stress_compare(s, &ref, COMPARE_MS, f) != 0) {
        errmsg_prefix(&s->why, "after the last round");
        return -1;
    }
    return judge_counters(s, sc, base, f);
}

static int run_scenario(stress_ctx *s, const struct scenario *sc)
{
    stress_figs base, f;
    int rc;

    memset(&base, 0, sizeof base);
    memset(&f, 0, sizeof f);
    if (sc->whole != NULL)
        rc = sc->whole(s);
    else
        rc = run_rounds(s, sc, &base, &f);
    if (rc != 0)
        fprintf(stderr, "client: stress %s: FAIL: %s\n", sc->name, s->why.text);
    printf("scenario=%s result=%s conns=%u rounds=%u done=%llu seconds=%.1f", sc->name,
           rc == 0 ? "PASS" : "FAIL", s->conns, s->rounds, (unsigned long long)s->done,
           elapsed_s(s));
    if (sc->round != NULL && base.v[SK_PRIVATE] > 0)
        printf(" private_base=%llu private_end=%llu private_slack=%llu protocol_errors=%llu",
               (unsigned long long)base.v[SK_PRIVATE], (unsigned long long)f.v[SK_PRIVATE],
               (unsigned long long)stress_private_slack(&base),
               (unsigned long long)(f.v[SK_PROTO_ERRORS] - base.v[SK_PROTO_ERRORS]));
    printf("\n");
    fflush(stdout);
    return rc == 0 ? 0 : 1;
}

int cmd_stress(const client_ctx *cx)
{
    const client_opts *o = cx->opts;
    stress_ctx s;
    size_t i;

    if (strcmp(o->scenario, "kill-child") == 0)
        return stress_kill_child(cx);
    for (i = 0; i < SCENARIO_COUNT; i++)
        if (strcmp(o->scenario, scenarios[i].name) == 0)
            break;
    if (i == SCENARIO_COUNT) {
        fprintf(stderr, "client: stress: unknown scenario \"%s\"\n", o->scenario);
        return 2;
    }
    memset(&s, 0, sizeof s);
    s.cx = cx;
    s.o = o;
    s.conns = o->conns_given ? o->conns : scenarios[i].conns;
    s.rounds = scenarios[i].round == NULL ? 0 : o->rounds > 0 ? o->rounds : scenarios[i].rounds;
    s.start_ms = plat_now_ms();
    return run_scenario(&s, &scenarios[i]);
}
