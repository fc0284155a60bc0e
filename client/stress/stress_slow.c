/* stress_slow.c - a slow reader beside fast clients (SPEC rule 4).
 *
 * Phase A: --conns fast clients echo for --duration; their rate is the
 * reference. Then one connection sends 16 KiB frames and reads nothing,
 * until the server has accepted nothing for 2 s: it must stop reading
 * from that connection while its unsent replies are over the bound,
 * long before 64 MiB. Phase B: the fast clients again, beside the stalled
 * connection; they must keep at least a quarter of their rate, and the
 * server's private_bytes must stay within 16 MiB of its highest in phase A
 * (the fast clients cost what they cost: a thread each, about 1 MB under
 * Wine, in the blocking model; what is bounded is the slow reader). Then the
 * slow reader reads: every reply must come back, in order, byte for byte. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load.h"
#include "proto.h"
#include "stress.h"

#define SLOW_FRAME 16384u
#define SLOW_TAG 0x510e510eu
#define SLOW_SEND_CAP (64u * 1024u * 1024u)
#define SLOW_STALL_MS 2000u
#define SLOW_MEM_BOUND (16u * 1024u * 1024u)
#define SLOW_FPS_SHARE 4u
#define SLOW_DEFAULT_MS 3000u

typedef struct slow_reader {
    conn c;
    unsigned char frame[PROTO_HEADER_SIZE + SLOW_FRAME];
    unsigned char expect[PROTO_HEADER_SIZE + SLOW_FRAME];
    size_t off;            /* bytes of the current frame sent */
    uint32_t frames;       /* frames begun */
    uint64_t accepted;     /* bytes the server took */
} slow_reader;

/* Sends whole frames until the server has taken nothing for
 * SLOW_STALL_MS. 0 stalled; -1 failed or never stalled. */
static int slow_fill(stress_ctx *s, slow_reader *sl)
{
    uint64_t last = plat_now_ms();
    int err = 0;

    for (;;) {
        long n;

        if (sl->frames == 0 || sl->off == sizeof sl->frame) {
            if (sl->accepted >= SLOW_SEND_CAP)
                return errmsg_set(&s->why, "the server took %u MiB from a connection that "
                                  "reads no reply: it never stopped reading (no backpressure)",
                                  SLOW_SEND_CAP >> 20);
            stress_echo_frame(sl->frame, SLOW_FRAME, SLOW_TAG, sl->frames++);
            sl->off = 0;
        }
        n = plat_send(sl->c.sock, sl->frame + sl->off, sizeof sl->frame - sl->off, &err);
        if (n == PLAT_ERROR)
            return errmsg_sock(&s->why, "send", sl->c.peer, err);
        if (n > 0) {
            sl->off += (size_t)n;
            sl->accepted += (uint64_t)n;
            last = plat_now_ms();
        } else if (plat_now_ms() - last >= SLOW_STALL_MS)
            return 0;
        else if (conn_wait(&sl->c, PLAT_OUT, plat_now_ms() + 100, &s->why) < 0)
            return -1;
    }
}

/* One step of the drain: send the rest of the last frame, take what came. */
static int slow_drain_step(stress_ctx *s, slow_reader *sl, uint64_t deadline)
{
    int events = PLAT_IN | (sl->off < sizeof sl->frame ? PLAT_OUT : 0);
    int err = 0;
    int rc = conn_wait(&sl->c, events, deadline, &s->why);
    int rev;
    long n;

    if (rc <= 0)
        return rc < 0 ? -1 : errmsg_set(&s->why, "no progress within --timeout");
    rev = plat_pollset_revents(sl->c.ps, 0);
    if ((rev & PLAT_OUT) && sl->off < sizeof sl->frame) {
        n = plat_send(sl->c.sock, sl->frame + sl->off, sizeof sl->frame - sl->off, &err);
        if (n == PLAT_ERROR)
            return errmsg_sock(&s->why, "send", sl->c.peer, err);
        if (n > 0)
            sl->off += (size_t)n;
    }
    if (rev & (PLAT_IN | PLAT_HUP | PLAT_ERR)) {
        n = conn_fill(&sl->c, &s->why);
        if (n == PLAT_ERROR)
            return -1;
        if (n == 0)
            return errmsg_set(&s->why, "the server closed the slow connection");
    }
    return 0;
}

/* Reads every reply of the frames begun, checking each. */
static int slow_drain(stress_ctx *s, slow_reader *sl)
{
    uint64_t deadline = stress_deadline(s);
    uint32_t got = 0;
    frame f;
    int rc;

    while (got < sl->frames) {
        rc = frame_buf_take(&sl->c.in, &f, &s->why);
        if (rc < 0)
            return -1;
        if (rc == 0) {
            if (slow_drain_step(s, sl, deadline) != 0)
                return -1;
            continue;
        }
        stress_echo_frame(sl->expect, SLOW_FRAME, SLOW_TAG, got);
        if (f.raw_len != sizeof sl->expect || memcmp(f.raw, sl->expect, f.raw_len) != 0)
            return errmsg_set(&s->why, "reply %lu of the slow reader is not its frame %lu",
                              (unsigned long)got, (unsigned long)got);
        got++;
        deadline = stress_deadline(s);
    }
    return 0;
}

/* The fast clients; the sample hook records the highest private_bytes
 * the server shows meanwhile. */
struct slow_sample {
    stress_ctx *s;
    uint64_t max_private;
};

static void slow_sample_fn(void *arg)
{
    struct slow_sample *ss = (struct slow_sample *)arg;
    stress_figs f;

    if (stress_figures(ss->s, &f) == 0 && f.v[SK_PRIVATE] > ss->max_private)
        ss->max_private = f.v[SK_PRIVATE];
}

static int fast_clients(stress_ctx *s, struct slow_sample *ss, load_result *res)
{
    load_params lp;
    client_opts o = *s->o;

    o.conns = s->conns;
    o.msgs = 0;
    o.duration_ms = s->o->duration_ms > 0 ? s->o->duration_ms : SLOW_DEFAULT_MS;
    o.size = 64;
    o.sizes[0] = 64;
    o.size_count = 1;
    o.pipeline = 1;
    o.abort_every = 0;
    memset(&lp, 0, sizeof lp);
    lp.sample = slow_sample_fn;
    lp.sample_arg = ss;
    if (load_measure(&o, &s->cx->addr, &lp, 0, res) != 0)
        return errmsg_set(&s->why, "fast clients: %llu errors, %u of %u connected",
                          (unsigned long long)res->errors, res->connected, s->conns);
    return 0;
}

/* The judgment of phase B against phase A. */
static int slow_judge(stress_ctx *s, const load_result *a, const load_result *b,
                      uint64_t max_a, uint64_t max_b)
{
    if (b->fps * SLOW_FPS_SHARE < a->fps)
        return errmsg_set(&s->why, "beside the slow reader the fast clients made %.0f frames/s, "
                          "less than a quarter of %.0f without it", b->fps, a->fps);
    if (max_b > max_a + SLOW_MEM_BOUND)
        return errmsg_set(&s->why, "private_bytes reached %llu beside the slow reader, more "
                          "than %llu (without it) + %u MiB", (unsigned long long)max_b,
                          (unsigned long long)max_a, SLOW_MEM_BOUND >> 20);
    return 0;
}

static int slow_phases(stress_ctx *s, slow_reader *sl)
{
    struct slow_sample sa, sb;
    load_result a, b;
    stress_figs base, f;

    memset(&sa, 0, sizeof sa);
    memset(&sb, 0, sizeof sb);
    sa.s = sb.s = s;
    if (fast_clients(s, &sa, &a) != 0 || stress_baseline(s, 30000u, &base) != 0)
        return -1;
    if (conn_open(&sl->c, &s->cx->addr, 0, stress_deadline(s), &s->why) != 0
        || slow_fill(s, sl) != 0)
        return -1;
    if (fast_clients(s, &sb, &b) != 0)
        return -1;
    fprintf(stderr, "stress slow: the server took %llu bytes (%lu frames begun) and stopped "
            "reading; fast clients %.0f frames/s alone, %.0f beside it; private_bytes at "
            "most %llu alone, %llu beside it\n", (unsigned long long)sl->accepted,
            (unsigned long)sl->frames, a.fps, b.fps, (unsigned long long)sa.max_private,
            (unsigned long long)sb.max_private);
    if (slow_judge(s, &a, &b, sa.max_private, sb.max_private) != 0 || slow_drain(s, sl) != 0)
        return -1;
    s->done = sl->frames;
    conn_close(&sl->c);
    return stress_compare(s, &base, 10000u, &f);
}

int stress_run_slow(stress_ctx *s)
{
    slow_reader *sl = (slow_reader *)calloc(1, sizeof *sl);
    int rc;

    if (sl == NULL)
        return errmsg_set(&s->why, "out of memory");
    conn_init(&sl->c);
    rc = slow_phases(s, sl);
    conn_close(&sl->c);
    free(sl);
    return rc;
}
