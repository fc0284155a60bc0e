/* opts.h - the client's command line (SPEC section 3). */
#ifndef OPTS_H
#define OPTS_H

#include <stdio.h>

#include "errmsg.h"

/* Payload sizes --sizes accepts: enough for any interleaving a test wants,
 * small enough to live in the options. */
#define OPTS_MAX_SIZES 32
#define OPTS_MAX_REPEAT 20   /* compare --repeat: runs kept per cell */

typedef enum client_cmd {
    CMD_NONE,
    CMD_SEND,
    CMD_STATS,
    CMD_LOAD,
    CMD_CHECK,
    CMD_IDLE,
    CMD_COMPARE,
    CMD_STRESS,
    CMD_FLOOD
} client_cmd;

typedef struct client_opts {
    client_cmd cmd;
    int help;
    const char *host;
    unsigned port;
    unsigned timeout_ms;      /* per-operation deadline */
    const char *server;       /* "PROGRAM ARGS" to start, or NULL */
    int server_kill;          /* --server-stop kill: terminate it, judge nothing */
    /* load and idle */
    unsigned conns;
    unsigned long msgs;       /* per connection, when duration_ms is 0 */
    unsigned long duration_ms;
    unsigned size;            /* --size; sizes[0] too when --sizes is not given */
    unsigned sizes[OPTS_MAX_SIZES];   /* payload sizes a connection rotates through */
    unsigned size_count;      /* at least 1 */
    unsigned pipeline;
    unsigned abort_every;     /* 0, or every Nth connection ends with a reset */
    /* idle and flood */
    unsigned long idle_ms;    /* --seconds: how long the connections stay idle,
                                 or the flood sends without reading */
    unsigned long probe;      /* idle --probe: round trips while held, 0: none */
    /* compare */
    const char *bin_dir;      /* --bin: where the *_server(.exe) files are */
    const char *launcher;     /* --launcher: prefix of each server's command, or "" */
    const char *servers;      /* --servers: comma-separated models, or NULL: all found */
    const char *scenarios;    /* --scenarios: comma-separated names, or NULL: all */
    const char *out_dir;      /* --out (default "results") */
    int quick;                /* --quick: short durations, smaller counts */
    unsigned repeat;          /* --repeat: runs per cell, 0: 3 (1 with --quick) */
    /* check */
    const char *only;         /* comma-separated check names, or NULL */
    /* stress */
    const char *scenario;     /* --scenario NAME */
    unsigned rounds;          /* --rounds: measured rounds, 0: the scenario's default */
    int conns_given;          /* --conns was given (else the scenario's default) */
    const char *self;         /* argv[0]: the kill scenario starts this program again */
    /* send */
    char **texts;
    int text_count;
} client_opts;

/* 0, or -1 with the reason in e (a usage error: exit 2). */
int opts_parse(int argc, char **argv, client_opts *o, errmsg *e);
void opts_usage(FILE *f);

#endif
