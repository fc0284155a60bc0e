/* cmd_basic.c - the send and stats commands. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "conn.h"
#include "xchg.h"

/* Echoes one payload and prints it on its own line. */
static int send_one(conn *c, const char *text, size_t len, unsigned timeout_ms, errmsg *e)
{
    if (xchg_echo(c, text, (uint32_t)len, plat_now_ms() + timeout_ms, e) != 0)
        return -1;
    fwrite(text, 1, len, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    return 0;
}

/* Each line of stdin (without its line end) as one frame. */
static int send_stdin(conn *c, unsigned timeout_ms, errmsg *e)
{
    char *line = (char *)malloc(PROTO_MAX_PAYLOAD + 2);
    size_t line_no = 0;
    int rc = 0;

    if (line == NULL)
        return errmsg_set(e, "out of memory");
    while (rc == 0 && fgets(line, PROTO_MAX_PAYLOAD + 2, stdin) != NULL) {
        size_t len = strlen(line);   /* a NUL byte in a line ends it early */

        line_no++;
        if (len > 0 && line[len - 1] == '\n')
            len--;
        else if (len > PROTO_MAX_PAYLOAD)
            rc = errmsg_set(e, "stdin line %lu is longer than %u bytes",
                            (unsigned long)line_no, PROTO_MAX_PAYLOAD);
        if (rc == 0 && len > 0 && line[len - 1] == '\r')
            len--;
        if (rc == 0)
            rc = send_one(c, line, len, timeout_ms, e);
    }
    free(line);
    return rc;
}

static int send_texts(conn *c, const client_opts *o, errmsg *e)
{
    int i;

    for (i = 0; i < o->text_count; i++) {
        size_t len = strlen(o->texts[i]);

        if (len > PROTO_MAX_PAYLOAD)
            return errmsg_set(e, "TEXT %d is longer than %u bytes", i + 1, PROTO_MAX_PAYLOAD);
        if (send_one(c, o->texts[i], len, o->timeout_ms, e) != 0)
            return -1;
    }
    return 0;
}

int cmd_send(const client_ctx *cx)
{
    const client_opts *o = cx->opts;
    errmsg e;
    conn c;
    int rc;

    errmsg_clear(&e);
    if (conn_open(&c, &cx->addr, 0, plat_now_ms() + o->timeout_ms, &e) != 0) {
        fprintf(stderr, "client: %s\n", e.text);
        return 1;
    }
    rc = o->text_count > 0 ? send_texts(&c, o, &e) : send_stdin(&c, o->timeout_ms, &e);
    conn_close(&c);
    if (rc != 0) {
        fprintf(stderr, "client: send: %s\n", e.text);
        return 1;
    }
    return 0;
}

int cmd_stats(const client_ctx *cx)
{
    uint64_t deadline = plat_now_ms() + cx->opts->timeout_ms;
    char text[8192];
    size_t len = 0;
    errmsg e;
    conn c;
    int rc;

    errmsg_clear(&e);
    if (conn_open(&c, &cx->addr, 0, deadline, &e) != 0) {
        fprintf(stderr, "client: %s\n", e.text);
        return 1;
    }
    rc = xchg_stats_on(&c, text, sizeof text, &len, deadline, &e);
    conn_close(&c);
    if (rc != 0) {
        fprintf(stderr, "client: stats: %s\n", e.text);
        return 1;
    }
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return 0;
}
