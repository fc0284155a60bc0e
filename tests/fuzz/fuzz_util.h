/* fuzz_util.h - what the libFuzzer targets share: reading the fuzzer's
 * input, a check that aborts (so libFuzzer keeps
 * the input that failed), and a reference parser of the wire protocol.
 *
 * The reference parser is written apart from proto.c and works on a whole
 * buffer at once, straight from SPEC section 1 rule 2, so that the
 * incremental reader and the session can be compared against it. */
#ifndef FUZZ_UTIL_H
#define FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"
#include "test_buf.h"   /* the growable byte buffer */

#define FUZZ_CHECK(cond) fuzz_check((cond) != 0, #cond, __FILE__, __LINE__)

/* Prints `file:line: fuzz check failed: expr` and aborts when !ok. */
void fuzz_check(int ok, const char *expr, const char *file, int line);

/* The fuzzer's input, read front to back; reads past its end give 0. */
typedef struct fuzz_input {
    const uint8_t *data;
    size_t len;
} fuzz_input;

unsigned fuzz_byte(fuzz_input *in);
unsigned fuzz_u16(fuzz_input *in);   /* big-endian */
unsigned long fuzz_u24(fuzz_input *in);
/* Up to `want` bytes: sets *data to them and returns how many there are. */
size_t fuzz_take(fuzz_input *in, size_t want, const uint8_t **data);

/* What the reference parser finds at a position of a byte stream. */
typedef enum ref_kind {
    REF_END,      /* no bytes left */
    REF_FRAME,    /* a complete valid request */
    REF_ERROR,    /* a complete header that breaks rule 2 */
    REF_PARTIAL   /* the bytes stop inside a frame (header or payload) */
} ref_kind;

typedef struct ref_frame {
    size_t start;       /* offset of the header in the stream */
    uint32_t length;    /* header fields, when the header is complete */
    uint16_t type;
    uint16_t flags;
} ref_frame;

/* Looks at the frame at *pos of wire[0, len); for REF_FRAME moves *pos past
 * it. f holds the header fields for REF_FRAME, REF_ERROR, and REF_PARTIAL
 * when its 8 header bytes are there (f->start + 8 <= len). */
ref_kind ref_next(const unsigned char *wire, size_t len, size_t *pos, ref_frame *f);

#endif
