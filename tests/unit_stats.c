/* unit_stats.c - tests for common/stats.c: stats_init; current, peak and
 * total connections; the open-object counts (stats_opened/closed,
 * stats_open_total); stats_format: every key SPEC section 1 requires, each
 * as one `key=value\n` line with the right value, and a buffer too small
 * for the whole text cut at a line boundary (the text is then a prefix of
 * the full text, as long as the room allows). */
#include <stdint.h>
#include <string.h>

#include "stats.h"
#include "test.h"

static long long counter(counter_t *c)
{
    return (long long)counter_get(c);
}

static void test_init(void)
{
    stats st;
    int i, nonzero = 0;

    memset(&st, 0x5A, sizeof st);
    stats_init(&st, "select", 1234);
    CHECK_STR(st.model, "select");
    CHECK_EQ(st.start_ms, 1234);
    if (counter(&st.connections_current) || counter(&st.connections_peak)
        || counter(&st.connections_total) || counter(&st.connections_refused)
        || counter(&st.frames_in) || counter(&st.frames_out) || counter(&st.bytes_in)
        || counter(&st.bytes_out) || counter(&st.protocol_errors))
        nonzero = 1;
    for (i = 0; i < RES_COUNT; i++)
        if (counter(&st.open[i]) != 0)
            nonzero = 1;
    CHECK_EQ(nonzero, 0);
    CHECK_EQ(stats_open_total(&st), 0);
}

static void expect_connections(stats *st, long long current, long long peak, long long total)
{
    CHECK_EQ(counter(&st->connections_current), current);
    CHECK_EQ(counter(&st->connections_peak), peak);
    CHECK_EQ(counter(&st->connections_total), total);
}

static void test_connections(void)
{
    stats st;

    stats_init(&st, "blocking", 0);
    stats_connection_opened(&st);
    stats_connection_opened(&st);
    stats_connection_opened(&st);
    expect_connections(&st, 3, 3, 3);
    stats_connection_closed(&st);
    stats_connection_closed(&st);
    expect_connections(&st, 1, 3, 3);   /* the peak stays */
    stats_connection_opened(&st);
    expect_connections(&st, 2, 3, 4);
    stats_connection_opened(&st);
    stats_connection_opened(&st);
    expect_connections(&st, 4, 4, 6);   /* a new peak */
    stats_connection_closed(&st);
    stats_connection_closed(&st);
    stats_connection_closed(&st);
    stats_connection_closed(&st);
    expect_connections(&st, 0, 4, 6);
    CHECK_EQ(counter(&st.connections_refused), 0);
}

static void test_open_objects(void)
{
    stats st;

    stats_init(&st, "iocp", 0);
    stats_opened(&st, RES_SOCKET);
    stats_opened(&st, RES_SOCKET);
    stats_opened(&st, RES_THREAD);
    stats_opened(&st, RES_HANDLE);
    stats_opened(&st, RES_BLOCK);
    CHECK_EQ(stats_open_total(&st), 5);
    CHECK_EQ(counter(&st.open[RES_SOCKET]), 2);
    CHECK_EQ(counter(&st.open[RES_THREAD]), 1);
    stats_closed(&st, RES_SOCKET);
    CHECK_EQ(stats_open_total(&st), 4);
    CHECK_EQ(counter(&st.open[RES_SOCKET]), 1);
    stats_closed(&st, RES_SOCKET);
    stats_closed(&st, RES_THREAD);
    stats_closed(&st, RES_HANDLE);
    CHECK_EQ(stats_open_total(&st), 1);
    stats_closed(&st, RES_BLOCK);
    CHECK_EQ(stats_open_total(&st), 0);
}

/* ---- stats_format ---- */

/* Counters and process figures, all different, so a value printed under
 * the wrong key is caught. */
static void fill(stats *st, stats_process *proc)
{
    int i;

    stats_init(st, "overlapped_event", 1000);
    for (i = 0; i < 5; i++)
        stats_connection_opened(st);
    stats_connection_closed(st);
    stats_connection_closed(st);   /* current 3, peak 5, total 5 */
    counter_add(&st->connections_refused, 7);
    counter_add(&st->frames_in, 11);
    counter_add(&st->frames_out, 13);
    counter_add(&st->bytes_in, 5000000000LL);   /* above 32 bits */
    counter_add(&st->bytes_out, 19);
    counter_add(&st->protocol_errors, 23);
    memset(proc, 0, sizeof *proc);
    proc->pid = 4321;
    proc->threads = 29;
    proc->handles = 31;
    proc->working_set_bytes = 37u * 1024u * 1024u;
    proc->private_bytes = 41u * 1024u * 1024u;
}

/* The value of `key` in `text` (lines `key=value\n`), or NULL; *count gets
 * how many lines have that key. */
static const char *find_value(const char *text, const char *key, char *value, size_t cap,
                              int *count)
{
    const char *line = text, *found = NULL;
    size_t klen = strlen(key);

    *count = 0;
    while (*line != '\0') {
        const char *end = strchr(line, '\n');
        if (end == NULL)
            break;
        if (strncmp(line, key, klen) == 0 && line[klen] == '=') {
            size_t n = (size_t)(end - line) - klen - 1;
            if (n >= cap)
                n = cap - 1;
            memcpy(value, line + klen + 1, n);
            value[n] = '\0';
            found = value;
            (*count)++;
        }
        line = end + 1;
    }
    return found;
}

static void expect_key(const char *text, const char *key, const char *want)
{
    char value[64];
    int count;
    const char *got = find_value(text, key, value, sizeof value, &count);

    if (!CHECK_EQ(count, 1))
        printf("  (key %s)\n", key);
    CHECK_STR(got, want);
}

static void test_format_keys_and_values(void)
{
    char buf[4096];
    stats st;
    stats_process proc;
    size_t len;

    fill(&st, &proc);
    len = stats_format(&st, &proc, 3500, buf, sizeof buf);
    CHECK_EQ(len, strlen(buf));
    CHECK(strncmp(buf, "model=overlapped_event\n", 23) == 0);
    expect_key(buf, "model", "overlapped_event");
    expect_key(buf, "pid", "4321");
    expect_key(buf, "uptime_ms", "2500");
    expect_key(buf, "threads", "29");
    expect_key(buf, "connections_current", "3");
    expect_key(buf, "connections_peak", "5");
    expect_key(buf, "connections_total", "5");
    expect_key(buf, "connections_refused", "7");
    expect_key(buf, "frames_in", "11");
    expect_key(buf, "frames_out", "13");
    expect_key(buf, "bytes_in", "5000000000");
    expect_key(buf, "bytes_out", "19");
    expect_key(buf, "protocol_errors", "23");
    expect_key(buf, "handles", "31");
    expect_key(buf, "working_set_bytes", "38797312");
    expect_key(buf, "private_bytes", "42991616");
}

/* Every line is `key=value\n`: a non-empty key of [a-z0-9_], one '=', a
 * value without control characters; no '\r'; the text ends in '\n'. */
static void test_format_line_shape(void)
{
    char buf[4096];
    stats st;
    stats_process proc;
    size_t len, i;
    int bad = 0, in_key = 1, key_len = 0, lines = 0;

    fill(&st, &proc);
    len = stats_format(&st, &proc, 3500, buf, sizeof buf);
    CHECK(len > 0 && buf[len - 1] == '\n');
    for (i = 0; i < len; i++) {
        char c = buf[i];
        if (c == '\n') {
            if (in_key || key_len == 0)
                bad++;
            in_key = 1;
            key_len = 0;
            lines++;
        } else if (in_key && c == '=') {
            in_key = 0;
        } else if (in_key) {
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
                bad++;
            key_len++;
        } else if (c < 0x20 || c > 0x7e) {
            bad++;
        }
    }
    CHECK_EQ(bad, 0);
    CHECK(lines >= 16);
}

/* For every cap up to the full size: the text is a prefix of the full
 * text, ends on a line boundary, holds as many lines as fit, and the
 * returned length is strlen(buf) and below cap. Each property reports the
 * first cap that breaks it (-1: none). */
static void test_format_cut_at_line_boundary(void)
{
    char full[4096], buf[4096];
    stats st;
    stats_process proc;
    size_t full_len, cap, last;
    long long not_prefix = -1, mid_line = -1, too_short = -1, bad_len = -1;

    fill(&st, &proc);
    full_len = stats_format(&st, &proc, 3500, full, sizeof full);
    for (cap = 1; cap <= full_len + 1; cap++) {
        size_t len, next;
        memset(buf, '#', sizeof buf);
        len = stats_format(&st, &proc, 3500, buf, cap);
        /* (an empty result is test_format_tiny_buffer's case) */
        if ((len >= cap || (len > 0 && buf[len] != '\0')) && bad_len < 0)
            bad_len = (long long)cap;
        if (len >= cap)
            continue;
        if (memcmp(buf, full, len) != 0 && not_prefix < 0)
            not_prefix = (long long)cap;
        if (len > 0 && buf[len - 1] != '\n' && mid_line < 0)
            mid_line = (long long)cap;
        /* the next whole line of the full text did not fit */
        for (next = len; next < full_len && full[next] != '\n'; next++)
            ;
        if (len < full_len && next + 1 < cap && too_short < 0)
            too_short = (long long)cap;
    }
    CHECK_EQ(bad_len, -1);
    CHECK_EQ(not_prefix, -1);
    CHECK_EQ(mid_line, -1);
    CHECK_EQ(too_short, -1);
    CHECK_EQ(stats_format(&st, &proc, 3500, buf, full_len + 1), full_len);
    last = full_len - 1;   /* where the last line starts */
    while (last > 0 && full[last - 1] != '\n')
        last--;
    CHECK_EQ(stats_format(&st, &proc, 3500, buf, full_len), last);
}

/* Room for less than the first line: empty text, not a cut line. */
static void test_format_tiny_buffer(void)
{
    char buf[16];
    stats st;
    stats_process proc;

    fill(&st, &proc);
    memset(buf, '#', sizeof buf);
    CHECK_EQ(stats_format(&st, &proc, 3500, buf, 10), 0);
    CHECK_EQ(buf[0], '\0');
    CHECK_EQ(stats_format(&st, &proc, 3500, buf, 1), 0);
    CHECK_EQ(buf[0], '\0');
}

int main(void)
{
    test_init();
    test_connections();
    test_open_objects();
    test_format_keys_and_values();
    test_format_line_shape();
    test_format_cut_at_line_boundary();
    test_format_tiny_buffer();
    return test_summary();
}
