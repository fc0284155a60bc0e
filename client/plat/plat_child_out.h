/* plat_child_out.h - private to plat_win_child.c and plat_posix_child.c:
 * the child server's captured standard output, which both fill from a
 * reader thread and read the same way (its first line, all of it).
 *
 * No locking here: each platform holds its own lock (a CRITICAL_SECTION,
 * a pthread mutex) around every call.
 */
#ifndef PLAT_CHILD_OUT_H
#define PLAT_CHILD_OUT_H

#include <stddef.h>

/* Beyond this the output is dropped (the pipe is still drained). */
#define CHILD_OUTPUT_CAP (256u * 1024u)

typedef struct child_out {
    char *data;   /* CHILD_OUTPUT_CAP bytes, NUL-terminated */
    size_t len;
} child_out;

/* 0, or -1 when out of memory. child_out_free is safe after a failure and
 * on a zeroed child_out. */
int child_out_init(child_out *o);
void child_out_free(child_out *o);

/* Appends n bytes, or as many as still fit under the cap. */
void child_out_append(child_out *o, const char *data, size_t n);

/* 1 once a whole line is in. */
int child_out_has_line(const child_out *o);

/* Copies the first line without its line end ("\r\n" too: a Windows
 * server's stdout is in text mode) into line, cut to cap - 1 bytes.
 * 1 copied, 0 no whole line yet. */
int child_out_first_line(const child_out *o, char *line, size_t cap);

/* Copies all of it, cut to cap - 1 bytes and NUL-terminated; its length. */
size_t child_out_copy(const child_out *o, char *buf, size_t cap);

#endif
