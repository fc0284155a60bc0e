/* cmd_compare.c - the compare command: which servers, which scenarios,
 * --repeat rounds of every cell with a progress line before each run, then
 * the report (compare_report.c) of each cell's medians and ranges. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compare.h"

#define COMPARE_PATH_MAX 1024
#define COMPARE_CMD_MAX (2 * COMPARE_PATH_MAX + 8)   /* launcher, space, path */

/* The models in folder order (SPEC section 2). */
static const char *const models[COMPARE_MAX_SERVERS] = {
    "blocking", "select", "eventselect", "overlapped_event", "completion_routine", "iocp",
    "asyncselect", "threadpool"
};

typedef struct compare_plan {
    const char *model[COMPARE_MAX_SERVERS];
    char cmd[COMPARE_MAX_SERVERS][COMPARE_CMD_MAX];
    unsigned servers;
    const compare_scenario *sc[COMPARE_MAX_SCENARIOS];
    unsigned scenarios;
} compare_plan;

static int file_exists(const char *path)
{
    FILE *f = fopen(path, "rb");

    if (f == NULL)
        return 0;
    fclose(f);
    return 1;
}

/* DIR/MODEL_server.exe, else DIR/MODEL_server; 0 when neither exists. */
static int server_path(const char *dir, const char *model, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s_server.exe", dir, model);
    if (file_exists(buf))
        return 1;
    snprintf(buf, cap, "%s/%s_server", dir, model);
    return file_exists(buf);
}

/* Whether NAME is in a comma-separated LIST (NULL: everything is). */
static int in_list(const char *list, const char *name)
{
    size_t len = strlen(name);
    const char *p = list;
    unsigned guard;

    if (list == NULL)
        return 1;
    for (guard = 0; guard < 64 && p != NULL; guard++) {
        if (strncmp(p, name, len) == 0 && (p[len] == ',' || p[len] == '\0'))
            return 1;
        p = strchr(p, ',');
        if (p != NULL)
            p++;
    }
    return 0;
}

/* Every name of LIST must be one of the known ones: a typo must not
 * silently shrink the comparison. */
static int check_list(const char *what, const char *list, const char *const *known,
                      unsigned count)
{
    const char *p = list;
    unsigned guard, i;

    for (guard = 0; guard < 64 && p != NULL && *p != '\0'; guard++) {
        size_t len = strcspn(p, ",");
        int found = 0;

        for (i = 0; i < count; i++)
            found |= strlen(known[i]) == len && strncmp(known[i], p, len) == 0;
        if (!found) {
            fprintf(stderr, "client: compare: unknown %s \"%.*s\"\n", what, (int)len, p);
            return -1;
        }
        p = p[len] == ',' ? p + len + 1 : NULL;
    }
    return 0;
}

static int plan_servers(const client_opts *o, compare_plan *pl)
{
    char path[COMPARE_PATH_MAX];
    unsigned i;

    if (o->servers != NULL && check_list("server", o->servers, models, COMPARE_MAX_SERVERS) != 0)
        return -1;
    for (i = 0; i < COMPARE_MAX_SERVERS; i++) {
        if (!in_list(o->servers, models[i]))
            continue;
        if (!server_path(o->bin_dir, models[i], path, sizeof path)) {
            if (o->servers != NULL) {   /* asked for by name: its absence is an error */
                fprintf(stderr, "client: compare: no %s_server(.exe) in %s\n", models[i],
                        o->bin_dir);
                return -1;
            }
            continue;
        }
        pl->model[pl->servers] = models[i];
        snprintf(pl->cmd[pl->servers], COMPARE_CMD_MAX, "%s%s%s", o->launcher,
                 o->launcher[0] != '\0' ? " " : "", path);
        pl->servers++;
    }
    if (pl->servers == 0)
        fprintf(stderr, "client: compare: no *_server(.exe) found in %s\n", o->bin_dir);
    return pl->servers > 0 ? 0 : -1;
}

static int plan_scenarios(const client_opts *o, compare_plan *pl)
{
    const char *names[COMPARE_MAX_SCENARIOS];
    unsigned i;

    for (i = 0; i < COMPARE_MAX_SCENARIOS; i++)
        names[i] = compare_scenario_at(i, o->quick)->name;
    if (o->scenarios != NULL
        && check_list("scenario", o->scenarios, names, COMPARE_MAX_SCENARIOS) != 0)
        return -1;
    for (i = 0; i < COMPARE_MAX_SCENARIOS; i++)
        if (in_list(o->scenarios, names[i]))
            pl->sc[pl->scenarios++] = compare_scenario_at(i, o->quick);
    return pl->scenarios > 0 ? 0 : -1;
}

/* Where the run is, for the progress line. */
typedef struct compare_progress {
    uint64_t t0;                 /* when the first run started */
    unsigned cell, cells;        /* this cell (0-based) and how many */
    unsigned round, rounds;      /* this round (0-based) and --repeat */
} compare_progress;

static unsigned repeat_of(const client_opts *o)
{
    if (o->repeat > 0)
        return o->repeat;
    return o->quick ? 1u : 3u;
}

/* About how long the runs not yet done take, in ms: a cell that has run
 * counts its own mean time per run, one that has not the mean of all the
 * runs so far; -1 before the first run ends. */
static double left_ms(const compare_cell *cells, const compare_progress *pg)
{
    uint64_t total = 0;
    unsigned i, done = pg->round * pg->cells + pg->cell;
    double mean, left = 0;

    if (done == 0)
        return -1;
    for (i = 0; i < pg->cells; i++)
        total += cells[i].ms;
    mean = (double)total / done;
    for (i = 0; i < pg->cells; i++) {
        const compare_cell *c = &cells[i];

        left += (double)(pg->rounds - c->runs) * (c->runs > 0 ? (double)c->ms / c->runs : mean);
    }
    return left;
}

/* "about 45 s left", "about 12 min left": the estimate as the progress
 * line shows it. */
static const char *duration_text(double ms, char *buf, size_t cap)
{
    if (ms < 0)
        snprintf(buf, cap, "time left not known yet");
    else if (ms < 120000)
        snprintf(buf, cap, "about %.0f s left", ms / 1000.0);
    else
        snprintf(buf, cap, "about %.0f min left", ms / 60000.0);
    return buf;
}

static void print_progress(const compare_cell *cells, const compare_progress *pg,
                           const char *model, const char *scenario)
{
    char left[40];

    fprintf(stderr, "compare: cell %u of %u, round %u of %u, %.0f s elapsed, %s: "
            "%s, %s ...\n", pg->cell + 1, pg->cells, pg->round + 1, pg->rounds,
            (double)(plat_now_ms() - pg->t0) / 1000.0,
            duration_text(left_ms(cells, pg), left, sizeof left), model, scenario);
    fflush(stderr);
}

/* One run of cell i (server i / scenarios, scenario i % scenarios). */
static void run_cell(const client_opts *o, const compare_plan *pl, compare_cell *cells,
                     const compare_progress *pg)
{
    static compare_row row;   /* one run at a time */
    const char *model = pl->model[pg->cell / pl->scenarios];
    const compare_scenario *sc = pl->sc[pg->cell % pl->scenarios];
    uint64_t t;

    print_progress(cells, pg, model, sc->name);
    t = plat_now_ms();
    compare_run_one(o, model, pl->cmd[pg->cell / pl->scenarios], sc, &row);
    compare_cell_add(&cells[pg->cell], &row, plat_now_ms() - t);
    if (!row.ok)
        fprintf(stderr, "compare: %s, %s, round %u: FAILED: %s\n", model, sc->name,
                pg->round + 1, row.note);
}

/* Round by round, every cell once in each (every scenario of every
 * server), so that drift over the run hits every server alike. */
static unsigned run_all(const client_opts *o, const compare_plan *pl, compare_cell *cells)
{
    compare_progress pg;

    memset(&pg, 0, sizeof pg);
    pg.t0 = plat_now_ms();
    pg.cells = pl->servers * pl->scenarios;
    pg.rounds = repeat_of(o);
    for (pg.round = 0; pg.round < pg.rounds; pg.round++)
        for (pg.cell = 0; pg.cell < pg.cells; pg.cell++)
            run_cell(o, pl, cells, &pg);
    for (pg.cell = 0; pg.cell < pg.cells; pg.cell++)
        compare_cell_finish(&cells[pg.cell]);
    return pg.cells;
}

/* The CSV and the charts under --out. */
static int write_files(const client_opts *o, const compare_cell *cells, unsigned n)
{
    char path[COMPARE_PATH_MAX];
    int rc = 0;

    if (compare_mkdir(o->out_dir) != 0) {
        fprintf(stderr, "client: compare: cannot create %s\n", o->out_dir);
        return -1;
    }
    snprintf(path, sizeof path, "%s/compare.csv", o->out_dir);
    rc |= compare_write_csv(path, cells, n);
    snprintf(path, sizeof path, "%s/compare.svg", o->out_dir);
    rc |= compare_write_fps_svg(path, cells, n);
    snprintf(path, sizeof path, "%s/compare_idle.svg", o->out_dir);
    rc |= compare_write_idle_svg(path, cells, n);
    if (rc != 0)
        fprintf(stderr, "client: compare: could not write every file in %s\n", o->out_dir);
    else
        fprintf(stderr, "compare: wrote %s/compare.csv, compare.svg, compare_idle.svg\n",
                o->out_dir);
    return rc;
}

int cmd_compare(const client_ctx *cx)
{
    const client_opts *o = cx->opts;
    static compare_plan pl;
    static compare_cell cells[COMPARE_MAX_ROWS];
    unsigned n, i, failed = 0, runs = 0, bad_cells = 0;

    memset(&pl, 0, sizeof pl);
    memset(cells, 0, sizeof cells);
    if (plan_servers(o, &pl) != 0 || plan_scenarios(o, &pl) != 0)
        return 1;
    n = run_all(o, &pl, cells);
    compare_print_table(cells, n, repeat_of(o));
    for (i = 0; i < n; i++) {
        failed += cells[i].failed;
        runs += cells[i].runs;
        bad_cells += cells[i].failed > 0;
    }
    if (write_files(o, cells, n) != 0)
        return 1;
    if (failed > 0)
        fprintf(stderr, "compare: %u of %u runs failed, in %u of %u cells (see the notes "
                "column)\n", failed, runs, bad_cells, n);
    return failed > 0 ? 1 : 0;
}
