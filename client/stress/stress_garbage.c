/* stress_garbage.c - garbage streams: each connection sends some valid
 * ECHO frames, then bytes that break the protocol in one of five ways
 * (random bytes, an unknown type, a length above 65536, a STATS with a
 * payload or an ERROR from the client, a frame cut short by FIN), then
 * half-closes. The server must echo the valid frames, send one ERROR frame
 * (none for the cut frame, SPEC rule 3), close, and count one protocol
 * error per connection. The streams come from a fixed seed, so a failure
 * can be replayed. */
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "stress.h"
#include "xchg.h"

#define GARBAGE_MAX 8192u       /* random bytes after the valid frames */
#define VALID_MAX 4u            /* valid frames before the garbage */
#define VALID_SIZE_MAX 4096u
#define STREAM_CAP (VALID_MAX * (PROTO_HEADER_SIZE + VALID_SIZE_MAX) + GARBAGE_MAX + 64u)

enum garbage_kind { GK_RANDOM, GK_BAD_TYPE, GK_TOO_LONG, GK_BAD_REQUEST, GK_CUT, GK_COUNT };

static uint32_t rng_next(uint32_t *x)   /* xorshift32 */
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

static size_t random_bytes(unsigned char *p, size_t n, uint32_t *x)
{
    size_t i;

    for (i = 0; i < n; i++)
        p[i] = (unsigned char)(rng_next(x) >> 24);
    return n;
}

/* The bad part after the valid frames; returns its length. */
static size_t bad_part(unsigned char *p, enum garbage_kind kind, unsigned i, uint32_t *x)
{
    size_t tail = 8 + rng_next(x) % (GARBAGE_MAX - 64);
    proto_header h;

    h.flags = 0;
    h.length = 0;
    h.type = PROTO_ECHO;
    if (kind == GK_RANDOM) {
        random_bytes(p, tail, x);
        p[7] |= 1;   /* flags not 0: a protocol error, whatever the rest says */
        return tail;
    }
    if (kind == GK_BAD_TYPE)
        h.type = (uint16_t)(4 + rng_next(x) % 0xfff0u);
    else if (kind == GK_TOO_LONG)
        h.length = PROTO_MAX_PAYLOAD + 1 + rng_next(x) % 0x7fffffffu;
    else if (kind == GK_BAD_REQUEST) {
        h.type = (uint16_t)((i / GK_COUNT) % 2 == 0 ? PROTO_STATS : PROTO_ERROR);
        h.length = 5;
    } else {   /* GK_CUT: a frame whose payload never ends before the FIN */
        h.length = (uint32_t)tail + 1 + rng_next(x) % 1000;
    }
    proto_header_encode(&h, p);
    return PROTO_HEADER_SIZE + random_bytes(p + PROTO_HEADER_SIZE, tail, x);
}

/* Builds connection i's stream; *valid_len gets the length of its valid
 * frames, which must come back as they are. */
static size_t build_stream(unsigned char *p, unsigned round, unsigned i, size_t *valid_len)
{
    uint32_t x = 0x9e3779b9u ^ (round * 100003u + i * 7919u + 1u);
    unsigned k, valid = (unsigned)(rng_next(&x) % (VALID_MAX + 1));
    size_t len = 0;

    for (k = 0; k < valid; k++)
        len += stress_echo_frame(p + len, 8 + rng_next(&x) % (VALID_SIZE_MAX - 8), i, k);
    *valid_len = len;
    return len + bad_part(p + len, (enum garbage_kind)(i % GK_COUNT), i, &x);
}

/* Reads until the server closes: the valid frames' echoes, then one ERROR
 * frame when want_error, nothing else. */
static int read_verdict(stress_ctx *s, conn *c, const unsigned char *stream, size_t valid_len,
                        int want_error)
{
    uint64_t deadline = stress_deadline(s);
    size_t off = 0;
    int got_error = 0;
    frame f;
    int rc;

    while ((rc = conn_read_frame(c, &f, deadline, &s->why)) == 1) {
        if (got_error)
            return errmsg_set(&s->why, "a frame after the ERROR frame");
        if (f.header.type == PROTO_ERROR) {
            got_error = 1;
            continue;
        }
        if (off + f.raw_len > valid_len || memcmp(f.raw, stream + off, f.raw_len) != 0)
            return errmsg_set(&s->why, "a reply that is not the echo of the valid frame at "
                              "byte %lu", (unsigned long)off);
        off += f.raw_len;
    }
    if (rc < 0)
        return -1;
    if (off != valid_len)
        return errmsg_set(&s->why, "%lu of the %lu bytes of valid frames came back before the "
                          "close", (unsigned long)off, (unsigned long)valid_len);
    if (got_error != want_error)
        return errmsg_set(&s->why, want_error ? "closed without an ERROR frame"
                                              : "an ERROR frame for a frame cut by FIN");
    return 0;
}

static int garbage_conn(stress_ctx *s, unsigned round, unsigned i, unsigned char *stream)
{
    size_t valid_len = 0;
    size_t len = build_stream(stream, round, i, &valid_len);
    conn c;
    int rc;

    if (conn_open(&c, &s->cx->addr, 0, stress_deadline(s), &s->why) != 0)
        return -1;
    rc = conn_send_all(&c, stream, len, stress_deadline(s), &s->why);
    if (rc == 0)
        rc = conn_shutdown(&c, &s->why);
    if (rc == 0)
        rc = read_verdict(s, &c, stream, valid_len, i % GK_COUNT != GK_CUT);
    conn_close(&c);
    return rc;
}

int stress_round_garbage(stress_ctx *s, unsigned round)
{
    unsigned char *stream = (unsigned char *)malloc(STREAM_CAP);
    unsigned i;
    int rc = 0;

    if (stream == NULL)
        return errmsg_set(&s->why, "out of memory");
    for (i = 0; i < s->conns && rc == 0; i++)
        if ((rc = garbage_conn(s, round, i, stream)) != 0)
            errmsg_prefix(&s->why, "connection %u (kind %u)", i, i % GK_COUNT);
    free(stream);
    s->done += s->conns;
    s->proto_errors_due += s->conns;
    return rc;
}
