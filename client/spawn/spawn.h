/* spawn.h - the --server option: start a server of the suite on a free
 * port, learn the port from its first line, stop it through its stop event
 * (SIGINT on POSIX) and judge how it ended (SPEC sections 2 and 3). */
#ifndef SPAWN_H
#define SPAWN_H

#include <stdint.h>
#include <stdio.h>

#include "errmsg.h"
#include "plat.h"
#include "stats_text.h"

#define SPAWN_START_TIMEOUT_MS 20000u
#define SPAWN_STOP_TIMEOUT_MS 15000u

typedef struct spawn_run {
    plat_child *child;
    unsigned port;
    char stop_name[64];
    int stopped;             /* spawn_stop ran; its outcome is below */
    int stop_rc;
    errmsg stop_why;
    unsigned long exit_code;
    uint64_t stop_ms;        /* from SetEvent (or SIGINT) to the process's exit */
    int final_judged;        /* the stop check already judged the final statistics */
    int kill_at_stop;        /* no stop machinery (a minimal.c): terminate it */
} spawn_run;

/* Runs "command --port 0 --stop-event NAME extra_args" (no --stop-event on
 * POSIX: see plat_child_stop_args) and waits for its
 * `listening on ADDR:PORT` line. 0, or -1 with e set (nothing left running). */
int spawn_start(spawn_run *s, const char *command, const char *extra_args, errmsg *e);

/* Sets the stop event (POSIX: sends SIGINT) and waits up to SPAWN_STOP_TIMEOUT_MS; a server that
 * does not exit is terminated. 0 when it exited with code 0. A second call
 * returns the first call's outcome. */
int spawn_stop(spawn_run *s, errmsg *e);

/* The final statistics the server printed after its first line. */
int spawn_final_stats(spawn_run *s, stats_text *st, errmsg *e);

/* Copies the server's standard output after its first line to f, each line
 * prefixed with "server: ". */
void spawn_print_output(spawn_run *s, FILE *f);

/* Terminates the server if still running and frees everything. */
void spawn_free(spawn_run *s);

#endif
