/* stats.c - counters and the STATS text. Portable C. */
#include "stats.h"

#include <stdio.h>
#include <string.h>

static const char *const resource_names[RES_COUNT] = {
    "open_sockets", "open_threads", "open_handles", "open_blocks"
};

void stats_init(stats *st, const char *model, uint64_t now_ms)
{
    memset(st, 0, sizeof *st);
    st->model = model;
    st->start_ms = now_ms;
}

void stats_connection_opened(stats *st)
{
    int64_t now = counter_add(&st->connections_current, 1);
    int64_t peak = counter_get(&st->connections_peak);

    counter_add(&st->connections_total, 1);
    while (now > peak && !counter_cas(&st->connections_peak, peak, now))
        peak = counter_get(&st->connections_peak);
}

void stats_connection_closed(stats *st)
{
    counter_add(&st->connections_current, -1);
}

void stats_opened(stats *st, enum stats_resource res)
{
    counter_add(&st->open[res], 1);
}

void stats_closed(stats *st, enum stats_resource res)
{
    counter_add(&st->open[res], -1);
}

int64_t stats_open_total(stats *st)
{
    int64_t total = 0;
    int i;

    for (i = 0; i < RES_COUNT; i++)
        total += counter_get(&st->open[i]);
    return total;
}

/* Appends one line if it fits whole; returns the new length. Once a line
 * did not fit, *full stays set and nothing more is added, so a cut text is
 * always a prefix of the whole one. */
static size_t add_line(char *buf, size_t cap, size_t len, const char *key,
                       unsigned long long value, int *full)
{
    char line[96];
    int n = snprintf(line, sizeof line, "%s=%llu\n", key, value);

    if (*full || n <= 0 || len + (size_t)n >= cap) {
        *full = 1;
        return len;
    }
    memcpy(buf + len, line, (size_t)n + 1);
    return len + (size_t)n;
}

static unsigned long long get(counter_t *c)
{
    int64_t v = counter_get(c);
    return v < 0 ? 0 : (unsigned long long)v;
}

size_t stats_format(stats *st, const stats_process *proc, uint64_t now_ms,
                    char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "model=%s\n", st->model);
    size_t len;
    int i, full = 0;

    if (n < 0 || (size_t)n >= cap) {
        if (cap > 0)
            buf[0] = '\0';
        return 0;
    }
    len = (size_t)n;
    len = add_line(buf, cap, len, "pid", proc->pid, &full);
    len = add_line(buf, cap, len, "uptime_ms", now_ms - st->start_ms, &full);
    len = add_line(buf, cap, len, "threads", (unsigned long long)proc->threads, &full);
    len = add_line(buf, cap, len, "max_clients", (unsigned long long)st->max_clients, &full);
    len = add_line(buf, cap, len, "connections_current", get(&st->connections_current), &full);
    len = add_line(buf, cap, len, "connections_peak", get(&st->connections_peak), &full);
    len = add_line(buf, cap, len, "connections_total", get(&st->connections_total), &full);
    len = add_line(buf, cap, len, "connections_refused", get(&st->connections_refused), &full);
    len = add_line(buf, cap, len, "frames_in", get(&st->frames_in), &full);
    len = add_line(buf, cap, len, "frames_out", get(&st->frames_out), &full);
    len = add_line(buf, cap, len, "bytes_in", get(&st->bytes_in), &full);
    len = add_line(buf, cap, len, "bytes_out", get(&st->bytes_out), &full);
    len = add_line(buf, cap, len, "protocol_errors", get(&st->protocol_errors), &full);
    len = add_line(buf, cap, len, "handles", (unsigned long long)proc->handles, &full);
    len = add_line(buf, cap, len, "working_set_bytes", proc->working_set_bytes, &full);
    len = add_line(buf, cap, len, "private_bytes", proc->private_bytes, &full);
    len = add_line(buf, cap, len, "nonpaged_pool_bytes", proc->nonpaged_pool_bytes, &full);
    len = add_line(buf, cap, len, "cpu_user_ms", proc->cpu_user_ms, &full);
    len = add_line(buf, cap, len, "cpu_kernel_ms", proc->cpu_kernel_ms, &full);
    for (i = 0; i < RES_COUNT; i++)
        len = add_line(buf, cap, len, resource_names[i], get(&st->open[i]), &full);
    return len;
}
