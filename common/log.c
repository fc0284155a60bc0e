/* log.c - one-line messages to standard error.
 *
 * Each message is formatted into one buffer and written with one call, so
 * lines from different threads do not interleave. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>

/* The one process-wide setting: every module logs, and passing a logger
 * through each call would add noise to every model. Set once at start. */
static enum log_level current_level = LOG_NORMAL;

void log_set_level(enum log_level level)
{
    current_level = level;
}

int log_enabled(enum log_level level)
{
    return level <= current_level;
}

static void log_write(enum log_level level, const char *prefix, const char *fmt, va_list ap)
{
    char line[512];
    int n;

    if (!log_enabled(level))
        return;
    n = snprintf(line, sizeof line, "%s", prefix);
    if (n < 0)
        return;
    vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    fprintf(stderr, "%s\n", line);
    fflush(stderr);
}

void log_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_write(LOG_QUIET, "", fmt, ap);   /* SPEC: the line starts with the call */
    va_end(ap);
}

void log_info(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_write(LOG_NORMAL, "", fmt, ap);
    va_end(ap);
}

void log_debug(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_write(LOG_VERBOSE, "debug: ", fmt, ap);
    va_end(ap);
}
