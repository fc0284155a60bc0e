/* spawn.c - starting and stopping the server under test (--server). */
#include "spawn.h"

#include <stdlib.h>
#include <string.h>

#define SPAWN_OUTPUT_CAP (256u * 1024u)

/* Takes the port from "listening on ADDR:PORT". */
static int parse_listening(const char *line, unsigned *port, errmsg *e)
{
    static const char prefix[] = "listening on ";
    const char *colon = strrchr(line, ':');
    unsigned long n = 0;
    const char *p;

    if (strncmp(line, prefix, sizeof prefix - 1) != 0 || colon == NULL || colon[1] == '\0')
        return errmsg_set(e, "the server's first line is not \"listening on ADDR:PORT\": \"%.100s\"",
                          line);
    for (p = colon + 1; *p != '\0'; p++) {
        if (*p < '0' || *p > '9' || n > 65535)
            return errmsg_set(e, "bad port in the server's first line: \"%.100s\"", line);
        n = n * 10 + (unsigned long)(*p - '0');
    }
    if (n == 0 || n > 65535)
        return errmsg_set(e, "bad port in the server's first line: \"%.100s\"", line);
    *port = (unsigned)n;
    return 0;
}

/* "COMMAND --port 0 STOP EXTRA", where STOP ties the server to its stop
 * object ("--stop-event NAME" on Windows; nothing on POSIX, where the stop
 * is SIGINT). */
static char *build_cmdline(const char *command, const char *stop_name, const char *extra)
{
    char stop[128];
    size_t len;
    char *line;

    plat_child_stop_args(stop_name, stop, sizeof stop);
    len = strlen(command) + strlen(stop) + strlen(extra) + 64;
    line = (char *)malloc(len);
    if (line != NULL)
        snprintf(line, len, "%s --port 0%s%s%s%s", command, stop[0] != '\0' ? " " : "", stop,
                 extra[0] != '\0' ? " " : "", extra);
    return line;
}

/* Waits for the first line; on failure the server is terminated. */
static int await_listening(spawn_run *s, const char *cmdline, errmsg *e)
{
    char line[256];
    unsigned long code = 0;
    int rc = plat_child_first_line(s->child, line, sizeof line, SPAWN_START_TIMEOUT_MS);

    /* The reason first: a table cell that shortens the text keeps it. */
    if (rc == 0)
        errmsg_set(e, "no first line within %u s from server \"%s\"",
                   SPAWN_START_TIMEOUT_MS / 1000, cmdline);
    else if (rc < 0 && plat_child_wait(s->child, 2000, &code))
        errmsg_set(e, "exited with code %lu before printing \"listening on\": server \"%s\"",
                   code, cmdline);
    else if (rc < 0)
        errmsg_set(e, "closed its output before printing \"listening on\": server \"%s\"",
                   cmdline);
    else if (parse_listening(line, &s->port, e) == 0)
        return 0;
    plat_child_kill(s->child);
    return -1;
}

int spawn_start(spawn_run *s, const char *command, const char *extra_args, errmsg *e)
{
    static unsigned counter;
    char why[512];
    char *cmdline;
    int rc;

    memset(s, 0, sizeof *s);
    /* Unique per client process and per start, so runs never share events. */
    snprintf(s->stop_name, sizeof s->stop_name, "wsm-stop-%lu-%u", plat_pid(), ++counter);
    cmdline = build_cmdline(command, s->stop_name, extra_args != NULL ? extra_args : "");
    if (cmdline == NULL)
        return errmsg_set(e, "out of memory");
    s->child = plat_child_start(cmdline, s->stop_name, why, sizeof why);
    if (s->child == NULL) {
        errmsg_set(e, "starting the server: %s", why);
        free(cmdline);
        return -1;
    }
    rc = await_listening(s, cmdline, e);
    free(cmdline);
    if (rc != 0) {
        spawn_free(s);
        return -1;
    }
    return 0;
}

static const char *exit_meaning(unsigned long code)
{
    switch (code) {
    case 1: return " (a runtime failure)";
    case 2: return " (a usage error)";
    case 4: return " (something it opened was still open at exit)";
    default: return "";
    }
}

/* Signals, waits and records the outcome in s. */
static int stop_once(spawn_run *s)
{
    uint64_t t0 = plat_now_ms();
    int err = 0;

    if (s->kill_at_stop) {   /* a minimal listing: how it ends is not judged */
        plat_child_kill(s->child);
        s->stop_ms = plat_now_ms() - t0;
        return 0;
    }
    if (plat_child_signal_stop(s->child, &err) != 0)
        errmsg_sock(&s->stop_why, plat_child_stop_call(), s->stop_name, err);
    else if (plat_child_wait(s->child, SPAWN_STOP_TIMEOUT_MS, &s->exit_code)) {
        s->stop_ms = plat_now_ms() - t0;
        if (s->exit_code == 0)
            return 0;
        return errmsg_set(&s->stop_why, "the server exited with code %lu%s",
                          s->exit_code, exit_meaning(s->exit_code));
    } else
        errmsg_set(&s->stop_why, "the server did not exit within %u s of its stop (%s); terminated",
                   SPAWN_STOP_TIMEOUT_MS / 1000, plat_child_stop_call());
    plat_child_kill(s->child);
    return -1;
}

int spawn_stop(spawn_run *s, errmsg *e)
{
    if (!s->stopped) {
        s->stopped = 1;
        s->stop_rc = stop_once(s);
    }
    if (s->stop_rc != 0)
        *e = s->stop_why;
    return s->stop_rc;
}

/* The server's stdout after its first line (a malloc'ed string). */
static char *output_after_first_line(spawn_run *s, size_t *len)
{
    char *buf = (char *)malloc(SPAWN_OUTPUT_CAP);
    char *nl;
    size_t n;

    if (buf == NULL)
        return NULL;
    n = plat_child_output(s->child, buf, SPAWN_OUTPUT_CAP);
    nl = strchr(buf, '\n');
    if (nl == NULL) {
        buf[0] = '\0';
        n = 0;
    } else {
        n -= (size_t)(nl + 1 - buf);
        memmove(buf, nl + 1, n + 1);
    }
    *len = n;
    return buf;
}

int spawn_final_stats(spawn_run *s, stats_text *st, errmsg *e)
{
    size_t len = 0;
    char *text = output_after_first_line(s, &len);
    int rc;

    if (text == NULL)
        return errmsg_set(e, "out of memory");
    rc = stats_text_parse(text, len, 0, st, e);
    free(text);
    if (rc == 0 && st->count == 0)
        return errmsg_set(e, "the server printed no final statistics");
    return rc;
}

void spawn_print_output(spawn_run *s, FILE *f)
{
    size_t len = 0;
    char *text = output_after_first_line(s, &len);
    char *line = text;

    while (line != NULL && *line != '\0') {
        char *nl = strchr(line, '\n');

        if (nl != NULL)
            *nl = '\0';
        if (nl != NULL && nl > line && nl[-1] == '\r')
            nl[-1] = '\0';
        fprintf(f, "server: %s\n", line);
        line = nl != NULL ? nl + 1 : NULL;
    }
    free(text);
}

void spawn_free(spawn_run *s)
{
    plat_child_free(s->child);
    s->child = NULL;
}
