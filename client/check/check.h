/* check.h - the conformance battery (client check): shared helpers and
 * the checks, one function each. Internal to the client.
 *
 * Every check opens its own connections, bounds every wait by --timeout
 * (or a stated shorter limit) and returns PASS, FAIL with k->why set, or
 * SKIP with k->why saying why. */
#ifndef CHECK_H
#define CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "client.h"
#include "conn.h"
#include "errmsg.h"
#include "stats_text.h"

typedef enum check_result {
    CHECK_PASS,
    CHECK_FAIL,
    CHECK_SKIP
} check_result;

typedef struct check_ctx {
    const plat_addr *addr;
    unsigned timeout_ms;
    spawn_run *server;       /* NULL without --server */
    const char *server_cmd;  /* --server's command, for a check that needs its own */
    const char *host;        /* --host */
    errmsg why;
} check_ctx;

typedef check_result (*check_fn)(check_ctx *k);

/* Helpers (check.c). */
check_result ck_fail(check_ctx *k, const char *fmt, ...);
/* FAIL with the message already in k->why, prefixed by context. */
check_result ck_fail_why(check_ctx *k, const char *context);
uint64_t ck_deadline(const check_ctx *k);
int ck_open(check_ctx *k, conn *c, size_t buf_cap);
/* A STATS over a fresh connection; one counter from it. */
int ck_stats(check_ctx *k, stats_text *st);
int ck_counter(check_ctx *k, const char *key, uint64_t *value);
/* Polls STATS (every 100 ms, up to wait_ms) until key reaches want; 0 when
 * it then equals want, else -1 with k->why saying what it was. */
int ck_await_counter(check_ctx *k, const char *key, uint64_t want, unsigned wait_ms);
/* Waits up to 3 s for connections_current to come down to 1 (the STATS
 * connection itself), so that earlier checks' closes are counted; returns
 * the last STATS in *st. */
int ck_settle(check_ctx *k, stats_text *st);
/* Fills buf with bytes derived from seed and the position. */
void ck_pattern(unsigned char *buf, size_t len, unsigned seed);
/* Reads one reply on each of n connections at once (in whatever order
 * they come) and compares it with want[i] (a whole frame). On failure
 * k->why names the connection. */
int ck_gather(check_ctx *k, conn *cs, size_t n, unsigned char *const *want,
              const size_t *want_len);
void ck_close_all(conn *cs, size_t n);

/* The checks. */
check_result check_stats(check_ctx *k);
check_result check_echo_sizes(check_ctx *k);
check_result check_split(check_ctx *k);
check_result check_coalesced(check_ctx *k);
check_result check_protocol_errors(check_ctx *k);
check_result check_half_close(check_ctx *k);
check_result check_partial_fin(check_ctx *k);
check_result check_reset_mid_frame(check_ctx *k);
check_result check_crosstalk(check_ctx *k);
check_result check_simultaneous(check_ctx *k);
check_result check_churn(check_ctx *k);
check_result check_backpressure(check_ctx *k);
check_result check_max_clients(check_ctx *k);
check_result check_stop_busy(check_ctx *k);
check_result check_stop(check_ctx *k);

#endif
