/* idle.h - the idle command's state, shared by cmd_idle.c (the phases,
 * the STATS and the report) and idle_conn.c (what one connection does).
 * Internal to the client. */
#ifndef IDLE_H
#define IDLE_H

#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "frame_buf.h"
#include "opts.h"
#include "plat.h"
#include "proto.h"
#include "stats_text.h"

#define IDLE_PAYLOAD 64u
#define IDLE_FRAME (PROTO_HEADER_SIZE + IDLE_PAYLOAD)
/* An echo reply or an ERROR frame (its reason is at most PROTO_REASON_MAX);
 * small, because 20,000 of them are allocated. */
#define IDLE_IN_CAP 256u

enum idle_state {
    IC_NEW,          /* no socket yet */
    IC_CONNECTING,
    IC_HELD,         /* connected, nothing outstanding: idle */
    IC_ECHOING,      /* an ECHO is out, its reply due */
    IC_REFUSED,      /* the server said "server full"; closed */
    IC_FAILED        /* an error was counted; closed */
};

typedef struct idle_conn {
    plat_sock sock;
    enum idle_state state;
    uint32_t id;
    unsigned echoed;         /* replies that matched their ECHO byte for byte */
    size_t out_sent;         /* bytes of out accepted by send() */
    uint64_t deadline_ms;    /* of the connect, then of the reply due (see
                                idle_conn_check_deadline) */
    frame_buf in;
    unsigned char out[IDLE_FRAME];   /* the ECHO frame of the current round */
} idle_conn;

typedef struct idle_run {
    const client_opts *opts;
    const plat_addr *addr;
    idle_conn *conns;
    unsigned allocated;      /* conns[0, allocated) went through idle_conn_alloc */
    plat_pollset *ps;
    size_t *slot_conn;       /* poll slot -> connection index */
    const char *phase;       /* for the progress line */
    unsigned first_open;     /* conns before it are past the opening (held or gone) */
    uint64_t start_ms;
    uint64_t progress_ms;    /* the last checked reply (or the round's start) */
    uint64_t next_progress_ms;
    int progress_shown;      /* a progress line is on stderr without its "\n" */
    unsigned connected, refused, echoing;
    uint64_t errors;
} idle_run;

/* What one idle run measured (cmd_idle prints it; compare tabulates it).
 * The STATS texts are large: keep this on the heap. */
typedef struct idle_result {
    stats_text base;          /* before any of the N connected */
    stats_text held;          /* while they were all held; count 0 if unread */
    unsigned conns;
    unsigned held_count;      /* connections held when that STATS was read */
    unsigned echoed;          /* held connections whose two echoes both came back */
    unsigned refused;         /* "server full" */
    uint64_t errors;
    double connect_seconds;   /* until all N were held (connected and echoed once) */
    unsigned long probe_done; /* --probe round trips made (0: none asked) */
    double probe_seconds, probe_p50_ms, probe_max_ms;
} idle_result;

/* The idle command's core: measures and fills res (zeroed first). 0 only
 * if all were held and echoed twice without any error. */
int idle_measure(const client_opts *o, const plat_addr *addr, idle_result *res);

/* --probe (idle_probe.c): o->probe ECHO round trips on the STATS
 * connection sc, one at a time; fills the probe_ fields of res. 0 or -1. */
int idle_probe(conn *sc, const client_opts *o, idle_result *res, errmsg *e);

/* Prints "client: idle: <message>" for the first errors and counts it. */
void idle_error(idle_run *r, const char *fmt, ...);
/* Ends a partial progress line on a terminal before other output. */
void idle_progress_clear(idle_run *r);

/* Per connection (idle_conn.c). */
int idle_conn_alloc(idle_conn *c, uint32_t id);
void idle_conn_free(idle_conn *c);
void idle_conn_fail(idle_run *r, idle_conn *c, const char *what);
/* Sends the ECHO of this round (a frame unique to connection and round). */
void idle_conn_echo(idle_run *r, idle_conn *c, uint32_t round);
/* Events to poll for while echoing: PLAT_IN, plus PLAT_OUT while unsent. */
int idle_conn_events(const idle_conn *c);
/* The poll said an echoing connection is ready for revents. */
void idle_conn_ready(idle_run *r, idle_conn *c, int revents);
/* Fails an echoing connection whose reply is overdue: --timeout after it
 * was sent and after the last reply of any connection. */
void idle_conn_check_deadline(idle_run *r, idle_conn *c, uint64_t now_ms);
/* The poll said a held (idle) connection is readable: nothing should come,
 * so whatever it is (data, FIN, reset) ends the connection. */
void idle_conn_woke(idle_run *r, idle_conn *c);

#endif
