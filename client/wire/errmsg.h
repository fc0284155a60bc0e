/* errmsg.h - a failure message that travels up from where a thing went
 * wrong to where it is printed ("FAIL name: why" or an error line), each
 * level adding its context in front. */
#ifndef ERRMSG_H
#define ERRMSG_H

#include <stddef.h>

typedef struct errmsg {
    char text[768];
} errmsg;

void errmsg_clear(errmsg *e);

/* Sets the message (printf format); returns -1 so a caller can write
 * `return errmsg_set(e, ...);`. */
int errmsg_set(errmsg *e, const char *fmt, ...);

/* Sets "call what: WSAENAME (number) text" from a platform error. */
int errmsg_sock(errmsg *e, const char *call, const char *what, int err);

/* Puts "context: " in front of the current message. */
void errmsg_prefix(errmsg *e, const char *fmt, ...);

/* Describes where two byte strings first differ, e.g. "byte 17 is 0x00,
 * expected 0x41 (got 100 bytes, expected 100)". */
void errmsg_diff(errmsg *e, const char *what, const unsigned char *got,
                 size_t got_len, const unsigned char *want, size_t want_len);

#endif
