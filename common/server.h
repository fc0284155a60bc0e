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

/* Every thread's stack reserve (STACK_SIZE_PARAM_IS_A_RESERVATION): the
 * default 1 MiB reserve per thread caps thread counts; the deepest user
 * is the blocking model's connection thread, with a 16 KiB receive
 * buffer on its stack. */
#define SERVER_STACK (128u * 1024u)

/* How long the stop waits for connections and operations to end: SPEC
 * asks for a stop within 5 s. */
#define SERVER_STOP_MS 4000

/* How long an accept loop leaves the listener alone when the process is
 * out of sockets (WSAEMFILE, WSAENOBUFS). */
#define SERVER_ACCEPT_PAUSE_MS 100

typedef struct server {
    const server_model *model;
    server_options opt;
    stats st;
    session_env env;      /* handed to every session */
    stopper stop;
    SOCKET listener;
    char address[80];     /* "ADDR:PORT" as listening */
    counter_t failures;   /* server_fail() calls: the exit code is 1 */
} server;

int server_start(server *srv, const server_model *model, int argc, char **argv);

/* Closes the listening socket (once; safe to call again). */
void server_close_listener(server *srv);

/* Prints the final statistics and picks the exit code: 1 when the model
 * failed (run_result != 0), else 4 when anything the server opened is
 * still open, else 0. Call after every connection and thread is gone. */
int server_finish(server *srv, int run_result);

/* The model failed (a wait or a port broke): the server stops and exits 1. */
void server_fail(server *srv);

/* The main thread's wait while the model runs: until the stop event is
 * set. 0, or -1 when the wait itself failed (then server_fail). */
int server_wait_stop(server *srv);

/* The one policy for a failed accept (or AcceptEx), in every model:
 *   ACCEPT_NEXT   that peer gave up (WSAECONNRESET, or for AcceptEx
 *                 ERROR_NETNAME_DELETED), or nothing was there
 *                 (WSAEWOULDBLOCK): take the next one;
 *   ACCEPT_PAUSE  out of sockets (WSAEMFILE, WSAENOBUFS): leave the
 *                 listener alone for SERVER_ACCEPT_PAUSE_MS, then go on;
 *   ACCEPT_END    the stop closed the listener, or the error is fatal
 *                 (then logged, and server_fail). */
enum server_accept { ACCEPT_NEXT, ACCEPT_PAUSE, ACCEPT_END };
enum server_accept server_accept_failed(server *srv, int err);

/* Creates a thread with the SERVER_STACK reserve (counted as RES_THREAD). */
HANDLE server_thread(server *srv, LPTHREAD_START_ROUTINE fn, void *arg);

/* The processors the system reports (GetSystemInfo), for the models whose
 * thread count follows them (05, 06). */
int server_cpu_count(void);

/* Waits for a thread of server_thread() and closes its handle. */
void server_join(server *srv, HANDLE thread);

/* A zeroed block the server owns (counted as RES_BLOCK, so a leak shows
 * at exit); NULL after logging when memory is out. */
void *server_alloc(server *srv, size_t size);

/* Frees a block of server_alloc(); NULL is ignored. */
void server_free(server *srv, void *block);

/* A connection's books, opened and closed as one: its session (when
 * sess is not NULL; a model that makes sessions later, like 06, opens
 * those with session_init/session_free) and the connection counters of
 * STATS. Pair every server_conn_opened() with one server_conn_closed(). */
void server_conn_opened(server *srv, session *sess);
void server_conn_closed(server *srv, session *sess);

#endif
