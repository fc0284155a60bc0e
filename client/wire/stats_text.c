/* stats_text.c - the STATS text parser. */
#include "stats_text.h"

#include <string.h>

static int is_key_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_';
}

/* Checks one line (without its end) and stores it. 0, 1 skipped (lenient
 * mode), or -1. */
static int parse_line(const char *line, size_t len, size_t line_no, int strict,
                      stats_text *out, errmsg *e)
{
    const char *eq = (const char *)memchr(line, '=', len);
    size_t klen = eq != NULL ? (size_t)(eq - line) : 0;
    size_t vlen = eq != NULL ? len - klen - 1 : 0;
    size_t i;

    for (i = 0; eq != NULL && i < klen && is_key_char(line[i]); i++)
        continue;
    if (eq == NULL || klen == 0 || i < klen || vlen == 0) {
        if (!strict)
            return 1;
        return errmsg_set(e, "line %lu is not key=value: \"%.*s\"", (unsigned long)line_no,
                          (int)(len > 60 ? 60 : len), line);
    }
    for (i = 0; i < vlen; i++)
        if (eq[1 + i] < 0x20 || eq[1 + i] > 0x7e)
            return errmsg_set(e, "line %lu: value has byte 0x%02x", (unsigned long)line_no,
                              (unsigned)(unsigned char)eq[1 + i]);
    if (klen >= sizeof out->entries[0].key || vlen >= sizeof out->entries[0].value)
        return errmsg_set(e, "line %lu is too long", (unsigned long)line_no);
    if (out->count >= STATS_TEXT_MAX_KEYS)
        return errmsg_set(e, "more than %d keys", STATS_TEXT_MAX_KEYS);
    memcpy(out->entries[out->count].key, line, klen);
    out->entries[out->count].key[klen] = '\0';
    if (stats_text_get(out, out->entries[out->count].key) != NULL)
        return errmsg_set(e, "key %s appears twice", out->entries[out->count].key);
    memcpy(out->entries[out->count].value, eq + 1, vlen);
    out->entries[out->count].value[vlen] = '\0';
    out->count++;
    return 0;
}

int stats_text_parse(const char *text, size_t len, int strict, stats_text *out,
                     errmsg *e)
{
    size_t pos = 0;
    size_t line_no = 1;

    out->count = 0;
    if (strict && len > 0 && text[len - 1] != '\n')
        return errmsg_set(e, "the text does not end in \"\\n\"");
    while (pos < len) {
        const char *nl = (const char *)memchr(text + pos, '\n', len - pos);
        size_t end = nl != NULL ? (size_t)(nl - text) : len;
        size_t line_len = end - pos;

        if (!strict && line_len > 0 && text[end - 1] == '\r')
            line_len--;
        else if (strict && memchr(text + pos, '\r', line_len) != NULL)
            return errmsg_set(e, "line %lu contains \"\\r\" (lines must end in \"\\n\" alone)",
                              (unsigned long)line_no);
        if (parse_line(text + pos, line_len, line_no, strict, out, e) < 0)
            return -1;
        pos = end + 1;
        line_no++;
    }
    return 0;
}

const char *stats_text_get(const stats_text *st, const char *key)
{
    size_t i;

    for (i = 0; i < st->count; i++)
        if (strcmp(st->entries[i].key, key) == 0)
            return st->entries[i].value;
    return NULL;
}

int stats_text_u64(const stats_text *st, const char *key, uint64_t *out, errmsg *e)
{
    const char *v = stats_text_get(st, key);
    uint64_t n = 0;
    const char *p;

    if (v == NULL)
        return errmsg_set(e, "STATS has no %s", key);
    for (p = v; *p != '\0'; p++) {
        if (*p < '0' || *p > '9' || n > (UINT64_MAX - 9) / 10)
            return errmsg_set(e, "STATS %s=%s is not a number", key, v);
        n = n * 10 + (uint64_t)(*p - '0');
    }
    *out = n;
    return 0;
}
