/* load.h - the load command's state, shared by cmd_load.c (the phases and
 * the report) and load_conn.c (what one connection does). Internal to the
 * client. */
#ifndef LOAD_H
#define LOAD_H

#include <stddef.h>
#include <stdint.h>

#include "errmsg.h"
#include "frame_buf.h"
#include "latency.h"
#include "opts.h"
#include "plat.h"

enum load_state {
    LC_IDLE,         /* not connected yet */
    LC_CONNECTING,
    LC_ACTIVE,
    LC_DONE,         /* every reply checked; closed, or held open for --abort-every */
    LC_FAILED        /* an error was counted; closed */
};

typedef struct load_conn {
    plat_sock sock;
    enum load_state state;
    uint32_t id;
    uint32_t next_send;      /* sequence number of the next frame to send */
    uint32_t next_recv;      /* sequence number of the next reply due */
    frame_buf in;
    unsigned char *out;      /* frames not yet accepted by send() */
    size_t out_len, out_sent;
    uint64_t *sent_us;       /* send time of each outstanding frame, by seq % pipeline */
    uint64_t deadline_ms;    /* connect deadline, then the no-progress deadline */
} load_conn;

typedef void (*load_sample_fn)(void *arg);

typedef struct load_run {
    const client_opts *opts;
    const plat_addr *addr;
    load_conn *conns;
    unsigned allocated;      /* conns[0, allocated) went through load_conn_alloc */
    plat_pollset *ps;        /* the connects in flight */
    size_t *slot_conn;       /* poll slot -> connection index */
    plat_watch *watch;       /* the connected ones, tagged with their index */
    uint64_t next_deadline_ms;   /* when traffic_step next checks the deadlines */
    unsigned char *expect;   /* scratch: the payload a reply must carry */
    size_t max_frame;        /* header + the largest payload of --size/--sizes */
    size_t out_cap;
    size_t in_cap;
    uint64_t send_until_ms;  /* --duration: no new frames after this; 0 with --msgs */
    uint64_t start_ms;       /* when the command started (for progress) */
    uint64_t traffic_start_us, traffic_end_us;
    uint64_t next_progress_ms;
    int progress_shown;      /* a progress line is on stderr without its "\n" */
    unsigned connected, active;
    uint64_t frames, bytes, errors, crosstalk;
    uint64_t errors_printed;
    int quiet_errors;
    latency_hist lat;
    unsigned connect_batch;  /* connects in flight at once (LOAD_CONNECT_BATCH) */
    load_sample_fn sample;   /* called about once a second during traffic, or NULL */
    void *sample_arg;
    uint64_t next_sample_ms;
} load_run;

/* What one load run measured (cmd_load prints it; compare tabulates it). */
typedef struct load_result {
    unsigned conns, connected;
    unsigned completed;      /* connections that got every reply they were due */
    uint64_t frames, bytes, errors, crosstalk;
    double seconds, fps, mib_s;
    double p50_ms, p99_ms, max_ms;
} load_result;

/* Options for load_measure beyond the command line's. */
typedef struct load_params {
    unsigned connect_batch;  /* 0: LOAD_CONNECT_BATCH; the burst scenario opens all at once */
    load_sample_fn sample;   /* e.g. compare reading the server's STATS meanwhile */
    void *sample_arg;
    int quiet_errors;        /* count errors without printing them */
} load_params;

/* The load command's core: connects, runs the traffic, fills res. Returns
 * 0 when every connection connected and every reply was right, 1 otherwise.
 * with_server: a --server runs, for --abort-every's settle check. */
int load_measure(const client_opts *o, const plat_addr *addr, const load_params *lp,
                 int with_server, load_result *res);

/* Prints "client: load: <message>" for the first errors and counts it. */
void load_error(load_run *r, const char *fmt, ...);

/* Per connection (load_conn.c). */
/* The payload size of frame seq of connection id: --sizes in turn,
 * starting at the id's own place in the list. */
size_t load_payload_size(const load_run *r, uint32_t id, uint32_t seq);
int load_conn_alloc(load_run *r, load_conn *c, uint32_t id);
void load_conn_free(load_conn *c);
void load_conn_fail(load_run *r, load_conn *c, const char *what, const char *why);
/* After connect: fill the pipeline and send. */
void load_conn_begin(load_run *r, load_conn *c);
/* The poll said the socket is ready for `revents`. */
void load_conn_ready(load_run *r, load_conn *c, int revents);
/* Watches an active connection for load_conn_events(c); one that is no
 * longer active was unwatched when it ended. */
void load_conn_watch(load_run *r, load_conn *c);
/* Fails the connection if its deadline has passed. */
void load_conn_check_deadline(load_run *r, load_conn *c, uint64_t now_ms);
/* Events to poll for: PLAT_IN, plus PLAT_OUT while frames wait to be sent. */
int load_conn_events(const load_conn *c);

#endif
