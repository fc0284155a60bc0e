/* session.c - one connection's protocol logic; see session.h. */
#include "session.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_MIN 256u
#define CHUNK_MAX (64u * 1024u)
#define STATS_TEXT_MAX 2048u

/* A block of the output queue. Its bytes never move: a pending overlapped
 * send may point into [start, used). */
struct session_chunk {
    session_chunk *next;
    size_t start;   /* first unsent byte */
    size_t used;    /* bytes written */
    size_t cap;
    unsigned char *data;
};

void session_init(session *s, const session_env *env)
{
    memset(s, 0, sizeof *s);
    s->env = env;
    proto_reader_init(&s->reader);
}

void session_free(session *s)
{
    while (s->head != NULL) {
        session_chunk *next = s->head->next;
        free(s->head);
        s->head = next;
    }
    s->tail = NULL;
    free(s->frame_ends);
    s->frame_ends = NULL;
    s->ends_count = s->ends_cap = 0;
}

/* A chunk holds at least the rest of the reply being built (`want`,
 * rounded up to 256 bytes), so a connection that echoes one small frame
 * and goes idle never took a large block; within a burst, chunks at least
 * double, up to 64 KiB, so a pipeline still gets large sends. */
static session_chunk *chunk_new(const session_chunk *prev, size_t want)
{
    size_t cap = (want + CHUNK_MIN - 1) / CHUNK_MIN * CHUNK_MIN;
    session_chunk *c;

    if (prev != NULL && prev->cap * 2 > cap)
        cap = prev->cap * 2;
    if (cap > CHUNK_MAX)
        cap = CHUNK_MAX;
    c = (session_chunk *)malloc(sizeof *c + cap);
    if (c == NULL)
        return NULL;
    c->next = NULL;
    c->start = c->used = 0;
    c->cap = cap;
    c->data = (unsigned char *)(c + 1);
    return c;
}

/* Appends bytes after the last ones queued; returns how many fit before
 * memory ran out (len on success). want >= len: what the reply still needs. */
static size_t queue_append(session *s, const unsigned char *data, size_t len, size_t want)
{
    size_t done = 0;

    while (done < len) {
        size_t room, n;
        if (s->tail == NULL || s->tail->used == s->tail->cap) {
            session_chunk *c = chunk_new(s->tail, want - done);
            if (c == NULL)
                break;
            if (s->tail == NULL)
                s->head = c;
            else
                s->tail->next = c;
            s->tail = c;
        }
        room = s->tail->cap - s->tail->used;
        n = len - done < room ? len - done : room;
        memcpy(s->tail->data + s->tail->used, data + done, n);
        s->tail->used += n;
        done += n;
    }
    return done;
}

/* Frees the leading chunks whose bytes were all sent. */
static void queue_trim_head(session *s)
{
    while (s->head != NULL && s->head->start == s->head->used) {
        session_chunk *next = s->head->next;
        free(s->head);
        s->head = next;
    }
    if (s->head == NULL)
        s->tail = NULL;
}

/* Queues bytes of the reply being built, of which `want` (>= len) are
 * still to come; 0 on success, -1 out of memory. */
static int stage(session *s, const void *data, size_t len, size_t want)
{
    size_t n = queue_append(s, (const unsigned char *)data, len, want);

    s->staged += n;
    return n == len ? 0 : -1;
}

/* Removes the last `len` bytes queued (a frame that will never complete). */
static void queue_drop_tail(session *s, size_t len)
{
    while (len > 0) {
        session_chunk *c = s->tail, *prev = NULL;
        size_t in_tail = c->used - c->start;
        if (len < in_tail) {
            c->used -= len;
            return;
        }
        len -= in_tail;
        c->used = c->start;
        if (c == s->head)
            break;
        for (prev = s->head; prev->next != c; prev = prev->next)
            ;
        prev->next = NULL;
        s->tail = prev;
        free(c);
    }
    queue_trim_head(s);
}

/* Remembers where a frame ends, so frames_out counts it when the send that
 * carries its last byte completes (SPEC rule 7). */
static int remember_frame_end(session *s, uint64_t end)
{
    if (s->ends_count == s->ends_cap) {
        size_t cap = s->ends_cap == 0 ? 8 : s->ends_cap * 2, i;
        uint64_t *ends = (uint64_t *)malloc(cap * sizeof *ends);
        if (ends == NULL)
            return -1;
        for (i = 0; i < s->ends_count; i++)
            ends[i] = s->frame_ends[(s->ends_head + i) % s->ends_cap];
        free(s->frame_ends);
        s->frame_ends = ends;
        s->ends_head = 0;
        s->ends_cap = cap;
    }
    s->frame_ends[(s->ends_head + s->ends_count) % s->ends_cap] = end;
    s->ends_count++;
    return 0;
}

/* The staged bytes become a reply the model may send. Its end is
 * remembered first: when that fails, the reply stays staged for
 * fail_memory to drop, rather than go out uncounted in frames_out. */
static int commit_frame(session *s)
{
    if (remember_frame_end(s, s->committed_total + s->staged) != 0)
        return -1;
    s->unsent += s->staged;
    s->committed_total += s->staged;
    s->staged = 0;
    return 0;
}

/* Out of memory: what is committed still goes out; nothing more is read. */
static void fail_memory(session *s)
{
    queue_drop_tail(s, s->staged);
    s->staged = 0;
    s->state = SESSION_CLOSING;
}

static void close_with_error(session *s, const char *reason)
{
    unsigned char frame[PROTO_HEADER_SIZE + PROTO_REASON_MAX];
    size_t len = proto_frame_encode(PROTO_ERROR, reason, (uint32_t)strlen(reason), frame);

    s->state = SESSION_CLOSING;
    if (s->error_sent)
        return;
    s->error_sent = 1;
    if (stage(s, frame, len, len) != 0 || commit_frame(s) != 0)
        fail_memory(s);
}

static int answer_stats(session *s)
{
    char text[STATS_TEXT_MAX];
    unsigned char header[PROTO_HEADER_SIZE];
    proto_header h;

    h.length = (uint32_t)s->env->stats_text(s->env->stats_ctx, text, sizeof text);
    h.type = PROTO_STATS;
    h.flags = 0;
    proto_header_encode(&h, header);
    if (stage(s, header, sizeof header, sizeof header + h.length) != 0
        || stage(s, text, h.length, h.length) != 0)
        return -1;
    return commit_frame(s);
}

/* A complete request: count it, then answer it. */
static int end_frame(session *s, const proto_header *h)
{
    counter_add(&s->env->stats->frames_in, 1);
    counter_add(&s->env->stats->bytes_in, (int64_t)(PROTO_HEADER_SIZE + h->length));
    if (h->type == PROTO_STATS)
        return answer_stats(s);
    return commit_frame(s);   /* ECHO: the staged bytes are the reply */
}

/* The reply to an ECHO is the request itself: its header and payload are
 * staged as they arrive and committed when the frame is whole. */
static int take_item(session *s, const proto_item *item)
{
    unsigned char header[PROTO_HEADER_SIZE];

    switch (item->event) {
    case PROTO_EV_HEADER:
        if (item->header.type != PROTO_ECHO)
            return 0;
        proto_header_encode(&item->header, header);
        return stage(s, header, sizeof header, sizeof header + item->header.length);
    case PROTO_EV_PAYLOAD:
        return stage(s, item->data, item->len, item->len + s->reader.payload_left);
    case PROTO_EV_FRAME_END:
        return end_frame(s, &s->reader.header);
    default:
        return 0;
    }
}

void session_on_data(session *s, const void *data, size_t len)
{
    proto_chunk chunk;
    proto_item item;

    chunk.data = (const unsigned char *)data;
    chunk.len = len;
    while (s->state == SESSION_OPEN) {
        proto_event ev = proto_reader_next(&s->reader, &chunk, &item);
        if (ev == PROTO_EV_NEED_MORE)
            return;
        if (ev == PROTO_EV_ERROR) {
            counter_add(&s->env->stats->protocol_errors, 1);
            close_with_error(s, s->reader.reason);
            return;
        }
        if (take_item(s, &item) != 0)
            fail_memory(s);
    }
}

/* The stream ended (FIN, reset or error): a frame cut short is dropped
 * without a reply and counted as a protocol error (SPEC rule 3). */
static void end_of_stream(session *s)
{
    if (s->state == SESSION_OPEN && proto_reader_partial(&s->reader)) {
        counter_add(&s->env->stats->protocol_errors, 1);
        queue_drop_tail(s, s->staged);
        s->staged = 0;
    }
    s->state = SESSION_CLOSING;
}

void session_on_eof(session *s)
{
    end_of_stream(s);
}

void session_on_abort(session *s)
{
    end_of_stream(s);
}

int session_can_read(const session *s)
{
    return s->state == SESSION_OPEN && s->unsent < s->env->backpressure_limit;
}

size_t session_output(const session *s, session_iov *iov, size_t max_iov)
{
    size_t left = s->unsent, n = 0;
    const session_chunk *c;

    for (c = s->head; c != NULL && left > 0 && n < max_iov; c = c->next) {
        size_t len = c->used - c->start;
        if (len > left)
            len = left;   /* the rest of this chunk is a staged, unfinished frame */
        if (len == 0)
            continue;
        iov[n].base = c->data + c->start;
        iov[n].len = len;
        left -= len;
        n++;
    }
    return n;
}

void session_sent(session *s, size_t bytes)
{
    size_t left = bytes;
    session_chunk *c;

    assert(bytes <= s->unsent);   /* a send carries only bytes session_output() described */
    s->unsent -= bytes;
    s->sent_total += bytes;
    counter_add(&s->env->stats->bytes_out, (int64_t)bytes);
    for (c = s->head; c != NULL && left > 0; c = c->next) {
        size_t len = c->used - c->start;
        size_t n = left < len ? left : len;
        c->start += n;
        left -= n;
    }
    queue_trim_head(s);
    while (s->ends_count > 0 && s->frame_ends[s->ends_head] <= s->sent_total) {
        counter_add(&s->env->stats->frames_out, 1);
        s->ends_head = (s->ends_head + 1) % s->ends_cap;
        s->ends_count--;
    }
    if (s->ends_count == 0) {
        free(s->frame_ends);   /* an idle connection holds no memory */
        s->frame_ends = NULL;
        s->ends_head = s->ends_cap = 0;
    }
}

size_t session_unsent(const session *s)
{
    return s->unsent;
}

int session_done(const session *s)
{
    return s->state == SESSION_CLOSING && s->unsent == 0;
}

int session_idle(const session *s)
{
    return session_can_read(s) && s->unsent == 0 && s->staged == 0
           && !proto_reader_partial(&s->reader);
}
