/* client.h - what every command of the client gets, and the commands. */
#ifndef CLIENT_H
#define CLIENT_H

#include "opts.h"
#include "plat.h"
#include "spawn.h"

typedef struct client_ctx {
    const client_opts *opts;
    plat_addr addr;          /* --host and --port (or the started server's port) */
    spawn_run *server;       /* the --server process, or NULL */
} client_ctx;

/* Each returns the exit status: 0 success, 1 failure. */
int cmd_send(const client_ctx *cx);
int cmd_stats(const client_ctx *cx);
int cmd_load(const client_ctx *cx);
int cmd_check(const client_ctx *cx);
int cmd_idle(const client_ctx *cx);
int cmd_compare(const client_ctx *cx);
int cmd_stress(const client_ctx *cx);
int cmd_flood(const client_ctx *cx);

#endif
