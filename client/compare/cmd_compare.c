/* cmd_compare.c - the compare command: which servers, which scenarios, a
 * progress line while each runs, then the report (compare_report.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compare.h"

#define COMPARE_PATH_MAX 1024
#define COMPARE_CMD_MAX (2 * COMPARE_PATH_MAX + 8)   /* launcher, space, path */

/* The models in folder order (SPEC section 2). */
static const char *const models[COMPARE_MAX_SERVERS] = {
    "blocking", "select", "eventselect", "overlapped_event", "completion_routine", "iocp"
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

/* Every pair in turn, one progress line each on stderr. */
static unsigned run_all(const client_opts *o, const compare_plan *pl, compare_row *rows)
{
    unsigned s, k, n = 0;
    uint64_t t0 = plat_now_ms();

    for (s = 0; s < pl->servers; s++)
        for (k = 0; k < pl->scenarios; k++, n++) {
            fprintf(stderr, "compare: [%u/%u] %.0f s: %s, %s ...\n", n + 1,
                    pl->servers * pl->scenarios, (double)(plat_now_ms() - t0) / 1000.0,
                    pl->model[s], pl->sc[k]->name);
            fflush(stderr);
            compare_run_one(o, pl->model[s], pl->cmd[s], pl->sc[k], &rows[n]);
            if (!rows[n].ok)
                fprintf(stderr, "compare: %s, %s: FAILED: %s\n", pl->model[s],
                        pl->sc[k]->name, rows[n].note);
        }
    return n;
}

/* The CSV and the charts under --out. */
static int write_files(const client_opts *o, const compare_row *rows, unsigned n)
{
    char path[COMPARE_PATH_MAX];
    int rc = 0;

    if (compare_mkdir(o->out_dir) != 0) {
        fprintf(stderr, "client: compare: cannot create %s\n", o->out_dir);
        return -1;
    }
    snprintf(path, sizeof path, "%s/compare.csv", o->out_dir);
    rc |= compare_write_csv(path, rows, n);
    snprintf(path, sizeof path, "%s/compare.svg", o->out_dir);
    rc |= compare_write_fps_svg(path, rows, n);
    snprintf(path, sizeof path, "%s/compare_idle.svg", o->out_dir);
    rc |= compare_write_idle_svg(path, rows, n);
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
    static compare_row rows[COMPARE_MAX_ROWS];
    unsigned n, i, failed = 0;

    memset(&pl, 0, sizeof pl);
    if (plan_servers(o, &pl) != 0 || plan_scenarios(o, &pl) != 0)
        return 1;
    n = run_all(o, &pl, rows);
    compare_print_table(rows, n);
    for (i = 0; i < n; i++)
        failed += !rows[i].ok;
    if (write_files(o, rows, n) != 0)
        return 1;
    if (failed > 0)
        fprintf(stderr, "compare: %u of %u runs failed (see the notes column)\n", failed, n);
    return failed > 0 ? 1 : 0;
}
