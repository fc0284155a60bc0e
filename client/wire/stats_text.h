/* stats_text.h - parses the STATS text (`key=value\n` lines), both the
 * STATS reply and the final statistics a server prints when it stops. */
#ifndef STATS_TEXT_H
#define STATS_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "errmsg.h"

#define STATS_TEXT_MAX_KEYS 64

typedef struct stats_entry {
    char key[48];
    char value[96];
} stats_entry;

typedef struct stats_text {
    size_t count;
    stats_entry entries[STATS_TEXT_MAX_KEYS];
} stats_text;

/* Strict (a STATS reply): every line is `key=value` ending in "\n" alone,
 * keys are [a-z0-9_], values printable ASCII, no key twice. Lenient (a
 * server's stdout, where the C runtime may write "\r\n"): CR before LF is
 * dropped and lines that are not key=value are skipped. 0 or -1. */
int stats_text_parse(const char *text, size_t len, int strict, stats_text *out,
                     errmsg *e);

/* The value of key, or NULL. */
const char *stats_text_get(const stats_text *st, const char *key);

/* The value of key as a decimal number; -1 with e set if absent or not one. */
int stats_text_u64(const stats_text *st, const char *key, uint64_t *out, errmsg *e);

#endif
