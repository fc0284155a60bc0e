/* options.c - the server command line. Portable C: no Win32 calls, so the
 * unit tests also run natively. */
#include "options.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static void print_switches(FILE *out, const server_model *m)
{
    const server_switch *sw = m->switches;

    if (sw == NULL || sw->name == NULL) {
        fprintf(out, "  --opt NAME          a switch of the model (this one has none)\n");
        return;
    }
    fprintf(out, "  --opt NAME          turn on a switch of this model (repeatable):\n");
    for (; sw->name != NULL; sw++)
        fprintf(out, "                        %-8s %s\n", sw->name, sw->help);
}

static void print_usage(FILE *out, const server_model *m, const char *prog)
{
    fprintf(out,
        "usage: %s [options]\n"
        "%s server: %s\n\n"
        "  --bind ADDR         address to listen on (default 127.0.0.1)\n"
        "  --port N            port, 0 picks a free one (default 5150)\n"
        "  --max-clients N     connections held at once; more are refused (default %d)\n",
        prog, m->name, m->summary, m->default_max_clients);
    if (m->threads_help != NULL && m->default_threads > 0)
        fprintf(out, "  --threads N         %s (default %d)\n", m->threads_help, m->default_threads);
    else if (m->threads_help != NULL)   /* 0: the help says what the default is */
        fprintf(out, "  --threads N         %s\n", m->threads_help);
    else
        fprintf(out, "  --threads N         accepted, unused by this model\n");
    print_switches(out, m);
    fprintf(out,
        "  --stop-event NAME   stop when the named Win32 event is set\n"
        "  --max-seconds N     stop by itself after N seconds (default 0: never)\n"
        "  --quiet, --verbose  log less, or every connection\n"
        "  --help, --version   print and exit\n");
}

/* Parses a whole decimal number in [lo, hi]; 0 on success. */
static int parse_int(const char *text, long lo, long hi, int *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

static int copy_text(const char *text, char *dst, size_t cap)
{
    if (strlen(text) >= cap || text[0] == '\0')
        return -1;
    strcpy(dst, text);
    return 0;
}

/* --opt NAME: sets the switch's bit; -1 when the model has no such switch. */
static int take_switch(const server_model *m, const char *value, server_options *o)
{
    int i;

    for (i = 0; m->switches != NULL && m->switches[i].name != NULL; i++) {
        if (i < OPTIONS_MAX_SWITCHES && strcmp(m->switches[i].name, value) == 0) {
            o->switches |= 1u << i;
            return 0;
        }
    }
    return -1;
}

/* One option that takes a value; returns 0 or -1 with *why set. */
static int take_value(const server_model *m, const char *name, const char *value,
                      server_options *o, const char **why)
{
    int n = 0;

    *why = "bad value";
    if (strcmp(name, "--opt") == 0) {
        *why = "no such switch in this model";
        return take_switch(m, value, o);
    }
    if (strcmp(name, "--bind") == 0)
        return copy_text(value, o->bind_addr, sizeof o->bind_addr);
    if (strcmp(name, "--stop-event") == 0)
        return copy_text(value, o->stop_event, sizeof o->stop_event);
    if (strcmp(name, "--port") == 0) {
        if (parse_int(value, 0, 65535, &n) != 0)
            return -1;
        o->port = (unsigned short)n;
        return 0;
    }
    if (strcmp(name, "--max-clients") == 0)
        return parse_int(value, 1, 1000000, &o->max_clients);
    if (strcmp(name, "--threads") == 0)
        return parse_int(value, 1, 1024, &o->threads);
    return parse_int(value, 0, 86400 * 365, &o->max_seconds);   /* --max-seconds */
}

static int is_value_option(const char *a)
{
    static const char *const names[] = {
        "--bind", "--port", "--max-clients", "--threads", "--stop-event", "--max-seconds",
        "--opt"
    };
    size_t i;

    for (i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(a, names[i]) == 0)
            return 1;
    return 0;
}

static void set_defaults(const server_model *m, server_options *o)
{
    memset(o, 0, sizeof *o);
    strcpy(o->bind_addr, "127.0.0.1");
    o->port = 5150;
    o->max_clients = m->default_max_clients;
    o->threads = m->default_threads;
    o->log_level = LOG_NORMAL;
}

static enum options_result usage_error(const server_model *m, const char *prog,
                                       const char *why, const char *arg)
{
    fprintf(stderr, "%s: %s: %s\n", prog, why, arg);
    print_usage(stderr, m, prog);
    return OPTIONS_USAGE;
}

enum options_result options_parse(const server_model *m, int argc, char **argv,
                                  server_options *o)
{
    const char *prog = argc > 0 ? argv[0] : m->name;
    const char *why;
    int i;

    set_defaults(m, o);
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            print_usage(stdout, m, prog);
            return OPTIONS_EXIT_OK;
        }
        if (strcmp(a, "--version") == 0) {
            printf("%s_server %s (Winsock I/O model suite, protocol 1)\n", m->name, SUITE_VERSION);
            return OPTIONS_EXIT_OK;
        }
        if (strcmp(a, "--quiet") == 0)
            o->log_level = LOG_QUIET;
        else if (strcmp(a, "--verbose") == 0)
            o->log_level = LOG_VERBOSE;
        else if (!is_value_option(a))
            return usage_error(m, prog, "unknown option", a);
        else if (i + 1 >= argc)
            return usage_error(m, prog, "missing value", a);
        else if (take_value(m, a, argv[i + 1], o, &why) != 0)
            return usage_error(m, prog, why, a);
        else
            i++;
    }
    return OPTIONS_RUN;
}
