/* compare.h - the compare command (the project's issue 6): every model's
 * server against the same scenarios, as the book's comparison table did.
 * cmd_compare.c picks the servers and scenarios, compare_run.c runs one
 * server through one scenario, compare_report.c writes the table, the CSV
 * and the SVG charts. Internal to the client. */
#ifndef COMPARE_H
#define COMPARE_H

#include <stdint.h>

#include "client.h"

#define COMPARE_MAX_SERVERS 8
#define COMPARE_MAX_SCENARIOS 6
#define COMPARE_MAX_ROWS (COMPARE_MAX_SERVERS * COMPARE_MAX_SCENARIOS)

typedef enum compare_kind { SC_LOAD, SC_IDLE, SC_BURST } compare_kind;

typedef struct compare_scenario {
    const char *name;
    compare_kind kind;
    unsigned conns;          /* idle: the most to hold (the server may hold fewer) */
    unsigned size;
    unsigned pipeline;
} compare_scenario;

/* One server x scenario: what the client measured and what the server's
 * STATS said (before, during and after). -1 marks a figure not measured. */
typedef struct compare_row {
    char server[32];
    const compare_scenario *sc;
    int ok;                  /* the scenario passed and the server exited 0 */
    char note[96];           /* why not ok, short */
    unsigned attempted, held;
    double fps, mib_s, p50_ms, p99_ms, max_ms;
    uint64_t errors;
    long failed_conns;       /* burst: refused or stalled connects; idle: refused */
    long threads;            /* peak seen */
    double ws_mib, private_mib;   /* peak seen during the scenario */
    double bytes_per_conn;   /* idle: private bytes per held connection */
    long handles;
    double nonpaged_kib;
    long cpu_ms;             /* server CPU time (user + kernel) over the scenario */
} compare_row;

/* The figures of a row as numbers, in the table's column order (FIG_COUNT
 * of them, between scenario and result); -1: not measured. */
enum compare_fig {
    FIG_ATTEMPTED, FIG_HELD, FIG_FPS, FIG_MIB_S, FIG_P50, FIG_P99, FIG_MAX, FIG_ERRORS,
    FIG_REFUSED, FIG_THREADS, FIG_WS, FIG_PRIVATE, FIG_PER_CONN, FIG_HANDLES, FIG_NONPAGED,
    FIG_CPU, FIG_COUNT
};

#define COMPARE_MAX_REPEAT OPTS_MAX_REPEAT

/* One server x scenario over its --repeat runs: each run's figures, then
 * (compare_cell_finish) the median, min and max of each over the runs. */
typedef struct compare_cell {
    char server[32];
    const compare_scenario *sc;
    unsigned runs, failed;   /* runs done; runs that failed */
    char note[96];           /* the first failed run's note */
    double fig[COMPARE_MAX_REPEAT][FIG_COUNT];
    double med[FIG_COUNT], lo[FIG_COUNT], hi[FIG_COUNT];   /* -1: not measured */
    uint64_t ms;             /* wall time of the runs so far */
} compare_cell;

/* compare_stats.c: a run into its cell, the cell's medians and ranges. */
void compare_cell_add(compare_cell *c, const compare_row *row, uint64_t ms);
void compare_cell_finish(compare_cell *c);
/* Whether the ranges of figure fig of a and b overlap (both finished). */
int compare_ranges_overlap(const compare_cell *a, const compare_cell *b, int fig);

/* The scenarios by name; NULL if unknown. */
const compare_scenario *compare_find_scenario(const char *name, int quick);
const compare_scenario *compare_scenario_at(unsigned i, int quick);

/* Starts the server fresh, runs the scenario, stops it; fills row. */
void compare_run_one(const client_opts *o, const char *model, const char *server_cmd,
                     const compare_scenario *sc, compare_row *row);

/* The report of finished cells; repeat: the runs asked for each. */
void compare_print_table(const compare_cell *cells, unsigned n, unsigned repeat);
int compare_write_csv(const char *path, const compare_cell *cells, unsigned n);
int compare_write_fps_svg(const char *path, const compare_cell *cells, unsigned n);
int compare_write_idle_svg(const char *path, const compare_cell *cells, unsigned n);
/* Creates the directory if it does not exist; 0 or -1. */
int compare_mkdir(const char *dir);

#endif
