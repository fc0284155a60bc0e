/* compare_stats.c - a cell of the compare command (one server x one
 * scenario) over its --repeat runs: each run's figures, then the median,
 * min and max of each figure. A cell any of whose runs failed keeps no
 * figure at all: a median of the runs that passed would hide the failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compare.h"

/* The row's figures in enum compare_fig order (-1: not measured). */
static void figures_of(const compare_row *r, double fig[FIG_COUNT])
{
    fig[FIG_ATTEMPTED] = (double)r->attempted;
    fig[FIG_HELD] = (double)r->held;
    fig[FIG_FPS] = r->fps;
    fig[FIG_MIB_S] = r->mib_s;
    fig[FIG_P50] = r->p50_ms;
    fig[FIG_P99] = r->p99_ms;
    fig[FIG_MAX] = r->max_ms;
    fig[FIG_ERRORS] = (double)r->errors;
    fig[FIG_REFUSED] = (double)r->failed_conns;
    fig[FIG_THREADS] = (double)r->threads;
    fig[FIG_WS] = r->ws_mib;
    fig[FIG_PRIVATE] = r->private_mib;
    fig[FIG_PER_CONN] = r->bytes_per_conn;
    fig[FIG_HANDLES] = (double)r->handles;
    fig[FIG_NONPAGED] = r->nonpaged_kib;
    fig[FIG_CPU] = (double)r->cpu_ms;
}

void compare_cell_add(compare_cell *c, const compare_row *row, uint64_t ms)
{
    if (c->runs == 0) {
        snprintf(c->server, sizeof c->server, "%s", row->server);
        c->sc = row->sc;
    }
    c->ms += ms;
    if (c->runs >= COMPARE_MAX_REPEAT)
        return;
    figures_of(row, c->fig[c->runs]);
    c->runs++;
    if (!row->ok && c->failed++ == 0)
        snprintf(c->note, sizeof c->note, "%s", row->note);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Median (of an even count: the mean of the two middle ones), min and max
 * of figure k over the runs that measured it. */
static void aggregate(compare_cell *c, int k)
{
    double v[COMPARE_MAX_REPEAT];
    unsigned i, n = 0;

    for (i = 0; i < c->runs; i++)
        if (c->fig[i][k] >= 0)
            v[n++] = c->fig[i][k];
    if (n == 0 || c->failed > 0) {
        c->med[k] = c->lo[k] = c->hi[k] = -1;
        return;
    }
    qsort(v, n, sizeof v[0], cmp_double);
    c->lo[k] = v[0];
    c->hi[k] = v[n - 1];
    c->med[k] = n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

void compare_cell_finish(compare_cell *c)
{
    int k;

    for (k = 0; k < FIG_COUNT; k++)
        aggregate(c, k);
}

int compare_ranges_overlap(const compare_cell *a, const compare_cell *b, int fig)
{
    return !(a->hi[fig] < b->lo[fig] || b->hi[fig] < a->lo[fig]);
}
