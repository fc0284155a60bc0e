/* server.h - what all six servers do the same way around their model:
 * options, Winsock start-up, statistics, the stop machinery, the listening
 * socket, the "listening on" line, and the final report with its exit code.
 *
 *     server srv;
 *     int rc = server_start(&srv, &model, argc, argv);
 *     if (rc != SERVER_RUN) return rc;
 *     rc = ... the model: accept, receive, send, close, until srv.stop is set ...
 *     return server_finish(&srv, rc);
 */
#ifndef SERVER_H
#define SERVER_H

#include "log.h"
#include "net.h"
#include "options.h"
#include "session.h"
#include "stats.h"
#include "stop.h"

enum server_exit {
    SERVER_EXIT_OK = 0,
    SERVER_EXIT_FAILURE = 1,
    SERVER_EXIT_USAGE = 2,
    SERVER_EXIT_LEAK = 4,
    SERVER_RUN = -1   /* server_start succeeded: run the model */
};

typedef struct server {
    const server_model *model;
    server_options opt;
    stats st;
    session_env env;      /* handed to every session */
    stopper stop;
    SOCKET listener;
    char address[80];     /* "ADDR:PORT" as listening */
} server;

int server_start(server *srv, const server_model *model, int argc, char **argv);

/* Closes the listening socket (once; safe to call again). */
void server_close_listener(server *srv);

/* Prints the final statistics and picks the exit code: 1 when the model
 * failed (run_result != 0), else 4 when anything the server opened is
 * still open, else 0. Call after every connection and thread is gone. */
int server_finish(server *srv, int run_result);

/* An accept() failure in a blocking accept loop: 1 to go on after a
 * transient error, 0 to end the loop (the stop closed the listening
 * socket, or the error is fatal: then the server is told to stop). */
int server_accept_failed(server *srv, int err);

/* Creates a thread with a small stack reserve (counted as RES_THREAD). */
HANDLE server_thread(server *srv, LPTHREAD_START_ROUTINE fn, void *arg, size_t stack);

/* Waits for a thread of server_thread() and closes its handle. */
void server_join(server *srv, HANDLE thread);

#endif
