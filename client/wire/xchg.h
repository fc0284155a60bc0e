/* xchg.h - request/reply exchanges shared by the commands and the checks:
 * one ECHO checked byte for byte, one STATS over its own connection. */
#ifndef XCHG_H
#define XCHG_H

#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "errmsg.h"
#include "plat.h"
#include "stats_text.h"

/* A malloc'ed ECHO frame (or other type) of len payload bytes; *frame_len
 * gets its size. NULL when out of memory. */
unsigned char *xchg_build(uint16_t type, const void *payload, uint32_t len, size_t *frame_len);

/* Reads one frame and checks it is byte-identical to want (a whole frame). */
int xchg_expect_frame(conn *c, const unsigned char *want, size_t want_len,
                      uint64_t deadline_ms, errmsg *e);

/* Sends an ECHO frame with payload and checks the reply is identical. */
int xchg_echo(conn *c, const void *payload, uint32_t len, uint64_t deadline_ms, errmsg *e);

/* One churn cycle i, as check and stress run them: connect, echo text
 * (not every 5th cycle: a connection that closes without a word), close
 * (every 3rd by reset). */
int xchg_churn_cycle(const plat_addr *addr, const char *text, unsigned i, size_t buf_cap,
                     uint64_t deadline_ms, errmsg *e);

/* Writes the header of an ECHO frame of len payload bytes at f. */
void xchg_put_echo_header(unsigned char *f, uint32_t len);

/* Big-endian 32-bit numbers in a payload, as load and idle frames carry
 * their connection id and sequence or round. */
void xchg_put_be32(unsigned char *p, uint32_t v);
uint32_t xchg_get_be32(const unsigned char *p);

/* Sends buf[*sent, len) until all of it is out or the socket is full,
 * advancing *sent: the non-blocking flush of load and idle, which poll
 * for PLAT_OUT and call it again. 0, or -1 with *err set. */
int xchg_send_pending(plat_sock s, const unsigned char *buf, size_t len, size_t *sent,
                      int *err);

/* Writes a short description of an unexpected frame into e, after what:
 * "what: got an ERROR frame \"server full\"". */
int xchg_unexpected(errmsg *e, const char *what, const frame *f);

/* Sends STATS on c and copies the reply's text (NUL-terminated) to text. */
int xchg_stats_on(conn *c, char *text, size_t cap, size_t *len, uint64_t deadline_ms,
                  errmsg *e);

/* STATS over a fresh connection, parsed strictly. */
int xchg_stats(const plat_addr *addr, unsigned timeout_ms, stats_text *st, errmsg *e);

#endif
