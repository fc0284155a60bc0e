/* stop.h - the three ways a server is told to stop (SPEC section 2):
 * Ctrl+C, the --stop-event named event, and the --max-seconds deadline.
 * All three end in one manual-reset event that the model waits on or
 * polls, so each model has one thing to watch. */
#ifndef STOP_H
#define STOP_H

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include "options.h"
#include "stats.h"

typedef struct stopper {
    HANDLE event;     /* manual reset; set once the server must stop */
    HANDLE named;     /* the --stop-event, or NULL */
    HANDLE watcher;   /* waits for the named event or the deadline, or NULL */
    DWORD limit_ms;   /* --max-seconds in ms, or INFINITE */
    stats *st;
} stopper;

int stop_start(stopper *sp, const server_options *opt, stats *st);
void stop_request(stopper *sp);
int stop_requested(const stopper *sp);
void stop_finish(stopper *sp);

#endif
