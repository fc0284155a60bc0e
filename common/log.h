/* log.h - one-line messages to standard error, with levels. */
#ifndef LOG_H
#define LOG_H

enum log_level {
    LOG_QUIET = 0,    /* errors only (--quiet) */
    LOG_NORMAL = 1,   /* errors and start/stop notes */
    LOG_VERBOSE = 2   /* every connection (--verbose) */
};

void log_set_level(enum log_level level);
int log_enabled(enum log_level level);

#if defined(__GNUC__)
#define LOG_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define LOG_PRINTF(a, b)
#endif

void log_error(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_info(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_debug(const char *fmt, ...) LOG_PRINTF(1, 2);

#endif
