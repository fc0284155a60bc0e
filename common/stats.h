/* stats.h - the server's counters (SPEC section 1, STATS) and the objects
 * it holds open, safe to update from any thread.
 *
 * The counters are portable; stats_format() asks a platform function for
 * the process figures (threads, handles, memory), so the session code and
 * its tests also build natively. */
#ifndef STATS_H
#define STATS_H

#include <stddef.h>
#include <stdint.h>

#include "compat.h"

/* Objects a server opens; each must be back to 0 at exit (exit code 4). */
enum stats_resource {
    RES_SOCKET,
    RES_THREAD,
    RES_HANDLE,
    RES_BLOCK,    /* heap blocks owned by connections (sessions, contexts) */
    RES_COUNT
};

typedef struct stats {
    const char *model;
    uint64_t start_ms;
    int64_t max_clients;          /* the effective --max-clients */
    counter_t connections_current;
    counter_t connections_peak;
    counter_t connections_total;
    counter_t connections_refused;
    counter_t frames_in;
    counter_t frames_out;
    counter_t bytes_in;
    counter_t bytes_out;
    counter_t protocol_errors;
    counter_t open[RES_COUNT];
} stats;

/* The figures only the operating system knows. */
typedef struct stats_process {
    unsigned long pid;
    long threads;
    long handles;
    uint64_t working_set_bytes;
    uint64_t private_bytes;
    uint64_t nonpaged_pool_bytes;
    uint64_t cpu_user_ms;        /* CPU time of the whole process */
    uint64_t cpu_kernel_ms;
} stats_process;

void stats_init(stats *st, const char *model, uint64_t now_ms);
void stats_connection_opened(stats *st);
void stats_connection_closed(stats *st);
void stats_opened(stats *st, enum stats_resource res);
void stats_closed(stats *st, enum stats_resource res);

/* Number of objects of any kind still open. */
int64_t stats_open_total(stats *st);

/* The STATS text: `key=value\n` lines. Returns its length (< cap), cut at a
 * line boundary if cap is too small. */
size_t stats_format(stats *st, const stats_process *proc, uint64_t now_ms,
                    char *buf, size_t cap);

#endif
