/* load_conn.c - one connection of the load command: build frames that
 * carry (connection id, sequence number), send them up to the pipeline
 * depth, and check every reply byte for byte, in order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load.h"
#include "proto.h"
#include "xchg.h"

/* The payload of (id, seq): both numbers, then bytes derived from them and
 * the position, so a stale, shifted or foreign byte never matches. */
static void load_payload(unsigned char *p, size_t size, uint32_t id, uint32_t seq)
{
    size_t i;

    xchg_put_be32(p, id);
    xchg_put_be32(p + 4, seq);
    for (i = 8; i < size; i++)
        p[i] = (unsigned char)(i * 7u + seq * 31u + id * 131u + (i >> 8));
}

int load_conn_alloc(load_run *r, load_conn *c, uint32_t id)
{
    memset(c, 0, sizeof *c);
    c->sock = PLAT_NO_SOCK;
    c->id = id;
    c->out = (unsigned char *)malloc(r->out_cap);
    c->sent_us = (uint64_t *)calloc(r->opts->pipeline, sizeof *c->sent_us);
    if (c->out == NULL || c->sent_us == NULL || frame_buf_init(&c->in, r->in_cap) != 0)
        return -1;
    return 0;
}

void load_conn_free(load_conn *c)
{
    if (c->sock != PLAT_NO_SOCK)
        plat_close(c->sock);
    c->sock = PLAT_NO_SOCK;
    free(c->out);
    free(c->sent_us);
    c->out = NULL;
    c->sent_us = NULL;
    frame_buf_free(&c->in);
}

/* Stops watching a connection that is no longer active, before its socket
 * is closed; a failure is only counted (the close ends the watch anyway). */
static void unwatch(load_run *r, load_conn *c)
{
    char why[256];
    int err = 0;

    if (c->sock == PLAT_NO_SOCK || plat_watch_set(r->watch, c->id, c->sock, 0, &err) == 0)
        return;
    plat_err_format(why, sizeof why, "epoll_ctl", NULL, err);
    load_error(r, "conn %lu: %s", (unsigned long)c->id, why);
}

/* Counts one error for the connection and closes it. */
void load_conn_fail(load_run *r, load_conn *c, const char *what, const char *why)
{
    if (c->state == LC_ACTIVE)
        r->active--;
    load_error(r, "conn %lu: %s%s%s", (unsigned long)c->id, what, why[0] ? ": " : "", why);
    c->state = LC_FAILED;
    unwatch(r, c);
    plat_close(c->sock);
    c->sock = PLAT_NO_SOCK;
}

/* Every reply is in: an orderly close now, or, with --abort-every, the
 * socket stays open so that all connections close at the same moment. */
static void load_conn_finish(load_run *r, load_conn *c)
{
    r->active--;
    c->state = LC_DONE;
    unwatch(r, c);
    if (r->opts->abort_every > 0)
        return;
    plat_close(c->sock);
    c->sock = PLAT_NO_SOCK;
}

static uint32_t outstanding(const load_conn *c)
{
    return c->next_send - c->next_recv;
}

/* More frames to send: --msgs not reached, or --duration not over. */
static int wants_more(const load_run *r, const load_conn *c)
{
    if (r->send_until_ms != 0)
        return plat_now_ms() < r->send_until_ms;
    return c->next_send < r->opts->msgs;
}

size_t load_payload_size(const load_run *r, uint32_t id, uint32_t seq)
{
    unsigned n = r->opts->size_count;

    /* Each term reduced first, so a long --duration run cannot wrap the sum. */
    return r->opts->sizes[(id % n + seq % n) % n];
}

/* Appends frames until the pipeline is full or the buffer is. */
static void refill(load_run *r, load_conn *c)
{
    uint64_t now = plat_now_us();
    size_t payload = load_payload_size(r, c->id, c->next_send);

    if (c->out_sent > 0) {   /* keep the unsent bytes at the front */
        memmove(c->out, c->out + c->out_sent, c->out_len - c->out_sent);
        c->out_len -= c->out_sent;
        c->out_sent = 0;
    }
    while (outstanding(c) < r->opts->pipeline && wants_more(r, c)
           && r->out_cap - c->out_len >= PROTO_HEADER_SIZE + payload) {
        unsigned char *f = c->out + c->out_len;

        xchg_put_echo_header(f, (uint32_t)payload);
        load_payload(f + PROTO_HEADER_SIZE, payload, c->id, c->next_send);
        c->sent_us[c->next_send % r->opts->pipeline] = now;
        c->next_send++;
        c->out_len += PROTO_HEADER_SIZE + payload;
        payload = load_payload_size(r, c->id, c->next_send);
    }
}

/* Sends what is buffered until done or the socket is full. */
static int flush(load_run *r, load_conn *c)
{
    size_t before = c->out_sent;
    char why[256];
    int err = 0;
    int rc = xchg_send_pending(c->sock, c->out, c->out_len, &c->out_sent, &err);

    if (c->out_sent != before)   /* the server took data: that is progress */
        c->deadline_ms = plat_now_ms() + r->opts->timeout_ms;
    if (rc != 0) {
        plat_err_format(why, sizeof why, "send", r->addr->text, err);
        load_conn_fail(r, c, why, "");
        return -1;
    }
    return 0;
}

void load_conn_begin(load_run *r, load_conn *c)
{
    c->deadline_ms = plat_now_ms() + r->opts->timeout_ms;
    refill(r, c);
    flush(r, c);
}

int load_conn_events(const load_conn *c)
{
    return PLAT_IN | (c->out_sent < c->out_len ? PLAT_OUT : 0);
}

void load_conn_watch(load_run *r, load_conn *c)
{
    char why[256];
    int err = 0;

    if (c->state != LC_ACTIVE
        || plat_watch_set(r->watch, c->id, c->sock, load_conn_events(c), &err) == 0)
        return;
    plat_err_format(why, sizeof why, "epoll_ctl", NULL, err);
    load_conn_fail(r, c, why, "");
}

/* A reply that carries another frame's (id, seq): crosstalk, or this
 * connection's frames out of order. Checked before the length, because
 * with --sizes another frame usually has another length too. 0 or -1. */
static int check_identity(load_run *r, load_conn *c, const frame *f, errmsg *e)
{
    uint32_t id, seq;

    if (f->header.length < 8)
        return 0;   /* too short to carry them; the length check reports it */
    id = xchg_get_be32(f->payload);
    seq = xchg_get_be32(f->payload + 4);
    if (id != c->id && id < r->opts->conns) {
        r->crosstalk++;
        return errmsg_set(e, "crosstalk: the reply for seq %lu carries conn %lu's frame (seq %lu)",
                          (unsigned long)c->next_recv, (unsigned long)id, (unsigned long)seq);
    }
    if (seq != c->next_recv && id == c->id)
        return errmsg_set(e, "reply for seq %lu, expected seq %lu (reordered, dropped or repeated)",
                          (unsigned long)seq, (unsigned long)c->next_recv);
    return 0;
}

/* Checks a reply against the frame (id, next_recv) would be. 0 or -1. */
static int check_reply(load_run *r, load_conn *c, const frame *f, errmsg *e)
{
    size_t size = load_payload_size(r, c->id, c->next_recv);

    if (f->header.type != PROTO_ECHO || f->header.flags != 0)
        return xchg_unexpected(e, "reply", f);
    if (check_identity(r, c, f, e) != 0)
        return -1;
    if (f->header.length != size)
        return errmsg_set(e, "seq %lu: reply of %lu payload bytes, expected %lu",
                          (unsigned long)c->next_recv, (unsigned long)f->header.length,
                          (unsigned long)size);
    load_payload(r->expect, size, c->id, c->next_recv);
    if (memcmp(f->payload, r->expect, size) != 0) {
        errmsg_diff(e, "payload differs", f->payload, size, r->expect, size);
        errmsg_prefix(e, "seq %lu", (unsigned long)c->next_recv);
        return -1;
    }
    return 0;
}

/* Takes every whole reply out of the buffer. */
static int take_replies(load_run *r, load_conn *c)
{
    uint64_t now = plat_now_us();
    errmsg e;
    frame f;
    int rc;

    while ((rc = frame_buf_take(&c->in, &f, &e)) == 1) {
        if (outstanding(c) == 0)
            rc = errmsg_set(&e, "a reply nobody asked for (%lu bytes)", (unsigned long)f.raw_len);
        else
            rc = check_reply(r, c, &f, &e);
        if (rc != 0)
            break;
        latency_add(&r->lat, now - c->sent_us[c->next_recv % r->opts->pipeline]);
        c->next_recv++;
        r->frames++;
        r->bytes += f.raw_len;
    }
    if (rc < 0)
        load_conn_fail(r, c, e.text, "");
    return rc < 0 ? -1 : 0;
}

/* The server closed (FIN or reset) before every reply was in. */
static void peer_closed(load_run *r, load_conn *c, int err)
{
    char what[256];
    char why[96];

    if (err != 0)
        plat_err_format(what, sizeof what, "recv", r->addr->text, err);
    else
        strcpy(what, "the server closed the connection");
    snprintf(why, sizeof why, "after %lu replies, %lu outstanding",
             (unsigned long)c->next_recv, (unsigned long)outstanding(c));
    load_conn_fail(r, c, what, why);
}

/* One recv (one system call per readiness: under Wine each costs a trip to
 * wineserver), then the replies it completed. */
static void on_readable(load_run *r, load_conn *c)
{
    size_t room;
    unsigned char *p = frame_buf_space(&c->in, &room);
    int err = 0;
    long n = plat_recv(c->sock, p, room, &err);

    if (n == PLAT_WOULDBLOCK)
        return;
    if (n <= 0) {
        peer_closed(r, c, n == 0 ? 0 : err);
        return;
    }
    frame_buf_commit(&c->in, (size_t)n);
    c->deadline_ms = plat_now_ms() + r->opts->timeout_ms;
    if (take_replies(r, c) != 0)
        return;
    refill(r, c);
    if (outstanding(c) == 0 && !wants_more(r, c)) {
        load_conn_finish(r, c);
        return;
    }
    flush(r, c);
}

void load_conn_ready(load_run *r, load_conn *c, int revents)
{
    if (revents & (PLAT_IN | PLAT_HUP | PLAT_ERR))
        on_readable(r, c);
    if (c->state == LC_ACTIVE && (revents & PLAT_OUT))
        flush(r, c);
}

void load_conn_check_deadline(load_run *r, load_conn *c, uint64_t now_ms)
{
    char why[160];

    if (c->state != LC_ACTIVE || now_ms < c->deadline_ms)
        return;
    snprintf(why, sizeof why, "%lu frames outstanding, next reply due is seq %lu",
             (unsigned long)outstanding(c), (unsigned long)c->next_recv);
    if (c->out_sent < c->out_len)
        load_conn_fail(r, c, "timed out: the server accepted no data for --timeout", why);
    else
        load_conn_fail(r, c, "timed out: no reply within --timeout", why);
}
