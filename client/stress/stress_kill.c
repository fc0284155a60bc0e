/* stress_kill.c - clients killed mid-frame: each round starts a few child
 * client processes (this same program, `stress --scenario kill-child`),
 * each opens its connections, echoes one frame on each and sends half of
 * the next; once every child has said "ready", all are killed by PID
 * (SIGKILL; TerminateProcess on Windows). The system closes their sockets,
 * so the server sees each connection end inside a frame: it must drop the
 * half frame, count one protocol error for it (SPEC rule 3) and free the
 * connection. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "stress.h"
#include "xchg.h"

#define KILL_CHILDREN 4u
#define CHILD_READY_MS 60000u    /* for a child to open all of its connections */
#define CHILD_LIFE_MS 120000u    /* a child that is never killed gives up */
#define HALF_PAYLOAD 1000u
#define CHILD_BUF 1024u

/* "CLIENT stress --scenario kill-child --conns N --host H --port P ...". */
static void child_cmdline(const stress_ctx *s, unsigned conns, char *buf, size_t cap)
{
    const client_opts *o = s->o;
    unsigned port = s->cx->server != NULL ? s->cx->server->port : o->port;

    snprintf(buf, cap, "\"%s\" stress --scenario kill-child --conns %u --host %s --port %u "
             "--timeout %u", o->self, conns, o->host, port, o->timeout_ms / 1000u + 1u);
}

/* Starts child k and waits for its "ready N" line. NULL with s->why set. */
static plat_child *start_child(stress_ctx *s, unsigned round, unsigned k, unsigned conns)
{
    char cmdline[1200], name[64], line[64], why[512], want[32];
    plat_child *c;
    int rc;

    child_cmdline(s, conns, cmdline, sizeof cmdline);
    snprintf(name, sizeof name, "wsm-kill-%lu-%u-%u", plat_pid(), round, k);
    c = plat_child_start(cmdline, name, why, sizeof why);
    if (c == NULL) {
        errmsg_set(&s->why, "starting child %u: %s", k, why);
        return NULL;
    }
    rc = plat_child_first_line(c, line, sizeof line, CHILD_READY_MS);
    snprintf(want, sizeof want, "ready %u", conns);
    if (rc == 1 && strcmp(line, want) == 0)
        return c;
    errmsg_set(&s->why, "child %u (%s): %s", k, cmdline,
               rc == 1 ? "its first line is not the ready line" : "it never got ready");
    plat_child_kill(c);
    plat_child_free(c);
    return NULL;
}

int stress_round_kill(stress_ctx *s, unsigned round)
{
    plat_child *kids[KILL_CHILDREN];
    unsigned per = s->conns / KILL_CHILDREN > 0 ? s->conns / KILL_CHILDREN : 1;
    unsigned k, started = 0;
    int rc = 0;

    for (k = 0; k < KILL_CHILDREN && rc == 0; k++) {
        kids[k] = start_child(s, round, k, per);
        if (kids[k] == NULL)
            rc = -1;
        else
            started++;
    }
    /* Killed one right after the other: their connections end together. */
    for (k = 0; k < started; k++)
        plat_child_kill(kids[k]);
    for (k = 0; k < started; k++)
        plat_child_free(kids[k]);
    if (rc == 0) {
        s->done += (uint64_t)per * KILL_CHILDREN;
        s->proto_errors_due += (uint64_t)per * KILL_CHILDREN;
    }
    return rc;
}

/* One connection of the child: an echo, so the server has certainly
 * accepted it, then half a frame. */
static int child_conn(const client_ctx *cx, conn *c, unsigned i, uint64_t deadline, errmsg *e)
{
    unsigned char frame_bytes[PROTO_HEADER_SIZE + HALF_PAYLOAD];
    char text[48];

    snprintf(text, sizeof text, "kill-child %lu conn %u", plat_pid(), i);
    if (conn_open(c, &cx->addr, CHILD_BUF, deadline, e) != 0
        || xchg_echo(c, text, (uint32_t)strlen(text), deadline, e) != 0)
        return -1;
    stress_echo_frame(frame_bytes, HALF_PAYLOAD, i, 1);
    return conn_send_all(c, frame_bytes, PROTO_HEADER_SIZE + HALF_PAYLOAD / 2, deadline, e);
}

static void close_all(conn *cs, unsigned n)
{
    unsigned i;

    for (i = 0; i < n; i++)
        conn_close(&cs[i]);
    free(cs);
}

int stress_kill_child(const client_ctx *cx)
{
    unsigned n = cx->opts->conns, i;
    conn *cs = (conn *)calloc(n, sizeof *cs);
    uint64_t end;
    errmsg e;

    if (cs == NULL) {
        fputs("client: kill-child: out of memory\n", stderr);
        return 1;
    }
    for (i = 0; i < n; i++)
        conn_init(&cs[i]);
    for (i = 0; i < n; i++)
        if (child_conn(cx, &cs[i], i, plat_now_ms() + cx->opts->timeout_ms, &e) != 0) {
            fprintf(stderr, "client: kill-child: connection %u: %s\n", i, e.text);
            close_all(cs, n);
            return 1;
        }
    printf("ready %u\n", n);
    fflush(stdout);
    /* The parent kills us now; the sockets stay open until then. */
    end = plat_now_ms() + CHILD_LIFE_MS;
    while (plat_now_ms() < end)
        plat_sleep_ms(100);
    fputs("client: kill-child: never killed; giving up\n", stderr);
    close_all(cs, n);
    return 1;
}
