/* compare.h - the compare command (the project's issue 6): every model's
 * server against the same scenarios, as the book's comparison table did.
 * cmd_compare.c picks the servers and scenarios, compare_run.c runs one
 * server through one scenario, compare_report.c writes the table, the CSV
 * and the SVG charts. Internal to the client. */
#ifndef COMPARE_H
#define COMPARE_H

#include <stdint.h>

#include "client.h"

#define COMPARE_MAX_SERVERS 6
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

/* The scenarios by name; NULL if unknown. */
const compare_scenario *compare_find_scenario(const char *name, int quick);
const compare_scenario *compare_scenario_at(unsigned i, int quick);

/* Starts the server fresh, runs the scenario, stops it; fills row. */
void compare_run_one(const client_opts *o, const char *model, const char *server_cmd,
                     const compare_scenario *sc, compare_row *row);

void compare_print_table(const compare_row *rows, unsigned n);
int compare_write_csv(const char *path, const compare_row *rows, unsigned n);
int compare_write_fps_svg(const char *path, const compare_row *rows, unsigned n);
int compare_write_idle_svg(const char *path, const compare_row *rows, unsigned n);
/* Creates the directory if it does not exist; 0 or -1. */
int compare_mkdir(const char *dir);

#endif
