/* proto.c - frame headers and the incremental request reader. */
#include "proto.h"

#include <stdio.h>
#include <string.h>

static void put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static void put_u16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

void proto_header_encode(const proto_header *h, unsigned char out[PROTO_HEADER_SIZE])
{
    put_u32(out, h->length);
    put_u16(out + 4, h->type);
    put_u16(out + 6, h->flags);
}

void proto_header_decode(const unsigned char in[PROTO_HEADER_SIZE], proto_header *h)
{
    h->length = ((uint32_t)in[0] << 24) | ((uint32_t)in[1] << 16)
              | ((uint32_t)in[2] << 8) | (uint32_t)in[3];
    h->type = (uint16_t)((in[4] << 8) | in[5]);
    h->flags = (uint16_t)((in[6] << 8) | in[7]);
}

int proto_request_check(const proto_header *h, char *reason, size_t reason_size)
{
    if (h->length > PROTO_MAX_PAYLOAD)
        snprintf(reason, reason_size, "frame too large: %lu > %u",
                 (unsigned long)h->length, PROTO_MAX_PAYLOAD);
    else if (h->flags != 0)
        snprintf(reason, reason_size, "flags must be 0: 0x%04x", (unsigned)h->flags);
    else if (h->type == PROTO_ERROR)
        snprintf(reason, reason_size, "ERROR frame sent by a client");
    else if (h->type == PROTO_STATS && h->length != 0)
        snprintf(reason, reason_size, "STATS request with a payload: %lu bytes",
                 (unsigned long)h->length);
    else if (h->type != PROTO_ECHO && h->type != PROTO_STATS)
        snprintf(reason, reason_size, "unknown frame type: %u", (unsigned)h->type);
    else
        return 0;
    return -1;
}

size_t proto_frame_encode(uint16_t type, const void *payload, uint32_t len,
                          unsigned char *out)
{
    proto_header h;
    h.length = len;
    h.type = type;
    h.flags = 0;
    proto_header_encode(&h, out);
    if (len > 0)
        memcpy(out + PROTO_HEADER_SIZE, payload, len);
    return PROTO_HEADER_SIZE + len;
}

void proto_reader_init(proto_reader *r)
{
    memset(r, 0, sizeof *r);
}

int proto_reader_partial(const proto_reader *r)
{
    return r->header_have > 0 || r->in_frame;
}

/* Gathers header bytes; returns the event once the header is whole. */
static proto_event take_header(proto_reader *r, proto_chunk *chunk, proto_item *item)
{
    size_t want = PROTO_HEADER_SIZE - r->header_have;
    size_t n = chunk->len < want ? chunk->len : want;

    memcpy(r->header_bytes + r->header_have, chunk->data, n);
    r->header_have += (uint32_t)n;
    chunk->data += n;
    chunk->len -= n;
    if (r->header_have < PROTO_HEADER_SIZE)
        return item->event = PROTO_EV_NEED_MORE;
    r->header_have = 0;
    proto_header_decode(r->header_bytes, &r->header);
    if (proto_request_check(&r->header, r->reason, sizeof r->reason) != 0) {
        r->failed = 1;
        return item->event = PROTO_EV_ERROR;
    }
    r->in_frame = 1;
    r->payload_left = r->header.length;
    item->header = r->header;
    return item->event = PROTO_EV_HEADER;
}

proto_event proto_reader_next(proto_reader *r, proto_chunk *chunk, proto_item *item)
{
    item->data = NULL;
    item->len = 0;
    if (r->failed)
        return item->event = PROTO_EV_ERROR;
    if (r->in_frame && r->payload_left == 0) {
        r->in_frame = 0;   /* a zero-length tail ends without waiting for bytes */
        return item->event = PROTO_EV_FRAME_END;
    }
    if (chunk->len == 0)
        return item->event = PROTO_EV_NEED_MORE;
    if (!r->in_frame)
        return take_header(r, chunk, item);
    item->data = chunk->data;
    item->len = chunk->len < r->payload_left ? chunk->len : r->payload_left;
    chunk->data += item->len;
    chunk->len -= item->len;
    r->payload_left -= (uint32_t)item->len;
    return item->event = PROTO_EV_PAYLOAD;
}
